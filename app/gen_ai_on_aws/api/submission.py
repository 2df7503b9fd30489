"""`SubmitterDep`: how every submission route records, enqueues and answers 202."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from gen_ai_on_aws.api.deps import JobsDep, QueueDep, RequestIdDep
from gen_ai_on_aws.api.urls import public_url_for
from gen_ai_on_aws.models.jobs import JobCreated
from gen_ai_on_aws.services.job_submission import submit_job


class JobSubmitter:
    """Submits one validated input per request; sets `Location` on the 202."""

    def __init__(
        self,
        *,
        request: Request,
        response: Response,
        jobs: JobsDep,
        queue: QueueDep,
        request_id: RequestIdDep,
    ) -> None:
        self._request = request
        self._response = response
        self._jobs = jobs
        self._queue = queue
        self._request_id = request_id

    def submit(self, *, task: str, payload: BaseModel, model: str | None) -> JobCreated:
        """Record and enqueue the job (blocking boto3 calls: call from a sync route)."""
        job_id = submit_job(
            jobs=self._jobs,
            queue=self._queue,
            task=task,
            payload=payload.model_dump(mode="json"),
            model=model,
            request_id=self._request_id,
            now=datetime.now(UTC),
        )
        status_url = public_url_for(self._request, "get_job", job_id=job_id)
        self._response.headers["Location"] = status_url
        return JobCreated(job_id=job_id, status_url=status_url)


SubmitterDep = Annotated[JobSubmitter, Depends(JobSubmitter)]

# The 202 of every submission route, for the OpenAPI schema.
ACCEPTED_RESPONSE = {
    "headers": {"Location": {"description": "Same as status_url.", "schema": {"type": "string"}}}
}
