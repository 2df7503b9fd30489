"""`gen-ai-jobs submit` as a user runs it: a subprocess against a devstack on the fake LLM.

The CLI is interrupted mid-submission (SIGKILL, as a crash; SIGINT, as Ctrl-C) and run again:
its per-chunk Idempotency-Keys must make the second run replay what the first one created, so
every line ends with exactly one job (counted in the jobs table and in LLM calls per text).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.e2e_support import DevstackProcess, StackPorts
from devstack.fake_llm import FakeLLMServer

pytestmark = pytest.mark.e2e

NAMES = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas"]
TABLE = "gen-ai-on-aws-dev-jobs"
LIVENESS_SECONDS = 180


@dataclass(frozen=True)
class Stack:
    ports: StackPorts
    dynamodb: Any

    @property
    def api_url(self) -> str:
        return self.ports.api_url

    def job_count(self) -> int:
        """Job records in the table (anything else the API may store there has no `task`)."""
        count, kwargs = 0, dict[str, Any]()
        while True:
            page = self.dynamodb.scan(
                TableName=TABLE,
                Select="COUNT",
                FilterExpression="attribute_exists(#task)",
                ExpressionAttributeNames={"#task": "task"},
                **kwargs,
            )
            count += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return count
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


@dataclass
class CliRun:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    stdout_path: Path

    def wait(self, timeout: float) -> tuple[int, str, str]:
        code = self.process.wait(timeout=timeout)
        return code, self.stdout_path.read_text(), self.stderr_path.read_text()


@pytest.fixture(scope="module")
def stack(
    start_module_devstack: Callable[..., DevstackProcess], fake_llm_server: FakeLLMServer
) -> Stack:
    ports = StackPorts()
    start_module_devstack(
        [*ports.args(), f"--llm-api-base={fake_llm_server.base_url}", "--batching-window=0.2"]
    )
    return Stack(ports, ports.client("dynamodb"))


def text(i: int) -> str:
    return f"{NAMES[i % len(NAMES)]} is {20 + i % 70} years old, line {i}."


def write_items(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"text": text(i)}) + "\n" for i in range(count)))
    return path


StartCli = Callable[..., CliRun]


@pytest.fixture
def start_cli(stack: Stack, tmp_path: Path) -> Iterator[StartCli]:
    """Start `python -m gen_ai_jobs --api-url ... ARGS` with its output in files (no pipe to
    fill up); any still running at teardown is killed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEN_AI_")}
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> CliRun:
        stdout, stderr = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-m", "gen_ai_jobs", "--api-url", stack.api_url, *args],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=err,
            )
        started.append(process)
        return CliRun(process, stderr, stdout)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def interrupt_once_jobs_exist(run: CliRun, stack: Stack, jobs: int, signum: int) -> int:
    """Send `signum` once the table holds `jobs` jobs; the number there at that moment.

    The bound is liveness, not speed: the devstack runs the API, emulated AWS and a worker
    polling three lanes in one process, so submission slows while the worker is busy."""
    deadline = time.monotonic() + LIVENESS_SECONDS
    while (count := stack.job_count()) < jobs:
        assert run.process.poll() is None, run.stderr_path.read_text()
        assert time.monotonic() < deadline, f"only {count} jobs after {LIVENESS_SECONDS} s"
        time.sleep(0.05)
    run.process.send_signal(signum)
    return count


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.timeout(900)  # the devstack processes about 5-20 jobs/s on 2 shared cores
def test_a_thousand_lines_killed_halfway_then_rerun_give_one_job_per_line(
    stack: Stack, fake_llm: FakeLLMServer, start_cli: StartCli, tmp_path: Path
) -> None:
    lines = 1_000
    items = write_items(tmp_path / "items.jsonl", lines)
    out = tmp_path / "results.jsonl"
    command = ("submit", str(items), "--out", str(out), "--chunk-size", "20")
    before = stack.job_count()

    # GIVEN a run killed (SIGKILL, like a crash) once about half of the jobs were created
    killed = start_cli("killed", *command)
    at_kill = interrupt_once_jobs_exist(killed, stack, before + lines // 2, signal.SIGKILL)
    killed.process.wait(timeout=30)
    created_by_first_run = stack.job_count() - before
    assert created_by_first_run < lines, "the first run finished before it could be killed"

    # WHEN the same command runs again, to the end
    started = time.monotonic()
    code, stdout, stderr = start_cli("rerun", *command).wait(timeout=600)
    elapsed = time.monotonic() - started

    # THEN it succeeds with every line's result, in input order
    assert code == 0, stderr
    results = read_results(out)
    assert [line["index"] for line in results] == list(range(lines))
    assert {line["status"] for line in results} == {"succeeded"}
    assert results[123]["result"] == {"name": NAMES[3], "age": 20 + 123 % 70, "email": None}
    # AND no line got a second job: the jobs table and the LLM saw each line once
    assert stack.job_count() - before == lines
    assert len({line["job_id"] for line in results}) == lines
    calls = fake_llm.llm.stats.calls
    assert {text(i) for i in range(lines)} <= set(calls)
    assert max(calls[text(i)] for i in range(lines)) == 1
    # AND the progress and the summary were shown
    assert "submitted" in stderr
    assert f"finished: {lines} ok, 0 failed" in stderr
    assert "jobs/s" in stderr
    assert f"{lines:,} jobs in" in stdout
    print(  # the figures the README quotes; visible with -s
        f"\ne2e: killed at {at_kill - before} jobs ({created_by_first_run} created); re-run of "
        f"{lines} lines in {elapsed:.1f} s = {lines / elapsed:.1f} jobs/s"
    )


def test_ctrl_c_mid_submission_exits_130_cleanly_and_a_rerun_completes(
    stack: Stack, fake_llm: FakeLLMServer, start_cli: StartCli, tmp_path: Path
) -> None:
    lines = 100
    items = write_items(tmp_path / "items.jsonl", lines)
    out = tmp_path / "results.jsonl"
    command = ("submit", str(items), "--out", str(out), "--chunk-size", "5", "--namespace", "c")
    before = stack.job_count()

    # GIVEN Ctrl-C (SIGINT) while the chunks are being sent
    interrupted = start_cli("interrupted", *command)
    interrupt_once_jobs_exist(interrupted, stack, before + 25, signal.SIGINT)
    code, _, stderr = interrupted.wait(timeout=30)

    # THEN the CLI says how to resume and exits 130, without a traceback or a results file
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert "Run the same command again" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()

    # WHEN it runs again, THEN every line has one job and a result
    code, _, stderr = start_cli("resumed", *command).wait(timeout=240)
    assert code == 0, stderr
    assert len(read_results(out)) == lines
    assert stack.job_count() - before == lines


def test_a_refused_line_is_reported_in_its_place_and_exits_1(
    stack: Stack, fake_llm: FakeLLMServer, start_cli: StartCli, tmp_path: Path
) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"text": text(0)})
        + "\n"
        + json.dumps({"task": "no_such_task", "input": {}})
        + "\n"
        + json.dumps({"task": "complete", "input": {"prompt": "hello"}})
        + "\n"
    )
    out = tmp_path / "results.jsonl"

    code, _, stderr = start_cli("refused", "submit", str(items), "--out", str(out)).wait(timeout=60)

    assert code == 1, stderr
    results = read_results(out)
    assert [line["status"] for line in results] == ["succeeded", "not_queued", "succeeded"]
    assert results[1]["error"]["code"] == "unknown_task"
    assert results[2]["result"]["text"] == "echo: hello"


def test_status_wait_and_cancel_against_the_api(
    stack: Stack, fake_llm: FakeLLMServer, start_cli: StartCli, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    items = write_items(tmp_path / "items.jsonl", 1)
    submit = start_cli(
        "one", "submit", str(items), "--out", str(out), "--namespace", "one", "--priority", "high"
    )
    assert submit.wait(timeout=60)[0] == 0
    job_id = read_results(out)[0]["job_id"]

    status = start_cli("status", "status", job_id).wait(timeout=30)
    waited = start_cli("wait", "wait", job_id, "--timeout", "30").wait(timeout=60)
    cancel = start_cli("cancel", "cancel", job_id).wait(timeout=30)
    unknown = start_cli("unknown", "status", str(uuid.uuid4())).wait(timeout=30)

    assert status[0] == 0
    assert json.loads(status[1])["job_id"] == job_id
    assert json.loads(status[1])["priority"] == "high"  # run from the high lane's queue
    assert waited[0] == 0
    assert json.loads(waited[1])["status"] == "succeeded"
    assert cancel[0] == 1
    assert "409 job_not_cancellable" in cancel[2]
    assert unknown[0] == 1
    assert "404 job_not_found" in unknown[2]
