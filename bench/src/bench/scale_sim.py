"""A discrete-event simulation (SimPy) of one day of jobs through SQS, the event source mapping
and the worker, against a provider's quota, with or without our fleet-wide limiter.

SimPy keeps the clock: one process per lane's event source mapping wakes every second, and a
recorder every minute. Jobs are not SimPy processes (10 M of them would take minutes): each
second a lane takes its visible messages as cohorts (same submit second, a count), starts as
many batches as its concurrency allows, and decides every record's fate in one vectorised pass:
admitted by the limiter now, after an in-process wait, or deferred (re-sent with DelaySeconds);
accepted by the provider or answered 429 with Retry-After. A batch holds its slot for the
slowest record (waves of WORKER_MAX_CONCURRENCY), plus CPU per record, plus init on a new
execution environment; its records complete when it ends. Queue ages resolve to the 1 s step.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from bench.scale_model import (
    ESM_MAX_CONCURRENCY,
    ESM_RAMP_PER_MINUTE,
    ESM_START_CONCURRENCY,
    LANES,
    PRIORITY_SHARE,
    PROVISIONED_INVOKES_PER_POLLER,
    PROVISIONED_MAX_CONCURRENCY,
    PROVISIONED_RAMP_PER_MINUTE,
    Scenario,
    defer_delays,
)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
# Queue-age histogram: whole seconds up to 10 s, then 5 % wide bins up to about 6 days.
AGE_EDGES: FloatArray = np.concatenate(
    [np.arange(0.0, 10.0), 10.0 * np.power(1.05, np.arange(0, 228))]
)
# Provider windows and the slack kept beyond the last second for calls scheduled ahead.
WINDOW = 60
_MARGIN = 128
_BLOCK = 1 << 18  # random numbers drawn per refill
# llm._with_fallbacks sleeps at least this long between asks of a refusing limiter.
_MIN_SLEEP_SECONDS = 0.05


@dataclass
class Totals:
    """Counts over the whole run; the cost model and the invariants read these."""

    submitted: int = 0
    completed: int = 0
    deferrals: int = 0  # jobs re-sent with DelaySeconds (limiter, pause or 429)
    provider_attempts: int = 0
    provider_throttled: int = 0  # 429s
    in_process_retries: int = 0  # calls repeated after a 429 within the wait budget
    invocations: int = 0
    cold_starts: int = 0
    worker_busy_seconds: float = 0.0  # billed duration, summed over invocations
    limiter_writes: int = 0  # conditional UpdateItems on the LLM state table


@dataclass
class SimulationResult:
    """What one simulated day produced: totals, per-minute and per-hour series."""

    scenario: Scenario
    totals: Totals
    queued: int  # visible or delayed at the end
    in_flight: int  # in a running batch at the end
    seconds_simulated: int
    wall_seconds: float
    call_limit_per_minute: int | None  # the provider's quota in calls (RPM and TPM combined)
    minute_attempts: IntArray
    minute_accepted: IntArray
    minute_throttled: IntArray
    minute_deferred: IntArray
    minute_arrivals: IntArray
    minute_concurrency: IntArray  # (lanes, minutes): the most invocations running at once
    minute_total_concurrency: IntArray  # the most running at once, all lanes together
    minute_backlog: IntArray  # messages queued (visible or delayed), all lanes
    busiest_60s_attempts: int
    busiest_60s_accepted: int
    peak_limiter_item_writes_per_second: int  # on the busiest GCRA item (one partition)
    hour_seconds: float
    age_histogram: IntArray  # (hours, bins) of queue age of the runs that finished jobs
    batch_durations: np.ndarray[Any, np.dtype[np.float32]]  # every invocation's, in seconds

    def batch_percentile(self, fraction: float) -> float:
        if not self.batch_durations.size:
            return 0.0
        return float(np.quantile(self.batch_durations, fraction))

    def age_percentile(self, hour: int, fraction: float) -> float | None:
        return _histogram_percentile(self.age_histogram[hour], fraction)

    def overall_age_percentile(self, fraction: float) -> float | None:
        return _histogram_percentile(self.age_histogram.sum(axis=0), fraction)


_AGE_EDGE_LIST = AGE_EDGES.tolist()


def _age_bin(age: int) -> int:
    """The histogram bin of a queue age in whole seconds."""
    if age < 10:
        return age
    return min(bisect.bisect_right(_AGE_EDGE_LIST, age) - 1, len(_AGE_EDGE_LIST) - 1)


def _histogram_percentile(counts: IntArray, fraction: float) -> float | None:
    """The upper edge of the bin holding the percentile (an over- rather than an underestimate)."""
    total = int(counts.sum())
    if total == 0:
        return None
    index = int(np.searchsorted(np.cumsum(counts), fraction * total))
    return float(AGE_EDGES[min(index + 1, len(AGE_EDGES) - 1)])


class _Gcra:
    """gen_ai_contracts.ratelimit's GCRA on one key, in seconds, deciding a whole cohort: the
    j-th of n requests arriving together is admitted at max(now, base + (j+1)i - tolerance)."""

    def __init__(self, per_minute: float, burst_seconds: float) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst_seconds
        self.tat = 0.0

    def schedule(
        self, now: float, count: int, share: float, max_wait: float
    ) -> tuple[FloatArray, float]:
        """(waits of the admitted, first ones first; the Retry-After of the rest)."""
        tolerance = max(self.burst * share, self.interval)
        base = max(self.tat, now)
        fits = math.floor((now + max_wait + tolerance - base) / self.interval + 1e-9)
        admitted = min(count, max(0, fits))
        waits = np.maximum(0.0, base + np.arange(1, admitted + 1) * self.interval - tolerance - now)
        self.tat = base + admitted * self.interval
        return waits, max(self.tat + self.interval - tolerance - now, 0.0)

    def admit_all(self, now: float, count: int, share: float) -> bool:
        """Admit ``count`` requests at once if none has to wait (the common case)."""
        tolerance = max(self.burst * share, self.interval)
        base = max(self.tat, now)
        if base + count * self.interval - tolerance > now + 1e-9:
            return False
        self.tat = base + count * self.interval
        return True

    def consume(self, now: float, count: int) -> None:
        """Admission of retries at the end of a pause: they take their share of the rate."""
        self.tat = max(self.tat, now) + count * self.interval


class _Block:
    """Jobs re-sent together (same DelaySeconds), by submitted second: ``stamps`` and their
    ``counts``; taking from a block moves ``start``."""

    __slots__ = ("counts", "stamps", "start", "total")

    def __init__(self, stamps: IntArray, counts: IntArray) -> None:
        self.stamps = stamps
        self.counts = counts
        self.start = 0
        self.total = int(counts.sum())

    def take(self, wanted: int) -> tuple[IntArray, IntArray]:
        """Up to ``wanted`` jobs from the front: (stamps, counts)."""
        stamps = self.stamps[self.start :]
        counts = self.counts[self.start :]
        if wanted >= self.total:
            self.total = 0
            return stamps, counts
        cumulative = np.cumsum(counts)
        whole = int(np.searchsorted(cumulative, wanted, side="right"))
        taken_counts = counts[: whole + 1].copy()
        partial = wanted - (int(cumulative[whole - 1]) if whole else 0)
        taken_counts[whole] = partial
        self.counts = self.counts.copy()
        self.counts[self.start + whole] -= partial
        self.start += whole
        self.total -= wanted
        taken = stamps[: whole + 1]
        keep = taken_counts > 0
        return taken[keep], taken_counts[keep]


class _Lane:
    """One priority lane: its queue, its event source mapping's scaling, its running batches."""

    def __init__(self, index: int, name: str, maximum: int, arrivals: IntArray) -> None:
        self.index = index
        self.name = name
        self.share = PRIORITY_SHARE[name]
        self.maximum = maximum
        self.arrivals = arrivals
        self.arrival_list: list[int] = arrivals.tolist()
        # Oldest first: arrivals as [submitted second, count], re-sent jobs as _Block.
        self.visible: deque[list[int] | _Block] = deque()
        self.visible_total = 0
        self.delayed: dict[int, list[_Block]] = {}
        self.delayed_total = 0
        self.busy = 0
        self.releases: dict[int, list[int]] = {}  # second -> [slots, records]
        self.in_flight = 0
        self.allowance = 0.0
        self.backlog_left = False
        self.warm = 0
        self.recent_busy: deque[int] = deque()


