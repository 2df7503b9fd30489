"""The API's lean log formatter writes exactly the lines Powertools' own formatter writes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from gen_ai_on_aws.logs import LeanJsonFormatter, bind_request_id, unbind_request_id

OPTIONS: dict[str, Any] = {"use_rfc3339": True, "utc": True}


def record(message: Any, *args: Any, exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    made = logging.getLogger("lean-formatter-test").makeRecord(
        "lean-formatter-test", logging.INFO, __file__, 42, message, args, exc_info, "caller", extra
    )
    return made


def failure() -> Any:
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


RECORDS = {
    "plain with extras": lambda: record("job queued", job_id="j-1", model=None, callback=False),
    "json object message": lambda: record('{"a": 1, "b": [1, 2]}'),
    "json scalar messages": lambda: record("123"),
    "nan message": lambda: record("NaN"),
    "padded json": lambda: record('  {"a": 1}'),
    "not json though it starts like it": lambda: record("true story"),
    "text with a brace inside": lambda: record("took {x} ms"),
    "dict message": lambda: record({"event": "x", "n": 1}),
    "printf arguments": lambda: record("%s jobs in %d ms", "3", 12),
    "exception": lambda: record("failed", exc_info=failure(), code="x"),
    "nested extras": lambda: record("nested", details={"a": [1, None]}, count=0, empty=""),
}


@pytest.fixture
def formatters() -> Iterator[tuple[logging.Formatter, logging.Formatter]]:
    stock = LambdaPowertoolsFormatter(**OPTIONS)
    lean = LeanJsonFormatter(**OPTIONS)
    for formatter in (stock, lean):
        formatter.append_keys(service="gen-ai-on-aws-api", sampling_rate=None, cold_start=True)
    bind_request_id("req-1")
    yield stock, lean
    unbind_request_id()


@pytest.mark.parametrize("name", RECORDS)
def test_lean_lines_equal_powertools_lines(
    formatters: tuple[logging.Formatter, logging.Formatter], name: str
) -> None:
    stock, lean = formatters
    made = RECORDS[name]()

    assert lean.format(made) == stock.format(made)


def test_a_non_string_value_for_a_reserved_key_is_refused_as_powertools_does() -> None:
    lean = LeanJsonFormatter(**OPTIONS)
    lean.append_keys(location=1)

    with pytest.raises(ValueError, match="reserved log attributes"):
        lean.format(record("x"))
