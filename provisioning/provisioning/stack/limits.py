"""Stack config for the worker's fleet-wide limits: lane concurrency, LLM quotas, breaker, budget.

Parsed here and validated (with config.py's other checks) before any resource exists; the
worker reads the same names (worker/src/worker/config.py) and re-validates at cold start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

Lane = Literal["high", "normal", "low"]
LANES: tuple[Lane, ...] = ("high", "normal", "low")
# AWS bounds for an SQS event source mapping's ScalingConfig.MaximumConcurrency.
MIN_MAPPING_CONCURRENCY, MAX_MAPPING_CONCURRENCY = 2, 1000
DEFAULT_JOB_MAX_ATTEMPTS = 5
# Retries and deferrals are new messages, so one message's receives count only crashed or
# timed-out invocations and busy claims: the SQS backstop sits well above the job's budget.
BACKSTOP_FACTOR = 2
RATE_KINDS = frozenset({"rpm", "tpm"})


@dataclass(frozen=True)
class LaneConcurrency:
    """MaximumConcurrency of each lane's event source mapping (each lane polls on its own)."""

    high: int
    normal: int
    low: int

    def of(self, lane: Lane) -> int:
        return {"high": self.high, "normal": self.normal, "low": self.low}[lane]


@dataclass(frozen=True)
class LlmLimits:
    """Provider quotas and breaker knobs; None means the worker's own default (or no limit)."""

    rpm: int | None = None
    tpm: int | None = None
    per_model: dict[str, dict[str, int]] = field(default_factory=dict)
    max_wait_seconds: float | None = None
    circuit_failures: int | None = None
    circuit_cooldown_seconds: float | None = None
    circuit_max_cooldown_seconds: float | None = None

    def environment(self) -> dict[str, str]:
        """The worker's variables for the values that are set."""
        values: dict[str, object | None] = {
            "LLM_RPM_LIMIT": self.rpm,
            "LLM_TPM_LIMIT": self.tpm,
            "LLM_RATE_LIMITS": _compact_json(self.per_model) if self.per_model else None,
            "LLM_LIMIT_MAX_WAIT_SECONDS": self.max_wait_seconds,
            "LLM_CIRCUIT_FAILURES": self.circuit_failures,
            "LLM_CIRCUIT_COOLDOWN_SECONDS": self.circuit_cooldown_seconds,
            "LLM_CIRCUIT_MAX_COOLDOWN_SECONDS": self.circuit_max_cooldown_seconds,
        }
        return {name: str(value) for name, value in values.items() if value is not None}


