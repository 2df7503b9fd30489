"""parliament (duo-labs' IAM policy linter) on every policy document of the stack.

parliament 1.6.4 still reads its bundled data with ``pkg_resources.resource_filename``, and
setuptools removed ``pkg_resources`` in 82; every setuptools that still ships it is flagged by
GHSA-h35f-9h28-mq5c, which our pip-audit CI step would reject
(https://github.com/duo-labs/parliament/issues/247). So while parliament imports, a stand-in
``pkg_resources`` offering just that function (from importlib.resources) is provided, then
removed again. Its modules' invalid escape sequences ('\\d' in plain strings) warn as they
compile: not ours to fix, so silenced for that import.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from provisioning.iam_proof.stack import StackModel


@dataclass(frozen=True)
class LintFinding:
    function: str
    policy: str
    issue: str  # parliament's finding code, e.g. RESOURCE_MISMATCH
    actions: tuple[str, ...]  # the actions the finding names, if any
    detail: str

    def justification(self, allowances: Mapping[tuple[str, str], str]) -> str | None:
        """The reason this finding is wrong, when every action it names has one."""
        reasons = {allowances.get((self.issue, action)) for action in self.actions}
        if not self.actions or None in reasons:
            return None
        return "; ".join(sorted(reason for reason in reasons if reason))


def _resource_filename(package: str, resource: str) -> str:
    return str(files(package) / resource)


def _parliament() -> types.ModuleType:
    """Import parliament with a ``pkg_resources`` stand-in (see the module docstring)."""
    if "parliament" in sys.modules:
        return sys.modules["parliament"]
    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_filename = _resource_filename  # type: ignore[attr-defined]
    previous = sys.modules.get("pkg_resources")
    sys.modules["pkg_resources"] = stand_in
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", SyntaxWarning)
            return importlib.import_module("parliament")
    finally:
        if previous is None:
            del sys.modules["pkg_resources"]
        else:
            sys.modules["pkg_resources"] = previous


def lint_document(function: str, policy: str, document: Mapping[str, Any]) -> list[LintFinding]:
    """parliament's findings for one policy document (community auditors included)."""
    analyzed = _parliament().analyze_policy_string(
        json.dumps(document), include_community_auditors=True
    )
    return [
        LintFinding(
            function=function,
            policy=policy,
            issue=str(finding.issue),
            actions=_actions(finding.detail),
            detail=str(finding.detail),
        )
        for finding in analyzed.findings
    ]


def _actions(detail: Any) -> tuple[str, ...]:
    """RESOURCE_MISMATCH and its kind detail a list of {"action": ..., ...}."""
    items = detail if isinstance(detail, list) else [detail]
    found = (item.get("action") for item in items if isinstance(item, dict))
    return tuple(sorted({str(action) for action in found if action}))


def lint_stack(model: StackModel) -> list[LintFinding]:
    """Every finding of every function's inline policies."""
    return [
        finding
        for grants in model.functions.values()
        for policy, document in grants.policies.items()
        for finding in lint_document(grants.function, policy, document)
    ]
