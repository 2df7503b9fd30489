"""`admin stats`: each lane's depth and oldest message, the DLQ's depth, each model's circuit."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from gen_ai_jobs.cli._common import print_json
from gen_ai_jobs.cli.admin._aws import LANES, aws_errors
from gen_ai_jobs.cli.admin._cli import admin_errors, session_of
from gen_ai_jobs.cli.admin._render import duration, table
from gen_ai_jobs.cli.admin._stats import (
    DEPTH_ATTRIBUTES,
    Circuit,
    QueueDepth,
    oldest_ages,
    read_circuits,
    utc_now,
)


def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Per lane: visible, in flight, delayed and the oldest message's age (CloudWatch's
    ApproximateAgeOfOldestMessage, '-' when it has none); the DLQ's depth; and the circuit of
    every model the worker has tracked (closed, open, half-open or paused, with time left)."""
    with admin_errors():
        session = session_of(ctx)
        refs = {**{lane: session.targets.lanes[lane] for lane in LANES}, "dlq": session.targets.dlq}
        depths = {
            lane: QueueDepth.from_attributes(
                ref.shown, session.queue_attributes(ref, DEPTH_ATTRIBUTES)
            )
            for lane, ref in refs.items()
        }
        ages, age_note = oldest_ages(
            session.client("cloudwatch"), [depth.name for depth in depths.values()], utc_now()
        )
        state_table = session.targets.state_table
        with aws_errors(session.endpoint_url):
            circuits = read_circuits(session.dynamodb, state_table, time.time())
    queues: list[dict[str, Any]] = [
        {
            "lane": lane,
            "queue": depth.name,
            "visible": depth.visible,
            "in_flight": depth.in_flight,
            "delayed": depth.delayed,
            "oldest_age_seconds": ages.get(depth.name),
        }
        for lane, depth in depths.items()
    ]
    if as_json:
        print_json(
            {
                "queues": queues[:-1],
                "dlq": queues[-1],
                "oldest_age_note": age_note,
                "state_table": state_table,
                "circuits": None if circuits is None else [_circuit_json(c) for c in circuits],
            }
        )
        return
    typer.echo(
        table(
            ["QUEUE", "LANE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST"],
            [
                [
                    row["queue"],
                    row["lane"],
                    row["visible"],
                    row["in_flight"],
                    row["delayed"],
                    duration(row["oldest_age_seconds"]),
                ]
                for row in queues
            ],
        )
    )
    if age_note or all(row["oldest_age_seconds"] is None for row in queues):
        typer.echo(f"OLDEST: {age_note or 'no CloudWatch datapoint in the last 10 minutes'}")
    typer.echo("")
    _print_circuits(state_table, circuits)


def _print_circuits(state_table: str, circuits: list[Circuit] | None) -> None:
    if circuits is None:
        typer.echo(f"circuits: no LLM state table {state_table!r}")
    elif not circuits:
        typer.echo("circuits: none recorded (every model closed)")
    else:
        typer.echo(
            table(
                ["MODEL", "CIRCUIT", "LEFT", "FAILURES", "COOLDOWN"],
                [
                    [
                        circuit.model,
                        circuit.state,
                        duration(circuit.seconds_left),
                        circuit.failures,
                        duration(circuit.cooldown_seconds) if circuit.cooldown_seconds else None,
                    ]
                    for circuit in circuits
                ],
            )
        )


def _circuit_json(circuit: Circuit) -> dict[str, Any]:
    return {
        "model": circuit.model,
        "state": circuit.state,
        "seconds_left": None if circuit.seconds_left is None else round(circuit.seconds_left, 3),
        "failures": circuit.failures,
        "cooldown_seconds": circuit.cooldown_seconds,
    }
