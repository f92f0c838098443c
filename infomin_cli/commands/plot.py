"""`infomin plot-reverse-u`: results CSV(s) -> the reverse-U figure (PNG + PDF)."""

from __future__ import annotations

from pathlib import Path

import typer

from infomin_cli.paths import check_output_file


def declared_choices(views: str, knob: str) -> list[str]:
    """A categorical knob's declared order, from the view registry (plots/ does not import views/)."""
    from infomin_cli.views import VIEWS

    if views not in VIEWS:
        return []
    knobs = [k for k in VIEWS.get(views).knobs if k.name == knob]
    return list(knobs[0].choices) if knobs else []


def register(app: typer.Typer) -> None:
    @app.command("plot-reverse-u")
    def plot_reverse_u(
        csv: list[Path] = typer.Argument(..., help="Results CSV(s) with the documented columns (any origin)."),
        group_by: list[str] = typer.Option(
            [], "--group-by", help="Column whose values make separate series, e.g. head, objective, views."
        ),
        y: str = typer.Option("top1", "--y", help="Probe metric (metric_name) on the y axis; 'accuracy' means top1."),
        x: str = typer.Option("i_nce", "--x", help="i_nce (the run's held-out I_NCE) or mi:<estimator> rows joined by run_id."),
        label: str | None = typer.Option(None, "--label", help="Which probe_label's rows to plot (default: class)."),
        out: Path | None = typer.Option(None, "--out", help="Output path; .png and .pdf are both written. Default: next to the CSV."),
    ) -> None:
        """Plot accuracy against I_NCE, points labelled by knob value; a sweet spot (> 2 s.e. over both ends) starred."""
        # pandas and matplotlib load here, when plotting, not when the CLI starts
        from infomin_cli.plots.curves import load_curves, shape_report, shapes
        from infomin_cli.plots.reverse_u import out_stem, write_figure

        if out is not None:
            check_output_file(out, "--out")  # a folder named by --out is refused, not written beside
        stem = out_stem(csv, out)
        for suffix in (".png", ".pdf"):
            check_output_file(stem.with_suffix(suffix), "--out")
        curves = load_curves(csv, y=y, x=x, label=label, group_by=group_by, declared_choices=declared_choices)
        for path in write_figure(curves, stem):
            typer.echo(f"wrote {path}")
        for shape in shapes(curves):  # "sweet spot" only where the curve clears the bar; else its best point
            if shape.best is None:
                continue
            best, name = shape.best, f"[{shape.series}] " if shape.series else ""
            typer.echo(
                f"{name}{'sweet spot' if shape.clears else 'best'} {best['knob_name']}={best['knob_value']}: "
                f"{best['y']:.2f} ± {best['y_se']:.2f} at I_NCE {best['x']:.3f} ± {best['x_se']:.3f} (n={best['n']})"
            )
        for line in shape_report(curves):
            typer.echo(line)
