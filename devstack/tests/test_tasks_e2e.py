"""Every task through the devstack over real HTTP: `POST /jobs`, model choice and fallbacks.

One devstack process serves the whole module against the fake LLM of this test process, with
a fallback model and an allow-list set in its environment as an operator would set them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devstack.e2e_support import DevstackProcess, StackPorts, submit_job, wait_for_jobs
from devstack.embedded_llm import MODEL_ALIAS
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

pytestmark = pytest.mark.e2e

PRIMARY = f"openai/{MODEL_ALIAS}"  # the devstack's LLM_MODEL when no provider is configured
FALLBACK = "openai/fake-fallback"
CHOSEN = "openai/fake-chosen"


@dataclass(frozen=True)
class TaskStack:
    process: DevstackProcess
    api_url: str


@pytest.fixture(scope="module")
def stack(
    start_module_devstack: Callable[..., DevstackProcess], fake_llm_server: FakeLLMServer
) -> TaskStack:
    ports = StackPorts()
    process = start_module_devstack(
        [*ports.args(), f"--llm-api-base={fake_llm_server.base_url}", "--batching-window=0.2"],
        env={
            "LLM_FALLBACK_MODELS": FALLBACK,
            "LLM_ALLOWED_MODELS": f"{PRIMARY},{FALLBACK},{CHOSEN}",
        },
    )
    return TaskStack(process, ports.api_url)


def run_job(http: httpx.Client, stack: TaskStack, task: str, **job: Any) -> dict[str, Any]:
    job_id = submit_job(http, stack.api_url, task, job.pop("task_input"), **job)
    return dict(wait_for_jobs(http, stack.api_url, [job_id])[job_id])


def test_a_complete_job_returns_the_text_with_its_model_and_usage(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # WHEN a free-form prompt is submitted to the generic endpoint
    job = run_job(http, stack, "complete", task_input={"prompt": "Tell me about queues"})

    # THEN the fake's echo comes back, with the model that answered and the tokens it took
    assert job["status"] == "succeeded", job
    assert job["task"] == "complete"
    assert job["result"] == {"text": "echo: Tell me about queues", "finish_reason": "stop"}
    assert job["model"] == PRIMARY
    assert job["usage"]["completion_tokens"] == 5
    assert job["usage"]["prompt_tokens"] > 0
    assert job["cost_usd"] is None  # the local model has no price
    request = fake_llm.llm.stats.requests[-1]
    assert "response_format" not in request
    assert "tools" not in request


def test_a_complete_job_cut_by_max_tokens_says_length(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    task_input = {"prompt": "one two three four five", "system": "Be brief.", "max_tokens": 3}
    job = run_job(http, stack, "complete", task_input=task_input)

    assert job["status"] == "succeeded", job
    assert job["result"] == {"text": "echo: one two", "finish_reason": "length"}
    assert job["usage"]["completion_tokens"] == 3
    assert fake_llm.llm.stats.requests[-1]["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }


def test_extract_user_runs_through_the_generic_endpoint_too(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    job = run_job(http, stack, "extract_user", task_input={"text": "Ada is 36 years old"})

    assert job["status"] == "succeeded", job
    assert job["result"] == {"name": "Ada", "age": 36, "email": None}
    assert job["model"] == PRIMARY


def test_a_requested_model_answers_the_job(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    job = run_job(http, stack, "complete", task_input={"prompt": "hello"}, model=CHOSEN)

    assert job["status"] == "succeeded", job
    assert job["model"] == CHOSEN
    assert fake_llm.llm.stats.models == {"fake-chosen": 1}


def test_a_primary_failing_with_500_falls_back_to_the_next_model(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN the default model answers 500 to everything
    fake_llm.llm.reset(FakeLLMConfig(fail_models={MODEL_ALIAS: 500}))

    job = run_job(http, stack, "complete", task_input={"prompt": "fall back please"})

    # THEN the fallback answered within the same delivery, and the job says so
    assert job["status"] == "succeeded", job
    assert job["model"] == FALLBACK
    assert job["result"]["text"] == "echo: fall back please"
    assert fake_llm.llm.stats.models[MODEL_ALIAS] >= 1
    assert fake_llm.llm.stats.models["fake-fallback"] == 1


def test_a_primary_rejecting_the_request_with_400_does_not_fall_back(
    stack: TaskStack, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={MODEL_ALIAS: 400}))

    job = run_job(http, stack, "complete", task_input={"prompt": "rejected"})

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "provider_rejected"
    assert "fake-fallback" not in fake_llm.llm.stats.models


def test_tasks_are_listed_and_bad_submissions_are_refused_before_queueing(
    stack: TaskStack, http: httpx.Client
) -> None:
    tasks = http.get(f"{stack.api_url}/tasks").raise_for_status().json()["tasks"]
    assert {"complete", "extract_user"} <= {task["name"] for task in tasks}

    refusals = {
        "unknown_task": {"task": "translate", "input": {}},
        "model_not_allowed": {"task": "complete", "input": {"prompt": "x"}, "model": "openai/x"},
        "validation_error": {"task": "complete", "input": {"prompt": "   "}},
    }
    for code, body in refusals.items():
        response = http.post(f"{stack.api_url}/jobs", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code


def test_the_startup_banner_shows_a_complete_curl_and_the_models(stack: TaskStack) -> None:
    banner = stack.process.log_path.read_text(errors="replace")
    assert f"curl -s -X POST {stack.api_url}/jobs" in banner
    assert '"task": "complete"' in banner
    assert f"fallbacks: {FALLBACK}" in banner
