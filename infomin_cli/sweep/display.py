"""What a user watches during a sweep: the outer bar over points, the trainer's own bars beneath it,
and a table of finished points that fills in as the curve takes shape.

The trainer is handed this display's `Progress`, so its epoch and step bars render inside the
same live region instead of fighting it for the terminal.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from infomin_cli.progress import make_progress
from infomin_cli.sweep.plan import SweepPoint
from infomin_cli.sweep.spec import format_value


class SweepDisplay:
    def __init__(self, title: str, total: int, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.title = title
        self.progress = make_progress(self.console, disable=not enabled)
        self.points_task = self.progress.add_task("sweep points", total=total, stats="")
        self.finished: list[tuple[SweepPoint, dict[str, Any], str]] = []
        self._live = Live(Group(self.progress, self), console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> SweepDisplay:
        if self.enabled:
            self._live.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.enabled:
            if exc_type is not None and not self.console.is_terminal:
                self._live.transient = True  # a log gets the error's one line, not a table before it
            self._live.stop()

    def point_done(self, point: SweepPoint, row: dict[str, Any], note: str = "") -> None:
        """Count a point (run now, or found in the CSV) and add it to the table."""
        self.finished.append((point, row, note))
        self.progress.advance(self.points_task)
        if not (self.enabled and self.console.is_terminal):  # --quiet and logs: one line per point
            self.console.print(f"{point.name}: {_fmt(row.get('i_nce'))} nats, top1 {_fmt(row.get('metric_value'), 2)} {note}")

    def __rich__(self) -> Table:
        table = Table(title=self.title, title_justify="left", expand=False)
        for column in ("knob value", "seed", "I_NCE (nats)", "top-1 (%)", "wall (s)", ""):
            table.add_column(column, justify="right" if column not in ("", "knob value") else "left")
        ordered = sorted(self.finished, key=lambda f: (_sort_key(f[0].value), f[0].seed))
        for point, row, note in ordered:
            table.add_row(
                format_value(point.value), str(point.seed), _fmt(row.get("i_nce")),
                _fmt(row.get("metric_value"), 2), _fmt(row.get("wall_seconds"), 0), note,
            )
        return table


def _sort_key(value: object) -> tuple[int, float, str]:
    return (0, float(value), "") if isinstance(value, (int, float)) else (1, 0.0, str(value))


def _fmt(value: object, digits: int = 3) -> str:
    """'-' for what a row lacks: None, or NaN as a CSV reads an empty cell back (a reference row's I_NCE)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(number) else f"{number:.{digits}f}"
