"""The OpenAPI document describes the auth mode the API is in.

FastAPI lists the `X-API-Key` scheme on every guarded operation, which tells clients and
fuzzers the key is required. With no `API_KEYS` and `ALLOW_ANONYMOUS=true` the API is open,
so the document drops the scheme: a generated client must not demand a key nobody has, and a
fuzzer must not report "missing required header accepted".
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from gen_ai_on_aws.config import get_settings


def auth_aware_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """A replacement for `app.openapi`: FastAPI's document, without security when open
    (fail-closed without keys keeps it: a key is what the API will ask for)."""
    generate = app.openapi  # FastAPI's own (it caches in app.openapi_schema)

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        settings = get_settings()
        if fresh and not settings.api_keys and settings.allow_anonymous:
            _drop_security(schema)
        return schema

    return openapi


def _drop_security(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    components = schema.get("components", {})
    components.pop("securitySchemes", None)
