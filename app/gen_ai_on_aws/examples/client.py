"""Call the API: extract synchronously, or submit a job and poll it until it finishes.

    uv run python -m gen_ai_on_aws.examples.client --base-url http://127.0.0.1:8000 \\
        "Jason is 25 years old, jason@example.com"
    uv run python -m gen_ai_on_aws.examples.client --sync "Jason is 25 years old"

Set API_KEY in the environment when the API has API_KEYS configured.
"""

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

FINISHED = {"succeeded", "failed", "cancelled"}


def call_api(
    method: str, url: str, *, api_key: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """One JSON request; returns (status, parsed body) for errors too, which are JSON."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (scheme checked)
    request.add_header("Content-Type", "application/json")
    if api_key:
        request.add_header("X-API-Key", api_key)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (scheme checked)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def submit_and_wait(
    base_url: str, text: str, *, api_key: str | None, timeout: float = 60, interval: float = 1
) -> Any:
    """Submit `text`, then poll the job's status_url until it is finished or `timeout` passes."""
    status, created = call_api(
        "POST", f"{base_url}/extract-user-async", api_key=api_key, body={"text": text}
    )
    if status != 202:
        return created
    deadline = time.monotonic() + timeout
    while True:
        _, job = call_api("GET", created["status_url"], api_key=api_key)
        if job.get("status") in FINISHED or time.monotonic() >= deadline:
            return job
        time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("text")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--sync", action="store_true", help="use POST /extract-user")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    api_key = os.environ.get("API_KEY")
    base_url = args.base_url.rstrip("/")
    if args.sync:
        _, result = call_api(
            "POST", f"{base_url}/extract-user", api_key=api_key, body={"text": args.text}
        )
    else:
        result = submit_and_wait(base_url, args.text, api_key=api_key, timeout=args.timeout)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
