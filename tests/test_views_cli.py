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
    # 32 px views enlarged twice (tiles of at least 64 px), two lines of column names above
    assert height == 2 * 15 + 3 * 66 + 2 and width == 4 * 66 + 2  # original | L | a | b


def _names_above(picture: Image.Image, top: int, spans: list[tuple[int, int]]) -> list[bool]:
    """Whether dark text stands in the band of height `top` above each (x0, x1) span."""
    gray = picture.convert("L")
    return [any(gray.getpixel((x, y)) < 100 for x in range(x0, x1) for y in range(top)) for x0, x1 in spans]


def test_a_view_grid_names_its_columns(tmp_path):
    """original | view 1 | view 2 over the tiles, and each channel of a view shown as grey tiles."""
    from infomin_cli.views.display import view_grid

    pair = VIEWS.get("lab-split").make({}, 32)
    images = _tiny().test.images[:2, :, :32, :32].contiguous()
    picture, caption = view_grid(pair, images, torch.Generator().manual_seed(0))
    tile = [(2 + c * 66, 2 + c * 66 + 64) for c in range(4)]  # original, L, a, b
    assert _names_above(picture, 15, [tile[0], tile[1], (tile[2][0], tile[3][1])]) == [True] * 3  # top line
    band = picture.crop((0, 15, picture.width, 30))
    assert _names_above(band, 15, tile) == [False, False, True, True]  # "ch 1", "ch 2" under view 2 only
    assert "view 2 (2 tile(s))" in caption


def test_datasets_show_names_each_sample_by_its_first_label(tmp_path):
    from infomin_cli.views.display import sample_grid

    images = _tiny().test.images[:4, :, :16, :16]
    named = sample_grid(images, ["cat", "dog", "cat", "dog"], scale=4, title="tiny: 4 images")
    bare = sample_grid(images, [], scale=4)
    assert named.size == (2 * 66 + 2, 15 + 2 * (64 + 15 + 2) + 2) and bare.size == (2 * 66 + 2, 2 * 66 + 2)
    under = named.crop((0, 15 + 2 + 64, named.width, 15 + 2 + 64 + 15))  # the strip under the first row
    assert _names_above(under, 15, [(2, 66), (68, 132)]) == [True, True]
    out = tmp_path / "samples.png"
    result = runner.invoke(app, ["datasets", "show", TINY, "--n", "4", "--scale", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (2 * (192 + 2) + 2, 15 + 2 * (192 + 15 + 2) + 2)  # 96 px images, scale 2


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
