"""What a run reports each epoch: metrics.csv, the live k-NN accuracy, optionally TensorBoard.

An epoch's row is measured first and committed with the checkpoint (the checkpoint holds it), then
appended here: metrics.csv is the checkpoint's journal. A kill between the two leaves a row
missing, which `reconcile` restores from the checkpoint on resume, and a row of an epoch no
checkpoint holds is dropped there, so a resumed run's metrics.csv has exactly one row per
committed epoch, its k-NN value included.

The k-NN monitor (k = 20, cosine, temperature-weighted votes, as InstDis and MoCo report it)
reads the frozen encoder on the held-out split every epoch, so a user sees learning while it
happens instead of after the probe. It draws no random numbers and leaves the model's weights,
BN statistics and mode as they were: a run with the monitor is bit-identical to one without.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from infomin_cli.atomic import atomic_write_text
from infomin_cli.config import RunConfig
from infomin_cli.runs import METRICS, Built

COLUMNS = ("epoch", "loss", "i_nce", "K", "knn_top1", "images_per_second", "lr")
# a bank of 2,000 train and 1,000 test items: about 1 s a call on the embedded data on one CPU
# thread (~10 % of an epoch), enough to see learning; the probe measures it properly afterwards
KNN_TRAIN, KNN_TEST = 2000, 1000
TENSORBOARD_DIR = "tensorboard"


class EpochLog:
    def __init__(self, out: Path, config: RunConfig, built: Built, console: Console, resume: bool,
                 extra: tuple[str, ...] = ()) -> None:
        self.path = out / METRICS
        self.extra = extra  # the objective's own columns (learned views: each view's classifier accuracy)
        self.knn_last: float | None = None
        self.monitor = None
        data = built.dataset
        label = data.main_label
        if config.knn_monitor and label is not None:
            from infomin_cli.evaluate.knn import KnnMonitor

            self.monitor = KnnMonitor(built.views, data.train, data.test, label=label, device=built.device,
                                      max_train=KNN_TRAIN, max_test=KNN_TEST, precision=built.precision)
        self.writer = None
        if config.log == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / TENSORBOARD_DIR))
        if not resume or not self.path.is_file():
            self.path.write_text(",".join((*COLUMNS, *extra)) + "\n")

    @property
    def columns(self) -> tuple[str, ...]:
        return (*COLUMNS, *self.extra)

    def measure(self, epoch: int, model, loss: float, i_nce: float, k: int, rate: float, lr: float,
                extra: dict[str, float | None] | None = None) -> dict[str, str]:
        """The epoch's row (the k-NN monitor runs here), written nowhere: the checkpoint commits it."""
        knn = self.monitor(model) if self.monitor is not None else None
        extra = extra or {}
        values = [extra.get(name) for name in self.extra]
        row = (epoch, f"{loss:.6f}", f"{i_nce:.6f}", k, "" if knn is None else f"{knn:.2f}", f"{rate:.1f}", f"{lr:.6g}",
               *("" if v is None else f"{v:.4f}" for v in values))
        return dict(zip(self.columns, (str(v) for v in row), strict=True))

    def append(self, row: Mapping[str, str]) -> str:
        """Append a committed row (and its TensorBoard scalars); returns the progress line's stats."""
        with open(self.path, "a") as handle:
            handle.write(",".join(row.get(name, "") for name in self.columns) + "\n")
        self._remember(row)
        numbers = {name: float(text) for name, text in row.items() if name != "epoch" and text not in ("", None)}
        if self.writer is not None:
            for name in ("loss", "i_nce", "knn_top1", "images_per_second", "lr", *self.extra):
                if name in numbers:
                    self.writer.add_scalar(f"pretrain/{name}", numbers[name], int(row["epoch"]))
            self.writer.flush()
        text = f"loss {numbers['loss']:.3f}  I_NCE {numbers['i_nce']:.3f}"
        text += "".join(f"  {name} {numbers[name]:.1f}" for name in self.extra if name in numbers)
        return text + (f"  kNN {numbers['knn_top1']:.1f}%" if "knn_top1" in numbers else "")

    def reconcile(self, committed: int, row: Mapping[str, str] | None) -> None:
        """Make metrics.csv hold one row per epoch the checkpoint commits: drop rows past `committed`
        and restore the committed epoch's `row` (kept in the checkpoint) when a kill lost it."""
        from infomin_cli.run_files import damaged

        try:
            with open(self.path, encoding="utf-8", newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["epoch"]) <= committed]
        except (OSError, UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as exc:
            raise damaged(self.path, f"its rows are unreadable: {type(exc).__name__}") from None
        if row is not None and int(row["epoch"]) == committed and not any(int(r["epoch"]) == committed for r in rows):
            rows.append(dict(row))
        text = io.StringIO()
        writer = csv.DictWriter(text, self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({name: r.get(name) or "" for name in self.columns} for r in rows)
        atomic_write_text(self.path, text.getvalue())
        if rows:
            self._remember(rows[-1])

    def _remember(self, row: Mapping[str, str]) -> None:
        knn = row.get("knn_top1")
        self.knn_last = float(knn) if knn not in ("", None) else None

    def last_row(self) -> dict[str, Any]:
        """The last epoch's loss and I_NCE, for a run that finished but lost its summary."""
        from infomin_cli.run_files import damaged

        try:
            with open(self.path, encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            return {"loss": float(rows[-1]["loss"]), "i_nce": float(rows[-1]["i_nce"])} if rows else {}
        except (OSError, UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError) as exc:
            raise damaged(self.path, f"its last row is unreadable: {type(exc).__name__}") from None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
