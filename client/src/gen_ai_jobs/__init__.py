"""Client library and CLI for the gen-ai-on-aws jobs API.

from gen_ai_jobs import Client

with Client(base_url="http://127.0.0.1:8000") as client:
    created = client.submit(task="extract_user", input={"text": "Ada is 36 years old"})
    job = client.wait(created.job_id)
"""

from gen_ai_jobs._version import __version__
from gen_ai_jobs.client import Client
from gen_ai_jobs.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GenAiJobsError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeout,
    WebhookVerificationError,
)
from gen_ai_jobs.models import (
    FINAL_STATUSES,
    PRIORITIES,
    BatchItem,
    BatchResult,
    CallbackState,
    Job,
    JobCreated,
    JobError,
    JobRequest,
    Priority,
    TokenUsage,
)
from gen_ai_jobs.webhooks import verify_webhook

__all__ = [
    "FINAL_STATUSES",
    "PRIORITIES",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchResult",
    "CallbackState",
    "Client",
    "ConflictError",
    "GenAiJobsError",
    "InternalServerError",
    "Job",
    "JobCreated",
    "JobError",
    "JobRequest",
    "NotFoundError",
    "Priority",
    "RateLimitError",
    "TokenUsage",
    "UnprocessableEntityError",
    "WaitTimeout",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
