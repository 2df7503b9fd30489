"""`POST /jobs` (submit any task), `GET /jobs/{job_id}` (its status, result or error) and
`POST /jobs/{job_id}/cancel`."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from gen_ai_contracts.queue import JOB_ID_PATTERN
from gen_ai_on_aws.api.auth import TenantDep, authenticate
from gen_ai_on_aws.api.blocking import run_blocking
from gen_ai_on_aws.api.deps import CallbackQueueDep, JobsDep, require_json_body
from gen_ai_on_aws.api.errors import ApiError, error_responses
from gen_ai_on_aws.api.idempotency import IdempotencyDep
from gen_ai_on_aws.api.job_requests import check_job
from gen_ai_on_aws.api.submission import ACCEPTED_RESPONSE, SUBMISSION_ERRORS, SubmitterDep
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.models.errors import ErrorDetail
from gen_ai_on_aws.models.jobs import JobCreate, JobCreated, JobPublic
from gen_ai_on_aws.services import job_cancellation
from gen_ai_on_aws.services.errors import JobNotCancellableError, JobNotFoundError

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(authenticate)])

# Validated by FastAPI before the route runs, so a malformed id never costs a DynamoDB call.
JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="The job_id returned at submission.")
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreated,
    dependencies=[Depends(require_json_body)],
    summary="Queue a job for any task; poll status_url for the result",
    responses={status.HTTP_202_ACCEPTED: ACCEPTED_RESPONSE, **SUBMISSION_ERRORS},
)
async def create_job(
    request: Request,
    job: JobCreate,
    submitter: SubmitterDep,
    idempotency: IdempotencyDep,
) -> Response:
    """422 `unknown_task` (see GET /tasks), `validation_error` naming `input.<field>` or
    `priority`, `model_not_allowed`, `invalid_callback_url` or `callbacks_not_configured`, all
    before anything is stored; else 202 as `/extract-user-async`, the message sent to the queue
    of the job's `priority` lane. With an `Idempotency-Key`, a retry
    gets the first answer again; 409 `idempotency_key_reused` for another body,
    `idempotency_key_in_progress` (with Retry-After) while the first is still running."""
    new_job = check_job(job, get_settings())
    return await run_blocking(
        request, lambda: idempotency.run(body=job, execute=lambda: submitter.submit(new_job))
    )


@router.get(
    "/{job_id}",
    name="get_job",
    summary="Get a job's status and, when finished, its result or error",
    responses=error_responses(401, 404, 422, 429, 500, 503),
)
async def get_job(
    request: Request, job_id: JobIdPath, jobs: JobsDep, tenant: TenantDep
) -> JobPublic:
    """`model`, `usage` and `cost_usd` are null until the worker has called a model;
    `last_error` says why a queued job's last attempt did not finish (a provider outage or rate
    limit); `callback` is the webhook's delivery state (the URL is never shown)."""
    job = await run_blocking(
        request, lambda: jobs.get_job(job_id=job_id, tenant=tenant, now=datetime.now(UTC))
    )
    if job is None:
        raise _job_not_found()
    return job


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a queued job",
    responses=error_responses(401, 404, 409, 422, 429, 500, 503),
)
async def cancel_job(
    request: Request,
    job_id: JobIdPath,
    jobs: JobsDep,
    callbacks: CallbackQueueDep,
    tenant: TenantDep,
) -> JobPublic:
    """200 with the job, now `cancelled`: the worker will not run it, and its webhook (if
    any) gets `job.cancelled`. 409 `job_not_cancellable` once it is `running` or finished
    (`details[0].type` is its status); 404 `job_not_found` when unknown or expired."""
    try:
        return await run_blocking(
            request,
            lambda: job_cancellation.cancel_job(
                jobs=jobs,
                callbacks=callbacks,
                job_id=job_id,
                tenant=tenant,
                now=datetime.now(UTC),
            ),
        )
    except JobNotFoundError:
        raise _job_not_found() from None
    except JobNotCancellableError as exc:
        message = f"Only a queued job can be cancelled; this one is {exc.status}."
        detail = ErrorDetail(field="status", location="job", message=message, type=exc.status)
        raise ApiError(409, "job_not_cancellable", message, details=[detail]) from None


def _job_not_found() -> ApiError:
    """The one answer for an unknown, expired or other tenant's job (no existence oracle)."""
    return ApiError(404, "job_not_found", "No such job, or it has expired.")
