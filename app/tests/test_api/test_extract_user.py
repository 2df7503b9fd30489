"""POST /extract-user: synchronous extraction through the HTTP layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from devstack.fake_llm import FakeLLMServer

JASON = "Jason is 25 years old, write to jason@example.com"


def test_returns_the_extracted_user(client: TestClient) -> None:
    response = client.post("/extract-user", json={"text": JASON})

    assert response.status_code == 200
    assert response.json() == {"name": "Jason", "age": 25, "email": "jason@example.com"}


def test_text_without_a_person_returns_422_extraction_failed(client: TestClient) -> None:
    response = client.post("/extract-user", json={"text": "The weather is nice today."})

    assert response.status_code == 422
    assert response.json()["code"] == "extraction_failed"


def test_provider_rate_limit_returns_429_with_retry_after(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.config.retry_after_seconds = 0

    response = client.post("/extract-user", json={"text": f"!429 {JASON}"})

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "0"


def test_provider_server_error_returns_503_llm_unavailable(client: TestClient) -> None:
    response = client.post("/extract-user", json={"text": f"!500 {JASON}"})

    assert response.status_code == 503
    assert response.json()["code"] == "llm_unavailable"
    assert "Retry-After" not in response.headers


def test_provider_timeout_returns_503_llm_unavailable(
    client: TestClient, fake_llm: FakeLLMServer, reconfigure: Callable[..., None]
) -> None:
    fake_llm.llm.config.timeout_sleep_seconds = 1.0
    reconfigure(LLM_TIMEOUT_SECONDS="0.2")

    response = client.post("/extract-user", json={"text": f"!timeout {JASON}"})

    assert response.status_code == 503
    assert response.json()["code"] == "llm_unavailable"


def test_provider_refusal_returns_502_without_leaking_the_key(
    client: TestClient, rejecting_llm_url: str, reconfigure: Callable[..., None]
) -> None:
    # GIVEN a provider that refuses the key and quotes it back in its error message
    reconfigure(LLM_API_BASE=rejecting_llm_url)

    # WHEN a client extracts
    response = client.post("/extract-user", json={"text": JASON})

    # THEN it gets 502 llm_rejected and never the provider's message or our key
    assert response.status_code == 502
    assert response.json()["code"] == "llm_rejected"
    assert "sk-test" not in response.text
    assert "Incorrect API key" not in response.text


def test_tools_mode_works_through_the_api(
    client: TestClient, fake_llm: FakeLLMServer, reconfigure: Callable[..., None]
) -> None:
    reconfigure(LLM_MODE="TOOLS")

    response = client.post("/extract-user", json={"text": JASON})

    assert response.status_code == 200
    assert response.json()["name"] == "Jason"
    assert "tools" in fake_llm.llm.stats.requests[-1]


def test_invalid_body_is_rejected_before_any_llm_call(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    response = client.post("/extract-user", json={"text": "   "})

    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "text"
    assert fake_llm.llm.stats.calls.total() == 0


def test_an_invented_person_is_re_asked_and_never_returned(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    # GIVEN a model that first answers with a person the text does not mention
    text = "Jason is 25 years old !hallucinatex1"

    response = client.post("/extract-user", json={"text": text})

    # THEN the re-ask's grounded answer is returned
    assert response.status_code == 200
    assert response.json() == {"name": "Jason", "age": 25, "email": None}
    assert fake_llm.llm.stats.calls[text] == 2


def test_an_invented_email_is_dropped_without_a_re_ask(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    text = "Jason is 25 years old !inventemail"

    response = client.post("/extract-user", json={"text": text})

    assert response.status_code == 200
    assert response.json() == {"name": "Jason", "age": 25, "email": None}
    assert fake_llm.llm.stats.calls[text] == 1


def test_a_model_that_keeps_inventing_gets_422_without_the_invention_anywhere(
    client: TestClient, fake_llm: FakeLLMServer, captured_logs: Any
) -> None:
    text = "Quillon is 47 years old !hallucinate"

    response = client.post("/extract-user", json={"text": text})

    assert response.status_code == 422
    assert response.json()["code"] == "extraction_failed"
    assert fake_llm.llm.stats.calls[text] == 2  # LLM_MAX_RETRIES=1
    [line] = captured_logs.with_message("dependency failed")
    assert line["code"] == "extraction_failed"
    for leaked in ("Quillon", "Maria", "maria@example.com"):
        assert leaked not in response.text
        assert leaked not in captured_logs.text
