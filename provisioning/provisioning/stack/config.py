"""Stack configuration, read from `pulumi.Config` once and validated before any resource exists."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from provisioning.packaging.targets import ARCHITECTURES, Architecture
from provisioning.stack.limits import (
    LaneConcurrency,
    LlmLimits,
    budget_problems,
    lane_problems,
    limit_problems,
    read_job_budget,
    read_lane_concurrency,
    read_llm_limits,
)

# AWS: a queue's visibility timeout should be at least six times the function timeout plus the
# batching window, or messages reappear while a slow batch is still being processed.
VISIBILITY_FACTOR = 6
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time to inspect and redrive
MAX_MESSAGE_BYTES = 262_144
# The callbacks queue redrives after WEBHOOK_MAX_ATTEMPTS plus this many receives that never
# reached the receiver (crashed or throttled deliveries): the delivery function gives up first.
CALLBACKS_REDRIVE_MARGIN = 4
# EventBridge schedule expressions: rate(1 minute), rate(5 minutes) (singular unit for 1 only),
# or cron(...) with its six fields.
_RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|hour|day)(?P<plural>s?)\)")
_CRON = re.compile(r"cron\(\S+( \S+){5}\)")
# The functions SnapStart may be turned on for. Not the settler: its schedule (every minute by
# default) keeps an environment warm, so a snapshot would add its cache charge and save nothing,
# and a few hundred milliseconds of init do not matter to a background sweep.
SNAP_START_FUNCTIONS = ("api", "worker", "callbacks")


@dataclass(frozen=True)
class StackConfig:
    """Every knob of the stack; names and defaults are documented in provisioning/README.md."""

    region: str
    architecture: Architecture
    python_version: str
    package_manifest: Path
    llm_model: str
    llm_fallback_models: tuple[str, ...]
    llm_allowed_models: tuple[str, ...]
    llm_api_base: str | None
    llm_mode: str | None
    llm_timeout_seconds: int
    job_ttl_seconds: int
    log_level: str
    langfuse_host: str | None
    log_retention_days: int
    worker_memory_mb: int
    worker_timeout_seconds: int
    # The functions published with SnapStart and invoked through their `live` alias.
    snap_start: frozenset[str]
    worker_max_concurrency: int
    # MaximumConcurrency of each lane's event source mapping (normal: eventSourceMaxConcurrency).
    lanes: LaneConcurrency
    batch_size: int
    batching_window_seconds: int
    # SQS's poison backstop per message; a job's own budget is job_max_attempts real attempts.
    queue_max_receive_count: int
    job_max_attempts: int
    job_max_age_seconds: int | None
    llm_limits: LlmLimits
    queue_visibility_timeout_seconds: int
    queue_retention_seconds: int
    api_memory_mb: int
    api_timeout_seconds: int
    api_throttling_rate_limit: float
    api_throttling_burst_limit: int
    # The API fails closed without API keys; true opens it to anyone (ALLOW_ANONYMOUS, a warning).
    allow_anonymous: bool
    # Requests per minute per tenant at the API (TENANT_RPM_LIMIT); None: no per-tenant limit.
    tenant_rpm_limit: int | None
    point_in_time_recovery: bool
    oldest_message_alarm_seconds: int
    alarm_email: str | None
    webhook_max_attempts: int
    callbacks_memory_mb: int
    callbacks_timeout_seconds: int
    callbacks_max_concurrency: int
    # When the DLQ settler runs (an EventBridge schedule expression).
    settler_schedule: str

    def snap_start_for(self, function: str) -> bool:
        return function in self.snap_start

    @property
    def runtime(self) -> str:
        return f"python{self.python_version}"

    @property
    def callbacks_visibility_timeout_seconds(self) -> int:
        return VISIBILITY_FACTOR * self.callbacks_timeout_seconds

    @property
    def callbacks_max_receive_count(self) -> int:
        return self.webhook_max_attempts + CALLBACKS_REDRIVE_MARGIN

    @property
    def configured_models(self) -> tuple[str, ...]:
        """Every model a function may call: the default, the fallbacks and the allow-list."""
        models = (self.llm_model, *self.llm_fallback_models, *self.llm_allowed_models)
        return tuple(dict.fromkeys(models))


def load_config() -> StackConfig:
    """Read `<project>:*` and `aws:region`; raise ValueError naming the key to fix."""
    cfg = pulumi.Config()
    worker_timeout = cfg.get_int("workerTimeoutSeconds") or 180
    batching_window = _int(cfg, "batchingWindowSeconds", 1)
    minimum_visibility = VISIBILITY_FACTOR * worker_timeout + batching_window
    job_max_attempts, queue_max_receive_count = read_job_budget(cfg)
    config = StackConfig(
        region=pulumi.Config("aws").require("region"),
        architecture=_architecture(cfg.get("architecture") or "arm64"),
        python_version=cfg.get("pythonVersion") or "3.12",
        package_manifest=Path(cfg.get("packageManifest") or "build/manifest.json"),
        llm_model=cfg.get("llmModel") or "openai/gpt-4o-mini",
        llm_fallback_models=_models(cfg, "llmFallbackModels"),
        llm_allowed_models=_models(cfg, "llmAllowedModels"),
        llm_api_base=cfg.get("llmApiBase"),
        llm_mode=cfg.get("llmMode"),
        llm_timeout_seconds=cfg.get_int("llmTimeoutSeconds") or 30,
        job_ttl_seconds=cfg.get_int("jobTtlSeconds") or 7 * 24 * 3600,
        log_level=cfg.get("logLevel") or "INFO",
        langfuse_host=cfg.get("langfuseHost"),
        log_retention_days=cfg.get_int("logRetentionDays") or 14,
        worker_memory_mb=cfg.get_int("workerMemoryMb") or 1024,
        worker_timeout_seconds=worker_timeout,
        snap_start=read_snap_start(cfg),
        worker_max_concurrency=cfg.get_int("workerMaxConcurrency") or 10,
        lanes=read_lane_concurrency(cfg, normal=_int(cfg, "eventSourceMaxConcurrency", 5)),
        batch_size=cfg.get_int("batchSize") or 10,
        batching_window_seconds=batching_window,
        queue_max_receive_count=queue_max_receive_count,
        job_max_attempts=job_max_attempts,
        job_max_age_seconds=cfg.get_int("jobMaxAgeSeconds"),
        llm_limits=read_llm_limits(cfg),
        queue_visibility_timeout_seconds=cfg.get_int("queueVisibilityTimeoutSeconds")
        or minimum_visibility,
        queue_retention_seconds=cfg.get_int("queueRetentionSeconds") or 4 * 24 * 3600,
        api_memory_mb=cfg.get_int("apiMemoryMb") or 1024,
        api_timeout_seconds=cfg.get_int("apiTimeoutSeconds") or 29,
        api_throttling_rate_limit=cfg.get_float("apiThrottlingRateLimit") or 20.0,
        api_throttling_burst_limit=cfg.get_int("apiThrottlingBurstLimit") or 40,
        allow_anonymous=_bool(cfg, "allowAnonymous", False),
        tenant_rpm_limit=cfg.get_int("tenantRpmLimit"),
        point_in_time_recovery=_bool(cfg, "pointInTimeRecovery", False),
        oldest_message_alarm_seconds=cfg.get_int("oldestMessageAlarmSeconds") or 900,
        alarm_email=cfg.get("alarmEmail"),
        webhook_max_attempts=cfg.get_int("webhookMaxAttempts") or 6,
        callbacks_memory_mb=cfg.get_int("callbacksMemoryMb") or 256,
        callbacks_timeout_seconds=cfg.get_int("callbacksTimeoutSeconds") or 30,
        callbacks_max_concurrency=cfg.get_int("callbacksMaxConcurrency") or 2,
        settler_schedule=(cfg.get("settlerSchedule") or "rate(1 minute)").strip(),
    )
    _validate(config, minimum_visibility)
    return config


def read_snap_start(cfg: pulumi.Config) -> frozenset[str]:
    """`snapStart`: true (every function in SNAP_START_FUNCTIONS), false, or a list of them;
    `workerSnapStart: true` (the older key) adds the worker."""
    raw = (cfg.get("snapStart") or "false").strip()
    names: object
    if raw.lower() in ("true", "false"):
        names = list(SNAP_START_FUNCTIONS) if raw.lower() == "true" else []
    else:
        try:
            names = json.loads(raw) if raw.startswith(("[", "{")) else raw.split(",")
        except json.JSONDecodeError:
            names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError("snapStart must be true, false or a list of function names")
    chosen = {name.strip() for name in names if name.strip()}
    unknown = sorted(chosen - set(SNAP_START_FUNCTIONS))
    if unknown:
        raise ValueError(
            f"snapStart: {unknown} cannot use SnapStart here; choose from {SNAP_START_FUNCTIONS}"
            " (the settler runs warm on its schedule: a snapshot would only add cost)"
        )
    if _bool(cfg, "workerSnapStart", False):
        chosen.add("worker")
    return frozenset(chosen)


def _architecture(value: str) -> Architecture:
    for architecture in ARCHITECTURES:
        if architecture == value:
            return architecture
    raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {value!r}")


def _models(cfg: pulumi.Config, key: str) -> tuple[str, ...]:
    """A YAML list or a comma-separated string of litellm model names; () when unset."""
    raw = (cfg.get(key) or "").strip()
    items: object = raw.split(",")
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{key} must be a list of model names or a comma-separated string")
    models = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    unusable = [model for model in models if any(c.isspace() or c == "," for c in model)]
    if unusable:
        raise ValueError(f"{key}: model names cannot hold spaces or commas: {unusable}")
    return models


def _int(cfg: pulumi.Config, key: str, default: int) -> int:
    """For keys where 0 is meaningful (a `get_int(...) or default` would discard it)."""
    value = cfg.get_int(key)
    return default if value is None else value


def _bool(cfg: pulumi.Config, key: str, default: bool) -> bool:
    value = cfg.get_bool(key)
    return default if value is None else value


def _is_schedule(expression: str) -> bool:
    rate = _RATE.fullmatch(expression)
    if rate is not None:
        return (rate["value"] == "1") == (rate["plural"] == "")
    return _CRON.fullmatch(expression) is not None


def _validate(config: StackConfig, minimum_visibility: int) -> None:
    checks = [
        (
            config.queue_visibility_timeout_seconds >= minimum_visibility,
            f"queueVisibilityTimeoutSeconds must be >= {minimum_visibility} "
            f"({VISIBILITY_FACTOR} x workerTimeoutSeconds + batchingWindowSeconds)",
        ),
        (
            config.worker_timeout_seconds <= 900,
            "workerTimeoutSeconds must be <= 900 (Lambda maximum)",
        ),
        (
            config.worker_timeout_seconds > config.llm_timeout_seconds,
            "workerTimeoutSeconds must exceed llmTimeoutSeconds (or one slow call kills a batch)",
        ),
        (
            config.api_timeout_seconds <= 30,
            "apiTimeoutSeconds must be <= 30 (HTTP API integration limit)",
        ),
        (0 <= config.batching_window_seconds <= 300, "batchingWindowSeconds must be 0..300"),
        (
            1 <= config.batch_size <= 10 or config.batching_window_seconds > 0,
            "batchSize > 10 needs a batching window",
        ),
        (config.python_version in ("3.12", "3.13"), "pythonVersion must be 3.12 or 3.13"),
        (
            config.tenant_rpm_limit is None or config.tenant_rpm_limit > 0,
            "tenantRpmLimit must be a positive integer (requests per minute per tenant)",
        ),
        (1 <= config.webhook_max_attempts <= 50, "webhookMaxAttempts must be 1..50"),
        (
            15 <= config.callbacks_timeout_seconds <= 900,
            "callbacksTimeoutSeconds must be 15..900 (a 5 s attempt, its DNS check and writes)",
        ),
        (
            config.callbacks_max_concurrency >= 2,
            "callbacksMaxConcurrency must be >= 2 (AWS minimum)",
        ),
        (
            _is_schedule(config.settler_schedule),
            "settlerSchedule must be an EventBridge schedule: rate(1 minute), rate(<n> minutes)"
            " (or hour/hours, day/days) or cron(<6 fields>)",
        ),
    ]
    problems = [message for ok, message in checks if not ok]
    problems += lane_problems(config.lanes)
    problems += budget_problems(
        config.job_max_attempts,
        config.queue_max_receive_count,
        config.job_max_age_seconds,
        config.job_ttl_seconds,
    )
    problems += limit_problems(config.llm_limits, config.configured_models)
    if problems:
        raise ValueError("invalid stack configuration: " + "; ".join(problems))
