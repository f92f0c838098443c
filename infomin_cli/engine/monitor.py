"""What a run reports each epoch: metrics.csv, the live k-NN accuracy, optionally TensorBoard.

The k-NN monitor (k = 20, cosine, temperature-weighted votes, as InstDis and MoCo report it)
reads the frozen encoder on the held-out split every epoch, so a user sees learning while it
happens instead of after the probe. It draws no random numbers and leaves the model's weights,
BN statistics and mode as they were: a run with the monitor is bit-identical to one without.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rich.console import Console

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

    def epoch(self, epoch: int, model, loss: float, i_nce: float, k: int, rate: float, lr: float,
              extra: dict[str, float | None] | None = None) -> str:
        """Append the epoch's row; returns the progress line's stats."""
        knn = self.monitor(model) if self.monitor is not None else None
        self.knn_last = knn
        extra = extra or {}
        values = [extra.get(name) for name in self.extra]
        row = (epoch, f"{loss:.6f}", f"{i_nce:.6f}", k, "" if knn is None else f"{knn:.2f}", f"{rate:.1f}", f"{lr:.6g}",
               *("" if v is None else f"{v:.4f}" for v in values))
        with open(self.path, "a") as handle:
            handle.write(",".join(str(v) for v in row) + "\n")
        if self.writer is not None:
            for name, value in (("loss", loss), ("i_nce", i_nce), ("knn_top1", knn), ("images_per_second", rate),
                                ("lr", lr), *zip(self.extra, values, strict=True)):
                if value is not None:
                    self.writer.add_scalar(f"pretrain/{name}", value, epoch)
            self.writer.flush()
        text = f"loss {loss:.3f}  I_NCE {i_nce:.3f}"
        text += "".join(f"  {name} {v:.1f}" for name, v in zip(self.extra, values, strict=True) if v is not None)
        return text + (f"  kNN {knn:.1f}%" if knn is not None else "")

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
