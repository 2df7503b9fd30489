"""What `stats` reads: queue depths (SQS attributes), oldest-message ages (CloudWatch, the only
place SQS publishes them) and each model's circuit (the LLM state table's `circuit#<model>`
items, as the worker's breaker writes them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gen_ai_jobs.cli.admin._aws import error_code

DEPTH_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]
AGE_WINDOW = timedelta(minutes=10)  # SQS publishes once a minute; take the latest point
CIRCUIT_PREFIX = "circuit#"
_MAX_SCAN_PAGES = 20  # the table holds seconds-to-minutes of state: a few items per model


@dataclass(frozen=True)
class QueueDepth:
    name: str
    visible: int
    in_flight: int
    delayed: int

    @classmethod
    def from_attributes(cls, name: str, attributes: dict[str, str]) -> QueueDepth:
        def count(key: str) -> int:
            return int(attributes.get(key, 0))

        return cls(
            name=name,
            visible=count("ApproximateNumberOfMessages"),
            in_flight=count("ApproximateNumberOfMessagesNotVisible"),
            delayed=count("ApproximateNumberOfMessagesDelayed"),
        )


def oldest_ages(
    cloudwatch: Any, queue_names: list[str], now: datetime
) -> tuple[dict[str, float | None], str | None]:
    """ApproximateAgeOfOldestMessage per queue (seconds, latest minute's maximum) in one
    GetMetricData call; every age None and the reason when CloudWatch cannot be asked."""
    ages: dict[str, float | None] = dict.fromkeys(queue_names)
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for index, name in enumerate(queue_names)
    ]
    try:
        response = cloudwatch.get_metric_data(
            MetricDataQueries=queries,
            StartTime=now - AGE_WINDOW,
            EndTime=now,
            ScanBy="TimestampDescending",
        )
    except Exception as error:  # best effort: an age is shown as '-', never a failure
        return ages, f"CloudWatch not available ({error_code(error) or type(error).__name__})"
    for result in response.get("MetricDataResults", []):
        values = result.get("Values") or []
        index = int(str(result.get("Id", "q-1"))[1:])
        if values and 0 <= index < len(queue_names):
            ages[queue_names[index]] = float(values[0])
    return ages, None


@dataclass(frozen=True)
class Circuit:
    """A model's circuit now: `closed`, `open`, `half-open` or `paused` (a provider's 429)."""

    model: str
    state: str
    seconds_left: float | None  # until it may be called (or the running probe's lease ends)
    failures: int  # consecutive retryable failures counted in the current window
    cooldown_seconds: float

    @classmethod
    def from_item(cls, item: dict[str, Any], now: float) -> Circuit:
        def number(name: str) -> float:
            value = item.get(name, {}).get("N")
            return float(value) if value is not None else 0.0

        model = str(item["pk"]["S"]).removeprefix(CIRCUIT_PREFIX)
        open_until, probe_until = number("open_until"), number("probe_until")
        paused_until = number("paused_until")
        state, until = "closed", 0.0
        if paused_until > now:  # checked first by the worker too
            state, until = "paused", paused_until
        elif open_until > now:
            state, until = "open", open_until
        elif open_until > 0:  # cooled down: the next caller probes (or one is probing)
            state, until = "half-open", probe_until
        return cls(
            model=model,
            state=state,
            seconds_left=until - now if until > now else None,
            failures=int(number("failures")),
            cooldown_seconds=number("cooldown"),
        )


def read_circuits(dynamodb: Any, table: str, now: float) -> list[Circuit] | None:
    """Every model's circuit, by model name; None when the table does not exist."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :prefix)",
        "ExpressionAttributeValues": {":prefix": {"S": CIRCUIT_PREFIX}},
    }
    for _ in range(_MAX_SCAN_PAGES):
        try:
            response = dynamodb.scan(**request)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return sorted((Circuit.from_item(item, now) for item in items), key=lambda c: c.model)


def utc_now() -> datetime:
    return datetime.now(UTC)
