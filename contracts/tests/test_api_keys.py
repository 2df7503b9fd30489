"""`API_KEYS` forms, tenants, hashed entries and errors that never show a key."""

from __future__ import annotations

import hashlib
import json

import pytest

from gen_ai_contracts.api_keys import (
    ApiKeysError,
    api_key_entries,
    hashed_entry,
    new_api_key,
    parse_api_keys,
    with_entry,
)

KEY_A = "key-of-tenant-a-0123456789"
KEY_B = "key-of-tenant-b-9876543210"


@pytest.mark.parametrize(
    "value",
    [f"{KEY_A}, {KEY_B}", json.dumps([KEY_A, KEY_B]), [KEY_A, KEY_B], f" {KEY_A},,{KEY_B} ,"],
)
def test_the_list_forms_put_every_key_in_tenant_default(value: object) -> None:
    keyring = parse_api_keys(value)
    assert keyring.tenant_of(KEY_A) == keyring.tenant_of(KEY_B) == "default"
    assert keyring.tenant_of("key-of-nobody") is None
    assert keyring.key_count == 2


def test_the_object_form_maps_keys_to_tenants_plain_or_hashed() -> None:
    # GIVEN tenant a with a plaintext key and tenant b with only the SHA-256 of its key
    value = json.dumps(
        {"a": [KEY_A], "team_b-2": [hashed_entry(KEY_B).upper().replace("SHA256", "sha256")]}
    )

    keyring = parse_api_keys(value)

    assert keyring.tenant_of(KEY_A) == "a"
    assert keyring.tenant_of(KEY_B) == "team_b-2"
    assert keyring.tenant_of(hashed_entry(KEY_B)) is None  # the entry itself is not a key
    assert keyring.fingerprints() == {
        "a": ["sha256:" + hashlib.sha256(KEY_A.encode()).hexdigest()[:12]],
        "team_b-2": ["sha256:" + hashlib.sha256(KEY_B.encode()).hexdigest()[:12]],
    }


@pytest.mark.parametrize("value", [None, "", "  ", "[]", "{}", [], ",,", '{"acme": []}'])
def test_nothing_configured_is_an_empty_keyring(value: object) -> None:
    assert not parse_api_keys(value)


def _json(value: object) -> str:
    return json.dumps(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (_json({"Team A": [KEY_A]}), "tenant name 1 (6 characters) must be 1 to 64"),
        (_json({"b": [KEY_B], "a" * 65: [KEY_A]}), "tenant name 2 (65 characters) must be 1 to"),
        (_json({"": [KEY_A]}), "tenant name 1 (0 characters) must be"),
        # keys written where tenant names belong: refused, and never quoted
        (
            _json({"gaj_" + KEY_A.replace("-", "_"): ["acme"]}),
            "tenant name 1 (30 characters) looks",
        ),
        (_json({"ab" * 32: ["acme-tenant-key-0"]}), "looks like a key"),
        (_json({"a": ["short-key"]}), "must be 16 to 512 printable ASCII"),
        (_json({"a": KEY_A}), "tenant 'a' must map to a JSON list of keys"),
        (_json({"a": [42]}), "entry 1 of tenant 'a' is not a string"),
        (_json({"a": ["sha256:" + "ab" * 31]}), "entry 1 of tenant 'a' starts with sha256: but"),
        (_json({"a": [KEY_A], "b": [KEY_A]}), "already listed for tenant 'a'"),
        (_json({"a": [KEY_A], "b": [hashed_entry(KEY_A)]}), "already listed"),
        (_json({"a": [KEY_A + " with a space"]}), "printable ASCII characters without spaces"),
        (_json({"a": [KEY_A]})[:-2], "API_KEYS is not valid JSON"),
        (_json([KEY_A, 7]), "entry 2 of tenant 'default' is not a string"),
    ],
)
def test_a_malformed_value_names_the_problem_never_the_key(value: str, problem: str) -> None:
    with pytest.raises(ApiKeysError) as raised:
        parse_api_keys(value)
    message = str(raised.value)
    assert problem in message
    assert KEY_A not in message
    assert KEY_A.replace("-", "_") not in message
    assert "ab" * 31 not in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ or raised.value.__context__ is None


def test_the_keyring_repr_shows_tenants_and_counts_only() -> None:
    keyring = parse_api_keys({"a": [KEY_A], "b": [KEY_B]})
    assert repr(keyring) == "ApiKeyring(tenants=['a', 'b'], keys=2)"
    assert KEY_A not in repr(keyring)
    assert hashlib.sha256(KEY_A.encode()).hexdigest() not in repr(keyring)


def test_adding_an_entry_turns_a_list_into_the_object_form_and_keeps_every_key() -> None:
    key = new_api_key()
    entries = with_entry(f"{KEY_A},{KEY_B}", "team-c", hashed_entry(key))

    assert entries == {"default": [KEY_A, KEY_B], "team-c": [hashed_entry(key)]}
    assert parse_api_keys(json.dumps(entries)).tenant_of(key) == "team-c"
    assert with_entry(entries, "team-c", hashed_entry(key)) == entries  # no duplicate
    with pytest.raises(ApiKeysError, match="already listed for tenant 'default'"):
        with_entry(entries, "team-d", hashed_entry(KEY_A))
    with pytest.raises(ApiKeysError, match=r"the tenant name \(6 characters\) must be"):
        with_entry(entries, "Team D", hashed_entry(key))


def test_new_keys_are_random_prefixed_and_valid_entries() -> None:
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(key.startswith("gaj_") and len(key) == 47 for key in keys)
    assert api_key_entries(list(keys))["default"] == list(keys)
    assert parse_api_keys(list(keys)).key_count == 100
