"""`QueueMessage`: the versioned SQS envelope (docs/contracts.md); the API has its own copy.

Kept field for field (and docstring for docstring, since docstrings land in the JSON schema)
equal to the API's model: tests/test_contract.py compares the two schemas.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_validator

QUEUE_MESSAGE_VERSION: Literal[1] = 1

# Canonical lowercase UUID4: the only form the API generates and accepts.
JOB_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]


class QueueMessage(BaseModel):
    """One job to run: which task, its validated request, and where it came from."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    job_id: JobId
    task: str
    payload: dict[str, Any]
    submitted_at: AwareDatetime
    request_id: str | None = None

    @field_validator("submitted_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        """Normalise to UTC so the JSON always carries the `Z` form."""
        return value.astimezone(UTC)
