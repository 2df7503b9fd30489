"""Absolute URLs as the client sees them, including API Gateway's REST stage prefix."""

from fastapi import Request

# Stands for a path parameter while a route's path is looked up (once per route name).
_PLACEHOLDER = "__path_param_{}__"
# Where the app keeps the paths it looked up, by route name and parameter names.
_TEMPLATES = "url_path_templates"


def public_url_for(request: Request, name: str, **path_params: str) -> str:
    """`request.url_for`, plus the stage (e.g. `/prod`) that a REST API (v1) strips from
    `path` but the client must send. Built as a string from the route's path, found once per
    name: `url_for` walks every route and parses URLs again, on each submission (and for each
    item of a batch)."""
    path = _path_template(request, name, tuple(path_params))
    for param, value in path_params.items():
        path = path.replace(_PLACEHOLDER.format(param), value)
    base = request.base_url  # cached on the request; its path is the root path, with a "/"
    return (
        f"{base.scheme}://{base.netloc}{_rest_stage_prefix(request)}{base.path.rstrip('/')}{path}"
    )


def _path_template(request: Request, name: str, params: tuple[str, ...]) -> str:
    """The route's path with placeholders for `params`, kept on the app (its routes never
    change once it serves)."""
    templates: dict[tuple[str, tuple[str, ...]], str] | None = getattr(
        request.app.state, _TEMPLATES, None
    )
    if templates is None:
        templates = {}
        setattr(request.app.state, _TEMPLATES, templates)
    key = (name, params)
    if key not in templates:
        placeholders = {param: _PLACEHOLDER.format(param) for param in params}
        templates[key] = str(request.app.url_path_for(name, **placeholders))
    return templates[key]


def _rest_stage_prefix(request: Request) -> str:
    event = request.scope.get("aws.event") or {}
    public_path = (event.get("requestContext") or {}).get("path")
    path = event.get("path")
    if not isinstance(public_path, str) or not isinstance(path, str):
        return ""
    if public_path != path and public_path.endswith(path):
        return public_path.removesuffix(path)
    return ""
