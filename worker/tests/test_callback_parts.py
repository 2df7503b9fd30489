"""The delivery function's parts on their own: target pinning, signing, back-off."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from devstack.webhook_receiver import WebhookReceiver
from gen_ai_contracts.webhooks import CallbackTargetError
from worker.callbacks import target as target_module
from worker.callbacks.backoff import retry_delay_seconds
from worker.callbacks.sender import new_http_client, post_event
from worker.callbacks.signing import signed_headers, webhook_signer
from worker.callbacks.target import pin_target
from worker.services.loop import shared_loop

from .conftest import WEBHOOK_SECRET

PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Make every name resolve to ``addresses``; returns the names looked up."""
    looked_up: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, int(port)))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return looked_up


def test_a_name_is_pinned_to_its_checked_address_keeping_host_and_tls_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = resolving_to(monkeypatch, PUBLIC_V4)
    target = pin_target("https://Hooks.Example.com:8443/jobs?token=t", allow_private=False)
    assert looked_up == ["hooks.example.com"]
    assert str(target.url) == f"https://{PUBLIC_V4}:8443/jobs?token=t"
    assert target.headers == {"host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


def test_an_ipv6_address_is_bracketed_and_an_idn_is_checked_in_its_ascii_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = resolving_to(monkeypatch, PUBLIC_V6)
    target = pin_target("https://bücher.example/hook", allow_private=False)
    assert looked_up == ["xn--bcher-kva.example"]
    assert str(target.url) == f"https://[{PUBLIC_V6}]/hook"
    assert target.headers == {"host": "xn--bcher-kva.example"}


def test_a_literal_public_address_needs_no_lookup_and_no_tls_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = resolving_to(monkeypatch)
    target = pin_target(f"https://{PUBLIC_V4}/hook", allow_private=False)
    assert looked_up == []
    assert target.extensions == {}


@pytest.mark.parametrize(
    "resolved", [["127.0.0.1"], [PUBLIC_V4, "10.0.0.5"], ["169.254.169.254"], ["::ffff:7f00:1"]]
)
def test_any_private_address_among_the_resolved_ones_refuses_the_target(
    monkeypatch: pytest.MonkeyPatch, resolved: list[str]
) -> None:
    resolving_to(monkeypatch, *resolved)
    with pytest.raises(CallbackTargetError):
        pin_target("https://hooks.example.com/", allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/", "https://localhost/", "https://2130706433/"]
)
def test_urls_refused_at_submit_are_refused_at_delivery_too(url: str) -> None:
    with pytest.raises(CallbackTargetError):
        pin_target(url, allow_private=False)


def test_private_targets_allowed_leaves_the_url_alone_and_resolves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = resolving_to(monkeypatch, "127.0.0.1")
    target = pin_target("http://127.0.0.1:9000/hook", allow_private=True)
    assert (str(target.url), target.headers, looked_up) == ("http://127.0.0.1:9000/hook", {}, [])


def test_the_request_goes_to_the_checked_address_not_to_a_new_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the guard saw 127.0.0.1 for the name (pretend it is public, to reach a local
    # receiver) and any later lookup of the name would answer something else
    monkeypatch.setattr(target_module, "check_callback_url", lambda url, **_: url)
    checked = [ipaddress.ip_address("127.0.0.1")]
    monkeypatch.setattr(target_module, "check_resolved_addresses", lambda *_: checked)
    with WebhookReceiver() as receiver:
        target = pin_target(f"http://hooks.example.com:{receiver.port}/x", allow_private=False)

        def no_lookup(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the name was resolved again")

        monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
        # WHEN the attempt is made
        http = new_http_client()
        result = shared_loop.run(post_event(http, target, headers={}, payload="{}"), timeout=10)
        shared_loop.run(http.aclose(), timeout=5)
        # THEN it reached the checked address with the name in Host
        assert result.status_code == 200
        [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.com:{receiver.port}"


def test_signatures_verify_with_the_receivers_library() -> None:
    signer = webhook_signer(SecretStr(WEBHOOK_SECRET))
    now = datetime.now(UTC)
    headers = signed_headers(signer, webhook_id="msg_1", payload='{"a":1}', now=now)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(WEBHOOK_SECRET).verify('{"a":1}', headers) == {"a": 1}


def test_an_unpadded_secret_is_accepted_like_the_library_does() -> None:
    unpadded = WEBHOOK_SECRET.rstrip("=")
    signer = webhook_signer(SecretStr(unpadded))
    headers = signed_headers(signer, webhook_id="msg_1", payload="{}", now=datetime.now(UTC))
    assert Webhook(WEBHOOK_SECRET).verify("{}", headers) == {}


def test_backoff_doubles_from_the_base_up_to_the_cap_with_at_most_half_taken_off() -> None:
    def delays(jitter: float) -> list[int]:
        return [
            retry_delay_seconds(n, base_seconds=5, cap_seconds=60, jitter=lambda: jitter)
            for n in range(1, 7)
        ]

    assert delays(0.0) == [5, 10, 20, 40, 60, 60]
    assert delays(1.0) == [3, 5, 10, 20, 30, 30]
    assert retry_delay_seconds(1, base_seconds=1, cap_seconds=1, jitter=lambda: 1.0) == 1
