"""Jobs table, secret, stack files, and how packages reach Lambda (inline or via S3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from devstack.resources import STATE_TABLE_KEY, TTL_ATTRIBUTE

from .harness import PROVISIONING_DIR, StackRunner, stack_file_config, write_fake_packages

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"


def test_jobs_table_is_on_demand_keyed_by_job_id_with_ttl_on_expires_at(
    stack_runner: StackRunner,
) -> None:
    table = stack_runner().one(TABLE, "jobs")
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == "job_id"
    assert table["attributes"] == [{"name": "job_id", "type": "S"}]
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}


@pytest.mark.parametrize(("stack", "enabled"), [("dev", False), ("prod", True)])
def test_point_in_time_recovery_is_on_in_prod_only(
    stack_runner: StackRunner, stack: str, enabled: bool
) -> None:
    table = stack_runner(stack).one(TABLE, "jobs")
    assert table["pointInTimeRecovery"] == {"enabled": enabled}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_llm_state_table_is_on_demand_keyed_by_pk_with_ttl_and_never_backed_up(
    stack_runner: StackRunner, stack: str
) -> None:
    # Transient state (limiter buckets, pauses, circuits): PITR stays off even in prod
    table = stack_runner(stack).one(TABLE, "llm-state")
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == "pk"
    assert "rangeKey" not in table
    assert table["attributes"] == [{"name": "pk", "type": "S"}]
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table["pointInTimeRecovery"] == {"enabled": False}
    assert table["tags"]["component"] == "data"
    # the devstack creates the same shape, so local runs exercise the deployed key schema
    assert (STATE_TABLE_KEY, TTL_ATTRIBUTE) == ("pk", "expires_at")


def test_stack_files_differ_only_in_config() -> None:
    documents = [
        yaml.safe_load((PROVISIONING_DIR / f"Pulumi.{s}.yaml").read_text()) for s in ("dev", "prod")
    ]
    assert all(set(document) == {"config"} for document in documents)
    assert stack_file_config("dev").keys() == stack_file_config("prod").keys()


def test_the_secret_is_created_without_a_value(stack_runner: StackRunner) -> None:
    run = stack_runner()
    secret = run.one("aws:secretsmanager/secret:Secret", "app-secret")
    assert "LLM_API_KEY" in secret["description"]
    assert run.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []


def test_small_packages_upload_inline_with_their_content_hash(
    stack_runner: StackRunner, fake_manifest: Path
) -> None:
    run = stack_runner()
    assert run.of_type("aws:s3/bucket:Bucket") == []
    manifest = json.loads(fake_manifest.read_text())["functions"]
    worker = run.one(FUNCTION, "worker")
    assert "s3Bucket" not in worker
    digest = bytes.fromhex(manifest["worker"]["sha256"])
    assert worker["sourceCodeHash"] == base64.b64encode(digest).decode()


def test_large_packages_go_through_an_encrypted_private_bucket(
    stack_runner: StackRunner, tmp_path: Path
) -> None:
    manifest = write_fake_packages(tmp_path, {"worker": 60_000_000})
    run = stack_runner(manifest=manifest)
    bucket = run.one("aws:s3/bucket:Bucket", "lambda-artifacts")
    assert bucket["forceDestroy"] is True
    encryption = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "lambda-artifacts-encryption",
    )
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }
    block = run.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "lambda-artifacts-public-access-block",
    )
    assert all(
        block[key] is True
        for key in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    package = run.one("aws:s3/bucketObjectv2:BucketObjectv2", "lambda-artifacts-worker-package")
    assert package["key"] == "lambda/worker-fake.zip"
    worker = run.one(FUNCTION, "worker")
    assert (worker["s3Bucket"], worker["s3Key"]) == (
        "lambda-artifacts-id",
        "lambda/worker-fake.zip",
    )
    assert "s3Bucket" not in run.one(FUNCTION, "api")  # the small one stays inline


def test_a_package_built_for_another_architecture_is_refused(stack_runner: StackRunner) -> None:
    with pytest.raises(
        ValueError, match=r"arm64/python3\.12 but the stack wants x86_64/python3\.12"
    ):
        stack_runner(architecture="x86_64")


def test_a_missing_manifest_says_how_to_build(stack_runner: StackRunner, tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"uv run build-lambdas --arch arm64 --python 3\.12"
    ):
        stack_runner(manifest=tmp_path / "absent.json")
