"""One long-lived event loop per process, on a daemon thread, shared by every invocation.

litellm and httpx cache async clients bound to the loop that created them, and the process
may host other components (the devstack poller calls the handler from several threads). So
the handler never creates, closes or replaces an event loop: it submits its batch coroutine
here and waits for the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
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
        self._thread: threading.Thread | None = None

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
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="worker-loop", daemon=True
                )
                self._thread.start()
            return self._loop

    def close(self, timeout: float = 5.0) -> None:
        """End the loop cleanly (a process that hosts the handler, e.g. the devstack, calls
        this when it stops): litellm's logging worker is stopped, every other task cancelled
        and awaited, each within ``timeout``, so nothing is destroyed while pending. The next
        ``run`` starts a new loop."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):  # best effort: the process is stopping anyway
            asyncio.run_coroutine_threadsafe(_wind_down(timeout), loop).result(2 * timeout + 1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()


async def _wind_down(bound_seconds: float) -> None:
    """Stop litellm's background logging worker (if litellm was ever imported), then cancel
    and await whatever else still runs on this loop."""
    logging_worker = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    if logging_worker is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(logging_worker.GLOBAL_LOGGING_WORKER.stop(), bound_seconds)
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=bound_seconds)


shared_loop = SharedLoop()
