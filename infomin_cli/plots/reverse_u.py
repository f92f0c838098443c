"""Draw the reverse-U: probe accuracy against I_NCE, one line per series joined in knob order.

The figure is meant to need no caption: each point says its knob value, error bars are the
standard error across seeds in both directions, the sweet spot is starred and named, and the
title says which data, view family and knob it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from infomin_cli.plots.curves import Curves, load_curves  # noqa: E402
from infomin_cli.plots.save import save_png_pdf  # noqa: E402


def plot_reverse_u(
    paths: Sequence[str | os.PathLike[str]],
    y: str = "top1",
    x: str = "i_nce",
    label: str | None = None,
    group_by: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """CSV(s) -> PNG and PDF; returns the paths written (next to the first CSV unless `out`)."""
    curves = load_curves(paths, y=y, x=x, label=label, group_by=group_by)
    return write_figure(curves, out_stem(paths, out))


def write_figure(curves: Curves, stem: Path) -> list[Path]:
    """Save the figure as `stem`.png and `stem`.pdf."""
    return save_png_pdf(draw(curves), stem)


def out_stem(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] | None) -> Path:
    """`--out` without its suffix, else the first CSV's name (joined names for several CSVs)."""
    if out is not None:
        out = Path(out)
        return out.with_suffix("") if out.suffix.lower() in (".png", ".pdf") else out
    first = Path(paths[0])
    stems = [Path(p).stem for p in paths]
    name = "+".join(stems) if len(stems) <= 3 else f"{stems[0]}+{len(stems) - 1}-more"
    return first.with_name(name)


def _short(value: object) -> str:
    """Knob values as labels: 3 significant digits (log-spaced points print as 0.757858 otherwise)."""
    try:
        return f"{float(str(value)):.3g}"
    except ValueError:
        return str(value)


def draw(curves: Curves) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
    points = curves.points
    best = curves.sweet_spots()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (series, group) in enumerate(points.groupby("series", sort=False)):
        colour = colours[i % len(colours)]
        axes.errorbar(
            group["x"], group["y"], xerr=group["x_se"], yerr=group["y_se"],
            color=colour, marker="o", markersize=5, linewidth=1.5, capsize=3, elinewidth=1,
            label=series or None,
        )
        box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
        for _, point in group.iterrows():
            axes.annotate(
                _short(point["knob_value"]), (point["x"], point["y"]), textcoords="offset points", xytext=(7, 6),
                fontsize=8, color=colour, bbox=box,
            )
        top = best[best["series"] == series].iloc[0]
        axes.plot(top["x"], top["y"], marker="*", markersize=17, color=colour, markeredgecolor="black", zorder=5)
        knob = f"{top['knob_name']}=" if top["knob_name"] else ""
        axes.annotate(
            f"sweet spot {knob}{_short(top['knob_value'])}", (top["x"], top["y"]), textcoords="offset points",
            xytext=(0, -19), ha="center", fontsize=8, fontweight="bold", color=colour, bbox=box, zorder=6,
        )
    axes.set_xlabel(curves.x_label)
    axes.set_ylabel(curves.y_label)
    axes.set_title(curves.title, fontsize=11)
    axes.grid(alpha=0.3)
    seeds = sorted(set(points["n"]))
    note = f"mean ± s.e. over {seeds[0]} seed{'s' if seeds[0] != 1 else ''}" if len(seeds) == 1 else (
        f"mean ± s.e. over {seeds[0]}–{seeds[-1]} seeds"
    )
    axes.text(0.99, 0.01, note, transform=axes.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")
    if points["series"].nunique() > 1 or points["series"].iloc[0]:
        axes.legend(fontsize=8, loc="best")
    axes.margins(x=0.12, y=0.15)
    figure.tight_layout()
    return figure
