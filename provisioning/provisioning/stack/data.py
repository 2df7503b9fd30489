"""State the functions share: the jobs table and the secret holding sensitive settings."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import StackConfig
from provisioning.stack.tags import tags_for


def jobs_table(config: StackConfig) -> aws.dynamodb.Table:
    """On-demand (no capacity to plan), TTL on expires_at so finished jobs clean themselves up.

    Encryption at rest is always on in DynamoDB (AWS-owned key, no KMS charges or grants).
    """
    return aws.dynamodb.Table(
        "jobs",
        billing_mode="PAY_PER_REQUEST",
        hash_key="job_id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="job_id", type="S")],
        ttl=aws.dynamodb.TableTtlArgs(attribute_name="expires_at", enabled=True),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
            enabled=config.point_in_time_recovery
        ),
        tags=tags_for("data"),
    )


def app_secret() -> aws.secretsmanager.Secret:
    """An empty secret: its JSON value is set outside Pulumi (see README), never in code/state."""
    return aws.secretsmanager.Secret(
        "app-secret",
        name_prefix=f"{pulumi.get_project()}-{pulumi.get_stack()}-app-",
        description=(
            "JSON object of sensitive settings: LLM_API_KEY, LANGFUSE_PUBLIC_KEY, "
            "LANGFUSE_SECRET_KEY, API_KEYS, WEBHOOK_SIGNING_SECRET"
        ),
        # A deleted secret stays recoverable for a week; name_prefix avoids name clashes.
        recovery_window_in_days=7,
        tags=tags_for("data"),
    )
