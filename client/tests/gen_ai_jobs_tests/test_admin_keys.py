"""`gen-ai-jobs admin keys create / list` against Secrets Manager in moto (in-process `mock_aws`;
the devstack case on a moto server): a new key works for its tenant, every other value of the
app secret survives the write, and nothing prints a key, a whole digest or another setting."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner, Result

from gen_ai_contracts.api_keys import (
    ApiKeyring,
    fingerprint,
    hashed_entry,
    key_digest,
    parse_api_keys,
)
from gen_ai_contracts.settings import load_settings
from gen_ai_jobs.cli import app

REGION = "us-east-1"
SECRET_NAME = "gen-ai-on-aws-dev-app-secrets"  # devstack.stack.SECRET_NAME
PROVIDER_KEY = "sk-provider-0123456789"  # other values of the secret: never shown, never lost
SIGNING_SECRET = "whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz"
OLD_KEY = "old-key-one-0123456789"
KEY_PATTERN = re.compile(r"gaj_[A-Za-z0-9_-]{43}")
AWS_ENV = ("AWS_ENDPOINT_URL", "GEN_AI_STACK_PREFIX", "GEN_AI_STACK_OUTPUTS", "AWS_PROFILE")


def admin(*args: str) -> Result:
    return CliRunner().invoke(app, ["admin", *args])


def shown(result: Result) -> str:
    return result.stdout + result.stderr


def new_key(result: Result) -> str:
    """The key `keys create` printed (exactly once)."""
    assert result.exit_code == 0, shown(result)
    keys = KEY_PATTERN.findall(result.stdout)
    assert len(keys) == 1, result.stdout
    return str(keys[0])


class Secrets:
    """The app secret as the test sets and reads it (moto's Secrets Manager)."""

    def __init__(self, client: Any, name: str = SECRET_NAME) -> None:
        self.client = client
        self.name = name

    def put(self, values: dict[str, Any] | None = None, *, text: str | None = None) -> None:
        """Create the secret: with ``values`` as JSON, ``text`` as is, or no value at all."""
        value = text if text is not None else json.dumps(values) if values is not None else None
        self.client.create_secret(
            Name=self.name, **({"SecretString": value} if value is not None else {})
        )

    def values(self) -> dict[str, Any]:
        text = self.client.get_secret_value(SecretId=self.name)["SecretString"]
        values = json.loads(text)
        assert isinstance(values, dict)
        return values

    def keyring(self) -> ApiKeyring:
        stored = self.values()["API_KEYS"]
        assert isinstance(stored, str)  # the form the env var and the secret both parse
        return parse_api_keys(stored)

    def version_count(self) -> int:
        return len(self.client.list_secret_version_ids(SecretId=self.name)["Versions"])

    def exists(self) -> bool:
        names = [secret["Name"] for secret in self.client.list_secrets()["SecretList"]]
        return self.name in names


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def secrets(aws_env: None) -> Iterator[Secrets]:
    with mock_aws():
        yield Secrets(boto3.client("secretsmanager", region_name=REGION))


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, no region, an endpoint that answers nothing, and no boto3 at all:
    any AWS call would fail the command."""
    for name in (*AWS_ENV, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "botocore", None)


# --- keys create, without --apply ----------------------------------------------------------


def test_create_prints_a_key_once_and_its_entry_without_touching_aws(no_aws: None) -> None:
    result = admin("keys", "create", "--tenant", "acme")

    key = new_key(result)
    entry = hashed_entry(key)
    assert "Store it now: it is not shown again" in result.stdout
    assert f"entry (its SHA-256, safe to store): {entry}" in result.stdout
    assert fingerprint(key_digest(key)) in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("as API_KEYS:"))
    snippet = json.loads(line.removeprefix("as API_KEYS:"))
    assert snippet == {"acme": [entry]}
    assert parse_api_keys(json.dumps(snippet)).tenant_of(key) == "acme"


def test_create_json_is_for_scripts(no_aws: None) -> None:
    result = admin("keys", "create", "--tenant", "acme", "--json")

    assert result.exit_code == 0, shown(result)
    printed = json.loads(result.stdout)
    key = printed["api_key"]
    assert KEY_PATTERN.fullmatch(key)
    assert printed["entry"] == hashed_entry(key)
    assert printed["fingerprint"] == fingerprint(key_digest(key))
    assert printed["api_keys"] == {"acme": [hashed_entry(key)]}
    assert (printed["applied"], printed["secret"]) == (False, None)


def test_every_key_is_new(no_aws: None) -> None:
    first = new_key(admin("keys", "create", "--tenant", "acme"))
    second = new_key(admin("keys", "create", "--tenant", "acme"))

    assert first != second


@pytest.mark.parametrize("tenant", ["Acme", "a b", "", "x" * 65, "acme/eu", "ünï"])
def test_a_bad_tenant_name_is_exit_2_and_nothing_is_written(secrets: Secrets, tenant: str) -> None:
    secrets.put({"API_KEYS": OLD_KEY})

    result = admin("keys", "create", "--tenant", tenant, "--apply")

    assert result.exit_code == 2, shown(result)
    assert "error: --tenant: the tenant name" in result.stderr
    assert not KEY_PATTERN.search(shown(result))  # no key printed for a key never stored
    assert secrets.version_count() == 1
    assert secrets.values() == {"API_KEYS": OLD_KEY}


def test_a_missing_tenant_is_a_usage_error(no_aws: None) -> None:
    assert admin("keys", "create").exit_code == 2


def test_without_the_contracts_the_error_says_what_to_install(
    no_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gen_ai_contracts.api_keys", None)

    result = admin("keys", "create", "--tenant", "acme")

    assert result.exit_code == 2
    assert "pip install 'gen-ai-jobs[admin]'" in result.stderr


# --- keys create --apply -------------------------------------------------------------------


def test_apply_adds_the_key_and_keeps_every_other_value(secrets: Secrets) -> None:
    secrets.put(
        {
            "LLM_API_KEY": PROVIDER_KEY,
            "API_KEYS": f"{OLD_KEY}, old-key-two-0123456789",
            "WEBHOOK_SIGNING_SECRET": SIGNING_SECRET,
        }
    )

    result = admin("keys", "create", "--tenant", "acme", "--apply")

    key = new_key(result)
    values = secrets.values()
    assert values["LLM_API_KEY"] == PROVIDER_KEY
    assert values["WEBHOOK_SIGNING_SECRET"] == SIGNING_SECRET
    assert list(values) == ["LLM_API_KEY", "API_KEYS", "WEBHOOK_SIGNING_SECRET"]
    keyring = secrets.keyring()
    assert keyring.tenant_of(key) == "acme"
    assert keyring.tenant_of(OLD_KEY) == keyring.tenant_of("old-key-two-0123456789") == "default"
    assert key not in values["API_KEYS"]  # stored as its digest only
    assert "tenant 'acme' now has 1 key." in result.stdout
    assert "works on its first request" in result.stdout
    for value in (PROVIDER_KEY, SIGNING_SECRET, OLD_KEY, "old-key-two-0123456789"):
        assert value not in shown(result)


@pytest.mark.parametrize(
    "stored",
    [
        OLD_KEY,
        json.dumps([OLD_KEY]),
        [OLD_KEY],  # a JSON list inside the secret's object
        json.dumps({"default": [OLD_KEY]}),
        {"default": [hashed_entry(OLD_KEY)]},  # an object inside the secret's object
    ],
    ids=["comma-list", "json-list-string", "json-list", "object-string", "object"],
)
def test_apply_reads_every_form_of_api_keys(secrets: Secrets, stored: Any) -> None:
    secrets.put({"API_KEYS": stored, "LLM_API_KEY": PROVIDER_KEY})

    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))

    keyring = secrets.keyring()
    assert (keyring.tenant_of(key), keyring.tenant_of(OLD_KEY)) == ("acme", "default")
    assert secrets.values()["LLM_API_KEY"] == PROVIDER_KEY


def test_keys_for_two_tenants_and_a_second_key_for_one(secrets: Secrets) -> None:
    secrets.put({"LLM_API_KEY": PROVIDER_KEY})

    acme = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))
    beta = new_key(admin("keys", "create", "--tenant", "beta", "--apply"))
    rotated = admin("keys", "create", "--tenant", "acme", "--apply")
    acme_next = new_key(rotated)

    keyring = secrets.keyring()
    assert [keyring.tenant_of(key) for key in (acme, beta, acme_next)] == ["acme", "beta", "acme"]
    assert keyring.fingerprints() == {
        "acme": [fingerprint(key_digest(acme)), fingerprint(key_digest(acme_next))],
        "beta": [fingerprint(key_digest(beta))],
    }
    assert "tenant 'acme' now has 2 keys" in rotated.stdout
    assert secrets.values()["LLM_API_KEY"] == PROVIDER_KEY


def test_apply_to_a_secret_without_a_value_yet(secrets: Secrets) -> None:
    """A fresh `pulumi up` creates the secret with no version: GetSecretValue says
    ResourceNotFoundException for a secret that exists."""
    secrets.put()

    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))

    assert list(secrets.values()) == ["API_KEYS"]
    assert secrets.keyring().tenant_of(key) == "acme"


def test_apply_to_a_blank_secret(secrets: Secrets) -> None:
    secrets.put(text="  ")

    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))

    assert secrets.keyring().tenant_of(key) == "acme"


def test_apply_updates_api_keys_in_the_case_the_secret_spells_it(secrets: Secrets) -> None:
    """The settings read names case-insensitively: `api_keys` is API_KEYS, not another key."""
    secrets.put({"api_keys": OLD_KEY})

    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))

    values = secrets.values()
    assert list(values) == ["api_keys"]
    keyring = parse_api_keys(values["api_keys"])
    assert (keyring.tenant_of(key), keyring.tenant_of(OLD_KEY)) == ("acme", "default")


def test_apply_to_a_missing_secret_is_exit_2_and_creates_nothing(secrets: Secrets) -> None:
    result = admin("keys", "create", "--tenant", "acme", "--apply")

    assert result.exit_code == 2
    assert f"error: the app secret '{SECRET_NAME}' does not exist" in result.stderr
    assert not KEY_PATTERN.search(shown(result))
    assert not secrets.exists()


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (
            {"API_KEYS": {"Not A Tenant": ["leaky-key-0123456789"]}},
            "tenant name 1 (12 characters) must be",
        ),
        ({"API_KEYS": '{"acme": ["leaky key 1"]}'}, "entry 1 of tenant 'acme'"),
        ({"API_KEYS": '["leaky-key-0123456789"'}, "not valid JSON"),
    ],
)
def test_a_malformed_api_keys_is_exit_1_and_left_as_it_was(
    secrets: Secrets, stored: dict[str, Any], problem: str
) -> None:
    secrets.put({**stored, "LLM_API_KEY": PROVIDER_KEY})

    result = admin("keys", "create", "--tenant", "acme", "--apply")

    assert result.exit_code == 1
    assert problem in result.stderr
    assert "nothing was changed" in result.stderr
    assert "leaky" not in shown(result)
    assert PROVIDER_KEY not in shown(result)
    assert secrets.version_count() == 1


@pytest.mark.parametrize("text", ["LLM_API_KEY=sk-provider-0123456789", '["sk-provider-0123"]'])
def test_a_secret_that_is_not_a_json_object_is_exit_1_without_its_value(
    secrets: Secrets, text: str
) -> None:
    secrets.put(text=text)

    for args in (["create", "--tenant", "acme", "--apply"], ["list"]):
        result = admin("keys", *args)

        assert result.exit_code == 1
        assert "is not a JSON object" in result.stderr
        assert "sk-provider" not in shown(result)
    assert secrets.version_count() == 1


def test_the_secret_from_stack_outputs_or_secret_id(secrets: Secrets, tmp_path: Path) -> None:
    """A deployed stack's secret is auto-named (`name_prefix`); its outputs name it."""
    deployed = Secrets(secrets.client, "gen-ai-on-aws-prod-app-1a2b3c4")
    deployed.put()
    other = Secrets(secrets.client, "elsewhere")
    other.put({})
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"app_secret_name": deployed.name, "queue_url": "x"}))

    from_outputs = new_key(
        admin("--stack-outputs", str(outputs), "keys", "create", "--tenant", "a", "--apply")
    )
    explicit = new_key(
        admin(
            "--stack-outputs",
            str(outputs),
            "--secret-id",
            other.name,
            "keys",
            "create",
            "--tenant",
            "b",
            "--apply",
        )
    )

    assert deployed.keyring().tenant_of(from_outputs) == "a"
    assert other.keyring().tenant_of(explicit) == "b"
    assert not secrets.exists()


