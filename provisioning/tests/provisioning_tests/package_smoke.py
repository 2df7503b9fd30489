"""Run the API and worker handlers from their unpacked Lambda zips on one real job.

Each handler runs in a fresh interpreter of the runtime's Python version (on this host, or
under an emulator such as qemu-aarch64) with nothing but the standard library, the unpacked zip
and a stand-in for the boto3 that the Lambda runtime provides. Moto's server and a fake
OpenAI-compatible LLM run here on 127.0.0.1, with the stack's queues, tables and secret; the
functions get the environment the stack gives them, pointed there with AWS_ENDPOINT_URL. The
API answers GET /health and accepts a job (POST /jobs: record `queued`, message sent), the
worker processes the SQS event built from that message, and the job must end `succeeded`.

Used by test_package_runtime.py (the x86_64 zips), CI's arm64 job and
provisioning/scripts/arm64_qemu_check.sh:

    uv run build-lambdas --arch arm64
    uv run python provisioning/tests/provisioning_tests/package_smoke.py --arch arm64
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.fake_llm import FakeLLMServer
from devstack.lambda_runtime import sqs_record
from devstack.resources import StackResources, create_stack_resources
from gen_ai_contracts.jobs import JobPublic, item_from_dynamodb, job_public
from provisioning.packaging import bytecode, importcheck, install
from provisioning.packaging.manifest import MANIFEST_NAME, read_manifest
from provisioning.packaging.targets import (
    ARCHITECTURES,
    TARGETS,
    Platform,
    find_workspace_root,
    read_member,
)

SCRIPT = Path(__file__).parent / "scripts" / "invoke_handler.py"
REGION = "us-east-1"
PREFIX = "package-smoke"
API_KEY = "package-smoke-api-key"
MODEL = "openai/package-smoke"
JOB_TEXT = "Ada is 36 years old."
# What platform.machine() says inside each Lambda architecture.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Moto accepts any credentials; the Lambda runtime always provides a session token too.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "package-smoke",
    "AWS_SECRET_ACCESS_KEY": "package-smoke",
    "AWS_SESSION_TOKEN": "package-smoke",
}


class SmokeCheckError(AssertionError):
    """A handler failed, or answered otherwise than a deployed function must."""


@dataclass(frozen=True)
class Interpreter:
    """How to start the runtime's Python: its path, behind an optional emulator command."""

    path: Path
    launcher: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        return [*self.launcher, str(self.path)]


@dataclass(frozen=True)
class PackageDirs:
    """The unpacked zips (each a /var/task) and the runtime-SDK stand-in beside them."""

    task_dirs: Mapping[str, Path]  # "api", "worker"
    sdk_dir: Path


@dataclass(frozen=True)
class Invocation:
    """What one fresh interpreter reported after calling its handler on each event."""

    machine: str
    python: str
    handler_file: str
    import_seconds: float
    responses: list[dict[str, Any]]
    seconds: float  # the whole process, interpreter start-up included


@dataclass(frozen=True)
class SmokeReport:
    api: Invocation
    worker: Invocation
    job: JobPublic  # the record after the worker ran
    llm_calls: int


@dataclass(frozen=True)
class _Emulated:
    """The AWS side of a stack (moto's server) and the model provider, both on 127.0.0.1."""

    endpoint: str
    llm_base_url: str
    resources: StackResources
    secret_arn: str

    def client(self, service: str) -> Any:
        return _client(self.endpoint, service)


def _client(endpoint: str, service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]


