"""Pulumi entry point: build the packages first (`uv run build-lambdas`), then `pulumi up`."""

import pulumi

from provisioning.stack.program import deploy

for name, value in deploy().items():
    pulumi.export(name, value)
