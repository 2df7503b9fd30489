"""Langfuse tracing: spans really leave the process before the handler returns; off without keys."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langfuse import Langfuse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from worker.config import Settings
from worker.services.tracing import Tracing

OTLP_PATH = "/api/public/otel/v1/traces"


class Collector(ThreadingHTTPServer):
    """A stand-in Langfuse on 127.0.0.1 that keeps every OTLP export it receives."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.exports: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        """Every exported span as {name, attributes}, attributes decoded to Python values."""
        found = []
        for export in self.exports:
            for resource_spans in export.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attributes = {a.key: _value(a.value) for a in span.attributes}
                        duration_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
                        found.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "duration_ms": duration_ms,
                                "attributes": attributes,
                            }
                        )
        return found


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what was collected."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.paths.append(self.path)
        if self.path == OTLP_PATH:
            self.server.exports.append(ExportTraceServiceRequest.FromString(body))
        self._answer(b"{}")

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self._answer(b"{}")

    def _answer(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def langfuse_env(monkeypatch: pytest.MonkeyPatch, collector: Collector) -> Collector:
    # A fresh public key per test: the SDK keeps one client per key for the process.
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", f"pk-lf-test-{uuid.uuid4()}")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", collector.url)
    return collector


def _by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {span["name"]: span for span in spans}


def test_job_trace_and_generation_are_exported_before_the_handler_returns(
    harness: Any, langfuse_env: Collector
) -> None:
    # GIVEN tracing on and an LLM that takes 0.2 s
    harness.llm.config.latency_seconds = 0.2
    job = harness.submit("Jason is 25 years old, jason@example.com")
    # WHEN the handler returns (nothing is waited for afterwards)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    spans = _by_name(langfuse_env.spans())
    # THEN one trace for the job, derived from its id, holds the job span and the generation
    root, generation = spans["job extract_user"], spans["llm"]
    assert root["trace_id"] == generation["trace_id"] == Langfuse.create_trace_id(seed=job.job_id)
    for span in (root, generation):
        assert json.loads(span["attributes"]["langfuse.trace.metadata.job_id"]) == job.job_id
        assert json.loads(span["attributes"]["langfuse.trace.metadata.request_id"]) == "req-test-1"
        assert span["attributes"]["langfuse.trace.name"] == "extract_user"
    attributes = generation["attributes"]
    assert attributes["langfuse.observation.type"] == "generation"
    assert attributes["langfuse.observation.model.name"] == "openai/fake-model"
    usage = json.loads(attributes["langfuse.observation.usage_details"])
    assert usage["input"] > 0
    assert usage["output"] > 0
    assert usage["total"] == usage["input"] + usage["output"]
    assert generation["duration_ms"] >= 200
    assert json.loads(root["attributes"]["langfuse.observation.output"]) == {"status": "succeeded"}
    # AND no personal data left the process
    exported = json.dumps(list(spans.values()))
    assert "Jason" not in exported
    assert "jason@example.com" not in exported


def test_failed_generation_is_marked_as_an_error(harness: Any, langfuse_env: Collector) -> None:
    job = harness.submit("Jason is 25 years old !400")
    harness.invoke(job.record)
    spans = _by_name(langfuse_env.spans())
    for name in ("llm", "job extract_user"):
        attributes = spans[name]["attributes"]
        assert attributes["langfuse.observation.level"] == "ERROR"
        assert attributes["langfuse.observation.status_message"] == "provider_rejected"


def test_every_attempt_of_a_job_joins_the_same_trace(harness: Any, langfuse_env: Collector) -> None:
    text = "Jason is 25 years old !500x1"
    job = harness.submit(text)
    assert harness.follow(job.record) == 2  # the job, then the copy it was re-sent as
    roots = [span for span in langfuse_env.spans() if span["name"] == "job extract_user"]
    assert len(roots) == 2
    assert {span["trace_id"] for span in roots} == {Langfuse.create_trace_id(seed=job.job_id)}


def test_tracing_is_off_without_keys(harness: Any, collector: Collector) -> None:
    # Only the host is configured: no keys, no client, no error, nothing sent
    harness.cold_start()
    settings = Settings(queue_url="q", jobs_table_name="t", langfuse_host=collector.url)
    assert Tracing.from_settings(settings).enabled is False
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert collector.paths == []
