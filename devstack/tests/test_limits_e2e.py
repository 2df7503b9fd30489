"""Provider limits and outages delay jobs, never fail them (issue 12), through the devstack.

One devstack process serves the module, with the fake LLM of this test process as its provider
(reset over ``/_fake/config`` before each scenario) and the settings an operator would set:
a fleet-wide limit of requests per minute on one model (``LLM_RATE_LIMITS``, so the other
scenarios' models are unlimited), a job budget of 5 real attempts, 5 receives per message and a
short circuit cooldown. Jobs go in and come out over HTTP; the DLQ is read with boto3.

By default the sizes are scaled for CI (about 2.5 minutes); ``E2E_FULL_SIZE=1`` or ``--soak``
runs the issue's sizes (a 120 s outage, a 60 s storm, 200 and 300 jobs). Each scenario prints
what it measured (provider calls per minute, 429 rate, calls during an outage, p50 by lane); run
with ``-s`` to see them.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from devstack.e2e_support import DevstackProcess, StackPorts, submit_job, wait_for_jobs
from devstack.embedded_llm import MODEL_ALIAS
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer, busiest_window
from devstack.resources import find_stack_resources

pytestmark = pytest.mark.e2e

PRIMARY = f"openai/{MODEL_ALIAS}"  # the devstack's LLM_MODEL: the lanes scenario runs on it
# One model per scenario, so a pause or an open circuit left by one never meets the next.
LIMITED = "openai/limited"
OUTAGE = "openai/outage"
STORM = "openai/storm"
LANE_CONCURRENCY = {"high": 2, "normal": 2, "low": 2}
WORKER_MAX_CONCURRENCY = 10
CIRCUIT_FAILURES = 5
# The breaker's first cooldown and its cap. With the default 30 s doubling to 300 s, probes
# after the circuit opens come at about 30, 90 and 210 s: a 120 s outage would end at 120 s
# and the next probe (210 s) would miss "every job done within 60 s of recovery". 5 s doubling
# to 10 s probes at 5, 15, then every 10 s, so one always comes within 10 s of recovery (and
# the jobs the open circuit deferred come back within 10 s of it too).
CIRCUIT_COOLDOWN_SECONDS = 5.0
CIRCUIT_MAX_COOLDOWN_SECONDS = 10.0
# Between sweeps of GET /jobs over a whole set: the API shares the devstack's process (and CPU)
# with the worker being measured; times are read from the jobs' own timestamps, not the sweeps.
POLL_SECONDS = 3.0
STACK_ARGS = [
    "--batch-size=10",
    "--batching-window=0.2",
    "--function-timeout=15",
    "--max-receive-count=5",
    "--lane-concurrency=" + ",".join(f"{lane}={n}" for lane, n in LANE_CONCURRENCY.items()),
]
STACK_ENV = {
    "LLM_ALLOWED_MODELS": ",".join((PRIMARY, LIMITED, OUTAGE, STORM)),
    "JOB_MAX_ATTEMPTS": "5",
    "WORKER_MAX_CONCURRENCY": str(WORKER_MAX_CONCURRENCY),
    "LLM_CIRCUIT_FAILURES": str(CIRCUIT_FAILURES),
    "LLM_CIRCUIT_COOLDOWN_SECONDS": str(CIRCUIT_COOLDOWN_SECONDS),
    "LLM_CIRCUIT_MAX_COOLDOWN_SECONDS": str(CIRCUIT_MAX_COOLDOWN_SECONDS),
    # Back-off after a real failed attempt (10 s doubling to 300 s by default): shorter, so the
    # jobs that failed before the circuit opened are not what decides the test's duration.
    "WORKER_RETRY_BASE_SECONDS": "2",
    "WORKER_RETRY_CAP_SECONDS": "20",
    "LLM_TIMEOUT_SECONDS": "10",
    "LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Sizes:
    """How big and how long each scenario is."""

    # Our fleet-wide limit on the LIMITED model (LLM_RATE_LIMITS) and the provider's quota:
    # window_limit calls in any window_seconds, 429 beyond. The issue's: 200 rpm, 240 in 60 s,
    # 200 jobs; as 200 jobs are fewer than 240, that provider never has a reason to answer 429,
    # limiter or not. The CI run is the one that tells: the GCRA limiter admits at most
    # rpm x (W + burst 10 s) / 60 calls in any W seconds (20 in 10 s at 60 rpm, as 233 <= 240
    # in 60 s at 200 rpm), while the devstack on its own runs several jobs a second, so 30 jobs
    # at once against a provider allowing 25 in 10 s get 429s without the limiter (measured
    # here, under load: 12% of the calls; with it: none, the busiest 10 s holding 21 calls).
    rpm_limit: int
    rate_jobs: int
    provider_window_limit: int
    provider_window_seconds: float
    outage_jobs: int
    outage_seconds: float
    storm_jobs: int
    storm_seconds: float
    low_backlog_jobs: int
    high_jobs: int
    # The provider's time per call in the lanes scenario: long enough that the low backlog is
    # real (100 jobs, 20 at a time: 15 s or more), and that the devstack's own CPU time is a
    # small part of a job's time to finish. One process runs the API, moto and every poller,
    # so a backlog slows all of them, which Lambda's separate environments would not.
    lane_latency_seconds: float


SCALED = Sizes(
    rpm_limit=60,
    rate_jobs=30,
    provider_window_limit=25,
    provider_window_seconds=10,
    outage_jobs=50,
    outage_seconds=30,
    storm_jobs=30,
    storm_seconds=20,
    low_backlog_jobs=100,
    high_jobs=10,
    lane_latency_seconds=3.0,
)
FULL = Sizes(
    rpm_limit=200,
    rate_jobs=200,
    provider_window_limit=240,
    provider_window_seconds=60,
    outage_jobs=50,
    outage_seconds=120,
    storm_jobs=50,
    storm_seconds=60,
    low_backlog_jobs=300,
    high_jobs=10,
    lane_latency_seconds=3.0,
)


@dataclass(frozen=True)
class LimitsStack:
    api_url: str
    fake_url: str  # the fake LLM's control endpoints
    sqs: Any
    lanes: dict[str, str]  # lane -> queue URL
    dlq_url: str


@pytest.fixture(scope="module")
def sizes(request: pytest.FixtureRequest) -> Sizes:
    full = os.environ.get("E2E_FULL_SIZE") == "1" or request.config.getoption("--soak")
    return FULL if full else SCALED


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeLLMServer]:
    """This module's own fake provider: its quota and outages never reach other modules."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    start_module_devstack: Callable[..., DevstackProcess],
    provider: FakeLLMServer,
    sizes: Sizes,
) -> LimitsStack:
    ports = StackPorts()
    env = {**STACK_ENV, "LLM_RATE_LIMITS": json.dumps({LIMITED: {"rpm": sizes.rpm_limit}})}
    start_module_devstack(
        [*ports.args(), f"--llm-api-base={provider.base_url}", *STACK_ARGS], env=env
    )
    sqs = ports.client("sqs")
    resources = find_stack_resources(sqs=sqs)
    lanes = {
        "high": resources.queue_url_high,
        "normal": resources.queue_url,
        "low": resources.queue_url_low,
    }
    fake_url = f"http://127.0.0.1:{provider.port}/_fake"
    return LimitsStack(ports.api_url, fake_url, sqs, lanes, resources.dlq_url)


