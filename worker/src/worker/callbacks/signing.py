"""Standard Webhooks signatures with the `standardwebhooks` package (never hand-rolled HMAC)."""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime

from pydantic import SecretStr
from standardwebhooks import Webhook

from gen_ai_contracts.settings import ConfigurationError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# The spec's bounds on the key behind `whsec_`.
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
_HOW_TO_FIX = (
    "Set WEBHOOK_SIGNING_SECRET (key of the app secret, or an environment variable) to "
    'whsec_ + the base64 of 24-64 random bytes, e.g. the output of: python -c "import base64, '
    "secrets; print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\""
)


def webhook_signer(secret: SecretStr | None) -> Webhook:
    """The signer for WEBHOOK_SIGNING_SECRET, or ConfigurationError saying what is wrong with it
    (never its value)."""
    if secret is None:
        raise ConfigurationError(f"WEBHOOK_SIGNING_SECRET is not set. {_HOW_TO_FIX}")
    value = secret.get_secret_value().strip()
    if not value.startswith(SECRET_PREFIX):
        raise ConfigurationError(f"WEBHOOK_SIGNING_SECRET must start with whsec_. {_HOW_TO_FIX}")
    encoded = value.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"WEBHOOK_SIGNING_SECRET is not base64 after whsec_. {_HOW_TO_FIX}"
        ) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ConfigurationError(
            f"WEBHOOK_SIGNING_SECRET holds {len(key)} bytes, not 24-64. {_HOW_TO_FIX}"
        )
    return Webhook(key)


def signed_headers(
    signer: Webhook, *, webhook_id: str, payload: str, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; `now` (aware) is the attempt's time."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(math.floor(now.timestamp())),
        "webhook-signature": signer.sign(webhook_id, now, payload),
    }
