"""``uv run bench``: the benchmarks in one run, a table, bench/results/latest.{json,png};
``--only limits`` runs the opt-in provider-limits benchmark (bench/results/limits.png),
``uv run bench scale`` (or ``--only scale``) the 10M-jobs/day scale model (scale.png). Every
run appends what it measured to bench/results/history.jsonl and redraws history.png."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import history, report
from bench.cost import PRICE_SOURCES, PRICES_AS_OF, Workload, cost_curve, cost_per_million_jobs
from bench.support import machine

SECTIONS = ("worker", "api", "cold", "e2e", "cost")
# Run only when named (--only limits, or --only all): limits takes about five minutes, the
# scale model well under one.
OPT_IN = ("limits", "scale")
RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"
REPO_DIR = RESULTS_DIR.parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {SECTIONS + OPT_IN}, or all (default: all but"
        f" {', '.join(OPT_IN)})",
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help="sections to run, as with --only (`uv run bench scale`)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.sections:
        chosen = [s.strip() for part in args.sections for s in part.split(",") if s.strip()]
    if chosen == ["all"]:
        chosen = [*SECTIONS, *OPT_IN]
    if unknown := set(chosen) - set(SECTIONS + OPT_IN):
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    results = starting_results(args.out / "latest.json", chosen)
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        runners: dict[str, Callable[[], Any]] = {
            "worker": lambda: _worker(Path(logs)),
            "api": lambda: _api(Path(logs)),
            "cold": lambda: _cold(),
            "e2e": lambda: _e2e(Path(logs)),
            "limits": lambda: _limits(Path(logs)),
            "scale": lambda: _scale(args.out, results),
        }
        for section in chosen:
            if section in runners:
                results.update(_timed(section, runners[section]))
    results["cost"] = _cost(results)
    written = report.write(results, args.out)
    if "scale" in chosen:
        written.append(args.out / "scale.png")
    written += history.record(
        report.measured(results, chosen, SECTIONS),
        sections=chosen,
        machine=machine(),
        out_dir=args.out,
        repo=REPO_DIR,
        targets=report.history_targets(),
    )
    print(report.table(results))
    print(f"\nwrote {', '.join(str(path) for path in written)}")
    return 0


def starting_results(previous: Path, chosen: list[str]) -> dict[str, Any]:
    """What the new run starts from. A run that leaves a section out (the default leaves out
    the opt-in ones) keeps that section's results from the last run. The top-level date and
    machine are the default sections'; an opt-in section run alone stamps only its own results."""
    results: dict[str, Any] = {}
    if not set(SECTIONS + OPT_IN) <= set(chosen) and previous.exists():
        results = dict(json.loads(previous.read_text()))
    if set(chosen) - set(OPT_IN) or "date" not in results:
        results |= {"date": datetime.date.today().isoformat(), "machine": machine()}
    return results


def _timed(section: str, run: Callable[[], Any]) -> dict[str, Any]:
    print(f"running {section} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    key, value = run()
    print(f"  {section} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return {key: value}


def _worker(logs: Path) -> tuple[str, Any]:
    from bench import worker_concurrency

    return "worker_concurrency", worker_concurrency.run(logs)


def _api(logs: Path) -> tuple[str, Any]:
    from bench import api_overhead

    return "api_overhead", api_overhead.run(logs)


def _cold() -> tuple[str, Any]:
    from bench import cold_start

    return "cold_start", cold_start.run()


def _e2e(logs: Path) -> tuple[str, Any]:
    from bench import throughput

    return "throughput", throughput.run(logs)


def _limits(logs: Path) -> tuple[str, Any]:
    from bench import limits

    return "limits", limits.run(logs)


def _scale(out: Path, results: dict[str, Any]) -> tuple[str, Any]:
    from bench import scale
    from bench.scale_model import Worker

    worker = Worker()
    if (cpu_ms := _measured_cpu_per_record_ms(results.get("worker_concurrency", {}))) is not None:
        worker = replace(worker, cpu_per_record_seconds=cpu_ms / 1000)
    today = datetime.date.today().isoformat()
    return "scale", {"date": today, "machine": machine(), **scale.run(out, worker=worker)}


def _measured_cpu_per_record_ms(worker_results: Any) -> float | None:
    """The worker bench's CPU per record, where it reports one (``cpu_per_record_ms`` at any
    depth; the smallest, the least disturbed by a busy machine)."""
    found: list[float] = []
    stack = [worker_results]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get("cpu_per_record_ms")
            if isinstance(value, int | float) and value > 0:
                found.append(float(value))
            stack.extend(node.values())
    return min(found) if found else None


def _cost(results: dict[str, Any]) -> dict[str, Any]:
    """The cost model fed with what was measured in this run, where it was measured."""
    worker = results.get("worker_concurrency", {}).get("1000ms", {})
    overhead = max(0.0, worker.get("batch_wall_s", 1.05) - 1.0)
    api_ms = results.get("api_overhead", {}).get("1_clients", {}).get("api", {}).get("p50_ms", 20)
    cpu_ms = worker.get("cpu_per_record_ms", 0.0)
    # The measured wall already holds the batch's CPU at full speed: the curve re-adds it at
    # each memory's CPU share, so only the rest of the overhead stays fixed.
    fixed = max(0.0, overhead - worker.get("batch_size", 10) * cpu_ms / 1000)
    base = Workload(
        worker_overhead_seconds=fixed,
        cpu_per_record_seconds=cpu_ms / 1000,
        api_duration_seconds=api_ms / 1000,
    )
    variants = {
        "default": base,
        "batch_1": replace(base, batch_size=1),
        "batch_5": replace(base, batch_size=5),
        "worker_512mb": replace(base, worker_memory_mb=512),
        "worker_256mb": replace(base, worker_memory_mb=256),
        "no_polling": replace(base, polls_per_job=0),
        # Batch 10, 256 MB worker, 512 MB API, clients told by webhook instead of polling.
        "lean": replace(
            base, batch_size=10, worker_memory_mb=256, api_memory_mb=512, polls_per_job=0
        ),
    }
    costs = {name: cost_per_million_jobs(w).as_dict() for name, w in variants.items()}
    rounded = {name: {k: round(v, 3) for k, v in c.items()} for name, c in costs.items()}
    return {
        **rounded,
        "curve": cost_curve(base),
        "assumptions": base.__dict__,
        "prices_as_of": PRICES_AS_OF,
        "price_sources": PRICE_SOURCES,
    }


if __name__ == "__main__":
    sys.exit(main())
