"""The DLQ settler's EventBridge schedule, emulated: one thread invokes the settler's handler
every few seconds, as the deployed rule does every minute (provisioning/stack/settler.py).

One thread, so runs never overlap (the deployed function has a reserved concurrency of 1). Each
run gets a "Scheduled Event" and a context whose remaining time follows the function's 60 s
timeout, which is what the settler stops receiving by. A failed run is logged and the next
tick runs again, as Lambda's Errors and the next scheduled invocation would.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.config import REGION, STACK_PREFIX
from devstack.lambda_runtime import LambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
logger = logging.getLogger("devstack.settler")

DEFAULT_INTERVAL_SECONDS = 5.0
# The deployed function's timeout and memory (provisioning.stack.settler).
FUNCTION_TIMEOUT_SECONDS = 60.0
FUNCTION_MEMORY_MB = 256
FUNCTION_NAME = f"{STACK_PREFIX}-settler"
ACCOUNT = "123456789012"  # moto's default account
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{FUNCTION_NAME}-schedule"


def scheduled_event(*, now: datetime | None = None) -> dict[str, Any]:
    """What EventBridge sends a Lambda target of a schedule rule."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [RULE_ARN],
        "detail": {},
    }


@dataclass
class SettlerStats:
    """What the schedule did, for tests and the console."""

    runs: int = 0
    failures: int = 0
    last_result: Any = None


class SettlerLoop:
    """Start with ``start()``; ``stop()`` stops ticking and waits (bounded) for a run."""

    def __init__(
        self,
        *,
        handler: Handler,
        interval_seconds: float,
        timeout_seconds: float = FUNCTION_TIMEOUT_SECONDS,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be > 0 (a devstack without a settler has none)")
        self._handler = handler
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settler-schedule", daemon=True)
        self.stats = SettlerStats()

    def start(self) -> SettlerLoop:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """No further ticks; a run in progress finishes (``stop`` waits for it)."""
        self._stopping.set()

    def stop(self, timeout: float | None = None) -> None:
        """A run stops receiving 5 s before its deadline, so it ends within the timeout."""
        self._stopping.set()
        self._thread.join(timeout=self._timeout + 5 if timeout is None else timeout)

    def run_once(self) -> Any:
        """One scheduled invocation; its error is logged, as Lambda records a failed run."""
        context = LambdaContext(
            function_name=FUNCTION_NAME,
            timeout_seconds=self._timeout,
            memory_limit_in_mb=FUNCTION_MEMORY_MB,
            log_group_name=f"/aws/lambda/{FUNCTION_NAME}",
        )
        try:
            result = self._handler(scheduled_event(), context)
        except Exception:
            logger.exception("DLQ settler run failed; the next tick runs again")
            self.stats.failures += 1
            result = None
        self.stats.runs += 1
        self.stats.last_result = result
        return result

    def _run(self) -> None:
        # The first tick comes one interval after start, as a new schedule rule's does.
        while not self._stopping.wait(self._interval):
            self.run_once()
