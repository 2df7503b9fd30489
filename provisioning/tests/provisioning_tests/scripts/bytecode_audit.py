"""Runs in a fresh interpreter: import a handler, then report modules that had no shipped bytecode.

A module whose origin is a .py file without an __pycache__ entry of this Python's tag was
compiled in memory at import: on Lambda (read-only /var/task) that cost recurs on every cold start.
"""

import importlib
import importlib.util
import json
import os
import sys

sys.path[:0] = json.loads(sys.argv[1])
package_root = os.path.realpath(json.loads(sys.argv[1])[0])
importlib.import_module(sys.argv[2])

compiled_in_memory, sourceless, cached = [], 0, 0
for module in list(sys.modules.values()):
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    if not os.path.realpath(origin).startswith(package_root + os.sep):
        continue
    if origin.endswith(".pyc"):
        sourceless += 1
    elif origin.endswith(".py"):
        if os.path.exists(importlib.util.cache_from_source(origin)):
            cached += 1
        else:
            compiled_in_memory.append(module.__name__)
print(
    json.dumps(
        {"compiled_in_memory": compiled_in_memory, "sourceless": sourceless, "cached": cached}
    )
)
