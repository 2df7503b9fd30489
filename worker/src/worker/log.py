"""The worker's JSON logger. Job lines carry job_id, request_id and message_id; never the
submitted text, a prompt, the result or a secret (rules: gen_ai_contracts.logs)."""

from __future__ import annotations

from gen_ai_contracts import logs

SERVICE_NAME = "gen-ai-on-aws-worker"

logger = logs.create_logger(SERVICE_NAME)


def configure_logging(level: str) -> None:
    """Apply LOG_LEVEL to our logger only; library loggers stay quiet even at DEBUG."""
    logs.configure_logging(logger, level)