@pytest.fixture(autouse=True)
def clean_start(stack: LimitsStack) -> None:
    """Each scenario starts with empty lanes, an empty DLQ and a well provider."""
    started = time.monotonic()
    left = {lane: depths(stack.sqs, url) for lane, url in stack.lanes.items()}
    while any(depth(stack.sqs, url) for url in stack.lanes.values()):
        # Copies of finished jobs (e.g. a batch that overran its timeout on a loaded machine
        # returns after the visibility timeout) only cost a receive; a failed scenario's
        # backlog would skew the next one's timings: either way, not worth a long wait.
        if time.monotonic() - started > 20:
            for url in stack.lanes.values():
                empty(stack.sqs, url)
            break
        time.sleep(0.5)
    if any(sum(d.values()) for d in left.values()):
        waited = time.monotonic() - started
        print(f"\nleft on the lanes by the previous scenario: {left}; drained in {waited:.0f} s")
    empty(stack.sqs, stack.dlq_url)
    configure(stack, FakeLLMConfig())


def empty(sqs: Any, queue_url: str) -> None:
    """Delete what is visible now (PurgeQueue is allowed once a minute per queue)."""
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def depths(sqs: Any, queue_url: str) -> dict[str, int]:
    """Visible, in flight and delayed (a deferred job is re-sent with DelaySeconds)."""
    names = {
        "visible": "ApproximateNumberOfMessages",
        "in_flight": "ApproximateNumberOfMessagesNotVisible",
        "delayed": "ApproximateNumberOfMessagesDelayed",
    }
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(names.values()))
    return {key: int(attributes["Attributes"].get(name, 0)) for key, name in names.items()}


