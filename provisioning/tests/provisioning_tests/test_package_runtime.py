"""The x86_64 zips run their real handlers on one real job, as a deployed stack would.

Each handler runs in a clean interpreter of the runtime's version (-I -S: no site-packages)
with only its unpacked zip and the lock's boto3 (which the Lambda runtime provides) on
sys.path, against moto's server and a fake LLM on 127.0.0.1: GET /health and POST /jobs through
the API's handler, then the worker's handler on the SQS event carrying that job. The same code
(package_smoke.py) proves the arm64 zips in CI's arm64 job and, on x86_64 machines, under qemu
(provisioning/scripts/arm64_qemu_check.sh). The packages are the session's builds, shared with
test_packaging.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.packaging import bytecode

from .package_builds import SharedBuilds
from .package_smoke import (
    Interpreter,
    PackageDirs,
    SmokeReport,
    prepare_packages,
    run_smoke,
)

# The first test's setup may build both packages (1-2 minutes each on a busy 2-core machine).
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def unpacked(x86_64_builds: SharedBuilds) -> Iterator[tuple[PackageDirs, Path]]:
    platform = x86_64_builds.platform
    interpreter = bytecode.find_interpreter(platform.python_version)
    # The api first: under xdist, test_packaging.py's worker may be building the worker's zip.
    zips = {name: x86_64_builds.get(name).archive.path for name in ("api", "worker")}
    with tempfile.TemporaryDirectory(prefix="package-runtime-test-") as scratch:
        yield prepare_packages(zips, platform, interpreter, Path(scratch)), interpreter


@pytest.fixture(scope="module")
def report(
    unpacked: tuple[PackageDirs, Path], tmp_path_factory: pytest.TempPathFactory
) -> SmokeReport:
    packages, interpreter = unpacked
    return run_smoke(
        packages,
        Interpreter(interpreter),
        architecture="x86_64",
        scratch=tmp_path_factory.mktemp("package-smoke"),
    )


def test_the_api_answers_health_and_queues_the_job(report: SmokeReport) -> None:
    health, created = report.api.responses
    assert health["statusCode"] == 200
    assert created["statusCode"] == 202
    body = json.loads(created["body"])
    assert body["job_id"] == report.job.job_id
    assert body["status_url"].endswith(f"/jobs/{report.job.job_id}")


def test_the_worker_completes_the_job_from_its_sqs_event(report: SmokeReport) -> None:
    assert report.worker.responses == [{"batchItemFailures": []}]
    assert report.job.status == "succeeded"
    # The fake LLM extracted it from JOB_TEXT ("Ada is 36 years old.").
    assert report.job.result == {"name": "Ada", "age": 36, "email": None}
    assert report.llm_calls == 1
    assert report.job.usage is not None
    assert report.job.usage.prompt_tokens > 0


def test_each_handler_came_from_its_own_unpacked_zip_in_the_runtime_python(
    report: SmokeReport,
    unpacked: tuple[PackageDirs, Path],
    x86_64_builds: SharedBuilds,
) -> None:
    packages, _ = unpacked
    for function, invocation in (("api", report.api), ("worker", report.worker)):
        assert invocation.handler_file.startswith(str(packages.task_dirs[function]))
        assert invocation.machine == "x86_64"
        runtime = x86_64_builds.platform.python_version
        assert invocation.python.rsplit(".", 1)[0] == runtime
