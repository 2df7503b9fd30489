"""JobStore: every transition is a conditional write (docs/contracts.md)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack.resources import StackResources
from devstack.testing import ManualClock
from gen_ai_contracts.jobs import TokenUsage
from worker.models.job import ClaimOutcome, JobRef, JobSpend
from worker.services.jobs import JobStore

JOB_ID = "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10"
NOW = 1_800_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dynamodb(aws: StackResources) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(aws: StackResources, dynamodb: Any, clock: ManualClock) -> JobStore:
    """The store, with JOB_ID recorded as `queued` the way the API writes it."""
    put_queued(dynamodb, aws)
    return JobStore(dynamodb, aws.table_name, clock=clock)


def put_queued(dynamodb: Any, aws: StackResources, job_id: str = JOB_ID) -> None:
    stamp = "2027-01-15T08:00:00.000Z"
    dynamodb.put_item(
        TableName=aws.table_name,
        Item={
            "job_id": {"S": job_id},
            "status": {"S": "queued"},
            "task": {"S": "extract_user"},
            "request_id": {"S": "req-1"},
            "created_at": {"S": stamp},
            "updated_at": {"S": stamp},
            "attempts": {"N": "0"},
            "expires_at": {"N": str(int(NOW) + 3600)},
        },
    )


def ref(owner: str = "attempt-a") -> JobRef:
    return JobRef(job_id=JOB_ID, owner=owner, task="extract_user", request_id="req-1")


def item(dynamodb: Any, aws: StackResources) -> dict[str, Any]:
    key = {"job_id": {"S": JOB_ID}}
    return dict(dynamodb.get_item(TableName=aws.table_name, Key=key)["Item"])


def test_claim_of_a_queued_job_holds_it_under_a_lease(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    claim = store.claim(ref(), lease_expires_at=NOW + 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 1)
    stored = item(dynamodb, aws)
    assert stored["status"] == {"S": "running"}
    assert stored["lease_owner"] == {"S": "attempt-a"}
    assert stored["lease_expires_at"] == {"N": str(int(NOW) + 60)}
    assert stored["expires_at"] == {"N": str(int(NOW) + 3600)}
    assert stored["request_id"] == {"S": "req-1"}


def test_claim_of_a_job_without_a_record_creates_nothing(
    aws: StackResources, dynamodb: Any, clock: ManualClock
) -> None:
    # GIVEN no record (the API told its client the job does not exist, or the TTL removed it)
    store = JobStore(dynamodb, aws.table_name, clock=clock)

    claim = store.claim(ref(), lease_expires_at=NOW + 60)

    # THEN nothing runs and no record appears under an id no client knows
    assert claim.outcome is ClaimOutcome.ABSENT
    assert "Item" not in dynamodb.get_item(TableName=aws.table_name, Key={"job_id": {"S": JOB_ID}})


def test_live_lease_makes_a_second_claim_busy(store: JobStore) -> None:
    store.claim(ref("attempt-a"), lease_expires_at=NOW + 60)
    claim = store.claim(ref("attempt-b"), lease_expires_at=NOW + 60)
    assert claim.outcome is ClaimOutcome.BUSY
    assert claim.lease_expires_at == NOW + 60


def test_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(
    store: JobStore, clock: ManualClock, dynamodb: Any, aws: StackResources
) -> None:
    store.claim(ref("attempt-a"), lease_expires_at=NOW + 60)
    clock.now = NOW + 61
    claim = store.claim(ref("attempt-b"), lease_expires_at=clock.now + 60)
    assert (claim.outcome, claim.attempts) == (ClaimOutcome.CLAIMED, 2)
    # The crashed attempt comes back to life: its writes are refused
    assert store.succeed(ref("attempt-a"), result_json="{}") is None
    stored = store.succeed(ref("attempt-b"), result_json='{"ok": true}')
    # The finish write hands back the record as stored (ALL_NEW): no second read needed
    assert stored is not None
    assert (stored["status"], stored["result"]) == ("succeeded", '{"ok": true}')
    assert item(dynamodb, aws)["result"] == {"S": '{"ok": true}'}


def test_finished_job_cannot_be_claimed_again(store: JobStore) -> None:
    store.claim(ref(), lease_expires_at=NOW + 60)
    store.fail(ref(), code="invalid_payload", message="bad")
    claim = store.claim(ref("attempt-b"), lease_expires_at=NOW + 60)
    assert (claim.outcome, claim.status) == (ClaimOutcome.FINISHED, "failed")
    # with the finished record, so a duplicate can tell whether a webhook is still owed
    assert claim.record is not None
    assert claim.record["error"] == {"code": "invalid_payload", "message": "bad"}


def test_release_requeues_with_last_error_and_no_lease(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    store.claim(ref(), lease_expires_at=NOW + 60)
    assert store.release(ref(), code="provider_timeout", message="slow") is True
    stored = item(dynamodb, aws)
    assert stored["status"] == {"S": "queued"}
    assert stored["last_error"]["M"]["code"] == {"S": "provider_timeout"}
    assert "lease_owner" not in stored
    assert "lease_expires_at" not in stored
    # and the next delivery can claim it at once, counting a second attempt
    assert store.claim(ref("attempt-b"), lease_expires_at=NOW + 60).attempts == 2


def test_fail_stores_code_and_message(store: JobStore, dynamodb: Any, aws: StackResources) -> None:
    store.claim(ref(), lease_expires_at=NOW + 60)
    assert store.fail(ref(), code="extraction_failed", message="no person") is not None
    stored = item(dynamodb, aws)
    assert stored["status"] == {"S": "failed"}
    assert stored["error"] == {
        "M": {"code": {"S": "extraction_failed"}, "message": {"S": "no person"}}
    }


def test_other_aws_errors_are_raised(aws: StackResources, dynamodb: Any) -> None:
    missing = JobStore(dynamodb, "no-such-table")
    with pytest.raises(ClientError):
        missing.claim(ref(), lease_expires_at=NOW)
    with pytest.raises(ClientError):
        missing.release(ref(), code="x", message="y")


def _spend(prompt: int, completion: int, cost: float | None, model: str | None) -> JobSpend:
    spend = JobSpend()
    spend.add(usage=TokenUsage(prompt_tokens=prompt, completion_tokens=completion), cost=cost)
    spend.answered_by = model
    return spend


def test_tokens_and_cost_sum_over_attempts_and_the_answering_model_is_kept(
    store: JobStore, dynamodb: Any, aws: StackResources, clock: ManualClock
) -> None:
    # GIVEN a first attempt that spent tokens and was released after a retryable error
    store.claim(ref("attempt-a"), lease_expires_at=NOW + 60)
    spent = _spend(100, 20, 0.000015, None)
    assert store.release(ref("attempt-a"), code="provider_unavailable", message="x", spend=spent)
    # WHEN a second attempt succeeds with a fallback model
    store.claim(ref("attempt-b"), lease_expires_at=NOW + 60)
    answered = _spend(50, 5, 0.5, "openai/backup")
    assert store.succeed(ref("attempt-b"), result_json='{"text": "hi"}', spend=answered) is not None
    # THEN the record holds the totals of both attempts and who answered
    stored = item(dynamodb, aws)
    assert stored["prompt_tokens"] == {"N": "150"}
    assert stored["completion_tokens"] == {"N": "25"}
    assert float(stored["cost_usd"]["N"]) == pytest.approx(0.500015)
    assert stored["model"] == {"S": "openai/backup"}


def test_an_attempt_without_llm_calls_leaves_usage_absent(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    store.claim(ref(), lease_expires_at=NOW + 60)
    assert store.fail(ref(), code="invalid_payload", message="x", spend=JobSpend()) is not None
    stored = item(dynamodb, aws)
    assert "prompt_tokens" not in stored
    assert "cost_usd" not in stored
    assert "model" not in stored


def test_an_unpriced_model_records_tokens_but_no_cost(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    store.claim(ref(), lease_expires_at=NOW + 60)
    assert (
        store.succeed(ref(), result_json="{}", spend=_spend(7, 3, None, "openai/local")) is not None
    )
    stored = item(dynamodb, aws)
    assert (stored["prompt_tokens"], stored["completion_tokens"]) == ({"N": "7"}, {"N": "3"})
    assert "cost_usd" not in stored


def copy(dispatch: int, owner: str = "attempt-a") -> JobRef:
    """The job as carried by copy number ``dispatch`` of its message."""
    return JobRef(
        job_id=JOB_ID, owner=owner, task="extract_user", request_id="req-1", dispatch=dispatch
    )


def test_a_claim_records_the_dispatch_it_carries(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    assert store.claim(copy(3), lease_expires_at=NOW + 60).outcome is ClaimOutcome.CLAIMED
    assert item(dynamodb, aws)["dispatch"] == {"N": "3"}


def test_an_older_copy_than_the_records_is_stale(store: JobStore) -> None:
    # GIVEN a job re-sent as copy 1 (released with dispatch 1)
    store.claim(copy(0), lease_expires_at=NOW + 60)
    assert store.release(copy(0), code="provider_rate_limited", message="x", dispatch=1)
    # THEN copy 0 can no longer claim it; copy 1 (or a newer one) can
    claim = store.claim(copy(0, "attempt-b"), lease_expires_at=NOW + 60)
    assert (claim.outcome, claim.dispatch) == (ClaimOutcome.STALE, 1)
    assert store.claim(copy(1, "attempt-c"), lease_expires_at=NOW + 60).outcome is (
        ClaimOutcome.CLAIMED
    )


def test_a_copy_as_new_as_the_record_waits_for_a_live_holder(store: JobStore) -> None:
    store.claim(copy(1), lease_expires_at=NOW + 60)
    claim = store.claim(copy(1, "attempt-b"), lease_expires_at=NOW + 60)
    assert (claim.outcome, claim.lease_expires_at) == (ClaimOutcome.BUSY, NOW + 60)


def test_a_finished_job_is_finished_for_any_copy(store: JobStore) -> None:
    store.claim(copy(2), lease_expires_at=NOW + 60)
    store.succeed(copy(2), result_json="{}")
    for dispatch in (0, 2, 3):
        claim = store.claim(copy(dispatch, "attempt-b"), lease_expires_at=NOW + 60)
        assert claim.outcome is ClaimOutcome.FINISHED


def test_a_deferral_refunds_the_attempt_in_the_same_write(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    # GIVEN a job with one real attempt behind it, claimed again
    store.claim(copy(0), lease_expires_at=NOW + 60)
    assert store.release(copy(0), code="provider_unavailable", message="x", dispatch=1)
    assert store.claim(copy(1, "attempt-b"), lease_expires_at=NOW + 60).attempts == 2
    # WHEN this attempt is deferred (a 429) and handed back with the tokens it spent
    spent = _spend(10, 0, None, None)
    released = store.release(
        copy(1, "attempt-b"),
        code="provider_rate_limited",
        message="y",
        spend=spent,
        dispatch=2,
        refund=True,
    )
    # THEN only the real attempt counts, the next copy is current, and the tokens add up
    assert released is True
    stored = item(dynamodb, aws)
    assert stored["attempts"] == {"N": "1"}
    assert stored["dispatch"] == {"N": "2"}
    assert stored["status"] == {"S": "queued"}
    assert stored["last_error"]["M"]["code"] == {"S": "provider_rate_limited"}
    assert stored["prompt_tokens"] == {"N": "10"}


def test_a_release_without_dispatch_keeps_the_records(
    store: JobStore, dynamodb: Any, aws: StackResources
) -> None:
    store.claim(copy(4), lease_expires_at=NOW + 60)
    assert store.release(copy(4), code="provider_unavailable", message="x")
    stored = item(dynamodb, aws)
    assert (stored["dispatch"], stored["attempts"]) == ({"N": "4"}, {"N": "1"})
