"""Colorful Moving MNIST's factor probes (paper B.4, Table 1): each factor from both encoders, plus references."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infomin_cli.evaluate.probes.base import ProbeAsk, ProbeTask, Row, RowKey, register_probe
from infomin_cli.options import Option
from infomin_cli.ranges import RANGES

if TYPE_CHECKING:
    from infomin_cli.config import RunConfig
    from infomin_cli.data.base import DatasetEntry
    from infomin_cli.runs import LoadedRun

FACTOR_LABELS = ("digit", "position", "background")  # Table 1's columns
FACTOR_LAYERS = ("sequence", "image")  # the sequence encoder's two representations (models/seq_convnet.py)
SUPERVISED = "supervised"  # a reference point per seed: the architecture trained on each factor's labels
UNTRAINED = "untrained"  # ... and the architecture at its seeded initialisation, never trained
REFERENCES = (UNTRAINED, SUPERVISED)  # in the order the table draws them, below a rule


@register_probe
class Factors(ProbeTask):
    name = "factors"
    summary = ("each factor of a frame sequence from the sequence and the image encoder: classes by the linear "
               "probe (top1), regression targets by ridge regression (px_error); a sweep adds two reference "
               "points per seed (the untrained and the supervised architecture); the default for sequences")
    paper = "B.4 (Table 1)"
    options = (Option("epochs", 100, "epochs of the linear classifier (the regression has none)", RANGES["epochs"],
                      paper=100),)
    serves = "frame sequences with factors"
    item = "sequence"
    transfer = negatives = False
    references = REFERENCES
    plot = "plot-factors"

    @classmethod
    def preference(cls, data: DatasetEntry, streamed: bool) -> int:
        return 2 if cls.refusal(data) is None else 0

    def run(self, run: LoadedRun, ask: ProbeAsk) -> list[Row]:
        from infomin_cli.evaluate.factors import factor_probe_run

        rows = factor_probe_run(run.folder, ask.labels or FACTOR_LABELS, ask.layer or FACTOR_LAYERS, None,
                                ask.options["epochs"], knob=ask.knob, random_init=not run.trained, run=run)
        for row in rows:
            ask.emit(row)
        return rows

    def lines(self, rows: Sequence[Row], results: Path) -> list[str]:
        return [f"{row['run_id']}  {row['probe_label']:<10} {row['probe_layer']:<8} {row['metric_value']:7.2f} "
                f"{'px' if row['unit'] == 'px' else '% top1'}"
                + (f"   I_NCE {row['i_nce']:.3f}" if row.get("i_nce") is not None else "") + f"   -> {results}"
                for row in rows]

    def wanted(self, ask: ProbeAsk, dataset: str) -> tuple[RowKey, ...]:
        from infomin_cli.data import DATASETS

        targets = DATASETS.get(dataset).targets
        return tuple(RowKey("px_error" if label in targets else "top1", label, layer)
                     for label in ask.labels or FACTOR_LABELS for layer in ((ask.layer,) if ask.layer else FACTOR_LAYERS))

    def reference(self, kind: str, config: RunConfig, folder: Path, ask: ProbeAsk,
                  missing: Sequence[RowKey]) -> list[Row]:
        """UNTRAINED: the factor probes of the seeded, untrained architecture (no run folder, no
        I_NCE); SUPERVISED: one fresh model per missing (factor, layer) trained on that factor's
        labels, each row emitted as its model finishes (data loaded once for all of them)."""
        from infomin_cli.evaluate.factors import factor_probe_run, supervised_rows
        from infomin_cli.runs import load_data, untrained_run

        if kind == UNTRAINED:
            run = untrained_run(config, folder, ask.device)
            rows = factor_probe_run(folder, ask.labels or FACTOR_LABELS, FACTOR_LAYERS, None, ask.options["epochs"],
                                    knob=ask.knob, random_init=True, run=run)
            for row in rows:
                ask.emit(row)
            return rows
        data, rows = load_data(config) if missing else None, []
        for key in missing:
            for row in supervised_rows(config, key.label, key.layer, device=ask.device, kind=SUPERVISED, data=data):
                ask.emit(row)
                rows.append(row)
        return rows
