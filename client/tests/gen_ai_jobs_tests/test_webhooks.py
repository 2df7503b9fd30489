"""`verify_webhook`: events signed as the API signs them (the standardwebhooks library) pass;
anything altered, late, early or signed with another secret does not."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from gen_ai_jobs import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
EVENT = {
    "type": "job.succeeded",
    "timestamp": "2026-11-23T12:00:00Z",
    "data": {"job_id": "6f1c", "status": "succeeded", "result": {"name": "Ada"}},
}
BODY = json.dumps(EVENT).encode()


def signed_headers(
    body: bytes = BODY, *, secret: str = SECRET, at: float | None = None, msg_id: str = "msg_1"
) -> dict[str, str]:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    signature = Webhook(secret).sign(msg_id, moment, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


def test_a_valid_event_is_returned_parsed() -> None:
    assert verify_webhook(signed_headers(), BODY, SECRET) == EVENT


def test_the_body_may_be_text_and_header_names_any_case() -> None:
    headers = {name.title(): value for name, value in signed_headers().items()}

    assert verify_webhook(headers, BODY.decode(), SECRET) == EVENT


def test_one_valid_signature_among_several_is_enough_for_secret_rotation() -> None:
    headers = signed_headers()
    old = signed_headers(secret=OTHER_SECRET)["webhook-signature"]
    headers["webhook-signature"] = (
        f"v2,abc v1,not-base64!! garbage {old} {headers['webhook-signature']}"
    )

    assert verify_webhook(headers, BODY, SECRET) == EVENT


def test_another_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        verify_webhook(signed_headers(secret=OTHER_SECRET), BODY, SECRET)


def test_an_altered_body_is_refused() -> None:
    altered = BODY.replace(b"Ada", b"Eve")

    with pytest.raises(WebhookVerificationError, match="no valid signature"):
        verify_webhook(signed_headers(), altered, SECRET)


def test_another_webhook_id_is_refused() -> None:
    headers = signed_headers()
    headers["webhook-id"] = "msg_2"

    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, SECRET)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(offset: int) -> None:
    headers = signed_headers(at=time.time() + offset)

    with pytest.raises(WebhookVerificationError, match="more than 300 s from now"):
        verify_webhook(headers, BODY, SECRET)


def test_the_tolerance_can_be_changed() -> None:
    headers = signed_headers(at=time.time() - 600)

    assert verify_webhook(headers, BODY, SECRET, tolerance_seconds=900) == EVENT
    with pytest.raises(WebhookVerificationError):
        verify_webhook(signed_headers(at=time.time() - 60), BODY, SECRET, tolerance_seconds=30)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed_headers()
    del headers[missing]

    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(headers, BODY, SECRET)


def test_a_timestamp_that_is_not_unix_seconds_is_refused() -> None:
    headers = signed_headers()
    headers["webhook-timestamp"] = "2026-11-23T12:00:00Z"

    with pytest.raises(WebhookVerificationError, match="Unix seconds"):
        verify_webhook(headers, BODY, SECRET)


@pytest.mark.parametrize(
    ("body", "reason"), [(b"not json", "not JSON"), (b"[1, 2]", "not a JSON object")]
)
def test_a_signed_body_that_is_not_an_event_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookVerificationError, match=reason):
        verify_webhook(signed_headers(body), body, SECRET)


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="UTF-8"):
        verify_webhook(signed_headers(), b"\xff\xfe", SECRET)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_***"])
def test_an_unusable_secret_is_a_verification_error(secret: str) -> None:
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_webhook(signed_headers(), BODY, secret)
