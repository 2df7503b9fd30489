"""Webhook contract: who may be called back (SSRF guard) and the event both Lambdas enqueue.

The API checks a `callback_url` at submit with `check_callback_url`; the delivery function checks
the addresses the host resolves to again at delivery (`check_resolved_addresses`), so a name that
later resolves to a private address (DNS rebinding) is refused too. Events follow the Standard
Webhooks spec: `webhook-id` is derived from the job and event type, so it is the same for every
retry and every duplicate enqueue of one event.
"""

import ipaddress
import re
import socket
import uuid
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict

from gen_ai_contracts.queue import JobId

MAX_CALLBACK_URL_CHARS = 2_048

EventType = Literal["job.succeeded", "job.failed", "job.cancelled"]
EVENT_TYPES: dict[str, EventType] = {
    "succeeded": "job.succeeded",
    "failed": "job.failed",
    "cancelled": "job.cancelled",
}

# Spellings inet_aton reads as IPv4 that ipaddress does not: 2130706433, 0x7f.1, 0177.0.0.1, 127.1
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
_WEBHOOK_NAMESPACE = uuid.UUID("5a0f3c52-8c43-4bde-a5a3-6f7f8e2b1c11")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackTargetError(ValueError):
    """The callback URL is not one we may call; the message says why (never the whole URL)."""


class CallbackEvent(BaseModel):
    """The callbacks queue's message: which job's final event to deliver (not its data: the
    delivery reads the job record, so a retry always sends the job as it is)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    job_id: JobId
    type: EventType
    webhook_id: str
    occurred_at: AwareDatetime


def webhook_id(job_id: str, event_type: str) -> str:
    """Stable per (job, event): receivers dedupe on it across retries and duplicate enqueues."""
    return f"msg_{uuid.uuid5(_WEBHOOK_NAMESPACE, f'{job_id}:{event_type}').hex}"


def callback_event(job_id: str, status: str, occurred_at: datetime) -> CallbackEvent:
    event_type = EVENT_TYPES[status]
    return CallbackEvent(
        job_id=job_id,
        type=event_type,
        webhook_id=webhook_id(job_id, event_type),
        occurred_at=occurred_at,
    )


def check_callback_url(url: str, *, allow_private: bool) -> str:
    """`url` if we may POST to it, else CallbackTargetError.

    Unless `allow_private` (the devstack): https only, and no literal address or name that
    means this machine, its network or the cloud metadata service."""
    if len(url) > MAX_CALLBACK_URL_CHARS:
        raise CallbackTargetError(f"must be at most {MAX_CALLBACK_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise CallbackTargetError("is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CallbackTargetError("must be an absolute https URL")
    if allow_private:
        return url
    if parts.scheme != "https":
        raise CallbackTargetError("must use https")
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise CallbackTargetError("must not point at localhost")
    address = literal_address(host)
    if address is not None:
        check_address(address)
    return url


def literal_address(host: str) -> Address | None:
    """The IP address a host literally is (any spelling), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise CallbackTargetError("has a host that is not a valid address") from None
    return None


def check_address(address: Address) -> None:
    """Refuse anything but a public unicast address, including IPv4 inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            check_address(embedded)
    if address.is_multicast or not address.is_global:
        raise CallbackTargetError("must not point at a private, local or reserved address")


def check_resolved_addresses(host: str, port: int) -> list[Address]:
    """Resolve `host` and check every address it resolves to (at delivery: DNS rebinding)."""
    literal = literal_address(host)
    if literal is not None:
        check_address(literal)
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise CallbackTargetError("host does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        check_address(address)
    return addresses
