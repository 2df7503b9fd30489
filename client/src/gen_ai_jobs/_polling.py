"""Waiting for jobs: one with a growing pause between polls; many, oldest first."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from gen_ai_jobs.errors import WaitTimeout
from gen_ai_jobs.models import Job

MAX_POLL_INTERVAL_SECONDS = 5.0

GetJob = Callable[[str], Job]
Sleep = Callable[[float], None]


def wait_one(get: GetJob, sleep: Sleep, job_id: str, *, timeout: float, first: float) -> Job:
    """Poll until the job is finished; WaitTimeout with its last state after `timeout` s."""
    deadline = time.monotonic() + timeout
    interval = first
    while True:
        job = get(job_id)
        remaining = deadline - time.monotonic()
        if job.finished:
            return job
        if remaining <= 0:
            message = f"job {job_id} still {job.status} after {timeout:g} s"
            raise WaitTimeout(message, job_id=job_id, job=job)
        sleep(min(interval, remaining))
        interval = longer(interval, first)


def wait_many(
    get: GetJob,
    sleep: Sleep,
    job_ids: Iterable[str],
    *,
    timeout: float | None,
    first: float,
    concurrency: int,
    on_finished: Callable[[Job], None] | None,
) -> dict[str, Job]:
    """Rounds of `poll_round` until every job is finished, or one last full round at the
    deadline; the pause resets after a round that found finished jobs, else grows."""
    latest: dict[str, Job] = {}
    pending = list(dict.fromkeys(job_ids))
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = first
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="gen-ai-jobs-poll")
    try:
        while pending:
            last_round = deadline is not None and time.monotonic() >= deadline
            found = poll_round(
                pool, get, pending, latest, on_finished, group=concurrency, every=last_round
            )
            pending = [job_id for job_id in pending if not _finished(latest.get(job_id))]
            if last_round or not pending:
                break
            sleep(interval)
            interval = first if found else longer(interval, first)
    finally:
        # Ctrl-C or an error: drop the queued polls instead of waiting for them.
        pool.shutdown(wait=False, cancel_futures=True)
    return latest


def poll_round(
    pool: ThreadPoolExecutor,
    get: GetJob,
    pending: list[str],
    latest: dict[str, Job],
    on_finished: Callable[[Job], None] | None,
    *,
    group: int,
    every: bool,
) -> int:
    """Poll `pending` in order, `group` at a time, until a group has no finished job (or
    to the end when `every`); how many finished. Jobs finish roughly in submission order, so
    this costs about one request per job plus one group per round."""
    found = 0
    for start in range(0, len(pending), group):
        ids = pending[start : start + group]
        finished = 0
        for job_id, job in zip(ids, pool.map(get, ids), strict=True):
            latest[job_id] = job
            if job.finished:
                finished += 1
                if on_finished is not None:
                    on_finished(job)
        found += finished
        if not (finished or every):
            break
    return found


def longer(interval: float, first: float) -> float:
    """The next pause: half as long again, up to 5 s (or `first` if that is longer)."""
    return min(interval * 1.5, max(first, MAX_POLL_INTERVAL_SECONDS))


def _finished(job: Job | None) -> bool:
    return job is not None and job.finished