def depth(sqs: Any, queue_url: str) -> int:
    return sum(depths(sqs, queue_url).values())


def configure(stack: LimitsStack, config: FakeLLMConfig) -> None:
    """Reset the provider's behaviour and its stats (over HTTP: it serves another process)."""
    httpx.post(f"{stack.fake_url}/config", json=asdict(config)).raise_for_status()


def provider_stats(stack: LimitsStack) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.fake_url}/stats", timeout=30).raise_for_status().json())


def submit_all(
    http: httpx.Client,
    stack: LimitsStack,
    count: int,
    label: str,
    *,
    model: str | None = None,
    priority: str | None = None,
) -> list[str]:
    """``count`` plain-text jobs (one provider call each), submitted concurrently."""

    def one(index: int) -> str:
        prompt = {"prompt": f"{label} {index}", "max_tokens": 8}
        return submit_job(http, stack.api_url, "complete", prompt, model=model, priority=priority)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def finished_at(job: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(job["updated_at"])).timestamp()


def time_to_finish(job: dict[str, Any]) -> float:
    return finished_at(job) - datetime.fromisoformat(str(job["created_at"])).timestamp()


def assert_all_succeeded(jobs: dict[str, dict[str, Any]]) -> None:
    failed = [job for job in jobs.values() if job["status"] != "succeeded"]
    assert not failed, (
        f"{len(failed)} of {len(jobs)} jobs did not succeed: "
        f"{Counter(str((job['error'] or {}).get('code')) for job in failed)}; e.g. {failed[0]}"
    )


def assert_none_final_and_some_waiting_for(
    http: httpx.Client, stack: LimitsStack, job_ids: list[str], code: str
) -> Counter[str]:
    """Mid-incident: no job finished (failed or otherwise), some show ``last_error`` ``code``."""
    jobs = [http.get(f"{stack.api_url}/jobs/{job_id}").json() for job_id in job_ids]
    statuses = Counter(str(job["status"]) for job in jobs)
    last_errors = Counter(str((job.get("last_error") or {}).get("code")) for job in jobs)
    assert set(statuses) <= {"queued", "running"}, statuses
    assert last_errors[code] > 0, last_errors
    return last_errors


def probe_bound(outage_seconds: float) -> int:
    """Most half-open probes a breaker opened at the outage's start can let through during it:
    one per cooldown expiry (cooldown doubling up to its cap), plus one."""
    probes, at, cooldown = 1, CIRCUIT_COOLDOWN_SECONDS, CIRCUIT_COOLDOWN_SECONDS
    while at < outage_seconds:
        probes += 1
        cooldown = min(2 * cooldown, CIRCUIT_MAX_COOLDOWN_SECONDS)
        at += cooldown
    return probes


