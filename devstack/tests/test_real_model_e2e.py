"""The embedded SmolLM2 model through the whole pipeline: proves the local default really works.

One devstack (with its embedded model) serves every test of the module.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from devstack.e2e_support import DevstackProcess, StackPorts, submit, submit_job, wait_for_jobs
from devstack.embedded_llm import MODEL_ALIAS

pytestmark = [pytest.mark.e2e, pytest.mark.real_llm]


@pytest.fixture(scope="module")
def api_url(start_module_devstack: Callable[..., DevstackProcess]) -> str:
    ports = StackPorts()
    start_module_devstack(ports.args())
    return ports.api_url


def test_embedded_model_extracts_jason_aged_25(api_url: str, http: httpx.Client) -> None:
    # SmolLM2-135M invents an email (jason@example.com) for this text whatever the prompt says;
    # grounding drops it, so the result holds only what the text says.
    job_id = submit(http, api_url, "Jason is 25 years old")

    job = wait_for_jobs(http, api_url, [job_id], timeout=60)[job_id]
    assert job["status"] == "succeeded", job
    assert isinstance(job["result"], dict)
    assert job["result"]["name"] == "Jason"
    assert job["result"]["age"] == 25
    assert job["result"]["email"] is None


def test_embedded_model_completes_a_prompt_with_generated_text(
    api_url: str, http: httpx.Client
) -> None:
    # GIVEN a free-form prompt, as `uv run devstack` prints it
    prompt = {"prompt": "Write one sentence about the sea.", "max_tokens": 48}

    job_id = submit_job(http, api_url, "complete", prompt)

    # THEN the model wrote something of its own (not an echo), within the token budget
    job = wait_for_jobs(http, api_url, [job_id], timeout=60)[job_id]
    assert job["status"] == "succeeded", job
    assert isinstance(job["result"], dict)
    text = job["result"]["text"]
    assert text.strip()
    assert text.strip() != prompt["prompt"]
    assert job["result"]["finish_reason"] in ("stop", "length")
    assert job["model"] == f"openai/{MODEL_ALIAS}"
    usage = job["usage"]
    assert isinstance(usage, dict)
    assert 0 < usage["completion_tokens"] <= 48
    assert usage["prompt_tokens"] > 0


def test_a_burst_completes_on_the_embedded_model_without_a_failure(
    api_url: str, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    # GIVEN a burst far beyond the embedded server's 2 parallel slots (200 with E2E_FULL_SIZE=1
    # or --soak, the size a new user tried; scaled for CI)
    full = os.environ.get("E2E_FULL_SIZE") == "1" or request.config.getoption("--soak")
    burst = 200 if full else 16
    job_ids = [submit(http, api_url, "Jason is 25 years old") for _ in range(burst)]

    # THEN every job succeeds, just later: the worker keeps at most 2 calls in flight
    # (LLM_CONCURRENCY_LIMIT), so none queues inside the server until it times out
    jobs = wait_for_jobs(http, api_url, job_ids, timeout=120 + 6 * burst)
    statuses = Counter(str(job["status"]) for job in jobs.values())
    assert statuses == {"succeeded": burst}, [job.get("error") for job in jobs.values()][:5]
