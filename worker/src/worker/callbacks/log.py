"""The delivery function's JSON logger: job_id, webhook_id, attempt and status code; never the
callback URL (it may carry a token), the body or the signing secret."""

from __future__ import annotations

from gen_ai_contracts import logs

SERVICE_NAME = "gen-ai-on-aws-callbacks"

logger = logs.create_logger(SERVICE_NAME)