def test_the_written_secret_is_what_the_api_reads(
    secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's own settings, loaded from the secret (APP_SECRET_ID), accept the new key."""
    from gen_ai_on_aws.config import Settings

    secrets.put({"API_KEYS": OLD_KEY, "LLM_API_KEY": PROVIDER_KEY})
    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))
    for name in ("API_KEYS", "LLM_API_KEY", "ALLOW_ANONYMOUS", "TENANT_RPM_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_SECRET_ID", SECRET_NAME)
    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs")
    monkeypatch.setenv("JOBS_TABLE_NAME", "jobs")

    settings = load_settings(Settings)

    assert settings.api_keys.tenant_of(key) == "acme"
    assert settings.api_keys.tenant_of(OLD_KEY) == "default"
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == PROVIDER_KEY


def test_missing_credentials_are_exit_2(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)

    for args in (["create", "--tenant", "acme", "--apply"], ["list"]):
        # An unreachable local endpoint: signing fails first, so nothing is sent anywhere.
        result = admin("--endpoint-url", "http://127.0.0.1:9", "keys", *args)

        assert result.exit_code == 2, shown(result)
        assert "error: no AWS credentials found" in result.stderr
        assert not KEY_PATTERN.search(shown(result))


# --- keys list -----------------------------------------------------------------------------


