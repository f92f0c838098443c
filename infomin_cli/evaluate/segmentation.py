"""Dense probes (paper B.2): a 4-layer decoder on a frozen encoder's feature map -> mean IoU.

The paper freezes the backbone and trains "a 4-layer decoder on top of the learned representations"
for NYU-Depth-v2 segmentation, reporting "the mean IoU for labeled classes"; it fixes neither the
decoder's widths, the input size nor the class set. Here (reasons in docs/ARCHITECTURE.md):

- features: the unpooled map of one conv layer (default: the encoder's probe layer, conv4 of the
  ConvNet = stride 8), both halves' maps concatenated for split models; computed once (the encoder
  is frozen and its probe inputs are deterministic), standardised per channel with training stats;
- decoder: three conv3x3-BN-ReLU layers (64, 32, 16 channels), each followed by a 2x bilinear
  upsampling, then a 1x1 conv to the classes (4 conv layers), bilinearly resized to the mask size;
- training: per-pixel cross-entropy ignoring unlabelled pixels, 5 epochs of Adam 5e-3 with a cosine
  schedule, batch 32 (~1 min per probe on one CPU core for the 8,000 embedded images); the decoder, optimiser, schedule and shuffling state are checkpointed into the run
  folder after every epoch, so a killed probe continues where it stopped;
- scores: mean IoU over the classes present in the test ground truth, and pixel accuracy; two rows
  (`miou`, `pixel_acc`, unit %) per probe in the results CSV. A probe whose rows are already in
  the CSV is not redone.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.config import RunConfig
from infomin_cli.data.base import MASK_IGNORE, Dataset, ImageSet
from infomin_cli.data.source import BatchSource, as_source, iter_batches
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.fit import fit
from infomin_cli.evaluate.miou import confusion_matrix, mean_iou, pixel_accuracy
from infomin_cli.results.rows import probe_row, run_columns
from infomin_cli.run_files import damaged, read_checkpoint
from infomin_cli.runtime.checkpoint import restore_checkpoint, save_checkpoint
from infomin_cli.runtime.precision import FP32, Precision, full_precision
from infomin_cli.runtime.schedule import cosine

SEG_EPOCHS = 5
DECODER_WIDTHS = (64, 32, 16)
SEG_LR, SEG_BATCH = 5e-3, 32
SEG_METRICS = ("miou", "pixel_acc")


class Decoder(nn.Module):
    """conv3x3-BN-ReLU + 2x upsampling, three times, then a 1x1 conv to the classes."""

    def __init__(self, in_channels: int, classes: int, widths: tuple[int, ...] = DECODER_WIDTHS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                       nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
            channels = width
        layers.append(nn.Conv2d(channels, classes, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        logits = self.net(x)
        if tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits


@torch.no_grad()
def extract_feature_maps(model, views, images: BatchSource | ImageSet | torch.Tensor, device: torch.device,
                         layer: str, batch_size: int = 256, precision: Precision = FP32) -> torch.Tensor:
    """Frozen (N, C, h, w) maps of `layer` for a whole image source, in order, in batches on the
    device, the encoder run at `precision` (its inputs in fp32)."""
    model.eval()
    out = []
    for batch in iter_batches(as_source(images), batch_size, device):
        with full_precision(device):
            inputs = views.probe_inputs(batch)
        with precision.autocast(device):
            maps = model.feature_maps(inputs, layer)
        out.append(maps.float())
    return torch.cat(out)


def train_decoder(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                  classes: int, epochs: int = SEG_EPOCHS, seed: int = 0, lr: float = SEG_LR, batch_size: int = SEG_BATCH,
                  checkpoint: Path | None = None, progress: Any = None,
                  widths: tuple[int, ...] = DECODER_WIDTHS) -> torch.Tensor:
    """Fit the decoder on (features, masks); returns the test confusion matrix (classes x classes).

    With `checkpoint`, the state is saved there after every epoch and a matching saved state is
    continued (or, once finished, its confusion matrix is returned without training)."""
    device = train_x.device
    mean = train_x.mean((0, 2, 3), keepdim=True)
    std = train_x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    size = tuple(train_y.shape[-2:])
    torch.manual_seed(seed)
    decoder = Decoder(train_x.shape[1], classes, widths).to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr, weight_decay=1e-4)
    schedule = cosine(optimizer, epochs * math.ceil(len(train_x) / batch_size))
    generator = torch.Generator(device="cpu").manual_seed(seed)
    parts = {"decoder": decoder, "optimizer": optimizer, "schedule": schedule, "generator": generator}
    start = 0
    if checkpoint is not None and checkpoint.is_file():
        way_out = "delete it to train the decoder again"
        state = read_checkpoint(checkpoint, (), way_out)
        if state.get("done"):
            if not isinstance(state.get("confusion"), torch.Tensor) or state["confusion"].shape != (classes, classes):
                raise damaged(checkpoint, "no confusion matrix of this probe's classes", way_out)
            return state["confusion"]
        start = restore_checkpoint(checkpoint, parts, state, way_out)["epoch"]

    def batches():
        return torch.randperm(len(train_x), generator=generator).to(device).split(batch_size)

    def loss(idx: torch.Tensor) -> torch.Tensor | None:
        target = train_y[idx].long()
        if not (target != MASK_IGNORE).any():
            return None
        return F.cross_entropy(decoder(train_x[idx], size), target, ignore_index=MASK_IGNORE)

    def end_epoch(done: int, _losses: list[torch.Tensor]) -> None:
        if checkpoint is not None and done < epochs:
            save_checkpoint(checkpoint, parts, done)
        if progress is not None:
            progress(done, epochs)

    fit(decoder, optimizer, schedule, epochs, batches, loss, start=start, end_epoch=end_epoch)
    decoder.eval()
    confusion = torch.zeros(classes, classes, dtype=torch.int64)
    with torch.no_grad():
        for first in range(0, len(test_x), 256):
            pred = decoder(test_x[first : first + 256], size).argmax(1)
            confusion += confusion_matrix(pred, test_y[first : first + 256], classes, ignore=MASK_IGNORE)
    if checkpoint is not None:
        save_checkpoint(checkpoint, {}, epochs, done=True, confusion=confusion)
    return confusion


def check_seg_size(config: RunConfig, size: int | None) -> None:
    """`--seg-size` below the encoder's total stride leaves no feature map to decode: refused before
    any data is read (the run's own size passed the same check when it was trained)."""
    from infomin_cli.runs import check_image_size

    check_image_size(config.encoder, size, "--seg-size")


def load_seg_dataset(run, dataset: str | None, data_root: str | Path | None, classes: int,
                     size: int | None) -> tuple[Dataset, int, str]:
    """The dataset whose masks the probe predicts, the input side the encoder sees, and what the
    masks hold (the rows' probe_label), as the dataset's registered capabilities say."""
    from infomin_cli.data import DATASETS, load_dataset

    name = run.config.dataset if dataset is None else dataset
    entry = DATASETS.get(name)
    if name == run.config.dataset:
        data, side = run.dataset, int(run.image_size if size is None else size)
    else:
        data = entry.load(data_root, size, classes=classes) if entry.class_sets else load_dataset(name, data_root, size)
        side = int(as_source(data.test).shape[-1] if size is None else size)
    if data.train.masks is None or data.test.masks is None:
        masked = [other for other, e in DATASETS.items() if e.masks]
        raise InfominError(f"dataset {data.name!r} has no segmentation masks; datasets with masks: {', '.join(masked)}")
    return data, side, entry.mask_label.format(classes=classes)


def _existing_rows(results: Path | None, match: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    if results is None or not Path(results).is_file() or Path(results).stat().st_size == 0:
        return []
    from infomin_cli.results.table import matching, read_results

    rows = read_results(results)
    keep = rows["metric_name"].astype(str).isin(SEG_METRICS) & matching(rows, settings)
    for column, value in match.items():
        if column in rows.columns:
            keep &= rows[column].fillna("").astype(str) == str(value)
    found = rows[keep].drop_duplicates("metric_name", keep="last")
    return found.to_dict("records") if set(found["metric_name"]) == set(SEG_METRICS) else []


def segmentation_probe_run(run_dir: str | Path, dataset: str | None = None, data_root: str | Path | None = None,
                           classes: int = 40, layer: str | None = None, random_init: bool = False,
                           results: str | Path | None = "results.csv", epochs: int = SEG_EPOCHS, device: str = "auto",
                           knob: str | None = None, size: int | None = None, progress: Any = None,
                           *, probe_task: str, run=None, precision: str | None = None,
                           look_in: str | Path | None = None) -> list[dict[str, Any]]:
    """Train the decoder on the train split's frozen maps; mIoU and pixel accuracy on the test split.

    Returns the two rows (`miou`, `pixel_acc`), appended to `results` unless None. When `results`
    (or `look_in`) already holds both rows of this probe they are returned, marked `"skipped": True`,
    untrained. `probe_task`: the rows' task (the registry's name). `run`: the already loaded run (a sweep point's), as `load_run(run_dir, device,
    random_init)`; `precision`: the encoder's (None: the run's own)."""
    from infomin_cli.results import append_row
    from infomin_cli.runs import build_views, load_run, run_config

    started = time.perf_counter()
    check_seg_size(run.config if run is not None else run_config(run_dir), size)
    if run is not None and run.trained == random_init:
        raise ValueError(f"segmentation_probe_run(random_init={random_init}) was handed a run loaded the other way")
    if run is None:
        run = load_run(run_dir, device, random_init=random_init, precision=precision)
    layer = layer or run.model.encoders[0].default_probe_layer
    if layer not in run.model.layers:
        raise InfominError(f"encoder {run.config.encoder!r} has no layer {layer!r}; its layers: {', '.join(run.model.layers)}")
    data, side, label = load_seg_dataset(run, dataset, data_root, classes, size)
    columns = run_columns(run, knob, None if data.name == run.config.dataset else data.name)
    match = {**{k: columns[k] for k in ("run_id", "config_hash", "dataset")}, "probe_label": label, "probe_layer": layer}
    settings = {"probe_task": probe_task, "probe_epochs": epochs}  # rows from before these columns: trusted
    look_in = results if look_in is None else look_in
    existing = _existing_rows(Path(look_in) if look_in is not None else None, match, settings)
    if existing:
        return [{**row, "skipped": True} for row in existing]

    views = run.views if side == run.image_size else build_views(run.config, side)
    try:
        train_x = extract_feature_maps(run.model, views, data.train, run.device, layer, precision=run.precision)
        test_x = extract_feature_maps(run.model, views, data.test, run.device, layer, precision=run.precision)
    except ValueError as exc:  # a pooled / flat layer
        raise InfominError(f"segmentation needs a conv layer's map: {exc}") from None
    n_classes = len(data.mask_names) or int(data.train.masks[data.train.masks != MASK_IGNORE].max()) + 1
    tag = hashlib.sha256(json.dumps([data.name, label, side, layer, epochs, run.trained, list(DECODER_WIDTHS)])
                         .encode()).hexdigest()[:10]
    checkpoint = run.folder / f"seg-probe-{label}-{layer}{'-random-init' if not run.trained else ''}-{tag}.pt"
    confusion = train_decoder(train_x, data.train.masks.to(run.device), test_x, data.test.masks.to(run.device),
                              n_classes, epochs=epochs, seed=run.config.seed, checkpoint=checkpoint, progress=progress)
    seconds, transfer = time.perf_counter() - started, None if data.name == run.config.dataset else data.name
    rows = [probe_row(run, label, layer, value, seconds, knob, transfer, epochs, probe_task, metric)
            for metric, value in (("miou", mean_iou(confusion)), ("pixel_acc", pixel_accuracy(confusion)))]
    if results is not None:
        for row in rows:
            append_row(results, row)
    return rows
