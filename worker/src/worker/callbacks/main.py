"""Lambda entry point of webhook delivery: an SQS event source mapping on the callbacks queue
with ReportBatchItemFailures (handler `worker.callbacks.main.handler`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.callbacks.batch import process_event
from worker.callbacks.log import logger
from worker.callbacks.runtime import get_callbacks


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Deliver one batch of events; the response lists only records SQS should deliver again."""
    return process_event(event, context, callbacks=get_callbacks())
