"""`gen-ai-jobs submit`: input checks, progress, results in input order, summary, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from .fake_api import FakeApi

Run = Callable[..., Result]


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(f"{json.dumps(line)}\n" for line in lines))
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def items(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "items.jsonl", [{"text": f"P{i} is 30"} for i in range(25)])


def test_all_jobs_succeed_exit_0_with_results_in_input_order(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    api.polls_until_done = 2
    out = tmp_path / "results.jsonl"

    result = run_cli("submit", str(items), "--out", str(out), "--chunk-size", "10")

    assert result.exit_code == 0, result.output
    results = read_results(out)
    assert [line["index"] for line in results] == list(range(25))
    assert results[7] == {
        "index": 7,
        "job_id": results[7]["job_id"],
        "status": "succeeded",
        "result": {"echo": {"text": "P7 is 30"}},
    }
    assert api.inputs[results[7]["job_id"]] == {
        "task": "extract_user",
        "input": {"text": "P7 is 30"},
    }
    assert len(api.posts("/jobs/batch")) == 3


def test_progress_and_a_summary_table_are_shown(run_cli: Run, items: Path, tmp_path: Path) -> None:
    result = run_cli("submit", str(items), "--out", str(tmp_path / "r.jsonl"))

    assert "submitted" in result.stderr
    assert "25/25" in result.stderr
    assert "finished: 25 ok, 0 failed" in result.stderr
    assert "jobs/s" in result.stderr
    assert "succeeded" in result.stdout
    assert "total" in result.stdout
    assert "25 jobs in" in result.stdout
    assert "cost $0.025000" in result.stdout


def test_failed_and_refused_jobs_exit_1_and_say_why(run_cli: Run, tmp_path: Path) -> None:
    lines = [{"text": "A is 1"}, {"text": "!fail"}, {"text": "!reject"}, {"text": "B is 2"}]
    out = tmp_path / "r.jsonl"

    result = run_cli("submit", str(write_lines(tmp_path / "i.jsonl", lines)), "-o", str(out))

    assert result.exit_code == 1
    results = read_results(out)
    assert [line["status"] for line in results] == [
        "succeeded",
        "failed",
        "not_queued",
        "succeeded",
    ]
    assert results[1]["error"] == {"code": "extraction_failed", "message": "no"}
    assert results[2]["job_id"] is None
    assert results[2]["error"]["code"] == "validation_error"
    assert "not_queued" in result.stdout
    assert "submitted, 1 not queued" in result.stderr


def test_lines_may_be_whole_job_bodies_and_options_fill_the_gaps(
    run_cli: Run, api: FakeApi, tmp_path: Path
) -> None:
    lines = [
        {"prompt": "haiku"},
        {"task": "extract_user", "input": {"text": "Ada is 36"}, "model": "openai/own"},
    ]
    path = write_lines(tmp_path / "i.jsonl", lines)
    path.write_text(path.read_text() + "\n   \n")  # blank lines are skipped

    result = run_cli(
        "submit",
        str(path),
        "-o",
        str(tmp_path / "r.jsonl"),
        "--task",
        "complete",
        "--model",
        "openai/default",
        "--callback-url",
        "https://hooks.example.com/jobs",
    )

    assert result.exit_code == 0, result.output
    sent = json.loads(api.posts("/jobs/batch")[0].content)["jobs"]
    assert sent == [
        {
            "task": "complete",
            "input": {"prompt": "haiku"},
            "model": "openai/default",
            "callback_url": "https://hooks.example.com/jobs",
        },
        {
            "task": "extract_user",
            "input": {"text": "Ada is 36"},
            "model": "openai/own",
            "callback_url": "https://hooks.example.com/jobs",
        },
    ]


def test_priority_fills_the_lines_that_name_none(
    run_cli: Run, api: FakeApi, tmp_path: Path
) -> None:
    lines = [
        {"text": "Ada is 36"},
        {"task": "extract_user", "input": {"text": "Bo is 9"}, "priority": "low"},
    ]
    path = write_lines(tmp_path / "i.jsonl", lines)

    result = run_cli("submit", str(path), "-o", str(tmp_path / "r.jsonl"), "--priority", "high")

    assert result.exit_code == 0, result.output
    sent = json.loads(api.posts("/jobs/batch")[0].content)["jobs"]
    assert [job["priority"] for job in sent] == ["high", "low"]
    assert sorted(job["priority"] for job in api.jobs.values()) == ["high", "low"]


def test_without_priority_the_lines_leave_it_to_the_api(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    result = run_cli("submit", str(items), "-o", str(tmp_path / "r.jsonl"))

    assert result.exit_code == 0, result.output
    sent = json.loads(api.posts("/jobs/batch")[0].content)["jobs"]
    assert all("priority" not in job for job in sent)


def test_an_unknown_priority_is_a_usage_error_and_nothing_is_sent(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    result = run_cli("submit", str(items), "-o", str(tmp_path / "r.jsonl"), "--priority", "asap")

    assert result.exit_code == 2
    assert "priority" in result.output
    assert "Traceback" not in result.output
    assert api.requests == []


def test_a_line_with_an_invalid_priority_is_named_and_nothing_is_sent(
    run_cli: Run, api: FakeApi, tmp_path: Path
) -> None:
    lines = [{"text": "ok"}, {"task": "extract_user", "input": {"text": "x"}, "priority": "asap"}]
    path = write_lines(tmp_path / "i.jsonl", lines)

    result = run_cli("submit", str(path), "-o", str(tmp_path / "r.jsonl"))

    assert result.exit_code == 2
    assert f"{path}:2: priority:" in result.stderr
    assert api.requests == []


def test_invalid_lines_are_a_usage_error_naming_them_and_nothing_is_sent(
    run_cli: Run, api: FakeApi, tmp_path: Path
) -> None:
    path = tmp_path / "i.jsonl"
    path.write_text('{"text": "ok"}\n{"text": \n[1, 2]\n{"task": "complete"}\n')
    out = tmp_path / "r.jsonl"

    result = run_cli("submit", str(path), "-o", str(out))

    assert result.exit_code == 2
    assert "nothing was sent" in result.stderr
    assert f"{path}:2: not valid JSON" in result.stderr
    assert f"{path}:3: a line must be a JSON object" in result.stderr
    assert f"{path}:4: input: Field required" in result.stderr
    assert "Traceback" not in result.output
    assert api.requests == []
    assert not out.exists()


def test_only_the_first_ten_invalid_lines_are_listed(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "i.jsonl"
    path.write_text("oops\n" * 15)

    result = run_cli("submit", str(path), "-o", str(tmp_path / "r.jsonl"))

    assert result.exit_code == 2
    assert result.stderr.count("not valid JSON") == 10
    assert "and 5 more invalid lines" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"), [(b"", "no jobs: the file is empty"), (b"\xff\xfe", "not UTF-8")]
)
def test_an_empty_or_binary_file_is_a_usage_error(
    run_cli: Run, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "i.jsonl"
    path.write_bytes(content)

    result = run_cli("submit", str(path), "-o", str(tmp_path / "r.jsonl"))

    assert result.exit_code == 2
    assert message in result.stderr


def test_a_missing_file_or_output_directory_is_a_usage_error(
    run_cli: Run, items: Path, tmp_path: Path
) -> None:
    missing = run_cli("submit", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r.jsonl"))
    no_dir = run_cli("submit", str(items), "-o", str(tmp_path / "no" / "r.jsonl"))
    bad_size = run_cli("submit", str(items), "-o", str(tmp_path / "r.jsonl"), "--chunk-size", "500")

    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    assert no_dir.exit_code == 2
    assert "does not exist" in no_dir.stderr
    assert bad_size.exit_code == 2


def test_no_wait_writes_the_queued_ids_and_exits_0(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"

    result = run_cli("submit", str(items), "-o", str(out), "--no-wait")

    assert result.exit_code == 0, result.output
    assert {line["status"] for line in read_results(out)} == {"queued"}
    assert all(line["job_id"] in api.jobs for line in read_results(out))
    assert not [r for r in api.requests if r.method == "GET"]


def test_jobs_unfinished_at_the_timeout_are_written_as_such_and_exit_1(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    api.polls_until_done = 10**6
    out = tmp_path / "r.jsonl"

    result = run_cli("submit", str(items), "-o", str(out), "--timeout", "0")

    assert result.exit_code == 1
    line = read_results(out)[0]
    assert line["status"] == "running"
    assert line["error"]["code"] == "not_finished"


def test_running_the_same_command_twice_creates_no_duplicate(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    first = run_cli("submit", str(items), "-o", str(tmp_path / "1.jsonl"))
    second = run_cli("submit", str(items), "-o", str(tmp_path / "2.jsonl"))

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert len(api.jobs) == 25
    assert read_results(tmp_path / "1.jsonl") == read_results(tmp_path / "2.jsonl")


def test_ctrl_c_exits_130_without_traceback_and_a_rerun_completes(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    # GIVEN Ctrl-C while the second chunk is being sent
    out = tmp_path / "r.jsonl"
    handle, batches = api.handle, []

    def interrupt_second_chunk(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jobs/batch":
            batches.append(request)
            if len(batches) == 2:
                raise KeyboardInterrupt
        return handle(request)

    api.handle = interrupt_second_chunk  # type: ignore[method-assign]
    interrupted = run_cli("submit", str(items), "-o", str(out), "--chunk-size", "10")

    assert interrupted.exit_code == 130
    assert "interrupted" in interrupted.stderr
    assert "Run the same command again" in interrupted.stderr
    assert "Traceback" not in interrupted.output
    assert not out.exists()
    assert len(api.jobs) == 10

    # WHEN the same command runs again, THEN it completes without a second job for any line
    resumed = run_cli("submit", str(items), "-o", str(out), "--chunk-size", "10")

    assert resumed.exit_code == 0, resumed.output
    assert len(api.jobs) == 25


def test_an_unreachable_api_is_one_error_line_and_exit_1(
    run_cli: Run, api: FakeApi, items: Path, tmp_path: Path
) -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/jobs/batch")
    api.fail_next(times=4, exception=httpx.ConnectError("Connection refused", request=request))

    result = run_cli("submit", str(items), "-o", str(tmp_path / "r.jsonl"))

    assert result.exit_code == 1
    assert "error: could not reach the API" in result.stderr
    assert "Traceback" not in result.output
