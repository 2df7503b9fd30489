"""A small OpenAI-compatible chat-completions server for tests, benchmarks and the devstack.

The real litellm + instructor code talks to it over HTTP, so every test exercises the client
stack we ship. Asked for structured output (``response_format``, ``tools``, or instructor's
MD_JSON instructions) it extracts ``{"name", "age", "email"}`` from sentences such as
"Jason is 25 years old"; asked for plain text (the ``complete`` task) it answers
``"echo: <the first 200 characters of the prompt>"``, cut to ``max_tokens`` words (a token is a
word here) with ``finish_reason`` ``"length"``. It can inject faults for every call
(``FakeLLMConfig``: random rates, or ``fail_models`` to always fail one model name) or per
prompt with directives embedded in the user text:

- ``!400`` / ``!429`` / ``!500`` / ``!timeout`` / ``!invalid`` / ``!badjson``: fail every call
  for that text (``!400``: the provider rejects the request);
- ``!hallucinate``: answer with a person the text does not contain (name and email), so
  grounding validation must refuse it; ``!inventemail``: the right person with an email the
  text does not contain (``<name>@example.com``, as SmolLM2 does by analogy with the prompt);
  ``!inventage``: the right person with the prompt example's age (31), not the text's;
- the same with ``xN`` (``!429x2``): fail the first N calls for that text, then answer normally.

It can also behave like a provider with a quota or an outage: ``window_limit`` requests in any
``window_seconds`` (a sliding window, as providers count accepted requests), beyond which it
answers 429 with the ``Retry-After`` at which the oldest call leaves the window; and
``outage_status`` (503, 429, ...) answered to every call for ``outage_seconds`` after the
config was set. Every call's time, model and outcome are kept (``FakeLLMStats.log``), so tests
can count calls per minute and calls during an outage.

The output faults (``!invalid``, ``!badjson``, ``!hallucinate``, ``!inventemail``,
``!inventage``) only change
structured answers; a plain-text request still gets its echo. Calls are counted per prompt text,
and per model, so tests can prove that no job was processed twice and which model answered.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DIRECTIVE = re.compile(
    r"!(400|429|500|timeout|invalid|badjson|hallucinate|inventemail|inventage)(?:x(\d+))?"
)
_NAME_AGE = re.compile(r"\b([A-Z][a-z]+)\b[^.?!]*?\b(\d{1,3})\s*(?:years?|yrs?|y/o)\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# What instructor's MD_JSON mode appends to the prompt (it sends no response_format or tools).
_MD_JSON_MARKER = "```json"


@dataclass
class FakeLLMConfig:
    """Behaviour for every call; probabilities are independent draws per call."""

    latency_seconds: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_invalid: float = 0.0
    retry_after_seconds: int = 1
    timeout_sleep_seconds: float = 30.0
    seed: int | None = None
    # At most this many random 500s, timeouts and invalid answers per prompt (None = no cap);
    # further draws of those answer normally. 429s are not capped: they spend no attempt.
    max_random_failures_per_prompt: int | None = None
    # Model name as the request body carries it ("fake-primary" for "openai/fake-primary") ->
    # the HTTP status every call to that model gets, before any directive or random fault.
    fail_models: dict[str, int] = field(default_factory=dict)
    # A provider quota: at most this many accepted calls in any window_seconds (None = none);
    # calls beyond it get 429 + Retry-After and, as with providers, do not use the quota.
    window_limit: int | None = None
    window_seconds: float = 60.0
    # A provider outage: every call gets this status (503, 429 with retry_after_seconds, ...)
    # until outage_seconds after the config was set; nothing else is decided meanwhile.
    outage_status: int | None = None
    outage_seconds: float = 0.0


@dataclass(frozen=True)
class CallRecord:
    """One call as the provider saw it: when (epoch seconds), for which model, and the answer.

    ``cause`` says why a call failed: "outage", "window" (over the quota), "fault" (a failing
    model, a directive or a random fault); None for a success.
    """

    at: float
    model: str
    outcome: str
    cause: str | None = None


@dataclass
class FakeLLMStats:
    """What the server saw, for assertions: calls and outcomes per prompt text."""

    calls: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    call_times: dict[str, list[float]] = field(default_factory=dict)
    models: Counter[str] = field(default_factory=Counter)
    log: list[CallRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """What to answer one call: the outcome, the prompt text, and a 429's Retry-After.

    ``immediate`` answers without the configured latency: a provider refusing over quota or
    during an outage does not run the model.
    """

    outcome: str
    text: str
    retry_after_seconds: int
    immediate: bool = False


def busiest_window(times: list[float], seconds: float = 60.0) -> int:
    """The most calls in any ``seconds``-long window (a provider's "requests per minute")."""
    ordered = sorted(times)
    busiest = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def extract_user(text: str) -> dict[str, Any] | None:
    """The fake model's 'intelligence': a regex reading of name, age and email."""
    match = _NAME_AGE.search(text)
    if match is None:
        return None
    email = _EMAIL.search(text)
    return {
        "name": match.group(1),
        "age": int(match.group(2)),
        "email": email.group(0) if email else None,
    }


def invent_age(text: str) -> dict[str, Any]:
    """What SmolLM2 did for "Dr. Maria Gonzalez, aged 41": the age of the prompt's example."""
    user = extract_user(text) or {"name": "Jason", "email": None}
    return {**user, "age": 31 if user.get("age") != 31 else 32}


def invent_email(text: str) -> dict[str, Any]:
    """What SmolLM2 does: the right person, with an email that is not in the text."""
    user = extract_user(text) or {"name": "Jason", "age": 25}
    email = f"{str(user['name']).lower()}@example.com"
    if email in text.lower():
        email = "invented.address@example.com"
    return {**user, "email": email}


def hallucinate_user(text: str) -> dict[str, Any]:
    """A person the text does not mention at all."""
    name = "Maria" if "maria" not in text.lower() else "Tomas"
    return {"name": name, "age": 31, "email": f"{name.lower()}@example.com"}


def wants_structured_output(body: dict[str, Any]) -> bool:
    """Whether instructor asked for JSON: a response format, tools, or MD_JSON's instruction."""
    if body.get("response_format") or body.get("tools"):
        return True
    return any(_MD_JSON_MARKER in str(m.get("content", "")) for m in body.get("messages", []))


def echo_answer(text: str, max_tokens: int | None) -> tuple[str, str]:
    """The plain-text answer and its finish reason; counts words as tokens."""
    answer = f"echo: {text[:200]}"
    words = answer.split()
    if max_tokens is not None and max_tokens < len(words):
        return " ".join(words[:max_tokens]), "length"
    return answer, "stop"


def last_user_text(body: dict[str, Any]) -> str:
    """The newest user message; instructor appends retry feedback after the original."""
    texts = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        texts.append(str(content or ""))
    return texts[0] if texts else ""


class FakeLLM:
    """Thread-safe state plus the decision of what to answer to one request."""

    def __init__(
        self, config: FakeLLMConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or FakeLLMConfig()
        self.stats = FakeLLMStats()
        self._clock = clock  # epoch seconds; injectable so unit tests need not wait
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)
        self._window: deque[float] = deque()  # times of the calls the quota accepted
        self._random_failures: Counter[str] = Counter()  # per prompt, for the cap
        self.configured_at = clock()

    def reset(self, config: FakeLLMConfig | None = None) -> None:
        with self._lock:
            self.config = config or FakeLLMConfig()
            self.stats = FakeLLMStats()
            self._random = random.Random(self.config.seed)
            self._window = deque()
            self._random_failures = Counter()
            self.configured_at = self._clock()

    @property
    def outage_ends_at(self) -> float | None:
        """Epoch seconds at which the configured outage ends (None without one)."""
        if self.config.outage_status is None:
            return None
        return self.configured_at + self.config.outage_seconds

    def decide(self, body: dict[str, Any]) -> Decision:
        """Decide the answer to one call and record it."""
        text = last_user_text(body)
        model = str(body.get("model", ""))
        with self._lock:
            now = self._clock()
            self.stats.calls[text] += 1
            self.stats.models[model] += 1
            self.stats.requests.append(body)
            self.stats.call_times.setdefault(text, []).append(now)
            refusal = self._provider_refusal(text, now)
            cause: str | None
            if refusal is not None:
                decision, cause = refusal
            else:
                outcome = self._fault_outcome(text, model)
                cause = None if outcome == "ok" else "fault"
                decision = Decision(outcome, text, self.config.retry_after_seconds)
            self.stats.outcomes[decision.outcome] += 1
            self.stats.log.append(CallRecord(now, model, decision.outcome, cause))
            if decision.outcome == "ok":
                self.stats.successes[text] += 1
        return decision

    def _provider_refusal(self, text: str, now: float) -> tuple[Decision, str] | None:
        """An outage's status, or a 429 over the quota; else the call takes a window slot."""
        config = self.config
        if config.outage_status is not None and now < self.configured_at + config.outage_seconds:
            outage = Decision(str(config.outage_status), text, config.retry_after_seconds, True)
            return outage, "outage"
        if config.window_limit is None:
            return None
        while self._window and self._window[0] <= now - config.window_seconds:
            self._window.popleft()
        if len(self._window) >= config.window_limit:
            wait = self._window[0] + config.window_seconds - now
            return Decision("429", text, max(math.ceil(wait), 1), True), "window"
        self._window.append(now)
        return None

    def _fault_outcome(self, text: str, model: str) -> str:
        failing_status = self.config.fail_models.get(model)
        if failing_status:
            return str(failing_status)
        directive = self._directive_outcome(text, self.stats.calls[text])
        return directive or self._capped(text, self._random_outcome())

    def _capped(self, text: str, outcome: str) -> str:
        """``outcome``, or "ok" once the prompt had its share of random failures."""
        if outcome in ("ok", "429"):
            return outcome
        cap = self.config.max_random_failures_per_prompt
        if cap is not None and self._random_failures[text] >= cap:
            return "ok"
        self._random_failures[text] += 1
        return outcome

    def _directive_outcome(self, text: str, call_number: int) -> str | None:
        for kind, count in _DIRECTIVE.findall(text):
            if not count or call_number <= int(count):
                return str(kind)
        return None

    def _random_outcome(self) -> str:
        draw = self._random.random()
        for outcome, rate in (
            ("429", self.config.rate_429),
            ("500", self.config.rate_500),
            ("timeout", self.config.rate_timeout),
            ("invalid", self.config.rate_invalid),
        ):
            if draw < rate:
                return outcome
            draw -= rate
        return "ok"


def _text_completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A plain-text chat.completion, for requests that ask for no structure."""
    answer, finish_reason = echo_answer(
        text, body.get("max_completion_tokens") or body.get("max_tokens")
    )
    completion = _completion(body, answer, finish_reason)
    usage = completion["usage"]
    usage["completion_tokens"] = len(answer.split())
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return completion


def _completion(
    body: dict[str, Any], content: dict[str, Any] | str, finish_reason: str = "stop"
) -> dict[str, Any]:
    """An OpenAI chat.completion; a tool call when the client offered tools (instructor TOOLS)."""
    arguments = content if isinstance(content, str) else json.dumps(content)
    message: dict[str, Any] = {"role": "assistant", "content": arguments}
    tools = body.get("tools") or []
    if tools:
        name = tools[0].get("function", {}).get("name", "tool")
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_fake_1",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ],
        }
        finish_reason = "tool_calls"
    prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 1 for m in body.get("messages", []))
    completion_tokens = len(arguments) // 4 + 1
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


class _Handler(BaseHTTPRequestHandler):
    server: _FakeLLMHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines; tests read the stats instead."""

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        elif self.path == "/_fake/stats":
            llm = self.server.llm
            with llm._lock:
                payload = {
                    "calls": dict(llm.stats.calls),
                    "successes": dict(llm.stats.successes),
                    "outcomes": dict(llm.stats.outcomes),
                    "models": dict(llm.stats.models),
                    "log": [asdict(record) for record in llm.stats.log],
                    "configured_at": llm.configured_at,
                    "outage_ends_at": llm.outage_ends_at,
                }
            self._send(200, payload)
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request"}})
            return
        if self.path == "/_fake/config":
            self.server.llm.reset(FakeLLMConfig(**body))
            self._send(200, {"ok": True})
        elif self.path.rstrip("/").endswith("/chat/completions"):
            self._chat(body)
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _chat(self, body: dict[str, Any]) -> None:
        llm = self.server.llm
        decision = llm.decide(body)
        outcome, text = decision.outcome, decision.text
        if llm.config.latency_seconds and not decision.immediate:
            time.sleep(llm.config.latency_seconds)
        if outcome.isdigit():
            self._send_error(int(outcome), decision.retry_after_seconds)
        elif outcome == "timeout":
            time.sleep(llm.config.timeout_sleep_seconds)
            self._send(504, {"error": {"message": "too slow", "type": "timeout"}})
        elif not wants_structured_output(body):
            self._send(200, _text_completion(body, text))
        elif outcome == "invalid":
            self._send(200, _completion(body, {"name": "", "age": -1}))
        elif outcome == "badjson":
            self._send(200, _completion(body, "this is {not json"))
        elif outcome == "hallucinate":
            self._send(200, _completion(body, hallucinate_user(text)))
        elif outcome == "inventemail":
            self._send(200, _completion(body, invent_email(text)))
        elif outcome == "inventage":
            self._send(200, _completion(body, invent_age(text)))
        else:
            user = extract_user(text)
            self._send(200, _completion(body, user or {"name": "", "age": -1}))

    def _send_error(self, status: int, retry_after_seconds: int) -> None:
        """An OpenAI-style error; a 429 says when to retry, as providers do."""
        if status == 429:
            headers = {"Retry-After": str(retry_after_seconds)}
            self._send(429, _error("rate limited", "rate_limit_error"), headers)
        elif status >= 500:
            self._send(status, _error("upstream exploded", "server_error"))
        else:
            self._send(status, _error("bad request", "invalid_request_error"))

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); that is the point of a timeout fault


class _FakeLLMHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], llm: FakeLLM) -> None:
        super().__init__(address, _Handler)
        self.llm = llm


class FakeLLMServer:
    """Runs the fake on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, config: FakeLLMConfig | None = None, port: int = 0) -> None:
        self.llm = FakeLLM(config)
        self._httpd = _FakeLLMHTTPServer(("127.0.0.1", port), self.llm)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL to hand to litellm as ``api_base``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
