"""`TENANT_RPM_LIMIT`: each tenant's requests per minute, counted fleet-wide.

Every guarded request of a tenant takes one unit of `tenant-rpm#<tenant>` in the LLM state
table (the GCRA limiter the worker's model limits use: one conditional UpdateItem, no server),
so one runaway client cannot spend the LLM budget or crowd out the other tenants. A tenant may
use its whole minute at once, then one request per 60/limit seconds; over it, 429
`rate_limited` with Retry-After. If the table cannot be reached the request is served: the
limit protects a budget, it is not an access control, and an outage of it must not take the
API down with it.
"""

from functools import lru_cache

from fastapi import Request

from gen_ai_contracts.ratelimit import Rate, RateLimiter
from gen_ai_on_aws.api.blocking import run_blocking
from gen_ai_on_aws.api.errors import ApiError
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.aws import AwsCallError, create_dynamodb_client, describe_aws_error

KEY_PREFIX = "tenant-rpm#"
RATE_LIMITED = (
    "This API key's tenant is over TENANT_RPM_LIMIT requests per minute;"
    " retry after Retry-After seconds."
)


async def check_tenant_rate(request: Request, tenant: str, settings: Settings) -> None:
    """Take one unit of the tenant's rate; 429 `rate_limited` when it has none left."""
    if settings.tenant_rpm_limit is None or settings.llm_state_table_name is None:
        return
    limiter = _limiter(settings.llm_state_table_name, settings.aws_region)
    rate = _rate(settings.tenant_rpm_limit)
    try:
        decision = await run_blocking(request, lambda: limiter.acquire(KEY_PREFIX + tenant, rate))
    except AwsCallError as exc:
        logger.warning(
            "tenant rate limit not checked: the state table is unavailable",
            extra={"reason": describe_aws_error(exc)},
        )
        return
    if not decision.allowed:
        retry_after = max(1, -int(-decision.retry_after // 1))  # whole seconds, rounded up
        logger.info("tenant over its rate limit", extra={"retry_after": retry_after})
        raise ApiError(429, "rate_limited", RATE_LIMITED, headers={"Retry-After": str(retry_after)})


@lru_cache(maxsize=4)
def _limiter(table_name: str, region: str | None) -> RateLimiter:
    """One per process: it remembers each key's last schedule, saving a write on busy keys."""
    return RateLimiter(create_dynamodb_client(region), table_name)


@lru_cache(maxsize=8)
def _rate(requests_per_minute: int) -> Rate:
    """A minute's requests may come at once (a burst of the whole limit), then paced."""
    return Rate(limit=requests_per_minute, period_seconds=60.0, burst_seconds=60.0)


def reset() -> None:
    """Forget the process's limiters (tests: a new cold start)."""
    _limiter.cache_clear()
