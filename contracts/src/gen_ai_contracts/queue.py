"""`QueueMessage`: the versioned SQS envelope the API sends and the worker consumes."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

QUEUE_MESSAGE_VERSION: Literal[1] = 1

# Canonical lowercase UUID4: the only form the API generates and accepts.
JOB_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]

# A litellm model string ("openai/gpt-4o-mini", "bedrock/anthropic.claude-3-haiku-..."); the
# API checks it against LLM_ALLOWED_MODELS before it is ever enqueued.
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200)]

# Which lane a job waits in: each lane is its own SQS queue with its own share of the worker's
# concurrency, so high-priority work overtakes a backlog (docs/contracts.md, "Priority lanes").
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")

# The SQS MessageGroupId of a job: its tenant, the name API_KEYS gives the caller's key
# (`gen_ai_contracts.api_keys`: "default" for the list forms and an open API). On a standard
# queue it turns on SQS fair queues: one tenant's backlog does not delay the others. The wider
# pattern keeps messages sent before tenants had names (key-<hex>) valid.
TenantId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]


class QueueMessage(BaseModel):
    """One job to run: which task, its validated input, the model asked for, and its origin."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    job_id: JobId
    task: str
    payload: dict[str, Any]
    submitted_at: AwareDatetime
    request_id: str | None = None
    model: ModelName | None = Field(
        default=None, description="The model the client chose; null = the worker's LLM_MODEL."
    )
    priority: Priority = Field(default="normal", description="The lane the job was queued in.")
    tenant: TenantId | None = Field(
        default=None, description="The MessageGroupId it was sent with; kept when re-sent."
    )
    dispatch: int = Field(
        default=0,
        ge=0,
        description=(
            "0 as the API sends it; the worker re-sends a deferred or retried job with the"
            " record's dispatch + 1, and a delivery whose dispatch is below the record's is a"
            " stale copy, acknowledged without running."
        ),
    )

    @field_validator("submitted_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        """Normalise to UTC so the JSON always carries the `Z` form."""
        return value.astimezone(UTC)
