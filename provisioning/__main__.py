"""Pulumi entry point: `pulumi up` (and `pulumi preview`) builds the Lambda packages that are
missing or stale into build/ (see provisioning/README.md), then deploys the stack."""

import pulumi

from provisioning.stack.program import deploy

for name, value in deploy().items():
    pulumi.export(name, value)
