"""Runs in a fresh interpreter on an unpacked package: its real handler on real events.

Called the way Lambda's runtime calls it: the handler imported once, then one call per event
with a context whose deadline moves. Nothing but the standard library, the package and the
runtime-SDK stand-in is importable (the parent runs this with -I -S -B).

argv: 1 sys.path entries (JSON list), 2 the handler ("module.attribute"), 3 a JSON file
holding the list of events, 4 where to write the JSON result (stdout carries the handler's logs
and EMF metrics).
"""

import importlib
import json
import os
import platform
import sys
import time
import uuid

sys.path[:0] = json.loads(sys.argv[1])


class Context:
    """What awslambdaric hands the handler (the attributes Powertools and Mangum read)."""

    def __init__(self, timeout_seconds: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "package-smoke"
        self.client_context = None
        self.identity = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


module_name, _, attribute = sys.argv[2].rpartition(".")
started = time.perf_counter()
module = importlib.import_module(module_name)
handler = getattr(module, attribute)
import_seconds = time.perf_counter() - started

with open(sys.argv[3], encoding="utf-8") as events_file:
    events = json.load(events_file)
timeout_seconds = float(os.environ.get("SMOKE_FUNCTION_TIMEOUT_SECONDS", "60"))
responses = [handler(event, Context(timeout_seconds)) for event in events]

with open(sys.argv[4], "w", encoding="utf-8") as result_file:
    json.dump(
        {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "handler_file": module.__file__,
            "import_seconds": import_seconds,
            "responses": responses,
        },
        result_file,
    )
