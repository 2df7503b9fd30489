"""`API_KEYS`: which API key belongs to which tenant, parsed once and compared in constant time.

Accepted forms (the secret's `API_KEYS` value or the environment variable):
- a comma-separated list or a JSON list: every key belongs to tenant `default`;
- a JSON object `{"<tenant>": ["<key>", ...]}`: tenant names are 1..64 of `[a-z0-9_-]`.

Each key is given in plaintext or as `sha256:<64 hex>` (the SHA-256 of the key), so a secret
need not hold usable keys. Only digests are kept; a request's key is hashed and compared with
every digest, so the time taken says nothing about the keys or which one matched. Errors name
the tenant and the entry's position, never the entry. The API and `gen-ai-jobs admin keys`
share this module, so both read and write the same format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_TENANT = "default"
HASH_PREFIX = "sha256:"
TENANT_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# Printable ASCII without spaces (what an HTTP header carries unchanged), long enough not to be
# guessed, and not mistaken for a tenant name written where a key belongs (or the reverse).
_PLAIN_KEY = re.compile(r"[\x21-\x7e]{16,512}")
# Tenant names that look like keys: `{"<key>": ["<tenant>"]}` written the wrong way round.
_KEY_LIKE_NAME = re.compile(r"gaj_.*|[0-9a-f]{32,}")
# Generated keys: a recognisable prefix (secret scanners match on it) and 256 random bits.
KEY_PREFIX = "gaj_"
FINGERPRINT_HEX = 12


class ApiKeysError(ValueError):
    """`API_KEYS` is malformed; the message names the problem and never a key."""


def key_digest(key: str) -> str:
    """The hex SHA-256 of a key, as `sha256:` entries hold it."""
    return hashlib.sha256(key.encode()).hexdigest()


def hashed_entry(key: str) -> str:
    """The `sha256:<hex>` entry that authenticates ``key`` without storing it."""
    return HASH_PREFIX + key_digest(key)


def fingerprint(digest_hex: str) -> str:
    """A short, non-secret name of a key (the start of its digest), for listings and logs."""
    return HASH_PREFIX + digest_hex[:FINGERPRINT_HEX]


def new_api_key() -> str:
    """A fresh random key: `gaj_` and 43 URL-safe characters (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKeyring:
    """The digests of every tenant's keys (empty: no keys configured). Immutable and hashable,
    like the settings that hold it."""

    entries: tuple[tuple[str, tuple[bytes, ...]], ...] = ()

    @property
    def tenants(self) -> dict[str, tuple[bytes, ...]]:
        """Tenant -> the digests of its keys."""
        return dict(self.entries)

    def __bool__(self) -> bool:
        return self.key_count > 0

    def __repr__(self) -> str:  # never the digests: they would help no one reading a log
        return f"ApiKeyring(tenants={sorted(self.tenants)}, keys={self.key_count})"

    @property
    def key_count(self) -> int:
        return sum(len(digests) for _, digests in self.entries)

    def tenant_of(self, candidate: str) -> str | None:
        """The tenant whose key ``candidate`` is, or None. Compares with every digest without
        stopping at a match, so timing reveals neither a key nor which one matched."""
        digest = hashlib.sha256(candidate.encode()).digest()
        found: str | None = None
        for tenant, digests in self.entries:
            for known in digests:
                if hmac.compare_digest(digest, known):
                    found = tenant
        return found

    def fingerprints(self) -> dict[str, list[str]]:
        """Tenant -> its keys' fingerprints (never keys)."""
        return {
            tenant: [fingerprint(digest.hex()) for digest in digests]
            for tenant, digests in sorted(self.tenants.items())
        }


def parse_api_keys(value: Any) -> ApiKeyring:
    """An `ApiKeyring` from any accepted form; raise ApiKeysError naming what is wrong."""
    if isinstance(value, ApiKeyring):  # already parsed (a settings default)
        return value
    entries = api_key_entries(value)
    tenants: dict[str, tuple[bytes, ...]] = {}
    owners: dict[bytes, str] = {}
    for tenant, keys in entries.items():
        digests: list[bytes] = []
        for position, entry in enumerate(keys, start=1):
            digest = _entry_digest(entry, tenant, position)
            if digest in owners:
                raise ApiKeysError(
                    f"API_KEYS: entry {position} of tenant '{tenant}' is a key already listed"
                    f" for tenant '{owners[digest]}'; a key belongs to one tenant"
                )
            owners[digest] = tenant
            digests.append(digest)
        tenants[tenant] = tuple(digests)
    return ApiKeyring(tuple(tenants.items()))


def api_key_entries(value: Any) -> dict[str, list[str]]:
    """The object form of any accepted value (the list forms become tenant `default`), entries
    as given; tenant names and the structure are checked, the entries are not."""
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:  # its message quotes no input
                raise ApiKeysError(f"API_KEYS is not valid JSON: {exc.msg} at {exc.pos}") from None
        else:
            value = text.split(",")
    if isinstance(value, list | tuple):
        keys = [_entry_text(item, DEFAULT_TENANT, n) for n, item in enumerate(value, start=1)]
        keys = [key for key in keys if key]
        return {DEFAULT_TENANT: keys} if keys else {}
    if isinstance(value, Mapping):
        return {
            _tenant_name(name, position): _tenant_keys(name, keys)
            for position, (name, keys) in enumerate(value.items(), start=1)
        }
    raise ApiKeysError(
        "API_KEYS must be a comma-separated list, a JSON list, or a JSON object of tenant"
        f" names to lists of keys (got {type(value).__name__})"
    )


def with_entry(value: Any, tenant: str, entry: str) -> dict[str, list[str]]:
    """``value`` (any accepted form) in object form with ``entry`` added to ``tenant``."""
    entries = api_key_entries(value)
    name = _tenant_name(tenant, None)
    _entry_digest(entry, name, len(entries.get(name, [])) + 1)  # a valid entry, or raise
    entries.setdefault(name, [])
    if entry not in entries[name]:
        entries[name].append(entry)
    parse_api_keys(entries)  # still a valid keyring (e.g. the key is not another tenant's)
    return entries


def tenant_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a tenant, or None. Never quotes it: a rejected name may be a key
    written where the tenant belongs."""
    if not isinstance(name, str) or not TENANT_PATTERN.fullmatch(name):
        return "must be 1 to 64 of a-z, 0-9, '_' and '-'"
    if _KEY_LIKE_NAME.fullmatch(name):
        return 'looks like a key (gaj_... or 32+ hex digits): the form is {"tenant": ["key"]}'
    return None


def _tenant_name(name: Any, position: int | None) -> str:
    problem = tenant_name_problem(name)
    if problem is not None:
        which = "the tenant name" if position is None else f"tenant name {position}"
        length = len(name) if isinstance(name, str) else 0
        raise ApiKeysError(f"API_KEYS: {which} ({length} characters) {problem}")
    return str(name)


def _tenant_keys(tenant: Any, keys: Any) -> list[str]:
    if not isinstance(keys, list):
        raise ApiKeysError(f"API_KEYS: tenant '{tenant}' must map to a JSON list of keys")
    return [_entry_text(item, str(tenant), n) for n, item in enumerate(keys, start=1)]


def _entry_text(item: Any, tenant: str, position: int) -> str:
    if not isinstance(item, str):
        raise ApiKeysError(f"API_KEYS: entry {position} of tenant '{tenant}' is not a string")
    return item.strip()


def _entry_digest(entry: str, tenant: str, position: int) -> bytes:
    where = f"entry {position} of tenant '{tenant}'"
    if entry.startswith(HASH_PREFIX):
        hex_digest = entry.removeprefix(HASH_PREFIX).lower()
        if not _HEX_DIGEST.fullmatch(hex_digest):
            raise ApiKeysError(f"API_KEYS: {where} starts with sha256: but is not 64 hex digits")
        return bytes.fromhex(hex_digest)
    if not _PLAIN_KEY.fullmatch(entry):
        raise ApiKeysError(
            f"API_KEYS: {where} must be 16 to 512 printable ASCII characters without spaces"
        )
    return hashlib.sha256(entry.encode()).digest()
