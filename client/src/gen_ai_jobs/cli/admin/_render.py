"""Plain-text tables and durations for the admin commands (stable to grep and to diff)."""

from __future__ import annotations

from collections.abc import Sequence


def duration(seconds: float | None) -> str:
    """`45s`, `3m 05s`, `2h 03m`, `4d 06h`; `-` when unknown."""
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    minutes, secs = divmod(whole, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d {hrs:02d}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns, two spaces apart, no trailing spaces."""
    cells = [list(headers)] + [
        ["-" if value is None else str(value) for value in row] for row in rows
    ]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
