"""Where one delivery attempt connects, re-checked against the SSRF guard after DNS resolution.

Unless private targets are allowed (the devstack), the request goes to the address that was
checked, not to whatever the name resolves to a moment later (DNS rebinding): the URL carries
the address, while the Host header and the TLS server name (SNI, and the certificate check)
keep the original name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from gen_ai_contracts.webhooks import (
    CallbackTargetError,
    check_callback_url,
    check_resolved_addresses,
    literal_address,
)

_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Target:
    """The request's URL plus the headers and httpx extensions that go with it."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def pin_target(url: str, *, allow_private: bool) -> Target:
    """The target for `url`; CallbackTargetError when the URL, or any address its host resolves
    to, is refused. Blocking (DNS): run it in a thread."""
    check_callback_url(url, allow_private=allow_private)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise CallbackTargetError("is not a valid URL") from None
    if allow_private:
        return Target(parsed)
    # The host exactly as httpx will use it (IDNA-encoded), so what is checked is what is called.
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    address = check_resolved_addresses(host, port)[0]
    headers = {"host": parsed.netloc.decode("ascii")}
    tls_name = {} if literal_address(host) is not None else {"sni_hostname": host}
    return Target(parsed.copy_with(host=str(address)), headers, tls_name)