def test_a_fleet_rate_limit_keeps_a_burst_of_jobs_under_the_providers_quota(
    stack: LimitsStack, sizes: Sizes, http: httpx.Client
) -> None:
    # GIVEN a provider allowing window_limit calls in any window and answering 429 beyond it,
    # and a fleet-wide limit below that on the model (LLM_RATE_LIMITS)
    configure(
        stack,
        FakeLLMConfig(
            window_limit=sizes.provider_window_limit,
            window_seconds=sizes.provider_window_seconds,
        ),
    )

    # WHEN every job is submitted at once
    started = time.time()
    job_ids = submit_all(http, stack, sizes.rate_jobs, "limited", model=LIMITED)
    timeout = 60 + 60 * sizes.rate_jobs / sizes.rpm_limit
    jobs = wait_for_jobs(http, stack.api_url, job_ids, timeout=timeout, poll_seconds=POLL_SECONDS)

    # THEN all succeed, at most 2% of the provider's answers are 429s and the DLQ is empty
    log = provider_stats(stack)["log"]
    calls = [call["at"] for call in log]
    throttled = sum(1 for call in log if call["outcome"] == "429")
    elapsed = max(finished_at(job) for job in jobs.values()) - started
    window = sizes.provider_window_seconds
    busiest = f"busiest 60 s: {busiest_window(calls, 60)}"
    if window != 60:
        busiest += f", busiest {window:.0f} s: {busiest_window(calls, window)}"
    print(
        f"\nrate limit ({sizes.rpm_limit} rpm; provider {sizes.provider_window_limit} per "
        f"{window:.0f} s): {len(job_ids)} jobs in {elapsed:.0f} s, {len(calls)} provider calls, "
        f"{busiest}, 429s: {throttled} ({100 * throttled / max(len(calls), 1):.1f}%)"
    )
    assert_all_succeeded(jobs)
    assert throttled <= 0.02 * len(calls), f"{throttled} of {len(calls)} calls got a 429"
    assert depth(stack.sqs, stack.dlq_url) == 0


def test_an_outage_defers_jobs_behind_the_circuit_and_all_finish_soon_after_recovery(
    stack: LimitsStack, sizes: Sizes, http: httpx.Client
) -> None:
    # GIVEN a provider answering 503 to everything for outage_seconds from now
    configure(stack, FakeLLMConfig(outage_status=503, outage_seconds=sizes.outage_seconds))
    outage_ends_at = provider_stats(stack)["outage_ends_at"]

    # WHEN the jobs are submitted during the outage
    job_ids = submit_all(http, stack, sizes.outage_jobs, "outage", model=OUTAGE)

    # THEN halfway through it no job has finished and they wait as provider_unavailable
    time.sleep(max(outage_ends_at - sizes.outage_seconds / 2 - time.time(), 0))
    waiting = assert_none_final_and_some_waiting_for(http, stack, job_ids, "provider_unavailable")

    # AND none fails: all succeed within 60 s of the recovery, with the provider called about
    # as often as the breaker lets through, not once per job and receive
    timeout = outage_ends_at - time.time() + 90
    jobs = wait_for_jobs(http, stack.api_url, job_ids, timeout=timeout, poll_seconds=POLL_SECONDS)
    log = provider_stats(stack)["log"]
    during = sum(1 for call in log if call["cause"] == "outage")
    last = max(finished_at(job) for job in jobs.values())
    # The calls admitted before the circuit could open (the normal lane's batches in flight x
    # records per batch), the failures that open it, and one probe per cooldown expiry.
    in_flight = LANE_CONCURRENCY["normal"] * WORKER_MAX_CONCURRENCY
    bound = in_flight + CIRCUIT_FAILURES + probe_bound(sizes.outage_seconds)
    print(
        f"\noutage ({sizes.outage_seconds:.0f} s of 503): {len(job_ids)} jobs; provider calls "
        f"during it: {during} (bound {bound}; jobs x receives = {5 * len(job_ids)}); after it: "
        f"{len(log) - during}; last job done {last - outage_ends_at:.1f} s after recovery; "
        f"last_error halfway: {dict(waiting)}; attempts: "
        f"{dict(Counter(job['attempts'] for job in jobs.values()))}"
    )
    assert_all_succeeded(jobs)
    assert last - outage_ends_at <= 60
    assert during <= bound
    assert depth(stack.sqs, stack.dlq_url) == 0


