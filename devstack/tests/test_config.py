"""Devstack flags: per-lane concurrency parsed, validated and defaulted to --max-concurrency."""

from __future__ import annotations

import argparse

import pytest

from devstack.config import build_parser, parse_args, parse_lane_concurrency


def test_each_lane_uses_max_concurrency_unless_overridden() -> None:
    config = parse_args(["--max-concurrency=3", "--lane-concurrency", "high=5, low=1"])

    assert config.concurrency_for("high") == 5
    assert config.concurrency_for("normal") == 3
    assert config.concurrency_for("low") == 1


def test_lane_concurrency_comes_from_the_environment_when_no_flag_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVSTACK_LANE_CONCURRENCY", "normal=4")

    assert parse_args([]).concurrency_for("normal") == 4
    assert parse_args(["--lane-concurrency=normal=1"]).concurrency_for("normal") == 1


@pytest.mark.parametrize("text", ["urgent=2", "high=0", "high=two", "high"])
def test_an_unknown_lane_or_a_bad_count_is_refused_with_the_lanes_named(text: str) -> None:
    with pytest.raises(ValueError, match="high, normal, low"):
        parse_lane_concurrency(text)


def test_a_bad_flag_stops_the_devstack_with_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--lane-concurrency=urgent=2"])

    assert exit_info.value.code == 2
    assert "--lane-concurrency 'urgent=2'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("max_concurrency", "expected"),
    [(1, (1, 1, 1)), (2, (2, 2, 2)), (5, (5, 5, 2)), (10, (10, 10, 5))],
)
def test_lanes_default_as_the_stack_does_low_gets_half_but_at_least_two(
    max_concurrency: int, expected: tuple[int, int, int]
) -> None:
    config = parse_args([f"--max-concurrency={max_concurrency}"])

    assert tuple(config.concurrency_for(lane) for lane in ("high", "normal", "low")) == expected


def test_every_option_says_what_it_does_and_its_default() -> None:
    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, action.option_strings
        flag = isinstance(action, argparse._StoreTrueAction)
        shown = parser._get_formatter()._get_help_string(action) or ""
        assert flag or "(default" in shown, (action.option_strings, shown)
    assert "DEVSTACK_" in text
