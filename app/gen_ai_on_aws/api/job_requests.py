"""Checks of a job submission, all made before any AWS call: task, input, model, callback.

Each failure is a 422 whose `details` name the field (`task`, `input.<path>`, `model`,
`callback_url`; an invalid `priority` is refused by the request model before these run). The
client's task and model names are never echoed into the answer, and logged only `quoted`; a
callback URL is neither echoed nor logged (it may hold a token).
"""

from typing import Any

from pydantic import BaseModel, ValidationError

from gen_ai_contracts.tasks import TASKS, Task, get_task
from gen_ai_contracts.webhooks import CallbackTargetError, check_callback_url
from gen_ai_on_aws.api.errors import ApiError, error_detail
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.logs import logger, quoted
from gen_ai_on_aws.models.errors import ErrorDetail
from gen_ai_on_aws.models.jobs import JobCreate
from gen_ai_on_aws.services.job_submission import NewJob


def check_job(job: JobCreate, settings: Settings) -> NewJob:
    """`job` as a submission the services can run, or the ApiError of its first problem."""
    task = require_task(job.task)
    payload = validate_input(task, job.input)
    require_allowed_model(job.model, settings)
    return NewJob(
        task=task.name,
        payload=payload.model_dump(mode="json"),
        model=job.model,
        callback_url=require_callback_url(job.callback_url, settings),
        priority=job.priority,
    )


def require_task(name: str) -> Task[Any, Any]:
    """The registry's task called `name`, else 422 `unknown_task` listing the known ones."""
    task = get_task(name)
    if task is not None:
        return task
    logger.info("unknown task refused", extra={"task": quoted(name)})
    known = ", ".join(sorted(TASKS))
    raise _refusal("unknown_task", "task", f"Unknown task. Known tasks: {known}.")


def validate_input(task: Task[Any, Any], data: dict[str, Any]) -> BaseModel:
    """`data` as the task's input model, else 422 `validation_error` naming `input.<field>`."""
    try:
        validated: BaseModel = task.input_model.model_validate(data)
    except ValidationError as exc:
        details = [error_detail(error, prefix=("body", "input")) for error in exc.errors()]
        raise ApiError(
            422, "validation_error", "The task's input is invalid; see details.", details=details
        ) from None  # the ValidationError quotes the input (PII): not even as a cause
    return validated


def require_allowed_model(model: str | None, settings: Settings) -> None:
    """422 `model_not_allowed` unless `model` is null or in `settings.allowed_models`."""
    if model is None or model in settings.allowed_models:
        return
    logger.info("model refused", extra={"model": quoted(model)})
    allowed = ", ".join(settings.allowed_models)
    raise _refusal("model_not_allowed", "model", f"Model not allowed. Allowed models: {allowed}.")


def require_callback_url(url: str | None, settings: Settings) -> str | None:
    """`url` if webhooks are configured and the SSRF guard lets it through, else 422
    `callbacks_not_configured` or `invalid_callback_url` (saying why, never quoting it)."""
    if url is None:
        return None
    if settings.callbacks_queue_url is None:
        message = "This deployment does not send webhooks (CALLBACKS_QUEUE_URL is not set)."
        raise _refusal("callbacks_not_configured", "callback_url", message)
    try:
        return check_callback_url(url, allow_private=settings.webhook_allow_private_targets)
    except CallbackTargetError as exc:
        logger.info("callback_url refused", extra={"reason": str(exc)})
        message = f"callback_url {exc}."
        raise _refusal("invalid_callback_url", "callback_url", message) from None


def _refusal(code: str, field: str, message: str) -> ApiError:
    detail = ErrorDetail(field=field, location="body", message=message, type=code)
    return ApiError(422, code, message, details=[detail])
