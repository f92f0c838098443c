"""A sweep spec becomes exactly the knob values a user meant, or one line saying what is valid."""

from __future__ import annotations

import pytest

from infomin_cli.errors import InfominError
from infomin_cli.sweep.spec import find_knob, format_value, parse_spec
from infomin_cli.views.base import VIEWS, Knob, ViewFamily

CROP = Knob("fake-crop", "float", 0.2, "C.2", "crop scale", low=0.01, high=1.0)
SIGMA = Knob("fake-sigma", "float", 1.0, "B.3", "blur", low=0.1, high=8.0, log=True)
DIST = Knob("fake-distance", "int", 64, "B.1", "patch distance", low=0, high=512)
SPACE = Knob("fake-space", "choice", "lab", "B.2", "colour space", choices=("rgb", "lab", "ycbcr", "hsv"))


def _family(name: str, *knobs: Knob, aliases_of: str | None = None) -> ViewFamily:
    return ViewFamily(name, "test family", "-", knobs, build=lambda values, size: None, aliases_of=aliases_of)


@pytest.fixture
def fake_views(monkeypatch):
    """Families of our own, so these tests do not depend on which real families exist yet."""
    for family in (
        _family("fake-aug", CROP),
        _family("fake-freq", SIGMA),
        _family("fake-patch", DIST),
        _family("fake-space-split", SPACE),
        _family("fake-lab", SPACE, aliases_of="fake-space-split"),
    ):
        monkeypatch.setitem(VIEWS._items, family.name, family)


def test_a_b_gives_the_default_number_of_linear_points_with_exact_ends():
    assert parse_spec(CROP, "0.08:1.0") == pytest.approx([0.08, 0.264, 0.448, 0.632, 0.816, 1.0])
    assert parse_spec(CROP, "0.08:1.0")[0] == 0.08


def test_a_b_n_and_log_spacing():
    assert parse_spec(CROP, "0.2:1.0:5") == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert parse_spec(SIGMA, "0.25:4:5:log") == pytest.approx([0.25, 0.5, 1.0, 2.0, 4.0])


def test_descending_range_keeps_the_users_order():
    assert parse_spec(CROP, "1.0:0.2:3") == pytest.approx([1.0, 0.6, 0.2])


def test_int_knob_rounds_and_drops_repeats():
    assert parse_spec(DIST, "0:4:9") == [0, 1, 2, 3, 4]
    assert all(isinstance(v, int) for v in parse_spec(DIST, "0:4:9"))


def test_comma_list_and_single_value():
    assert parse_spec(CROP, "0.08, 0.2,1") == [0.08, 0.2, 1.0]
    assert parse_spec(CROP, "0.2") == [0.2]


def test_categorical_names_keep_their_order():
    assert parse_spec(SPACE, "hsv,rgb,lab") == ["hsv", "rgb", "lab"]


@pytest.mark.parametrize(
    ("knob", "spec", "says"),
    [
        (CROP, "0.0:1.0", "valid range [0.01, 1]"),
        (CROP, "0.1:1.5:4", "out of range"),
        (CROP, "0.1:1.0:one", "not a whole number"),
        (CROP, "0.1:1.0:1", "at least 2 points"),
        (CROP, "0.1:1.0:4:cubic", "use lin or log"),
        (CROP, "0.1:1.0:4:log:x", "a:b:n:log"),
        (CROP, "abc", "not a number"),
        (SIGMA, "0.05:4:5:log", "valid range [0.1, 8]"),
        (SPACE, "rgb,xyz", "choose one of: rgb, lab, ycbcr, hsv"),
        (SPACE, "rgb:hsv", "takes names, not a range"),
        (CROP, " ", "empty sweep spec"),
    ],
)
def test_bad_specs_fail_in_one_line_saying_what_is_valid(knob, spec, says):
    with pytest.raises(InfominError) as err:
        parse_spec(knob, spec)
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_log_spacing_refuses_zero_as_an_end():
    knob = Knob("zero-ok", "float", 1.0, "-", "x", low=0.0, high=2.0)
    with pytest.raises(InfominError, match="above 0"):
        parse_spec(knob, "0:2:3:log")


def test_knob_owner_is_found_without_views(fake_views):
    family, knob = find_knob("fake-sigma")
    assert (family.name, knob) == ("fake-freq", SIGMA)


def test_alias_families_do_not_make_a_knob_ambiguous(fake_views):
    family, _ = find_knob("fake-space")
    assert family.name == "fake-space-split"


def test_views_flag_picks_the_family(fake_views):
    family, knob = find_knob("fake-space", views="fake-lab")
    assert family.name == "fake-lab" and knob is SPACE


def test_unknown_knob_lists_the_sweepable_ones(fake_views):
    with pytest.raises(InfominError) as err:
        find_knob("crop-scal")
    assert "fake-crop (fake-aug)" in str(err.value) and "fake-distance (fake-patch)" in str(err.value)


def test_knob_not_in_the_given_family_names_its_knobs(fake_views):
    with pytest.raises(InfominError, match="has no knob 'fake-crop'; its knobs: fake-sigma"):
        find_knob("fake-crop", views="fake-freq")


def test_a_shared_knob_belongs_to_the_family_whose_main_knob_it_is(fake_views, monkeypatch):
    monkeypatch.setitem(VIEWS._items, "fake-freq2", _family("fake-freq2", SIGMA, CROP))
    family, _ = find_knob("fake-crop")
    assert family.name == "fake-aug"


def test_a_knob_that_is_main_in_two_families_asks_for_views(fake_views, monkeypatch):
    monkeypatch.setitem(VIEWS._items, "fake-aug2", _family("fake-aug2", CROP))
    with pytest.raises(InfominError, match="several view families .*--views"):
        find_knob("fake-crop")


def test_values_are_formatted_compactly():
    assert [format_value(v) for v in (0.264, 1.0, 64, "lab")] == ["0.264", "1", "64", "lab"]


@pytest.mark.parametrize(
    ("knob", "family"),
    [("crop-scale", "infomin-aug"), ("jitter", "infomin-aug"), ("sigma", "freq-split"),
     ("space", "colorspace-split"), ("distance", "patches")],
)
def test_the_real_families_own_the_issues_knobs(knob, family):
    if family not in VIEWS:
        pytest.skip(f"view family {family} not written yet")
    assert find_knob(knob)[0].name == family