class Simulation:
    """Run with ``Simulation(scenario).run()``."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        load = scenario.load
        self.rng = np.random.default_rng(scenario.seed)
        self.batch_size = scenario.mapping.batch_size
        self.worker = scenario.worker
        self.total_seconds = load.run_seconds + scenario.drain_seconds
        self.totals = Totals()
        self.env = simpy.Environment()
        self.lanes = [
            _Lane(i, name, scenario.mapping.maximum_concurrency[i], arrivals)
            for i, (name, arrivals) in enumerate(zip(LANES, self._arrivals(), strict=True))
        ]
        self.totals.submitted = int(sum(int(lane.arrivals.sum()) for lane in self.lanes))
        self.call_limit = _call_limit(scenario)
        self.gcra = self._limiter()
        self.paused_until = 0.0
        size = self.total_seconds + WINDOW + _MARGIN
        self.attempts: IntArray = np.zeros(size, dtype=np.int64)
        self.accepted: IntArray = np.zeros(size, dtype=np.int64)
        self.throttled: IntArray = np.zeros(size, dtype=np.int64)
        self.deferred_at: IntArray = np.zeros(size, dtype=np.int64)
        self.limiter_writes_at: IntArray = np.zeros(size, dtype=np.int64)
        self.last_call_second = 0
        minutes = -(-self.total_seconds // 60)
        self.minute_concurrency = [[0] * minutes for _ in self.lanes]
        self.minute_total_concurrency = [0] * minutes
        self.minute_backlog = [0] * minutes
        self.hour_seconds = load.hour_seconds
        hours = math.ceil(self.total_seconds / self.hour_seconds)
        self.age_histogram: IntArray = np.zeros((hours, len(AGE_EDGES)), dtype=np.int64)
        self._latencies: FloatArray = np.empty(0)
        self._uniforms: FloatArray = np.empty(0)
        self._latency_at = 0
        self._uniform_at = 0
        self.durations: list[np.ndarray[Any, np.dtype[np.float32]]] = []
        self._starts_cache: dict[int, IntArray] = {}

    # -- set-up ----------------------------------------------------------------------------

    def _arrivals(self) -> list[IntArray]:
        """Poisson arrivals per second around the day's sinusoid, split over the lanes."""
        load = self.scenario.load
        seconds = load.start_second + np.arange(load.run_seconds) + 0.5
        phase = 2 * np.pi * (seconds / load.day_seconds - load.peak_hour / 24)
        rates = load.mean_rate * (1 + load.amplitude * np.cos(phase))
        arrivals = self.rng.poisson(rates)
        high_share, normal_share, _ = load.lane_shares
        high = self.rng.binomial(arrivals, high_share)
        rest = arrivals - high
        normal = self.rng.binomial(rest, min(1.0, normal_share / max(1e-12, 1 - high_share)))
        padding = np.zeros(self.scenario.drain_seconds, dtype=np.int64)
        return [
            np.concatenate([part.astype(np.int64), padding])
            for part in (high, normal, rest - normal)
        ]

    def _limiter(self) -> _Gcra | None:
        limiter = self.scenario.limiter
        if not limiter.enabled:
            return None
        tokens = self.scenario.provider.tokens_per_call
        limits = [limiter.rpm, None if limiter.tpm is None else limiter.tpm / tokens]
        known = [limit for limit in limits if limit is not None]
        return _Gcra(min(known), limiter.burst_seconds) if known else None

    def _limiter_wrote(self, now: int, asks: int, adjusts: int = 0, seconds: int = 1) -> None:
        """Count limiter writes: each ask writes every key, an adjust the TPM key once more.
        The busiest item's writes are spread over the ``seconds`` they happen in."""
        self.totals.limiter_writes += asks * self._limiter_keys + adjusts
        share, rest = divmod(asks + adjusts, seconds)
        self.limiter_writes_at[now : now + seconds] += share
        self.limiter_writes_at[now] += rest

    @property
    def _adjusts(self) -> int:
        """After a call the TPM charge is corrected (ModelGate.succeeded): one more write."""
        return int(self.scenario.limiter.tpm is not None)

    @property
    def _limiter_keys(self) -> int:
        """The GCRA items one admission writes (rate#model#rpm and #tpm)."""
        limiter = self.scenario.limiter
        return int(limiter.rpm is not None) + int(limiter.tpm is not None)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        started = time.perf_counter()
        for lane in self.lanes:
            self.env.process(self._mapping(lane))
        self.env.process(self._recorder())
        self.env.run(until=self.total_seconds)
        return self._result(time.perf_counter() - started)

    def _mapping(self, lane: _Lane) -> Any:
        """The lane's event source mapping, one step a second."""
        while True:
            self._step(lane, int(self.env.now))
            yield self.env.timeout(1)

    def _recorder(self) -> Any:
        """Each minute: the backlog, and which execution environments are still warm."""
        keep = max(1, self.worker.keep_warm_seconds // 60)
        while True:
            minute = int(self.env.now) // 60
            if minute < len(self.minute_backlog):
                self.minute_backlog[minute] = sum(
                    lane.visible_total + lane.delayed_total for lane in self.lanes
                )
            yield self.env.timeout(60)
            for lane in self.lanes:
                lane.recent_busy.append(self.minute_concurrency[lane.index][minute])
                while len(lane.recent_busy) > keep:
                    lane.recent_busy.popleft()
                lane.warm = max(lane.busy, max(lane.recent_busy))

    def _step(self, lane: _Lane, now: int) -> None:
        released = lane.releases.pop(now, None)
        if released is not None:
            lane.busy -= released[0]
            lane.in_flight -= released[1]
            self.totals.completed += released[1]
        if now < len(lane.arrival_list) and (arrived := lane.arrival_list[now]):
            lane.visible.append([now, arrived])
            lane.visible_total += arrived
        due = lane.delayed.pop(now, None)
        if due is not None:
            for block in due:
                lane.visible.append(block)
                lane.visible_total += block.total
                lane.delayed_total -= block.total
        self._scale(lane)
        account_free = self.scenario.account_concurrency - sum(x.busy for x in self.lanes)
        free = min(int(lane.allowance) - lane.busy, account_free)
        if free > 0 and lane.visible_total > 0:
            records = min(lane.visible_total, free * self.batch_size)
            self._dispatch(lane, now, records)
        lane.backlog_left = lane.visible_total > 0
        minute = now // 60
        if lane.busy > self.minute_concurrency[lane.index][minute]:
            self.minute_concurrency[lane.index][minute] = lane.busy
        if lane.index == len(self.lanes) - 1:  # every lane has taken its turn this second
            total = sum(x.busy for x in self.lanes)
            if total > self.minute_total_concurrency[minute]:
                self.minute_total_concurrency[minute] = total

    def _scale(self, lane: _Lane) -> None:
        """The mapping's concurrency: its starting batches, the per-minute ramp while messages
        remain, its ceiling; scaling down (undocumented) is taken at the ramp's rate."""
        provisioned = self.scenario.mapping.provisioned_pollers
        if provisioned is None:
            ceiling = float(min(lane.maximum, ESM_MAX_CONCURRENCY))
            floor = min(float(ESM_START_CONCURRENCY), ceiling)
            ramp = ESM_RAMP_PER_MINUTE / 60
        else:
            minimum, maximum = provisioned
            ceiling = float(
                min(maximum * PROVISIONED_INVOKES_PER_POLLER, PROVISIONED_MAX_CONCURRENCY)
            )
            floor = float(minimum * PROVISIONED_INVOKES_PER_POLLER)
            ramp = PROVISIONED_RAMP_PER_MINUTE / 60
        if lane.backlog_left:  # messages were left last second: every slot was in use
            lane.allowance = min(ceiling, lane.allowance + ramp)
        elif not lane.backlog_left:
            lane.allowance = max(floor, float(lane.busy), lane.allowance - ramp)
        lane.allowance = max(lane.allowance, floor)

    # -- one lane's batches of one second ----------------------------------------------------

    def _take(self, lane: _Lane, records: int) -> tuple[list[int], list[int], list[_Block]]:
        """Receive ``records`` messages, oldest first: arrivals as (submitted seconds, counts),
        re-sent jobs as blocks."""
        submitted: list[int] = []
        counts: list[int] = []
        blocks: list[_Block] = []
        wanted = records
        while wanted:
            entry = lane.visible[0]
            if isinstance(entry, _Block):
                taken = min(wanted, entry.total)
                blocks.append(_Block(*entry.take(taken)))
                if entry.total == 0:
                    lane.visible.popleft()
                wanted -= taken
                continue
            taken = min(wanted, entry[1])
            submitted.append(entry[0])
            counts.append(taken)
            entry[1] -= taken
            wanted -= taken
            if entry[1] == 0:
                lane.visible.popleft()
        lane.visible_total -= records
        return submitted, counts, blocks

    def _dispatch(self, lane: _Lane, now: int, records: int) -> None:
        submitted, counts, blocks = self._take(lane, records)
        hour = min(int(now // self.hour_seconds), len(self.age_histogram) - 1)
        if blocks:
            stamps = np.concatenate([np.array(submitted, np.int64)] + [b.stamps for b in blocks])
            amounts = np.concatenate([np.array(counts, np.int64)] + [b.counts for b in blocks])
        if self._all_clear(lane, now, records):
            row = self.age_histogram[hour]
            if blocks:
                bins = np.searchsorted(AGE_EDGES, now - stamps, side="right") - 1
                np.add.at(row, bins, amounts)
            else:
                for stamp, count in zip(submitted, counts, strict=True):
                    row[_age_bin(now - stamp)] += count
            self._start_batches(lane, now, self._draw_latencies(records), None, records)
            return
        if not blocks:
            stamps, amounts = np.array(submitted, np.int64), np.array(counts, np.int64)
        waits_in, done, retry_after = self._admit(lane, now, records)
        ends = self._call(now, waits_in, done, retry_after)
        order = self.rng.permutation(records)  # the refused are spread over the batches
        ends, done, retry_after = ends[order], done[order], retry_after[order]
        ages = np.repeat(now - stamps, amounts)  # fates are independent of age
        bins = np.searchsorted(AGE_EDGES, ages[done], side="right") - 1
        self.age_histogram[hour] += np.bincount(bins, minlength=len(AGE_EDGES))
        self._requeue(lane, now, now - ages[~done], retry_after[~done])
        self._start_batches(lane, now, ends, done, records)

    def _all_clear(self, lane: _Lane, now: int, count: int) -> bool:
        """The common case, decided without arrays: no pause, the limiter admits every record
        at once and the provider has room for all of them (the limiter is charged if so)."""
        if self.call_limit is not None and (self.last_call_second > now or self._room(now) < count):
            return False
        if self.gcra is not None:
            if self.paused_until > now or not self.gcra.admit_all(now, count, lane.share):
                return False
            self._limiter_wrote(now, count, count * self._adjusts)
        self.attempts[now] += count
        self.accepted[now] += count
        self.totals.provider_attempts += count
        return True

    def _admit(self, lane: _Lane, now: int, count: int) -> tuple[FloatArray, Any, FloatArray]:
        """The limiter and the provider pause (model_gate.admit, llm._with_fallbacks): (time
        spent before the call or before giving up, admitted, Retry-After of the refused),
        first-admitted first.

        A refused record sleeps its Retry-After (at least 50 ms) and asks again, each ask one
        conditional write, until the next wait would pass LLM_LIMIT_MAX_WAIT_SECONDS; then it is
        deferred. A saturated limiter answers "a few ms", so the refused spin for the whole
        budget; a pause longer than the budget defers at once."""
        waits: FloatArray = np.zeros(count)
        retry_after: FloatArray = np.zeros(count)
        if self.gcra is None:  # no state table: no limiter and no pause
            return waits, np.ones(count, dtype=bool), retry_after
        budget = self.worker.limit_max_wait_seconds
        pause = max(0.0, self.paused_until - now)
        if pause > budget:
            retry_after[:] = pause
            return waits, np.zeros(count, dtype=bool), retry_after
        gcra = self.gcra
        admitted_waits, later = gcra.schedule(now + pause, count, lane.share, budget - pause)
        admitted = len(admitted_waits)
        refused = count - admitted
        sleep = max(gcra.interval, _MIN_SLEEP_SECONDS)
        asks = admitted + int(np.ceil(admitted_waits / sleep).sum())
        if refused and later <= budget + gcra.interval + 1e-9:  # spins, then gives up
            asks += refused * (1 + math.floor(budget / sleep))
            waits[admitted:] = budget
            retry_after[admitted:] = gcra.interval
        else:
            asks += refused
            retry_after[admitted:] = later + pause
        spread = math.ceil(budget) if refused or len(admitted_waits) else 1
        self._limiter_wrote(now, asks, admitted * self._adjusts, spread)
        waits[:admitted] = admitted_waits + pause
        done = np.zeros(count, dtype=bool)
        done[:admitted] = True
        return waits, done, retry_after

    def _call(self, now: int, waits: FloatArray, done: Any, retry_after: FloatArray) -> FloatArray:
        """The provider calls of the admitted records, in time order; a 429 retries in
        process while the wait budget lasts, else defers. Returns each record's end (seconds
        after ``now``); updates ``done`` and ``retry_after`` in place."""
        latencies = self._draw_latencies(len(waits))
        ends = waits.copy()
        call_times = now + waits
        pending = np.flatnonzero(done)
        budget = self.worker.limit_max_wait_seconds
        while pending.size:
            seconds = np.floor(call_times[pending]).astype(np.int64)
            first = int(seconds.min())
            group = pending[seconds == first]
            pending = pending[seconds != first]
            room = group.size if self.call_limit is None else self._room(first)
            accepted = group[: min(group.size, room)]
            refused = group[accepted.size :]
            self.attempts[first] += group.size
            self.accepted[first] += accepted.size
            self.last_call_second = max(self.last_call_second, first)
            self.totals.provider_attempts += group.size
            ends[accepted] = call_times[accepted] - now + latencies[accepted]
            if not refused.size:
                continue
            self.throttled[first] += refused.size
            self.totals.provider_throttled += refused.size
            wait = self._retry_after(first)
            if self.gcra is not None:  # breaker.pause: every process waits it out
                self.paused_until = max(self.paused_until, first + wait)
                self.totals.limiter_writes += int(refused.size)  # the circuit item, not a key
            retry = call_times[refused] + wait - now <= budget
            again, give_up = refused[retry], refused[~retry]
            call_times[again] += wait
            self.totals.in_process_retries += again.size
            if self.gcra is not None and again.size:
                self.gcra.consume(first + wait, again.size)
                self._limiter_wrote(first, int(again.size))
            pending = np.concatenate([pending, again])
            done[give_up] = False
            retry_after[give_up] = wait
            ends[give_up] = call_times[give_up] - now
        return ends

    def _room(self, second: int) -> int:
        """Calls the provider still accepts at ``second``: every 60 s window holding it stays
        within the quota, including seconds already booked ahead by waiting calls."""
        assert self.call_limit is not None
        accepted = self.accepted
        window = int(accepted[max(0, second - WINDOW + 1) : second + 1].sum())
        busiest = window
        for ahead in range(second + 1, self.last_call_second + 1):
            window += int(accepted[ahead])
            if ahead >= WINDOW:
                window -= int(accepted[ahead - WINDOW])
            busiest = max(busiest, window)
        return max(0, self.call_limit - busiest)

    def _retry_after(self, second: int) -> int:
        """The provider's Retry-After: whole seconds until a call would fit again."""
        for wait in range(1, WINDOW + 1):
            if self._room(second + wait) > 0:
                return wait
        return WINDOW

    def _requeue(self, lane: _Lane, now: int, submitted: IntArray, retry_after: FloatArray) -> None:
        """Deferred jobs: re-sent with DelaySeconds (their Retry-After plus jitter), one block
        per second they become visible again."""
        if not submitted.size:
            return
        ready = now + defer_delays(retry_after, self._draw_uniforms(submitted.size))
        span = self.total_seconds + 1
        keys, counts = np.unique(ready * span + submitted, return_counts=True)
        seconds = keys // span
        bounds = np.flatnonzero(np.diff(seconds)) + 1
        for part_keys, part_counts in zip(
            np.split(keys, bounds), np.split(counts, bounds), strict=True
        ):
            second = int(part_keys[0] // span)
            block = _Block(part_keys % span, part_counts.astype(np.int64))
            lane.delayed.setdefault(second, []).append(block)
        lane.delayed_total += submitted.size
        self.totals.deferrals += submitted.size
        self.deferred_at[now] += submitted.size

    def _start_batches(
        self, lane: _Lane, now: int, ends: FloatArray, done: Any, records: int
    ) -> None:
        """Invoke the batches: each holds its slot for its slowest record (in waves when
        WORKER_MAX_CONCURRENCY is below the batch size), its CPU, and init if cold. ``done``
        None means every record finishes."""
        size = self.batch_size
        batches = -(-records // size)
        starts = self._batch_starts(batches)
        last = records - (batches - 1) * size
        wave = self.worker.max_concurrency
        if wave >= size:
            durations = np.maximum.reduceat(ends, starts)
        else:  # records run WORKER_MAX_CONCURRENCY at a time: waves, one after another
            positions = np.arange(records)
            wave_starts = np.flatnonzero((positions % size) % wave == 0)
            wave_max = np.maximum.reduceat(ends, wave_starts)
            durations = np.bincount(wave_starts // size, weights=wave_max, minlength=batches)
        cpu = self.worker.cpu_per_record_seconds
        durations += size * cpu
        durations[-1] -= (size - last) * cpu
        lane.busy += batches
        cold = lane.busy - lane.warm
        if cold > 0:
            durations[:cold] += self.worker.init_seconds
            lane.warm = lane.busy
            self.totals.cold_starts += cold
        self.totals.invocations += batches
        self.durations.append(durations.astype(np.float32))
        # A slot is free again within the second its batch ends (rounded at random, so the
        # occupancy is right on average).
        offsets = (durations + self._draw_uniforms(batches)).astype(np.int64)
        np.maximum(offsets, 1, out=offsets)
        releases = lane.releases
        if done is None:
            finished_total = records
            slots = np.bincount(offsets)
            for offset in np.flatnonzero(slots).tolist():
                count = int(slots[offset])
                entry = releases.setdefault(now + offset, [0, 0])
                entry[0] += count
                entry[1] += count * size
            releases[now + int(offsets[-1])][1] -= size - last
        else:
            finished = np.add.reduceat(done.astype(np.int64), starts)
            finished_total = int(finished.sum())
            for offset, count in zip(offsets.tolist(), finished.tolist(), strict=True):
                entry = releases.setdefault(now + offset, [0, 0])
                entry[0] += 1
                entry[1] += count
        lane.in_flight += finished_total

    def _batch_starts(self, batches: int) -> IntArray:
        starts = self._starts_cache.get(batches)
        if starts is None:
            starts = np.arange(batches, dtype=np.int64) * self.batch_size
            self._starts_cache[batches] = starts
        return starts

    # -- random numbers in blocks (one numpy call per block, not per batch) -----------------

    def _draw_latencies(self, count: int) -> FloatArray:
        if self._latency_at + count > len(self._latencies):
            self._latencies = self.rng.lognormal(
                math.log(self.worker.llm_median_seconds),
                self.worker.llm_sigma,
                max(_BLOCK, count),
            )
            self._latency_at = 0
        drawn = self._latencies[self._latency_at : self._latency_at + count]
        self._latency_at += count
        return drawn

    def _draw_uniforms(self, count: int) -> FloatArray:
        if self._uniform_at + count > len(self._uniforms):
            self._uniforms = self.rng.random(max(_BLOCK, count))
            self._uniform_at = 0
        drawn = self._uniforms[self._uniform_at : self._uniform_at + count]
        self._uniform_at += count
        return drawn

    # -- the result ------------------------------------------------------------------------

    def _result(self, wall_seconds: float) -> SimulationResult:
        minutes = len(self.minute_backlog)

        def per_minute(per_second: IntArray) -> IntArray:
            seconds = per_second[: minutes * 60]
            padded = np.zeros(minutes * 60, dtype=np.int64)
            padded[: len(seconds)] = seconds
            totals: IntArray = padded.reshape(minutes, 60).sum(axis=1)
            return totals

        arrivals = np.sum([lane.arrivals for lane in self.lanes], axis=0)
        durations = np.concatenate(self.durations) if self.durations else np.zeros(0, np.float32)
        self.totals.worker_busy_seconds = float(durations.sum(dtype=np.float64))
        return SimulationResult(
            scenario=self.scenario,
            totals=self.totals,
            queued=sum(lane.visible_total + lane.delayed_total for lane in self.lanes),
            in_flight=sum(lane.in_flight for lane in self.lanes),
            seconds_simulated=self.total_seconds,
            wall_seconds=wall_seconds,
            call_limit_per_minute=self.call_limit,
            minute_attempts=per_minute(self.attempts),
            minute_accepted=per_minute(self.accepted),
            minute_throttled=per_minute(self.throttled),
            minute_deferred=per_minute(self.deferred_at),
            minute_arrivals=per_minute(arrivals),
            minute_concurrency=np.array(self.minute_concurrency, dtype=np.int64),
            minute_total_concurrency=np.array(self.minute_total_concurrency, dtype=np.int64),
            minute_backlog=np.array(self.minute_backlog, dtype=np.int64),
            busiest_60s_attempts=_busiest_window(self.attempts),
            busiest_60s_accepted=_busiest_window(self.accepted),
            peak_limiter_item_writes_per_second=int(self.limiter_writes_at.max()),
            hour_seconds=self.hour_seconds,
            age_histogram=self.age_histogram,
            batch_durations=durations,
        )


def _call_limit(scenario: Scenario) -> int | None:
    """The provider's quota in calls per 60 s: its RPM, or its TPM over tokens per call."""
    provider = scenario.provider
    limits = [provider.rpm]
    if provider.tpm is not None:
        limits.append(provider.tpm // provider.tokens_per_call)
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def _busiest_window(per_second: IntArray) -> int:
    """The most calls in any 60 consecutive seconds."""
    sums = np.convolve(per_second, np.ones(WINDOW, dtype=np.int64), mode="valid")
    return int(sums.max()) if sums.size else 0


def simulate(scenario: Scenario) -> SimulationResult:
    return Simulation(scenario).run()
