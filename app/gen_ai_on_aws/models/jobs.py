"""Job schemas: a generic submission and the 202 answer to it (the public view of a job,
`JobPublic`, is the contract's: webhooks carry it too)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gen_ai_contracts.jobs import JobPublic
from gen_ai_contracts.queue import ModelName, Priority
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest

# Checked by the route (SSRF guard, and only when webhooks are configured), not by pydantic, so
# a refusal is 422 `invalid_callback_url` and never quotes the URL back.
CallbackUrl = Annotated[
    str | None,
    Field(
        description=(
            "https URL to POST the job's final event to (Standard Webhooks, signed). Never "
            "shown back; must not point at private, loopback or link-local addresses."
        ),
    ),
]

# The lane a job waits in: each lane is its own queue with its own share of the workers, so
# `high` work overtakes a backlog of `normal` and `low` (app/README.md, "Priority lanes").
PriorityField = Annotated[
    Priority,
    Field(
        description="`high`, `normal` or `low`: the lane the job waits in. High-priority work "
        "overtakes a backlog of normal and low work."
    ),
]


class JobCreate(BaseModel):
    """A job for any task of `GET /tasks`; `input` is validated with that task's input model."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"task": "complete", "input": {"prompt": "Write a haiku about queues."}},
                {
                    "task": "extract_user",
                    "input": {"text": "Jason is 25 years old"},
                    "model": None,
                    "priority": "high",
                },
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
    callback_url: CallbackUrl = None
    priority: PriorityField = "normal"


class ExtractUserAsyncRequest(ExtractUserRequest):
    """The `extract_user` input plus an optional webhook and lane (the task's input model is
    unchanged: `callback_url` and `priority` are not part of the payload)."""

    callback_url: CallbackUrl = None
    priority: PriorityField = "normal"

    def task_input(self) -> ExtractUserRequest:
        return ExtractUserRequest.model_validate(
            self.model_dump(exclude={"callback_url", "priority"})
        )


class JobCreated(BaseModel):
    """Returned by a submission: poll `status_url` until the job is finished."""

    job_id: str
    status: Literal["queued"] = "queued"
    status_url: Annotated[str, Field(description="Absolute URL of GET /jobs/{job_id}.")]


__all__ = ["ExtractUserAsyncRequest", "JobCreate", "JobCreated", "JobPublic"]
