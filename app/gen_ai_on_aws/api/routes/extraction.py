"""Extraction endpoints: synchronous (`/extract-user`) and queued (`/extract-user-async`)."""

from fastapi import APIRouter, Depends, Request, Response, status

from gen_ai_contracts.tasks.extract_user import TASK as EXTRACT_USER
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest, User
from gen_ai_on_aws.api.auth import authenticate
from gen_ai_on_aws.api.blocking import run_blocking
from gen_ai_on_aws.api.deps import SettingsDep, require_json_body
from gen_ai_on_aws.api.errors import error_responses
from gen_ai_on_aws.api.idempotency import IdempotencyDep
from gen_ai_on_aws.api.job_requests import require_callback_url
from gen_ai_on_aws.api.submission import ACCEPTED_RESPONSE, SUBMISSION_ERRORS, SubmitterDep
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.models.jobs import ExtractUserAsyncRequest, JobCreated
from gen_ai_on_aws.services.job_submission import NewJob

router = APIRouter(
    tags=["extraction"], dependencies=[Depends(authenticate), Depends(require_json_body)]
)


@router.post(
    "/extract-user",
    summary="Extract a user from text, synchronously",
    responses=error_responses(400, 401, 413, 415, 422, 429, 500, 502, 503),
)
async def extract_user(request: ExtractUserRequest, settings: SettingsDep) -> User:
    """422 `extraction_failed` when no valid person can be read (including no person at all)."""
    # Imported on first use: it imports litellm (seconds of CPU), which no other route needs.
    from gen_ai_on_aws.services import extraction

    return await extraction.extract_user(request=request, settings=settings)


def prewarm_llm(settings: Settings) -> None:
    """LLM_PREWARM: import litellm and instructor and build the LLM client now (at init)
    rather than in the first POST /extract-user."""
    from gen_ai_on_aws.services import extraction

    extraction.llm_client(settings)


@router.post(
    "/extract-user-async",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreated,
    summary="Queue a user extraction; poll status_url for the result",
    responses={status.HTTP_202_ACCEPTED: ACCEPTED_RESPONSE, **SUBMISSION_ERRORS},
)
async def extract_user_async(
    http_request: Request,
    request: ExtractUserAsyncRequest,
    submitter: SubmitterDep,
    idempotency: IdempotencyDep,
) -> Response:
    """202 once the job is recorded and queued; GET `status_url` until it is finished. The
    same as POST /jobs with task `extract_user` (callback_url, priority and Idempotency-Key
    included)."""
    job = NewJob(
        task=EXTRACT_USER.name,
        payload=request.task_input().model_dump(mode="json"),
        callback_url=require_callback_url(request.callback_url, get_settings()),
        priority=request.priority,
    )
    return await run_blocking(
        http_request, lambda: idempotency.run(body=request, execute=lambda: submitter.submit(job))
    )
