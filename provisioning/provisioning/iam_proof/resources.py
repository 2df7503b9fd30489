"""A recorded call's resource (a moto queue URL, a table name, a secret id) -> the logical
resource of the Pulumi program it stands for, whose ARN the policies name.

The devstack and the in-process tests create the stack's resources with the devstack's names
(``devstack.resources.create_stack_resources``, prefix ``gen-ai-on-aws-dev``); the Lambdas find
them through the same environment variables the stack sets (QUEUE_URL, JOBS_TABLE_NAME,
APP_SECRET_ID ...). So each devstack name maps to one logical resource of the program, and a
recorded call becomes a request on the ARN the deployed function would use.
test_iam_proof.py checks this table against both: each environment variable names the same
logical resource in the stack and in the devstack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

QUEUE, TABLE, SECRET = "queue", "table", "secret"
# The request parameter that names a resource -> its kind.
KIND_OF_PARAMETER = {"QueueUrl": QUEUE, "QueueName": QUEUE, "TableName": TABLE, "SecretId": SECRET}

DEVSTACK_PREFIX = "gen-ai-on-aws-dev"
# (kind, name in the devstack and tests) -> logical id in the Pulumi program (iam_proof.stack).
DEVSTACK_RESOURCES: dict[tuple[str, str], str] = {
    (QUEUE, f"{DEVSTACK_PREFIX}-jobs"): "sqs/queue:jobs-queue",  # the normal lane
    (QUEUE, f"{DEVSTACK_PREFIX}-jobs-high"): "sqs/queue:jobs-high-queue",
    (QUEUE, f"{DEVSTACK_PREFIX}-jobs-low"): "sqs/queue:jobs-low-queue",
    (QUEUE, f"{DEVSTACK_PREFIX}-jobs-dlq"): "sqs/queue:jobs-dlq",
    (QUEUE, f"{DEVSTACK_PREFIX}-callbacks"): "sqs/queue:callbacks-queue",
    (QUEUE, f"{DEVSTACK_PREFIX}-callbacks-dlq"): "sqs/queue:callbacks-dlq",
    (TABLE, f"{DEVSTACK_PREFIX}-jobs"): "dynamodb/table:jobs",
    (TABLE, f"{DEVSTACK_PREFIX}-llm-state"): "dynamodb/table:llm-state",
    (SECRET, f"{DEVSTACK_PREFIX}-app-secrets"): "secretsmanager/secret:app-secret",
}
# Names single tests give one of the stack's resources, with where and why.
TEST_STAND_INS: dict[tuple[str, str], tuple[str, str]] = {
    (SECRET, "gen-ai-on-aws/keyring-test"): (
        "secretsmanager/secret:app-secret",
        "app/tests/test_api/test_keyring.py: the secret the API re-reads API_KEYS from",
    ),
    (SECRET, "gen-ai-on-aws/security-test"): (
        "secretsmanager/secret:app-secret",
        "tests/test_security.py: the secret named by APP_SECRET_ID",
    ),
    (SECRET, "gen-ai-on-aws/app"): (
        "secretsmanager/secret:app-secret",
        "worker/tests/test_config.py: the secret named by APP_SECRET_ID (by its ARN)",
    ),
    (TABLE, "jobs"): (
        "dynamodb/table:jobs",
        "app/tests/test_services/test_jobs_repository.py: the jobs table at an endpoint that "
        "does not answer",
    ),
    (QUEUE, "jobs"): (
        "sqs/queue:jobs-queue",
        "app/tests/test_services/test_queue_service.py: the jobs queue at an endpoint that "
        "does not answer",
    ),
}
# Resources error-path tests name but never create: whichever of the function's resources of
# that kind the test stands in for, the call must be allowed on at least one of them.
MISSING_IN_TESTS: dict[tuple[str, str], str] = {
    (TABLE, "no-such-table"): "app and worker tests of a table that does not exist",
    (SECRET, "no-such-secret"): "settings tests of an APP_SECRET_ID that does not exist",
    (QUEUE, f"{DEVSTACK_PREFIX}-jobs-missing"): "app tests of a lane queue that does not exist",
}
# Secrets Manager ARNs end in "-" and six random characters after the secret's name.
_SECRET_ARN = re.compile(r"arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(?P<name>.+)-[0-9A-Za-z]{6}")


class UnmappedResourceError(LookupError):
    """A recorded resource no table here maps: the proof cannot tell what it stands for."""


@dataclass(frozen=True)
class ResourceRef:
    """What one recorded call acted on: one logical resource, or (``any_of_kind``) any of the
    function's resources of that kind."""

    kind: str
    name: str
    logical_id: str | None  # None: any of the kind (MISSING_IN_TESTS)


def resource_name(parameter: str, value: str) -> str:
    """The resource's name in a request parameter: a queue URL's last segment, a secret
    ARN's name, a table ARN's table."""
    if parameter == "QueueUrl":
        return urlparse(value).path.rstrip("/").rsplit("/", 1)[-1]
    if parameter == "SecretId" and (match := _SECRET_ARN.fullmatch(value)):
        return match.group("name")
    if parameter == "TableName" and value.startswith("arn:"):
        return value.rsplit("table/", 1)[-1]
    return value


def resolve(parameter: str, value: str) -> ResourceRef:
    """The logical resource a recorded ``parameter=value`` stands for."""
    kind = KIND_OF_PARAMETER.get(parameter)
    if kind is None:
        raise UnmappedResourceError(f"no resource kind for request parameter {parameter}")
    name = resource_name(parameter, value)
    key = (kind, name)
    if key in DEVSTACK_RESOURCES:
        return ResourceRef(kind, name, DEVSTACK_RESOURCES[key])
    if key in TEST_STAND_INS:
        return ResourceRef(kind, name, TEST_STAND_INS[key][0])
    if key in MISSING_IN_TESTS:
        return ResourceRef(kind, name, None)
    raise UnmappedResourceError(
        f"{kind} {name!r} ({parameter}={value}) is not a devstack resource: map it in "
        "provisioning/provisioning/iam_proof/resources.py"
    )
