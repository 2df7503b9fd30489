"""The record handler: one callback event -> read the job -> sign -> POST -> record the outcome.

Returning acknowledges the SQS record; raising RecordRetry reports it in `batchItemFailures`,
after setting when it comes back (ChangeMessageVisibility). Every attempt is counted in the
job's `callback` state, so the bound holds across duplicate copies of one event too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, NoReturn

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from gen_ai_contracts.jobs import CallbackState
from gen_ai_contracts.webhooks import CallbackEvent, CallbackTargetError
from worker.callbacks.backoff import retry_delay_seconds
from worker.callbacks.invocation import CallbackInvocation
from worker.callbacks.log import logger
from worker.callbacks.sender import (
    WEBHOOK_TIMEOUT_SECONDS,
    AttemptResult,
    event_payload,
    post_event,
)
from worker.callbacks.signing import signed_headers
from worker.callbacks.store import JobRecord, callback_state
from worker.callbacks.target import Target, pin_target
from worker.errors import RecordRetry
from worker.services.messages import Delivery

_AWS_ERRORS = (ClientError, BotoCoreError)


def read_event(body: str) -> CallbackEvent | None:
    try:
        return CallbackEvent.model_validate_json(body)
    except ValidationError:
        return None


class CallbackDelivery:
    """Powertools record handler for one invocation of the delivery function."""

    def __init__(self, invocation: CallbackInvocation) -> None:
        self._run = invocation
        self._callbacks = invocation.callbacks
        self._settings = invocation.callbacks.settings

    async def handle(self, record: SQSRecord) -> str:
        delivery = Delivery.from_record(record)
        keys: dict[str, Any] = {
            "message_id": delivery.message_id,
            "receive_count": delivery.receive_count,
        }
        event = read_event(delivery.body)
        if event is None:
            logger.error("callback message is not an event; acknowledged", extra=keys)
            return "rejected"
        keys.update(job_id=event.job_id, webhook_id=event.webhook_id, event=event.type)
        try:
            async with asyncio.timeout_at(self._run.deadline):
                return await self._deliver(event, delivery, keys)
        except TimeoutError:
            logger.warning("no time left in this invocation; event redelivered", extra=keys)
            raise RecordRetry("deadline_exceeded") from None

    async def _deliver(self, event: CallbackEvent, delivery: Delivery, keys: dict[str, Any]) -> str:
        record = await self._aws(self._callbacks.store.read, event.job_id, keys=keys)
        if record is None:
            logger.warning("job gone (expired); event dropped", extra=keys)
            return "job_gone"
        seen = callback_state(record)
        if not record.get("callback_url"):
            logger.warning("job has no callback_url; event dropped", extra=keys)
            return "no_callback"
        if seen is not None and seen.status != "pending":
            logger.info("webhook already settled; duplicate event acknowledged", extra=keys)
            return "already_settled"
        attempts = seen.attempts if seen else 0
        try:
            target = await self._target(str(record["callback_url"]))
        except CallbackTargetError as exc:
            refused = CallbackState(status="failed", attempts=attempts, last_status_code=None)
            await self._settle(event, delivery, keys, seen, refused)
            logger.warning("webhook target refused", extra={**keys, "reason": str(exc)})
            self._run.metrics.refused()
            return "refused"
        result = await self._attempt(event, record, target)
        return await self._record(event, delivery, keys, seen, attempts + 1, result)

    async def _target(self, url: str) -> Target | None:
        """The checked target; None when resolution did not answer in time (a failed attempt)."""
        allow_private = self._settings.webhook_allow_private_targets
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(pin_target, url, allow_private=allow_private),
                WEBHOOK_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            return None

    async def _attempt(
        self, event: CallbackEvent, record: JobRecord, target: Target | None
    ) -> AttemptResult:
        if target is None:
            return AttemptResult(None, "ResolveTimeout", WEBHOOK_TIMEOUT_SECONDS)
        payload = event_payload(event, record)
        headers = signed_headers(
            self._callbacks.signer,
            webhook_id=event.webhook_id,
            payload=payload,
            now=datetime.now(UTC),
        )
        return await post_event(self._callbacks.http, target, headers=headers, payload=payload)

    async def _record(
        self,
        event: CallbackEvent,
        delivery: Delivery,
        keys: dict[str, Any],
        seen: CallbackState | None,
        attempt: int,
        result: AttemptResult,
    ) -> str:
        keys = {**keys, "attempt": attempt, "status_code": result.status_code}
        if result.delivered:
            delivered = CallbackState(
                status="delivered", attempts=attempt, last_status_code=result.status_code
            )
            await self._settle(event, delivery, keys, seen, delivered)
            self._run.metrics.delivered(result.seconds)
            logger.info("webhook delivered", extra=keys)
            return "delivered"
        self._run.metrics.attempt_failed()
        keys["error"] = result.error
        give_up = attempt >= self._settings.webhook_max_attempts
        state = CallbackState(
            status="failed" if give_up else "pending",
            attempts=attempt,
            last_status_code=result.status_code,
        )
        await self._settle(event, delivery, keys, seen, state)
        if give_up:
            self._run.metrics.gave_up()
            logger.warning("webhook failed: no attempts left", extra=keys)
            return "failed"
        delay = retry_delay_seconds(
            attempt,
            base_seconds=self._settings.webhook_retry_base_seconds,
            cap_seconds=self._settings.webhook_retry_cap_seconds,
        )
        logger.info("webhook attempt failed; retrying", extra={**keys, "retry_in_seconds": delay})
        await self._retry_in(delivery, delay, keys, "webhook_attempt_failed")

    async def _settle(
        self,
        event: CallbackEvent,
        delivery: Delivery,
        keys: dict[str, Any],
        seen: CallbackState | None,
        new: CallbackState,
    ) -> None:
        """Record the new state, or redeliver: after a successful POST too (receivers dedupe
        on webhook-id), since acking an unrecorded outcome would lose the count."""
        store = self._callbacks.store
        written = await self._aws(store.settle, event.job_id, seen=seen, new=new, keys=keys)
        if not written:
            # Another copy of this event changed the state since we read it: read it again.
            logger.info("webhook state changed meanwhile; event re-read shortly", extra=keys)
            await self._retry_in(delivery, 1, keys, "callback_state_changed")

    async def _aws(self, call: Any, *args: Any, keys: dict[str, Any], **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except _AWS_ERRORS as exc:
            logger.warning("jobs table unavailable; event redelivered", extra=keys)
            raise RecordRetry("aws_unavailable") from exc

    async def _retry_in(
        self, delivery: Delivery, seconds: int, keys: dict[str, Any], reason: str
    ) -> NoReturn:
        try:
            await asyncio.to_thread(
                self._callbacks.sqs.change_message_visibility,
                QueueUrl=self._callbacks.queue_url,
                ReceiptHandle=delivery.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except _AWS_ERRORS:
            logger.warning("visibility unchanged; the queue's timeout applies", extra=keys)
        raise RecordRetry(reason)