def test_list_shows_fingerprints_only(secrets: Secrets) -> None:
    hashed_key, plain_key = "acme-key-hashed-1", "acme-key-plain-2"
    secrets.put(
        {
            "LLM_API_KEY": PROVIDER_KEY,
            "API_KEYS": json.dumps(
                {"acme": [hashed_entry(hashed_key), plain_key], "beta": [hashed_entry(OLD_KEY)]}
            ),
        }
    )

    text = admin("keys", "list")
    as_json = admin("keys", "list", "--json")

    assert (text.exit_code, as_json.exit_code) == (0, 0), shown(text) + shown(as_json)
    prints = {key: fingerprint(key_digest(key)) for key in (hashed_key, plain_key, OLD_KEY)}
    assert f"app secret '{SECRET_NAME}': 3 keys, 2 tenants" in text.stdout
    rows = [line.split() for line in text.stdout.splitlines()]
    assert ["acme", prints[hashed_key], "hashed"] in rows
    assert ["acme", prints[plain_key], "plaintext"] in rows
    assert ["beta", prints[OLD_KEY], "hashed"] in rows
    assert "1 stored in plaintext" in text.stdout
    assert json.loads(as_json.stdout) == {
        "secret": SECRET_NAME,
        "key_count": 3,
        "tenants": {
            "acme": [
                {"fingerprint": prints[hashed_key], "stored": "hashed"},
                {"fingerprint": prints[plain_key], "stored": "plaintext"},
            ],
            "beta": [{"fingerprint": prints[OLD_KEY], "stored": "hashed"}],
        },
    }
    for output in (shown(text), shown(as_json)):
        for key in (hashed_key, plain_key, OLD_KEY, PROVIDER_KEY):
            assert key not in output
            assert key_digest(key) not in output


