"""`infomin datasets`: what can be read, from where, with which labels; and a grid of samples."""

from __future__ import annotations

from pathlib import Path

import typer

HEADERS = ("name", "needs", "items", "labels")


def dataset_rows() -> list[tuple[str, ...]]:
    """One row per registered dataset: what it needs on disk, what an item is, its labels."""
    from infomin_cli.data import DATASETS

    return [(name, entry.needs, f"{entry.item}s, {entry.storage}", entry.describe()) for name, entry in DATASETS.items()]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="List datasets, or save a grid of samples.", invoke_without_command=True)
    app.add_typer(sub, name="datasets")

    @sub.callback()
    def list_datasets(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand:
            return
        from infomin_cli.commands._listing import print_listing

        print_listing("datasets (never downloaded)", HEADERS, dataset_rows())

    @sub.command("show")
    def show(
        name: str = typer.Argument("embedded"),
        data_root: Path = typer.Option(None),
        n: int = typer.Option(64, help="How many samples (a square grid)."),
        out: Path = typer.Option(Path("samples.png")),
        scale: int = typer.Option(3, help="Pixel upscaling for readability."),
    ) -> None:
        """Save a grid of the first N test images, each named by its first label, with their labels printed."""
        from infomin_cli.commands import _catalog
        from infomin_cli.paths import check_image_file

        check_image_file(out, "--out")
        _catalog.check("datasets", name)  # a typo is one line before torch loads
        import torch

        from infomin_cli.data import DATASETS, load_dataset
        from infomin_cli.data.source import as_source

        data = load_dataset(name, data_root)
        test = as_source(data.test)
        if DATASETS.get(name).item == "sequence":  # one sequence a row, with v2 for every choice of shared factors
            from infomin_cli.views.moving_mnist import contact_sheet

            n = min(n, 8)
            items = test.batch(torch.arange(min(n, len(test))))
            out.parent.mkdir(parents=True, exist_ok=True)
            contact_sheet(items, scale).save(out)
            _echo_labels(data, test, n)
            typer.echo(f"wrote {out}")
            return
        from infomin_cli.views.display import sample_grid

        images = test.batch(torch.arange(min(n, len(test))))
        key, names = next(iter(test.labels), None), []
        if key is not None:  # each image named by its first label (the class, where there is one)
            values, label_names = test.labels[key][: len(images)].tolist(), data.label_names.get(key)
            names = [label_names[v] if label_names else str(v) for v in values]
        title = f"{name}: the first {len(images)} test images" + (f", each with its {key}" if key else "")
        out.parent.mkdir(parents=True, exist_ok=True)
        sample_grid(images, names, scale, title).save(out)
        _echo_labels(data, test, n)
        typer.echo(f"wrote {out}")


def _echo_labels(data, test, n: int) -> None:
    from infomin_cli.data.source import targets_of

    for key, values in test.labels.items():
        names = data.label_names.get(key)
        shown = [names[v] if names else str(v) for v in values[: min(n, 16)].tolist()]
        typer.echo(f"{key:>10}: {' '.join(shown)}{' ...' if n > 16 else ''}")
    for key, values in targets_of(test).items():  # regression targets, e.g. a position in px
        shown = [f"({x:.1f},{y:.1f})" for x, y in values[: min(n, 8)].tolist()]
        typer.echo(f"{key:>10}: {' '.join(shown)}")
