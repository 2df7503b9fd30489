"""What the app does when its server stops (uvicorn in the devstack, TestClient in tests;
Mangum runs no lifespan under Lambda, where nothing outlives the process anyway)."""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI

# litellm's logging worker lives on the loop of the first LLM call; bound its stop.
_STOP_SECONDS = 2.0


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Nothing at start-up (create_app did it); at shutdown, stop litellm's background logging
    task, if `/extract-user` ever started it, so the loop does not close with it pending
    ("Task was destroyed but it is pending!")."""
    yield
    await stop_litellm_logging()


async def stop_litellm_logging() -> None:
    module = sys.modules.get("litellm.litellm_core_utils.logging_worker")
    if module is not None:
        with contextlib.suppress(Exception):  # best effort: the server is stopping anyway
            await asyncio.wait_for(module.GLOBAL_LOGGING_WORKER.stop(), _STOP_SECONDS)
