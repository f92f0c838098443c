"""Every committed figure has a note whose header says how it was made, and the README's results
table is what `docs/figures/make_table.py` builds from those headers (so it cannot be edited by
hand or go stale)."""

from __future__ import annotations

import csv
import importlib.util
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"


def load_make_table():
    spec = importlib.util.spec_from_file_location("make_table", FIGURES / "make_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_table = load_make_table()
RESULTS = make_table.all_results(FIGURES)


def csvs_of(result: dict) -> list[str]:
    value = result["csv"]
    return [value] if isinstance(value, str) else list(value)


def seed_range(stated) -> tuple[int, int] | None:
    """(fewest, most) seeds per point a header states, or None where it states no count ("n/a", prose)."""
    if isinstance(stated, int):
        return stated, stated
    match = re.fullmatch(r"\s*(\d+)\s*[-–]\s*(\d+)\s*", str(stated))
    return (int(match[1]), int(match[2])) if match else None


def test_readme_table_is_the_generators_output():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert make_table.section(readme) == make_table.render(RESULTS), "run `make results-table`"


def test_every_result_header_has_every_field():
    assert RESULTS
    assert [line for result in RESULTS for line in make_table.problems(result)] == []


def test_every_figure_file_has_a_note():
    noted = {Path(name).stem for result in RESULTS for name in result["figures"]}
    figures = [p for p in FIGURES.iterdir() if p.suffix in make_table.FIGURE_SUFFIXES]
    assert figures
    assert sorted(p.name for p in figures if p.stem not in noted) == []


def test_every_named_figure_and_csv_exists():
    missing = [f"{result['note']}: {name}" for result in RESULTS for name in result["figures"]
               if not (FIGURES / name).is_file()]
    for result in RESULTS:
        if csvs_of(result) == ["none"]:
            assert make_table.cleared(result["claim_cleared"]) == "n/a", f"{result['note']}: a claim needs its CSV"
            continue
        missing += [f"{result['note']}: {name}" for name in csvs_of(result) if not (FIGURES / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("result", [r for r in RESULTS if seed_range(r["seeds"]) and csvs_of(r) != ["none"]],
                         ids=lambda r: f"{r['note']}:{r['csv']}")
def test_stated_seed_count_is_the_csvs(result):
    fewest, most = seed_range(result["seeds"])
    for name in csvs_of(result):
        seeds = defaultdict(set)
        with open(FIGURES / name, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                seeds[(row["knob_name"], row["knob_value"])].add(row["seed"])
        counts = {point: len(s) for point, s in seeds.items()}
        assert counts and all(fewest <= n <= most for n in counts.values()), f"{name}: {counts}"
        assert min(counts.values()) == fewest and max(counts.values()) == most, f"{name}: {counts}"


def test_replacing_the_table_keeps_the_rest_of_the_readme():
    readme = f"# title\n\nprose before\n{make_table.START}\n| hand | edited |\n{make_table.END}\n\nprose after\n"
    out = make_table.replaced(readme, "| new |")
    assert out == f"# title\n\nprose before\n{make_table.START}\n| new |\n{make_table.END}\n\nprose after\n"


def test_a_readme_without_both_markers_is_refused():
    with pytest.raises(ValueError, match="results:start"):
        make_table.section(f"text\n{make_table.END}\n{make_table.START}\n")


def test_a_missing_fact_is_named():
    result = dict(RESULTS[0], note="x.md")
    del result["machine"]
    assert make_table.problems(result) == [f"x.md: {result['preset']}: no `machine`"]


def test_only_rows_marked_for_the_readme_are_rendered():
    kept = [r for r in RESULTS if make_table.cleared(r["readme"]) == "yes"]
    assert 0 < len(kept) < len(RESULTS)
    assert len(make_table.render(RESULTS).splitlines()) == 3 + len(kept)
