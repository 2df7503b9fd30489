"""One webhook attempt: the event's body and the POST, bounded by a 5 s timeout."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gen_ai_contracts.jobs import job_public, rfc3339
from gen_ai_contracts.webhooks import CallbackEvent
from worker.callbacks.target import Target

# The bound on one attempt: connect, send and the receiver's answer together.
WEBHOOK_TIMEOUT_SECONDS = 5.0
USER_AGENT = "gen-ai-on-aws-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    """The receiver's HTTP status (None when none came) and, if the request failed, why."""

    status_code: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def event_payload(event: CallbackEvent, record: Mapping[str, Any]) -> str:
    """`{"type", "timestamp", "data"}`: `data` is the job as GET /jobs/{id} shows it now."""
    body = {
        "type": event.type,
        "timestamp": rfc3339(event.occurred_at),
        "data": job_public(record).model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"))


def new_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(WEBHOOK_TIMEOUT_SECONDS),
        follow_redirects=False,
        # No proxy from the environment: the connection must go to the address we checked.
        trust_env=False,
        # No connection reuse: a kept-alive TLS connection to one name's address could carry a
        # later request for another name that resolves to the same address, unverified.
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def post_event(
    http: httpx.AsyncClient, target: Target, *, headers: dict[str, str], payload: str
) -> AttemptResult:
    """POST once; redirects are answers like any other non-2xx (never followed). The response
    body is never read: a receiver cannot make us download anything."""
    started = time.monotonic()
    all_headers = {"user-agent": USER_AGENT, **headers, **target.headers}
    try:
        async with asyncio.timeout(WEBHOOK_TIMEOUT_SECONDS):
            request = http.stream(
                "POST",
                target.url,
                content=payload.encode(),
                headers=all_headers,
                extensions=target.extensions,
            )
            async with request as response:
                return AttemptResult(response.status_code, None, time.monotonic() - started)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        # The class name only: httpx messages can quote the URL, which may hold a token.
        return AttemptResult(None, type(exc).__name__, time.monotonic() - started)
