"""The proof at the end of a test session: the recorded calls against the dev stack's policies,
parliament on those policies, and a short report (root conftest.py prints it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioning.iam_proof.allowances import LINT_ALLOWANCES, UNEXERCISED_GRANTS
from provisioning.iam_proof.lint import LintFinding, lint_stack
from provisioning.iam_proof.proof import Grant, Proof, RecordedCall, Request, prove
from provisioning.iam_proof.stack import export_stack

# The devstack and the tests name their resources as the dev stack does (iam_proof.resources).
STACK = "dev"


@dataclass(frozen=True)
class SessionOutcome:
    proof: Proof
    findings: list[LintFinding]
    complete: bool  # the whole suite ran: every grant must then be exercised or justified

    def failures(self) -> list[str]:
        failures = [f"cannot judge {problem}" for problem in self.proof.problems]
        failures += [f"DENIED {_request(request)}" for request in self.proof.denied]
        if self.complete:
            failures += [f"UNEXERCISED {_grant(grant)}" for grant in self.proof.unexercised]
            if not self.proof.calls:
                failures.append("no Lambda AWS call was recorded: is the recorder installed?")
        failures += [
            f"PARLIAMENT {f.function}/{f.policy} {f.issue}: {f.detail}"
            for f in self.findings
            if f.justification(LINT_ALLOWANCES) is None
        ]
        return failures

    def report(self) -> list[str]:
        proof = self.proof
        by_aws = sum(1 for request in proof.requests if request.by_aws)
        lines = [
            f"IAM proof against the {proof.stack} stack's policies: {len(proof.calls)} distinct "
            f"Lambda calls recorded; {len(proof.requests)} requests decided, {by_aws} of them "
            "made by AWS with the functions' roles (logs, event source mappings)"
        ]
        calls = proof.calls_per_function()
        for function in sorted({grant.function for grant in proof.grants}):
            grants = [grant for grant in proof.grants if grant.function == function]
            exercised = sum(1 for grant in grants if grant in proof.exercised)
            justified = sum(1 for grant in grants if grant in proof.justified)
            denied = sum(1 for request in proof.denied if request.function == function)
            lines.append(
                f"  {function:<10} {calls[function]:>3} calls, {denied} denied; grants: "
                f"{exercised} exercised, {justified} justified, "
                f"{len(grants) - exercised - justified} unexercised (of {len(grants)})"
            )
        lines += [f"  justified: {_grant(g)}: {reason}" for g, reason in proof.justified.items()]
        if not self.complete and proof.unexercised:
            lines.append(
                f"  (a partial run: {len(proof.unexercised)} grants not exercised, not checked)"
            )
        lines += [
            f"  stale allowance (covers nothing unexercised now): {a.function} {a.sid} {a.action}"
            for a in proof.stale_allowances
        ]
        justified_findings = [f for f in self.findings if f.justification(LINT_ALLOWANCES)]
        lines.append(
            f"  parliament: {len(self.findings) - len(justified_findings)} findings, "
            f"{len(justified_findings)} justified"
        )
        failures = self.failures()
        lines += [f"  {failure}" for failure in failures]
        lines.append(f"IAM proof: {'FAILED' if failures else 'passed'}")
        return lines


def evaluate_session(records: Iterable[Mapping[str, Any]], *, complete: bool) -> SessionOutcome:
    """Judge every recorded call (devstack.call_recorder's records)."""
    model = export_stack(STACK)
    calls = [RecordedCall.from_record(record) for record in records]
    proof = prove(calls, model, UNEXERCISED_GRANTS)
    return SessionOutcome(proof=proof, findings=lint_stack(model), complete=complete)


def _request(request: Request) -> str:
    resources = " or ".join(request.resources)
    return f"{request.function} {request.action} on {resources} ({request.origin})"


def _grant(grant: Grant) -> str:
    return f"{grant.function} {grant.policy} {grant.sid} {grant.action}"