def read_lane_concurrency(cfg: pulumi.Config, normal: int) -> LaneConcurrency:
    """`laneConcurrency` ({"high", "normal", "low"}, any subset). Defaults: normal is
    `eventSourceMaxConcurrency` (so existing mappings keep their cap), high as wide as normal
    (a high backlog never waits behind the others and, under a shared rate limit, gets at least
    normal's share), low half of normal (at least the AWS minimum of 2)."""
    raw = cfg.get_object("laneConcurrency") or {}
    if not isinstance(raw, dict) or set(raw) - set(LANES):
        raise ValueError(f"laneConcurrency must be an object with keys among {list(LANES)}")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in raw.values()):
        raise ValueError("laneConcurrency values must be integers")
    explicit = cfg.get_int("eventSourceMaxConcurrency")
    if "normal" in raw and explicit is not None and raw["normal"] != explicit:
        raise ValueError(
            "laneConcurrency.normal and eventSourceMaxConcurrency disagree; set only one"
        )
    normal = raw.get("normal", normal)
    return LaneConcurrency(
        high=raw.get("high", normal),
        normal=normal,
        low=raw.get("low", max(MIN_MAPPING_CONCURRENCY, normal // 2)),
    )


def lane_problems(lanes: LaneConcurrency) -> list[str]:
    problems = [
        f"{_lane_key(lane)} must be {MIN_MAPPING_CONCURRENCY}..{MAX_MAPPING_CONCURRENCY} "
        "(AWS bounds of an event source mapping's MaximumConcurrency)"
        for lane in LANES
        if not MIN_MAPPING_CONCURRENCY <= lanes.of(lane) <= MAX_MAPPING_CONCURRENCY
    ]
    if lanes.low > lanes.high:
        problems.append(
            "laneConcurrency.low must be <= laneConcurrency.high (under a shared rate limit a "
            "wider low lane would take more of the provider's quota than high-priority work)"
        )
    return problems


def read_job_budget(cfg: pulumi.Config) -> tuple[int, int]:
    """(jobMaxAttempts, queueMaxReceiveCount). The budget defaults to an explicitly set
    queueMaxReceiveCount (what used to bound attempts), else 5; the backstop to twice it."""
    backstop = cfg.get_int("queueMaxReceiveCount")
    attempts = cfg.get_int("jobMaxAttempts")
    if attempts is None:
        attempts = backstop if backstop is not None else DEFAULT_JOB_MAX_ATTEMPTS
    return attempts, backstop if backstop is not None else BACKSTOP_FACTOR * attempts


def budget_problems(
    job_max_attempts: int, queue_max_receive_count: int, job_max_age: int | None, job_ttl: int
) -> list[str]:
    checks = [
        (1 <= job_max_attempts <= 100, "jobMaxAttempts must be 1..100"),
        (1 <= queue_max_receive_count <= 1000, "queueMaxReceiveCount must be 1..1000"),
        (
            queue_max_receive_count >= job_max_attempts,
            "queueMaxReceiveCount must be >= jobMaxAttempts (the SQS backstop must never "
            "dead-letter a job before its own attempt budget is spent)",
        ),
        (
            job_max_age is None or 60 <= job_max_age <= job_ttl,
            "jobMaxAgeSeconds must be 60..jobTtlSeconds (a job's record must outlive its wait)",
        ),
    ]
    return [message for ok, message in checks if not ok]


def read_llm_limits(cfg: pulumi.Config) -> LlmLimits:
    return LlmLimits(
        rpm=cfg.get_int("llmRpmLimit"),
        tpm=cfg.get_int("llmTpmLimit"),
        per_model=_rate_limits(cfg.get_object("llmRateLimits")),
        max_wait_seconds=cfg.get_float("llmLimitMaxWaitSeconds"),
        circuit_failures=cfg.get_int("llmCircuitFailures"),
        circuit_cooldown_seconds=cfg.get_float("llmCircuitCooldownSeconds"),
        circuit_max_cooldown_seconds=cfg.get_float("llmCircuitMaxCooldownSeconds"),
    )


def limit_problems(limits: LlmLimits, models: tuple[str, ...]) -> list[str]:
    """Bounds the worker's settings enforce, plus limits naming a model the stack never calls
    (a misspelt key there would silently mean no limit at all)."""
    cooldown, longest = limits.circuit_cooldown_seconds, limits.circuit_max_cooldown_seconds
    checks = [
        (limits.rpm is None or limits.rpm > 0, "llmRpmLimit must be a positive integer"),
        (limits.tpm is None or limits.tpm > 0, "llmTpmLimit must be a positive integer"),
        (
            limits.max_wait_seconds is None or 0 <= limits.max_wait_seconds <= 30,
            "llmLimitMaxWaitSeconds must be 0..30 (longer waits defer the job instead)",
        ),
        (
            limits.circuit_failures is None or 1 <= limits.circuit_failures <= 1000,
            "llmCircuitFailures must be 1..1000",
        ),
        (cooldown is None or 0 < cooldown <= 300, "llmCircuitCooldownSeconds must be >0..300"),
        (longest is None or 0 < longest <= 900, "llmCircuitMaxCooldownSeconds must be >0..900"),
        (
            cooldown is None or longest is None or longest >= cooldown,
            "llmCircuitMaxCooldownSeconds must be >= llmCircuitCooldownSeconds",
        ),
    ]
    problems = [message for ok, message in checks if not ok]
    unknown = sorted(set(limits.per_model) - set(models))
    if unknown:
        problems.append(
            f"llmRateLimits names models the stack never calls: {unknown} (check the spelling "
            "against llmModel, llmFallbackModels and llmAllowedModels)"
        )
    return problems


def _rate_limits(raw: Any) -> dict[str, dict[str, int]]:
    """`{"<model>": {"rpm": n, "tpm": n}}`; an empty object exempts a model from the global
    limits (the worker takes a listed model's limits from here only)."""
    if raw is None:
        return {}
    shape = 'llmRateLimits must be an object {"<model>": {"rpm": n, "tpm": n}}'
    if not isinstance(raw, dict):
        raise ValueError(shape)
    for model, rate in raw.items():
        if not model.strip() or not isinstance(rate, dict) or set(rate) - RATE_KINDS:
            raise ValueError(f"{shape}; not {model!r}: {rate!r}")
        if not all(_positive_int(value) for value in rate.values()):
            raise ValueError(f"llmRateLimits[{model!r}]: rpm and tpm must be positive integers")
    return {model: dict(sorted(rate.items())) for model, rate in sorted(raw.items())}


def _lane_key(lane: Lane) -> str:
    if lane == "normal":
        return "eventSourceMaxConcurrency (laneConcurrency.normal)"
    return f"laneConcurrency.{lane}"


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
