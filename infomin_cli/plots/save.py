"""Every figure is written the same way: a PNG for the README and a PDF for papers, side by side."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

DPI = 150  # figures are drawn at the resolution their PNG is saved at, so label placement holds in the file


def save_png_pdf(figure: plt.Figure, stem: Path) -> list[Path]:
    """`stem`.png and `stem`.pdf (folders made as needed); closes the figure; returns the paths."""
    written = []
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".pdf"):
        path = stem.with_suffix(suffix)
        figure.savefig(path, dpi=DPI, bbox_inches="tight")
        written.append(path)
    plt.close(figure)
    return written
