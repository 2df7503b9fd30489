"""API key guard: `X-API-Key` must match one of `API_KEYS`; with none configured, all is open."""

import hashlib
import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.logs import logger

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="One of the keys configured in API_KEYS."
)
ApiKeyDep = Annotated[str | None, Security(api_key_header)]


async def require_api_key(api_key: ApiKeyDep) -> None:
    """Raise 401 unless the header matches a configured key (no keys: open, for local dev)."""
    settings = get_settings()
    if not settings.api_keys:
        return
    if api_key is None or not matches_any_key(api_key, settings.api_keys):
        raise HTTPException(status_code=401)  # body and code: api/errors.py


def matches_any_key(candidate: str, keys: Iterable[SecretStr]) -> bool:
    """Constant-time compare against every key, without stopping at the first match, so the
    timing reveals neither a key's content nor which key matched."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate.encode(), key.get_secret_value().encode())
    return matched


def client_scope(api_key: str | None, settings: Settings) -> str:
    """Whose request this is, as a name safe to store: `default` when the API is open, else a
    fingerprint of the (already verified) key, never the key. It is the tenant: Idempotency
    keys live in its namespace and its jobs' messages carry it as MessageGroupId (SQS fair
    queues). Mapping keys to tenants later changes this one function."""
    if not settings.api_keys or api_key is None:
        return "default"
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def log_auth_mode(settings: Settings) -> None:
    """Said once at start-up, so an accidentally open deployment shows in its logs."""
    if not settings.api_keys:
        logger.warning("API_KEYS is not configured: every endpoint is open to anyone")
