"""How the devstack lets callers into its API: open (ALLOW_ANONYMOUS=true) without --api-keys,
as a deployed stack never is, keys from an emulated secret with them, and no key ever printed.

The environment is checked without starting anything (``_configure_environment`` only needs
the resources' names); one end-to-end test runs the real process in either mode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from unittest import mock

import boto3
import httpx
import pytest

from devstack import cli
from devstack.config import DevstackConfig, parse_args
from devstack.e2e_support import DevstackProcess, StackPorts
from devstack.fake_llm import FakeLLMServer
from devstack.resources import StackResources
from devstack.stack import SECRET_NAME, Devstack
from devstack.testing import TEST_REGION
from gen_ai_contracts.api_keys import hashed_entry, parse_api_keys

ACME_KEY = "acme-key-0123456789abcdef"
ACME_SPARE = "acme-spare-0123456789abcdef"
GLOBEX_KEY = "globex-key-0123456789abcdef"
# The object form, one key given only as its digest (the secret need not hold usable keys).
TENANT_KEYS = json.dumps({"acme": [ACME_KEY, ACME_SPARE], "globex": [hashed_entry(GLOBEX_KEY)]})
ALL_KEYS = (ACME_KEY, ACME_SPARE, GLOBEX_KEY, hashed_entry(GLOBEX_KEY))
OPEN_LINE = (
    "Auth: open without keys (ALLOW_ANONYMOUS=true, devstack only; a deployed stack fails"
    ' closed: see README "API keys and tenants")'
)
RESOURCES = StackResources(*(f"resource-{n}" for n in range(14)))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's environment, restored afterwards, without any auth setting of the
    developer's; the devstack writes into it as it does at start-up."""
    for name in ("ALLOW_ANONYMOUS", "API_KEYS", "APP_SECRET_ID", "DEVSTACK_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    with mock.patch.dict(os.environ):
        yield


def configure(config: DevstackConfig) -> dict[str, str]:
    """The environment the devstack gives its API and worker for ``config``."""
    devstack = Devstack(config, progress=lambda _: None)
    devstack.resources = RESOURCES
    devstack._configure_environment()
    return dict(os.environ)


def test_without_keys_the_api_is_opened_with_allow_anonymous(environment: None) -> None:
    configured = configure(parse_args([]))

    assert configured["ALLOW_ANONYMOUS"] == "true"
    assert "APP_SECRET_ID" not in configured


@pytest.mark.parametrize("keys", ["key-one-0123456789,key-two-0123456789", TENANT_KEYS])
def test_with_keys_the_api_reads_them_from_the_secret_and_is_not_opened(
    environment: None, keys: str
) -> None:
    configured = configure(parse_args([f"--api-keys={keys}"]))

    assert configured["APP_SECRET_ID"] == SECRET_NAME
    assert "ALLOW_ANONYMOUS" not in configured


def test_keys_from_devstack_api_keys_count_as_keys(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSTACK_API_KEYS", TENANT_KEYS)

    assert "ALLOW_ANONYMOUS" not in configure(parse_args([]))


@pytest.mark.parametrize(
    ("name", "value"), [("ALLOW_ANONYMOUS", "false"), ("ALLOW_ANONYMOUS", "1"), ("API_KEYS", "k")]
)
def test_an_auth_setting_of_this_environment_is_kept(
    environment: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    configured = configure(parse_args([]))

    assert configured[name] == value
    assert name == "ALLOW_ANONYMOUS" or "ALLOW_ANONYMOUS" not in configured


def usage(capsys: pytest.CaptureFixture[str], api_keys: str | None) -> str:
    cli._print_usage("http://127.0.0.1:8000", api_keys)
    return capsys.readouterr().out


def test_the_start_up_output_says_the_api_is_open_only_in_the_devstack(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(parse_args([]))

    out = usage(capsys, None)

    assert OPEN_LINE in out.splitlines()
    assert "X-API-Key" not in out


def test_the_start_up_output_says_keys_are_required_and_shows_none(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_args(["--api-keys", TENANT_KEYS])
    configure(config)

    out = usage(capsys, config.api_keys)

    assert "Auth: the API requires X-API-Key: 3 keys of tenants acme, globex" in out
    assert out.count('-H "X-API-Key: $API_KEY"') == 5  # every curl example sends it
    assert [key for key in ALL_KEYS if key in out] == []
    assert "acme-key" not in repr(config)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("API_KEYS", "k-0123456789", "Auth: the API requires X-API-Key: the keys of API_KEYS"),
        ("ALLOW_ANONYMOUS", "false", "Auth: closed: no API keys and ALLOW_ANONYMOUS=false"),
    ],
)
def test_the_start_up_output_follows_an_auth_setting_of_this_environment(
    environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    configure(parse_args([]))

    out = usage(capsys, None)

    assert expected in out
    assert "k-0123456789" not in out


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ('{"Acme": ["k"]}', "tenant name 1 (4 characters) must be"),
        ('{"acme": "not-a-list-secret"}', "must map to a JSON list"),
        ("[not json", "not valid JSON"),
        (",", "lists no key"),
    ],
)
def test_malformed_keys_stop_the_devstack_naming_the_problem_not_the_key(
    capsys: pytest.CaptureFixture[str], keys: str, problem: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args([f"--api-keys={keys}"])

    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert problem in error
    assert "not-a-list-secret" not in error


def test_empty_keys_mean_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_API_KEYS", " ")

    assert parse_args([]).api_keys is None


def test_the_object_form_reaches_the_secret_as_given(
    aws: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the devstack's Secrets Manager client, here in-process moto
    devstack = Devstack(parse_args([f"--api-keys={TENANT_KEYS}"]), progress=lambda _: None)
    monkeypatch.setattr(
        devstack, "client", lambda service: boto3.client(service, region_name=TEST_REGION)
    )
    secrets = boto3.client("secretsmanager", region_name=TEST_REGION)

    # WHEN it stores the keys, then again (an --attach process over an existing secret)
    for _ in range(2):
        assert devstack.config.api_keys is not None
        devstack._put_secret({"API_KEYS": devstack.config.api_keys})
        stored = json.loads(secrets.get_secret_value(SecretId=SECRET_NAME)["SecretString"])

        # THEN the API reads the same tenants and keys from it
        assert stored == {"API_KEYS": TENANT_KEYS}
        keyring = parse_api_keys(stored["API_KEYS"])
        assert keyring.tenant_of(ACME_SPARE) == "acme"
        assert keyring.tenant_of(GLOBEX_KEY) == "globex"


@pytest.mark.e2e
@pytest.mark.parametrize("keys", [None, TENANT_KEYS], ids=["open", "tenant-keys"])
def test_the_devstack_api_is_open_without_keys_and_keyed_by_tenant_with_them(
    start_devstack: Callable[..., DevstackProcess],
    fake_llm: FakeLLMServer,
    http: httpx.Client,
    keys: str | None,
) -> None:
    # GIVEN a devstack's API (no worker needed), started with or without keys
    ports = StackPorts()
    args = [*ports.args(), f"--llm-api-base={fake_llm.base_url}", "--no-worker"]
    process = start_devstack([*args, f"--api-keys={keys}"] if keys else args, "Ctrl-C")
    log = process.log_path.read_text()
    tasks = f"{ports.api_url}/tasks"

    if keys is None:
        # THEN it says it is open, and is
        assert OPEN_LINE in log.splitlines()
        assert http.get(tasks).status_code == 200
    else:
        # THEN it says keys are required, and only a tenant's key (plain or hashed) lets one in
        assert "Auth: the API requires X-API-Key: 3 keys of tenants acme, globex" in log
        assert http.get(tasks).status_code == 401
        assert http.get(tasks, headers={"X-API-Key": "not-a-key"}).status_code == 401
        for key in (ACME_KEY, ACME_SPARE, GLOBEX_KEY):
            assert http.get(tasks, headers={"X-API-Key": key}).status_code == 200
    assert http.get(f"{ports.api_url}/health").status_code == 200
    assert [key for key in ALL_KEYS if key in process.log_path.read_text()] == []
