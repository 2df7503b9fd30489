"""What the worker knows about a job it acts on, and what a claim attempt found."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gen_ai_contracts.jobs import TokenUsage

# A job record as plain Python values (gen_ai_contracts.jobs.item_from_dynamodb).
JobRecord = dict[str, Any]


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    FINISHED = "finished"
    BUSY = "busy"
    STALE = "stale"  # a superseded copy of a re-sent job: the record's dispatch is newer
    ABSENT = "absent"  # no record: the API never created the job (or its TTL removed it)


@dataclass(frozen=True)
class Claim:
    """Result of a claim; ``lease_expires_at`` is the other holder's lease when BUSY,
    ``record`` the job as claimed (CLAIMED) or as finished (FINISHED), and ``dispatch`` the
    record's dispatch (newer than the delivery's when STALE)."""

    outcome: ClaimOutcome
    attempts: int = 0
    status: str | None = None
    lease_expires_at: float | None = None
    record: JobRecord | None = None
    dispatch: int = 0


class SettleOutcome(Enum):
    """What the DLQ settler found for a dead-lettered message's job."""

    SETTLED = "settled"  # it was open: now failed (retries_exhausted)
    FINAL = "final"  # already succeeded, failed or cancelled
    SUPERSEDED = "superseded"  # a newer copy of its message carries the job
    LIVE = "live"  # an attempt holds a live lease: look again on the next run
    MOVED = "moved"  # it changed between the read and the write: look again next run
    ABSENT = "absent"  # no record (expired, or never created)


@dataclass(frozen=True)
class Settled:
    """The settler's outcome for one job, with the record as read (or as written, SETTLED)."""

    outcome: SettleOutcome
    record: JobRecord | None = None


@dataclass(frozen=True)
class JobRef:
    """Who is acting on which job: ``owner`` identifies one delivery attempt, ``dispatch`` the
    copy of the job's message it carries, and ``attempts`` the job's real attempts counting
    this one (known once claimed)."""

    job_id: str
    owner: str
    task: str
    request_id: str | None = None
    dispatch: int = 0
    attempts: int = 0


@dataclass
class JobSpend:
    """What one attempt of a job consumed: tokens and cost over every call, and who answered."""

    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float | None = None
    calls: int = 0
    answered_by: str | None = None

    def add(self, *, usage: TokenUsage, cost: float | None) -> None:
        self.calls += 1
        self.usage = self.usage + usage
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost
