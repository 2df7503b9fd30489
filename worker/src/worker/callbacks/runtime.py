"""The delivery function's long-lived collaborators, built once per process (cold start).

A delivery function without a valid WEBHOOK_SIGNING_SECRET or CALLBACKS_QUEUE_URL could send
nothing that receivers can trust, so it refuses to start: every invocation raises
ConfigurationError naming the setting, the batch returns to the queue (and, once the redrive
count is spent, to the callbacks DLQ), and the function's Errors alarm fires. Fix the setting,
then redrive the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import httpx
from standardwebhooks import Webhook

from gen_ai_contracts import logs, snapstart
from gen_ai_contracts.settings import ConfigurationError
from worker.callbacks.log import logger
from worker.callbacks.sender import new_http_client
from worker.callbacks.signing import webhook_signer
from worker.callbacks.store import CallbackStore
from worker.config import Settings, get_settings
from worker.services.aws import dynamodb_client, sqs_client
from worker.services.loop import SharedLoop, shared_loop

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient


@dataclass(frozen=True)
class Callbacks:
    """Everything a delivery invocation needs besides its event and context."""

    settings: Settings
    queue_url: str
    store: CallbackStore
    sqs: SQSClient
    http: httpx.AsyncClient
    signer: Webhook
    loop: SharedLoop


def build_callbacks(
    settings: Settings,
    *,
    dynamodb: DynamoDBClient | None = None,
    sqs: SQSClient | None = None,
    http: httpx.AsyncClient | None = None,
    loop: SharedLoop = shared_loop,
) -> Callbacks:
    """Wire the delivery function; ConfigurationError when it could not sign or retry."""
    signer = webhook_signer(settings.webhook_signing_secret)
    if not settings.callbacks_queue_url:
        raise ConfigurationError(
            "CALLBACKS_QUEUE_URL is not set: the delivery function needs its own queue's URL "
            "to schedule retries (the stack sets it)."
        )
    region = settings.aws_region
    return Callbacks(
        settings=settings,
        queue_url=settings.callbacks_queue_url,
        store=CallbackStore(dynamodb or dynamodb_client(region), settings.jobs_table_name),
        sqs=sqs or sqs_client(region),
        http=http or new_http_client(),
        signer=signer,
        loop=loop,
    )


@cache
def get_callbacks() -> Callbacks:
    """The process's delivery runtime, built on the first invocation (not cached on failure)."""
    settings = get_settings()
    logs.configure_logging(logger, settings.log_level)
    return build_callbacks(settings)


@snapstart.register_after_restore
def _after_restore() -> None:
    """SnapStart: the next invocation builds a new HTTP client, boto3 clients and settings."""
    snapstart.reset_process_state()
    get_settings.cache_clear()
    get_callbacks.cache_clear()
