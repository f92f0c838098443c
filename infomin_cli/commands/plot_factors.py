"""`infomin plot-factors`: Colorful Moving MNIST rows of a results CSV -> the Table-1 heatmap (PNG + PDF)."""

from __future__ import annotations

from pathlib import Path

import typer

from infomin_cli.paths import check_output_file


def register(app: typer.Typer) -> None:
    @app.command("plot-factors")
    def plot_factors(
        csv: Path = typer.Argument(..., help="Results CSV of a `sweep --preset moving-mnist` (views moving-mnist, knob shared)."),
        layer: str = typer.Option(
            "sequence", "--layer",
            help="Which encoder the probes read: sequence (the LSTM over frames 1-10) or image (the ConvNet on frame 20).",
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Output path; .png and .pdf are both written. Default: <csv stem>-factors-<layer> next to the CSV.",
        ),
    ) -> None:
        """Tabulate probe error per task (columns) against the factors the views share (rows), mean ± s.e. over seeds."""
        # pandas and matplotlib load here, when plotting, not when the CLI starts
        from infomin_cli.plots.factors import default_stem, load_factor_table, markdown, write_figure

        if out is not None:
            check_output_file(out, "--out")  # a folder named by --out is refused, not written beside
        table = load_factor_table(csv, layer=layer)  # reads only; names the layers there if --layer is not one
        stem = default_stem(csv, table.layer, out)
        for suffix in (".png", ".pdf"):
            check_output_file(stem.with_suffix(suffix), "--out")
        for path in write_figure(table, stem):
            typer.echo(f"wrote {path}")
        typer.echo(markdown(table))
