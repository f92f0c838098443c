"""The dense probe (paper B.2): a 4-layer decoder on a frozen conv layer's map, mIoU and pixel accuracy rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomin_cli.errors import InfominError
from infomin_cli.evaluate.probes.base import ProbeAsk, ProbeTask, Row, RowKey, register_probe
from infomin_cli.options import Option
from infomin_cli.ranges import RANGES

if TYPE_CHECKING:
    from infomin_cli.data.base import DatasetEntry
    from infomin_cli.runs import LoadedRun



@register_probe
class Segmentation(ProbeTask):
    name = "segmentation"
    summary = ("a 4-layer decoder (3 x conv-BN-ReLU-upsample, 1x1 conv) on a frozen conv layer's map, per-pixel "
               "cross-entropy (Adam, cosine), resumable; a miou and a pixel_acc row")
    paper = "B.2 (NYU-Depth-v2 segmentation)"
    options = (Option("epochs", 5, "decoder epochs", RANGES["epochs"]),
               Option("classes", 40, "class set of a dataset that offers several (nyu-depth-v2: 40 or 13)"),
               Option("seg_size", None, "input side in px (default: the run's size; a transfer dataset's own, "
                      "96 for nyu-depth-v2)", RANGES["seg_size"], of=int))
    serves = "images with segmentation masks"
    also = ("classification",)
    sweep_options = {"seg_epochs": "epochs"}

    @classmethod
    def lacks(cls, data: DatasetEntry) -> str | None:
        return None if data.masks else "it has no segmentation masks"

    @classmethod
    def check(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        options = super().check(given)
        from infomin_cli.data import DATASETS

        sets = sorted({n for _, entry in DATASETS.items() for n in entry.class_sets}, reverse=True)
        if sets and options["classes"] not in sets:  # for every dataset, so a typo never passes silently
            raise InfominError(f"--classes {options['classes']} is not valid; choose {' or '.join(map(str, sets))}")
        return options

    def load(self, folder: Path, random_init: bool, ask: ProbeAsk) -> LoadedRun:
        from infomin_cli.evaluate.segmentation import check_seg_size
        from infomin_cli.runs import load_run, run_config

        check_seg_size(run_config(folder), ask.options["seg_size"])  # before the run's data is read
        return load_run(folder, ask.device, random_init=random_init, precision=ask.precision)  # the masks: in `run`

    def run(self, run: LoadedRun, ask: ProbeAsk) -> list[Row]:
        from infomin_cli.evaluate.segmentation import segmentation_probe_run

        rows = segmentation_probe_run(run.folder, ask.dataset, ask.data_root, ask.options["classes"], ask.layer,
                                      not run.trained, None, ask.options["epochs"], knob=ask.knob,
                                      size=ask.options["seg_size"], progress=ask.progress, probe_task=self.name, run=run,
                                      look_in=ask.results)
        for row in rows:
            if not row.get("skipped"):
                ask.emit(row)
        return rows

    def lines(self, rows: Sequence[Row], results: Path) -> list[str]:
        by_metric, first = {row["metric_name"]: row for row in rows}, rows[0]
        note = "   (already in CSV: not redone)" if first.get("skipped") else f"   -> {results}"
        return [f"{first['run_id']}  {first['probe_label']:<10} mIoU {float(by_metric['miou']['metric_value']):6.2f} %"
                f"   pixel acc {float(by_metric['pixel_acc']['metric_value']):6.2f} %   layer {first['probe_layer']}{note}"]

    def wanted(self, ask: ProbeAsk, dataset: str) -> tuple[RowKey, ...]:
        return RowKey("miou"), RowKey("pixel_acc")
