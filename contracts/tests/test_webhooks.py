"""The SSRF guard: every spelling of a private target is refused; public https is accepted."""

from __future__ import annotations

import socket

import pytest

from gen_ai_contracts.webhooks import (
    CallbackTargetError,
    callback_event,
    check_callback_url,
    check_resolved_addresses,
    webhook_id,
)

REFUSED = [
    "http://example.com/hook",  # not https
    "ftp://example.com/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",  # 127.0.0.1 as one number
    "https://0x7f000001/hook",
    "https://0x7f.0.0.1/hook",
    "https://0177.0.0.1/hook",  # octal
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",  # instance metadata
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",  # multicast
    "https://240.0.0.1/hook",  # reserved
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "https://[::ffff:7f00:1]/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "https://[2002:a9fe:a9fe::]/hook",  # 6to4 around 169.254.169.254
    "https://example.com:99999/hook",  # invalid port
    "not a url",
    "https:///nohost",
    "https://" + "a" * 2100 + ".com/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_malformed_targets_are_refused(url: str) -> None:
    with pytest.raises(CallbackTargetError):
        check_callback_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook?token=abc",
        "https://93.184.216.34:8443/x",
        "https://[2606:4700::1111]/",
    ],
)
def test_public_https_targets_are_accepted(url: str) -> None:
    assert check_callback_url(url, allow_private=False) == url


def test_the_devstack_may_call_back_to_loopback() -> None:
    url = "http://127.0.0.1:9000/hook"
    assert check_callback_url(url, allow_private=True) == url
    with pytest.raises(CallbackTargetError):
        check_callback_url("ftp://127.0.0.1/", allow_private=True)


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a public-looking name that (now) resolves to 127.0.0.1: DNS rebinding
    def resolve(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert check_callback_url("https://rebind.example/hook", allow_private=False)
    with pytest.raises(CallbackTargetError):
        check_resolved_addresses("rebind.example", 443)


def test_webhook_ids_are_stable_per_job_and_event() -> None:
    job = "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10"
    assert webhook_id(job, "job.succeeded") == webhook_id(job, "job.succeeded")
    assert webhook_id(job, "job.succeeded") != webhook_id(job, "job.failed")
    from datetime import UTC, datetime

    event = callback_event(job, "cancelled", datetime.now(UTC))
    assert (event.type, event.webhook_id) == ("job.cancelled", webhook_id(job, "job.cancelled"))
