"""The job record both Lambdas read and write: statuses, error and usage shapes, timestamps."""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

# A job in one of these never changes again (no transition leaves them).
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class JobError(BaseModel):
    """Why a job failed (`error`) or why its last attempt did not finish (`last_error`)."""

    code: str
    message: str


class TokenUsage(BaseModel):
    """Tokens summed over every LLM call of a job: validation re-asks and fallbacks included."""

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z` and microseconds: the one timestamp form in job records."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_from_epoch(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
