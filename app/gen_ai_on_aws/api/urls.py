"""Absolute URLs as the client sees them, including API Gateway's REST stage prefix."""

from typing import Any

from fastapi import Request


def public_url_for(request: Request, name: str, **path_params: Any) -> str:
    """`request.url_for`, plus the stage (e.g. `/prod`) that a REST API (v1) strips from
    `path` but the client must send."""
    url = request.url_for(name, **path_params)
    prefix = _rest_stage_prefix(request)
    return str(url.replace(path=prefix + url.path)) if prefix else str(url)


def _rest_stage_prefix(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    public_path = (event.get("requestContext") or {}).get("path")
    path = event.get("path")
    if not isinstance(public_path, str) or not isinstance(path, str):
        return ""
    if public_path != path and public_path.endswith(path):
        return public_path.removesuffix(path)
    return ""
