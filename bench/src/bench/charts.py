"""A grid of chart panels, one per figure, shared by the run chart and the history chart."""

from __future__ import annotations

from typing import Any


def panel_grid(count: int, *, max_columns: int, cell: tuple[float, float]) -> tuple[Any, list[Any]]:
    """A figure with at least ``count`` panels (``cell`` inches each, at most ``max_columns``
    a row); the spare panels of the last row are hidden. Returns (figure, the ``count`` axes)."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    columns = min(max_columns, max(1, count))
    rows = max(1, -(-count // columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(cell[0] * columns, cell[1] * rows), squeeze=False
    )
    panels = [axis for row in axes for axis in row]
    for axis in panels[count:]:
        axis.set_visible(False)
    return fig, panels[:count]