def run_smoke(
    packages: PackageDirs,
    interpreter: Interpreter,
    *,
    architecture: str,
    scratch: Path,
    function_timeout_seconds: float = 120.0,
    process_timeout_seconds: float = 900.0,
) -> SmokeReport:
    """The API accepts a job and the worker completes it; raise SmokeCheckError otherwise."""
    with FakeLLMServer() as llm, _emulated_stack(llm.base_url) as stack:
        runner = _Runner(
            packages, interpreter, scratch, function_timeout_seconds, process_timeout_seconds
        )
        api = runner.invoke(
            "api",
            _api_environment(stack),
            [
                http_api_event("GET", "/health"),
                http_api_event(
                    "POST",
                    "/jobs",
                    body={"task": "extract_user", "input": {"text": JOB_TEXT}},
                    headers={"x-api-key": API_KEY},
                ),
            ],
        )
        _expect_machine(api, architecture)
        job_id = _check_api_responses(api)
        _expect_status(stack, job_id, "queued")
        message = _receive_one(stack, job_id)
        event = {
            "Records": [sqs_record(message, queue_arn=stack.resources.queue_arn, region=REGION)]
        }
        worker = runner.invoke("worker", _worker_environment(stack), [event])
        _expect_machine(worker, architecture)
        if worker.responses != [{"batchItemFailures": []}]:
            raise SmokeCheckError(f"the worker asked for redelivery: {worker.responses}")
        # What the event source mapping does with a record the handler did not list as failed.
        stack.client("sqs").delete_message(
            QueueUrl=stack.resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
        )
        job = _expect_status(stack, job_id, "succeeded")
        return SmokeReport(
            api=api, worker=worker, job=job, llm_calls=sum(llm.llm.stats.calls.values())
        )


@contextmanager
def _emulated_stack(llm_base_url: str) -> Iterator[_Emulated]:
    """Moto's server with the stack's queues, tables and secret."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        resources = create_stack_resources(
            sqs=_client(endpoint, "sqs"), dynamodb=_client(endpoint, "dynamodb"), prefix=PREFIX
        )
        # The secret the stack creates empty and the operator fills (provisioning/README.md).
        secret = {
            "LLM_API_KEY": "package-smoke-llm-key",
            "API_KEYS": API_KEY,
            "WEBHOOK_SIGNING_SECRET": "whsec_" + base64.b64encode(b"s" * 32).decode(),
        }
        created = _client(endpoint, "secretsmanager").create_secret(
            Name=f"{PREFIX}-app-secrets", SecretString=json.dumps(secret)
        )
        yield _Emulated(endpoint, llm_base_url, resources, str(created["ARN"]))
    finally:
        server.stop()


class _Runner:
    """Starts one fresh interpreter per function, as Lambda's init does, in its task dir."""

    def __init__(
        self,
        packages: PackageDirs,
        interpreter: Interpreter,
        scratch: Path,
        function_timeout_seconds: float,
        process_timeout_seconds: float,
    ) -> None:
        self._packages = packages
        self._interpreter = interpreter
        self._scratch = scratch
        self._function_timeout = function_timeout_seconds
        self._process_timeout = process_timeout_seconds

    def invoke(
        self,
        function: str,
        environment: dict[str, str],
        events: list[dict[str, Any]],
    ) -> Invocation:
        task_dir = self._packages.task_dirs[function]
        events_path = self._scratch / f"{function}-events.json"
        result_path = self._scratch / f"{function}-result.json"
        events_path.write_text(json.dumps(events), encoding="utf-8")
        result_path.unlink(missing_ok=True)
        paths = json.dumps([str(task_dir), str(self._packages.sdk_dir)])
        command = [
            *self._interpreter.argv(),
            "-I",
            "-S",
            "-B",
            str(SCRIPT),
            paths,
            TARGETS[function].handler,
            str(events_path),
            str(result_path),
        ]
        env = {
            **_lambda_runtime_environment(function, task_dir),
            **environment,
            "SMOKE_FUNCTION_TIMEOUT_SECONDS": str(self._function_timeout),
        }
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603 - fixed argv
            command,
            cwd=task_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=self._process_timeout,
        )
        seconds = time.monotonic() - started
        if result.returncode != 0 or not result_path.is_file():
            raise SmokeCheckError(
                f"{function} handler exited {result.returncode}:\n"
                f"{result.stderr[-4000:]}\n{result.stdout[-2000:]}"
            )
        raw = json.loads(result_path.read_text(encoding="utf-8"))
        return Invocation(
            machine=raw["machine"],
            python=raw["python"],
            handler_file=raw["handler_file"],
            import_seconds=float(raw["import_seconds"]),
            responses=raw["responses"],
            seconds=seconds,
        )


