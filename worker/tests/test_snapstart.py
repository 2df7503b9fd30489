"""SnapStart: the worker's functions register after-restore hooks through `snapshot_restore_py`
and, once those ran, build fresh clients, pools, settings and credentials, and draw randomness
no other restored environment shares; a record is still processed after a restore.

Lambda's `snapshot_restore_py` exists only in its managed runtime: a fake module stands in,
recording what the handlers' modules register when they are imported (as at init).
"""

from __future__ import annotations

import importlib
import random
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import litellm
import pytest

from devstack.lambda_runtime import LambdaContext
from devstack.testing import FakeSnapStartRuntime
from gen_ai_contracts import snapstart

from .conftest import CallbackHarness, Harness

# The handlers' modules and those that import their cached builders by name.
_RUNTIME_MODULES = (
    "worker.main",
    "worker.runtime",
    "worker.callbacks.main",
    "worker.callbacks.runtime",
    "worker.settler",
)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> FakeSnapStartRuntime:
    """The fake runtime library, and the handlers' modules imported anew under it (their old
    module objects come back after the test)."""
    fake = FakeSnapStartRuntime()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake.module())
    monkeypatch.setattr(snapstart, "_after_restore", [])
    for name in _RUNTIME_MODULES:
        monkeypatch.delitem(sys.modules, name)
    for name in _RUNTIME_MODULES:
        importlib.import_module(name)
    return fake


@pytest.fixture
def seeded_random() -> Iterator[None]:
    """random's state is the process's: put it back for other tests."""
    state = random.getstate()
    yield
    random.setstate(state)


def test_each_function_registers_one_after_restore_hook(hooks: FakeSnapStartRuntime) -> None:
    registered = {callback.__module__ for callback in hooks.after_restore}

    assert registered == {"worker.runtime", "worker.callbacks.runtime", "worker.settler"}
    assert hooks.after_restore == list(snapstart.after_restore_callbacks())
    assert hooks.before_snapshot == []


def test_restore_rebuilds_the_worker_and_it_still_processes_a_record(
    hooks: FakeSnapStartRuntime, harness: Harness
) -> None:
    runtime, main = sys.modules["worker.runtime"], sys.modules["worker.main"]
    before = runtime.get_worker()
    session = boto3.DEFAULT_SESSION

    hooks.restore()

    assert runtime.get_worker.cache_info().currsize == 0
    after = runtime.get_worker()
    assert after is not before
    assert after.settings is not before.settings  # re-read (a rotated secret takes effect)
    assert after.sqs is not before.sqs
    assert after.jobs is not before.jobs
    assert after.llm is not before.llm
    # New clients come from a new default session, which resolves credentials again.
    assert boto3.DEFAULT_SESSION is not None
    assert boto3.DEFAULT_SESSION is not session
    submitted = harness.submit()
    response = main.handler({"Records": [submitted.record]}, LambdaContext())
    assert response == {"batchItemFailures": []}
    assert harness.job(submitted.job_id)["status"] == "succeeded"


def test_restore_drops_litellm_http_clients(hooks: FakeSnapStartRuntime) -> None:
    litellm.in_memory_llm_clients_cache.set_cache("pool", object())
    module_client = litellm.module_level_aclient

    hooks.restore()

    clients: Any = litellm.in_memory_llm_clients_cache
    assert clients.get_cache("pool") is None
    assert litellm.module_level_aclient is not module_client  # built again on use


def test_environments_restored_from_one_snapshot_draw_different_numbers(
    hooks: FakeSnapStartRuntime, seeded_random: None
) -> None:
    random.seed(1234)  # what init left in the snapshot
    snapshot = random.getstate()

    hooks.restore()
    first = random.getstate()
    random.setstate(snapshot)
    hooks.restore()
    second = random.getstate()

    assert first != snapshot
    assert second != snapshot
    assert first != second


def test_restore_rebuilds_the_delivery_function_and_its_http_client(
    hooks: FakeSnapStartRuntime, callbacks: CallbackHarness
) -> None:
    runtime = sys.modules["worker.callbacks.runtime"]
    before = runtime.get_callbacks()

    hooks.restore()

    after = runtime.get_callbacks()
    assert after is not before
    assert after.http is not before.http
    assert after.sqs is not before.sqs


def test_restore_rebuilds_the_settler(hooks: FakeSnapStartRuntime, worker_env: Any) -> None:
    settler = sys.modules["worker.settler"]
    before = settler.get_settler()

    hooks.restore()

    assert settler.get_settler() is not before


def test_without_the_runtime_library_registration_only_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    monkeypatch.setattr(snapstart, "_after_restore", [])
    calls: list[str] = []

    def callback() -> None:
        calls.append("restored")

    assert snapstart.register_after_restore(callback) is callback
    snapstart.register_after_restore(callback)  # once only
    snapstart.run_after_restore()

    assert calls == ["restored"]
