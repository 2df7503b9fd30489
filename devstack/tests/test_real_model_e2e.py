"""The embedded SmolLM2 model through the whole pipeline: proves the local default really works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.e2e_support import StackPorts, submit, wait_for_jobs

pytestmark = [pytest.mark.e2e, pytest.mark.real_llm]


def test_embedded_model_extracts_jason_aged_25(
    start_devstack: Callable[..., Any], http: httpx.Client
) -> None:
    ports = StackPorts()
    start_devstack(ports.args())

    # SmolLM2-135M invents an email (jason@example.com) for this text whatever the prompt says;
    # grounding drops it, so the result holds only what the text says.
    job_id = submit(http, ports.api_url, "Jason is 25 years old")

    job = wait_for_jobs(http, ports.api_url, [job_id], timeout=60)[job_id]
    assert job["status"] == "succeeded", job
    assert isinstance(job["result"], dict)
    assert job["result"]["name"] == "Jason"
    assert job["result"]["age"] == 25
    assert job["result"]["email"] is None
