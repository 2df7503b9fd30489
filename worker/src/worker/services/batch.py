"""One invocation: Powertools' batch processor, run on the shared loop, within the deadline."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.services.invocation import Invocation
from worker.services.loop import SharedLoop
from worker.services.processor import RecordProcessor

if TYPE_CHECKING:
    from worker.runtime import Worker


class SharedLoopBatchProcessor(AsyncBatchProcessor):
    """Powertools' AsyncBatchProcessor, except that records run on the process's shared loop
    (its own ``async_process`` uses ``asyncio.run`` or the thread's loop, see services.loop)."""

    def __init__(self, loop: SharedLoop, *, timeout_seconds: float) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._shared_loop = loop
        self._timeout_seconds = timeout_seconds

    def async_process(self) -> list[tuple[Any, ...]]:
        return self._shared_loop.run(self._process_all(), timeout=self._timeout_seconds)

    async def _process_all(self) -> list[tuple[Any, ...]]:
        records = [self._async_process_record(record) for record in self.records]
        return list(await asyncio.gather(*records))


def process_event(
    event: dict[str, Any], context: LambdaContext, *, worker: Worker
) -> PartialItemFailureResponse:
    """Process the batch; flush metrics and traces before returning, whatever happened."""
    invocation = Invocation.start(worker, context)
    processor = SharedLoopBatchProcessor(worker.loop, timeout_seconds=invocation.remaining_seconds)
    try:
        return async_process_partial_response(
            event=event,
            record_handler=RecordProcessor(invocation).handle,
            processor=processor,
            context=context,
        )
    finally:
        invocation.metrics.flush()
        worker.tracing.flush()
