"""Job schemas: the 202 answer to a submission and the public view of a job record."""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class JobError(BaseModel):
    """Why a job failed, as the worker recorded it."""

    code: str
    message: str


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
