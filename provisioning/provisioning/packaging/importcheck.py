"""Import a handler from an unpacked package in a fresh interpreter, the way Lambda's init does.

The child runs with -I -S -B: no site-packages, no PYTHON* variables, no bytecode written, so it
sees only the unpacked package (plus, when the build dropped it, a stand-in for the AWS SDK that
the Lambda runtime provides) and uses only the bytecode that was shipped.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from provisioning.packaging import bytecode, install
from provisioning.packaging.targets import Platform

# What Lambda's runtime sys.path supplies after /var/task (see the aws-sdk-in-runtime trim rule).
RUNTIME_SDK = ("boto3", "botocore", "s3transfer")

_CHILD = """
import importlib, json, resource, sys, time
sys.path[:0] = json.loads(sys.argv[1])
started, cpu_started = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[2])
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
assert callable(getattr(module, "handler", None)), "module has no callable handler"
# Current RSS: ru_maxrss would report the parent's peak, which Linux carries across exec.
status = open("/proc/self/status").read() if sys.platform == "linux" else ""
rss = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
rss_mb = int(rss[0]) / 1024 if rss else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = {"seconds": elapsed, "cpu_seconds": cpu, "rss_mb": rss_mb, "file": module.__file__}
print(json.dumps(result))
"""

LAMBDA_LIKE_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "import-check",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/import-check",
    "JOBS_TABLE_NAME": "import-check-jobs",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "POWERTOOLS_SERVICE_NAME": "import-check",
    "POWERTOOLS_METRICS_NAMESPACE": "ImportCheck",
}


@dataclass(frozen=True)
class ImportTiming:
    """Handler import seconds per run in fresh interpreters.

    CPU seconds are reported beside wall-clock ones because on a busy build machine the wall
    clock mostly measures the other processes.
    """

    runs: tuple[float, ...]
    cpu_runs: tuple[float, ...]
    rss_mb_runs: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_runs)


def unpack(zip_path: Path, destination: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    return destination


def install_runtime_sdk(
    requirements: str, destination: Path, platform: Platform, interpreter: Path
) -> Path:
    """Install the lock's boto3/botocore/s3transfer alone, standing in for the runtime's copy.

    Compiled like the runtime's own copy is, so the SDK does not skew the import timing.
    """
    pinned = [line for line in requirements.splitlines() if line.split("==")[0] in RUNTIME_SDK]
    if not destination.is_dir():
        install.install_dependencies("\n".join(pinned) + "\n", destination, platform)
        bytecode.compile_tree(interpreter, destination, workers=os.cpu_count() or 1)
    return destination


def time_handler_import(
    interpreter: Path,
    handler_module: str,
    sys_path: list[Path],
    runs: int,
    extra_env: dict[str, str] | None = None,
) -> ImportTiming:
    """Import the handler `runs` times, each in a new process; raise with stderr on failure."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        **LAMBDA_LIKE_ENV,
        **(extra_env or {}),
    }
    paths = json.dumps([str(path) for path in sys_path])
    timings, cpu_timings, rss = [], [], []
    for _ in range(runs):
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(interpreter), "-I", "-S", "-B", "-c", _CHILD, paths, handler_module],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"importing {handler_module} failed:\n{result.stderr[-4000:]}")
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        timings.append(float(measured["seconds"]))
        cpu_timings.append(float(measured["cpu_seconds"]))
        rss.append(float(measured["rss_mb"]))
    return ImportTiming(tuple(timings), tuple(cpu_timings), tuple(rss))
