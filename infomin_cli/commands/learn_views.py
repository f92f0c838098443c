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

from infomin_cli.commands._options import (
    DATA,
    RUN,
    RUN_FOLDER_OPTIONS,
    RunFolderCommand,
    added_options,
    in_panels,
    resolve_training,
    run_folder,
    training_options,
)

OBJECTIVE = "learn-views"
MODE_PRESETS = {"unsupervised": "learned-views-unsup", "semi-supervised": "learned-views-semi",
                "supervised": "learned-views-sup"}


# the shared training options learn-views takes (declared once, in _options.py)
TRAINING = ("lr", "epochs", "batch_size", "temperature", "encoder", "dataset", "data_root", "image_size", "limit",
            "seed", "device", "precision", "preset", "scale", "config", "print_config")


def register(app: typer.Typer) -> None:
    @app.command("learn-views", cls=RunFolderCommand)
    @added_options("folder", RUN_FOLDER_OPTIONS)
    @training_options(only=TRAINING, objectives=(OBJECTIVE,))
    @in_panels({DATA: ("from_", "crop_scale"), RUN: ("out", "quiet", "json_out")})
    def learn_views(
        from_: str = typer.Option(None, "--from", help="Colour space g starts from (any of `infomin views`' colorspace-split spaces; default rgb)."),
        crop_scale: float = typer.Option(None, help="RandomResizedCrop lower area bound (CMC: 0.2)."),
        out: Path = typer.Option(None, help="The view learner's folder (default views/latest)."),
        quiet: bool = typer.Option(False, help="No progress bars."),
        json_out: bool = typer.Option(False, "--json", help="End with the summary as one JSON line instead of a few human lines."),
        training: dict[str, Any] = None,
        folder: dict[str, Any] = None,
    ) -> None:
        """Learn views: a generator g minimises I_NCE(v1; v2) against a critic that maximises it (B.5).
        The critic's rate is --lr (paper: 6e-4), g's --generator-lr (paper: 2e-4); --preset defaults to
        learned-views-unsup / -semi / -sup by --mode."""
        from infomin_cli.errors import InfominError

        mode = training["view_mode"] or "semi-supervised"
        if mode not in MODE_PRESETS:
            raise InfominError(f"--mode {mode!r} is not valid; choose one of: {', '.join(MODE_PRESETS)}")
        out, resume = run_folder(out, folder["resume"], folder["resume_from"], Path("views/latest"))
        knobs: dict[str, Any] = {"space": from_} if from_ is not None else {}
        if crop_scale is not None:
            knobs["crop-scale"] = crop_scale
        # g re-mixes a colour-space split; the k-NN monitor would read the critic on un-mixed views
        fixed = {"objective": OBJECTIVE, "views": "colorspace-split", "knobs": knobs, "knn_monitor": False}
        if resume and (out / "config.yaml").is_file():  # its own config: only what a resume may change
            config = resolve_training(training, resume=out, **fixed)
        else:
            fixed["knobs"] = {"space": "rgb", **knobs}
            config = resolve_training({**training, "preset": training["preset"] or MODE_PRESETS[mode]}, **fixed)
        from infomin_cli.engine.pretrain import pretrain  # torch: after the checks above

        summary = pretrain(config, out, resume=resume, progress=not quiet)
        keys = ("run_id", "config_hash", "loss", "i_nce_train", "K_train", "epochs", "wall_seconds")
        if json_out:
            typer.echo(json.dumps({k: summary.get(k) for k in keys}))
            return
        typer.echo(f"views   {out}  ({summary['epochs']} epochs, {summary['wall_seconds']:.0f} s; g saved per epoch "
                   f"in {out}/generators)\n"
                   f"I_NCE   {summary['i_nce_train']:.2f} of log K = {summary['log_K_train']:.2f} nats (the critic's, "
                   f"last epoch's views)\n"
                   f"next    infomin pretrain --views learned --knob generator={out} --out runs/learned")
