"""Devstack settings: command-line flags with ``DEVSTACK_*`` environment defaults."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gen_ai_contracts.api_keys import ApiKeysError, parse_api_keys

REGION = "us-east-1"
STACK_PREFIX = "gen-ai-on-aws-dev"
# The job lanes, fastest first; each queue has its own event source mapping (and poller here).
LANES = ("high", "normal", "low")


@dataclass(frozen=True)
class DevstackConfig:
    """Ports and the ESM/function settings the Pulumi program uses (see provisioning)."""

    api_port: int = 8000
    aws_port: int = 5000
    llm_port: int = 8081
    batch_size: int = 10
    batching_window_seconds: float = 0.5
    max_concurrency: int = 2
    # Per-lane MaximumConcurrency overrides; a lane not named here uses max_concurrency.
    lane_concurrency: Mapping[str, int] = field(default_factory=dict)
    function_timeout_seconds: float = 30.0
    visibility_timeout_seconds: int = 180
    max_receive_count: int = 5
    llm_api_base: str | None = None
    # API_KEYS as given (any form the API takes); kept out of repr: never printed.
    api_keys: str | None = field(default=None, repr=False)
    run_api: bool = True
    run_worker: bool = True
    attach: bool = False
    # How often the DLQ settler runs with the worker (the stack: every minute); 0 = never.
    settle_interval_seconds: float = 5.0
    # Fault injection for the reliability tests (devstack.faults): the share of the worker's
    # UpdateItem/SendMessage calls applied but answered with a read timeout, and a text that
    # makes every delivery of a job's message crash (never handled, never settled).
    lose_response_rate: float = 0.0
    crash_marker: str | None = None

    def concurrency_for(self, lane: str) -> int:
        """How many batches ``lane``'s poller runs at once (its ESM's MaximumConcurrency).

        Defaults as the stack's (provisioning's laneConcurrency): high and normal get
        max_concurrency, low half of it but at least 2 (the AWS minimum) and at most normal's.
        """
        if lane in self.lane_concurrency:
            return self.lane_concurrency[lane]
        if lane == "low":
            return min(self.max_concurrency, max(2, self.max_concurrency // 2))
        return self.max_concurrency


def parse_lane_concurrency(text: str) -> dict[str, int]:
    """``high=4,low=2`` as ``{"high": 4, "low": 2}``; raises ValueError naming what is wrong."""
    lanes: dict[str, int] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        lane, _, value = part.partition("=")
        lane = lane.strip()
        if lane not in LANES or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(
                f"{part!r}: expected <lane>=<n> with lane one of {', '.join(LANES)} and n >= 1"
            )
        lanes[lane] = int(value)
    return lanes


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the help states it itself (or the
    option is a plain on/off flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or isinstance(action, argparse._StoreTrueAction):
            return text
        return super()._get_help_string(action)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DEVSTACK_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    """The devstack's options; each default comes from ``DEVSTACK_*`` or the values above."""
    parser = argparse.ArgumentParser(
        prog="devstack",
        description="Run API + worker + emulated AWS + a local LLM on 127.0.0.1. Every option "
        "can also be set as DEVSTACK_<OPTION> (e.g. DEVSTACK_API_PORT=8001).",
        formatter_class=_HelpWithDefaults,
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=int(_env("API_PORT", "8000")),
        help="port of the API (http://127.0.0.1:PORT, docs at /docs)",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(_env("AWS_PORT", "5000")),
        help="port of the emulated AWS (moto: SQS, DynamoDB, Secrets Manager)",
    )
    parser.add_argument(
        "--llm-port",
        type=int,
        default=int(_env("LLM_PORT", "8081")),
        help="port of the embedded model's OpenAI-compatible server",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=int(_env("BATCH_SIZE", "10")),
        help="records per worker invocation (the event source mapping's BatchSize)",
    )
    parser.add_argument(
        "--batching-window",
        type=float,
        default=float(_env("BATCHING_WINDOW", "0.5")),
        help="seconds the poller waits to fill a batch (MaximumBatchingWindowInSeconds)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=int(_env("MAX_CONCURRENCY", "2")),
        help="batches in flight per event source mapping (per lane and for webhooks; 2 is the"
        " AWS minimum)",
    )
    parser.add_argument(
        "--lane-concurrency",
        default=_env("LANE_CONCURRENCY", ""),
        help="batches in flight per lane, e.g. high=4,normal=2,low=2 (default, as the stack's:"
        " high and normal --max-concurrency, low half of it but at least 2)",
    )
    parser.add_argument(
        "--function-timeout",
        type=float,
        default=float(_env("FUNCTION_TIMEOUT", "30")),
        help="seconds each worker invocation may run (the Lambda timeout); claims last as long",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="SQS visibility timeout in seconds (default: 6x the function timeout, as deployed)",
    )
    parser.add_argument(
        "--max-receive-count",
        type=int,
        default=int(_env("MAX_RECEIVE_COUNT", "5")),
        help="receives of one message before SQS moves it to the DLQ (maxReceiveCount)",
    )
    parser.add_argument(
        "--llm-api-base",
        default=os.environ.get("DEVSTACK_LLM_API_BASE"),
        help="use this OpenAI-compatible server instead of the embedded model (default: the"
        " embedded SmolLM2, or LLM_MODEL and a key from the environment)",
    )
    parser.add_argument(
        "--api-keys",
        default=os.environ.get("DEVSTACK_API_KEYS"),
        help="API keys the API then requires as X-API-Key, as API_KEYS takes them: comma-separated,"
        ' a JSON list, or a JSON object {"tenant": ["key" or "sha256:<hex>", ...]}; stored in an'
        " emulated Secrets Manager secret (default: none: the API is open without keys, as the"
        " devstack sets ALLOW_ANONYMOUS=true unless this environment sets it; a deployed stack"
        " without keys fails closed)",
    )
    parser.add_argument("--no-api", action="store_true", help="do not serve the API")
    parser.add_argument(
        "--no-worker", action="store_true", help="do not run the worker's pollers or the settler"
    )
    parser.add_argument(
        "--attach",
        action="store_true",
        help="use the emulated AWS and LLM of a devstack already running on these ports",
    )
    parser.add_argument(
        "--settle-interval",
        type=float,
        default=float(_env("SETTLE_INTERVAL", "5")),
        help="seconds between runs of the DLQ settler, which fails jobs whose message was "
        "dead-lettered (the stack: every minute); 0 turns it off (default: %(default)s)",
    )
    parser.add_argument(
        "--lose-responses",
        type=float,
        default=0.0,
        help="fault injection: share (0-1) of the worker's UpdateItem/SendMessage calls that are "
        "applied but answered with a read timeout (default: %(default)s, none)",
    )
    parser.add_argument(
        "--crash-marker",
        default=None,
        help="fault injection: a job whose text contains this crashes every invocation that "
        "receives it, so its message is dead-lettered (default: off)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> DevstackConfig:
    """Flags win over ``DEVSTACK_*`` variables, which win over the defaults above."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.settle_interval < 0:
        parser.error("--settle-interval must be >= 0 (0 turns the DLQ settler off)")
    if not 0 <= args.lose_responses < 1:
        parser.error("--lose-responses must be in [0, 1)")
    try:
        lane_concurrency = parse_lane_concurrency(args.lane_concurrency)
    except ValueError as exc:
        parser.error(f"--lane-concurrency {exc}")
    api_keys = (args.api_keys or "").strip() or None
    if api_keys is not None:
        try:
            if not parse_api_keys(api_keys):
                parser.error("--api-keys lists no key (leave it out to run the API open)")
        except ApiKeysError as exc:  # names the problem, never a key
            parser.error(f"--api-keys: {exc}")
    visibility = args.visibility_timeout or int(6 * args.function_timeout)
    return DevstackConfig(
        api_port=args.api_port,
        aws_port=args.aws_port,
        llm_port=args.llm_port,
        batch_size=args.batch_size,
        batching_window_seconds=args.batching_window,
        max_concurrency=args.max_concurrency,
        lane_concurrency=lane_concurrency,
        function_timeout_seconds=args.function_timeout,
        visibility_timeout_seconds=visibility,
        max_receive_count=args.max_receive_count,
        llm_api_base=args.llm_api_base,
        api_keys=api_keys,
        run_api=not args.no_api,
        run_worker=not args.no_worker,
        attach=args.attach,
        settle_interval_seconds=args.settle_interval,
        lose_response_rate=args.lose_responses,
        crash_marker=args.crash_marker or None,
    )
