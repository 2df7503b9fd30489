"""The API keys in force: the cold start's, re-read from the secret now and then.

Settings are read once per cold start, but a warm Lambda instance can live for hours: a key
added or revoked with `gen-ai-jobs admin keys` (or by editing the secret) must not wait for it
to be recycled. So the keyring re-reads `API_KEYS` from the secret named by `APP_SECRET_ID`:
- every `API_KEYS_REFRESH_SECONDS` (default 300; 0 = never), so a revoked key stops working;
- and when a request presents a key it does not know (or no keys are configured yet), at most
  once per 30 s, so a new key works at once and a caller spraying wrong keys costs at most two
  Secrets Manager reads a minute.
A failed or malformed re-read keeps the keys in force, is logged (never with a key) and is not
tried again for 30 s. Once keys were configured, removing them all closes the API (503) even
with ALLOW_ANONYMOUS: a revocation must never open it. Nothing is re-read when `API_KEYS` comes
from the environment (it wins over the secret).
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
        self._ever_had_keys = bool(settings.api_keys)
        self._read_secret = read_secret
        self._clock = clock
        self._every = settings.api_keys_refresh_seconds
        self._refreshable = bool(settings.app_secret_id) and not _set_in_environment()
        self._loaded_at = self._tried_at = clock()
        self._lock = threading.Lock()

    @property
    def keys(self) -> ApiKeyring:
        return self._keys

    @property
    def may_be_anonymous(self) -> bool:
        """False once any keys were configured: ALLOW_ANONYMOUS only opens a keyless start."""
        return not self._ever_had_keys

    def checkpoint(self) -> float:
        """Now, on the keyring's clock: pass it to `refresh(unless_tried_since=...)`."""
        return self._clock()

    def due(self) -> bool:
        """Time for the periodic re-read (and no attempt, failed or not, in the last 30 s)."""
        now = self._clock()
        return (
            self._refreshable
            and 0 < self._every <= now - self._loaded_at
            and now - self._tried_at >= MISS_REFRESH_SECONDS
        )

    def may_refresh_after_miss(self) -> bool:
        """An unknown key (or none configured) may re-read, if none did for a while."""
        return self._refreshable and self._clock() - self._tried_at >= MISS_REFRESH_SECONDS

    def refresh(self, *, unless_tried_since: float | None = None) -> None:
        """Re-read `API_KEYS` from the secret (blocking); keep the current keys on failure.
        ``unless_tried_since``: skip it if another request re-read since then (concurrent
        requests with unknown keys make one read, not one each)."""
        with self._lock:
            if unless_tried_since is not None and self._tried_at >= unless_tried_since:
                return
            self._tried_at = self._clock()
            try:
                keys = parse_api_keys(_api_keys_value(self._read_secret()))
            except AwsCallError as exc:
                reason = describe_aws_error(exc)
                logger.warning(
                    "API keys not refreshed: secret unreadable", extra={"reason": reason}
                )
                return
            except ApiKeysError as exc:  # its message never holds a key
                reason = str(exc)
                logger.error(
                    "API keys not refreshed: API_KEYS is invalid", extra={"reason": reason}
                )
                return
            except Exception as exc:
                # Only the type: a parser's message may quote the secret's text.
                reason = type(exc).__name__
                logger.error("API keys not refreshed: unusable secret", extra={"reason": reason})
                return
            if keys != self._keys:
                logger.info(
                    "API keys refreshed",
                    extra={"tenants": sorted(keys.tenants), "keys": keys.key_count},
                )
            self._keys = keys
            self._ever_had_keys = self._ever_had_keys or bool(keys)
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
    response = client.get_secret_value(SecretId=str(settings.app_secret_id))
    secret_string = response.get("SecretString")
    if secret_string is None:
        raise ValueError("the secret's value is binary, not a JSON object")
    value = json.loads(secret_string or "{}")
    if not isinstance(value, dict):
        raise ValueError("the secret is not a JSON object")
    return value


def _api_keys_value(secret: dict[str, Any]) -> Any:
    """The secret's `API_KEYS` (names are case-insensitive, as for the settings)."""
    return next((value for name, value in secret.items() if name.upper() == _SETTING), None)


def _set_in_environment() -> bool:
    return any(name.upper() == _SETTING for name in os.environ)
