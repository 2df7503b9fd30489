"""Lambda entry point of the worker: an SQS event source mapping with ReportBatchItemFailures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.log import logger
from worker.runtime import get_worker
from worker.services.batch import process_event


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Process one batch; the response lists only the records SQS should deliver again."""
    return process_event(event, context, worker=get_worker())
