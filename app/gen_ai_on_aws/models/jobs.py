"""Job schemas: a generic submission and the 202 answer to it (the public view of a job,
`JobPublic`, is the contract's: webhooks carry it too)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gen_ai_contracts.jobs import JobPublic
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


__all__ = ["JobCreate", "JobCreated", "JobPublic"]
