"""`infomin probe`: linear probe of a trained (or randomly initialised) run; appends to the results CSV."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def probe(
        run: Path = typer.Argument(..., help="Run folder written by `infomin pretrain --out`."),
        label: list[str] = typer.Option(["class"], help="Label(s) to probe, e.g. class, background, position, font."),
        layer: str = typer.Option(None, help="Encoder layer to read (default: the paper protocol's, e.g. conv5)."),
        random_init: bool = typer.Option(False, help="Probe the same architecture untrained (the baseline)."),
        results: Path = typer.Option(Path("results.csv"), help="Results CSV to append to."),
        epochs: int = typer.Option(100, help="Epochs of the linear classifier (the paper uses 100)."),
        device: str = typer.Option("auto"),
        dataset: str = typer.Option(None, help="Probe on another dataset than the run's (transfer), e.g. stl10."),
        data_root: Path = typer.Option(None, help="Folder of --dataset's files."),
    ) -> None:
        """Linear probe on frozen features: top-1 on the test split, one CSV row per label."""
        from infomin_cli.evaluate.probe import probe_run

        for name in label:
            row = probe_run(run, name, layer, random_init, results, epochs, device, dataset=dataset, data_root=data_root)
            i_nce = row["i_nce"]
            typer.echo(f"{row['run_id']}  {name:<10} top1 {row['metric_value']:6.2f} %   layer {row['probe_layer']}"
                       + (f"   I_NCE {i_nce:.3f}" if i_nce is not None else "") + f"   -> {results}")
