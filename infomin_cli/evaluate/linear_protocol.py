"""The paper's ImageNet linear evaluation (C.2, "following [28]", CMC), for streamed datasets.

The small-data probe (evaluate/probe.py) caches frozen features once and fits on them. At
ImageNet scale that is neither possible (1.28 M x 2048 floats per augmentation) nor the paper's
protocol, which augments at train time. Here each epoch streams the training folder, cuts a
RandomResizedCrop + flip from every original photo (scale 0.08-1, aspect 3/4-4/3: MoCo's
`main_lincls.py`), runs the frozen encoder, and trains one linear layer on the pooled output:

| setting | value | source |
|---|---|---|
| optimiser | SGD, lr 30, momentum 0.9, weight decay 0 | paper C.2 (lr 30); CMC's LinearProbing defaults |
| schedule | 60 epochs, lr x 0.2 at epochs 30, 40, 50 (scaled with --epochs) | paper C.2 (60 epochs); CMC's defaults |
| batch | 256 | CMC's defaults |
| test input | stored item (short side 256/224 x size) centre-cropped to size | Resize(256) + CenterCrop(224) |
| features | the encoder's last layer (global average pool: 2048-d for ResNet-50) | CMC/MoCo: avgpool -> fc |

After every epoch the classifier, optimiser, schedule and generator go atomically into the run
folder (`linear-<dataset>-<label>-<layer>.pt`), so a killed probe continues where it stopped and
ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.data.source import as_source, epoch_batches, iter_batches
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.fit import fit
from infomin_cli.results import append_row
from infomin_cli.results.rows import probe_row
from infomin_cli.run_files import read_checkpoint
from infomin_cli.runs import LoadedRun, config_hash
from infomin_cli.runtime.checkpoint import restore_checkpoint, save_checkpoint
from infomin_cli.runtime.device import make_generator
from infomin_cli.runtime.precision import full_precision
from infomin_cli.views.crop import OriginalCrops

EPOCHS, LR, MOMENTUM, WEIGHT_DECAY, BATCH = 60, 30.0, 0.9, 0.0, 256
MILESTONES, DECAY = (30, 40, 50), 0.2  # of 60 epochs
TRAIN_SCALE = (0.08, 1.0)


class TrainCrops:
    """What `epoch_batches` asks a view pair for: one RandomResizedCrop + flip per photo."""

    def __init__(self, size: int) -> None:
        self.stream_crops = OriginalCrops((size,), (TRAIN_SCALE,))


def milestones(epochs: int) -> list[int]:
    return sorted({max(1, round(m * epochs / EPOCHS)) for m in MILESTONES})


def centre(images: torch.Tensor, size: int) -> torch.Tensor:
    top, left = (images.shape[-2] - size) // 2, (images.shape[-1] - size) // 2
    return images[..., top : top + size, left : left + size]


@torch.no_grad()
def frozen_features(run: LoadedRun, images: torch.Tensor, layer: str) -> torch.Tensor:
    with full_precision(run.device):
        inputs = run.views.probe_inputs(images)
    with run.precision.autocast(run.device):
        return run.model.features(inputs, layer).float()


def state_path(run: LoadedRun, dataset: str, label: str, layer: str) -> Path:
    return run.folder / f"linear-{dataset}-{label}-{layer}.pt"


def linear_protocol_run(run: LoadedRun, label: str = "class", layer: str | None = None,
                        results: str | Path | None = "results.csv", epochs: int = EPOCHS, batch_size: int = BATCH,
                        lr: float = LR, dataset: str | None = None, progress=None, *,
                        probe_task: str) -> dict[str, Any]:
    """Train and score the linear classifier; appends one `top1` row (its task `probe_task`, the
    registry's name) and returns it."""
    started = time.perf_counter()
    if batch_size < 1 or not lr > 0 or epochs < 1:
        raise InfominError(f"--batch-size {batch_size}, --lr {lr} and --epochs {epochs} must be positive")
    run.dataset.check_label(label)
    layer = layer or run.model.layers[-1]
    if layer not in run.model.layers:
        raise InfominError(f"encoder {run.config.encoder!r} has no layer {layer!r}; its layers: {', '.join(run.model.layers)}")
    train, test = as_source(run.dataset.train), as_source(run.dataset.test)
    if len(train) < batch_size:
        raise InfominError(f"--batch-size {batch_size} is larger than the {len(train)} training images; lower it")
    size, device = run.image_size, run.device
    classes = int(max(train.labels[label].max(), test.labels[label].max())) + 1
    dim = frozen_features(run, centre(test.batch(torch.arange(1)), size).to(device), layer).shape[1]
    torch.manual_seed(run.config.seed)
    classifier = nn.Linear(dim, classes).to(device)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones(epochs), DECAY)
    generator = make_generator(device, run.config.seed)
    path = state_path(run, dataset or run.config.dataset, label, layer)
    parts = {"classifier": classifier, "optimizer": optimizer, "schedule": schedule, "generator": generator}
    start = 0
    if path.is_file():
        state = read_checkpoint(path, keys=(*parts, "epoch"))
        if state.get("epochs") != epochs or state.get("config_hash") != config_hash(run.config):
            raise InfominError(f"{path} is a probe with other settings (epochs {state.get('epochs')}); delete it to start over")
        start = restore_checkpoint(path, parts, state)["epoch"]
    labels = train.labels[label].to(device)
    steps = len(train) // batch_size

    def batches():
        perm = torch.randperm(len(train), device=generator.device, generator=generator)[: steps * batch_size]
        return zip(epoch_batches(train, perm, batch_size, device, generator, TrainCrops(size)), perm.split(batch_size), strict=True)

    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, index = batch
        images = images[:, 0, :, :size, :size] if images.ndim == 5 else images
        return F.cross_entropy(classifier(frozen_features(run, images.to(device), layer)), labels[index.to(device)])

    def end_epoch(done: int, losses: list[torch.Tensor]) -> None:
        last = float(losses[-1])
        if not math.isfinite(last):
            raise InfominError(f"the linear probe's loss became {last} at epoch {done}; lower --lr")
        save_checkpoint(path, parts, done, epochs=epochs, config_hash=config_hash(run.config))
        if progress is not None:
            progress(done, epochs, last)

    fit(classifier, optimizer, schedule, epochs, batches, loss, start=start, per_epoch_schedule=True, end_epoch=end_epoch)
    correct = 0
    with torch.no_grad():
        for start_index, batch in zip(range(0, len(test), batch_size), iter_batches(test, batch_size, device), strict=True):
            logits = classifier(frozen_features(run, centre(batch, size), layer))
            y = test.labels[label][start_index : start_index + len(batch)].to(device)
            correct += int((logits.argmax(1) == y).sum())
    row = probe_row(run, label, layer, 100.0 * correct / len(test), time.perf_counter() - started, None, dataset, epochs,
                    probe_task)
    if results is not None:
        append_row(results, row)
    return row
