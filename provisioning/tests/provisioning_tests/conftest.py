"""Fixtures for the mocked stack; the machinery lives in harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from .harness import (
    PROJECT,
    StackRun,
    StackRunner,
    run_stack,
    stack_file_config,
    write_fake_packages,
)


@pytest.fixture
def fake_manifest(tmp_path: Path) -> Path:
    return write_fake_packages(tmp_path)


@pytest.fixture
def stack_runner(fake_manifest: Path) -> Iterator[StackRunner]:
    """run(stack="dev", **overrides): the stack's YAML config plus `<project>:<key>` overrides."""

    def run(stack: str = "dev", manifest: Path = fake_manifest, **overrides: str) -> StackRun:
        config = stack_file_config(stack)
        config[f"{PROJECT}:packageManifest"] = str(manifest)
        config.update({f"{PROJECT}:{key}": value for key, value in overrides.items()})
        return run_stack(stack, config)

    yield run
    pulumi.runtime.set_all_config({})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pulumi_aws warns about deprecated classes as its modules load; not ours to fix."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws"))
