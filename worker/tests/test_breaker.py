"""The fleet-wide circuit breaker and provider pause, against moto's DynamoDB."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from devstack.resources import StackResources
from devstack.testing import ManualClock
from worker.services.breaker import BreakerPolicy, CircuitBreaker, Verdict

REGION = "us-east-1"
MODEL = "openai/fake-model"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def breaker(
    aws: StackResources, clock: ManualClock, *, cache_seconds: float = 0.0, **policy: float
) -> CircuitBreaker:
    """One process's breaker (own client, own cache); no cache unless asked for."""
    client = boto3.client("dynamodb", region_name=REGION)
    settings = BreakerPolicy(**{"failures": 3, "cooldown_seconds": 30, **policy})  # type: ignore[arg-type]
    return CircuitBreaker(
        client, aws.state_table_name, settings, clock=clock, cache_seconds=cache_seconds
    )


def open_it(cb: CircuitBreaker) -> None:
    opened = [cb.failed(MODEL, probe=False) for _ in range(cb.policy.failures)]
    assert opened == [False] * (cb.policy.failures - 1) + [True]


def test_a_healthy_model_is_called(aws: StackResources, clock: ManualClock) -> None:
    assert breaker(aws, clock).check(MODEL).verdict is Verdict.CALL


def test_the_threshold_of_failures_opens_it_for_the_cooldown(
    aws: StackResources, clock: ManualClock
) -> None:
    cb = breaker(aws, clock)
    open_it(cb)
    permit = cb.check(MODEL)
    assert permit.verdict is Verdict.OPEN
    assert permit.wait_seconds == pytest.approx(30)
    assert breaker(aws, clock).check("openai/other").verdict is Verdict.CALL


def test_failures_spread_beyond_the_window_do_not_open_it(
    aws: StackResources, clock: ManualClock
) -> None:
    cb = breaker(aws, clock)
    for _ in range(6):
        assert not cb.failed(MODEL, probe=False)
        clock.now += 31  # two failures per 60 s window at most
    assert cb.check(MODEL).verdict is Verdict.CALL


def test_a_success_resets_the_count(aws: StackResources, clock: ManualClock) -> None:
    cb = breaker(aws, clock)
    cb.failed(MODEL, probe=False)
    cb.failed(MODEL, probe=False)
    cb.succeeded(MODEL, probe=False)
    assert not cb.failed(MODEL, probe=False)
    assert not cb.failed(MODEL, probe=False)
    assert cb.failed(MODEL, probe=False)


def test_after_the_cooldown_one_caller_probes_and_the_others_wait(
    aws: StackResources, clock: ManualClock
) -> None:
    first, second = breaker(aws, clock), breaker(aws, clock)
    open_it(first)
    clock.now += 30
    assert first.check(MODEL).verdict is Verdict.PROBE
    waiting = second.check(MODEL)
    assert waiting.verdict is Verdict.OPEN
    assert waiting.wait_seconds > 0


def test_a_successful_probe_closes_it_for_everyone(aws: StackResources, clock: ManualClock) -> None:
    first, second = breaker(aws, clock), breaker(aws, clock)
    open_it(first)
    clock.now += 30
    assert first.check(MODEL).verdict is Verdict.PROBE
    first.succeeded(MODEL, probe=True)
    assert second.check(MODEL).verdict is Verdict.CALL
    state = second.state(MODEL, fresh=True)
    assert (state.failures, state.open_until, state.probe_until) == (0, 0, 0)


def test_failed_probes_double_the_cooldown_up_to_the_maximum(
    aws: StackResources, clock: ManualClock
) -> None:
    cb = breaker(aws, clock, max_cooldown_seconds=100)
    open_it(cb)
    cooldowns = []
    for _ in range(4):
        clock.now += cb.check(MODEL).wait_seconds
        assert cb.check(MODEL).verdict is Verdict.PROBE
        assert cb.failed(MODEL, probe=True)
        cooldowns.append(round(cb.check(MODEL).wait_seconds))
    assert cooldowns == [60, 100, 100, 100]


def test_an_abandoned_probe_lets_another_caller_probe_after_its_lease(
    aws: StackResources, clock: ManualClock
) -> None:
    first, second = breaker(aws, clock, probe_seconds=10), breaker(aws, clock, probe_seconds=10)
    open_it(first)
    clock.now += 30
    assert first.check(MODEL).verdict is Verdict.PROBE  # and then its Lambda died
    assert second.check(MODEL).verdict is Verdict.OPEN
    clock.now += 10.5
    assert second.check(MODEL).verdict is Verdict.PROBE


def test_a_pause_stops_every_process_until_it_ends(aws: StackResources, clock: ManualClock) -> None:
    first, second = breaker(aws, clock), breaker(aws, clock)
    first.pause(MODEL, 2.0)
    permit = second.check(MODEL)
    assert permit.verdict is Verdict.PAUSED
    assert permit.wait_seconds == pytest.approx(2.0)
    first.pause(MODEL, 1.0)  # a shorter pause never shortens a longer one
    assert second.check(MODEL).wait_seconds == pytest.approx(2.0)
    clock.now += 2.0
    assert second.check(MODEL).verdict is Verdict.CALL


def test_a_cached_state_costs_no_read(aws: StackResources, clock: ManualClock) -> None:
    cb = breaker(aws, clock, cache_seconds=60)
    cb.check(MODEL)
    other = breaker(aws, clock)
    open_it(other)
    assert cb.check(MODEL).verdict is Verdict.CALL  # within its cache it has not seen it yet
    assert cb.state(MODEL, fresh=True).is_open


def test_racing_failures_open_the_circuit_exactly_once(
    aws: StackResources, clock: ManualClock
) -> None:
    """Twenty concurrent failures from four processes: one of them opened it."""
    processes = [breaker(aws, clock, failures=5) for _ in range(4)]
    start = threading.Barrier(20)

    def fail(index: int) -> bool:
        start.wait()
        return processes[index % 4].failed(MODEL, probe=False)

    with ThreadPoolExecutor(max_workers=20) as pool:
        opened = list(pool.map(fail, range(20)))
    assert opened.count(True) == 1
    assert processes[0].check(MODEL).verdict is Verdict.OPEN


def test_racing_callers_after_the_cooldown_elect_one_probe(
    aws: StackResources, clock: ManualClock
) -> None:
    processes = [breaker(aws, clock) for _ in range(4)]
    open_it(processes[0])
    clock.now += 30
    start = threading.Barrier(16)

    def check(index: int) -> Verdict:
        start.wait()
        return processes[index % 4].check(MODEL).verdict

    with ThreadPoolExecutor(max_workers=16) as pool:
        verdicts = list(pool.map(check, range(16)))
    assert verdicts.count(Verdict.PROBE) == 1
    assert verdicts.count(Verdict.OPEN) == 15


def test_racing_failures_on_a_fresh_model_are_all_counted(
    aws: StackResources, clock: ManualClock
) -> None:
    """No window exists yet: every racer's ADD fails, one SET wins, the losers add again."""
    processes = [breaker(aws, clock, failures=100) for _ in range(4)]
    start = threading.Barrier(20)

    def fail(index: int) -> bool:
        start.wait()
        return processes[index % 4].failed(MODEL, probe=False)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(fail, range(20)))
    assert processes[0].state(MODEL, fresh=True).failures == 20
