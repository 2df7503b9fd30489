"""Make moto's DynamoDB item writes atomic, as DynamoDB's are.

moto evaluates a ConditionExpression and then writes without a lock, so two threads can both
pass the same condition. Real DynamoDB serialises writes to an item, and the worker's job claim
relies on that; the devstack's moto server and the test fixtures restore it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITE_METHODS = ("put_item", "update_item", "delete_item")
_lock = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    locked.__dict__["_atomic"] = True
    return locked


def atomic_writes() -> dict[str, Callable[..., Any]]:
    """The locked replacements for DynamoDBBackend's write methods (idempotent)."""
    replacements = {}
    for name in WRITE_METHODS:
        method = getattr(DynamoDBBackend, name)
        replacements[name] = method if getattr(method, "_atomic", False) else _serialised(method)
    return replacements


def install() -> None:
    """Patch the process's moto for good (the devstack's in-process moto server)."""
    for name, method in atomic_writes().items():
        setattr(DynamoDBBackend, name, method)
