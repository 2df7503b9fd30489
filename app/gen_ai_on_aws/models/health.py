"""The health check's answer."""

from typing import Literal

from pydantic import BaseModel


class HealthStatus(BaseModel):
    """The process is up and serving; says nothing about AWS or the LLM (no calls are made)."""

    status: Literal["ok"] = "ok"
    version: str
