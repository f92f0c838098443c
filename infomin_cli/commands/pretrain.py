"""`infomin pretrain`: parse flags into a RunConfig, train, then measure held-out I_NCE.

Under `torchrun --nproc_per_node N -m infomin_cli pretrain ...` every rank runs this command and
rank 0 alone prints the summary (runtime/distributed.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from infomin_cli.commands._options import overrides, training_options
from infomin_cli.config import resolve_config


def register(app: typer.Typer) -> None:
    @app.command()
    @training_options()
    def pretrain(
        knob: list[str] = typer.Option(None, help="A view knob, name=value (repeatable), e.g. crop-scale=0.2."),
        out: Path = typer.Option(Path("runs/latest"), help="Run folder: checkpoint, config.yaml, metrics.csv, summary.json."),
        resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
        quiet: bool = typer.Option(False, help="No progress bars."),
        training: dict[str, Any] = None,
    ) -> None:
        """Contrastive pretraining of encoders on two views of the data (any objective)."""
        from infomin_cli.paths import check_run_folder
        from infomin_cli.pipeline import train_run
        from infomin_cli.runtime.distributed import ranks

        check_run_folder(out, "--out", resume)  # before any data is read
        from infomin_cli.views import parse_knob_args

        config = resolve_config(training["preset"], overrides(training, knobs=parse_knob_args(knob) or None),
                                training["scale"])
        summary = train_run(config, out, resume=resume, progress=not quiet)
        if not ranks().main:  # under torchrun: rank 0 reports for the run
            return
        keys = ("run_id", "config_hash", "objective", "loss", "i_nce_train", "K_train", "i_nce", "K", "log_K",
                "knn_top1", "epochs", "wall_seconds")
        typer.echo(json.dumps({k: summary.get(k) for k in keys}))
