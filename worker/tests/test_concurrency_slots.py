"""A fleet-wide cap on calls in flight per model: leased slots in the LLM state table (moto)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from devstack.resources import StackResources
from devstack.testing import ManualClock
from worker.config import ModelRate, Settings
from worker.errors import ErrorCode, RetryableJobError
from worker.services.concurrency import ConcurrencySlots
from worker.services.model_gate import SLOT_RETRY_SECONDS, ModelGate

MODEL = "openai/smollm2"
KEYS: dict[str, Any] = {}


@pytest.fixture
def dynamodb(aws: StackResources) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def test_at_most_limit_slots_are_held_and_a_freed_one_is_taken_again(
    aws: StackResources, dynamodb: Any
) -> None:
    slots = ConcurrencySlots(dynamodb, aws.state_table_name)
    held = [slots.take(MODEL, 2, lease_seconds=30) for _ in range(2)]
    assert all(held)
    assert len({slot.key for slot in held if slot}) == 2
    assert slots.take(MODEL, 2, lease_seconds=30) is None
    assert held[0] is not None
    slots.give_back(held[0])
    again = slots.take(MODEL, 2, lease_seconds=30)
    assert again is not None
    assert again.key == held[0].key


def test_a_lost_release_frees_its_slot_when_the_lease_ends(
    aws: StackResources, dynamodb: Any
) -> None:
    clock = ManualClock()
    slots = ConcurrencySlots(dynamodb, aws.state_table_name, clock=clock)
    crashed = slots.take(MODEL, 1, lease_seconds=30)
    assert slots.take(MODEL, 1, lease_seconds=30) is None
    clock.now += 31
    taker = slots.take(MODEL, 1, lease_seconds=30)
    assert taker is not None
    # AND the crashed caller coming back cannot free the slot it lost
    assert crashed is not None
    slots.give_back(crashed)
    assert slots.take(MODEL, 1, lease_seconds=30) is None


def _gate(aws: StackResources, dynamodb: Any, **limits: Any) -> ModelGate:
    settings = Settings(
        queue_url=aws.queue_url,
        jobs_table_name=aws.table_name,
        llm_state_table_name=aws.state_table_name,
        llm_model=MODEL,
        **limits,
    )
    return ModelGate.from_settings(settings, dynamodb)


@pytest.mark.parametrize(
    "limits",
    [{"llm_concurrency_limit": 1}, {"llm_rate_limits": {MODEL: ModelRate(concurrency=1)}}],
    ids=["for-every-model", "per-model"],
)
def test_the_gate_admits_one_call_in_flight_and_the_next_after_it_ends(
    aws: StackResources, dynamodb: Any, limits: dict[str, Any]
) -> None:
    gate = _gate(aws, dynamodb, **limits)
    first = gate.admit(MODEL, estimated_tokens=10, priority="high", keys=KEYS)
    assert first.allowed
    second = gate.admit(MODEL, estimated_tokens=10, priority="high", keys=KEYS)
    assert (second.allowed, second.reason) == (False, ErrorCode.PROVIDER_RATE_LIMITED)
    assert second.wait_seconds == SLOT_RETRY_SECONDS
    # WHEN the first call fails (or succeeds), its slot is given back
    gate.failed(MODEL, first, RetryableJobError(ErrorCode.PROVIDER_TIMEOUT, "slow"), keys=KEYS)
    third = gate.admit(MODEL, estimated_tokens=10, priority="high", keys=KEYS)
    assert third.allowed
    gate.succeeded(MODEL, third, used_tokens=12, keys=KEYS)
    assert gate.admit(MODEL, estimated_tokens=10, priority="high", keys=KEYS).allowed


def test_a_model_without_a_concurrency_limit_takes_no_slot(
    aws: StackResources, dynamodb: Any
) -> None:
    gate = _gate(aws, dynamodb, llm_rate_limits={"openai/other": ModelRate(concurrency=1)})
    admissions = [
        gate.admit(MODEL, estimated_tokens=1, priority="low", keys=KEYS) for _ in range(5)
    ]
    assert all(a.allowed and a.slot is None for a in admissions)
