"""Powertools' async batch processor, run on the process's shared event loop.

Its own ``async_process`` uses ``asyncio.run`` or the thread's loop (see services.loop); both
Lambda handlers of this package (jobs and webhook delivery) use this one instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType

from worker.services.loop import SharedLoop


class SharedLoopBatchProcessor(AsyncBatchProcessor):
    """Records run concurrently on ``loop``; the whole batch is bounded by ``timeout_seconds``."""

    def __init__(self, loop: SharedLoop, *, timeout_seconds: float) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._shared_loop = loop
        self._timeout_seconds = timeout_seconds

    def async_process(self) -> list[tuple[Any, ...]]:
        return self._shared_loop.run(self._process_all(), timeout=self._timeout_seconds)

    async def _process_all(self) -> list[tuple[Any, ...]]:
        records = [self._async_process_record(record) for record in self.records]
        return list(await asyncio.gather(*records))
