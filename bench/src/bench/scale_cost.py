"""What a simulated day costs, from its counts and bench.cost's dated list prices (no new
numbers): the worker as simulated, the API side as bench.cost models it per job."""

from __future__ import annotations

from bench.cost import (
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_PER_WRITE_UNIT,
    LAMBDA_GB_SECOND_ARM64,
    LAMBDA_GB_SECOND_X86,
    LAMBDA_PER_REQUEST,
    SQS_PER_REQUEST,
    Workload,
    cost_per_million_jobs,
)
from bench.scale_sim import SimulationResult

# bench.cost's per-job writes on the jobs table (queued, claim, finish); a deferral adds the
# release (worker.services.jobs) and a later claim.
JOB_WRITES = 3
DEFERRAL_WRITES = 2


def cost_per_day(result: SimulationResult) -> dict[str, float]:
    """Dollars for the simulated day, by service, and per million finished jobs.

    Worker: billed seconds and invocations as simulated (init included). SQS: a send per job
    and per deferral, a receive and a delete per batch. DynamoDB: the job writes, a poll read
    per job, every limiter write (refused asks too: a failed conditional write consumes
    capacity) and, with the limiter on, a breaker read per busy environment-second (its cache
    lasts a second). API Gateway and the API function per job as bench.cost has them."""
    totals = result.totals
    worker = result.scenario.worker
    jobs = totals.submitted
    per_gb_second = LAMBDA_GB_SECOND_ARM64 if worker.arm64 else LAMBDA_GB_SECOND_X86
    gb_seconds = totals.worker_busy_seconds * worker.memory_mb / 1024
    api = cost_per_million_jobs(Workload())
    breaker_reads = totals.worker_busy_seconds if result.scenario.limiter.enabled else 0.0
    lines = {
        "worker_lambda": gb_seconds * per_gb_second + totals.invocations * LAMBDA_PER_REQUEST,
        "api_lambda": api.api_lambda * jobs / 1e6,
        "api_gateway": api.api_gateway * jobs / 1e6,
        "sqs": SQS_PER_REQUEST * (jobs + totals.deferrals + 2 * totals.invocations),
        "dynamodb_jobs": DYNAMODB_PER_WRITE_UNIT
        * (JOB_WRITES * jobs + DEFERRAL_WRITES * totals.deferrals)
        + DYNAMODB_PER_READ_UNIT * Workload().polls_per_job * jobs,
        "dynamodb_limiter": DYNAMODB_PER_WRITE_UNIT * totals.limiter_writes
        + DYNAMODB_PER_READ_UNIT * breaker_reads,
    }
    total = sum(lines.values())
    return {
        **{name: round(value, 2) for name, value in lines.items()},
        "total": round(total, 2),
        # Per job finished: a backlog left at the end is not billed for its processing yet.
        "per_million_jobs": round(total / totals.completed * 1e6, 3) if totals.completed else 0.0,
    }
