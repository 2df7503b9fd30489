"""Runs in a fresh interpreter: import a handler module, then report which heavy libraries came
with it (the webhook delivery function shares the worker's zip but must not pay for litellm)."""

import importlib
import json
import sys

sys.path[:0] = json.loads(sys.argv[1])
module = importlib.import_module(sys.argv[2])
heavy = ("litellm", "instructor", "openai", "langfuse")
print(
    json.dumps(
        {
            "handler_callable": callable(getattr(module, "handler", None)),
            "file": module.__file__,
            "heavy": sorted(name for name in heavy if name in sys.modules),
        }
    )
)
