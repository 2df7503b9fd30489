"""`submit_batch`, `submit_many` (chunks with content-derived keys) and `wait_many`."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from gen_ai_jobs import BatchItem, Client, GenAiJobsError, Job, JobRequest
from gen_ai_jobs._bulk import chunk_key

from .fake_api import FakeApi


def texts(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"task": "extract_user", "input": {"text": f"P{i} is 30"}} for i in range(start, count)]


def batch_keys(api: FakeApi) -> list[str]:
    return [request.headers["idempotency-key"] for request in api.posts("/jobs/batch")]


def test_submit_batch_with_a_refused_item_answers_per_item(client: Client) -> None:
    result = client.submit_batch(
        [
            JobRequest(task="complete", input={"prompt": "ok"}),
            {"task": "complete", "input": {"prompt": "!reject"}},
        ],
        idempotency_key="b-1",
    )

    assert [item.index for item in result.results] == [0, 1]
    assert [item.queued for item in result.results] == [True, False]
    assert result.queued[0].job_id is not None
    assert result.failed[0].error is not None
    assert result.failed[0].error.code == "validation_error"


def test_submit_batch_sends_the_batch_priority_and_items_keep_their_own(
    api: FakeApi, client: Client
) -> None:
    result = client.submit_batch(
        [
            JobRequest(task="complete", input={"prompt": "a"}),
            JobRequest(task="complete", input={"prompt": "b"}, priority="high"),
        ],
        priority="low",
    )

    body = json.loads(api.posts("/jobs/batch")[0].content)
    assert body["priority"] == "low"
    assert [job.get("priority") for job in body["jobs"]] == [None, "high"]
    assert [api.jobs[item.job_id or ""]["priority"] for item in result.results] == ["low", "high"]


def test_submit_batch_without_a_priority_sends_none(api: FakeApi, client: Client) -> None:
    client.submit_batch(texts(2))

    assert "priority" not in json.loads(api.posts("/jobs/batch")[0].content)


def test_submit_many_fills_the_priority_of_items_that_name_none(
    api: FakeApi, client: Client
) -> None:
    jobs = [*texts(2), {"task": "complete", "input": {"prompt": "p"}, "priority": "normal"}]

    items = client.submit_many(jobs, priority="high")

    sent = json.loads(api.posts("/jobs/batch")[0].content)["jobs"]
    assert [job["priority"] for job in sent] == ["high", "high", "normal"]
    assert [api.jobs[item.job_id or ""]["priority"] for item in items] == ["high", "high", "normal"]


def test_the_priority_is_part_of_a_chunks_key(api: FakeApi, client: Client) -> None:
    # Another lane is another request: it must not replay (or conflict with) the first.
    client.submit_many(texts(3), priority="low")
    client.submit_many(texts(3), priority="high")

    first, second = batch_keys(api)
    assert first != second
    assert len(api.jobs) == 6


def test_submit_many_chunks_the_input_and_numbers_items_over_all_of_it(
    api: FakeApi, client: Client
) -> None:
    progress: list[list[BatchItem]] = []

    items = client.submit_many(iter(texts(250)), chunk_size=100, on_progress=progress.append)

    sizes = [len(json.loads(r.content)["jobs"]) for r in api.posts("/jobs/batch")]
    assert sizes == [100, 100, 50]
    assert [item.index for item in items] == list(range(250))
    assert all(item.queued for item in items)
    assert [len(chunk) for chunk in progress] == [100, 100, 50]
    assert progress[2][0].index == 200
    assert api.inputs[items[137].job_id or ""]["input"] == {"text": "P137 is 30"}


def test_chunk_keys_come_from_content_and_position(api: FakeApi, client: Client) -> None:
    client.submit_many(texts(150), chunk_size=100)

    first_bodies = [JobRequest.model_validate(job).body() for job in texts(100)]
    assert batch_keys(api)[0] == chunk_key(first_bodies, start=0)
    assert batch_keys(api)[0].startswith("batch-")
    assert len(batch_keys(api)[0]) == len("batch-") + 64
    # The same items at another position are another chunk (a file may repeat a line on purpose).
    assert chunk_key(first_bodies, start=0) != chunk_key(first_bodies, start=100)
    assert chunk_key(first_bodies, start=0) != chunk_key(first_bodies, start=0, namespace="run-2")


def test_running_the_same_input_again_creates_no_job(api: FakeApi, client: Client) -> None:
    first = client.submit_many(texts(120), chunk_size=50)

    again = client.submit_many(texts(120), chunk_size=50)

    assert [item.job_id for item in again] == [item.job_id for item in first]
    assert len(api.jobs) == 120
    assert batch_keys(api)[:3] == batch_keys(api)[3:]


def test_a_rerun_after_a_crash_mid_input_duplicates_nothing(api: FakeApi, client: Client) -> None:
    # GIVEN a first run that sent 2 of 5 chunks, then died
    client.submit_many(texts(40), chunk_size=20)

    # WHEN the whole input is submitted again
    items = client.submit_many(texts(100), chunk_size=20)

    # THEN the first chunks are replayed, and every line has exactly one job
    assert len(api.jobs) == 100
    assert len({item.job_id for item in items}) == 100


def test_another_namespace_submits_the_same_input_as_new_jobs(api: FakeApi, client: Client) -> None:
    client.submit_many(texts(10))
    client.submit_many(texts(10), namespace="second-run")

    assert len(api.jobs) == 20


def test_a_refused_item_keeps_its_place_and_error(client: Client) -> None:
    jobs = [*texts(2), {"task": "extract_user", "input": {"text": "!reject"}}, *texts(4, 3)]

    items = client.submit_many(jobs, chunk_size=3)

    assert [item.queued for item in items] == [True, True, False, True]
    assert items[2].index == 2
    assert items[2].error is not None
    assert items[2].error.code == "validation_error"


def test_items_refused_for_a_passing_reason_are_sent_again_under_a_derived_key(
    api: FakeApi, client: Client
) -> None:
    jobs = [*texts(2), {"task": "extract_user", "input": {"text": "!unavailable"}}]

    items = client.submit_many(jobs)

    assert all(item.queued for item in items)
    keys = batch_keys(api)
    assert keys[1] == f"{keys[0]}.retry1"
    assert [len(json.loads(r.content)["jobs"]) for r in api.posts("/jobs/batch")] == [3, 1]
    assert items[2].index == 2
    assert len(api.sleeps) == 1

    # A re-run replays both answers: still three jobs
    assert [item.job_id for item in client.submit_many(jobs)] == [i.job_id for i in items]
    assert len(api.jobs) == 3


def test_an_invalid_item_is_refused_before_anything_is_sent(api: FakeApi, client: Client) -> None:
    with pytest.raises(ValidationError):
        client.submit_many([*texts(3), {"task": "complete"}])

    assert api.requests == []


@pytest.mark.parametrize("size", [0, 101])
def test_chunk_size_must_fit_a_batch(client: Client, size: int) -> None:
    with pytest.raises(ValueError, match="chunk_size must be between 1 and 100"):
        client.submit_many(texts(1), chunk_size=size)


def test_a_batch_answer_that_misses_items_is_an_error(api: FakeApi, client: Client) -> None:
    api.fail_next(status=202, path="/jobs/batch", body=b'{"results": []}')

    with pytest.raises(GenAiJobsError, match="other indexes"):
        client.submit_many(texts(2))


def polled_ids(api: FakeApi) -> list[str]:
    return [r.url.path.rsplit("/", 1)[1] for r in api.requests if r.method == "GET"]


def test_wait_many_polls_oldest_first_and_stops_at_a_group_with_nothing_finished(
    api: FakeApi,
) -> None:
    # GIVEN 30 running jobs of which a worker finishes the 10 oldest between two polling rounds
    api.polls_until_done = 10**6
    with api.client() as client:
        ids = [item.job_id or "" for item in client.submit_many(texts(30))]
    for job_id in ids[:10]:
        api.finish(job_id)

    def worker_progresses(seconds: float) -> None:
        api.sleeps.append(seconds)
        for job_id in [i for i in ids if api.jobs[i]["status"] != "succeeded"][:10]:
            api.finish(job_id)

    seen: list[Job] = []
    with api.client(sleep=worker_progresses) as client:
        # WHEN waiting for all of them (and one id twice), 8 requests at a time
        jobs = client.wait_many([*ids, ids[0]], poll_interval=0.5, on_finished=seen.append)

    # THEN round 1 polled 0-23 (16-23: nothing finished), round 2 10-29, round 3 20-29
    # (in any order within a group: its requests run concurrently)
    assert Counter(polled_ids(api)) == Counter([*ids[0:24], *ids[10:30], *ids[20:30]])
    assert {job.status for job in jobs.values()} == {"succeeded"}
    assert sorted(job.job_id for job in seen) == sorted(ids)
    assert api.sleeps == [0.5, 0.5]


def test_wait_many_backs_off_while_nothing_finishes(api: FakeApi, client: Client) -> None:
    api.polls_until_done = 4
    ids = [item.job_id or "" for item in client.submit_many(texts(3))]

    jobs = client.wait_many(ids, poll_interval=1.0)

    assert {job.status for job in jobs.values()} == {"succeeded"}
    assert api.sleeps == [1.0, 1.5, 2.25]


def test_wait_many_at_the_timeout_polls_every_job_once_more(api: FakeApi) -> None:
    # GIVEN the oldest job stuck and the others finished
    api.polls_until_done = 10**6
    with api.client(sleep=lambda _: None) as client:
        ids = [item.job_id or "" for item in client.submit_many(texts(20))]
        for job_id in ids[1:]:
            api.finish(job_id)

        jobs = client.wait_many(ids, timeout=0, concurrency=1)

    # THEN every job was seen, although the first group had nothing finished
    assert polled_ids(api) == ids
    assert jobs[ids[0]].status == "running"
    assert {jobs[job_id].status for job_id in ids[1:]} == {"succeeded"}
