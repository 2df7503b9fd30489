"""`status`, `wait`, `cancel` and the top-level options: JSON on stdout, exit codes."""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from gen_ai_jobs import Client
from gen_ai_jobs.cli import CliState, app

from .fake_api import API_KEY, FakeApi

Run = Callable[..., Result]


def queued_job(client: Client) -> str:
    return client.submit(task="complete", input={"prompt": "a"}).job_id


def test_status_prints_the_job_json(run_cli: Run, client: Client) -> None:
    job_id = queued_job(client)

    result = run_cli("status", job_id)

    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["job_id"] == job_id
    assert job["status"] == "succeeded"


def test_status_of_an_unknown_job_is_exit_1_with_the_api_error(run_cli: Run) -> None:
    result = run_cli("status", "no-such-job")

    assert result.exit_code == 1
    assert "error: 404 job_not_found: No such job" in result.stderr
    assert "(request_id req-123)" in result.stderr
    assert "Traceback" not in result.output


def test_wait_exits_0_for_a_succeeded_job(run_cli: Run, api: FakeApi, client: Client) -> None:
    api.polls_until_done = 3
    job_id = queued_job(client)

    result = run_cli("wait", job_id, "--poll-interval", "0.1")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert api.sleeps == [0.1, pytest.approx(0.15)]


def test_wait_exits_1_for_a_failed_job(run_cli: Run, client: Client) -> None:
    job_id = client.submit(task="complete", input={"prompt": "!fail"}).job_id

    result = run_cli("wait", job_id)

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "extraction_failed"


def test_wait_past_the_timeout_prints_the_last_state_and_exits_1(
    run_cli: Run, api: FakeApi, client: Client
) -> None:
    api.polls_until_done = 10**6
    job_id = queued_job(client)

    result = run_cli("wait", job_id, "--timeout", "0")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "running"
    assert f"error: job {job_id} still running after 0 s" in result.stderr


def test_cancel_a_queued_job_exits_0(run_cli: Run, client: Client) -> None:
    job_id = queued_job(client)

    result = run_cli("cancel", job_id)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "cancelled"


def test_cancel_a_finished_job_exits_1_with_its_status(run_cli: Run, client: Client) -> None:
    job_id = queued_job(client)
    client.get(job_id)  # now succeeded

    result = run_cli("cancel", job_id)

    assert result.exit_code == 1
    assert "409 job_not_cancellable" in result.stderr
    assert 'details: {"status": "succeeded"}' in result.stderr


def test_the_api_key_option_and_variable_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(api_key=API_KEY)
    job_id = queued_job(api.client(api_key=API_KEY))
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), obj=CliState(client_factory=api.client))

    assert run("--api-key", API_KEY, "status", job_id).exit_code == 0
    denied = run("--api-key", "sk-wrong", "status", job_id)
    monkeypatch.setenv("GEN_AI_API_KEY", API_KEY)
    from_env = run("status", job_id)

    assert denied.exit_code == 1
    assert "401 unauthorized" in denied.stderr
    assert "sk-wrong" not in denied.output
    assert from_env.exit_code == 0


def test_a_malformed_api_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEN_AI_API_URL", "localhost:8000")

    result = CliRunner().invoke(app, ["status", "job-1"])

    assert result.exit_code == 2
    assert "--api-url: base_url must be an http(s) URL" in result.stderr


def test_version_and_help(run_cli: Run) -> None:
    version = run_cli("--version")
    usage = run_cli()

    assert version.exit_code == 0
    assert version.stdout.startswith("gen-ai-jobs ")
    assert usage.exit_code == 2
    for command in ("submit", "status", "wait", "cancel"):
        assert command in usage.output


def test_python_dash_m_runs_the_same_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["gen_ai_jobs", "--version"])

    with pytest.raises(SystemExit) as exited:
        runpy.run_module("gen_ai_jobs", run_name="__main__")

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("gen-ai-jobs ")
