"""One invocation: Powertools' batch processor, run on the shared loop, within the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.services.invocation import Invocation
from worker.services.processor import RecordProcessor
from worker.services.shared_batch import SharedLoopBatchProcessor

if TYPE_CHECKING:
    from worker.runtime import Worker


def process_event(
    event: dict[str, Any], context: LambdaContext, *, worker: Worker
) -> PartialItemFailureResponse:
    """Process the batch; flush metrics and traces before returning, whatever happened."""
    invocation = Invocation.start(worker, context)
    processor = SharedLoopBatchProcessor(worker.loop, timeout_seconds=invocation.remaining_seconds)
    try:
        return async_process_partial_response(
            event=event,
            record_handler=RecordProcessor(invocation).handle,
            processor=processor,
            context=context,
        )
    finally:
        invocation.metrics.flush()
        worker.tracing.flush()