def test_list_shows_keys_created_with_apply(secrets: Secrets) -> None:
    secrets.put({"API_KEYS": f"{OLD_KEY}"})
    key = new_key(admin("keys", "create", "--tenant", "acme", "--apply"))

    listed = json.loads(admin("keys", "list", "--json").stdout)

    assert listed["tenants"] == {
        "acme": [{"fingerprint": fingerprint(key_digest(key)), "stored": "hashed"}],
        "default": [{"fingerprint": fingerprint(key_digest(OLD_KEY)), "stored": "plaintext"}],
    }


@pytest.mark.parametrize("values", [{}, {"API_KEYS": ""}, {"API_KEYS": []}, None])
def test_list_without_keys_says_the_api_fails_closed(
    secrets: Secrets, values: dict[str, Any] | None
) -> None:
    secrets.put(values)

    result = admin("keys", "list")

    assert result.exit_code == 0, shown(result)
    assert "no API keys" in result.stdout
    assert "auth_not_configured" in result.stdout


def test_list_of_a_malformed_api_keys_is_exit_1_naming_no_key(secrets: Secrets) -> None:
    duplicate = json.dumps(
        {"acme": ["leaky-key-0123456789"], "beta": [hashed_entry("leaky-key-0123456789")]}
    )
    secrets.put({"API_KEYS": duplicate})

    result = admin("keys", "list")

    assert result.exit_code == 1
    assert "entry 1 of tenant 'beta' is a key already listed for tenant 'acme'" in result.stderr
    assert "leaky" not in shown(result)
    assert key_digest("leaky-key-0123456789") not in shown(result)


