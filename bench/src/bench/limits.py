"""Benchmark 6 (opt-in, ``--only limits``): the provider's quota and the priority lanes, measured
through the devstack over HTTP with the fake LLM as the provider.

Quota run: the provider accepts ``provider_quota`` calls in any 60 s and answers 429 beyond it;
the worker's fleet-wide limit (``LLM_RATE_LIMITS``) is ``rpm_limit`` on the model the jobs name;
every job is submitted at once. What the provider saw is read from its call log: calls per 10 s,
the busiest 60 s against the limit and the quota, and its 429s; the worker's deferrals come from
its EMF metrics in the devstack log, and re-sends from the job records.

Lanes run: 10 high-priority jobs on an idle system, then a low-priority backlog and 10 more high
ones behind it; time to finish by lane and when the backlog drained.
"""

from __future__ import annotations

import datetime
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.limits_jobs import JobRun, finished_at, submit_many, time_to_finish, wait_for
from bench.limits_stats import (
    bucket_counts,
    busiest_window,
    emf_totals,
    lane_summary,
    trailing_counts,
)
from bench.support import machine
from devstack.e2e_support import DevstackProcess, StackPorts
from devstack.embedded_llm import MODEL_ALIAS
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

PRIMARY = f"openai/{MODEL_ALIAS}"  # the devstack's LLM_MODEL, unlimited: the lanes run uses it
LIMITED = "openai/limited"  # the model the quota run's jobs name, with LLM_RATE_LIMITS on it
WORKER_METRICS = ("JobsDeferred", "ProviderThrottled", "JobsRetried", "StaleDeliveries")


@dataclass(frozen=True)
class Plan:
    """Sizes of both runs; the defaults take about five minutes on 2 cores."""

    quota_jobs: int = 400
    rpm_limit: int = 200
    provider_quota: int = 240  # calls the provider accepts in any 60 s
    quota_latency_seconds: float = 0.5
    idle_high_jobs: int = 10
    low_backlog_jobs: int = 300
    high_jobs: int = 10
    lane_latency_seconds: float = 1.0
    lane_concurrency: int = 2  # each lane's MaximumConcurrency, the AWS minimum
    batch_size: int = 10
    worker_max_concurrency: int = 10


def run(log_dir: Path, plan: Plan | None = None) -> dict[str, Any]:
    plan = plan or Plan()
    ports = StackPorts()
    log_path = log_dir / "devstack-limits.log"
    with FakeLLMServer() as llm:
        stack = DevstackProcess(_stack_args(ports, llm, plan), log_path, _stack_env(plan))
        try:
            stack.wait_for_log("devstack ready")
            with httpx.Client(timeout=30) as http:
                quota = _quota_run(JobRun(http, ports, llm, log_path), plan)
                lanes = _lanes_run(JobRun(http, ports, llm, log_path), plan)
        finally:
            stack.stop()
    today = datetime.date.today().isoformat()
    return {"date": today, "machine": machine(), "quota": quota, "lanes": lanes}


def _stack_args(ports: StackPorts, llm: FakeLLMServer, plan: Plan) -> list[str]:
    lanes = ",".join(f"{lane}={plan.lane_concurrency}" for lane in ("high", "normal", "low"))
    return [
        *ports.args(),
        f"--llm-api-base={llm.base_url}",
        f"--batch-size={plan.batch_size}",
        "--batching-window=0.2",
        "--function-timeout=15",
        f"--lane-concurrency={lanes}",
    ]


def _stack_env(plan: Plan) -> dict[str, str]:
    return {
        "LLM_ALLOWED_MODELS": f"{PRIMARY},{LIMITED}",
        "LLM_RATE_LIMITS": json.dumps({LIMITED: {"rpm": plan.rpm_limit}}),
        "WORKER_MAX_CONCURRENCY": str(plan.worker_max_concurrency),
        "LOG_LEVEL": "WARNING",
        # The worker benchmark turns metrics off in this process's environment; here they count
        # the deferrals, so the devstack's worker must print them.
        "POWERTOOLS_METRICS_DISABLED": "false",
    }


