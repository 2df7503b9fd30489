"""Pytest fixtures shared by the app, worker, contract and end-to-end tests.

Loaded from the root ``conftest.py``; kept in one place so every test tree fakes AWS and the
LLM the same way (moto for AWS, the OpenAI-compatible fake for the LLM).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import boto3
import moto.sqs.models as moto_sqs_models
import pytest
from moto import mock_aws
from moto.core.config import default_user_config
from moto.dynamodb.models import DynamoDBBackend

from devstack import moto_atomic, moto_clock
from devstack.fake_llm import FakeLLMServer
from devstack.resources import StackResources, create_stack_resources

TEST_REGION = "us-east-1"


@dataclass
class FakeSnapStartRuntime:
    """Stands in for Lambda's `snapshot_restore_py` (SnapStart's runtime hooks): it keeps what
    the code registers, and `restore()` runs the after-restore callables in order."""

    before_snapshot: list[Callable[[], None]] = field(default_factory=list)
    after_restore: list[Callable[[], None]] = field(default_factory=list)

    def module(self) -> types.ModuleType:
        module = types.ModuleType("snapshot_restore_py")
        module.register_before_snapshot = self.before_snapshot.append  # type: ignore[attr-defined]
        module.register_after_restore = self.after_restore.append  # type: ignore[attr-defined]
        return module

    def restore(self) -> None:
        for callback in self.after_restore:
            callback()


class ManualClock:
    """A settable wall clock for code that takes ``clock=`` (leases, limiters, breakers): tests
    move ``now`` instead of sleeping. One instance shared by several objects is one fleet's time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """One fake LLM server for the session; ``fake_llm`` resets it per test."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> FakeLLMServer:
    """The fake LLM with default behaviour and empty stats."""
    fake_llm_server.llm.reset()
    return fake_llm_server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region so no test can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "APP_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_REGION", TEST_REGION)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackResources]:
    """moto-backed queue, DLQ and jobs table, created as the stack creates them, with item
    writes made atomic as DynamoDB's are (see devstack.moto_atomic)."""
    for name, method in moto_atomic.atomic_writes().items():
        monkeypatch.setattr(DynamoDBBackend, name, method)
    for name, function in moto_clock.fast_clock().items():
        monkeypatch.setattr(moto_sqs_models, name, function)
    # moto rebuilds boto3's default session on every mock by default, reloading botocore's JSON
    # models each test (about half the suite's time); our clients name their region, so keep it.
    monkeypatch.setitem(default_user_config["core"], "reset_boto3_session", False)
    with mock_aws():
        yield create_stack_resources(
            sqs=boto3.client("sqs", region_name=TEST_REGION),
            dynamodb=boto3.client("dynamodb", region_name=TEST_REGION),
        )
