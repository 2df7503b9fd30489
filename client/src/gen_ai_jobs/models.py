"""Typed requests and responses of the jobs API, mirrored here so the client needs no server code.

Responses keep fields a newer API adds (`extra="allow"`), and `status` is a plain string, so an
older client keeps working when the API grows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A job in one of these never changes again.
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

# The lane a job waits in: `high` work overtakes a backlog of `normal` and `low` work.
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobRequest(BaseModel):
    """One job to submit: the body of `POST /jobs`, and one item of `POST /jobs/batch`."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, description="A task name from GET /tasks.")
    input: dict[str, Any] = Field(description="The task's input, e.g. {'text': ...}.")
    model: str | None = Field(default=None, description="null = the deployment's default model.")
    callback_url: str | None = Field(default=None, description="Where to POST the final event.")
    priority: Priority | None = Field(
        default=None, description="`high`, `normal` or `low`; null = the API's default, normal."
    )

    def body(self) -> dict[str, Any]:
        """The JSON body, without the unset optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


class JobCreated(_Response):
    """The 202 answer to a submission: poll `status_url` (or `Client.wait`) for the outcome."""

    job_id: str
    status: str = "queued"
    status_url: str


class JobError(_Response):
    """Why a job failed, or why a batch item was not queued."""

    code: str
    message: str


class TokenUsage(_Response):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class CallbackState(_Response):
    """Where the job's webhook stands: `pending`, `delivered` or `failed`."""

    status: str
    attempts: int = 0
    last_status_code: int | None = None


class Job(_Response):
    """A job as `GET /jobs/{id}` shows it."""

    job_id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled.")
    task: str
    created_at: datetime
    updated_at: datetime
    attempts: int = Field(default=0, description="Attempts that reached the LLM provider.")
    priority: str = Field(default="normal", description="The lane: high, normal or low.")
    last_error: JobError | None = Field(
        default=None,
        description="While unfinished: why the last attempt did not (e.g. provider_unavailable).",
    )
    result: dict[str, Any] | None = None
    error: JobError | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    cost_usd: float | None = None
    callback: CallbackState | None = None

    @property
    def finished(self) -> bool:
        """True once the job is `succeeded`, `failed` or `cancelled`."""
        return self.status in FINAL_STATUSES


class BatchItem(_Response):
    """One item of a batch answer: queued (`job_id`, `status_url`) or refused (`error`).

    `index` is the item's position in the request (in `Client.submit_many`: in the input)."""

    index: int
    job_id: str | None = None
    status: str | None = None
    status_url: str | None = None
    error: JobError | None = None

    @property
    def queued(self) -> bool:
        return self.job_id is not None and self.error is None


class BatchResult(_Response):
    """The answer to `POST /jobs/batch`, one item per submitted job, in request order."""

    results: list[BatchItem]

    @property
    def queued(self) -> list[BatchItem]:
        return [item for item in self.results if item.queued]

    @property
    def failed(self) -> list[BatchItem]:
        return [item for item in self.results if not item.queued]
