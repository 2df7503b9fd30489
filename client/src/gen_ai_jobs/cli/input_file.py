"""Read a JSONL file of jobs: every line is checked before anything is sent.

A line with a `task` key is a whole `POST /jobs` body; any other object is the `input` of
`--task` (so `{"text": ...}` for the default `extract_user`). `--model`, `--callback-url` and
`--priority` fill lines that set none. Blank lines are skipped and do not count as items.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gen_ai_jobs.models import JobRequest

MAX_REPORTED_PROBLEMS = 10


class InputFileError(Exception):
    """The file cannot be submitted; `problems` are (line number, what is wrong) pairs."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        shown = [
            f"{path}:{line}: {problem}" if line else f"{path}: {problem}"
            for line, problem in problems[:MAX_REPORTED_PROBLEMS]
        ]
        if len(problems) > MAX_REPORTED_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more invalid lines")
        super().__init__("\n".join(shown))
        self.problems = problems


def read_jobs(
    path: Path,
    *,
    task: str,
    model: str | None,
    callback_url: str | None,
    priority: str | None = None,
) -> list[JobRequest]:
    """Every job of the file in order, or InputFileError naming each invalid line."""
    defaults = {"model": model, "callback_url": callback_url, "priority": priority}
    jobs: list[JobRequest] = []
    problems: list[tuple[int, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise InputFileError(path, [(0, f"not UTF-8 text ({error.reason})")]) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            jobs.append(_job(json.loads(line), task, defaults))
        except ValueError as error:  # JSONDecodeError and ValidationError are ValueErrors
            problems.append((number, _describe(error)))
    if problems:
        raise InputFileError(path, problems)
    if not jobs:
        raise InputFileError(path, [(0, "no jobs: the file is empty")])
    return jobs


def _job(value: Any, task: str, defaults: dict[str, str | None]) -> JobRequest:
    if not isinstance(value, dict):
        raise ValueError("a line must be a JSON object")
    body = dict(value) if "task" in value else {"task": task, "input": value}
    for name, default in defaults.items():
        if body.get(name) is None:
            body[name] = default
    return JobRequest.model_validate(body)


def _describe(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at column {error.colno})"
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "line"
        return f"{where}: {first['msg']}"
    return str(error)
