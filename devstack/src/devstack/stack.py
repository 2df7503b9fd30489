"""Start and stop the whole pipeline on 127.0.0.1: emulated AWS, LLM, API, the worker's poller,
the webhook delivery's poller and the DLQ settler's schedule."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import uvicorn
from moto.server import ThreadedMotoServer

from devstack import faults, moto_atomic, moto_clock
from devstack.config import REGION, STACK_PREFIX, DevstackConfig
from devstack.embedded_llm import MODEL_ALIAS, PARALLEL_SLOTS, EmbeddedLLM
from devstack.poller import PollerSettings, SqsPoller
from devstack.resources import (
    DEFAULT_WEBHOOK_MAX_ATTEMPTS,
    StackResources,
    create_stack_resources,
)
from devstack.settler_loop import SettlerLoop

Progress = Callable[[str], None]
SECRET_NAME = f"{STACK_PREFIX}-app-secrets"


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Devstack:
    """Owns every component it starts and stops them in reverse order."""

    def __init__(self, config: DevstackConfig, progress: Progress = print) -> None:
        self.config = config
        self._progress = progress
        self._moto: ThreadedMotoServer | None = None
        self._llm: EmbeddedLLM | None = None
        self._api: uvicorn.Server | None = None
        self._api_thread: threading.Thread | None = None
        # One poller per job lane, as each lane's queue has its own event source mapping.
        self.pollers: dict[str, SqsPoller] = {}
        self.callbacks_poller: SqsPoller | None = None
        self.settler: SettlerLoop | None = None
        self.resources: StackResources | None = None
        # Kept from the environment when set (so receivers keep one secret across restarts
        # and --attach processes), else generated per start; printed at start-up.
        self.webhook_signing_secret = os.environ.get("WEBHOOK_SIGNING_SECRET") or (
            new_webhook_secret()
        )

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    def client(self, service: str) -> Any:
        """A boto3 client for the emulated AWS (what the Lambdas get via AWS_ENDPOINT_URL)."""
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=REGION, endpoint_url=self.aws_endpoint
        )

    def start(self) -> Devstack:
        self._step("emulated AWS (moto)", self._start_aws)
        self._step("LLM", self._start_llm)
        self._configure_environment()
        if self.config.run_api:
            self._step(f"API on {self.api_url}", self._start_api)
        if self.config.run_worker:
            self._step("worker pollers (one Lambda SQS event source per lane)", self._start_pollers)
            self._step("webhook delivery poller", self._start_callbacks_poller)
            self._start_settler()
        return self

    def stop(self) -> None:
        pollers = [p for p in (*self.pollers.values(), self.callbacks_poller) if p is not None]
        if self.settler is not None:
            self.settler.request_stop()
        for poller in pollers:  # all at once: each may wait for a long poll or a batch
            poller.request_stop()
        if pollers:
            bound = self.config.function_timeout_seconds + 5
            self._progress(
                f"  waiting for the batches in flight to finish (at most {bound:.0f} s: the"
                " function timeout; their LLM calls end or time out by then)"
            )
        for poller in pollers:
            poller.stop()
        if self.settler is not None:
            self.settler.stop()
        if pollers:
            from worker.services.loop import shared_loop

            self._progress("  closing the worker's event loop (litellm's logging worker first)")
            shared_loop.close()
        if self._api is not None and self._api_thread is not None:
            self._api.should_exit = True
            self._api_thread.join(timeout=10)
        if self._llm is not None:
            self._llm.stop()
        if self._moto is not None:
            self._moto.stop()

    def _step(self, name: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        self._progress(f"  starting {name} ...")
        action()
        self._progress(f"  ready: {name} ({time.monotonic() - started:.1f} s)")

    def _start_aws(self) -> None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "devstack")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "devstack")
        if not self.config.attach:
            moto_atomic.install()
            moto_clock.install()
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call
            self._moto = ThreadedMotoServer(
                ip_address="127.0.0.1", port=self.config.aws_port, verbose=False
            )
            self._moto.start()
        self.resources = create_stack_resources(
            sqs=self.client("sqs"),
            dynamodb=self.client("dynamodb"),
            prefix=STACK_PREFIX,
            visibility_timeout_seconds=self.config.visibility_timeout_seconds,
            max_receive_count=self.config.max_receive_count,
            webhook_max_attempts=int(
                os.environ.get("WEBHOOK_MAX_ATTEMPTS") or DEFAULT_WEBHOOK_MAX_ATTEMPTS
            ),
        )
        if self.config.api_keys:
            self._put_secret({"API_KEYS": self.config.api_keys})

    def _put_secret(self, values: dict[str, str]) -> None:
        secrets = self.client("secretsmanager")
        try:
            secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(values))
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(values))

    def _start_llm(self) -> None:
        if self._provider_configured() or self.config.llm_api_base or self.config.attach:
            return
        self._llm = EmbeddedLLM(port=self.config.llm_port).start()

    def _provider_configured(self) -> bool:
        """A real provider is used when the user set LLM_MODEL and a key (or a base URL)."""
        return bool(os.environ.get("LLM_MODEL")) and bool(
            os.environ.get("LLM_API_KEY") or os.environ.get("LLM_API_BASE")
        )

    def _configure_environment(self) -> None:
        """The Lambdas' settings, pointed at the local components (same names as deployed).

        Whatever else this environment sets is kept, e.g. LLM_FALLBACK_MODELS and
        LLM_ALLOWED_MODELS; without a provider of its own, every model name goes to the local
        server's LLM_API_BASE (the embedded model and the fake answer any name).
        """
        assert self.resources is not None
        env = {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "QUEUE_URL": self.resources.queue_url,
            "QUEUE_URL_HIGH": self.resources.queue_url_high,
            "QUEUE_URL_LOW": self.resources.queue_url_low,
            "DLQ_URL": self.resources.dlq_url,
            "JOBS_TABLE_NAME": self.resources.table_name,
            # Fleet-wide rate limits and circuit breakers (LLM_RPM_LIMIT, LLM_RATE_LIMITS,
            # LLM_CIRCUIT_*: whatever this environment sets) share their state here.
            "LLM_STATE_TABLE_NAME": self.resources.state_table_name,
            "QUEUE_MAX_RECEIVE_COUNT": str(self.config.max_receive_count),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "POWERTOOLS_METRICS_NAMESPACE": "GenAiOnAwsDev",
            # Webhooks: local receivers live on 127.0.0.1, which a stack never allows.
            "CALLBACKS_QUEUE_URL": self.resources.callbacks_queue_url,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_SIGNING_SECRET": self.webhook_signing_secret,
        }
        env.update(self._auth_environment())
        if not self._provider_configured():
            base = self.config.llm_api_base or f"http://127.0.0.1:{self.config.llm_port}/v1"
            env.update(
                LLM_MODEL=f"openai/{MODEL_ALIAS}",
                LLM_API_BASE=base,
                LLM_API_KEY="not-needed-locally",
                LLM_MODE=os.environ.get("LLM_MODE", "JSON_SCHEMA"),
            )
            if not self.config.llm_api_base:
                env.update(self._embedded_model_limits())
        os.environ.update(env)

    def _auth_environment(self) -> dict[str, str]:
        """With --api-keys the API reads them from the emulated secret. Without, it would fail
        closed (503 auth_not_configured) as a deployed stack does, so the devstack opens it with
        ALLOW_ANONYMOUS=true, unless this environment already chose: its own ALLOW_ANONYMOUS
        (kept, whatever it says) or API_KEYS (the API then requires those)."""
        if self.config.api_keys:
            return {"APP_SECRET_ID": SECRET_NAME}
        if os.environ.get("ALLOW_ANONYMOUS") or os.environ.get("API_KEYS"):
            return {}
        return {"ALLOW_ANONYMOUS": "true"}

    @staticmethod
    def _embedded_model_limits() -> dict[str, str]:
        """Size what the worker sends to what the embedded server serves: at most its parallel
        slots in flight, fleet-wide (a burst waits for a slot instead of queueing inside the
        server until it times out), and a record waits in-process for a slot for most of an
        invocation before it is deferred. Limits the user set win."""
        limits: dict[str, str] = {}
        if not (os.environ.get("LLM_CONCURRENCY_LIMIT") or os.environ.get("LLM_RATE_LIMITS")):
            limits["LLM_CONCURRENCY_LIMIT"] = str(PARALLEL_SLOTS)
        if not os.environ.get("LLM_LIMIT_MAX_WAIT_SECONDS"):
            limits["LLM_LIMIT_MAX_WAIT_SECONDS"] = "5"
        return limits

    def _start_api(self) -> None:
        from gen_ai_on_aws.main import app  # after the environment points at the devstack

        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.config.api_port, log_level="warning", lifespan="on"
        )
        self._api = uvicorn.Server(config)
        self._api_thread = threading.Thread(target=self._api.run, name="api", daemon=True)
        self._api_thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=1.0).is_success:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"the API did not answer on {self.api_url}/health within 20 s")

    def lanes(self) -> dict[str, tuple[str, str]]:
        """Each lane's queue URL and ARN, fastest lane first."""
        resources = self.resources
        assert resources is not None
        return {
            "high": (resources.queue_url_high, resources.queue_arn_high),
            "normal": (resources.queue_url, resources.queue_arn),
            "low": (resources.queue_url_low, resources.queue_arn_low),
        }

    def _start_pollers(self) -> None:
        """One worker function, one event source mapping per lane with its own concurrency, so
        a low-priority backlog cannot hold the pollers the high lane needs."""
        from worker.main import handler  # after the environment points at the devstack

        # Before the worker's clients exist (its first invocation builds them).
        faults.lose_responses(self.config.lose_response_rate)
        for lane, (queue_url, queue_arn) in self.lanes().items():
            settings = self._poller_settings(
                queue_url, queue_arn, self.config.concurrency_for(lane), name=f"jobs-{lane}"
            )
            poller = SqsPoller(sqs=self.client("sqs"), settings=settings, handler=handler)
            self.pollers[lane] = poller.start()

    def _start_callbacks_poller(self) -> None:
        """The delivery function on its own queue, as deployed: slow receivers never hold up
        jobs."""
        from worker.callbacks.main import handler

        assert self.resources is not None
        settings = self._poller_settings(
            self.resources.callbacks_queue_url,
            self.resources.callbacks_queue_arn,
            self.config.max_concurrency,
            name="callbacks",
        )
        self.callbacks_poller = SqsPoller(
            sqs=self.client("sqs"), settings=settings, handler=handler
        )
        self.callbacks_poller.start()

    def _start_settler(self) -> None:
        """The DLQ settler on its schedule, as deployed (an EventBridge rule), but every few
        seconds instead of every minute."""
        assert self.resources is not None
        dlq = self.resources.dlq_url.rsplit("/", 1)[-1]
        interval = self.config.settle_interval_seconds
        if interval <= 0:
            self._progress(
                f"  DLQ settler off (--settle-interval 0): jobs dead-lettered in {dlq} stay open"
            )
            return
        from worker.settler import handler  # after the environment points at the devstack

        def start() -> None:
            self.settler = SettlerLoop(handler=handler, interval_seconds=interval).start()

        self._step(f"DLQ settler (every {interval:g} s on {dlq}, as its schedule)", start)

    def _poller_settings(
        self, queue_url: str, queue_arn: str, max_concurrency: int, *, name: str
    ) -> PollerSettings:
        return PollerSettings(
            queue_url=queue_url,
            queue_arn=queue_arn,
            region=REGION,
            batch_size=self.config.batch_size,
            batching_window_seconds=self.config.batching_window_seconds,
            max_concurrency=max_concurrency,
            function_timeout_seconds=self.config.function_timeout_seconds,
            name=name,
            crash_marker=self.config.crash_marker,
        )
