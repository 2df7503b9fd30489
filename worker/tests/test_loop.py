"""The shared event loop: one per process, never closed, safe to call from many threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from worker.services.loop import SharedLoop


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_every_call_uses_the_same_open_loop_from_any_thread() -> None:
    shared = SharedLoop()
    loops = [shared.run(_current_loop(), timeout=5) for _ in range(2)]
    threads = [
        threading.Thread(target=lambda: loops.append(shared.run(_current_loop(), timeout=5)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(loops) == 5
    assert len({id(loop) for loop in loops}) == 1
    assert not loops[0].is_closed()


def test_calls_from_two_threads_run_concurrently() -> None:
    shared = SharedLoop()
    barrier = asyncio.Event()

    async def wait_for_partner() -> str:
        if barrier.is_set():
            return "second"
        barrier.set()
        await asyncio.sleep(0.2)
        return "first"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(shared.run(wait_for_partner(), timeout=5)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(results) == ["first", "second"]


def test_a_caller_inside_its_own_event_loop_is_not_disturbed() -> None:
    shared = SharedLoop()

    async def caller() -> bool:
        mine = asyncio.get_running_loop()
        theirs = await asyncio.to_thread(shared.run, _current_loop(), timeout=5)
        return theirs is not mine and asyncio.get_running_loop() is mine

    assert asyncio.run(caller())


def test_overrunning_work_is_cancelled() -> None:
    shared = SharedLoop()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        shared.run(forever(), timeout=0.1)
    assert cancelled.wait(timeout=2)
