"""One request to the API: headers, the JSON body as fixed bytes, retries, errors as exceptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tenacity import Retrying

from gen_ai_jobs._bulk import canonical_json
from gen_ai_jobs._version import __version__
from gen_ai_jobs.errors import APIConnectionError, error_from_response, redact

EXAMPLE_URL = "http://127.0.0.1:8000"


class Transport:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float,
        http_client: httpx.Client | None,
        retrying: Callable[[], Retrying],
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"base_url must be an http(s) URL such as {EXAMPLE_URL}, got {base_url!r}"
            )
        self._base_url = base_url
        # For messages: credentials someone put in the URL are not echoed.
        self._shown_url = str(url.copy_with(userinfo=b""))
        self._api_key = api_key or None
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._timeout = timeout
        self._retrying = retrying

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def get(self, path: str) -> httpx.Response:
        return self._request("GET", path, None, None)

    def post(self, path: str, body: Any, idempotency_key: str | None) -> httpx.Response:
        """`body` is sent as the same bytes on every retry, so an idempotent replay matches."""
        return self._request("POST", path, body, idempotency_key)

    def _request(
        self, method: str, path: str, body: Any, idempotency_key: str | None
    ) -> httpx.Response:
        headers = {"Accept": "application/json", "User-Agent": f"gen-ai-jobs/{__version__}"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if body is not None:
            content = canonical_json(body)
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method, self._base_url + path, headers=headers, content=content, timeout=self._timeout
        )
        return self._retrying()(self._send_once, request)

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._http.send(request)
            response.read()
        except httpx.TransportError as error:
            reason = redact(f"{type(error).__name__}: {error}", self._api_key)
            raise APIConnectionError(
                f"could not reach the API at {self._shown_url} ({reason}); "
                "check the URL (base_url, --api-url or GEN_AI_API_URL) and that the API is up"
            ) from error
        if response.is_error:
            raise error_from_response(response, api_key=self._api_key)
        return response
