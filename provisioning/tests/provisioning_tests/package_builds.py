"""The real x86_64 Lambda packages the packaging tests use, built once per test run.

A build takes one to two minutes on 2 cores. Under pytest-xdist each worker process has its own
session fixtures, so the builds go to a directory all workers of the run share: the first to
need them builds under a file lock, the others wait and reuse the result.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

from provisioning.packaging import bytecode
from provisioning.packaging.build import BuildOptions, BuildResult, build_function
from provisioning.packaging.targets import TARGETS, Platform, find_workspace_root

_RESULT = "result.pickle"


@dataclass(frozen=True)
class WorkerBuilds:
    first: BuildResult
    second: BuildResult
    task_dir: Path  # the unpacked first build, as /var/task
    sdk_dir: Path  # stands in for the boto3 the Lambda runtime provides
    interpreter: Path


def target_python() -> str:
    """The oldest supported Lambda runtime when this machine has it, else the running Python."""
    try:
        bytecode.find_interpreter("3.12")
    except FileNotFoundError:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    return "3.12"


def x86_64_platform() -> Platform:
    return Platform(architecture="x86_64", python_version=target_python())


class SharedBuilds:
    """Each function built once per test run, whichever xdist worker asks first.

    Every function has its own lock, so one worker can build the api while another builds the
    worker package.
    """

    def __init__(self, directory: Path, platform: Platform) -> None:
        self.directory = directory
        self.platform = platform
        self._results: dict[str, BuildResult] = {}

    def get(self, function: str) -> BuildResult:
        if function not in self._results:
            self._results[function] = self._build_once(function)
        return self._results[function]

    def _build_once(self, function: str) -> BuildResult:
        out_dir = self.directory / function
        out_dir.mkdir(parents=True, exist_ok=True)
        recorded = out_dir / _RESULT
        with (out_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if recorded.is_file():
                # Written below by another worker of this same test run.
                result: BuildResult = pickle.loads(recorded.read_bytes())  # noqa: S301
                return result
            workspace = find_workspace_root(Path(__file__).resolve())
            options = BuildOptions(platform=self.platform, workspace=workspace, out_dir=out_dir)
            result = build_function(TARGETS[function], options)
            recorded.write_bytes(pickle.dumps(result))
            return result


def shared_directory(basetemp: Path) -> Path:
    """One directory per test run: xdist workers' basetemps share a parent, named per run."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return basetemp.parent / f"lambda-packages-{run}" if run else basetemp / "lambda-packages"
