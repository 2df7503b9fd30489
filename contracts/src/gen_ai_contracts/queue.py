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

    @field_validator("submitted_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        """Normalise to UTC so the JSON always carries the `Z` form."""
        return value.astimezone(UTC)