def _quota_run(jobs: JobRun, plan: Plan) -> dict[str, Any]:
    jobs.llm.llm.reset(
        FakeLLMConfig(
            latency_seconds=plan.quota_latency_seconds,
            window_limit=plan.provider_quota,
            window_seconds=60.0,
        )
    )
    log_offset = jobs.log_path.stat().st_size
    started = time.time()
    ids = submit_many(jobs, plan.quota_jobs, "quota", model=LIMITED)
    submitted = time.time()
    timeout = 120 + 1.5 * 60 * plan.quota_jobs / plan.rpm_limit
    done = wait_for(jobs, ids, successes=plan.quota_jobs, timeout=timeout)
    calls = list(jobs.llm.llm.stats.log)
    times = [call.at for call in calls]
    throttled = [call.at for call in calls if call.outcome == "429"]
    ended = max([*times, *(finished_at(job) for job in done.values()), submitted])
    busiest = busiest_window(times, 60.0)
    metrics = emf_totals(_log_lines(jobs.log_path, log_offset))
    return {
        "jobs": plan.quota_jobs,
        "rpm_limit": plan.rpm_limit,
        "provider_quota": plan.provider_quota,
        "provider_window_s": 60,
        "llm_latency_s": plan.quota_latency_seconds,
        "statuses": dict(Counter(str(job["status"]) for job in done.values())),
        "unfinished": len(ids) - len(done),
        "submit_s": round(submitted - started, 1),
        "total_s": round(ended - started, 1),
        "provider_calls": len(times),
        "provider_429": len(throttled),
        "provider_429_pct": round(100 * len(throttled) / max(len(times), 1), 2),
        "busiest_60s_calls": busiest,
        "busiest_60s_accepted": busiest_window(
            [call.at for call in calls if call.outcome != "429"], 60.0
        ),
        "busiest_60s_over_limit": round(busiest / plan.rpm_limit, 3),
        "busiest_60s_over_quota": round(busiest / plan.provider_quota, 3),
        "calls_per_10s": bucket_counts(times, started, ended),
        "throttled_per_10s": bucket_counts(throttled, started, ended),
        "calls_last_60s_every_5s": trailing_counts(times, started, ended),
        "worker_metrics": {name: int(metrics.get(name, 0)) for name in WORKER_METRICS},
        "attempts": _tally(job.get("attempts") for job in done.values()),
        "jobs_resent": jobs.resent_jobs(ids),
        "dlq_messages": jobs.dlq_depth(),
    }


def _lanes_run(jobs: JobRun, plan: Plan) -> dict[str, Any]:
    jobs.llm.llm.reset(FakeLLMConfig(latency_seconds=plan.lane_latency_seconds))
    idle_ids = submit_many(jobs, plan.idle_high_jobs, "idle", priority="high")
    idle = wait_for(jobs, idle_ids, successes=plan.idle_high_jobs, timeout=120)
    backlog_started = time.time()
    low_ids = submit_many(jobs, plan.low_backlog_jobs, "backlog", priority="low")
    high_submitted = time.time()
    high_ids = submit_many(jobs, plan.high_jobs, "urgent", priority="high")
    high = wait_for(jobs, high_ids, successes=None, timeout=120)
    total = plan.idle_high_jobs + plan.low_backlog_jobs + plan.high_jobs
    low = wait_for(jobs, low_ids, successes=total, timeout=120 + plan.low_backlog_jobs)
    idle_summary = lane_summary([time_to_finish(job) for job in idle.values()])
    high_summary = lane_summary([time_to_finish(job) for job in high.values()])
    last_high = max((finished_at(job) for job in high.values()), default=high_submitted)
    low_done = [finished_at(job) for job in low.values()]
    return {
        "llm_latency_s": plan.lane_latency_seconds,
        "lane_concurrency": plan.lane_concurrency,
        "idle_high": idle_summary,
        "high_behind_backlog": high_summary,
        "low_backlog": lane_summary([time_to_finish(job) for job in low.values()]),
        "high_p50_over_idle": (
            round(high_summary["p50_s"] / idle_summary["p50_s"], 2)
            if high_summary["jobs"] and idle_summary["jobs"]
            else None
        ),
        "high_submitted_after_s": round(high_submitted - backlog_started, 1),
        "last_high_done_after_s": round(last_high - backlog_started, 1),
        "low_drained_after_s": round(max(low_done, default=backlog_started) - backlog_started, 1),
        "low_finished_after_last_high": sum(1 for at in low_done if at > last_high),
        "statuses": dict(
            Counter(str(job["status"]) for job in (*idle.values(), *high.values(), *low.values()))
        ),
        "unfinished": len(idle_ids) + len(high_ids) + len(low_ids) - len(idle | high | low),
    }


def _log_lines(path: Path, offset: int) -> list[str]:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").splitlines()


def _tally(values: Any) -> dict[str, int]:
    return {str(k): n for k, n in sorted(Counter(values).items(), key=lambda kv: str(kv[0]))}
