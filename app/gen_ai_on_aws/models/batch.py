"""Bulk submission schemas: up to 100 `POST /jobs` bodies in, one result per item out."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from gen_ai_contracts.queue import Priority
from gen_ai_on_aws.models.errors import ErrorDetail
from gen_ai_on_aws.models.jobs import JobCreate

MAX_BATCH_JOBS = 100

# Each item is checked on its own (an invalid one is refused by index, the others still run),
# so the envelope only requires objects; the schema still documents them as JobCreate.
JobItem = Annotated[dict[str, Any], WithJsonSchema(JobCreate.model_json_schema())]


class JobBatchCreate(BaseModel):
    """Jobs to submit together; answered item by item, in the same order. `priority` is the
    lane of every item that names none (an item's own `priority` wins)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "priority": "low",
                    "jobs": [
                        {"task": "extract_user", "input": {"text": "Jason is 25 years old"}},
                        {
                            "task": "complete",
                            "input": {"prompt": "Write a haiku about queues."},
                            "priority": "high",
                        },
                    ],
                }
            ]
        },
    )

    jobs: Annotated[
        list[JobItem],
        Field(min_length=1, max_length=MAX_BATCH_JOBS, description="1 to 100 POST /jobs bodies."),
    ]
    priority: Annotated[
        Priority,
        Field(description="The lane of every item that names none; an item's own wins."),
    ] = "normal"


class BatchItemQueued(BaseModel):
    """An item that is now a queued job."""

    index: Annotated[int, Field(description="Position of the item in `jobs`.")]
    job_id: str
    status: Literal["queued"] = "queued"
    status_url: Annotated[str, Field(description="Absolute URL of GET /jobs/{job_id}.")]


class BatchItemError(BaseModel):
    """Why an item was not queued: the code and message POST /jobs would have answered."""

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class BatchItemRefused(BaseModel):
    """An item that was not queued (invalid, or a dependency failed for it)."""

    index: Annotated[int, Field(description="Position of the item in `jobs`.")]
    error: BatchItemError


class JobBatchResult(BaseModel):
    """One result per submitted item, in input order: 202 when all are queued, else 207."""

    results: list[BatchItemQueued | BatchItemRefused]
