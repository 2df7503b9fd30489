"""IAM's evaluation of one request against identity policies: an explicit Deny wins, else any
Allow, else the implicit deny.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

Supported: Action/NotAction (case-insensitive) and Resource/NotResource (case-sensitive), with
``*`` and ``?`` wildcards. A statement with a Condition or a policy variable is refused rather
than guessed at: the stack's policies use neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class UnsupportedPolicyError(ValueError):
    """A policy element the evaluator does not model."""


@dataclass(frozen=True)
class StatementRef:
    """One statement of one function's inline policy."""

    function: str
    policy: str
    sid: str
    effect: str
    actions: tuple[str, ...]  # as written (Action or NotAction)
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool

    def matches(self, action: str, resource: str) -> bool:
        action_hit = any(_glob(pattern, action, ignore_case=True) for pattern in self.actions)
        resource_hit = any(_glob(pattern, resource) for pattern in self.resources)
        return (action_hit != self.not_action) and (resource_hit != self.not_resource)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: tuple[StatementRef, ...]  # every Allow statement that matched
    denied_by: tuple[StatementRef, ...]  # every Deny statement that matched


def statements(function: str, policies: Mapping[str, Mapping[str, Any]]) -> list[StatementRef]:
    """Every statement of the function's policies (a Sid-less one is named by its index)."""
    found = []
    for policy_name, document in policies.items():
        body = document["Statement"]
        for index, statement in enumerate(body if isinstance(body, list) else [body]):
            found.append(_statement(function, policy_name, index, statement))
    return found


def decide(candidates: Iterable[StatementRef], action: str, resource: str) -> Decision:
    matching = [s for s in candidates if s.matches(action, resource)]
    denied_by = tuple(s for s in matching if s.effect == "Deny")
    allowed_by = tuple(s for s in matching if s.effect == "Allow")
    return Decision(
        allowed=bool(allowed_by) and not denied_by, allowed_by=allowed_by, denied_by=denied_by
    )


def _statement(function: str, policy: str, index: int, raw: Mapping[str, Any]) -> StatementRef:
    if "Condition" in raw or "Principal" in raw or "NotPrincipal" in raw:
        raise UnsupportedPolicyError(f"{policy} statement {index}: Condition/Principal")
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny"):
        raise UnsupportedPolicyError(f"{policy} statement {index}: Effect {effect!r}")
    not_action, not_resource = "NotAction" in raw, "NotResource" in raw
    actions = _strings(raw["NotAction" if not_action else "Action"])
    resources = _strings(raw["NotResource" if not_resource else "Resource"])
    if any("${" in resource for resource in resources):
        raise UnsupportedPolicyError(f"{policy} statement {index}: policy variables")
    return StatementRef(
        function=function,
        policy=policy,
        sid=str(raw.get("Sid") or f"#{index}"),
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
    )


def _strings(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``:`` and ``/`` included), ``?`` one."""
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
