"""`admin keys create` and `admin keys list`: the API's keys, per tenant, in the app secret.

A new key is printed once and stored only as its `sha256:` entry, so the secret never holds a
usable key; listings show fingerprints (the start of a digest), never keys or whole digests.
The format is `gen_ai_contracts.api_keys`, the module the API parses `API_KEYS` with; it is
imported when a command runs, so the base install (no admin extra) never needs it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gen_ai_jobs.cli._common import EXIT_FAILED, EXIT_USAGE, print_json
from gen_ai_jobs.cli.admin._aws import INSTALL_HINT, AdminError, AwsSession
from gen_ai_jobs.cli.admin._cli import admin_errors, session_of
from gen_ai_jobs.cli.admin._render import table
from gen_ai_jobs.cli.admin._secret import API_KEYS, read_app_secret, write_app_secret

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
NO_KEYS = "the API answers 503 auth_not_configured unless ALLOW_ANONYMOUS=true"


def create(
    ctx: typer.Context,
    tenant: Annotated[
        str,
        typer.Option("--tenant", help="Whose key: 1 to 64 of a-z, 0-9, '_' and '-'."),
    ],
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Also add the key's entry to API_KEYS in the app secret (Secrets Manager).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Generate a random API key for a tenant; print it once, with its `sha256:` entry.

    Without --apply nothing else happens (no AWS call): add the entry to `API_KEYS` yourself.
    With --apply, the entry is merged into the app secret's `API_KEYS` (other tenants, other
    keys of the tenant and every other setting in the secret are kept) and the secret is
    written back as a new version. Two --apply runs at the same moment can lose one entry:
    run them one at a time."""
    with admin_errors():
        _require_contracts()
        from gen_ai_contracts import api_keys

        key = api_keys.new_api_key()
        entry = api_keys.hashed_entry(key)
        try:
            snippet = api_keys.with_entry(None, tenant, entry)
        except api_keys.ApiKeysError as error:
            raise AdminError(f"--tenant: {_without_prefix(error)}", EXIT_USAGE) from None
        tenant_keys, secret_name, devstack = 1, None, False
        if apply:
            session = session_of(ctx)
            secret_name, devstack = session.targets.app_secret, session.devstack
            tenant_keys = _apply(session, tenant, entry)
    fingerprint = api_keys.fingerprint(entry.removeprefix(api_keys.HASH_PREFIX))
    if as_json:
        print_json(
            {
                "tenant": tenant,
                "api_key": key,
                "entry": entry,
                "fingerprint": fingerprint,
                "api_keys": snippet,
                "applied": apply,
                "secret": secret_name,
                "tenant_key_count": tenant_keys if apply else None,
            }
        )
        return
    typer.echo(f"New API key for tenant {tenant!r}. Store it now: it is not shown again.\n")
    typer.echo(f"  {key}\n")
    for label, value in (
        ("entry (its SHA-256, safe to store)", entry),
        ("fingerprint (in `keys list`)", fingerprint),
        (f"as {API_KEYS}", json.dumps(snippet)),
    ):
        typer.echo(f"{label + ':':<36}{value}")
    if not apply:
        typer.echo(
            f"\nAdd the entry to {API_KEYS} in the app secret, keeping the entries there"
            " (or let `keys create --apply` merge a new key for you)."
        )
        return
    typer.echo(
        f"\nAdded to {API_KEYS} in the app secret {secret_name!r}: tenant {tenant!r} now has"
        f" {tenant_keys} key{'s' if tenant_keys != 1 else ''}."
    )
    typer.echo(_when_it_applies(devstack))


