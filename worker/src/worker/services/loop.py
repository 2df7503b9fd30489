"""One long-lived event loop per process, on a daemon thread, shared by every invocation.

litellm and httpx cache async clients bound to the loop that created them, and the process
may host other components (the devstack poller calls the handler from several threads). So
the handler never creates, closes or replaces an event loop: it submits its batch coroutine
here and waits for the result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

ResultT = TypeVar("ResultT")

# boto3 calls run in the loop's executor; enough threads for a full batch at full concurrency.
_IO_THREADS = 32


class SharedLoop:
    """Starts its loop on first use; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, coro: Coroutine[Any, Any, ResultT], *, timeout: float) -> ResultT:
        """Run ``coro`` on the shared loop; cancel it if it outlives ``timeout`` seconds."""
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                executor = ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="worker-io")
                self._loop.set_default_executor(executor)
                thread = threading.Thread(
                    target=self._loop.run_forever, name="worker-loop", daemon=True
                )
                thread.start()
            return self._loop


shared_loop = SharedLoop()
