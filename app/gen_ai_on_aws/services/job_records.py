"""The `queued` job record the API creates (schema: docs/contracts.md), single or in batches."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gen_ai_contracts.jobs import rfc3339
from gen_ai_contracts.queue import Priority

# A job submitted with a callback_url starts with this webhook state (shown by GET /jobs/{id}).
PENDING_CALLBACK = {"status": {"S": "pending"}, "attempts": {"N": "0"}}


@dataclass(frozen=True)
class QueuedJob:
    """What a new record holds beyond its timestamps. The callback URL and the tenant (the
    message's MessageGroupId) are stored, never shown."""

    job_id: str
    task: str
    callback_url: str | None = None
    priority: Priority = "normal"
    tenant: str | None = None


def queued_item(
    job: QueuedJob, *, request_id: str | None, now: datetime, ttl_seconds: int
) -> dict[str, Any]:
    """The record in DynamoDB's attribute-value form, expiring `ttl_seconds` from `now`."""
    timestamp = rfc3339(now)
    item: dict[str, Any] = {
        "job_id": {"S": job.job_id},
        "status": {"S": "queued"},
        "task": {"S": job.task},
        "priority": {"S": job.priority},
        "created_at": {"S": timestamp},
        "updated_at": {"S": timestamp},
        "attempts": {"N": "0"},
        "expires_at": {"N": str(int(now.timestamp()) + ttl_seconds)},
    }
    if job.tenant is not None:
        item["tenant"] = {"S": job.tenant}
    if request_id is not None:
        item["request_id"] = {"S": request_id}
    if job.callback_url is not None:
        item["callback_url"] = {"S": job.callback_url}
        item["callback"] = {"M": PENDING_CALLBACK}
    return item
