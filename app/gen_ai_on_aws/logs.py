"""The API's structured JSON logger and its request-scoped keys (rules: `gen_ai_contracts.logs`).

Request-scoped keys (`request_id`) live in a context variable, so concurrent requests under
uvicorn never see each other's keys. Never log the submitted input or any secret; a name the
client chose (task, model) is logged escaped and truncated, if at all (`quoted`).
"""

from gen_ai_contracts.logs import create_logger

SERVICE_NAME = "gen-ai-on-aws-api"

logger = create_logger(SERVICE_NAME)

_QUOTED_CHARS = 64


def bind_request_id(request_id: str) -> None:
    """Add `request_id` to every line logged while this request is handled."""
    logger.thread_safe_append_keys(request_id=request_id)


def unbind_request_id() -> None:
    logger.thread_safe_remove_keys(["request_id"])


def quoted(value: str) -> str:
    """A client-chosen name as a log value: escaped by `repr`, at most 64 characters of it."""
    return repr(value[:_QUOTED_CHARS]) + ("..." if len(value) > _QUOTED_CHARS else "")