def _lambda_runtime_environment(function: str, task_dir: Path) -> dict[str, str]:
    """What the Lambda service itself sets in every function's environment."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"{PREFIX}-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **DUMMY_CREDENTIALS,
    }


def _shared_environment(stack: _Emulated, service: str) -> dict[str, str]:
    """As provisioning.stack.functions.shared_environment, with the model at the fake's URL."""
    return {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "LLM_MODEL": MODEL,
        "LLM_API_BASE": stack.llm_base_url,
        "LLM_TIMEOUT_SECONDS": "30",
        "LOG_LEVEL": "INFO",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "GenAiOnAws",
        "QUEUE_URL": stack.resources.queue_url,
        "QUEUE_URL_HIGH": stack.resources.queue_url_high,
        "QUEUE_URL_LOW": stack.resources.queue_url_low,
        "JOBS_TABLE_NAME": stack.resources.table_name,
        "APP_SECRET_ID": stack.secret_arn,
        "CALLBACKS_QUEUE_URL": stack.resources.callbacks_queue_url,
    }


def _api_environment(stack: _Emulated) -> dict[str, str]:
    """As provisioning.stack.http_api sets it."""
    return _shared_environment(stack, "api")


def _worker_environment(stack: _Emulated) -> dict[str, str]:
    """As provisioning.stack.queue_worker sets it."""
    return {
        **_shared_environment(stack, "worker"),
        "DLQ_URL": stack.resources.dlq_url,
        "LLM_STATE_TABLE_NAME": stack.resources.state_table_name,
        "WORKER_MAX_CONCURRENCY": "10",
        "QUEUE_MAX_RECEIVE_COUNT": "10",
        "JOB_MAX_ATTEMPTS": "5",
    }


def http_api_event(
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as for the stack's $default route."""
    domain = "smoke00001.execute-api.us-east-1.amazonaws.com"
    text = json.dumps(body) if body is not None else None
    all_headers = {
        "accept": "application/json",
        "host": domain,
        "user-agent": "package-smoke",
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **({"content-type": "application/json"} if text is not None else {}),
        "content-length": str(len(text.encode()) if text is not None else 0),
        **(headers or {}),
    }
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "smoke00001",
            "domainName": domain,
            "domainPrefix": "smoke00001",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "package-smoke",
            },
            "requestId": f"smoke-{method.lower()}-{int(now * 1000)}",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if text is not None:
        event["body"] = text
    return event


def _check_api_responses(api: Invocation) -> str:
    """GET /health is 200 and POST /jobs is 202 with a job id; returns that id."""
    health, created = api.responses
    if health["statusCode"] != 200:
        raise SmokeCheckError(f"GET /health answered {health}")
    if created["statusCode"] != 202:
        raise SmokeCheckError(f"POST /jobs answered {created}")
    body = json.loads(created["body"])
    if body.get("status") != "queued" or not body.get("job_id"):
        raise SmokeCheckError(f"POST /jobs body {body}")
    return str(body["job_id"])


def _expect_machine(invocation: Invocation, architecture: str) -> None:
    if invocation.machine != MACHINES[architecture]:
        raise SmokeCheckError(f"ran on {invocation.machine}, not {MACHINES[architecture]}")


def _expect_status(stack: _Emulated, job_id: str, status: str) -> JobPublic:
    item = stack.client("dynamodb").get_item(
        TableName=stack.resources.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
    )
    if "Item" not in item:
        raise SmokeCheckError(f"no record for job {job_id}")
    job = job_public(item_from_dynamodb(item["Item"]))
    if job.status != status:
        raise SmokeCheckError(f"job {job_id} is {job.status} ({job.error}), expected {status}")
    return job


