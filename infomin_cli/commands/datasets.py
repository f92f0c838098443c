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
        """Save a grid of the first N test images, with their labels printed."""
        import math

        import torch
        from PIL import Image

        from infomin_cli.data import DATASETS, load_dataset
        from infomin_cli.data.source import as_source
        from infomin_cli.paths import check_image_file

        check_image_file(out, "--out")
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
        images = test.batch(torch.arange(min(n, len(test))))
        side = math.ceil(math.sqrt(len(images)))
        h, w = images.shape[-2:]
        grid = torch.full((3, side * (h + 2), side * (w + 2)), 255, dtype=torch.uint8)
        for i, image in enumerate(images):
            while image.ndim > 3:  # a frame sequence (T, C, H, W): show its first frame
                image = image[0]
            r, c = divmod(i, side)
            grid[:, r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = image[:3]
        picture = Image.fromarray(grid.permute(1, 2, 0).numpy())
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        out.parent.mkdir(parents=True, exist_ok=True)
        picture.save(out)
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