def test_list_of_a_missing_secret_is_exit_2(secrets: Secrets) -> None:
    result = admin("--secret-id", "nope", "keys", "list")

    assert result.exit_code == 2
    assert "error: the app secret 'nope' does not exist" in result.stderr


# --- the devstack --------------------------------------------------------------------------


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[str]:
    """An emulated AWS on a free port, as `uv run devstack` runs one (its default port may be
    taken by a devstack on this machine)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_devstack_apply_creates_the_secret_it_lacks(moto_server: str) -> None:
    """The devstack has the secret only when started with --api-keys: --apply creates it."""
    devstack = ("--devstack", "--endpoint-url", moto_server)

    first = admin(*devstack, "keys", "create", "--tenant", "acme", "--apply")
    second = new_key(admin(*devstack, "keys", "create", "--tenant", "beta", "--apply"))
    listed = admin(*devstack, "keys", "list", "--json")

    key = new_key(first)
    assert "the key works on its first request there" in first.stdout
    client = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=moto_server,
        aws_access_key_id="devstack",
        aws_secret_access_key="devstack",
    )
    keyring = Secrets(client).keyring()
    assert (keyring.tenant_of(key), keyring.tenant_of(second)) == ("acme", "beta")
    assert sorted(json.loads(listed.stdout)["tenants"]) == ["acme", "beta"]


def test_a_concurrent_change_that_replaced_ours_is_reported(
    secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN another run that writes the secret right after ours (there is no lock)
    from gen_ai_jobs.cli.admin import keys as keys_command

    secrets.put({"API_KEYS": json.dumps({"beta": [hashed_entry(OLD_KEY)]})})
    write = keys_command.write_app_secret

    def overtaken(session: Any, secret: Any, values: dict[str, Any]) -> None:
        write(session, secret, values)
        secrets.client.put_secret_value(  # the other run's write, from what it had read
            SecretId=secrets.name,
            SecretString=json.dumps({"API_KEYS": json.dumps({"beta": [hashed_entry(OLD_KEY)]})}),
        )

    monkeypatch.setattr(keys_command, "write_app_secret", overtaken)

    result = admin("keys", "create", "--tenant", "acme", "--apply")

    # THEN the command says its entry was lost instead of reporting success
    assert result.exit_code == 1
    assert "another change to the app secret replaced this one" in result.stderr
    assert "now has" not in result.stdout
