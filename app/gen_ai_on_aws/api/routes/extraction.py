"""Extraction endpoints: synchronous (`/extract-user`) and queued (`/extract-user-async`)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response, status

from gen_ai_on_aws.api.auth import require_api_key
from gen_ai_on_aws.api.deps import JobsDep, QueueDep, RequestIdDep, SettingsDep, require_json_body
from gen_ai_on_aws.api.errors import error_responses
from gen_ai_on_aws.api.urls import public_url_for
from gen_ai_on_aws.models.jobs import JobCreated
from gen_ai_on_aws.models.request import ExtractUserRequest
from gen_ai_on_aws.models.user import User
from gen_ai_on_aws.services import extraction
from gen_ai_on_aws.services.job_submission import submit_job

EXTRACT_USER_TASK = "extract_user"

router = APIRouter(
    tags=["extraction"], dependencies=[Depends(require_api_key), Depends(require_json_body)]
)


@router.post(
    "/extract-user",
    summary="Extract a user from text, synchronously",
    responses=error_responses(400, 401, 413, 415, 422, 429, 500, 502, 503),
)
async def extract_user(request: ExtractUserRequest, settings: SettingsDep) -> User:
    """422 `extraction_failed` when no valid person can be read (including no person at all)."""
    return await extraction.extract_user(text=request.text, settings=settings)


@router.post(
    "/extract-user-async",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a user extraction; poll status_url for the result",
    responses={
        status.HTTP_202_ACCEPTED: {
            "headers": {
                "Location": {"description": "Same as status_url.", "schema": {"type": "string"}}
            }
        },
        **error_responses(400, 401, 413, 415, 422, 500, 503),
    },
)
def extract_user_async(
    request: ExtractUserRequest,
    http_request: Request,
    response: Response,
    jobs: JobsDep,
    queue: QueueDep,
    request_id: RequestIdDep,
) -> JobCreated:
    """202 once the job is recorded and queued; GET `status_url` until it is finished."""
    # A sync `def` on purpose: boto3 blocks, so FastAPI runs this in its thread pool.
    job_id = submit_job(
        jobs=jobs,
        queue=queue,
        task=EXTRACT_USER_TASK,
        payload=request.model_dump(mode="json"),
        request_id=request_id,
        now=datetime.now(UTC),
    )
    status_url = public_url_for(http_request, "get_job", job_id=job_id)
    response.headers["Location"] = status_url
    return JobCreated(job_id=job_id, status_url=status_url)
