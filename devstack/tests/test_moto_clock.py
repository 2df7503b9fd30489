"""The cheap clock gives moto's SQS the same "now" as its own, and leaves dated calls alone."""

from __future__ import annotations

import datetime
import time

import moto.sqs.models as sqs_models
import pytest

from devstack import moto_clock


def test_now_matches_motos_own_clock_and_dated_calls_are_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own_ms = sqs_models.unix_time_millis()  # type: ignore[attr-defined]
    for name, function in moto_clock.fast_clock().items():
        monkeypatch.setattr(sqs_models, name, function)
    assert sqs_models.unix_time_millis() == pytest.approx(own_ms, abs=1000)  # type: ignore[attr-defined]
    assert sqs_models.unix_time() == pytest.approx(time.time(), abs=1)  # type: ignore[attr-defined]
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert sqs_models.unix_time_millis(moment) == 1_767_323_045_000.0  # type: ignore[attr-defined]
