"""AWS access for `gen-ai-jobs admin`: which queues and tables, boto3 clients with timeouts and
bounded retries, and AWS failures as one `error:` line.

boto3 is imported here, lazily, so the base install (API users) never needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gen_ai_jobs.cli._common import EXIT_FAILED, EXIT_USAGE

INSTALL_HINT = "pip install 'gen-ai-jobs[admin]'"
DEFAULT_PREFIX = "gen-ai-on-aws-dev"  # the devstack's (devstack.config.STACK_PREFIX)
LANES: tuple[str, ...] = ("high", "normal", "low")

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20  # well above the 1 s long polls the DLQ commands make
MAX_ATTEMPTS = 3
# CloudWatch only adds the oldest-message age: one quick try, then '-'.
CLOUDWATCH_TIMEOUT_SECONDS = 3

_MISSING_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)
_BAD_CREDENTIALS_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    }
)


class AdminError(Exception):
    """A failure to report as one `error:` line with this exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class QueueRef:
    """A queue known by name (resolved with GetQueueUrl) or by URL."""

    label: str
    name: str | None = None
    url: str | None = None

    @property
    def shown(self) -> str:
        return self.name or queue_name_of(self.url or "")


@dataclass(frozen=True)
class Targets:
    """The stack's job lanes, their DLQ, its two tables and its app secret."""

    lanes: Mapping[str, QueueRef]
    dlq: QueueRef
    jobs_table: str
    state_table: str
    app_secret: str

    @classmethod
    def from_prefix(cls, prefix: str) -> Targets:
        """Names as the devstack creates them (devstack.resources.create_stack_resources)."""
        return cls(
            lanes={
                lane: QueueRef(
                    f"{lane} lane",
                    name=f"{prefix}-jobs" if lane == "normal" else f"{prefix}-jobs-{lane}",
                )
                for lane in LANES
            },
            dlq=QueueRef("DLQ", name=f"{prefix}-jobs-dlq"),
            jobs_table=f"{prefix}-jobs",
            state_table=f"{prefix}-llm-state",
            app_secret=f"{prefix}-app-secrets",  # devstack.stack.SECRET_NAME
        )

    def with_stack_outputs(self, outputs: Mapping[str, Any]) -> Targets:
        """Overlay `pulumi stack output --json`: the deployed stack's names are auto-named
        (`jobs-queue-1a2b3c4`), so a prefix cannot find them; its outputs can."""
        keys = {"high": "queue_url_high", "normal": "queue_url", "low": "queue_url_low"}
        lanes = dict(self.lanes)
        for lane, key in keys.items():
            if isinstance(outputs.get(key), str):
                lanes[lane] = QueueRef(f"{lane} lane", url=outputs[key])
        dlq = outputs.get("dlq_url")
        jobs_table = outputs.get("jobs_table_name")
        state_table = outputs.get("llm_state_table_name")
        app_secret = outputs.get("app_secret_name")
        return replace(
            self,
            lanes=lanes,
            dlq=QueueRef("DLQ", url=dlq) if isinstance(dlq, str) else self.dlq,
            jobs_table=jobs_table if isinstance(jobs_table, str) else self.jobs_table,
            state_table=state_table if isinstance(state_table, str) else self.state_table,
            app_secret=app_secret if isinstance(app_secret, str) else self.app_secret,
        )


def load_stack_outputs(path: Path) -> dict[str, Any]:
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AdminError(
            f"--stack-outputs: cannot read {path}: {error.strerror}", EXIT_USAGE
        ) from None
    except ValueError:
        raise AdminError(
            f"--stack-outputs: {path} is not JSON (use `pulumi stack output --json`)", EXIT_USAGE
        ) from None
    if not isinstance(outputs, dict):
        raise AdminError(f"--stack-outputs: {path} is not a JSON object", EXIT_USAGE)
    return outputs


def parse_lane_urls(values: list[str]) -> dict[str, str]:
    """`--queue-url high=https://...` (repeatable) as {lane: url}."""
    urls: dict[str, str] = {}
    for value in values:
        lane, sep, url = value.partition("=")
        if not sep or lane not in LANES or not url:
            raise AdminError(
                f"--queue-url {value!r}: expected LANE=URL with LANE one of {', '.join(LANES)}",
                EXIT_USAGE,
            )
        urls[lane] = url
    return urls


