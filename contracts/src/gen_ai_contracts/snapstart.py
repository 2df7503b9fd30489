"""SnapStart: code to run when Lambda resumes an environment from a snapshot.

With SnapStart, Lambda runs a function's init once per published version and resumes every
new environment from a snapshot of it. Whatever init built is shared by all of them: clients
and their connection pools (sockets to peers that long forgot them), AWS credentials (expired
by restore time), the random module's state (identical sequences in every environment) and
settings read from the secret (rotated since). Each package registers a callback here that
drops those, so they are built again, fresh, on first use after the restore.

`snapshot_restore_py` is part of Lambda's Python managed runtimes (3.12+) and absent
elsewhere; without it registration only records the callback, so the same code runs
unchanged in tests, the devstack and functions without SnapStart. Tests run the recorded
callbacks with `run_after_restore`.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
from collections.abc import Callable

import boto3

AfterRestore = Callable[[], None]

# Every callback registered in this process, in registration order (the order Lambda runs them).
_after_restore: list[AfterRestore] = []


def register_after_restore(callback: AfterRestore) -> AfterRestore:
    """Run ``callback`` after each restore from a snapshot (once per callback; a decorator)."""
    if callback in _after_restore:
        return callback
    _after_restore.append(callback)
    try:
        hooks = importlib.import_module("snapshot_restore_py")
    except ImportError:  # not in a SnapStart-capable Lambda runtime
        return callback
    hooks.register_after_restore(callback)
    return callback


def after_restore_callbacks() -> tuple[AfterRestore, ...]:
    return tuple(_after_restore)


def run_after_restore() -> None:
    """What Lambda does on a restore, for tests: every registered callback, in order."""
    for callback in _after_restore:
        callback()


def reseed_random() -> None:
    """Environments restored from one snapshot would otherwise draw the same jitter.
    (`secrets`, `uuid.uuid4` and `os.urandom` read the kernel's pool: nothing to redo.)"""
    random.seed(os.urandom(32))


def reset_aws_session() -> None:
    """Clients built after this use a new default session, which resolves credentials again
    (the snapshot's have expired; a restored environment gets its own)."""
    boto3.DEFAULT_SESSION = None


def reset_litellm_clients() -> None:
    """Drop litellm's process-wide HTTP clients (cached per provider and event loop) if it was
    imported: their pooled connections did not survive the snapshot."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return
    cached = vars(litellm)
    clients_cache = cached.get("in_memory_llm_clients_cache")
    if clients_cache is not None:
        clients_cache.flush_cache()
    # Created lazily by litellm's module __getattr__ on next use.
    for name in ("module_level_aclient", "module_level_client"):
        cached.pop(name, None)


def reset_process_state() -> None:
    """What every package needs after a restore, besides its own cached builders."""
    reseed_random()
    reset_aws_session()
    reset_litellm_clients()
