"""Structured JSON loggers (Powertools) and the rules that keep PII out of the logs.

Never log the submitted text, a prompt, a result or a secret: job lines carry ids only.
"""

import logging

from aws_lambda_powertools import Logger

# Library loggers whose lines can quote the prompt or the model's output (PII): instructor logs
# every failed attempt with the validation error, which includes the model's answer.
_LIBRARY_LOG_LEVELS = {
    "instructor": logging.CRITICAL,
    "LiteLLM": logging.WARNING,
    "LiteLLM Router": logging.WARNING,
    "LiteLLM Proxy": logging.WARNING,
}


def create_logger(service: str) -> Logger:
    """A JSON logger with RFC 3339 UTC timestamps, named after the Lambda it runs in."""
    return Logger(service=service, use_rfc3339=True, utc=True)


def configure_logging(logger: Logger, level: str) -> None:
    """Apply `LOG_LEVEL` to our logger only; library loggers stay quiet even at DEBUG."""
    logger.setLevel(level)
    for name, library_level in _LIBRARY_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)
