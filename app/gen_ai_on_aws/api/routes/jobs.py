"""`POST /jobs` (submit any task) and `GET /jobs/{job_id}` (its status, result or error)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from gen_ai_contracts.queue import JOB_ID_PATTERN
from gen_ai_on_aws.api.auth import require_api_key
from gen_ai_on_aws.api.deps import JobsDep, SettingsDep, require_json_body
from gen_ai_on_aws.api.errors import ApiError, error_responses
from gen_ai_on_aws.api.job_requests import require_allowed_model, require_task, validate_input
from gen_ai_on_aws.api.submission import ACCEPTED_RESPONSE, SubmitterDep
from gen_ai_on_aws.models.jobs import JobCreate, JobCreated, JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)])

# Validated by FastAPI before the route runs, so a malformed id never costs a DynamoDB call.
JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="The job_id returned at submission.")
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_json_body)],
    summary="Queue a job for any task; poll status_url for the result",
    responses={
        status.HTTP_202_ACCEPTED: ACCEPTED_RESPONSE,
        **error_responses(400, 401, 413, 415, 422, 500, 503),
    },
)
def create_job(job: JobCreate, settings: SettingsDep, submitter: SubmitterDep) -> JobCreated:
    """422 `unknown_task` (see GET /tasks), `validation_error` naming `input.<field>`, or
    `model_not_allowed`, all before anything is stored; else 202 as `/extract-user-async`."""
    # A sync `def` on purpose: boto3 blocks, so FastAPI runs this in its thread pool.
    task = require_task(job.task)
    payload = validate_input(task, job.input)
    require_allowed_model(job.model, settings)
    return submitter.submit(task=task.name, payload=payload, model=job.model)


@router.get(
    "/{job_id}",
    name="get_job",
    summary="Get a job's status and, when finished, its result or error",
    responses=error_responses(401, 404, 422, 500, 503),
)
def get_job(job_id: JobIdPath, jobs: JobsDep) -> JobPublic:
    """`model`, `usage` and `cost_usd` are null until the worker has called a model."""
    job = jobs.get_job(job_id=job_id, now=datetime.now(UTC))
    if job is None:
        raise ApiError(404, "job_not_found", "No such job, or it has expired.")
    return job
