"""When a failed webhook attempt is tried again: exponential, capped and jittered."""

from __future__ import annotations

import math
import random
from collections.abc import Callable


def retry_delay_seconds(
    attempt: int,
    *,
    base_seconds: int,
    cap_seconds: int,
    jitter: Callable[[], float] = random.random,
) -> int:
    """Seconds before the attempt after `attempt` (1-based): base x 2^(attempt-1), capped, then
    lowered by up to half at random so the events of one receiver's outage spread out."""
    ceiling = min(base_seconds << max(attempt - 1, 0), cap_seconds)
    return max(1, math.ceil(ceiling * (1 - jitter() / 2)))
