"""Recorded calls -> IAM requests -> decisions against each function's policy: what was denied,
and which granted (statement, action) pairs nothing exercised.

Besides the recorded calls, AWS makes requests with a function's role that no code of ours
makes, derived here from the stack itself:
- the Lambda runtime writes the function's logs (logs:CreateLogStream, logs:PutLogEvents on a
  stream of its log group): https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
- an SQS event source mapping reads, deletes and inspects its queue (sqs:ReceiveMessage,
  sqs:DeleteMessage, sqs:GetQueueAttributes): https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from provisioning.iam_proof.actions import (
    IamAction,
    UnknownActionError,
    actions_for_call,
    iam_action,
    resource_type,
    service_data,
)
from provisioning.iam_proof.evaluate import Decision, StatementRef, decide, statements
from provisioning.iam_proof.resources import (
    QUEUE,
    SECRET,
    TABLE,
    ResourceRef,
    UnmappedResourceError,
    resolve,
)
from provisioning.iam_proof.stack import ACCOUNT, PARTITION, REGION, StackModel

ESM_ACTIONS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
LOG_ACTIONS = ("CreateLogStream", "PutLogEvents")
# A stream as Lambda names them: date/[version]instance id.
LOG_STREAM = "2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
PULUMI_TYPE_OF_KIND = {
    QUEUE: "aws:sqs/queue:Queue",
    TABLE: "aws:dynamodb/table:Table",
    SECRET: "aws:secretsmanager/secret:Secret",
}


@dataclass(frozen=True)
class RecordedCall:
    """One distinct call a Lambda's code made (devstack.call_recorder's JSON line)."""

    function: str
    service: str
    signing_name: str
    operation: str
    resources: tuple[tuple[str, str], ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RecordedCall:
        return cls(
            function=str(record["function"]),
            service=str(record["service"]),
            signing_name=str(record.get("signing_name") or record["service"]),
            operation=str(record["operation"]),
            resources=tuple((str(name), str(value)) for name, value in record["resources"]),
        )

    def describe(self) -> str:
        names = ", ".join(value for _, value in self.resources) or "no resource"
        return f"{self.function}: {self.service}.{self.operation} on {names}"


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: ``action`` on any of ``resources`` (one ARN, except for a
    stand-in of a resource the tests never created)."""

    function: str
    action: str
    resources: tuple[str, ...]
    origin: str
    exercises: bool = True  # counts toward "every grant is exercised"
    by_aws: bool = False  # made by AWS with the function's role, not by its code


@dataclass(frozen=True)
class Grant:
    """One action of one Allow statement."""

    function: str
    policy: str
    sid: str
    action: str
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Allowance:
    """A grant nothing in the suites exercises, and why it stays."""

    function: str
    sid: str  # fnmatch pattern
    action: str
    reason: str

    def covers(self, grant: Grant) -> bool:
        return (
            grant.function == self.function
            and fnmatchcase(grant.sid, self.sid)
            and grant.action.lower() == self.action.lower()
        )


@dataclass
class Proof:
    stack: str
    calls: list[RecordedCall]
    requests: list[Request] = field(default_factory=list)
    denied: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # calls the proof could not judge
    grants: list[Grant] = field(default_factory=list)
    exercised: set[Grant] = field(default_factory=set)
    justified: dict[Grant, str] = field(default_factory=dict)
    unexercised: list[Grant] = field(default_factory=list)  # neither exercised nor justified
    stale_allowances: list[Allowance] = field(default_factory=list)

    def calls_per_function(self) -> Counter[str]:
        return Counter(call.function for call in self.calls)


