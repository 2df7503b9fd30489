"""`GET /jobs/{job_id}`: a job's status, with its result or error once finished."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from gen_ai_on_aws.api.auth import require_api_key
from gen_ai_on_aws.api.deps import JobsDep
from gen_ai_on_aws.api.errors import ApiError, error_responses
from gen_ai_on_aws.models.jobs import JobPublic
from gen_ai_on_aws.models.queue import JOB_ID_PATTERN

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)])

# Validated by FastAPI before the route runs, so a malformed id never costs a DynamoDB call.
JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="The job_id returned at submission.")
]


@router.get(
    "/{job_id}",
    name="get_job",
    summary="Get a job's status and, when finished, its result or error",
    responses=error_responses(401, 404, 422, 500, 503),
)
def get_job(job_id: JobIdPath, jobs: JobsDep) -> JobPublic:
    job = jobs.get_job(job_id=job_id, now=datetime.now(UTC))
    if job is None:
        raise ApiError(404, "job_not_found", "No such job, or it has expired.")
    return job
