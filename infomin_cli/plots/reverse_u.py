"""Draw the reverse-U: probe accuracy against I_NCE, one line per series joined in knob order.

The figure is meant to need no caption: each point says its knob value, error bars are the
standard error across seeds in both directions, the title says which data, view family and knob
it is, and below the plot one line per series says whether the curve has a sweet spot by the bar
(`curves.Shape`: the best mean at an interior knob value, more than 2 s.e. of the difference above
both ends). Only a curve that clears it gets a star, and its line says by how much; any other says
why it has none. No label overlaps another label, a marker or the legend (`labels.py`).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.path import Path as LinePath  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from infomin_cli.plots.curves import Curves, load_curves, shapes, short_value  # noqa: E402
from infomin_cli.plots.labels import Label, place_labels  # noqa: E402
from infomin_cli.plots.save import DPI, save_png_pdf  # noqa: E402

SWEET_SPOT = "sweet-spot"  # gid of the star marking a sweet spot
MARKER, STAR = 5, 17  # marker sizes in points
CAPTION_WIDTH = 78  # characters per line of a series' verdict below the plot


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


def draw(curves: Curves) -> plt.Figure:
    figure = plt.figure(figsize=(6.4, 4.8), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    points = curves.points
    judged = {shape.series: shape for shape in shapes(curves)}
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    named = points["series"].nunique() > 1 or bool(points["series"].iloc[0])
    handles, texts, text_colours = [], [], []
    series_points = []
    for i, (series, group) in enumerate(points.groupby("series", sort=False)):
        colour = colours[i % len(colours)]
        axes.errorbar(group["x"], group["y"], xerr=group["x_se"], yerr=group["y_se"], color=colour, marker="o",
                      markersize=MARKER, linewidth=1.5, capsize=3, elinewidth=1)
        series_points.append((group, colour))
        shape = judged[series]
        if shape.clears:
            axes.plot(shape.best["x"], shape.best["y"], marker="*", markersize=STAR, color=colour,
                      markeredgecolor="black", zorder=5, gid=SWEET_SPOT, linestyle="none")
        if named:
            handles.append(Line2D([], [], color=colour, marker="o", markersize=MARKER))
            texts.append(series)
            text_colours.append(colour)
        mark = Line2D([], [], marker="*", markersize=11, color=colour, markeredgecolor="black", linestyle="none")
        handles.append(mark if shape.clears else Line2D([], [], linestyle="none"))
        texts.append(textwrap.fill(shape.caption(), CAPTION_WIDTH))
        text_colours.append(colour if shape.clears else "0.25")
    axes.set_xlabel(curves.x_label)
    axes.set_ylabel(curves.y_label)
    axes.set_title(curves.title, fontsize=11)
    axes.grid(alpha=0.3)
    axes.margins(x=0.12, y=0.15)
    handles.append(Line2D([], [], linestyle="none"))
    texts.append(_seeds_note(points))
    text_colours.append("0.4")
    legend = figure.legend(handles, texts, loc="outside lower center", fontsize=8, frameon=False, handlelength=1.5,
                           alignment="left")
    for text, colour in zip(legend.get_texts(), text_colours, strict=True):
        text.set_color(colour)
    figure.canvas.draw()  # the layout is final from here: labels are placed in display space
    _label_points(axes, series_points, judged, figure.canvas.get_renderer())
    return figure


def _label_points(axes, series_points, judged, renderer) -> None:
    """Every point's knob value, placed clear of every other label and marker (labels.py)."""
    to_display = axes.transData.transform
    scale = axes.figure.dpi / 72
    labels, markers, lines = [], [], []
    for group, colour in series_points:
        shape = judged[group["series"].iloc[0]]
        xy = to_display(group[["x", "y"]].to_numpy())
        lines.append(LinePath(xy))
        for (_, point), (px, py) in zip(group.iterrows(), xy, strict=True):
            labels.append(Label(point["x"], point["y"], short_value(point["knob_value"]), colour))
            star = shape.clears and point["knob_value"] == shape.best["knob_value"]
            half = (STAR if star else MARKER) / 2 * scale + 1
            markers.append(Bbox.from_extents(px - half, py - half, px + half, py + half))
            for (x0, y0), (x1, y1) in (((point["x"] - point["x_se"], point["y"]), (point["x"] + point["x_se"], point["y"])),
                                       ((point["x"], point["y"] - point["y_se"]), (point["x"], point["y"] + point["y_se"]))):
                if (x0, y0) != (x1, y1):
                    lines.append(LinePath(to_display([(x0, y0), (x1, y1)])))
    place_labels(axes, labels, renderer, markers, lines)


def _seeds_note(points) -> str:
    seeds = sorted(set(points["n"]))
    if len(seeds) == 1:
        return f"mean ± s.e. over {seeds[0]} seed{'s' if seeds[0] != 1 else ''}"
    return f"mean ± s.e. over {seeds[0]}–{seeds[-1]} seeds"