def prove(
    calls: Iterable[RecordedCall], model: StackModel, allowances: Iterable[Allowance] = ()
) -> Proof:
    """Decide every request; list the grants no request used that no allowance justifies."""
    proof = Proof(stack=model.stack, calls=sorted(set(calls), key=RecordedCall.describe))
    policy_statements = {
        function: statements(function, grants.policies)
        for function, grants in model.functions.items()
    }
    proof.requests = platform_requests(model)
    for call in proof.calls:
        try:
            proof.requests += requests_for_call(call, model)
        except (UnknownActionError, UnmappedResourceError, KeyError, ValueError) as exc:
            proof.problems.append(f"{call.describe()}: {exc}")
    for request in proof.requests:
        decisions = [
            decide(policy_statements.get(request.function, []), request.action, resource)
            for resource in request.resources
        ]
        if not any(decision.allowed for decision in decisions):
            proof.denied.append(request)
        elif request.exercises:
            proof.exercised.update(_grants_used(request.action, decisions))
    proof.grants = [grant for found in policy_statements.values() for grant in _grants(found)]
    allowances = list(allowances)
    for grant in proof.grants:
        if grant in proof.exercised:
            continue
        reason = next((a.reason for a in allowances if a.covers(grant)), None)
        if reason is None:
            proof.unexercised.append(grant)
        else:
            proof.justified[grant] = reason
    proof.stale_allowances = [
        allowance
        for allowance in allowances
        if not any(allowance.covers(grant) for grant in proof.justified)
    ]
    return proof


def requests_for_call(call: RecordedCall, model: StackModel) -> list[Request]:
    """The request(s) IAM evaluates for one recorded call, on the stack's ARNs."""
    if call.function not in model.functions:
        raise ValueError(f"no function {call.function!r} in the stack")
    requests = []
    for action in actions_for_call(_iam_prefix(call), call.operation):
        if not action.resource_types:
            requests.append(Request(call.function, action.action, ("*",), call.describe()))
            continue
        if not call.resources:
            raise ValueError(f"{action.action} acts on a resource the call does not name")
        for parameter, value in call.resources:
            requests.append(_request(call, action, resolve(parameter, value), model))
    return requests


def platform_requests(model: StackModel) -> list[Request]:
    """What AWS does with each function's role on its behalf (see the module docstring)."""
    stream = resource_type("logs", "log-stream")
    requests = []
    for grants in model.functions.values():
        log_stream = stream.arn(
            Partition=PARTITION,
            Region=REGION,
            Account=ACCOUNT,
            LogGroupName=grants.log_group,
            LogStreamName=LOG_STREAM,
        )
        for operation in LOG_ACTIONS:
            action = iam_action("logs", operation).action
            origin = f"{grants.function}: the Lambda runtime writes its logs"
            requests.append(Request(grants.function, action, (log_stream,), origin, by_aws=True))
        for queue_arn in grants.event_source_arns:
            for operation in ESM_ACTIONS:
                action = iam_action("sqs", operation).action
                origin = f"{grants.function}: its SQS event source mapping on {queue_arn}"
                requests.append(Request(grants.function, action, (queue_arn,), origin, by_aws=True))
    return requests


def _iam_prefix(call: RecordedCall) -> str:
    """botocore's service name is the IAM prefix for these services; else its signing name."""
    try:
        service_data(call.service)
    except UnknownActionError:
        return call.signing_name
    return call.service


def _request(call: RecordedCall, action: IamAction, ref: ResourceRef, model: StackModel) -> Request:
    if ref.logical_id is not None:
        arn = model.resources[ref.logical_id].arn
        if not any(kind.matches(arn) for kind in action.resource_types):
            kinds = ", ".join(kind.name for kind in action.resource_types)
            raise ValueError(f"{arn} is not a {kinds} ARN, which {action.action} acts on")
        return Request(call.function, action.action, (arn,), call.describe())
    # A resource the test never created: any of the stack's resources of that kind will do.
    candidates = tuple(
        resource.arn
        for resource in model.of_type(PULUMI_TYPE_OF_KIND[ref.kind])
        if any(kind.matches(resource.arn) for kind in action.resource_types)
    )
    return Request(call.function, action.action, candidates, call.describe(), exercises=False)


def _grants(found: list[StatementRef]) -> list[Grant]:
    return [
        Grant(s.function, s.policy, s.sid, action, s.resources)
        for s in found
        if s.effect == "Allow" and not s.not_action
        for action in s.actions
    ]


def _grants_used(action: str, decisions: list[Decision]) -> set[Grant]:
    return {
        grant
        for decision in decisions
        for grant in _grants(list(decision.allowed_by))
        if fnmatchcase(action.lower(), grant.action.lower())
    }