def queue_name_of(url: str) -> str:
    """The queue name is the URL's last path segment (CloudWatch's QueueName dimension)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def new_boto3_client(
    service: str,
    *,
    region: str | None,
    endpoint_url: str | None,
    max_attempts: int = MAX_ATTEMPTS,
    timeout_seconds: float = READ_TIMEOUT_SECONDS,
    credentials: tuple[str, str] | None = None,
) -> Any:
    """A boto3 client whose every call has connect/read timeouts and a bounded retry count."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise AdminError(f"the admin commands need boto3: {INSTALL_HINT}", EXIT_USAGE) from None
    config = Config(
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds),
        read_timeout=timeout_seconds,
        retries={"max_attempts": max_attempts, "mode": "standard"},
    )
    keys = (
        {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]}
        if credentials
        else {}
    )
    # A session of its own: boto3's default one caches the credentials it resolved first, so a
    # command would act with whatever identity the process used before (tests, notebooks).
    make_client: Any = boto3.session.Session().client  # the stubs want a literal service name
    return make_client(
        service, region_name=region, endpoint_url=endpoint_url, config=config, **keys
    )


@dataclass
class AwsSession:
    """The clients one command uses (created on first use) and its targets."""

    targets: Targets
    region: str | None = None
    endpoint_url: str | None = None
    credentials: tuple[str, str] | None = None  # the devstack's; else boto3's own chain
    devstack: bool = False  # `--devstack`: the emulated AWS, where a missing secret is created
    _clients: dict[str, Any] = field(default_factory=dict)
    _urls: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            quick = service == "cloudwatch"
            with aws_errors(self.endpoint_url):
                self._clients[service] = new_boto3_client(
                    service,
                    region=self.region,
                    endpoint_url=self.endpoint_url,
                    credentials=self.credentials,
                    max_attempts=1 if quick else MAX_ATTEMPTS,
                    timeout_seconds=CLOUDWATCH_TIMEOUT_SECONDS if quick else READ_TIMEOUT_SECONDS,
                )
        return self._clients[service]

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def queue_url(self, ref: QueueRef) -> str:
        """The URL of ``ref``; exit 2 naming the queue when it does not exist."""
        if ref.url:
            return ref.url
        assert ref.name is not None
        if ref.name not in self._urls:
            with aws_errors(self.endpoint_url), missing_queue(ref):
                self._urls[ref.name] = str(self.sqs.get_queue_url(QueueName=ref.name)["QueueUrl"])
        return self._urls[ref.name]

    def queue_attributes(self, ref: QueueRef, names: list[str]) -> dict[str, str]:
        url = self.queue_url(ref)
        with aws_errors(self.endpoint_url), missing_queue(ref):
            response = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return dict(response.get("Attributes", {}))


@contextmanager
def missing_table(name: str, label: str) -> Iterator[None]:
    """DynamoDB's "no such table" as exit 2 naming the table."""
    try:
        yield
    except Exception as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        raise AdminError(
            f"the {label} table {name!r} does not exist"
            " (check --prefix, --stack-outputs, --endpoint-url and --region)",
            EXIT_USAGE,
        ) from None


def error_code(error: BaseException) -> str:
    """A botocore ClientError's code ('' for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


@contextmanager
def missing_queue(ref: QueueRef) -> Iterator[None]:
    """SQS's "no such queue" as exit 2 naming the queue and how targets are chosen."""
    try:
        yield
    except Exception as error:
        if error_code(error) not in _MISSING_QUEUE_CODES:
            raise
        raise AdminError(
            f"the {ref.label} queue {ref.shown!r} does not exist"
            " (check --prefix, --stack-outputs, --endpoint-url and --region)",
            EXIT_USAGE,
        ) from None


@contextmanager
def aws_errors(endpoint_url: str | None = None) -> Iterator[None]:
    """Missing boto3/credentials/region as exit 2; unreachable endpoints and refused calls as
    exit 1; always one line, never a traceback."""
    try:
        from botocore import exceptions as boto_errors
    except ImportError:
        raise AdminError(f"the admin commands need boto3: {INSTALL_HINT}", EXIT_USAGE) from None
    try:
        yield
    except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
        raise AdminError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY (any values for the devstack's emulated AWS)",
            EXIT_USAGE,
        ) from None
    except boto_errors.NoRegionError:
        raise AdminError("no AWS region: pass --region or set AWS_REGION", EXIT_USAGE) from None
    except (boto_errors.EndpointConnectionError, boto_errors.ConnectTimeoutError) as error:
        where = endpoint_url or getattr(error, "kwargs", {}).get("endpoint_url", "AWS")
        raise AdminError(f"cannot reach {where}: {error}") from None
    except boto_errors.ReadTimeoutError as error:
        raise AdminError(f"AWS did not answer in time: {error}") from None
    except boto_errors.ClientError as error:
        code = error_code(error)
        operation = getattr(error, "operation_name", "a call")
        if code in _BAD_CREDENTIALS_CODES:
            raise AdminError(f"AWS rejected the credentials ({code})", EXIT_USAGE) from None
        message = str(error.response.get("Error", {}).get("Message", ""))[:200]
        raise AdminError(f"AWS refused {operation}: {code}: {message}") from None
    except boto_errors.BotoCoreError as error:
        raise AdminError(f"AWS call failed: {error}") from None
