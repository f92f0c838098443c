"""plot-reverse-u works from any CSV with the documented columns, written by hand or by a sweep."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.errors import InfominError
from infomin_cli.plots.curves import load_curves
from infomin_cli.plots.reverse_u import plot_reverse_u
from infomin_cli.views.base import VIEWS, Knob, ViewFamily

# Hand-written, minimal: only the columns a reverse-U needs, seeds as separate rows, one head.
HAND = """\
run_id,dataset,views,knob_name,knob_value,seed,head,i_nce,metric_name,metric_value,unit
r1,toy,aug,crop-scale,1.0,0,linear,4.0,top1,50,%
r2,toy,aug,crop-scale,1.0,1,linear,4.2,top1,52,%
r3,toy,aug,crop-scale,0.2,0,linear,3.0,top1,70,%
r4,toy,aug,crop-scale,0.2,1,linear,3.2,top1,72,%
r5,toy,aug,crop-scale,0.08,0,linear,2.0,top1,60,%
r6,toy,aug,crop-scale,0.08,1,linear,2.2,top1,58,%
r1,toy,aug,crop-scale,1.0,0,linear,4.0,mi:infonce,3.5,nats
r3,toy,aug,crop-scale,0.2,0,linear,3.0,mi:infonce,2.5,nats
r5,toy,aug,crop-scale,0.08,0,linear,2.0,mi:infonce,1.5,nats
"""


@pytest.fixture
def hand_csv(tmp_path):
    path = tmp_path / "crop.csv"
    path.write_text(HAND)
    return path


def test_points_are_seed_means_with_standard_errors_in_knob_order(hand_csv):
    points = load_curves([hand_csv]).points
    assert list(points["knob_value"]) == ["0.08", "0.2", "1"]
    mid = points.iloc[1]
    assert (mid["x"], mid["y"], mid["n"]) == pytest.approx((3.1, 71.0, 2))
    assert mid["y_se"] == pytest.approx(1.0) and mid["x_se"] == pytest.approx(0.1)


def test_sweet_spot_is_the_best_mean_accuracy(hand_csv):
    best = load_curves([hand_csv]).sweet_spots()
    assert list(best["knob_value"]) == ["0.2"]


def test_error_metrics_take_the_minimum_as_best(tmp_path):
    path = tmp_path / "pos.csv"
    path.write_text(HAND.replace("top1", "rmse"))
    curves = load_curves([path], y="rmse")
    assert list(curves.best_points()["knob_value"]) == ["1"]
    assert curves.sweet_spots().empty  # the lowest error is an end of the sweep: no sweet spot


def test_figure_files_are_written_next_to_the_csv(hand_csv):
    written = plot_reverse_u([hand_csv], y="accuracy")
    assert written == [hand_csv.with_suffix(".png"), hand_csv.with_suffix(".pdf")]
    assert all(p.stat().st_size > 5000 for p in written)
    assert hand_csv.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_x_can_be_an_mi_estimate_joined_by_run_id(hand_csv):
    curves = load_curves([hand_csv], x="mi:infonce")
    assert list(curves.points["x"]) == pytest.approx([1.5, 2.5, 3.5])
    assert "infonce (nats)" in curves.x_label


def test_a_missing_column_is_named_in_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("run_id,knob_value,metric_name,metric_value\nr1,0.2,top1,70\n")
    with pytest.raises(InfominError) as err:
        load_curves([path])
    assert "has no column 'i_nce'" in str(err.value) and "\n" not in str(err.value)


def test_cli_reports_a_missing_column_without_a_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("run_id,knob_value,metric_name,metric_value\nr1,0.2,top1,70\n")
    result = CliRunner().invoke(app, ["plot-reverse-u", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1 and "i_nce" in result.stderr


def test_unknown_metric_lists_the_metrics_present(hand_csv):
    with pytest.raises(InfominError, match="metrics there: top1$"):
        load_curves([hand_csv], y="top5")


def test_group_by_makes_one_series_per_value_across_files(hand_csv, tmp_path):
    mlp = tmp_path / "crop_mlp.csv"
    mlp.write_text(HAND.replace(",linear,", ",mlp,").replace(",r", ",m").replace("\nr", "\nm"))
    curves = load_curves([hand_csv, mlp], group_by=["head"])
    assert list(dict.fromkeys(curves.points["series"])) == ["head=linear", "head=mlp"]
    assert len(curves.points) == 6 and set(curves.sweet_spots()["knob_value"]) == {"0.2"}
    written = plot_reverse_u([hand_csv, mlp], group_by=["head"], out=tmp_path / "both.png")
    assert [p.name for p in written] == ["both.png", "both.pdf"]


def test_group_by_an_absent_column_is_named(hand_csv):
    with pytest.raises(InfominError, match="no column 'objective'"):
        load_curves([hand_csv], group_by=["objective"])


def test_rows_of_different_knobs_are_never_joined_into_one_line(hand_csv, tmp_path):
    jitter = tmp_path / "jitter.csv"
    jitter.write_text(HAND.replace("crop-scale", "jitter").replace(",r", ",j").replace("\nr", "\nj"))
    series = set(load_curves([hand_csv, jitter]).points["series"])
    assert series == {"knob_name=crop-scale", "knob_name=jitter"}


def test_probe_reruns_on_the_same_run_count_once(hand_csv):
    with hand_csv.open("a") as handle:
        handle.write("r3,toy,aug,crop-scale,0.2,0,linear,3.0,top1,80,%\n")
    mid = load_curves([hand_csv]).points.iloc[1]
    assert (mid["n"], mid["y"]) == (2, pytest.approx(76.0))


CATEGORICAL = textwrap.dedent(
    """\
    run_id,dataset,views,knob_name,knob_value,seed,i_nce,metric_name,metric_value,unit
    a,toy,{views},space,hsv,0,1.0,top1,40,%
    b,toy,{views},space,rgb,0,3.0,top1,50,%
    c,toy,{views},space,lab,0,2.0,top1,60,%
    """
)
SECOND_SEED = "d,toy,{views},space,hsv,1,1.1,top1,42,%\ne,toy,{views},space,rgb,1,3.1,top1,52,%\n" \
              "f,toy,{views},space,lab,1,2.1,top1,72,%\n"


def test_categorical_knob_follows_the_familys_declared_order(tmp_path, monkeypatch):
    knob = Knob("space", "choice", "lab", "B.2", "colour space", choices=("rgb", "lab", "hsv"))
    family = ViewFamily("fake-colour", "test", "B.2", (knob,), build=lambda values, size: None)
    monkeypatch.setitem(VIEWS._items, family.name, family)
    path = tmp_path / "spaces.csv"
    path.write_text(CATEGORICAL.format(views="fake-colour"))
    from infomin_cli.commands.plot import declared_choices

    assert list(load_curves([path], declared_choices=declared_choices).points["knob_value"]) == ["rgb", "lab", "hsv"]


def test_categorical_knob_of_an_unknown_family_keeps_the_csv_order(tmp_path):
    path = tmp_path / "spaces.csv"
    path.write_text(CATEGORICAL.format(views="not-registered"))
    assert list(load_curves([path]).points["knob_value"]) == ["hsv", "rgb", "lab"]


def test_shape_report_applies_the_two_standard_error_bar(hand_csv):
    from infomin_cli.plots.curves import shape_report

    (line,) = shape_report(load_curves([hand_csv]))
    # best 71 ± 1 vs ends 59 ± 1 and 51 ± 1: gaps 12 and 20, s.e. of a difference sqrt(2)
    assert line.startswith("reverse-U (> 2 s.e. above both ends)")
    assert "0.08: +12.00 (8.5 s.e.)" in line and "I_NCE rises as the knob increases" in line


def test_shape_report_says_when_the_best_point_is_an_end(tmp_path):
    from infomin_cli.plots.curves import shape_report

    path = tmp_path / "mono.csv"
    path.write_text(HAND.replace("top1,70", "top1,40").replace("top1,72", "top1,41"))
    (line,) = shape_report(load_curves([path]))
    assert line.startswith("no interior maximum") and "best crop-scale=0.08" in line


def test_a_categorical_knob_is_judged_along_i_nce_not_its_listed_order(tmp_path):
    from infomin_cli.plots.curves import shape_report

    path = tmp_path / "spaces.csv"
    # listed hsv, rgb, lab; by I_NCE hsv (1.05) < lab (2.05) < rgb (3.05): lab is interior by I_NCE only
    path.write_text(CATEGORICAL.format(views="not-registered").replace("top1,60", "top1,70")
                    + SECOND_SEED.format(views="not-registered"))
    (line,) = shape_report(load_curves([path]))
    assert line.startswith("categorical knob, ends = lowest and highest I_NCE: reverse-U")
    assert "best space=lab beats ends by hsv: +30.00 (21.2 s.e.), rgb: +20.00 (14.1 s.e.)" in line


def test_one_seed_per_value_has_no_standard_error_to_clear_the_bar_with(tmp_path):
    from infomin_cli.plots.curves import shape_report

    path = tmp_path / "spaces.csv"
    path.write_text(CATEGORICAL.format(views="not-registered"))
    curves = load_curves([path])
    (line,) = shape_report(curves)
    assert "no standard error (one seed per value)" in line and curves.sweet_spots().empty


def test_knob_values_are_labelled_with_three_significant_digits(tmp_path):
    from infomin_cli.plots.reverse_u import draw

    path = tmp_path / "sigma.csv"
    path.write_text(CATEGORICAL.format(views="not-registered").replace("space,hsv", "sigma,0.25")
                    .replace("space,rgb", "sigma,0.757858").replace("space,lab", "sigma,4.0"))
    labels = [text.get_text() for text in draw(load_curves([path])).axes[0].texts]
    assert "0.758" in labels and not any("0.757858" in label for label in labels)


def test_miou_rows_beside_accuracy_rows_plot_with_y_miou(tmp_path):
    """A segmentation sweep's CSV holds top1 (class), miou and pixel_acc (glyph) rows per point."""
    path = tmp_path / "seg.csv"
    rows = ["run_id,dataset,views,knob_name,knob_value,seed,i_nce,probe_label,metric_name,metric_value,unit"]
    for run, (value, seed, i_nce, top1, miou) in enumerate(
        [(1.0, 0, 4.0, 50, 30), (1.0, 1, 4.2, 52, 29), (0.2, 0, 3.0, 70, 35), (0.2, 1, 3.2, 72, 36),
         (0.08, 0, 2.0, 60, 26), (0.08, 1, 2.2, 58, 25)]):
        for label, metric, y in (("class", "top1", top1), ("glyph", "miou", miou), ("glyph", "pixel_acc", 90)):
            rows.append(f"r{run},toy,aug,crop-scale,{value},{seed},{i_nce},{label},{metric},{y},%")
    path.write_text("\n".join(rows) + "\n")
    curves = load_curves([path], y="miou")
    assert list(curves.points["y"]) == pytest.approx([25.5, 35.5, 29.5])
    assert curves.y_label.startswith("mean IoU")
    result = CliRunner().invoke(app, ["plot-reverse-u", str(path), "--y", "miou", "--out", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.png").stat().st_size > 5000 and "sweet spot crop-scale=0.2" in result.output


# --- the figure: an honest mark, and labels that overlap nothing ---

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def _figure(paths, **kwargs):
    from infomin_cli.plots.reverse_u import draw

    return draw(load_curves(paths, **kwargs))


def _stars(figure):
    from infomin_cli.plots.reverse_u import SWEET_SPOT

    return [line for line in figure.axes[0].lines if line.get_gid() == SWEET_SPOT]


def _legend_lines(figure) -> list[str]:
    return [text.get_text().replace("\n", " ") for text in figure.legends[0].get_texts()]


def test_a_curve_that_clears_the_bar_is_starred_and_says_by_how_much(hand_csv):
    figure = _figure([hand_csv])
    (star,) = _stars(figure)
    assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((3.1, 71.0))
    # 71 ± 1 over 59 ± 1 and 51 ± 1: 12 / sqrt(2) = 8.5 s.e., 20 / sqrt(2) = 14.1 s.e.
    assert "sweet spot crop-scale = 0.2: +8.5 s.e. over 0.08, +14.1 s.e. over 1" in _legend_lines(figure)


@pytest.mark.parametrize(("edit", "says"), [
    # the interior best 71 ± 1 is only 1.4 s.e. above the 0.08 end (69 ± 1)
    ({"top1,60": "top1,70", "top1,58": "top1,68"}, "no sweet spot: best crop-scale = 0.2 is +1.4 s.e. over 0.08"),
    ({"top1,70": "top1,40", "top1,72": "top1,41"}, "no sweet spot: the best mean, crop-scale = 0.08, is an end"),
])
def test_a_curve_that_does_not_clear_the_bar_has_no_star_and_says_why(tmp_path, edit, says):
    text = HAND
    for old, new in edit.items():
        text = text.replace(old, new)
    path = tmp_path / "flat.csv"
    path.write_text(text)
    figure = _figure([path])
    assert _stars(figure) == [] and any(line.startswith(says) for line in _legend_lines(figure)), _legend_lines(figure)


def _boxes_clear(figure) -> None:
    """No two point labels intersect, each lies inside the axes, and none meets the legend."""
    from infomin_cli.plots.labels import label_boxes

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    boxes = label_boxes(axes, renderer)
    assert len(boxes) == len(load_points(figure))
    frame, legend = axes.get_window_extent(renderer), figure.legends[0].get_window_extent(renderer)
    for i, box in enumerate(boxes):
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
        assert not box.overlaps(legend)
        for other in boxes[i + 1 :]:
            assert not box.overlaps(other), (box, other)


def load_points(figure) -> list:
    return [text for text in figure.axes[0].texts if text.get_gid() == "point-label"]


@pytest.mark.parametrize(("csvs", "group_by"), [
    (["frequency-sigma.csv"], ()),  # four points within 0.03 nats and 2 points of accuracy
    (["augmentation-ladder.csv", "augmentation-ladder-linear.csv"], ("head",)),  # two curves crossing
    (["crop-scale-linear-moco.csv", "crop-scale-linear-8ep.csv"], ("objective",)),
])
def test_labels_of_the_committed_figures_overlap_nothing_even_after_saving(csvs, group_by):
    import io

    from infomin_cli.commands.plot import declared_choices

    figure = _figure([FIGURES / name for name in csvs], group_by=group_by, declared_choices=declared_choices)
    _boxes_clear(figure)
    figure.savefig(io.BytesIO(), format="png", dpi=figure.dpi, bbox_inches="tight")  # the layout runs again
    _boxes_clear(figure)


def test_labels_of_a_dense_cluster_overlap_nothing(tmp_path):
    rows = ["run_id,dataset,views,knob_name,knob_value,seed,i_nce,metric_name,metric_value,unit"]
    for i in range(9):  # nine values within 1 % of the axes of each other, beside one far point
        rows += [f"r{i}{s},toy,aug,sigma,{0.1 * (i + 1):.2f},{s},{5 + 0.001 * i + 0.01 * s},top1,{50 + 0.05 * i + s},%"
                 for s in (0, 1)]
    rows += [f"far{s},toy,aug,sigma,9,{s},{1 + 0.1 * s},top1,{20 + s},%" for s in (0, 1)]
    path = tmp_path / "dense.csv"
    path.write_text("\n".join(rows) + "\n")
    _boxes_clear(_figure([path]))