def list_keys(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each tenant's keys in the app secret, by fingerprint (never a key or a whole digest).

    An entry stored in plaintext (a usable key, to anyone who can read the secret) is marked
    as such. A malformed API_KEYS is exit 1 with what is wrong (the message names no key)."""
    with admin_errors():
        _require_contracts()
        from gen_ai_contracts import api_keys

        session = session_of(ctx)
        secret = read_app_secret(session, session.targets.app_secret)
        try:
            entries = api_keys.api_key_entries(secret.api_keys)
            fingerprints = api_keys.parse_api_keys(entries).fingerprints()
        except api_keys.ApiKeysError as error:
            raise AdminError(f"the app secret {secret.name!r}: {error}", EXIT_FAILED) from None
    tenants = {
        tenant: [
            {"fingerprint": shown, "stored": _stored(entry)}
            for shown, entry in zip(fingerprints[tenant], entries[tenant], strict=True)
        ]
        for tenant in fingerprints
    }
    key_count = sum(len(keys) for keys in tenants.values())
    if as_json:
        print_json({"secret": secret.name, "key_count": key_count, "tenants": tenants})
        return
    if not key_count:
        typer.echo(f"app secret {secret.name!r}: no API keys ({NO_KEYS})")
        return
    typer.echo(
        f"app secret {secret.name!r}: {key_count} key{'s' if key_count != 1 else ''},"
        f" {len(tenants)} tenant{'s' if len(tenants) != 1 else ''}\n"
    )
    rows = [
        [tenant, key["fingerprint"], key["stored"]]
        for tenant, keys in tenants.items()
        for key in keys
    ]
    typer.echo(table(["TENANT", "KEY", "STORED"], rows))
    plaintext = sum(1 for row in rows if row[2] == "plaintext")
    if plaintext:
        typer.echo(
            f"\n{plaintext} stored in plaintext: anyone who can read the secret can use"
            " them; a sha256: entry authenticates the same key without holding it"
        )


def _apply(session: AwsSession, tenant: str, entry: str) -> int:
    """Merge ``entry`` into the secret's API_KEYS and write it back; the tenant's key count."""
    from gen_ai_contracts import api_keys

    secret = read_app_secret(session, session.targets.app_secret, missing_ok=session.devstack)
    try:
        merged = api_keys.with_entry(secret.api_keys, tenant, entry)
    except api_keys.ApiKeysError as error:
        raise AdminError(
            f"the app secret {secret.name!r}: {error} (nothing was changed)", EXIT_FAILED
        ) from None
    write_app_secret(session, secret, secret.with_api_keys(merged))
    # No lock in Secrets Manager: another run may have written between our read and write.
    written = read_app_secret(session, session.targets.app_secret, missing_ok=False)
    if entry not in api_keys.api_key_entries(written.api_keys).get(tenant, []):
        raise AdminError(
            "another change to the app secret replaced this one (run one at a time);"
            " run the command again",
            EXIT_FAILED,
        )
    return len(merged[tenant])


def _when_it_applies(devstack: bool) -> str:
    if devstack:
        return (
            "A devstack started with --api-keys re-reads API_KEYS when a request brings a key"
            " it does not know (at most every 30 s): the key works on its first request there;"
            " a restart resets the secret to --api-keys. A devstack started without keys is"
            " open and does not read the secret."
        )
    return (
        "API instances re-read API_KEYS from the secret when a request brings a key they do"
        " not know (at most every 30 s) and every API_KEYS_REFRESH_SECONDS (300): the key works"
        " on its first request."
    )


def _stored(entry: str) -> str:
    from gen_ai_contracts.api_keys import HASH_PREFIX

    return "hashed" if entry.startswith(HASH_PREFIX) else "plaintext"


def _without_prefix(error: Exception) -> str:
    """The contract's message without its `API_KEYS: ` lead (here it is about --tenant)."""
    return str(error).removeprefix(f"{API_KEYS}: ")


def _require_contracts() -> None:
    """The keys format comes with the admin extra; without it, say what to install."""
    try:
        import gen_ai_contracts.api_keys  # noqa: F401
    except ImportError:
        raise AdminError(
            f"the keys commands need gen-ai-on-aws-contracts: {INSTALL_HINT}", EXIT_USAGE
        ) from None
