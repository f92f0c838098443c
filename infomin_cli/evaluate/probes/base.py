"""What every probe task declares, so that `infomin probe`, `infomin sweep` and `infomin probes` are generic.

A task (timm's idea: metadata on the registry entry) says what it is (name, summary, the paper's
section), which options it takes (`Option`s: the flags of `infomin probe`, their checks and the
listing), which datasets it can read (asked of the dataset's registered capabilities, before any
data is read), when it is a run's default, how it probes a loaded run (rows, appended as they are
made), and which rows a sweep point must hold to be done. The entries stay light (no torch at
import): a sweep's scheduler asks them what "done" means without loading a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from infomin_cli.errors import InfominError
from infomin_cli.options import Option, check_options
from infomin_cli.registry import Registry

if TYPE_CHECKING:
    from infomin_cli.config import RunConfig
    from infomin_cli.data.base import DatasetEntry
    from infomin_cli.runs import LoadedRun

Row = dict[str, Any]
ITEM_WORDS = {"image": "images", "sequence": "frame sequences"}


@dataclass(frozen=True)
class RowKey:
    """One row a sweep point must hold: its metric, and the label and layer when they matter (None: any)."""

    metric: str
    label: str | None = None
    layer: str | None = None


@dataclass(frozen=True)
class ProbeAsk:
    """What a caller (`infomin probe`, a sweep point) asks of a task; the task fills in the rest."""

    options: Mapping[str, Any]  # every option of the task, checked (`ProbeTask.check`)
    labels: tuple[str, ...] = ()  # () : the task's default for the dataset
    layer: str | None = None  # None: the task's default layer(s)
    dataset: str | None = None  # probe another dataset than the run's (a transfer probe)
    data_root: str | None = None
    stream: bool | None = None
    device: str = "auto"
    precision: str | None = None  # the encoder's (None: the run's own)
    knob: str | None = None  # the knob the rows vary (a sweep's); None: the family's first
    results: Path | None = None  # the CSV `infomin probe` appends to (a task may look for its rows there)
    emit: Callable[[Row], None] = field(default=lambda row: None)  # each row, as soon as it is made
    progress: Callable[..., None] | None = None


class ProbeTask:
    """Base class: subclasses set the class variables and implement `refusal`, `run` and `wanted`."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""  # the paper's section
    options: ClassVar[tuple[Option, ...]] = ()
    serves: ClassVar[str] = ""  # what a dataset needs for it, in words (the listing)
    item: ClassVar[str] = "image"  # the items it reads (`DatasetEntry.item`)
    transfer: ClassVar[bool] = True  # may probe another dataset than the run's (--dataset, --probe-dataset)
    negatives: ClassVar[bool] = True  # its sweep rows carry the point's I_NCE, which --negatives may re-estimate
    also: ClassVar[tuple[str, ...]] = ()  # tasks whose rows a sweep point of this task holds too (first)
    sweep_options: ClassVar[Mapping[str, str]] = {"probe_epochs": "epochs"}  # sweep setting -> option
    references: ClassVar[tuple[str, ...]] = ()  # per-seed reference points a sweep adds (knob values)
    plot: ClassVar[str] = "plot-reverse-u"  # the command that draws a sweep's CSV of this task

    @classmethod
    def refusal(cls, data: DatasetEntry) -> str | None:
        """Why this task cannot read `data` (None: it can), from the dataset's declared capabilities."""
        if data.item != cls.item:
            return f"its items are {ITEM_WORDS[data.item]}, not {ITEM_WORDS[cls.item]}"
        return cls.lacks(data)

    @classmethod
    def lacks(cls, data: DatasetEntry) -> str | None:
        """What else `data` must have (None: nothing it lacks)."""
        return None

    @classmethod
    def preference(cls, data: DatasetEntry, streamed: bool) -> int:
        """How strongly this task wants to be the default for `data` (0: never; the highest wins).
        `streamed`: the run's train split is read from disk as it is used."""
        return 0

    @classmethod
    def check(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every option with its value (given, else the default); one line for a bad or foreign one."""
        return check_options(cls.options, dict(given), f"probe task {cls.name}")

    @classmethod
    def check_serves(cls, data: DatasetEntry, name: str, flag: str = "--task") -> None:
        why = cls.refusal(data)
        if why is not None:
            able = [n for n, entry in _datasets() if cls.refusal(entry) is None]
            raise InfominError(f"{flag} {cls.name} cannot probe dataset {name!r} ({why}); "
                               f"datasets it probes: {', '.join(able) or 'none'}")

    def load(self, folder: Path, random_init: bool, ask: ProbeAsk) -> LoadedRun:
        """The run as this task reads it (by default with the transfer dataset in place of its own)."""
        from infomin_cli.runs import load_run

        return load_run(folder, ask.device, random_init=random_init, dataset=ask.dataset, data_root=ask.data_root,
                        stream=ask.stream, precision=ask.precision)

    def run(self, run: LoadedRun, ask: ProbeAsk) -> list[Row]:
        """Probe a loaded run; each row goes to `ask.emit` as it is made, and all of them are returned."""
        raise NotImplementedError

    def lines(self, rows: Sequence[Row], results: Path) -> list[str]:
        """What `infomin probe` prints: one line per row."""
        return [f"{row['run_id']}  {row['probe_label']:<10} {row['metric_name']} {float(row['metric_value']):6.2f} "
                f"{row['unit']}   layer {row['probe_layer']}   -> {results}" for row in rows]

    def wanted(self, ask: ProbeAsk, dataset: str) -> tuple[RowKey, ...]:
        """The rows a sweep point of `dataset` holds once this task has probed it (made with `ask`)."""
        raise NotImplementedError

    def reference(self, kind: str, config: RunConfig, folder: Path, ask: ProbeAsk,
                  missing: Sequence[RowKey]) -> list[Row]:
        """A reference point's `missing` rows (one of `references`): each to `ask.emit` as it is made."""
        raise NotImplementedError(f"probe task {self.name} has no reference points")


PROBES: Registry[ProbeTask] = Registry("probe task")


def register_probe(cls: type[ProbeTask]) -> type[ProbeTask]:
    PROBES.add(cls.name, cls())
    return cls


def default_task(data: DatasetEntry, streamed: bool = False) -> ProbeTask:
    """The task a run is probed with unless told: the one that wants `data` most (ties: by name)."""
    best = max(PROBES.items(), key=lambda item: item[1].preference(data, streamed))
    if best[1].preference(data, streamed) <= 0:
        raise InfominError(f"no probe task reads dataset {data!r}; choose one with --task")
    return best[1]


def main_label(dataset: str) -> str:
    """The label a probe of `dataset` predicts unless told: the first it declares."""
    entry = dict(_datasets()).get(dataset)
    return entry.labels[0] if entry is not None and entry.labels else "class"


def _datasets() -> list[tuple[str, DatasetEntry]]:
    from infomin_cli.data import DATASETS

    return list(DATASETS.items())
