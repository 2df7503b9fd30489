"""The API keys in force: the cold start's, re-read from the secret now and then.

Settings are read once per cold start, but a warm Lambda instance can live for hours: a key
added or revoked with `gen-ai-jobs admin keys` (or by editing the secret) must not wait for it
to be recycled. So the keyring re-reads `API_KEYS` from the secret named by `APP_SECRET_ID`:
- every `API_KEYS_REFRESH_SECONDS` (default 300; 0 = never), so a revoked key stops working;
- and when a request presents a key it does not know (or no keys are configured yet), at most
  once per 30 s, so a new key works at once and a caller spraying wrong keys costs at most two
  Secrets Manager reads a minute.
A failed or malformed re-read keeps the keys in force and is logged (never with a key). Nothing
is re-read when `API_KEYS` comes from the environment (it wins over the secret).
"""

import json
import os
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from gen_ai_contracts.api_keys import ApiKeyring, ApiKeysError, parse_api_keys
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.aws import AwsCallError, create_secrets_client, describe_aws_error

MISS_REFRESH_SECONDS = 30.0
_SETTING = "API_KEYS"


class Keyring:
    """The keyring in force and when to re-read it; thread-safe (uvicorn serves concurrently)."""

    def __init__(
        self,
        settings: Settings,
        *,
        read_secret: Callable[[], dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = settings.api_keys
        self._read_secret = read_secret
        self._clock = clock
        self._every = settings.api_keys_refresh_seconds
        self._refreshable = bool(settings.app_secret_id) and not _set_in_environment()
        self._loaded_at = self._tried_at = clock()
        self._lock = threading.Lock()

    @property
    def keys(self) -> ApiKeyring:
        return self._keys

    def due(self) -> bool:
        """Time for the periodic re-read."""
        return self._refreshable and 0 < self._every <= self._clock() - self._loaded_at

    def may_refresh_after_miss(self) -> bool:
        """An unknown key (or none configured) may re-read, if none did for a while."""
        return self._refreshable and self._clock() - self._tried_at >= MISS_REFRESH_SECONDS

    def refresh(self) -> None:
        """Re-read `API_KEYS` from the secret (blocking); keep the current keys on failure."""
        with self._lock:
            self._tried_at = self._clock()
            try:
                keys = parse_api_keys(_api_keys_value(self._read_secret()))
            except AwsCallError as exc:
                reason = describe_aws_error(exc)
                logger.warning(
                    "API keys not refreshed: secret unreadable", extra={"reason": reason}
                )
                return
            except (ApiKeysError, ValueError) as exc:  # its message never holds a key
                logger.error(
                    "API keys not refreshed: API_KEYS is invalid", extra={"reason": str(exc)}
                )
                return
            if keys != self._keys:
                logger.info(
                    "API keys refreshed",
                    extra={"tenants": sorted(keys.tenants), "keys": keys.key_count},
                )
            self._keys = keys
            self._loaded_at = self._tried_at


@lru_cache(maxsize=1)
def keyring_for(settings: Settings) -> Keyring:
    """The process's keyring (one per settings, i.e. per cold start)."""
    return Keyring(settings, read_secret=lambda: _read_secret(settings), clock=now)


def now() -> float:
    """Monotonic seconds (a module function, so tests can move time)."""
    return time.monotonic()


def _read_secret(settings: Settings) -> dict[str, Any]:
    client = create_secrets_client(settings.aws_region)
    secret_string = client.get_secret_value(SecretId=str(settings.app_secret_id))["SecretString"]
    value = json.loads(secret_string or "{}")
    if not isinstance(value, dict):
        raise ValueError("the secret is not a JSON object")
    return value


def _api_keys_value(secret: dict[str, Any]) -> Any:
    """The secret's `API_KEYS` (names are case-insensitive, as for the settings)."""
    return next((value for name, value in secret.items() if name.upper() == _SETTING), None)


def _set_in_environment() -> bool:
    return any(name.upper() == _SETTING for name in os.environ)
