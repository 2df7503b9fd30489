"""Record every AWS API call a Lambda's code makes, for the IAM proof (provisioning.iam_proof).

A botocore ``before-parameter-build`` handler (fired once per API call, before retries) is added
to botocore's built-in handlers, so every client of every session created afterwards has it:
boto3's default session, the ones moto's ``mock_aws`` recreates, and pydantic-settings' Secrets
Manager client. Each call is attributed to a Lambda by the Python stack: its *outermost* frame
in one of the Lambda packages is the function's entry point (a handler, a FastAPI route), so a
module the functions share (``worker.services.jobs`` run by the settler) counts for the function
that ran it. ``asyncio.to_thread(client.send_message, ...)`` runs a call on a thread whose stack
holds no Lambda frame: ``asyncio.to_thread`` and ``anyio.to_thread.run_sync`` (Starlette's
thread pool) are wrapped to carry their caller's function along in a context variable (both copy
the context into the thread). Calls with no Lambda frame
(the devstack's own set-up, its event source mapping emulation, test code) are not recorded.

Each distinct call (function, service, operation, resources) is appended once, as a JSON line,
to ``calls-<pid>.jsonl`` in the directory named by ``GEN_AI_RECORD_AWS_CALLS``: one file per
process, so xdist workers and devstack subprocesses never interleave their writes.
"""

from __future__ import annotations

import asyncio
import asyncio.threads
import contextvars
import json
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

import anyio.to_thread
import boto3
from botocore.handlers import BUILTIN_HANDLERS

RECORD_ENV = "GEN_AI_RECORD_AWS_CALLS"
EVENT = "before-parameter-build"

# Module prefix -> the Lambda function (the Pulumi program's function names) whose code it is;
# the longest matching prefix wins. The worker zip runs three functions (see provisioning).
FUNCTION_OF_MODULE: dict[str, str] = {
    "gen_ai_on_aws": "api",
    "worker": "worker",
    "worker.callbacks": "callbacks",
    "worker.settler": "settler",
    "worker.services.dead_letters": "settler",
}
# Request parameters that name the resource a call acts on.
RESOURCE_PARAMETERS = ("QueueUrl", "QueueName", "TableName", "SecretId", "modelId")


@lru_cache(maxsize=4096)
def function_of_module(module: str) -> str | None:
    """The Lambda whose package holds ``module``, or None for any other code."""
    matches = [
        prefix
        for prefix in FUNCTION_OF_MODULE
        if module == prefix or module.startswith(prefix + ".")
    ]
    return FUNCTION_OF_MODULE[max(matches, key=len)] if matches else None


def function_of_stack(frame: FrameType | None) -> str | None:
    """The function of the outermost Lambda-package frame of ``frame``'s stack."""
    function = None
    while frame is not None:
        found = function_of_module(str(frame.f_globals.get("__name__", "")))
        function = found or function
        frame = frame.f_back
    return function


# The function of the code that handed a call to another thread (asyncio.to_thread).
_handed_over_by: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aws_call_recorder_function", default=None
)


def calling_function(frame: FrameType | None) -> str | None:
    """The function a call made from ``frame`` belongs to: the one that handed the work to this
    thread (its whole stack was seen there) if any, else this stack's own."""
    return _handed_over_by.get() or function_of_stack(frame)


def _attributing(
    to_thread: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``to_thread`` (asyncio's or anyio's) telling the thread which function's code called it."""

    async def attributed_to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        token = _handed_over_by.set(calling_function(sys._getframe(1)))
        try:
            return await to_thread(func, *args, **kwargs)
        finally:
            _handed_over_by.reset(token)

    return attributed_to_thread


def call_resources(params: Mapping[str, Any]) -> list[list[str]]:
    """[parameter, value] pairs naming the resources of one call, batch tables included."""
    resources = [
        [name, str(params[name])]
        for name in RESOURCE_PARAMETERS
        if isinstance(params.get(name), str)
    ]
    # BatchWriteItem / BatchGetItem: the tables are the keys of RequestItems.
    request_items = params.get("RequestItems")
    if isinstance(request_items, Mapping):
        resources += [["TableName", str(table)] for table in request_items]
    # TransactWriteItems / TransactGetItems: each item names its table.
    for item in params.get("TransactItems") or []:
        for action in item.values() if isinstance(item, Mapping) else []:
            if isinstance(action, Mapping) and isinstance(action.get("TableName"), str):
                resources.append(["TableName", action["TableName"]])
    return sorted({tuple(pair): pair for pair in resources}.values())


class CallRecorder:
    """Appends each distinct call once; thread-safe (pollers and the API run in threads)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """This process's file (a forked child gets its own)."""
        return self.directory / f"calls-{os.getpid()}.jsonl"

    def __call__(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        function = calling_function(sys._getframe(1))
        if function is None:
            return
        record = {
            "function": function,
            "service": model.service_model.service_name,
            "signing_name": model.service_model.signing_name,
            "operation": model.name,
            "resources": call_resources(params),
        }
        line = json.dumps(record, sort_keys=True)
        with self._lock:
            if line in self._seen:
                return
            self._seen.add(line)
            try:
                with self.path.open("a", encoding="utf-8") as stream:
                    stream.write(line + "\n")
            except OSError:
                pass  # the session is over (its directory removed): never fail the call itself


_installed: CallRecorder | None = None


def install(directory: Path) -> CallRecorder:
    """Record calls into ``directory`` from now on (idempotent within a process)."""
    global _installed
    if _installed is not None:
        return _installed
    directory.mkdir(parents=True, exist_ok=True)
    recorder = CallRecorder(directory)
    BUILTIN_HANDLERS.append((EVENT, recorder))
    # A default session created before this call would not see the built-in handler.
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION.events.register(EVENT, recorder)
    asyncio.to_thread = asyncio.threads.to_thread = _attributing(asyncio.threads.to_thread)
    anyio.to_thread.run_sync = _attributing(anyio.to_thread.run_sync)  # type: ignore[assignment]
    _installed = recorder
    return recorder


def active() -> CallRecorder | None:
    """The recorder installed in this process, if any."""
    return _installed


def install_from_environment() -> CallRecorder | None:
    """Install when ``GEN_AI_RECORD_AWS_CALLS`` names a directory; otherwise do nothing."""
    directory = os.environ.get(RECORD_ENV, "").strip()
    return install(Path(directory)) if directory else None


def read_calls(directory: Path) -> Iterable[dict[str, Any]]:
    """Every record of every process; a line cut short by a killed process is skipped."""
    for path in sorted(directory.glob("calls-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
