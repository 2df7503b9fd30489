"""What the worker knows about a job it acts on, and what a claim attempt found."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    FINISHED = "finished"
    BUSY = "busy"


@dataclass(frozen=True)
class Claim:
    """Result of a claim; ``lease_expires_at`` is the other holder's lease when BUSY."""

    outcome: ClaimOutcome
    attempts: int = 0
    status: str | None = None
    lease_expires_at: float | None = None


@dataclass(frozen=True)
class JobRef:
    """Who is acting on which job: ``owner`` identifies one delivery attempt."""

    job_id: str
    owner: str
    task: str
    request_id: str | None = None
