"""Build the real worker package (x86_64, this machine) and use it the way Lambda would.

One session-scoped pair of builds (about 1-2 minutes on 2 cores; the fixture is in conftest.py,
the first build shared with test_package_runtime.py) backs every test here. That
the API bundles the contracts too is checked on a build without third-party wheels in
test_packaging_steps.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from provisioning.packaging import importcheck
from provisioning.packaging.build import MB
from provisioning.packaging.targets import TARGETS
from provisioning.stack.callbacks import HANDLER as CALLBACKS_HANDLER
from provisioning.stack.settler import HANDLER as SETTLER_HANDLER

from .package_builds import WorkerBuilds

WORKER = TARGETS["worker"]
# Functions that run the worker's zip with their own handler and never call a model.
SIDE_HANDLER_MODULES = [
    handler.rpartition(".")[0] for handler in (CALLBACKS_HANDLER, SETTLER_HANDLER)
]
SCRIPTS = Path(__file__).parent / "scripts"
WORKER_TARGET_BYTES = 150 * MB


def run_in_package(builds: WorkerBuilds, script: str, *args: str) -> dict[str, Any]:
    """Run a script with only the package and the runtime-SDK stand-in on sys.path."""
    paths = json.dumps([str(builds.task_dir), str(builds.sdk_dir)])
    environment = {"PATH": os.environ.get("PATH", ""), **importcheck.LAMBDA_LIKE_ENV}
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(builds.interpreter), "-I", "-S", "-B", str(SCRIPTS / script), paths, *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


def test_worker_handler_imports_in_a_fresh_interpreter_from_the_unpacked_package(
    worker_builds: WorkerBuilds,
) -> None:
    timing = importcheck.time_handler_import(
        worker_builds.interpreter,
        WORKER.handler_module,
        [worker_builds.task_dir, worker_builds.sdk_dir],
        runs=3,
    )
    # The import succeeded in every run (time_handler_import raises otherwise). How long it takes
    # is a benchmark figure (`uv run bench --only cold`), not a test bound: under a loaded CI
    # machine any fixed bound is a coin toss.
    print(f"worker.main import: median {timing.median:.2f} s wall, {timing.cpu_median:.2f} s CPU")


@pytest.mark.parametrize("handler_module", SIDE_HANDLER_MODULES)
def test_the_delivery_and_settler_handlers_ship_in_the_worker_zip_without_the_llm_stack(
    worker_builds: WorkerBuilds, handler_module: str
) -> None:
    # Each runs this zip with its own handler (provisioning.stack.callbacks, .settler)
    outcome = run_in_package(worker_builds, "heavy_imports.py", handler_module)
    assert outcome["handler_callable"] is True
    assert outcome["file"].startswith(str(worker_builds.task_dir))
    assert outcome["heavy"] == []


def test_the_handler_imports_only_shipped_bytecode(worker_builds: WorkerBuilds) -> None:
    audit = run_in_package(worker_builds, "bytecode_audit.py", WORKER.handler_module)
    assert audit["compiled_in_memory"] == []
    assert audit["sourceless"] > 1000  # litellm, openai, pydantic... ship .pyc only
    assert audit["cached"] > 10  # the worker's own code keeps its sources beside the bytecode


def test_litellm_and_instructor_still_work_from_the_trimmed_package(
    worker_builds: WorkerBuilds,
) -> None:
    outcome = run_in_package(worker_builds, "llm_call_smoke.py")
    assert outcome["user"] == {"name": "Ada", "age": 36}
    assert outcome["tokens"] > 0
    assert outcome["litellm_file"].startswith(str(worker_builds.task_dir))
    assert outcome["rust_loaded"] is False


def test_the_build_is_reproducible(worker_builds: WorkerBuilds) -> None:
    first, second = worker_builds.first.archive, worker_builds.second.archive
    assert first.path.name == second.path.name == f"worker-{first.sha256[:16]}.zip"
    assert first.path.read_bytes() == second.path.read_bytes()


def test_the_worker_package_fits_the_size_target(worker_builds: WorkerBuilds) -> None:
    archive = worker_builds.first.archive
    unzipped, zipped = archive.unzipped_bytes / MB, archive.zipped_bytes / MB
    print(f"worker package: {unzipped:.1f} MB unzipped, {zipped:.1f} MB zipped")
    assert archive.unzipped_bytes <= WORKER_TARGET_BYTES
    with zipfile.ZipFile(archive.path) as package:
        assert sum(entry.file_size for entry in package.infolist()) == archive.unzipped_bytes


def test_zip_entries_are_sorted_with_fixed_timestamps_and_permissions(
    worker_builds: WorkerBuilds,
) -> None:
    with zipfile.ZipFile(worker_builds.first.archive.path) as package:
        entries = package.infolist()
    names = [entry.filename for entry in entries]
    assert names == sorted(names)
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {entry.external_attr >> 16 for entry in entries} <= {0o100644, 0o100755}


def test_trimmed_and_runtime_provided_files_are_not_shipped(worker_builds: WorkerBuilds) -> None:
    task = worker_builds.task_dir
    assert not (task / "boto3").exists()
    assert not (task / "botocore").exists()
    assert not (task / "bin").exists()
    assert not (task / "litellm/proxy/_experimental/out").exists()
    assert not list((task / "litellm/rust_bridge").glob("_native*.so"))
    assert not list(task.rglob("*.pyi"))
    assert (task / "litellm/model_prices_and_context_window_backup.json").is_file()
    assert (task / "worker/main.py").is_file()


def test_the_shared_contracts_ship_with_the_worker_as_our_own_code(
    worker_builds: WorkerBuilds,
) -> None:
    # The handler-import tests above run with only this package on sys.path, so they also
    # prove that the worker finds `gen_ai_contracts` in its own zip.
    contracts = worker_builds.task_dir / "gen_ai_contracts"
    assert (contracts / "__init__.py").is_file()  # sources kept: tracebacks show our lines
    assert (contracts / "tasks/complete.py").is_file()
    assert list((contracts / "__pycache__").glob("__init__.cpython-*.pyc"))
    assert not (worker_builds.task_dir / "contracts").exists()
