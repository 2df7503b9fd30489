"""Run in a fresh interpreter by `test_llm_import.py`: a cold start of the Lambda handler
against in-process moto, serving real API Gateway v2 events, reporting what was imported.

    python lambda_probe.py blocked|lazy|prewarm

`blocked`: litellm and instructor cannot be imported (a meta path finder refuses them and
records every attempt). The environment names the LLM (the fake one in the tests). Prints one
JSON line: the status of each request, and which LLM packages were loaded or asked for after
import, after the queued and read routes, and after `POST /extract-user`.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.abc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

LLM_PACKAGES = ("litellm", "instructor")
TEMPLATE = json.loads((Path(__file__).parent / "events" / "apigw_http_api_v2.json").read_text())


class LlmBlocker(importlib.abc.MetaPathFinder):
    """Refuses litellm and instructor (and their submodules), recording each attempt."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.split(".")[0] in LLM_PACKAGES:
            self.attempts.append(fullname)
            raise ImportError(f"{fullname} is blocked by the probe")


class Context:
    """The attributes of Lambda's context object that Powertools and the app read."""

    function_name = "gen-ai-on-aws-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:gen-ai-on-aws-api"
    aws_request_id = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name = "/aws/lambda/gen-ai-on-aws-api"
    log_stream_name = "2026/12/02/[$LATEST]probe"
    function_memory_size = 512

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# The deployed mode: API_KEYS holds only the key's SHA-256 (hashlib, like `hashed_entry`).
PROBE_KEY = "probe-key-0123456789"
PROBE_API_KEYS = json.dumps({"probe": ["sha256:" + hashlib.sha256(PROBE_KEY.encode()).hexdigest()]})


def event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    built: dict[str, Any] = copy.deepcopy(TEMPLATE)
    built["rawPath"] = built["requestContext"]["http"]["path"] = path
    built["requestContext"]["http"]["method"] = method
    built["headers"] = {**built["headers"], "x-api-key": PROBE_KEY}
    if body is not None:
        built["headers"] = {**built["headers"], "content-type": "application/json"}
        built["body"] = json.dumps(body)
        built["isBase64Encoded"] = False
    return built


def loaded() -> list[str]:
    return sorted(name for name in LLM_PACKAGES if sys.modules.get(name) is not None)


def main(mode: str) -> dict[str, Any]:
    blocker = LlmBlocker()
    if mode == "blocked":
        sys.meta_path.insert(0, blocker)
    if mode == "prewarm":
        os.environ["LLM_PREWARM"] = "true"

    import boto3
    from moto import mock_aws

    from devstack.resources import create_stack_resources

    report: dict[str, Any] = {}
    with mock_aws():
        stack = create_stack_resources(
            sqs=boto3.client("sqs", region_name="us-east-1"),
            dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
        )
        os.environ.update(
            QUEUE_URL=stack.queue_url, JOBS_TABLE_NAME=stack.table_name, API_KEYS=PROBE_API_KEYS
        )
        from gen_ai_on_aws.main import handler

        report["loaded_after_import"] = loaded()

        context: Any = Context()  # has what the handler reads of Lambda's context

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            response: dict[str, Any] = handler(event(method, path, body), context)
            return response

        job = {"task": "complete", "input": {"prompt": "Hello"}}
        queued = call("POST", "/jobs", job)
        job_id = json.loads(queued["body"])["job_id"]
        cancel_me = json.loads(call("POST", "/jobs", job)["body"])["job_id"]
        statuses = {
            "POST /jobs": queued["statusCode"],
            "POST /extract-user-async": call(
                "POST", "/extract-user-async", {"text": "Jason is 25 years old"}
            )["statusCode"],
            "POST /jobs/batch": call("POST", "/jobs/batch", {"jobs": [job, job]})["statusCode"],
            "GET /jobs/{id}": call("GET", f"/jobs/{job_id}")["statusCode"],
            "POST /jobs/{id}/cancel": call("POST", f"/jobs/{cancel_me}/cancel")["statusCode"],
            "GET /tasks": call("GET", "/tasks")["statusCode"],
            "GET /health": call("GET", "/health")["statusCode"],
            "GET /docs": call("GET", "/docs")["statusCode"],
            "GET /openapi.json": call("GET", "/openapi.json")["statusCode"],
        }
        report["loaded_after_other_routes"] = loaded()
        report["attempts_before_extract_user"] = list(blocker.attempts)
        extracted = call("POST", "/extract-user", {"text": "Jason is 25 years old"})
        statuses["POST /extract-user"] = extracted["statusCode"]
        report["extracted"] = json.loads(extracted["body"])
        report["loaded_after_extract_user"] = loaded()
        report["attempted_by_extract_user"] = sorted(
            {name.split(".")[0] for name in blocker.attempts}
        )
    report["statuses"] = statuses
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
