"""`infomin learn-views`: train an invertible view generator (paper B.5) in a run folder.

It is the trainer's own loop (engine/pretrain.py) with the `learn-views` objective, which owns a
two-player step; the folder has config.yaml, checkpoint.pt (--resume), metrics.csv (I_NCE and each
view's classifier accuracy per epoch) and generators/epoch-NNNN.pt, the trajectory that
`--views learned --knob generator=FOLDER@EPOCH` reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from infomin_cli.runtime.precision import PRECISION

MODE_PRESETS = {"unsupervised": "learned-views-unsup", "semi-supervised": "learned-views-semi",
                "supervised": "learned-views-sup"}


def register(app: typer.Typer) -> None:
    @app.command("learn-views")
    def learn_views(
        from_: str = typer.Option("rgb", "--from", help="Colour space g starts from (any of `infomin views`' colorspace-split spaces)."),
        flow: str = typer.Option(None, help="vp (additive coupling, log-det 0) or nvp (affine, bounded scale)."),
        mode: str = typer.Option("semi-supervised", help="unsupervised, semi-supervised or supervised (classifiers only)."),
        labelled: float = typer.Option(None, help="Fraction of the labelled train split the classifiers see (default 0.1)."),
        blocks: int = typer.Option(None, help="Coupling blocks of g (default 3: X1 = channel 0, then 1, then 2)."),
        generator_lr: float = typer.Option(None, help="Adam learning rate of g (paper: 2e-4)."),
        lr: float = typer.Option(None, help="Adam learning rate of the I_NCE approximator (paper: 6e-4)."),
        epochs: int = typer.Option(None, help="View-learning epochs."),
        batch_size: int = typer.Option(None, help="Batch size (K of the in-batch bound); labelled batches are half."),
        temperature: float = typer.Option(None, help="Temperature of the critic's InfoNCE."),
        encoder: str = typer.Option(None, help="Critic and classifier encoder: convnet (fast CPU), alexnet-half (the paper's)."),
        crop_scale: float = typer.Option(None, help="RandomResizedCrop lower area bound (CMC: 0.2)."),
        save_every: int = typer.Option(None, help="Keep g every N epochs (always at epoch 0 and the last)."),
        dataset: str = typer.Option(None, help="embedded (default), stl10, cifar10, ..."),
        data_root: Path = typer.Option(None, help="Folder holding the dataset's files (never downloaded)."),
        image_size: int = typer.Option(None, help="Input size (default: the dataset's; the paper: 64 on STL-10)."),
        limit: int = typer.Option(None, help="Use only the first N pretraining images."),
        seed: int = typer.Option(None, help="Random seed."),
        device: str = typer.Option(None, help="auto (CUDA when present), cpu, cuda, cuda:N."),
        precision: str = typer.Option(None, help=PRECISION.help + " Default: auto."),
        preset: str = typer.Option(None, help="Default: learned-views-unsup / -semi / -sup by --mode."),
        scale: str = typer.Option("embedded", help="embedded (small, CPU) or paper (the paper's settings)."),
        out: Path = typer.Option(Path("views/latest"), help="The view learner's folder."),
        resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
        quiet: bool = typer.Option(False, help="No progress bars."),
    ) -> None:
        """Learn views: a generator g minimises I_NCE(v1; v2) against a critic that maximises it (B.5)."""
        from infomin_cli.config import resolve_config
        from infomin_cli.engine.pretrain import pretrain
        from infomin_cli.errors import InfominError

        if mode not in MODE_PRESETS:
            raise InfominError(f"--mode {mode!r} is not valid; choose one of: {', '.join(MODE_PRESETS)}")
        knobs: dict[str, Any] = {"space": from_}
        if crop_scale is not None:
            knobs["crop-scale"] = crop_scale
        given = {"flow": flow, "view_mode": mode, "labelled": labelled, "flow_blocks": blocks,
                 "generator_lr": generator_lr, "lr": lr, "epochs": epochs, "batch_size": batch_size,
                 "temperature": temperature, "encoder": encoder, "save_every": save_every, "dataset": dataset,
                 "data_root": None if data_root is None else str(data_root), "image_size": image_size,
                 "limit": limit, "seed": seed, "device": device, "precision": precision}
        config = resolve_config(preset or MODE_PRESETS[mode], given, scale)
        # g re-mixes a colour-space split; the k-NN monitor would read the critic on un-mixed views
        config = config.merged({"objective": "learn-views", "views": "colorspace-split", "knobs": knobs,
                                "knn_monitor": False})
        summary = pretrain(config, out, resume=resume, progress=not quiet)
        keys = ("run_id", "config_hash", "loss", "i_nce_train", "K_train", "epochs", "wall_seconds")
        typer.echo(json.dumps({k: summary.get(k) for k in keys}))
