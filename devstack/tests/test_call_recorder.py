"""devstack.call_recorder: which Lambda made each AWS call, on what, recorded once per process."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import call_recorder
from devstack.call_recorder import CallRecorder, call_resources, function_of_module, read_calls
from devstack.resources import StackResources

REGION = "us-east-1"


def in_module(module: str, source: str) -> dict[str, Any]:
    """Run ``source`` as if it were the module ``module`` (its frames carry that __name__)."""
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile(textwrap.dedent(source), f"<{module}>", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture
def recorded(aws: StackResources, tmp_path: Path) -> tuple[Any, Any, Path]:
    """SQS and DynamoDB clients whose calls only this test's recorder sees (not the session's:
    these calls are made up, the IAM proof must not count them)."""
    recorder = CallRecorder(tmp_path)
    clients = (
        boto3.client("sqs", region_name=REGION),
        boto3.client("dynamodb", region_name=REGION),
    )
    for client in clients:
        session_recorder = call_recorder.active()
        if session_recorder is not None:
            client.meta.events.unregister(call_recorder.EVENT, session_recorder)
        client.meta.events.register(call_recorder.EVENT, recorder)
    return clients[0], clients[1], recorder.path


def records(path: Path) -> list[tuple[str, str, list[list[str]]]]:
    return [(r["function"], r["operation"], r["resources"]) for r in read_calls(path.parent)]


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("gen_ai_on_aws.services.queue_service", "api"),
        ("worker.services.jobs", "worker"),
        ("worker.callbacks.delivery", "callbacks"),
        ("worker.settler", "settler"),
        ("worker.services.dead_letters", "settler"),
        ("gen_ai_contracts.settings", None),
        ("devstack.poller", None),
        ("workers", None),
    ],
)
def test_each_lambda_package_belongs_to_its_function(module: str, function: str | None) -> None:
    assert function_of_module(module) == function


def test_a_shared_module_counts_for_the_function_whose_entry_point_ran_it(
    recorded: tuple[Any, Any, Path], aws: StackResources
) -> None:
    _, dynamodb, path = recorded
    # GIVEN the settler's handler calling the worker package's job store
    jobs = in_module(
        "worker.services.jobs",
        """
        def read(client, table):
            return client.get_item(TableName=table, Key={"job_id": {"S": "j-1"}})
        """,
    )
    settler = in_module("worker.settler", "def handler(read):\n    return read()\n")
    settler["handler"](lambda: jobs["read"](dynamodb, aws.table_name))
    # and the worker's own handler calling it
    jobs["read"](dynamodb, aws.table_name)

    # THEN each call counts for the function whose outermost frame ran it
    assert records(path) == [
        ("settler", "GetItem", [["TableName", aws.table_name]]),
        ("worker", "GetItem", [["TableName", aws.table_name]]),
    ]


def test_calls_of_test_or_devstack_code_are_not_recorded(recorded: tuple[Any, Any, Path]) -> None:
    sqs, _, path = recorded
    sqs.list_queues()
    assert not path.exists()


def test_a_call_handed_to_a_thread_counts_for_the_function_that_handed_it(
    recorded: tuple[Any, Any, Path], aws: StackResources
) -> None:
    sqs, _, path = recorded
    # GIVEN the delivery function awaiting asyncio.to_thread(client.method): no Lambda frame
    # runs in that thread, the client's method is the thread's whole work
    assert call_recorder.active() is not None, "the root conftest installs the recorder"
    delivery = in_module(
        "worker.callbacks.delivery",
        """
        import asyncio

        async def retry_in(sqs, queue_url, handle):
            await asyncio.to_thread(
                sqs.change_message_visibility,
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=5,
            )
        """,
    )
    sqs.send_message(QueueUrl=aws.callbacks_queue_url, MessageBody="{}")
    handle = sqs.receive_message(QueueUrl=aws.callbacks_queue_url)["Messages"][0]["ReceiptHandle"]

    asyncio.run(delivery["retry_in"](sqs, aws.callbacks_queue_url, handle))

    assert records(path) == [
        ("callbacks", "ChangeMessageVisibility", [["QueueUrl", aws.callbacks_queue_url]])
    ]


def test_a_call_in_starlettes_thread_pool_counts_for_the_api(
    recorded: tuple[Any, Any, Path], aws: StackResources
) -> None:
    sqs, _, path = recorded
    api = in_module(
        "gen_ai_on_aws.api.blocking",
        """
        from starlette.concurrency import run_in_threadpool

        async def send(sqs, queue_url):
            await run_in_threadpool(sqs.send_message, QueueUrl=queue_url, MessageBody="{}")
        """,
    )
    asyncio.run(api["send"](sqs, aws.queue_url_low))
    assert records(path) == [("api", "SendMessage", [["QueueUrl", aws.queue_url_low]])]


def test_each_distinct_call_is_written_once(
    recorded: tuple[Any, Any, Path], aws: StackResources
) -> None:
    sqs, _, path = recorded
    api = in_module("gen_ai_on_aws.services.queue_service", "def send(f):\n    return f()\n")
    send: Callable[..., Any] = api["send"]
    for _ in range(3):
        send(lambda: sqs.send_message(QueueUrl=aws.queue_url_high, MessageBody="{}"))
    assert len(path.read_text().splitlines()) == 1


def test_batch_and_transaction_calls_name_every_table() -> None:
    params = {
        "RequestItems": {"jobs": [], "llm-state": []},
        "TransactItems": [{"Update": {"TableName": "audit"}}, {"Put": {"TableName": "jobs"}}],
    }
    assert call_resources(params) == [
        ["TableName", "audit"],
        ["TableName", "jobs"],
        ["TableName", "llm-state"],
    ]
    assert call_resources({"QueueUrl": "http://q/1/jobs", "Entries": []}) == [
        ["QueueUrl", "http://q/1/jobs"]
    ]


def test_a_line_cut_short_by_a_killed_process_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "calls-1.jsonl").write_text('{"function": "api"}\n{"function": "wo')
    assert list(read_calls(tmp_path)) == [{"function": "api"}]
