"""The fleet-wide GCRA limiter against moto's DynamoDB (conditional writes made atomic)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from devstack.resources import StackResources
from devstack.testing import ManualClock
from gen_ai_contracts.ratelimit import Rate, RateLimiter

REGION = "us-east-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def limiter(aws: StackResources, clock: ManualClock) -> RateLimiter:
    """One process's limiter: its own client and its own per-key hints."""
    client = boto3.client("dynamodb", region_name=REGION)
    return RateLimiter(client, aws.state_table_name, clock=clock)


def admitted(lim: RateLimiter, key: str, rate: Rate, n: int, **kwargs: float) -> int:
    return sum(lim.acquire(key, rate, **kwargs).allowed for _ in range(n))


def test_a_full_bucket_admits_the_burst_then_says_how_long_to_wait(
    aws: StackResources, clock: ManualClock
) -> None:
    rate = Rate(limit=60, period_seconds=60, burst_seconds=5)  # one per second, five at once
    lim = limiter(aws, clock)
    assert admitted(lim, "k", rate, 5) == 5
    refused = lim.acquire("k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.0, abs=0.01)
    clock.now += 1.0
    assert lim.acquire("k", rate).allowed
    assert not lim.acquire("k", rate).allowed


def test_an_idle_key_refills_to_the_burst_and_no_further(
    aws: StackResources, clock: ManualClock
) -> None:
    rate = Rate(limit=60, period_seconds=60, burst_seconds=3)
    lim = limiter(aws, clock)
    assert admitted(lim, "k", rate, 10) == 3
    clock.now += 3600
    assert admitted(lim, "k", rate, 10) == 3


def test_keys_are_independent(aws: StackResources, clock: ManualClock) -> None:
    rate = Rate(limit=60, period_seconds=60, burst_seconds=2)
    lim = limiter(aws, clock)
    assert admitted(lim, "a", rate, 5) == 2
    assert admitted(lim, "b", rate, 5) == 2


def test_a_lower_share_leaves_headroom_that_a_higher_one_can_take(
    aws: StackResources, clock: ManualClock
) -> None:
    rate = Rate(limit=60, period_seconds=60, burst_seconds=10)
    lim = limiter(aws, clock)
    assert admitted(lim, "k", rate, 20, share=0.5) == 5
    assert admitted(lim, "k", rate, 20, share=1.0) == 5


def test_a_cost_above_the_burst_waits_for_a_full_bucket_instead_of_never(
    aws: StackResources, clock: ManualClock
) -> None:
    rate = Rate(limit=1000, period_seconds=60, burst_seconds=6)  # a 100-token bucket
    lim = limiter(aws, clock)
    assert lim.acquire("tpm", rate, cost=500).allowed
    refused = lim.acquire("tpm", rate, cost=500)
    assert not refused.allowed
    clock.now += refused.retry_after
    assert lim.acquire("tpm", rate, cost=500).allowed


def test_adjust_charges_what_a_request_really_cost(aws: StackResources, clock: ManualClock) -> None:
    rate = Rate(limit=600, period_seconds=60, burst_seconds=10)  # 100 tokens at once
    lim = limiter(aws, clock)
    assert lim.acquire("tpm", rate, cost=10).allowed
    lim.adjust("tpm", rate, 80)  # it used 90, not 10
    assert lim.acquire("tpm", rate, cost=10).allowed
    assert not lim.acquire("tpm", rate, cost=10).allowed
    lim.adjust("tpm", rate, -50)  # and the last one used nothing at all (plus 40 spare)
    assert admitted(lim, "tpm", rate, 10, cost=10) == 5


def test_adjust_never_creates_a_key(aws: StackResources, clock: ManualClock) -> None:
    rate = Rate(limit=60)
    lim = limiter(aws, clock)
    lim.adjust("ghost", rate, 5)
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=aws.state_table_name, Key={"pk": {"S": "ghost"}}
    )
    assert "Item" not in item


def test_the_item_expires_when_idle(aws: StackResources, clock: ManualClock) -> None:
    lim = limiter(aws, clock)
    lim.acquire("k", Rate(limit=60))
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=aws.state_table_name, Key={"pk": {"S": "k"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) > clock.now


@pytest.mark.parametrize("processes", [1, 4])
def test_concurrent_processes_never_admit_more_than_the_bucket(
    aws: StackResources, clock: ManualClock, processes: int
) -> None:
    """Eight threads racing on one key, through one or several limiters (processes): with time
    frozen exactly the burst is admitted, whatever the interleaving of conditional writes."""
    rate = Rate(limit=600, period_seconds=60, burst_seconds=3)  # 30 at once
    limiters = [limiter(aws, clock) for _ in range(processes)]
    start = threading.Barrier(8)

    def contend(index: int) -> int:
        start.wait()
        return admitted(limiters[index % processes], "race", rate, 25)

    with ThreadPoolExecutor(max_workers=8) as pool:
        total = sum(pool.map(contend, range(8)))
    assert total == 30


def test_concurrent_processes_keep_the_rate_as_time_moves(
    aws: StackResources, clock: ManualClock
) -> None:
    """Over 60 simulated seconds, four racing processes admit the burst plus the rate."""
    rate = Rate(limit=120, period_seconds=60, burst_seconds=5)  # 2/s, 10 at once
    limiters = [limiter(aws, clock) for _ in range(4)]
    total = 0
    for _second in range(60):
        with ThreadPoolExecutor(max_workers=4) as pool:
            total += sum(pool.map(lambda lim: admitted(lim, "moving", rate, 3), limiters))
        clock.now += 1.0
    assert 10 + 2 * 59 <= total <= 10 + 2 * 60