def test_a_storm_of_429s_with_retry_after_fails_no_job(
    stack: LimitsStack, sizes: Sizes, http: httpx.Client
) -> None:
    # GIVEN a provider answering every call 429 with Retry-After: 2 for storm_seconds
    configure(
        stack,
        FakeLLMConfig(outage_status=429, outage_seconds=sizes.storm_seconds, retry_after_seconds=2),
    )
    storm_ends_at = provider_stats(stack)["outage_ends_at"]

    # WHEN jobs are submitted during the storm
    job_ids = submit_all(http, stack, sizes.storm_jobs, "storm", model=STORM)

    # THEN halfway through no job has finished and they wait as rate limited
    time.sleep(max(storm_ends_at - sizes.storm_seconds / 2 - time.time(), 0))
    waiting = assert_none_final_and_some_waiting_for(http, stack, job_ids, "provider_rate_limited")

    # AND none fails: all succeed once it is over
    timeout = storm_ends_at - time.time() + 90
    jobs = wait_for_jobs(http, stack.api_url, job_ids, timeout=timeout, poll_seconds=POLL_SECONDS)
    log = provider_stats(stack)["log"]
    during = sum(1 for call in log if call["cause"] == "outage")
    last = max(finished_at(job) for job in jobs.values())
    print(
        f"\n429 storm ({sizes.storm_seconds:.0f} s, Retry-After 2): {len(job_ids)} jobs; "
        f"provider calls during it: {during} "
        f"({60 * during / sizes.storm_seconds:.0f}/min); last job done "
        f"{last - storm_ends_at:.1f} s after it; last_error halfway: {dict(waiting)}; attempts: "
        f"{dict(Counter(job['attempts'] for job in jobs.values()))}"
    )
    assert_all_succeeded(jobs)
    assert depth(stack.sqs, stack.dlq_url) == 0


def test_high_priority_jobs_overtake_a_low_priority_backlog(
    stack: LimitsStack, sizes: Sizes, http: httpx.Client
) -> None:
    # GIVEN a provider taking lane_latency_seconds per call, and an idle system's p50 for
    # high-priority jobs
    configure(stack, FakeLLMConfig(latency_seconds=sizes.lane_latency_seconds))
    idle_ids = submit_all(http, stack, sizes.high_jobs, "idle high", priority="high")
    idle = wait_for_jobs(http, stack.api_url, idle_ids, timeout=60)
    assert_all_succeeded(idle)
    idle_p50 = statistics.median(time_to_finish(job) for job in idle.values())

    # WHEN a low-priority backlog is queued, then high-priority jobs
    low_ids = submit_all(http, stack, sizes.low_backlog_jobs, "backlog low", priority="low")
    high_ids = submit_all(http, stack, sizes.high_jobs, "urgent high", priority="high")
    high = wait_for_jobs(http, stack.api_url, high_ids, timeout=120)
    low = wait_for_jobs(http, stack.api_url, low_ids, timeout=180, poll_seconds=POLL_SECONDS)

    # THEN the high ones finish before the backlog does, about as fast as on an idle system
    assert_all_succeeded(high)
    assert_all_succeeded(low)
    high_p50 = statistics.median(time_to_finish(job) for job in high.values())
    low_p50 = statistics.median(time_to_finish(job) for job in low.values())
    last_high = max(finished_at(job) for job in high.values())
    low_after = sum(1 for job in low.values() if finished_at(job) > last_high)
    print(
        f"\nlanes (provider {sizes.lane_latency_seconds:.1f} s per call): p50 time to finish: "
        f"high idle {idle_p50:.1f} s, high behind {len(low_ids)} low {high_p50:.1f} s, low "
        f"{low_p50:.1f} s; {low_after} low jobs finished after the last high one"
    )
    assert last_high < max(finished_at(job) for job in low.values())
    # Not just the backlog's last few stragglers: a single queue would run them all first.
    assert low_after >= len(low_ids) // 4
    assert high_p50 <= 3 * idle_p50
