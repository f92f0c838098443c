"""`infomin views`: list every view family and its knobs; `infomin views show`: a grid of examples."""

from __future__ import annotations

from pathlib import Path

import typer

from infomin_cli import ranges
from infomin_cli.commands._options import threads_option
from infomin_cli.paths import check_image_file

TITLE = "View families (infomin views show FAMILY --knob name=value)"
HEADERS = ("family", "knob", "type", "range", "paper default", "section", "summary")


def family_rows() -> list[tuple[str, ...]]:
    """One row per (family, knob): the same table `sweep` and `--knob` validation read."""
    from infomin_cli.views import VIEWS

    rows = []
    for name, family in VIEWS.items():
        fixed = ", ".join(f"{k}={v}" for k, v in family.fixed.items())
        summary = family.summary + (f" [fixed: {fixed}]" if fixed else "")
        if not family.knobs:
            rows.append((name, "-", "-", "-", "-", family.section, summary))
        for i, knob in enumerate(family.knobs):
            kind = knob.kind + (" (log)" if knob.log else "")
            choices = ", ".join(knob.choices)  # spaces, so a long choice list wraps between names
            rows.append((
                name if i == 0 else "",
                knob.name,
                kind,
                choices if knob.choices else knob.range_text(),
                str(knob.default),
                knob.section,
                summary if i == 0 else knob.help,
            ))
    return rows


def show_views(
    family_name: str,
    knobs: list[str] | None,
    dataset: str | None,
    data_root: Path | None,
    out: Path,
    n: int,
    image_size: int,
    seed: int,
) -> str:
    """Build the family, draw n example pairs from the dataset, write the PNG; returns the caption."""
    from infomin_cli.commands import _catalog

    _catalog.check("views", family_name)  # a typo is one line before torch loads
    import torch

    from infomin_cli.data import load_dataset
    from infomin_cli.data.source import as_source
    from infomin_cli.views import VIEWS, parse_knob_args
    from infomin_cli.views.base import ShowsSequences
    from infomin_cli.views.display import view_grid

    family = VIEWS.get(family_name)
    pair = family.make(parse_knob_args(knobs), image_size)
    ranges.check("n", n)
    ranges.check("image_size", image_size)
    check_image_file(out, "--out")
    from infomin_cli.data.base import default_dataset

    name = dataset or default_dataset(family.data_kind)
    data = load_dataset(name, data_root, image_size)
    source = as_source(data.pretrain)
    images = source.batch(torch.arange(min(n, len(source))))
    if isinstance(pair, ShowsSequences):  # frame sequences: frames, frame t and this v2, one sequence a row
        out.parent.mkdir(parents=True, exist_ok=True)
        pair.sheet(images).save(out)
        return f"wrote {out} ({len(images)} sequences of {family_name} on {name}: frames 1-10 | frame t | v2)"
    grid, caption = view_grid(pair, images, torch.Generator().manual_seed(seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)
    return f"wrote {out} ({len(images)} pairs of {family_name} on {name}; {caption})"


def register(app: typer.Typer) -> None:
    views_app = typer.Typer(
        help="View families: list them, or draw example view pairs.", no_args_is_help=False
    )

    @views_app.callback(invoke_without_command=True)
    def list_views(ctx: typer.Context) -> None:
        """Print every view family with its knobs (type, range, paper default, paper section)."""
        if ctx.invoked_subcommand is None:
            from infomin_cli.commands._listing import print_listing

            print_listing(TITLE, HEADERS, family_rows())

    @views_app.command("show")
    @threads_option()
    def show(
        family: str = typer.Argument(..., help="View family, e.g. infomin-aug, lab-split, freq-split."),
        knob: list[str] = typer.Option(None, help="A knob, name=value (repeatable), e.g. crop-scale=0.2."),
        dataset: str = typer.Option(None, help="Dataset (default: embedded; highres for patch families)."),
        data_root: Path = typer.Option(None, help="Folder holding the dataset's files."),
        out: Path = typer.Option(Path("views.png"), help="PNG to write."),
        n: int = typer.Option(8, help="How many images (one row of original | view 1 | view 2 each)."),
        image_size: int = typer.Option(64, help="View size in pixels (patch side for `patches`)."),
        seed: int = typer.Option(0, help="Seed of the view generator."),
    ) -> None:
        """Write a grid PNG of example view pairs."""
        typer.echo(show_views(family, knob, dataset, data_root, out, n, image_size, seed))

    app.add_typer(views_app, name="views")
