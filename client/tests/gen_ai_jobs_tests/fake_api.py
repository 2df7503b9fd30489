"""An in-memory jobs API behind `httpx.MockTransport`, for the client's and the CLI's tests.

It keeps the API's contract where the client depends on it: the error body, `Idempotency-Key`
replays (`Idempotent-Replayed: true`) and reuse conflicts, 202/207 batch answers, cancel rules.
A job finishes after `polls_until_done` reads; its input text decides the outcome: `!fail` fails
it, `!reject` is refused at submission (422 / a batch item error), `!unavailable` is refused as
`queue_unavailable` the first time only. A job's `priority` is its own, else the batch's, else
`normal`; any other value is refused like the API does.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from gen_ai_jobs import Client

BASE_URL = "http://api.test"
API_KEY = "sk-live-SECRET-0123456789"
NOW = "2026-11-23T12:00:00.000000Z"
_JOB_PATH = re.compile(r"^/jobs/([^/]+)(/cancel)?$")
PRIORITIES = ("high", "normal", "low")


@dataclass
class Fault:
    """An answer (or exception) given instead of the real one to the next matching request."""

    status: int = 503
    code: str = "queue_unavailable"
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    exception: BaseException | None = None
    body: bytes | None = None


class FakeApi:
    def __init__(self, *, api_key: str | None = None, polls_until_done: int = 1) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.jobs: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.polls: Counter[str] = Counter()
        self.requests: list[httpx.Request] = []
        self.faults: list[Fault] = []
        self.sleeps: list[float] = []
        self.refused_once: set[str] = set()
        self._idempotency: dict[str, tuple[bytes, int, Any]] = {}

    # --- test helpers -----------------------------------------------------------------------

    def client(self, **options: Any) -> Client:
        """A Client on this fake that records its sleeps instead of sleeping."""
        options.setdefault("base_url", BASE_URL)
        options.setdefault("sleep", self.sleeps.append)
        http = httpx.Client(transport=httpx.MockTransport(self.handle))
        return Client(http_client=http, **options)

    def fail_next(self, times: int = 1, **fault: Any) -> None:
        self.faults.extend(Fault(**fault) for _ in range(times))

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.path == path]

    # --- the API ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.exception is not None:
                raise fault.exception
            if fault.body is not None:
                return httpx.Response(fault.status, content=fault.body, headers=fault.headers)
            return _error(fault.status, fault.code, "injected", headers=fault.headers)
        if self.api_key and request.headers.get("x-api-key") != self.api_key:
            return _error(401, "unauthorized", "Missing or invalid X-API-Key header.")
        if request.method == "POST" and request.url.path in ("/jobs", "/jobs/batch"):
            return self._idempotent(request)
        match = _JOB_PATH.match(request.url.raw_path.decode().partition("?")[0])
        if match is None:
            return _error(404, "not_found", "No endpoint matches this path.")
        job_id, cancel = match.groups()
        if job_id not in self.jobs:
            return _error(404, "job_not_found", "No such job, or it has expired.")
        if cancel and request.method == "POST":
            return self._cancel(job_id)
        return httpx.Response(200, json=self._poll(job_id))

    def _take_fault(self, request: httpx.Request) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if fault.path in (None, request.url.path):
                return self.faults.pop(i)
        return None

    def _idempotent(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key is not None and key in self._idempotency:
            body, status, payload = self._idempotency[key]
            if body != request.content:
                return _error(409, "idempotency_key_reused", "Another body used this key.")
            return httpx.Response(status, json=payload, headers={"Idempotent-Replayed": "true"})
        if request.url.path == "/jobs":
            status, payload = self._create(json.loads(request.content))
        else:
            batch = json.loads(request.content)
            if batch.get("priority", "normal") not in PRIORITIES:
                return httpx.Response(422, json=_error_body("validation_error", "priority"))
            status, payload = self._create_batch(batch["jobs"], batch.get("priority", "normal"))
        if key is not None and status < 400:
            self._idempotency[key] = (request.content, status, payload)
        return httpx.Response(status, json=payload)

    def _create(
        self, body: dict[str, Any], default_priority: str = "normal"
    ) -> tuple[int, dict[str, Any]]:
        refusal = self._refusal(body)
        if refusal is not None:
            return 422, _error_body(*refusal)
        job_id = str(uuid.uuid4())
        self.inputs[job_id] = body
        self.jobs[job_id] = _job(job_id, body["task"], "queued")
        self.jobs[job_id]["priority"] = body.get("priority", default_priority)
        return 202, {
            "job_id": job_id,
            "status": "queued",
            "status_url": f"{BASE_URL}/jobs/{job_id}",
        }

    def _create_batch(
        self, bodies: list[dict[str, Any]], default_priority: str
    ) -> tuple[int, dict[str, Any]]:
        results = []
        for index, body in enumerate(bodies):
            status, payload = self._create(body, default_priority)
            if status == 202:
                results.append({"index": index, **payload})
            else:
                error = {"code": payload["code"], "message": payload["error"]}
                results.append({"index": index, "error": error})
        all_queued = all("job_id" in item for item in results)
        return (202 if all_queued else 207), {"results": results}

    def _refusal(self, body: dict[str, Any]) -> tuple[str, str] | None:
        if body.get("priority", "normal") not in PRIORITIES:
            return "validation_error", "The request is invalid; see details."
        text = json.dumps(body["input"])
        if "!reject" in text:
            return "validation_error", "The request is invalid; see details."
        if "!unavailable" in text and text not in self.refused_once:
            self.refused_once.add(text)
            return "queue_unavailable", "The job queue is unavailable."
        return None

    def _poll(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        self.polls[job_id] += 1
        if job["status"] in ("queued", "running"):
            if self.polls[job_id] >= self.polls_until_done:
                self.finish(job_id)
            else:
                job["status"] = "running"
        return job

    def finish(self, job_id: str) -> None:
        job, task_input = self.jobs[job_id], self.inputs[job_id]["input"]
        if "!fail" in json.dumps(task_input):
            job.update(status="failed", error={"code": "extraction_failed", "message": "no"})
        else:
            job.update(status="succeeded", result={"echo": task_input}, cost_usd=0.001)
            job["usage"] = {"prompt_tokens": 10, "completion_tokens": 5}

    def _cancel(self, job_id: str) -> httpx.Response:
        job = self.jobs[job_id]
        if job["status"] != "queued":
            return _error(
                409,
                "job_not_cancellable",
                f"Only a queued job can be cancelled; this one is {job['status']}.",
                details={"status": job["status"]},
            )
        job["status"] = "cancelled"
        return httpx.Response(200, json=job)


def _job(job_id: str, task: str, status: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": status,
        "task": task,
        "created_at": NOW,
        "updated_at": NOW,
        "attempts": 0,
        "priority": "normal",
        "last_error": None,
        "result": None,
        "error": None,
        "model": None,
        "usage": None,
        "cost_usd": None,
        "callback": None,
    }


def _error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": message, "code": code, "request_id": "req-123", "details": details}


def _error(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.Response(status, json=_error_body(code, message, details), headers=headers)
