"""Logs are structured JSON with request and job ids, and never contain the submitted text."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

# Distinctive text, so any appearance in any output is a leak.
PERSON = "Quillon Farthingale is 47 years old, quillon@example.com"
NOBODY = "Zyxwv qrstu lmnop, nothing personal here"


def test_submitted_text_is_never_logged(
    client: TestClient,
    captured_logs: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN every library logger recorded at INFO, and the process's stdout/stderr captured
    caplog.set_level(logging.INFO)

    # WHEN texts go through every path: queued, extracted, failed, invalid
    client.post("/extract-user-async", json={"text": PERSON})
    client.post("/extract-user", json={"text": PERSON})
    client.post("/extract-user", json={"text": NOBODY})
    client.post("/extract-user", json={"text": f"!badjson {PERSON}"})
    client.post("/extract-user", json={"text": PERSON, "unexpected": PERSON})
    client.post("/jobs", json={"task": "complete", "input": {"prompt": PERSON, "system": NOBODY}})
    client.post("/jobs", json={"task": "complete", "input": {"prompt": PERSON, "max_tokens": 0}})
    client.post("/jobs", json={"task": "extract_user", "input": {"text": f"{PERSON}\x00"}})
    output = capfd.readouterr()

    # THEN no log line or output contains any part of them
    assert captured_logs.lines, "the app logged nothing: the capture is broken"
    for fragment in ("Quillon", "Farthingale", "quillon@example.com", "Zyxwv"):
        assert fragment not in captured_logs.text
        assert fragment not in caplog.text
        assert fragment not in output.out + output.err


def test_job_lines_carry_job_id_and_request_id(client: TestClient, captured_logs: Any) -> None:
    response = client.post("/extract-user-async", json={"text": PERSON})

    [line] = captured_logs.with_message("job queued")
    assert line["job_id"] == response.json()["job_id"]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["service"] == "gen-ai-on-aws-api"
    assert line["level"] == "INFO"


def test_dependency_failures_are_logged_with_their_code(
    client: TestClient, captured_logs: Any
) -> None:
    client.post("/extract-user", json={"text": NOBODY})

    [line] = captured_logs.with_message("dependency failed")
    assert line["code"] == "extraction_failed"
    assert line["level"] == "WARNING"
