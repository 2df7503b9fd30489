"""The worker's Powertools logger (JSON lines) and the rules that keep PII out of the logs.

Job lines carry job_id, request_id and message_id; never the submitted text, the extracted
data or a secret.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger

SERVICE_NAME = "gen-ai-on-aws-worker"

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
    """Apply LOG_LEVEL to our logger only; library loggers stay quiet even at DEBUG."""
    logger.setLevel(level)
    for name, library_level in _LIBRARY_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)
