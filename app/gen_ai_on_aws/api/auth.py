"""Who is calling: `X-API-Key` names a tenant through `API_KEYS`; without keys, fail closed.

- Keys configured: a request without a known key is 401; its tenant is the key's tenant.
- No keys, `ALLOW_ANONYMOUS=true` (the devstack): open, every caller is tenant `default`.
- No keys otherwise (a fresh deploy): 503 `auth_not_configured` on every guarded route, so
  nothing is enqueued or read until the owner adds a key.
The keys in force are re-read from the secret now and then (`api.keyring`), so a key added or
revoked reaches warm instances too.

The tenant scopes everything a caller addresses: its jobs, its Idempotency-Keys, its messages'
MessageGroupId and its request rate (`api.tenant_rate`).
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from gen_ai_contracts.api_keys import DEFAULT_TENANT, ApiKeyring
from gen_ai_on_aws.api.blocking import run_blocking
from gen_ai_on_aws.api.errors import ApiError
from gen_ai_on_aws.api.keyring import keyring_for
from gen_ai_on_aws.api.tenant_rate import check_tenant_rate
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.logs import bind_tenant, logger

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key listed in API_KEYS for your tenant."
)
ApiKeyDep = Annotated[str | None, Security(api_key_header)]

AUTH_NOT_CONFIGURED = (
    "No API keys are configured, so this API serves nothing but /health. Add a key to API_KEYS"
    " (`gen-ai-jobs admin keys create --tenant NAME --apply`), or set ALLOW_ANONYMOUS=true to"
    " serve every caller without a key."
)


async def authenticate(request: Request, api_key: ApiKeyDep) -> str:
    """The caller's tenant, or 401 / 503 `auth_not_configured`; then its rate limit (429)."""
    settings = get_settings()
    keyring = keyring_for(settings)
    if keyring.due():
        await run_blocking(request, keyring.refresh)
    tenant = _tenant_of(keyring.keys, api_key)
    if tenant is None and keyring.may_refresh_after_miss():  # a key added since?
        checked_at = keyring.checkpoint()
        await run_blocking(request, lambda: keyring.refresh(unless_tried_since=checked_at))
        tenant = _tenant_of(keyring.keys, api_key)
    if tenant is None:
        if keyring.keys:
            raise HTTPException(status_code=401)  # body and code: api/errors.py
        if not (settings.allow_anonymous and keyring.may_be_anonymous):
            raise ApiError(503, "auth_not_configured", AUTH_NOT_CONFIGURED)
        tenant = DEFAULT_TENANT
    bind_tenant(tenant)
    await check_tenant_rate(request, tenant, settings)
    return tenant


TenantDep = Annotated[str, Depends(authenticate)]


def _tenant_of(keys: ApiKeyring, api_key: str | None) -> str | None:
    """The key's tenant; None for no key, an unknown key, or no keys configured."""
    return None if api_key is None or not keys else keys.tenant_of(api_key)


def log_auth_mode(settings: Settings) -> None:
    """Said once at start-up, so the mode a deployment is in shows in its logs."""
    keys = settings.api_keys
    if keys:
        mode = {"tenants": sorted(keys.tenants), "keys": keys.key_count}
        if settings.allow_anonymous:
            logger.info("ALLOW_ANONYMOUS is ignored: API_KEYS is configured", extra=mode)
        logger.info("API keys required", extra=mode)
    elif settings.allow_anonymous:
        logger.warning("ALLOW_ANONYMOUS=true and no API_KEYS: every endpoint is open to anyone")
    else:
        logger.warning("API_KEYS is not configured: every endpoint but /health answers 503")
