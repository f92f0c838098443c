"""`infomin pretrain`: parse flags into a RunConfig and call engine.pretrain."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from infomin_cli.config import resolve_config


def register(app: typer.Typer) -> None:
    @app.command()
    def pretrain(
        views: str = typer.Option(None, help="View family (see `infomin views`), e.g. lab-split, ycbcr-split."),
        knob: list[str] = typer.Option(None, help="A view knob, name=value (repeatable), e.g. crop-scale=0.2."),
        dataset: str = typer.Option(None, help="embedded (default), stl10, cifar10, ..."),
        data_root: Path = typer.Option(None, help="Folder holding the dataset's files (never downloaded)."),
        encoder: str = typer.Option(None, help="convnet (fast CPU), alexnet-half (CMC), resnet18, resnet50."),
        head: str = typer.Option(None, help="Projection head: linear or mlp."),
        temperature: float = typer.Option(None, help="InfoNCE temperature."),
        batch_size: int = typer.Option(None, help="Batch size; in-batch InfoNCE has K = batch size."),
        epochs: int = typer.Option(None),
        lr: float = typer.Option(None),
        optimizer: str = typer.Option(None, help="sgd or adam (cosine schedule either way)."),
        weight_decay: float = typer.Option(None),
        image_size: int = typer.Option(None, help="Encoder input size (default: the dataset's)."),
        limit: int = typer.Option(None, help="Use only the first N pretraining images."),
        seed: int = typer.Option(None),
        device: str = typer.Option(None, help="auto (CUDA when present), cpu, cuda, cuda:N."),
        preset: str = typer.Option(None, help="A preset from experiments.yaml; flags override it."),
        scale: str = typer.Option("embedded", help="With --preset: embedded (small, CPU) or paper (the paper's settings)."),
        out: Path = typer.Option(Path("runs/latest"), help="Run folder: checkpoint, config.yaml, metrics.csv, summary.json."),
        resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
        quiet: bool = typer.Option(False, help="No progress bars."),
    ) -> None:
        """Contrastive pretraining of encoders on two views of the data."""
        from infomin_cli.engine.pretrain import pretrain as run_pretrain
        from infomin_cli.views import parse_knob_args

        overrides = dict(
            views=views, knobs=parse_knob_args(knob) or None, dataset=dataset,
            data_root=str(data_root) if data_root else None, encoder=encoder, head=head, temperature=temperature,
            batch_size=batch_size, epochs=epochs, lr=lr, optimizer=optimizer, weight_decay=weight_decay,
            image_size=image_size, limit=limit, seed=seed, device=device,
        )
        config = resolve_config(preset, overrides, scale)
        summary = run_pretrain(config, out, resume=resume, progress=not quiet)
        keys = ("run_id", "config_hash", "loss", "i_nce_train", "i_nce", "K", "log_K", "epochs", "wall_seconds")
        typer.echo(json.dumps({k: summary[k] for k in keys}))
