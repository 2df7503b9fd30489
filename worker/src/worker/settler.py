"""Lambda entry point of the DLQ settler (handler `worker.settler.handler`), run on a schedule.

It reads the worker's settings (the stack gives it the worker's environment): JOBS_TABLE_NAME,
DLQ_URL (required), CALLBACKS_QUEUE_URL, SETTLER_MAX_MESSAGES, SETTLER_VISIBILITY_SECONDS. It
never imports the LLM stack, so a run costs a few hundred milliseconds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gen_ai_contracts import snapstart
from gen_ai_contracts.settings import ConfigurationError
from worker.config import get_settings
from worker.log import configure_logging, logger
from worker.services.aws import dynamodb_client, sqs_client
from worker.services.dead_letters import DeadLetterSettler
from worker.services.jobs import JobStore
from worker.services.metrics import JobMetrics


@cache
def get_settler() -> DeadLetterSettler:
    """The process's settler, built on the first run (cold start)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.dlq_url:
        raise ConfigurationError("DLQ_URL is not set: the settler has no dead-letter queue to read")
    region = settings.aws_region
    return DeadLetterSettler(
        sqs=sqs_client(region),
        jobs=JobStore(dynamodb_client(region), settings.jobs_table_name),
        dlq_url=settings.dlq_url,
        callbacks_queue_url=settings.callbacks_queue_url,
        max_messages=settings.settler_max_messages,
        visibility_seconds=settings.settler_visibility_seconds,
    )


@snapstart.register_after_restore
def _after_restore() -> None:
    """SnapStart (if ever enabled here): the next run builds its clients and settings again."""
    snapstart.reset_process_state()
    get_settings.cache_clear()
    get_settler.cache_clear()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """One pass over the DLQ (an EventBridge scheduled event; its content is not used)."""
    settler = get_settler()
    report = settler.run(seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    metrics = JobMetrics(get_settings().powertools_metrics_namespace)
    if settled := report.outcomes.get("settled", 0):
        metrics.dead_letters_settled(settled)
    metrics.flush()
    summary = report.as_dict()
    log = logger.info if report.received else logger.debug  # an empty DLQ is the normal case
    log("dead-letter queue settled", extra=summary)
    return summary
