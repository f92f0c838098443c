"""Point labels that overlap nothing: each label takes the first of a fixed list of spots around
its point (nearest first) whose box meets no other label, no marker and stays inside the axes,
preferring spots that no line or error bar crosses.

Placement is computed in display space after the layout is final, and every label is taken out of
the layout (`set_in_layout(False)`), so saving the figure does not move anything again. The boxes
are the labels' own window extents: a test can draw the figure and check that no two intersect.
adjustText does this job iteratively, by repulsion, with no guarantee that every overlap is gone;
a fixed candidate list gives one, or says where it could not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.path import Path
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

LABEL = "point-label"  # gid of every label placed here (tests find them by it)
DIRECTIONS = ((1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1),  # right-above first
              (1, 0.5), (-1, 0.5), (1, -0.5), (-1, -0.5), (0.5, 1), (-0.5, 1), (0.5, -1), (-0.5, -1))
DISTANCES = (5, 9, 14, 20, 28, 38, 50, 65, 85, 110)  # offset of the label's corner from its point, in points
LEADER = 9  # from this offset on, a thin line ties the label to its point
_ALIGN = {1: "left", 0: "center", -1: "right"}  # by the sign of dx: the text grows away from its point
_VALIGN = {1: "bottom", 0: "center", -1: "top"}
PAD = 1.5  # points kept clear around each label's text


@dataclass(frozen=True)
class Label:
    """A text to set beside the data point (x, y)."""

    x: float
    y: float
    text: str
    colour: str


def place_labels(axes: Axes, labels: Sequence[Label], renderer: RendererBase, markers: Sequence[Bbox] = (),
                 lines: Sequence[Path] = (), fontsize: float = 8) -> list[Annotation]:
    """Annotate each label at a spot that overlaps no other label, no marker box (display
    coordinates) and stays inside the axes; among those, the nearest, a crossing of one of `lines`
    (display paths) counting as two steps further. The most crowded points choose first. A label
    with no free spot takes the least-crowded one."""
    frame = axes.get_window_extent(renderer)
    pad = PAD * axes.figure.dpi / 72
    at = axes.transData.transform([(label.x, label.y) for label in labels]) if labels else []
    reach = 40 * axes.figure.dpi / 72
    crowding = [sum(abs(ax - bx) < reach and abs(ay - by) < reach for bx, by in at) for ax, ay in at]
    placed: list[Bbox] = []
    out = []
    for index in sorted(range(len(labels)), key=lambda i: -crowding[i]):
        label = labels[index]
        trial = _annotate(axes, label, fontsize)
        best: tuple[tuple[int, int, int], tuple[float, float, str, str]] | None = None
        for level, distance in enumerate(DISTANCES):
            for turn, (dx, dy) in enumerate(DIRECTIONS):
                spot = (dx * distance, dy * distance, _ALIGN[int(dx > 0) - int(dx < 0)], _VALIGN[int(dy > 0) - int(dy < 0)])
                box = _box(trial, spot, renderer, pad)
                clashes = (not _inside(box, frame)) + sum(box.overlaps(other) for other in (*placed, *markers))
                crossings = sum(path.intersects_bbox(box, filled=False) for path in lines)
                score = (clashes, 2 * crossings + level, turn)
                if best is None or score < best[0]:
                    best = (score, spot)
            if best is not None and best[0][0] == 0 and best[0][1] <= level:
                break  # nothing further out can beat a free spot at this distance
        assert best is not None
        trial.remove()
        dx, dy, _, _ = best[1]
        note = _annotate(axes, label, fontsize, leader=max(abs(dx), abs(dy)) >= LEADER)
        placed.append(_box(note, best[1], renderer, pad))
        out.append((index, note))
    return [note for _, note in sorted(out, key=lambda pair: pair[0])]


def _annotate(axes: Axes, label: Label, fontsize: float, leader: bool = False) -> Annotation:
    arrow = ({"arrowstyle": "-", "color": label.colour, "linewidth": 0.6, "alpha": 0.7, "shrinkA": 0, "shrinkB": 3}
             if leader else None)
    note = axes.annotate(label.text, (label.x, label.y), textcoords="offset points", xytext=(0, 0), fontsize=fontsize,
                         color=label.colour, gid=LABEL, annotation_clip=False, arrowprops=arrow,
                         bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})
    note.set_in_layout(False)
    return note


def label_boxes(axes: Axes, renderer: RendererBase) -> list[Bbox]:
    """The window extents of the texts of the labels `place_labels` set on `axes` (what must not
    intersect; a leader line is not part of its label)."""
    texts = [text for text in axes.texts if text.get_gid() == LABEL]
    for text in texts:
        text.update_positions(renderer)
    return [Text.get_window_extent(text, renderer) for text in texts]


def _box(note: Annotation, spot: tuple[float, float, str, str], renderer: RendererBase, pad: float) -> Bbox:
    dx, dy, ha, va = spot
    note.xyann = (dx, dy)
    note.set_horizontalalignment(ha)
    note.set_verticalalignment(va)
    note.update_positions(renderer)  # the text's own extent below does not follow xyann by itself
    return Text.get_window_extent(note, renderer).padded(pad)


def _inside(box: Bbox, frame: Bbox) -> bool:
    return box.x0 >= frame.x0 and box.y0 >= frame.y0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
