"""The job record both Lambdas read and write: statuses, error and usage shapes, timestamps."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer
from pydantic import AwareDatetime, BaseModel, Field

from gen_ai_contracts.queue import Priority

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

# A job in one of these never changes again (no transition leaves them).
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class JobError(BaseModel):
    """Why a job failed (`error`) or why its last attempt did not finish (`last_error`)."""

    code: str
    message: str


class TokenUsage(BaseModel):
    """Tokens summed over every LLM call of a job: validation re-asks and fallbacks included."""

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


CallbackStatus = Literal["pending", "delivered", "failed"]


class CallbackState(BaseModel):
    """Where the job's webhook stands; the URL itself is never shown (it may hold tokens)."""

    status: CallbackStatus
    attempts: int = 0
    last_status_code: int | None = None


class JobPublic(BaseModel):
    """A job as clients see it (GET /jobs/{id}, and the `data` of its webhook events)."""

    job_id: str
    status: JobStatus
    task: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    attempts: int = Field(
        default=0,
        description=(
            "Attempts that reached the LLM provider and counted against the job's budget;"
            " deliveries deferred by rate limits, an open circuit or a provider's 429 do not count."
        ),
    )
    priority: Priority = "normal"
    last_error: JobError | None = Field(
        default=None,
        description="While queued or running: why the last attempt did not finish (e.g."
        " `provider_rate_limited`, `provider_unavailable`); null once final.",
    )
    result: dict[str, Any] | None = None
    error: JobError | None = None
    model: str | None = Field(default=None, description="The model that answered; null before.")
    usage: TokenUsage | None = Field(
        default=None, description="Tokens over every LLM call of the job; null before any call."
    )
    cost_usd: float | None = Field(
        default=None, description="Price of `usage` on `model`; null when the model is unpriced."
    )
    callback: CallbackState | None = Field(
        default=None, description="The webhook's delivery state; null without a callback_url."
    )


_deserializer = TypeDeserializer()


def item_from_dynamodb(raw_item: Mapping[str, Any]) -> dict[str, Any]:
    """A job record as DynamoDB's low-level API returns it, as plain Python values."""
    return {key: _deserializer.deserialize(value) for key, value in raw_item.items()}


def job_public(item: Mapping[str, Any]) -> JobPublic:
    """The public view of a deserialized record: internal attributes (lease, dispatch,
    tenant, `callback_url`, ...) are left out."""
    result = item.get("result")
    cost = item.get("cost_usd")
    callback = item.get("callback")
    return JobPublic(
        job_id=item["job_id"],
        status=item["status"],
        task=item["task"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        attempts=max(int(item.get("attempts", 0)), 0),
        priority=item.get("priority", "normal"),
        last_error=None if item["status"] in FINAL_STATUSES else item.get("last_error"),
        result=json.loads(result) if isinstance(result, str) else result,
        error=item.get("error"),
        model=item.get("model"),
        usage=_usage(item),
        cost_usd=None if cost is None else float(cost),
        callback=CallbackState.model_validate(callback) if callback else None,
    )


def _usage(item: Mapping[str, Any]) -> TokenUsage | None:
    """Null until the worker has recorded a call (`prompt_tokens` written)."""
    if item.get("prompt_tokens") is None:
        return None
    return TokenUsage(
        prompt_tokens=int(item["prompt_tokens"]),
        completion_tokens=int(item.get("completion_tokens", 0)),
    )


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z` and microseconds: the one timestamp form in job records."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_from_epoch(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
