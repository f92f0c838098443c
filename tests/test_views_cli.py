"""`infomin views` lists every family's knobs; `views show` writes a grid; bad input exits 2 in one line."""

import torch
from PIL import Image
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.data.base import DATASETS, Dataset, ImageSet, register_dataset
from infomin_cli.views import VIEWS

torch.set_num_threads(1)
runner = CliRunner()
TINY = "views-cli-tiny"


def _tiny(root=None, image_size=None):
    images = torch.randint(
        0, 256, (6, 3, 96, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    part = ImageSet(images, {"class": torch.arange(6) % 2})
    return Dataset(TINY, part, part, part)


if TINY not in DATASETS:
    register_dataset(TINY)(_tiny)


def test_views_lists_every_family_with_its_knobs_ranges_defaults_and_sections():
    result = runner.invoke(app, ["views"], terminal_width=250)
    assert result.exit_code == 0, result.output
    for name, family in VIEWS.items():
        assert name in result.output
        for knob in family.knobs:
            assert knob.name in result.output and knob.section in result.output
    assert "crop, crop+jitter" in result.output and "[0.1, 8]" in result.output


def test_views_show_writes_a_grid_png_of_n_rows(tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(
        app,
        [
            "views",
            "show",
            "lab-split",
            "--dataset",
            TINY,
            "--n",
            "3",
            "--image-size",
            "32",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    width, height = Image.open(out).size
    assert height == 3 * 34 + 2 and width == 4 * 34 + 2  # original | L | a | b


def test_views_show_accepts_knobs(tmp_path):
    out = tmp_path / "aug.png"
    args = ["views", "show", "infomin-aug", "--knob", "level=infomin+jigsaw", "--knob", "crop-scale=0.5"]
    result = runner.invoke(
        app, [*args, "--dataset", TINY, "--n", "2", "--image-size", "24", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_unknown_family_exits_2_with_one_line_listing_the_families(tmp_path):
    result = runner.invoke(
        app, ["views", "show", "nope", "--dataset", TINY, "--out", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "infomin-aug" in lines[0] and "lab-split" in lines[0]


def test_bad_knob_exits_2_with_one_line_naming_the_valid_range_or_knobs(tmp_path):
    out = str(tmp_path / "x.png")
    result = runner.invoke(
        app, ["views", "show", "freq-split", "--knob", "sigma=99", "--dataset", TINY, "--out", out]
    )
    assert (
        result.exit_code == 2 and "[0.1, 8]" in result.output and len(result.output.strip().splitlines()) == 1
    )
    result = runner.invoke(
        app, ["views", "show", "freq-split", "--knob", "blur=1", "--dataset", TINY, "--out", out]
    )
    assert result.exit_code == 2 and "sigma, crop-scale" in result.output
