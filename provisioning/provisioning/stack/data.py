"""State the functions share: the jobs table, the LLM state table and the secret holding
sensitive settings."""

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


def llm_state_table() -> aws.dynamodb.Table:
    """The worker fleet's shared LLM state: rate-limit buckets, provider pauses and circuit
    breakers, one item per key `pk` (e.g. `rate#<model>#rpm`, `circuit#<model>`).

    Point-in-time recovery is off whatever the stack: every item is transient (seconds to
    minutes of state, expired by TTL on `expires_at`), and a lost item only resets a limit or
    a circuit, which the next calls rebuild.
    """
    return aws.dynamodb.Table(
        "llm-state",
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
        ttl=aws.dynamodb.TableTtlArgs(attribute_name="expires_at", enabled=True),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=False),
        tags=tags_for("data"),
    )


# The keys of the secret's JSON value (README "Secrets"); each is a setting of the functions
# that read the secret (provisioning tests: test_environment_contract.py).
SECRET_KEYS = (
    "LLM_API_KEY",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "API_KEYS",
    "WEBHOOK_SIGNING_SECRET",
)


def app_secret() -> aws.secretsmanager.Secret:
    """An empty secret: its JSON value is set outside Pulumi (see README), never in code/state."""
    return aws.secretsmanager.Secret(
        "app-secret",
        name_prefix=f"{pulumi.get_project()}-{pulumi.get_stack()}-app-",
        description=f"JSON object of sensitive settings: {', '.join(SECRET_KEYS)}",
        # A deleted secret stays recoverable for a week; name_prefix avoids name clashes.
        recovery_window_in_days=7,
        tags=tags_for("data"),
    )
