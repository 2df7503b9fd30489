"""The API's structured JSON logger (Powertools) and the rules that keep PII out of the logs.

Request-scoped keys (`request_id`) live in a context variable, so concurrent requests under
uvicorn never see each other's keys. Never log the submitted text or any secret.
"""

import logging

from aws_lambda_powertools import Logger

SERVICE_NAME = "gen-ai-on-aws-api"

logger = Logger(service=SERVICE_NAME, use_rfc3339=True, utc=True)

# Library loggers whose lines can quote the prompt or the model's output (PII): instructor logs
# every failed attempt with the validation error, which includes the model's answer.
_LIBRARY_LOG_LEVELS = {
    "instructor": logging.CRITICAL,
    "LiteLLM": logging.WARNING,
    "LiteLLM Router": logging.WARNING,
    "LiteLLM Proxy": logging.WARNING,
}


def configure_logging(level: str) -> None:
    """Apply `LOG_LEVEL` to our logger only; library loggers stay quiet even at DEBUG."""
    logger.setLevel(level)
    for name, library_level in _LIBRARY_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)


def bind_request_id(request_id: str) -> None:
    """Add `request_id` to every line logged while this request is handled."""
    logger.thread_safe_append_keys(request_id=request_id)


def unbind_request_id() -> None:
    logger.thread_safe_remove_keys(["request_id"])
