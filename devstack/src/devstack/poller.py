"""A poller that behaves like Lambda's SQS event source mapping (ESM).

It long-polls up to the batch size within the batching window, calls the handler with the
event Lambda would build and a context whose deadline follows the function timeout, deletes the
records not listed in ``batchItemFailures`` and leaves the rest to reappear after the visibility
timeout, so SQS's own redrive moves them to the DLQ exactly as in AWS. Several batches run at
once, up to ``max_concurrency`` (the ESM's ``ScalingConfig.MaximumConcurrency``). One poller
emulates one mapping: the devstack runs one per job lane and one for webhook deliveries.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.lambda_runtime import LambdaContext, sqs_record

Handler = Callable[[dict[str, Any], Any], Any]
logger = logging.getLogger("devstack.poller")


@dataclass(frozen=True)
class PollerSettings:
    """The ESM and function settings the Pulumi program sets on the real mapping."""

    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    batching_window_seconds: float = 0.5
    max_concurrency: int = 2
    function_timeout_seconds: float = 30.0
    wait_time_seconds: int = 1
    name: str = "esm"  # names the threads, e.g. "jobs-high"
    # Fault injection (devstack.faults): a record whose body contains this text is never
    # handled nor settled, as if its invocation crashed; SQS redelivers it, then dead-letters it.
    crash_marker: str | None = None


@dataclass
class PollerStats:
    """Counters for tests and the console: what the ESM did."""

    batches: int = 0
    records: int = 0
    deleted: int = 0
    reported_failures: int = 0
    whole_batch_failures: int = 0
    crashed: int = 0


class SqsPoller:
    """Start with ``start()``; ``stop()`` stops receiving and waits for in-flight batches."""

    def __init__(self, *, sqs: Any, settings: PollerSettings, handler: Handler) -> None:
        self._sqs = sqs
        self._settings = settings
        self._handler = handler
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stats = PollerStats()
        # Runs handlers so a batch that overruns its timeout can be abandoned, as Lambda does.
        self._invoker = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.max_concurrency, thread_name_prefix=f"{settings.name}-invoke"
        )

    def start(self) -> SqsPoller:
        for index in range(self._settings.max_concurrency):
            name = f"{self._settings.name}-poller-{index}"
            thread = threading.Thread(target=self._run, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def request_stop(self) -> None:
        """Stop receiving; batches in flight finish (``stop`` waits for them)."""
        self._stopping.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        limit = timeout or self._settings.function_timeout_seconds + 5
        for thread in self._threads:
            thread.join(timeout=limit)
        self._invoker.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._receive_batch()
                if messages:
                    self._invoke(messages)
            except Exception:  # keep polling like the ESM does; the error is logged
                logger.exception("poller iteration failed")
                self._stopping.wait(1.0)

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Gather up to batch_size messages, waiting at most the batching window after the first."""
        settings = self._settings
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < settings.batch_size and not self._stopping.is_set():
            wait = settings.wait_time_seconds if not messages else 0
            response = self._sqs.receive_message(
                QueueUrl=settings.queue_url,
                MaxNumberOfMessages=min(10, settings.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if messages and deadline is None:
                deadline = time.monotonic() + settings.batching_window_seconds
            if not messages:
                return []
            if deadline is not None and time.monotonic() >= deadline:
                break
            if not received:
                time.sleep(0.05)
        return messages

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        settings = self._settings
        marker = settings.crash_marker
        if marker:
            crashed = [m for m in messages if marker in m["Body"]]
            messages = [m for m in messages if marker not in m["Body"]]
            with self._lock:
                self.stats.crashed += len(crashed)
            if not messages:
                return
        event = {
            "Records": [
                sqs_record(m, queue_arn=settings.queue_arn, region=settings.region)
                for m in messages
            ]
        }
        context = LambdaContext(timeout_seconds=settings.function_timeout_seconds)
        future = self._invoker.submit(self._handler, event, context)
        failed_ids = self._failed_ids(future, messages)
        to_delete = [m for m in messages if m["MessageId"] not in failed_ids]
        self._delete(to_delete)
        with self._lock:
            self.stats.batches += 1
            self.stats.records += len(messages)
            self.stats.deleted += len(to_delete)
            self.stats.reported_failures += len(failed_ids)

    def _failed_ids(self, future: concurrent.futures.Future[Any], messages: list[Any]) -> set[str]:
        """Which records Lambda would leave on the queue; every record when the invoke failed."""
        all_ids = {m["MessageId"] for m in messages}
        try:
            response = future.result(timeout=self._settings.function_timeout_seconds)
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            if not failed <= all_ids:
                raise ValueError("batchItemFailures names a record not in this batch")
        except Exception:
            # A timeout, an error, a malformed response or an unknown id: Lambda then treats the
            # whole batch as failed and every record returns after the visibility timeout.
            logger.exception("invocation failed; the whole batch returns to the queue")
            with self._lock:
                self.stats.whole_batch_failures += 1
            return all_ids
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._settings.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
