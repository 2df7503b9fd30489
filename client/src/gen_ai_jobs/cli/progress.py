"""The live display of `submit`: jobs submitted, then finished (succeeded / failed), with rate
and ETA. On a terminal it redraws in place; otherwise (CI logs, pipes) it prints a snapshot every
few seconds and at the end."""

from __future__ import annotations

import time
from collections import Counter
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from gen_ai_jobs.models import BatchItem, Job

SNAPSHOT_EVERY_SECONDS = 2.0


class RateColumn(ProgressColumn):
    """Jobs per second over the last seconds (rich's own estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} jobs/s" if speed else "- jobs/s", style="progress.data.speed")


class JobsProgress:
    """Counts for `submit`; `submitted` and `finished` are called from the main thread."""

    def __init__(self, *, total: int, console: Console, waiting: bool) -> None:
        self.counts: Counter[str] = Counter()
        self._to_finish = total  # less the jobs that were not queued
        self._live = console.is_terminal
        self._console = console
        self._last_snapshot = 0.0
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not self._live,
        )
        self._submit = self._progress.add_task("submitted", total=total)
        self._finish = self._progress.add_task(
            self._finished_text(), total=total, start=False, visible=waiting
        )

    def __enter__(self) -> JobsProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
        if not self._live and kind is None:
            self._snapshot(force=True)

    def submitted(self, items: list[BatchItem]) -> None:
        refused = sum(1 for item in items if not item.queued)
        self.counts["not_queued"] += refused
        self._to_finish -= refused
        self._progress.update(self._finish, total=self._to_finish)
        description = f"submitted, [red]{self.counts['not_queued']} not queued[/]"
        self._progress.update(
            self._submit,
            advance=len(items),
            description=description if self.counts["not_queued"] else "submitted",
        )
        self._snapshot()

    def waiting(self) -> None:
        self._progress.start_task(self._finish)

    def finished(self, job: Job) -> None:
        self.counts[job.status] += 1
        self._progress.update(self._finish, advance=1, description=self._finished_text())
        self._snapshot()

    def _finished_text(self) -> str:
        ok, failed = self.counts["succeeded"], self.counts["failed"] + self.counts["cancelled"]
        return f"finished: [green]{ok} ok[/], [red]{failed} failed[/]"

    def _snapshot(self, *, force: bool = False) -> None:
        """Without a terminal, print the bars now and then instead of redrawing them."""
        now = time.monotonic()
        if self._live or not (force or now - self._last_snapshot >= SNAPSHOT_EVERY_SECONDS):
            return
        self._last_snapshot = now
        self._console.print(self._progress.get_renderable())
