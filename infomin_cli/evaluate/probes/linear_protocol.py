"""The paper's ImageNet linear evaluation (C.2, CMC's protocol) for folders streamed from disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infomin_cli.errors import InfominError
from infomin_cli.evaluate.probes.base import ProbeAsk, ProbeTask, Row, RowKey, main_label, register_probe
from infomin_cli.options import Option
from infomin_cli.ranges import RANGES

if TYPE_CHECKING:
    from infomin_cli.data.base import DatasetEntry
    from infomin_cli.runs import LoadedRun


@register_probe
class LinearProtocol(ProbeTask):
    name = "linear-protocol"
    summary = ("one linear layer on the frozen encoder's pooled output, train-time crops cut from the original "
               "photos every epoch (SGD, x0.2 at 30/40/50 of 60 epochs), resumable; the default for streamed runs")
    paper = "C.2 (CMC's linear evaluation)"
    options = (Option("epochs", 60, "epochs of the linear layer (the steps scale with them)", RANGES["epochs"], paper=60),
               Option("batch_size", 256, "batch size (CMC: 256)", RANGES["batch_size"], paper=256),
               Option("lr", 30.0, "SGD learning rate", RANGES["lr"], paper=30.0))
    serves = "image folders read from disk, with class labels"

    @classmethod
    def lacks(cls, data: DatasetEntry) -> str | None:
        if not data.labels:
            return "it has no class labels"
        return None if data.storage == "stream" else "it is held in memory; the protocol crops photos streamed from disk"

    @classmethod
    def preference(cls, data: DatasetEntry, streamed: bool) -> int:
        return 2 if streamed and cls.refusal(data) is None else 0

    def load(self, folder: Path, random_init: bool, ask: ProbeAsk) -> LoadedRun:
        if ask.stream is False:
            raise InfominError(f"--task {self.name} crops the photos as it streams them from disk; leave out --no-stream")
        from infomin_cli.runs import load_run

        return load_run(folder, ask.device, random_init=random_init, dataset=ask.dataset, data_root=ask.data_root,
                        stream=True, precision=ask.precision)

    def run(self, run: LoadedRun, ask: ProbeAsk) -> list[Row]:
        from infomin_cli.evaluate.linear_protocol import linear_protocol_run

        rows = []
        for label in ask.labels or (main_label(run.dataset.name),):
            rows.append(linear_protocol_run(run, label, ask.layer, None, ask.options["epochs"], ask.options["batch_size"],
                                            ask.options["lr"], dataset=ask.dataset, progress=ask.progress,
                                            probe_task=self.name))
            ask.emit(rows[-1])
        return rows

    def lines(self, rows: Sequence[Row], results: Path) -> list[str]:
        return [f"{row['run_id']}  {row['probe_label']:<10} top1 {row['metric_value']:6.2f} %   layer {row['probe_layer']}"
                f"   (streamed, C.2 linear protocol)   -> {results}" for row in rows]

    def wanted(self, ask: ProbeAsk, dataset: str) -> tuple[RowKey, ...]:
        return tuple(RowKey("top1", label) for label in ask.labels or (main_label(dataset),))
