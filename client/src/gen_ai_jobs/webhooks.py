"""Verify a webhook the API sent (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from gen_ai_jobs.errors import WebhookVerificationError

DEFAULT_TOLERANCE_SECONDS = 300


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The event (`{"type", "timestamp", "data"}`) when the signature is valid and the timestamp
    within `tolerance_seconds` of now; WebhookVerificationError otherwise.

    Pass the body exactly as received (the raw bytes, before any JSON parsing) and the
    `whsec_...` secret the API signs with. Receivers should dedupe on `webhook-id`: it is the
    same for every retry of one event."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id, timestamp, signatures = (
        lowered.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    sent_at = _check_timestamp(timestamp, tolerance_seconds)
    text = _text(body)
    # The library signs exactly as the spec says; we compare ourselves because its `verify`
    # fixes the tolerance at 5 minutes and raises ValueError on a malformed signature header.
    expected = _signature_bytes(_webhook(secret).sign(msg_id, sent_at, text))
    if not any(
        hmac.compare_digest(expected, candidate) for candidate in _v1_signatures(signatures)
    ):
        raise WebhookVerificationError("no valid signature: wrong secret or altered body")
    return _event(text)


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise WebhookVerificationError("the body is not UTF-8") from None


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except (binascii.Error, ValueError, RuntimeError, EmptyWebhookSecretError) as error:
        raise WebhookVerificationError(
            "the secret is not a valid whsec_<base64> signing secret"
        ) from error


def _check_timestamp(header: str, tolerance_seconds: int) -> datetime:
    try:
        seconds = int(header)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not Unix seconds") from None
    if abs(time.time() - seconds) > tolerance_seconds:
        raise WebhookVerificationError(
            f"webhook-timestamp is more than {tolerance_seconds} s from now (replayed, or a "
            "clock is wrong)"
        )
    return datetime.fromtimestamp(seconds, UTC)


def _v1_signatures(header: str) -> list[bytes]:
    """The decodable `v1,<base64>` entries of a space-separated list; others are skipped."""
    found = []
    for entry in header.split():
        version, _, signature = entry.partition(",")
        if version == "v1":
            try:
                found.append(base64.b64decode(signature, validate=True))
            except binascii.Error:
                continue
    return found


def _signature_bytes(signature: str) -> bytes:
    return base64.b64decode(signature.partition(",")[2])


def _event(text: str) -> dict[str, Any]:
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return event
