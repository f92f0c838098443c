"""The linear probe (the paper's linear evaluation, small-data form): one top-1 row per label."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infomin_cli.evaluate.probes.base import ProbeAsk, ProbeTask, Row, RowKey, main_label, register_probe
from infomin_cli.options import Option
from infomin_cli.ranges import RANGES

if TYPE_CHECKING:
    from infomin_cli.data.base import DatasetEntry
    from infomin_cli.runs import LoadedRun


@register_probe
class Classification(ProbeTask):
    name = "classification"
    summary = "a linear classifier on the frozen encoder's features (computed once, standardised; Adam, cosine); one top-1 row per --label"
    paper = "linear evaluation (3, C.2)"
    options = (Option("epochs", 100, "epochs of the linear classifier", RANGES["epochs"], paper=100),)
    serves = "images with class labels"

    @classmethod
    def lacks(cls, data: DatasetEntry) -> str | None:
        return None if data.labels else "it has no class labels"

    @classmethod
    def preference(cls, data: DatasetEntry, streamed: bool) -> int:
        return 1 if cls.refusal(data) is None else 0

    def run(self, run: LoadedRun, ask: ProbeAsk) -> list[Row]:
        from infomin_cli.evaluate.probe import probe_run

        rows = []
        for label in ask.labels or (main_label(run.dataset.name),):
            progress = None if ask.progress is None else (
                lambda done, total, loss, label=label: ask.progress(done, total, loss, what=label))
            rows.append(probe_run(run.folder, label, ask.layer, not run.trained, None, ask.options["epochs"],
                                  knob=ask.knob, dataset=ask.dataset, run=run, progress=progress))
            ask.emit(rows[-1])
        return rows

    def lines(self, rows: Sequence[Row], results: Path) -> list[str]:
        return [f"{row['run_id']}  {row['probe_label']:<10} top1 {row['metric_value']:6.2f} %   layer {row['probe_layer']}"
                + (f"   I_NCE {row['i_nce']:.3f}" if row.get("i_nce") is not None else "") + f"   -> {results}"
                for row in rows]

    def wanted(self, ask: ProbeAsk, dataset: str) -> tuple[RowKey, ...]:
        return tuple(RowKey("top1", label) for label in ask.labels or (main_label(dataset),))
