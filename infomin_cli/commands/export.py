"""`infomin export`: a trained run's backbone as torchvision or Detectron2 weights."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        run: Path = typer.Argument(..., help="Run folder written by `infomin pretrain --out` (a resnet18/resnet50 run)."),
        format: str = typer.Option(..., "--format", help="torchvision (state_dict, .pth) or detectron2 (pickle, .pkl)."),
        out: Path = typer.Option(..., help="File to write, e.g. r50.pth or r50.pkl (split encoders: two files, -view1/-view2)."),
    ) -> None:
        """Export the encoder for downstream use: torchvision.models.resnet* or Detectron2 (paper C.4/D)."""
        from infomin_cli.export import export_run

        for path in export_run(run, format, out):
            typer.echo(f"{run} -> {path} ({format})")
