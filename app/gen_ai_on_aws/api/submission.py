"""`SubmitterDep`: how the submission routes record, enqueue and answer (202 or 207)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, status

from gen_ai_on_aws.api.auth import TenantDep
from gen_ai_on_aws.api.deps import JobsDep, SQSDep, lane_queues
from gen_ai_on_aws.api.errors import SERVICE_ERRORS, error_responses, request_id_of
from gen_ai_on_aws.api.idempotency import REPLAYED_HEADER, SavedResponse, saved_response
from gen_ai_on_aws.api.urls import public_url_for
from gen_ai_on_aws.config import get_settings
from gen_ai_on_aws.models.batch import (
    BatchItemError,
    BatchItemQueued,
    BatchItemRefused,
    JobBatchResult,
)
from gen_ai_on_aws.models.jobs import JobCreated
from gen_ai_on_aws.services.batch_submission import submit_jobs
from gen_ai_on_aws.services.errors import ServiceError
from gen_ai_on_aws.services.job_submission import NewJob, submit_job
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues

# Per batch item, in input order: a job to submit or why it was refused at validation.
CheckedItem = NewJob | BatchItemError


class JobSubmitter:
    """Submits validated jobs (blocking boto3 calls: `api.blocking.run_blocking`), each to its
    lane's queue, under the caller's tenant (`api.auth`: the MessageGroupId that SQS fair
    queues share delivery by)."""

    def __init__(
        self,
        *,
        request: Request,
        jobs: JobsRepository,
        queues: JobQueues,
        tenant: str,
        request_id: str | None,
    ) -> None:
        self._request = request
        self._jobs = jobs
        self._queues = queues
        self._request_id = request_id
        self._tenant = tenant

    def submit(self, job: NewJob) -> SavedResponse:
        """Record and enqueue one job: 202 with `Location`."""
        job_id = submit_job(
            jobs=self._jobs,
            queues=self._queues,
            job=job,
            tenant=self._tenant,
            request_id=self._request_id,
            now=datetime.now(UTC),
        )
        status_url = self._status_url(job_id)
        body = JobCreated(job_id=job_id, status_url=status_url)
        return saved_response(status.HTTP_202_ACCEPTED, body, {"Location": status_url})

    def submit_batch(self, items: Sequence[CheckedItem]) -> SavedResponse:
        """Submit the valid items: 202 when every item was queued, else 207. When none could
        be queued because a dependency failed, its ServiceError is raised instead (503: no job
        exists, retrying is safe, and an Idempotency-Key keeps nothing)."""
        valid = [item for item in items if isinstance(item, NewJob)]
        outcomes = submit_jobs(
            jobs=self._jobs,
            queues=self._queues,
            new_jobs=valid,
            tenant=self._tenant,
            request_id=self._request_id,
            now=datetime.now(UTC),
        )
        errors = [outcome for outcome in outcomes if isinstance(outcome, ServiceError)]
        if errors and len(errors) == len(outcomes):
            raise errors[0]
        remaining = iter(outcomes)
        results = [
            self._result(index, next(remaining) if isinstance(item, NewJob) else item)
            for index, item in enumerate(items)
        ]
        all_queued = all(isinstance(result, BatchItemQueued) for result in results)
        code = status.HTTP_202_ACCEPTED if all_queued else status.HTTP_207_MULTI_STATUS
        return saved_response(code, JobBatchResult(results=results))

    def _result(
        self, index: int, outcome: str | ServiceError | BatchItemError
    ) -> BatchItemQueued | BatchItemRefused:
        if isinstance(outcome, str):
            return BatchItemQueued(
                index=index, job_id=outcome, status_url=self._status_url(outcome)
            )
        if isinstance(outcome, ServiceError):
            _, code, message = _service_error_spec(outcome)
            return BatchItemRefused(index=index, error=BatchItemError(code=code, message=message))
        return BatchItemRefused(index=index, error=outcome)

    def _status_url(self, job_id: str) -> str:
        return public_url_for(self._request, "get_job", job_id=job_id)


async def get_submitter(
    request: Request, tenant: TenantDep, jobs: JobsDep, sqs: SQSDep
) -> JobSubmitter:
    settings = get_settings()
    return JobSubmitter(
        request=request,
        jobs=jobs,
        queues=lane_queues(settings, sqs),
        tenant=tenant,
        request_id=request_id_of(request),
    )


SubmitterDep = Annotated[JobSubmitter, Depends(get_submitter)]


def _service_error_spec(error: ServiceError) -> tuple[int, str, str]:
    return next(spec for kind, spec in SERVICE_ERRORS.items() if isinstance(error, kind))


_REPLAYED = {
    REPLAYED_HEADER: {
        "description": "`true` when this is the saved answer to an earlier request with the "
        "same Idempotency-Key (no new job was created).",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

# The 202 of the single-job submission routes, for the OpenAPI schema.
ACCEPTED_RESPONSE = {
    "headers": {
        "Location": {"description": "Same as status_url.", "schema": {"type": "string"}},
        **_REPLAYED,
    }
}
# The 202 and 207 of POST /jobs/batch.
BATCH_RESPONSE_HEADERS = {"headers": _REPLAYED}

# The errors of every submission route; 409 is an Idempotency-Key conflict.
SUBMISSION_ERRORS = error_responses(400, 401, 409, 413, 415, 422, 429, 500, 503)
SUBMISSION_ERRORS[409] = {
    **SUBMISSION_ERRORS[409],
    "description": "`idempotency_key_reused`: the Idempotency-Key was used with another "
    "request. `idempotency_key_in_progress`: a request with it is still running; retry "
    "after `Retry-After` seconds.",
    "headers": {
        "Retry-After": {
            "description": "With `idempotency_key_in_progress`: seconds to wait.",
            "schema": {"type": "integer"},
        }
    },
}
