"""`GET /health`: liveness only, so it stays open, fast and free of AWS calls."""

from fastapi import APIRouter

from gen_ai_on_aws import __version__
from gen_ai_on_aws.models.health import HealthStatus

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness check (no AWS or LLM call)")
async def get_health() -> HealthStatus:
    return HealthStatus(version=__version__)
