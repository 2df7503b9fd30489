"""`POST /jobs/batch`: up to 100 jobs in one request, answered item by item."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import ValidationError

from gen_ai_contracts.queue import Priority
from gen_ai_on_aws.api.auth import authenticate
from gen_ai_on_aws.api.blocking import run_blocking
from gen_ai_on_aws.api.deps import require_json_body
from gen_ai_on_aws.api.errors import ApiError, error_detail
from gen_ai_on_aws.api.idempotency import (
    Idempotency,
    IdempotencyDep,
    as_response,
    saved_response,
)
from gen_ai_on_aws.api.job_requests import check_job
from gen_ai_on_aws.api.submission import (
    BATCH_RESPONSE_HEADERS,
    SUBMISSION_ERRORS,
    CheckedItem,
    JobSubmitter,
    SubmitterDep,
)
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.models.batch import (
    BatchItemError,
    BatchItemRefused,
    JobBatchCreate,
    JobBatchResult,
)
from gen_ai_on_aws.models.jobs import JobCreate
from gen_ai_on_aws.services.job_submission import NewJob

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(authenticate)])

_RESULTS = "One result per item, in input order: `job_id` and `status_url`, or `error`."


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobBatchResult,
    dependencies=[Depends(require_json_body)],
    summary="Queue up to 100 jobs at once; each item is answered on its own",
    responses={
        status.HTTP_202_ACCEPTED: {
            "description": f"Every item was queued. {_RESULTS}",
            **BATCH_RESPONSE_HEADERS,
        },
        status.HTTP_207_MULTI_STATUS: {
            "model": JobBatchResult,
            "description": "Some items were not queued (invalid, or a dependency failed for "
            f"them). {_RESULTS}",
            **BATCH_RESPONSE_HEADERS,
        },
        **SUBMISSION_ERRORS,
    },
)
async def create_jobs(
    request: Request,
    batch: JobBatchCreate,
    submitter: SubmitterDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Every item is checked like a POST /jobs body first; invalid ones get their error by
    index, the others are recorded and queued 10 at a time. An item that could not be queued
    leaves no job behind. 503 (nothing queued, retry) when a dependency failed for every valid
    item. Items without a `priority` take the batch's (default `normal`); the jobs of each lane
    go to that lane's queue. The Idempotency-Key covers the whole request."""
    return await run_blocking(
        request, lambda: _create_jobs(batch, get_settings(), submitter, idempotency)
    )


def _create_jobs(
    batch: JobBatchCreate, settings: Settings, submitter: JobSubmitter, idempotency: Idempotency
) -> Response:
    items = [_check_item(item, batch.priority, settings) for item in batch.jobs]
    if not any(isinstance(item, NewJob) for item in items):
        # Nothing to run: a refusal by validation, which an Idempotency-Key does not keep.
        refused = [
            BatchItemRefused(index=i, error=e)
            for i, e in enumerate(items)
            if isinstance(e, BatchItemError)
        ]
        return as_response(
            saved_response(status.HTTP_207_MULTI_STATUS, JobBatchResult(results=refused))
        )
    return idempotency.run(body=batch, execute=lambda: submitter.submit_batch(items))


def _check_item(item: dict[str, Any], priority: Priority, settings: Settings) -> CheckedItem:
    """The item as a job to submit (in the batch's lane unless it names its own), or the error
    POST /jobs would have answered for it."""
    try:
        return check_job(JobCreate.model_validate({"priority": priority, **item}), settings)
    except ValidationError as exc:
        details = [error_detail(error, prefix=("body",)) for error in exc.errors()]
        return BatchItemError(
            code="validation_error", message="The job is invalid; see details.", details=details
        )
    except ApiError as exc:
        return BatchItemError(code=exc.code, message=exc.message, details=exc.details)
