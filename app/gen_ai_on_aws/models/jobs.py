"""Job schemas: a generic submission, the 202 answer to it, and the public view of a job."""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gen_ai_contracts.jobs import JobError, JobStatus, TokenUsage
from gen_ai_contracts.queue import ModelName


class JobCreate(BaseModel):
    """A job for any task of `GET /tasks`; `input` is validated with that task's input model."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"task": "complete", "input": {"prompt": "Write a haiku about queues."}},
                {"task": "extract_user", "input": {"text": "Jason is 25 years old"}, "model": None},
            ]
        },
    )

    task: Annotated[str, Field(description="A task name from GET /tasks.")]
    input: Annotated[
        dict[str, Any], Field(description="The task's input: its `input_schema` in GET /tasks.")
    ]
    model: Annotated[
        ModelName | None,
        Field(description="A model from LLM_ALLOWED_MODELS; null = the deployment's LLM_MODEL."),
    ] = None


class JobCreated(BaseModel):
    """Returned by a submission: poll `status_url` until the job is finished."""

    job_id: str
    status: Literal["queued"] = "queued"
    status_url: Annotated[str, Field(description="Absolute URL of GET /jobs/{job_id}.")]


class JobPublic(BaseModel):
    """A job as clients see it; `result` is set when succeeded, `error` when failed."""

    job_id: str
    status: JobStatus
    task: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: JobError | None = None
    model: str | None = Field(default=None, description="The model that answered; null before.")
    usage: TokenUsage | None = Field(
        default=None, description="Tokens over every LLM call of the job; null before any call."
    )
    cost_usd: float | None = Field(
        default=None, description="Price of `usage` on `model`; null when the model is unpriced."
    )
