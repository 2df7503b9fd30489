"""A webhook receiver on 127.0.0.1 for tests: records every request, answers from a script.

The first requests get the scripted statuses (and delays), later ones ``default_status``. A 3xx
answer carries ``Location: redirect_to``. It does not verify signatures: tests do, with the
same `standardwebhooks` package receivers use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class ReceivedWebhook:
    """One request as it arrived: header names lower-cased, the body as sent."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """``with WebhookReceiver(statuses=[500, 500]) as receiver: ... receiver.url ...``"""

    def __init__(
        self,
        *,
        statuses: Iterable[int] = (),
        delays: Iterable[float] = (),
        default_status: int = 200,
        redirect_to: str | None = None,
    ) -> None:
        self._statuses = list(statuses)
        self._delays = list(delays)
        self._default_status = default_status
        self._redirect_to = redirect_to
        self._lock = threading.Lock()
        self._received: list[ReceivedWebhook] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self.url_for("/hooks/jobs")

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedWebhook]:
        """The requests once at least ``count`` arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(received := self.requests) < count:
            assert time.monotonic() < deadline, f"{len(received)} of {count} webhooks arrived"
            time.sleep(0.05)
        return received

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, received: ReceivedWebhook) -> tuple[int, float]:
        with self._lock:
            index = len(self._received)
            self._received.append(received)
        status = self._statuses[index] if index < len(self._statuses) else self._default_status
        delay = self._delays[index] if index < len(self._delays) else 0.0
        return status, delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = ReceivedWebhook(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                status, delay = receiver._answer(received)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    if 300 <= status < 400 and receiver._redirect_to:
                        self.send_header("Location", receiver._redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (its timeout): that is the test's point

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``requests`` instead."""

        return Handler
