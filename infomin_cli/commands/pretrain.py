"""`infomin pretrain`: parse flags into a RunConfig, train, then measure held-out I_NCE.

Under `torchrun --nproc_per_node N -m infomin_cli pretrain ...` every rank runs this command and
rank 0 alone prints the summary (runtime/distributed.py).
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
    resolve_training,
    run_folder,
    training_options,
)
from infomin_cli.progress import announce


def register(app: typer.Typer) -> None:
    @app.command(cls=RunFolderCommand)
    @added_options("folder", RUN_FOLDER_OPTIONS)
    @training_options()
    def pretrain(
        knob: list[str] = typer.Option(None, help="A view knob, name=value (repeatable), e.g. crop-scale=0.2.",
                                       rich_help_panel=DATA),
        out: Path = typer.Option(None, help="Run folder: checkpoint, config.yaml, metrics.csv, summary.json.",
                                 show_default="runs/latest", rich_help_panel=RUN),
        quiet: bool = typer.Option(False, help="No progress bars.", rich_help_panel=RUN),
        json_out: bool = typer.Option(False, "--json", help="End with the summary as one JSON line instead of a few "
                                      "human lines.", rich_help_panel=RUN),
        training: dict[str, Any] = None,
        folder: dict[str, Any] = None,
    ) -> None:
        """Contrastive pretraining of encoders on two views of the data (any objective)."""
        out = run_folder(out, folder["resume"], folder["resume_from"], Path("runs/latest"))[0]
        summary = train(training, out=out, resume=folder["resume"], resume_from=folder["resume_from"], knob=knob,
                        quiet=quiet)
        # torch: loaded by now (train), never before a typo is answered
        from infomin_cli.runtime.distributed import ranks

        if not ranks().main:  # under torchrun: rank 0 reports for the run
            return
        keys = ("run_id", "config_hash", "objective", "loss", "i_nce_train", "K_train", "i_nce", "K", "log_K",
                "knn_top1", "epochs", "wall_seconds")
        if json_out:
            typer.echo(json.dumps({k: summary.get(k) for k in keys}))
            return
        typer.echo(closing_lines(out, summary))


def train(training: dict[str, Any], *, out: Path | None = None, resume: bool = False, resume_from: Path | None = None,
          knob: list[str] | None = None, quiet: bool = False) -> dict[str, Any]:
    """What `infomin pretrain` does, for the command and for the Python API (`infomin_cli.api.pretrain`):
    resolve the config (defaults <- preset <- --config <- flags; a resumed run's own config.yaml),
    refuse bad input before any data is read, train, measure held-out I_NCE; returns summary.json's
    fields. `training`: the shared training options (`commands/_options.py`), None where not given."""
    from infomin_cli.config import parse_knob_args
    from infomin_cli.paths import check_run_folder

    out, resume = run_folder(out, resume, resume_from, Path("runs/latest"))
    config = resolve_training(training, resume=out if resume else None, knobs=parse_knob_args(knob) or None)
    check_run_folder(out, "--out", resume)  # before any data is read
    # torch loads here, after the checks above: a typo is answered at once
    from infomin_cli.pipeline import LOADED_RUN, train_run
    from infomin_cli.runtime.distributed import ranks

    if ranks().main:
        announce(f"loading data{f' ({config.dataset})' if config.dataset else ''}…", quiet)
    summary = train_run(config, out, resume=resume, progress=not quiet)
    return {k: v for k, v in summary.items() if k != LOADED_RUN}


def closing_lines(out: Path, summary: dict[str, Any]) -> str:
    """Where the run is, what it learned by its own measures, how long it took, and what to run next."""
    lines = [f"run     {out}  ({summary.get('epochs')} epochs, {summary.get('wall_seconds', 0.0):.0f} s)"]
    if summary.get("i_nce") is not None:
        saturated = "  - near log K: raise K with `infomin mi-estimate RUN --negatives N`" \
            if summary.get("i_nce_saturated") else ""
        lines.append(f"I_NCE   {summary['i_nce']:.2f} of log K = {summary['log_K']:.2f} nats "
                     f"(held-out, K = {summary['K']}){saturated}")
    if summary.get("knn_top1") is not None:
        lines.append(f"k-NN    {summary['knn_top1']:.1f} % top-1 on the held-out split")
    lines.append(f"next    infomin probe {out}    (linear probe; --random-init for the untrained baseline)")
    return "\n".join(lines)
