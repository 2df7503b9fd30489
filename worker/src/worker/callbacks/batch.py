"""One delivery invocation: every record of the batch concurrently, on the shared loop."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.callbacks.delivery import CallbackDelivery
from worker.callbacks.invocation import CallbackInvocation
from worker.callbacks.runtime import Callbacks
from worker.services.shared_batch import SharedLoopBatchProcessor


def process_event(
    event: dict[str, Any], context: LambdaContext, *, callbacks: Callbacks
) -> PartialItemFailureResponse:
    """Deliver the batch; flush metrics before returning, whatever happened."""
    invocation = CallbackInvocation.start(callbacks, context)
    processor = SharedLoopBatchProcessor(
        callbacks.loop, timeout_seconds=invocation.remaining_seconds
    )
    try:
        return async_process_partial_response(
            event=event,
            record_handler=CallbackDelivery(invocation).handle,
            processor=processor,
            context=context,
        )
    finally:
        invocation.metrics.flush()
