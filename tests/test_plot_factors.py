"""plot-factors turns a Colorful Moving MNIST sweep's rows into the paper's Table 1 (B.4), as errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.plots.factors import TASKS, load_factor_table
from infomin_cli.results.table import append_row

SETTINGS = ("digit", "background+position")  # written in this order, shown in the paper's
SEEDS = (0, 1, 2)
LAYERS = ("sequence", "image")
METRIC = {"digit": ("top1", "%"), "position": ("px_error", "px"), "background": ("top1", "%")}


def value(setting: str, seed: int, label: str, layer: str) -> float:
    """A distinct, known number per row, so a wrong grouping cannot pass by accident."""
    base = {"digit": 80.0, "position": 3.0, "background": 40.0}[label]
    shift = {"digit": 0.0, "background+position": 7.0, "supervised": 12.0, "untrained": 9.0}[setting]
    return base + shift + 1.3 * seed ** 2 + (5.0 if layer == "image" else 0.0)


def row(setting: str, seed: int, label: str, layer: str, metric_value: float | None = None, **extra) -> dict:
    name, unit = METRIC[label]
    return {"run_id": f"{setting}-s{seed}", "config_hash": hashlib.sha256(f"{setting}/{seed}".encode()).hexdigest()[:16],
            "dataset": "moving-mnist", "views": "moving-mnist", "knob_name": "shared", "knob_value": setting,
            "seed": seed, "probe_label": label, "probe_layer": layer, "probe_task": "classification",
            "metric_name": name, "unit": unit,
            "metric_value": value(setting, seed, label, layer) if metric_value is None else metric_value, **extra}


@pytest.fixture
def mm_csv(tmp_path):
    """2 settings x 3 seeds x 3 labels x 2 layers, plus the two reference rows (written supervised
    first), plus another sweep's row."""
    path = tmp_path / "results" / "mm.csv"
    for setting in (*SETTINGS, "supervised", "untrained"):
        for seed in SEEDS:
            for label in METRIC:
                for layer in LAYERS:
                    append_row(path, row(setting, seed, label, layer))
    append_row(path, {"run_id": "x", "views": "infomin-aug", "knob_name": "crop-scale", "knob_value": 0.2,
                      "probe_label": "class", "probe_layer": "sequence", "metric_name": "top1", "metric_value": 1.0})
    return path


def expected(setting: str, label: str, layer: str) -> tuple[float, float]:
    raw = np.array([value(setting, s, label, layer) for s in SEEDS])
    errors = 100.0 - raw if METRIC[label][0] == "top1" else raw
    return errors.mean(), errors.std(ddof=1) / np.sqrt(len(errors))


def invoke(*args: str):
    return CliRunner().invoke(app, ["plot-factors", *map(str, args)])


def files_under(folder) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cells_are_the_seed_mean_and_standard_error_of_the_error(mm_csv):
    table = load_factor_table(mm_csv)
    for setting in (*SETTINGS, "untrained", "supervised"):
        for task in TASKS:
            cell = table.cell(setting, task)
            mean, se = expected(setting, task.label, "sequence")
            assert (cell["mean"], cell["se"], cell["n"]) == pytest.approx((mean, se, 3))


def test_accuracy_becomes_error_and_pixels_stay_pixels(mm_csv):
    table = load_factor_table(mm_csv)
    digit, position = TASKS[0], TASKS[1]
    top1 = np.mean([value("digit", s, "digit", "sequence") for s in SEEDS])
    assert table.cell("digit", digit)["mean"] == pytest.approx(100.0 - top1)
    px = np.mean([value("digit", s, "position", "sequence") for s in SEEDS])
    assert table.cell("digit", position)["mean"] == pytest.approx(px)


def test_the_layer_option_picks_the_image_encoders_rows(mm_csv):
    table = load_factor_table(mm_csv, layer="image")
    mean, _ = expected("digit", "background", "image")
    assert table.cell("digit", TASKS[2])["mean"] == pytest.approx(mean)
    assert "image encoder (frame 20)" in table.title()


def test_rows_follow_the_papers_order_then_untrained_then_supervised(mm_csv):
    assert load_factor_table(mm_csv).settings == ["digit", "background+position", "untrained", "supervised"]


def test_a_reprobed_run_counts_once_with_its_last_row(mm_csv):
    append_row(mm_csv, row("digit", 0, "digit", "sequence", metric_value=10.0))
    cell = load_factor_table(mm_csv).cell("digit", TASKS[0])
    errors = [90.0] + [100.0 - value("digit", s, "digit", "sequence") for s in SEEDS[1:]]
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(np.mean(errors))


def test_one_seed_shows_no_error_bar_and_says_n_1(tmp_path):
    path = tmp_path / "one.csv"
    for label in METRIC:
        append_row(path, row("digit", 0, label, "sequence"))
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert "±" not in result.stdout.split("| views share", 1)[1] and "(n=1)" in result.stdout


def test_cli_writes_png_and_pdf_next_to_the_csv_and_prints_the_table(mm_csv):
    result = invoke(mm_csv)
    assert result.exit_code == 0, result.output
    png, pdf = mm_csv.with_name("mm-factors-sequence.png"), mm_csv.with_name("mm-factors-sequence.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600 and image.height > 200
    mean, se = expected("background+position", "position", "sequence")
    lines = result.stdout.splitlines()
    assert "| views share | digit error (%) | position error (px) | background error (%) |" in lines
    assert any(line.startswith("| background+position |") and f"{mean:.2f} ± {se:.2f}" in line for line in lines)
    assert "3 seeds" in result.stdout and "frames 1–10" in result.stdout


def test_out_names_the_figure(mm_csv, tmp_path):
    result = invoke(mm_csv, "--layer", "image", "--out", tmp_path / "figs" / "table1.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figs" / "table1.png").is_file() and (tmp_path / "figs" / "table1.pdf").is_file()


def bad(folder, *args: str, says: str) -> None:
    before = files_under(folder)
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert files_under(folder) == before


def test_a_csv_without_moving_mnist_rows_points_at_the_preset(tmp_path):
    path = tmp_path / "other.csv"
    append_row(path, {"run_id": "r", "views": "infomin-aug", "knob_name": "crop-scale", "knob_value": 0.2,
                      "metric_name": "top1", "metric_value": 50.0})
    bad(tmp_path, path, says="infomin sweep --preset moving-mnist")


def test_a_csv_with_only_the_reference_rows_draws_nothing(tmp_path):
    path = tmp_path / "refs.csv"
    for setting in ("untrained", "supervised"):
        for label in METRIC:
            append_row(path, row(setting, 0, label, "sequence"))
    bad(tmp_path, path, says="only reference rows (untrained, supervised) for layer sequence, no point of the sweep")


def test_an_unknown_layer_names_the_layers_there(mm_csv):
    bad(mm_csv.parent, mm_csv, "--layer", "conv4", says="choose --layer from: image, sequence")


def test_a_missing_file_is_one_line(tmp_path):
    bad(tmp_path, tmp_path / "nowhere.csv", says="does not exist")


def test_a_foreign_csv_is_one_line(tmp_path):
    path = tmp_path / "foreign.csv"
    path.write_text("name,score\nalice,3\n")
    bad(tmp_path, path, says="no column")


def test_out_that_is_a_folder_is_one_line(mm_csv):
    (mm_csv.parent / "adir").mkdir()
    bad(mm_csv.parent, mm_csv, "--out", mm_csv.parent / "adir", says="is a folder")


def test_the_figure_module_draws_without_view_code():
    code = "import sys, infomin_cli.plots.factors; print(sorted(m for m in sys.modules if m.startswith('infomin_cli.views')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
