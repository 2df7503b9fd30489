"""Read a dead-lettered message's envelope without ever keeping or showing its payload.

The envelope is the one queue contract (`gen_ai_contracts.queue.QueueMessage`, installed with
the `admin` extra), so a message the worker would refuse is never redriven by hand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gen_ai_contracts.queue import JOB_ID_PATTERN, QueueMessage


@dataclass(frozen=True)
class Envelope:
    """What an operator may see of a message: ids and routing, never the payload."""

    job_id: str
    task: str
    priority: str
    tenant: str | None
    dispatch: int


@dataclass(frozen=True)
class Unreadable:
    """A body that is not a valid envelope; ``job_id`` only when it is a well-formed id."""

    reason: str
    job_id: str | None = None


def read_envelope(body: str) -> Envelope | Unreadable:
    try:
        data = json.loads(body)
    except ValueError:
        return Unreadable("body is not JSON")
    if not isinstance(data, dict):
        return Unreadable("body is not a JSON object")
    try:
        envelope = QueueMessage.model_validate(data)
    except ValidationError as error:
        return Unreadable(_describe(error), _job_id_of(data))
    return Envelope(
        job_id=envelope.job_id,
        task=envelope.task,
        priority=envelope.priority,
        tenant=envelope.tenant,
        dispatch=envelope.dispatch,
    )


def _describe(error: ValidationError) -> str:
    """Where and which rule failed; pydantic's own message would quote the input (user text)."""
    problems = [
        f"{'.'.join(str(part)[:40] for part in problem['loc'][:2]) or 'body'}: {problem['type']}"
        for problem in error.errors(include_input=False, include_url=False)
    ]
    shown = ", ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return f"not a valid envelope ({shown})"


def _job_id_of(data: dict[str, Any]) -> str | None:
    job_id = data.get("job_id")
    return job_id if isinstance(job_id, str) and re.fullmatch(JOB_ID_PATTERN, job_id) else None
