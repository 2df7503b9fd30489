"""`Client`: the jobs API over one `httpx.Client`, with retries and typed answers."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from gen_ai_jobs import _bulk, _polling
from gen_ai_jobs._retry import retrying
from gen_ai_jobs._transport import Transport
from gen_ai_jobs.errors import APIResponseValidationError
from gen_ai_jobs.models import BatchItem, BatchResult, Job, JobCreated, JobRequest, Priority

DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # the devstack
JobLike = JobRequest | Mapping[str, Any]
Model = TypeVar("Model", JobCreated, BatchResult, Job)


class Client:
    """The jobs API. Use it as a context manager, or call `close()`.

    `api_key` defaults to GEN_AI_API_KEY and `base_url` to GEN_AI_API_URL (else the devstack's
    URL). 429, 503, connection failures and an idempotent request still in progress are retried
    up to `max_retries` times, honouring `Retry-After`. Pass `http_client` to use your own
    `httpx.Client` (proxies, a test transport); it is not closed by `close()`.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url = base_url or os.environ.get("GEN_AI_API_URL") or DEFAULT_BASE_URL
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self._sleep = sleep
        self._transport = Transport(
            base_url=self.base_url,
            api_key=api_key if api_key is not None else os.environ.get("GEN_AI_API_KEY"),
            timeout=timeout,
            http_client=http_client,
            retrying=lambda: retrying(max_retries, sleep),
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def submit(
        self,
        *,
        task: str,
        input: dict[str, Any],
        model: str | None = None,
        callback_url: str | None = None,
        priority: Priority | None = None,
        idempotency_key: str | None = None,
    ) -> JobCreated:
        """Queue one job (`POST /jobs`) in the `priority` lane (None: the API's default,
        `normal`). Without `idempotency_key` a random one is sent, so the client's own retries
        never create a second job."""
        request = JobRequest(
            task=task, input=input, model=model, callback_url=callback_url, priority=priority
        )
        response = self._transport.post("/jobs", request.body(), _key(idempotency_key))
        return _parse(JobCreated, response)

    def submit_batch(
        self,
        jobs: Iterable[JobLike],
        *,
        priority: Priority | None = None,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Queue up to 100 jobs in one request (`POST /jobs/batch`); `priority` is the lane of
        the items that name none. Items the API refused have an `error` (a 207 answer); the
        request itself failing raises."""
        body: dict[str, Any] = {"jobs": [_bulk.job_body(job) for job in jobs]}
        if priority is not None:
            body["priority"] = priority
        response = self._transport.post("/jobs/batch", body, _key(idempotency_key))
        return _parse(BatchResult, response)

    def get(self, job_id: str) -> Job:
        """The job's status, and its result or error once finished (`GET /jobs/{id}`)."""
        return _parse(Job, self._transport.get(f"/jobs/{_path_id(job_id)}"))

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job; ConflictError `job_not_cancellable` once it is running."""
        return _parse(Job, self._transport.post(f"/jobs/{_path_id(job_id)}/cancel", None, None))

    def wait(self, job_id: str, *, timeout: float = 600.0, poll_interval: float = 1.0) -> Job:
        """Poll until the job is finished; WaitTimeout (with the last state) after `timeout` s.
        The pause between polls grows by half each time, up to 5 s."""
        return _polling.wait_one(
            self.get, self._sleep, job_id, timeout=timeout, first=poll_interval
        )

    def submit_many(
        self,
        jobs: Iterable[JobLike],
        *,
        chunk_size: int = 100,
        priority: Priority | None = None,
        namespace: str = "",
        on_progress: Callable[[list[BatchItem]], None] | None = None,
    ) -> list[BatchItem]:
        """Queue any number of jobs through `/jobs/batch`, `chunk_size` at a time; one item per
        job, in input order, `index` counting from 0 over the whole input. Jobs that name no
        priority are queued in `priority`'s lane (None: `normal`).

        Each chunk's Idempotency-Key is derived from its content and position (and
        `namespace`), so running the same input again creates no duplicate job; use another
        `namespace` to submit the same input as new jobs. `on_progress` gets each chunk's items.
        """
        items: list[BatchItem] = []
        for start, bodies in _bulk.chunked(jobs, chunk_size, priority=priority):
            key = _bulk.chunk_key(bodies, start=start, namespace=namespace)
            answered = _bulk.submit_chunk(
                self._submit_bodies, bodies, key, rounds=self.max_retries, sleep=self._sleep
            )
            chunk = [item.model_copy(update={"index": start + item.index}) for item in answered]
            items.extend(chunk)
            if on_progress is not None:
                on_progress(chunk)
        return items

    def wait_many(
        self,
        job_ids: Iterable[str],
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        on_finished: Callable[[Job], None] | None = None,
    ) -> dict[str, Job]:
        """Poll many jobs until all are finished or `timeout` seconds have passed; returns each
        job's last state (unfinished ones included). `on_finished` is called once per job.

        Each round polls the oldest unfinished jobs `concurrency` at a time and stops at the
        first group where none has finished (jobs finish roughly in submission order): about
        one request per job, not every job every round. The last round polls every job."""
        return _polling.wait_many(
            self.get,
            self._sleep,
            job_ids,
            timeout=timeout,
            first=poll_interval,
            concurrency=concurrency,
            on_finished=on_finished,
        )

    def _submit_bodies(self, bodies: list[dict[str, Any]], key: str) -> BatchResult:
        return self.submit_batch(bodies, idempotency_key=key)


def _parse(model: type[Model], response: httpx.Response) -> Model:
    """The answer as `model`; never echoes the body (it may hold the job's data)."""
    try:
        return model.model_validate(response.json())
    except ValueError as error:  # not JSON, or not the expected shape
        request = response.request
        raise APIResponseValidationError(
            f"unexpected {response.status_code} answer to {request.method} {request.url.path}: "
            f"not a {model.__name__} ({type(error).__name__})"
        ) from error


def _key(idempotency_key: str | None) -> str:
    return idempotency_key or f"gen-ai-jobs-{uuid.uuid4()}"


def _path_id(job_id: str) -> str:
    if not job_id:
        raise ValueError("job_id must not be empty")
    return quote(job_id, safe="")
