"""``uv run devstack``: the whole pipeline on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from devstack.config import parse_args
from devstack.stack import SECRET_NAME, Devstack
from gen_ai_contracts.api_keys import parse_api_keys

# What the API's settings (pydantic) read as true.
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    print("gen-ai-on-aws devstack (first `uv run` installs the workspace; that can take a minute)")
    started = time.monotonic()
    stack = Devstack(config, progress=lambda line: print(line, flush=True))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stack.start()
        print(f"devstack ready in {time.monotonic() - started:.1f} s", flush=True)
        _print_lanes(stack)
        if config.run_worker:
            _print_webhooks(stack.webhook_signing_secret)
        if config.run_api:
            _print_usage(stack.api_url, config.api_keys)
        # Wake up now and then: Python runs signal handlers only in the main thread, and a
        # signal the kernel hands to another thread (the API, pollers, the model) would
        # otherwise leave this wait blocked and Ctrl-C ignored.
        while not stopping.wait(timeout=0.5):
            pass
    finally:
        print("stopping devstack ...", flush=True)
        stack.stop()
        print("stopped", flush=True)
    return 0


def _print_usage(api_url: str, api_keys: str | None) -> None:
    # Never echo a key: the user already has it, and terminals end up in logs.
    auth, keys_required = _auth_line(api_keys)
    key_header = ' -H "X-API-Key: $API_KEY"' if keys_required else ""
    complete = '{"task": "complete", "input": {"prompt": "Write a haiku about queues."}}'
    print(
        f"""
API:  {api_url}   (docs: {api_url}/docs)
{auth}
{_models_line()}
Submit an extraction job:
  curl -s -X POST {api_url}/extract-user-async{key_header} \\
       -H 'Content-Type: application/json' -d '{{"text": "Jason is 25 years old"}}'
Or any task of `curl -s{key_header} {api_url}/tasks`, e.g. free-form text:
  curl -s -X POST {api_url}/jobs{key_header} \\
       -H 'Content-Type: application/json' -d '{complete}'
Poll it (use the status_url from the answer):
  curl -s{key_header} {api_url}/jobs/<job_id>
Or be called back when it is done (a signed webhook; any URL is allowed here, https only in AWS):
  curl -s -X POST {api_url}/extract-user-async{key_header} -H 'Content-Type: application/json' \\
       -d '{{"text": "Jason is 25 years old", "callback_url": "http://127.0.0.1:9000/hooks"}}'
Press Ctrl-C to stop.""",
        flush=True,
    )


def _auth_line(api_keys: str | None) -> tuple[str, bool]:
    """How the API lets callers in, as the devstack configured this environment, and whether
    they need a key. Counts keys and names tenants (neither is secret), never shows a key."""
    if api_keys:
        keyring = parse_api_keys(api_keys)
        keys = f"{keyring.key_count} key{'s' if keyring.key_count > 1 else ''}"
        tenants = (
            f"tenant{'s' if len(keyring.tenants) > 1 else ''} {', '.join(sorted(keyring.tenants))}"
        )
        return (
            f"Auth: the API requires X-API-Key: {keys} of {tenants}, from --api-keys (kept in the"
            f" emulated secret {SECRET_NAME});\n      export API_KEY=<one of them> for the"
            " commands below",
            True,
        )
    if os.environ.get("API_KEYS"):
        return (
            "Auth: the API requires X-API-Key: the keys of API_KEYS in this environment;\n"
            "      export API_KEY=<one of them> for the commands below",
            True,
        )
    allow_anonymous = os.environ.get("ALLOW_ANONYMOUS", "")
    if allow_anonymous.strip().lower() in _TRUE:
        return (
            f"Auth: open without keys (ALLOW_ANONYMOUS={allow_anonymous}, devstack only; a deployed"
            ' stack fails closed: see README "API keys and tenants")',
            False,
        )
    return (
        f"Auth: closed: no API keys and ALLOW_ANONYMOUS={allow_anonymous}, so every route but"
        " /health and the docs answers 503 auth_not_configured\n      (start with --api-keys, or"
        " without ALLOW_ANONYMOUS for an open API)",
        False,
    )


def _print_lanes(stack: Devstack) -> None:
    """Which queue each priority goes to and how many batches each lane's poller runs."""
    assert stack.resources is not None
    lines = ["Lanes (priority -> queue; batches in flight per lane's event source mapping):"]
    for lane, (queue_url, _) in stack.lanes().items():
        pollers = f"{stack.config.concurrency_for(lane)}" if stack.config.run_worker else "-"
        lines.append(f"  {lane:<6} {queue_url.rsplit('/', 1)[-1]:<32} {pollers}")
    lines.append(f"  DLQ    {stack.resources.dlq_url.rsplit('/', 1)[-1]} (shared by the lanes)")
    limits = [
        f"{name}={os.environ[name]}"
        for name in ("LLM_RPM_LIMIT", "LLM_TPM_LIMIT", "LLM_RATE_LIMITS", "LLM_CIRCUIT_FAILURES")
        if os.environ.get(name)
    ]
    lines.append(f"  provider limits: {', '.join(limits) or 'none (LLM_RPM_LIMIT etc. unset)'}")
    print("\n".join(lines), flush=True)


def _print_webhooks(secret: str) -> None:
    # A development secret, generated for this run unless WEBHOOK_SIGNING_SECRET was set:
    # printed on purpose, so a local receiver can verify what the devstack signs.
    print(
        f"Webhooks: signed with WEBHOOK_SIGNING_SECRET={secret}\n"
        "  (set WEBHOOK_SIGNING_SECRET before starting to keep one secret across restarts)",
        flush=True,
    )


def _models_line() -> str:
    """The models the API and worker read (the devstack set or kept them in this environment)."""
    line = f"LLM:  {os.environ.get('LLM_MODEL', '?')}"
    for label, name in (("fallbacks", "LLM_FALLBACK_MODELS"), ("allowed", "LLM_ALLOWED_MODELS")):
        if os.environ.get(name):
            line += f"; {label}: {os.environ[name]}"
    return line


if __name__ == "__main__":
    sys.exit(main())
