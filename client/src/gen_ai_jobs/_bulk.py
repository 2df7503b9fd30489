"""Bulk submission helpers: chunks, their content-derived idempotency keys, and item retries.

A chunk's `Idempotency-Key` is a hash of what it submits (its items, their position in the
input and an optional namespace), so running the same input again, after a crash or Ctrl-C,
replays the first answers instead of creating jobs a second time (while the API keeps keys:
24 h by default).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from gen_ai_jobs.errors import GenAiJobsError
from gen_ai_jobs.models import BatchItem, BatchResult, JobRequest, Priority

MAX_BATCH_SIZE = 100
# Per-item refusals that a later attempt may not get (the rest would be refused again).
RETRYABLE_ITEM_CODES = frozenset(
    {"queue_unavailable", "store_unavailable", "service_unavailable", "rate_limited"}
)


def job_body(
    job: JobRequest | Mapping[str, Any], *, priority: Priority | None = None
) -> dict[str, Any]:
    """A validated `POST /jobs` body (pydantic.ValidationError names the bad field), in
    `priority`'s lane unless it names its own."""
    request = job if isinstance(job, JobRequest) else JobRequest.model_validate(job)
    if request.priority is None and priority is not None:
        request = request.model_copy(update={"priority": priority})
    return request.body()


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chunk_key(bodies: list[dict[str, Any]], *, start: int, namespace: str = "") -> str:
    """The chunk's Idempotency-Key: the same items at the same position give the same key."""
    content = {"namespace": namespace, "start": start, "jobs": bodies}
    return f"batch-{hashlib.sha256(canonical_json(content)).hexdigest()}"


def retry_key(key: str, round_number: int) -> str:
    """The key of the n-th resubmission of a chunk's refused items: derived, hence replayable."""
    return f"{key}.retry{round_number}"


def chunked(
    jobs: Iterable[JobRequest | Mapping[str, Any]], size: int, *, priority: Priority | None = None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(start index, bodies) per chunk of at most `size` items, reading `jobs` lazily; items
    without a priority get `priority` (so it is part of each chunk's key)."""
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_BATCH_SIZE}, got {size}")
    iterator = iter(jobs)
    start = 0
    while chunk := list(islice(iterator, size)):
        yield start, [job_body(job, priority=priority) for job in chunk]
        start += len(chunk)


def submit_chunk(
    submit_batch: Callable[[list[dict[str, Any]], str], BatchResult],
    bodies: list[dict[str, Any]],
    key: str,
    *,
    rounds: int,
    sleep: Callable[[float], None],
) -> list[BatchItem]:
    """One chunk, then (up to `rounds` times) its items refused for a passing reason, under
    derived keys: a re-run replays each of these requests too."""
    items = _by_index(submit_batch(bodies, key), len(bodies))
    for round_number in range(1, rounds + 1):
        again = [index for index, item in items.items() if _retryable_refusal(item)]
        if not again:
            break
        sleep(min(0.5 * 2**round_number, 8.0))
        retried = submit_batch([bodies[i] for i in again], retry_key(key, round_number))
        for position, item in _by_index(retried, len(again)).items():
            items[again[position]] = item.model_copy(update={"index": again[position]})
    return [items[index] for index in range(len(bodies))]


def _by_index(batch: BatchResult, size: int) -> dict[int, BatchItem]:
    items = {item.index: item for item in batch.results}
    if sorted(items) != list(range(size)):
        raise GenAiJobsError(f"the API answered a batch of {size} jobs with other indexes")
    return items


def _retryable_refusal(item: BatchItem) -> bool:
    return item.error is not None and item.error.code in RETRYABLE_ITEM_CODES