def _receive_one(stack: _Emulated, job_id: str) -> dict[str, Any]:
    """The message the API sent for the job, received as the event source mapping would."""
    response = stack.client("sqs").receive_message(
        QueueUrl=stack.resources.queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages = response.get("Messages", [])
    if len(messages) != 1 or job_id not in messages[0]["Body"]:
        raise SmokeCheckError(f"expected one message for {job_id} on the normal lane: {messages}")
    message: dict[str, Any] = messages[0]
    return message


def prepare_packages(
    zips: Mapping[str, Path], platform: Platform, interpreter: Path, scratch: Path
) -> PackageDirs:
    """Unpack each zip and install the lock's boto3 for the platform beside them."""
    workspace = find_workspace_root(Path(__file__).resolve())
    task_dirs = {
        function: importcheck.unpack(path, scratch / f"{function}-task")
        for function, path in zips.items()
    }
    requirements = install.export_requirements(workspace, read_member(workspace, TARGETS["worker"]))
    sdk_dir = importcheck.install_runtime_sdk(
        requirements, scratch / "runtime-sdk", platform, interpreter
    )
    return PackageDirs(task_dirs, sdk_dir)


def _built_zips(build_dir: Path, platform: Platform) -> dict[str, Path]:
    """The api and worker zips that build-lambdas recorded for this platform."""
    entries = read_manifest(build_dir / MANIFEST_NAME)
    zips = {}
    for function in ("api", "worker"):
        entry = entries.get(function)
        if entry is None:
            raise SystemExit(f"no {function} package in {build_dir / MANIFEST_NAME}")
        built = (entry.architecture, entry.python_version)
        if built != (platform.architecture, platform.python_version):
            raise SystemExit(
                f"{function} package is {built[0]}/python{built[1]}, not "
                f"{platform.architecture}/python{platform.python_version}: run `uv run "
                f"build-lambdas --arch {platform.architecture} --python {platform.python_version}`"
            )
        zips[function] = build_dir / entry.file
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=ARCHITECTURES, default="arm64")
    parser.add_argument("--python", default="3.12", help="the runtime's version (python3.X)")
    parser.add_argument("--build-dir", type=Path, help="default: <workspace>/provisioning/build")
    parser.add_argument(
        "--interpreter", type=Path, help="the runtime's Python (default: found on this host)"
    )
    parser.add_argument(
        "--launcher", default="", help="command that runs it, e.g. 'qemu-aarch64-static -L ROOT'"
    )
    parser.add_argument("--function-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    platform = Platform(architecture=args.arch, python_version=args.python)
    workspace = find_workspace_root(Path.cwd())
    build_dir = args.build_dir or workspace / "provisioning" / "build"
    zips = _built_zips(build_dir, platform)
    # Bytecode for the SDK stand-in is compiled on this host: .pyc files are portable.
    host_python = bytecode.find_interpreter(args.python, None)
    interpreter = Interpreter(args.interpreter or host_python, tuple(shlex.split(args.launcher)))
    with tempfile.TemporaryDirectory(prefix="package-smoke-") as scratch:
        packages = prepare_packages(zips, platform, host_python, Path(scratch))
        report = run_smoke(
            packages,
            interpreter,
            architecture=args.arch,
            scratch=Path(scratch),
            function_timeout_seconds=args.function_timeout,
        )
    for name, invocation in (("api", report.api), ("worker", report.worker)):
        statuses = [response.get("statusCode", response) for response in invocation.responses]
        print(
            f"{name}: {invocation.machine} python{invocation.python}, handler import "
            f"{invocation.import_seconds:.1f} s, process {invocation.seconds:.1f} s -> {statuses}"
        )
    print(
        f"job {report.job.job_id}: {report.job.status}, result {report.job.result}, "
        f"{report.llm_calls} LLM call(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
