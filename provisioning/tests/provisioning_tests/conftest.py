"""Fixtures for the mocked stack; the machinery lives in harness.py."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from provisioning.packaging import bytecode, importcheck, install
from provisioning.packaging.build import BuildOptions, build_function
from provisioning.packaging.targets import TARGETS, find_workspace_root, read_member

from .harness import (
    PROJECT,
    StackRun,
    StackRunner,
    run_stack,
    stack_file_config,
    write_fake_packages,
)
from .package_builds import SharedBuilds, WorkerBuilds, shared_directory, x86_64_platform


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


@pytest.fixture(scope="session")
def x86_64_builds(tmp_path_factory: pytest.TempPathFactory) -> SharedBuilds:
    """The real api and worker packages, each built once per test run (see package_builds)."""
    return SharedBuilds(shared_directory(tmp_path_factory.getbasetemp()), x86_64_platform())


@pytest.fixture(scope="session")
def worker_builds(x86_64_builds: SharedBuilds) -> Iterator[WorkerBuilds]:
    first = x86_64_builds.get("worker")
    platform, worker = first.platform, TARGETS["worker"]
    workspace = find_workspace_root(Path(__file__).resolve())
    interpreter = bytecode.find_interpreter(platform.python_version)
    with tempfile.TemporaryDirectory(prefix="provisioning-packaging-test-") as scratch:
        root = Path(scratch)
        second = build_function(
            worker, BuildOptions(platform=platform, workspace=workspace, out_dir=root / "second")
        )
        task_dir = importcheck.unpack(first.archive.path, root / "task")
        requirements = install.export_requirements(workspace, read_member(workspace, worker))
        sdk_dir = importcheck.install_runtime_sdk(
            requirements, root / "runtime-sdk", platform, interpreter
        )
        yield WorkerBuilds(first, second, task_dir, sdk_dir, interpreter)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pulumi_aws warns about deprecated classes as its modules load; not ours to fix."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws"))
