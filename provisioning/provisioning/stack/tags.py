"""Tags every resource carries, so cost and ownership can be traced per stack and component."""

from __future__ import annotations

import pulumi


def tags_for(component: str) -> dict[str, str]:
    """Explicit tags (not provider default_tags) so unit tests can see them on every resource."""
    return {"project": pulumi.get_project(), "stack": pulumi.get_stack(), "component": component}
