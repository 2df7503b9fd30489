"""`run_blocking`: where a route runs its blocking boto3 calls, once per request.

Under Lambda (Mangum) a process serves one request at a time and the event loop has nothing
else to do, so the calls run inline: a worker thread would be started and stopped for every
invocation (anyio ties its threads to the invocation's root task), for nothing. Under uvicorn
(the devstack) they run in the thread pool, so other requests keep being served meanwhile.
Dependencies are async and never block, so this is the request's only thread hop.
"""

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

_T = TypeVar("_T")

# What Mangum adds to the ASGI scope of an event it serves (the API Gateway or URL event).
LAMBDA_EVENT_SCOPE_KEY = "aws.event"


async def run_blocking(request: Request, call: Callable[[], _T]) -> _T:
    """`call()`, inline under Lambda, else in the thread pool."""
    if LAMBDA_EVENT_SCOPE_KEY in request.scope:
        return call()
    return await run_in_threadpool(call)
