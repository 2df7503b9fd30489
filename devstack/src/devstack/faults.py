"""Faults the devstack can inject into its own Lambdas, for the reliability tests.

- Lost responses: a write AWS applies whose answer never arrives (botocore raises
  ReadTimeoutError and, in standard retry mode, sends the same request again). That is how a
  claim comes back "busy with itself" or a re-send arrives twice in AWS, and moto alone never
  does it.
- Crashed invocations: the poller hands a record to no handler and reports nothing, as when a
  Lambda dies (SIGKILL, OOM, hard timeout) before it settles the record; SQS redelivers it
  after the visibility timeout and, on its last receive, dead-letters it.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import boto3
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

logger = logging.getLogger("devstack.faults")

# The writes whose lost answers matter: claims and job transitions, re-sends and webhook events.
LOSABLE_CALLS = ("before-send.dynamodb.UpdateItem", "before-send.sqs.SendMessage")
LOST_RESPONSE = "fault injection"  # starts every log line about a lost response


def lose_responses(rate: float, *, seed: int | None = None, session: Any = None) -> None:
    """From now on, each UpdateItem/SendMessage of clients made from ``session`` (default:
    boto3's default session, which every Lambda client here uses) is, with probability
    ``rate``, applied and then reported as a read timeout. Call before the clients exist."""
    if rate <= 0:
        return
    rng = random.Random(seed)
    lock = threading.Lock()
    http = URLLib3Session(timeout=10)  # bounded, like every call here

    def apply_then_time_out(request: Any, event_name: str = "", **_: Any) -> None:
        with lock:
            lose = rng.random() < rate
        if not lose:
            return
        http.send(request)  # AWS applies the write ...
        logger.warning("%s: %s applied, response lost", LOST_RESPONSE, event_name)
        raise ReadTimeoutError(endpoint_url=request.url)  # ... and its answer is lost

    events = (session or boto3.DEFAULT_SESSION or _default_session()).events
    for event in LOSABLE_CALLS:
        events.register_first(event, apply_then_time_out)
    logger.warning("fault injection: %.0f%% of writes lose their response", rate * 100)


def _default_session() -> Any:
    boto3.setup_default_session()
    return boto3.DEFAULT_SESSION
