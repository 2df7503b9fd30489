"""The API's structured JSON logger and its request-scoped keys (rules: `gen_ai_contracts.logs`).

Request-scoped keys (`request_id`) live in a context variable, so concurrent requests under
uvicorn never see each other's keys. Never log the submitted input or any secret; a name the
client chose (task, model) is logged escaped and truncated, if at all (`quoted`).
"""

import json
import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import (
    RESERVED_LOG_ATTRS,
    LambdaPowertoolsFormatter,
)

SERVICE_NAME = "gen-ai-on-aws-api"

_QUOTED_CHARS = 64
_RESERVED = frozenset(RESERVED_LOG_ATTRS)
# What a JSON text can start with (Python's json also reads NaN and Infinity).
_JSON_STARTS = frozenset('{["-0123456789tfnNI')


class LeanJsonFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines for less CPU per line (a submission logs two): a record's own
    attributes are told apart by a set lookup instead of a scan of a 24-name tuple, and a
    message is parsed as JSON only when it could be JSON. The same lines, key for key: a test
    compares it with Powertools' own formatter."""

    def __init__(self, **options: Any) -> None:
        super().__init__(json_deserializer=_json_message, **options)

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        """`LambdaPowertoolsFormatter._extract_log_keys` with set lookups."""
        record_dict = log_record.__dict__.copy()
        record_dict["asctime"] = self.formatTime(record=log_record)
        formatted_log: dict[str, Any] = {}
        for keys in (self.log_format, self.thread_safe_get_current_keys()):
            for key, value in keys.items():
                if value and key in _RESERVED:
                    if not isinstance(value, str):
                        raise ValueError(
                            "Logging keys that override reserved log attributes need to be type"
                            f" 'str', instead got '{type(value).__name__}'"
                        )
                    formatted_log[key] = value % record_dict
                else:
                    formatted_log[key] = value
        formatted_log.update(
            (key, value) for key, value in record_dict.items() if key not in _RESERVED
        )
        return formatted_log


def _json_message(message: Any) -> Any:
    """A message that could be JSON, decoded; any other as it is, which is where Powertools
    ends after `json.loads` fails on it (an exception per line)."""
    if isinstance(message, str) and message.lstrip()[:1] not in _JSON_STARTS:
        return message
    return json.loads(message)


def create_api_logger(service: str = SERVICE_NAME) -> Logger:
    """`gen_ai_contracts.logs.create_logger`'s logger (RFC 3339 UTC timestamps), formatted by
    `LeanJsonFormatter`."""
    return Logger(
        service=service,
        use_rfc3339=True,
        utc=True,
        logger_formatter=LeanJsonFormatter(use_rfc3339=True, utc=True),
    )


logger = create_api_logger()


def bind_request_id(request_id: str) -> None:
    """Add `request_id` to every line logged while this request is handled."""
    logger.thread_safe_append_keys(request_id=request_id)


def bind_tenant(tenant: str) -> None:
    """Add the authenticated caller's `tenant` (a name, never a key) to this request's lines."""
    logger.thread_safe_append_keys(tenant=tenant)


def unbind_request_id() -> None:
    """Forget the request's keys (`request_id`, `tenant`) once it is answered."""
    logger.thread_safe_remove_keys(["request_id", "tenant"])


def quoted(value: str) -> str:
    """A client-chosen name as a log value: escaped by `repr`, at most 64 characters of it."""
    return repr(value[:_QUOTED_CHARS]) + ("..." if len(value) > _QUOTED_CHARS else "")
