"""The job's LLM behind the fleet-wide gate: the real LlmClient against the fake provider, the
real gate against moto's DynamoDB. Gated or throttled models hand over to the fallbacks, short
waits are slept, longer ones defer the job, and only real failures are raised as such."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from devstack.fake_llm import FakeLLMConfig, FakeLLMServer
from devstack.resources import StackResources
from gen_ai_contracts.llm import LlmClient
from gen_ai_contracts.ratelimit import RateLimiter
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest, User, build_messages
from worker.config import Settings
from worker.errors import DeferJobError, ErrorCode, RetryableJobError
from worker.services.breaker import Verdict
from worker.services.llm import JobLlm
from worker.services.loop import shared_loop
from worker.services.metrics import JobMetrics
from worker.services.model_gate import ModelGate
from worker.services.tracing import JobTrace

REGION = "us-east-1"
PRIMARY, BACKUP = "openai/fake-primary", "openai/fake-backup"


def settings(aws: StackResources, fake_llm: FakeLLMServer, **values: Any) -> Settings:
    return Settings(
        queue_url=aws.queue_url,
        jobs_table_name=aws.table_name,
        llm_state_table_name=aws.state_table_name,
        llm_model=PRIMARY,
        llm_api_base=fake_llm.base_url,
        llm_api_key="sk-test",
        llm_circuit_failures=2,
        **values,
    )


def gate(config: Settings) -> ModelGate:
    return ModelGate.from_settings(config, boto3.client("dynamodb", region_name=REGION))


def job_llm(
    config: Settings,
    the_gate: ModelGate,
    *,
    models: tuple[str, ...] = (PRIMARY,),
    max_wait: float = 0.0,
    priority: Any = "normal",
) -> JobLlm:
    return JobLlm(
        client=LlmClient(config),
        models=models,
        deadline=time.monotonic() + 20,
        timeout_seconds=5,
        trace=JobTrace(None),
        metrics=JobMetrics("Test"),
        gate=the_gate,
        priority=priority,
        max_wait_seconds=max_wait,
    )


def ask(llm: JobLlm, text: str = "Jason is 25 years old") -> User:
    messages = build_messages(ExtractUserRequest(text=text))
    return shared_loop.run(
        llm.structured(messages=messages, response_model=User, max_tokens=64), timeout=30
    )


def fail_calls(the_gate: ModelGate, config: Settings, model: str, n: int) -> None:
    """``n`` jobs whose calls to ``model`` the provider answers with 503."""
    for _ in range(n):
        with pytest.raises(RetryableJobError) as raised:
            ask(job_llm(config, the_gate, models=(model,)))
        assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE
        assert raised.value.counts_as_attempt


def test_an_outage_opens_the_circuit_and_then_no_call_reaches_the_provider(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 503}))
    config = settings(aws, fake_llm)
    the_gate = gate(config)
    fail_calls(the_gate, config, PRIMARY, 2)
    with pytest.raises(DeferJobError) as deferred:
        ask(job_llm(config, gate(config)))  # another process, seeing the shared state
    assert deferred.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert not deferred.value.counts_as_attempt
    assert deferred.value.retry_after == pytest.approx(30, abs=1)
    assert fake_llm.llm.stats.models["fake-primary"] == 2


def test_an_open_circuit_hands_over_to_the_fallback_model(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 503}))
    config = settings(aws, fake_llm, llm_fallback_models=BACKUP)
    the_gate = gate(config)
    fail_calls(the_gate, config, PRIMARY, 2)
    llm = job_llm(config, the_gate, models=(PRIMARY, BACKUP))
    assert ask(llm).name == "Jason"
    assert llm.spend.answered_by == BACKUP
    assert fake_llm.llm.stats.models == {"fake-primary": 2, "fake-backup": 1}


def test_a_probe_that_succeeds_closes_the_circuit(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 503}))
    config = settings(aws, fake_llm, llm_circuit_cooldown_seconds=0.2)
    the_gate = gate(config)
    fail_calls(the_gate, config, PRIMARY, 2)
    fake_llm.llm.reset()  # the provider recovers
    time.sleep(0.3)
    assert ask(job_llm(config, the_gate)).name == "Jason"
    breaker = the_gate._breaker
    assert breaker is not None
    assert breaker.check(PRIMARY).verdict is Verdict.CALL
    assert not breaker.state(PRIMARY, fresh=True).is_open


def test_a_429_pauses_the_model_for_the_fleet_and_defers_without_spending(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(retry_after_seconds=5))
    config = settings(aws, fake_llm)
    with pytest.raises(DeferJobError) as deferred:
        ask(job_llm(config, gate(config)), "Jason is 25 years old !429")
    assert deferred.value.code is ErrorCode.PROVIDER_RATE_LIMITED
    assert deferred.value.retry_after == pytest.approx(5)
    # Another process now waits without calling: the pause is shared.
    with pytest.raises(DeferJobError) as waiting:
        ask(job_llm(config, gate(config)), "Ann is 30 years old")
    assert waiting.value.retry_after == pytest.approx(5, abs=0.5)
    assert sum(fake_llm.llm.stats.calls.values()) == 1


def test_a_short_wait_is_slept_in_process_and_the_call_made(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(retry_after_seconds=1))
    config = settings(aws, fake_llm)
    started = time.monotonic()
    user = ask(job_llm(config, gate(config), max_wait=2.0), "Jason is 25 years old !429x1")
    assert user.name == "Jason"
    assert time.monotonic() - started >= 1.0
    assert fake_llm.llm.stats.outcomes == {"429": 1, "ok": 1}


def test_the_rpm_quota_is_shared_and_lower_priorities_leave_headroom(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    # 60 rpm with a 10 s burst: 10 at once for high, 8 for normal, 5 for low. Time stands
    # still for the limiter, so no slot frees up while the calls are made.
    config = settings(aws, fake_llm, llm_rpm_limit=60)
    frozen = time.time()

    def process() -> ModelGate:
        client = boto3.client("dynamodb", region_name=REGION)
        limiter = RateLimiter(client, aws.state_table_name, clock=lambda: frozen)
        return ModelGate(config, limiter=limiter, breaker=None)

    processes = [process() for _ in range(3)]

    def outcomes(priority: str) -> list[DeferJobError | None]:
        answers: list[DeferJobError | None] = []
        for index in range(10):
            try:
                ask(job_llm(config, processes[index % 3], priority=priority))
                answers.append(None)
            except DeferJobError as deferred:
                answers.append(deferred)
        return answers

    low, high = outcomes("low"), outcomes("high")
    assert (low.count(None), high.count(None)) == (5, 5)
    waits = [d for d in low + high if d is not None]
    assert {d.code for d in waits} == {ErrorCode.PROVIDER_RATE_LIMITED}
    assert all(0 < (d.retry_after or 0) <= 2 for d in waits)
    assert sum(fake_llm.llm.stats.calls.values()) == 10


def test_tokens_are_estimated_before_the_call_and_corrected_after(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    config = settings(aws, fake_llm, llm_tpm_limit=60_000)  # 1 token a millisecond
    the_gate = gate(config)
    llm = job_llm(config, the_gate)
    before = time.time() * 1000
    ask(llm)
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=aws.state_table_name,
        Key={"pk": {"S": f"rate#{PRIMARY}#tpm"}},
        ConsistentRead=True,
    )["Item"]
    used = llm.spend.usage.prompt_tokens + llm.spend.usage.completion_tokens
    # The schedule moved by what the call used, not by the estimate (prompt + the 64 cap).
    assert float(item["tat"]["N"]) - before == pytest.approx(used, abs=300)


def test_without_a_state_table_every_call_is_admitted(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 503}))
    config = settings(aws, fake_llm).model_copy(update={"llm_state_table_name": None})
    the_gate = gate(config)
    fail_calls(the_gate, config, PRIMARY, 4)
    assert fake_llm.llm.stats.models["fake-primary"] == 4


def test_an_unreachable_state_table_lets_calls_through(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    config = settings(aws, fake_llm, llm_rpm_limit=60).model_copy(
        update={"llm_state_table_name": "no-such-table"}
    )
    assert ask(job_llm(config, gate(config))).name == "Jason"


def test_a_failed_probe_defers_the_job_instead_of_spending_its_attempt(
    aws: StackResources, fake_llm: FakeLLMServer
) -> None:
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 503}))
    config = settings(aws, fake_llm, llm_circuit_cooldown_seconds=0.2)
    the_gate = gate(config)
    fail_calls(the_gate, config, PRIMARY, 2)
    time.sleep(0.3)  # half-open: the next caller probes, and the provider is still down
    with pytest.raises(DeferJobError) as deferred:
        ask(job_llm(config, the_gate))
    assert deferred.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert not deferred.value.counts_as_attempt
    assert fake_llm.llm.stats.models["fake-primary"] == 3  # the two failures and the probe
    breaker = the_gate._breaker
    assert breaker is not None
    assert breaker.state(PRIMARY, fresh=True).cooldown == pytest.approx(0.4)  # re-opened, doubled
