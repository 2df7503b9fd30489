"""Infrastructure cost per million jobs from measured durations and AWS's published prices.

Prices are us-east-1 list prices, kept as dated constants with their source so a reader can check
them; free tiers are ignored (they vanish at scale) and LLM tokens are excluded (they depend on
the provider, not on this pipeline).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

PRICES_AS_OF = "2025-11 (us-east-1 list prices)"
PRICE_SOURCES = {
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "api_gateway": "https://aws.amazon.com/api-gateway/pricing/",
}
LAMBDA_GB_SECOND_ARM64 = 0.0000133334
LAMBDA_GB_SECOND_X86 = 0.0000166667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
SQS_PER_REQUEST = 0.40 / 1_000_000  # standard queue, each 64 KiB chunk of a payload
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000  # on-demand, after the Nov 2024 price cut
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000  # a strongly consistent read of <= 4 KB
HTTP_API_PER_REQUEST = 1.00 / 1_000_000  # first 300 M requests/month, 512 KB chunks
# Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html): below that, CPU work
# takes 1769/MB times as long as on one full core.
FULL_VCPU_MB = 1769
CURVE_BATCH_SIZES = (10, 25, 50, 100)
CURVE_MEMORY_MB = (256, 512, 1024, 1769)


@dataclass(frozen=True)
class Workload:
    """What one job costs in requests and milliseconds; the defaults are the Pulumi stack's
    defaults (provisioning/provisioning/stack/config.py) and one status poll per job."""

    llm_latency_seconds: float = 2.0
    worker_overhead_seconds: float = 0.05  # measured per-batch overhead on top of the LLM
    # Worker CPU per record on one full vCPU (the worker bench's cpu_per_record_ms); a batch
    # adds batch_size of these, stretched by the CPU share its memory buys.
    cpu_per_record_seconds: float = 0.0
    api_duration_seconds: float = 0.02  # measured API time per request
    batch_size: int = 10
    worker_memory_mb: int = 1024
    api_memory_mb: int = 1024
    polls_per_job: int = 1  # GET /jobs/{id} calls a client makes
    arm64: bool = True


@dataclass(frozen=True)
class CostPerMillionJobs:
    """Dollars per million jobs, by service."""

    worker_lambda: float
    api_lambda: float
    sqs: float
    dynamodb: float
    api_gateway: float

    @property
    def total(self) -> float:
        return self.worker_lambda + self.api_lambda + self.sqs + self.dynamodb + self.api_gateway

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


def cost_per_million_jobs(workload: Workload) -> CostPerMillionJobs:
    """Requests per job: 1 POST + polls through API GW and the API Lambda; 1 SendMessage, a
    share of a ReceiveMessage and a DeleteMessageBatch per batch; 3 writes (queued, claim,
    finish) and one read per poll. Records of a batch run concurrently, so a batch is billed
    for about one LLM latency, not batch_size of them."""
    per_gb_second = LAMBDA_GB_SECOND_ARM64 if workload.arm64 else LAMBDA_GB_SECOND_X86
    batch_seconds = worker_batch_seconds(workload)
    worker_gb_seconds = batch_seconds * workload.worker_memory_mb / 1024 / workload.batch_size
    api_requests = 1 + workload.polls_per_job
    api_gb_seconds = api_requests * workload.api_duration_seconds * workload.api_memory_mb / 1024
    million = 1_000_000
    return CostPerMillionJobs(
        worker_lambda=million
        * (worker_gb_seconds * per_gb_second + LAMBDA_PER_REQUEST / workload.batch_size),
        api_lambda=million * (api_gb_seconds * per_gb_second + api_requests * LAMBDA_PER_REQUEST),
        sqs=million * SQS_PER_REQUEST * (1 + 2 / workload.batch_size),
        dynamodb=million
        * (3 * DYNAMODB_PER_WRITE_UNIT + workload.polls_per_job * DYNAMODB_PER_READ_UNIT),
        api_gateway=million * api_requests * HTTP_API_PER_REQUEST,
    )


def worker_batch_seconds(workload: Workload) -> float:
    """A batch's billed duration: one LLM latency (its records' calls overlap), the fixed
    overhead, and its records' CPU at the CPU share of its memory (added, not overlapped: the
    claim runs before the call and the finish after it, so this errs on the dear side)."""
    slowdown = max(1.0, FULL_VCPU_MB / workload.worker_memory_mb)
    cpu = workload.batch_size * workload.cpu_per_record_seconds * slowdown
    return workload.llm_latency_seconds + workload.worker_overhead_seconds + cpu


def cost_curve(base: Workload) -> dict[str, dict[str, float]]:
    """$ per million jobs and batch wall over LLM latency for each batch size and worker
    memory of the curve, everything else as in ``base``."""
    curve: dict[str, dict[str, float]] = {}
    for batch_size in CURVE_BATCH_SIZES:
        for memory_mb in CURVE_MEMORY_MB:
            workload = replace(base, batch_size=batch_size, worker_memory_mb=memory_mb)
            cost = cost_per_million_jobs(workload)
            curve[f"batch_{batch_size}_{memory_mb}mb"] = {
                "batch_size": batch_size,
                "worker_memory_mb": memory_mb,
                "total": round(cost.total, 3),
                "worker_lambda": round(cost.worker_lambda, 3),
                "batch_over_latency": round(
                    worker_batch_seconds(workload) / workload.llm_latency_seconds, 2
                ),
            }
    return curve


def curve_rows(curve: dict[str, dict[str, float]]) -> list[str]:
    """The curve as a printed table: one row per batch size, one column per memory."""
    header = f"{'infra $/M jobs (batch wall / LLM)':<34}" + "".join(
        f"{f'{mb} MB':>14}" for mb in CURVE_MEMORY_MB
    )
    rows = [header, "-" * len(header)]
    for batch_size in CURVE_BATCH_SIZES:
        cells = ""
        for memory_mb in CURVE_MEMORY_MB:
            point = curve.get(f"batch_{batch_size}_{memory_mb}mb")
            shown = (
                "-"
                if point is None
                else f"{point['total']:.2f} ({point['batch_over_latency']:.2f})"
            )
            cells += f"{shown:>14}"
        rows.append(f"{f'batch {batch_size}':<34}{cells}")
    return rows
