"""The one progress-bar layout (description, bar, n/N, live stats, elapsed, ETA), shared by the
trainer, the sweep display and `mi-estimate` so nested bars line up; its first row also says how
many torch threads the process computes with. Everything goes to stderr; a command's `--quiet`
or an output that is not a terminal shows none of it live (the trainer and the sweep print a line
per epoch or point instead)."""

from __future__ import annotations

import sys

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


class ThreadsColumn(ProgressColumn):
    """`N threads` on a display's first row: torch's threads in this process (the CLI sets them,
    runtime/threads.py). Read from torch only when torch is loaded, which computing has done."""

    def render(self, task: Task) -> Text:
        torch = sys.modules.get("torch")
        if task.id != 0 or torch is None:
            return Text("")
        threads = torch.get_num_threads()
        return Text(f"{threads} thread{'s' if threads != 1 else ''}", style="dim")


def make_progress(console: Console | None = None, disable: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        ThreadsColumn(),
        console=console or Console(stderr=True),
        disable=disable,
    )


_announced = {"line": False}


def announce(text: str, quiet: bool = False) -> None:
    """Say on stderr what a long step is doing before its first bar ("loading data…"), where bars
    would show. The cursor stays at the start of that line, so the first bar, or `clear_announcement`
    before an error's one line, takes its place."""
    console = Console(stderr=True)
    if not quiet and console.is_terminal:
        console.print(text, style="dim", end="\r", highlight=False)
        _announced["line"] = True


def clear_announcement() -> None:
    """Blank the line `announce` left, if any (the next line written to stderr then stands alone)."""
    if _announced["line"]:
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()
        _announced["line"] = False


class PointBars:
    """A bar over a command's points and, under it, one over the current point's steps
    (`mi-estimate`: each MI value × estimator, then that critic's training steps). Given no
    `Progress` (`--quiet`), every call does nothing."""

    def __init__(self, progress: Progress | None, description: str, points: int | None) -> None:
        self.progress = progress
        if progress is not None:
            self.points = progress.add_task(description, total=points, stats="")
            self.steps = progress.add_task("  steps", total=None, stats="", visible=False)

    def start(self, stats: str, steps: int | None = None) -> None:
        """A point begins: say which, and show a steps bar when it has steps."""
        if self.progress is not None:
            self.progress.update(self.points, stats=stats)
            self.progress.reset(self.steps, total=steps, stats="", visible=bool(steps))

    def step(self, step: int, value: float) -> None:
        """`step` (from 0) of the current point is done; `value` is its running estimate."""
        if self.progress is not None:
            self.progress.update(self.steps, completed=step + 1, stats=f"estimate {value:.3f}")

    def done(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.points)
