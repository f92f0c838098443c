"""Listings fit the terminal: at 80 and 140 columns no line is wider than the terminal and no cell's
word is broken across lines (rich wraps at spaces when each column is as wide as its longest word;
a listing that cannot be laid out so is printed one block per row)."""

from __future__ import annotations

import pytest

from infomin_cli.cli import main
from infomin_cli.commands._listing import column_widths
from infomin_cli.commands.datasets import dataset_rows
from infomin_cli.commands.objectives import objective_rows
from infomin_cli.commands.probes import probe_rows
from infomin_cli.commands.views import family_rows

LISTINGS = {"views": family_rows, "objectives": objective_rows, "datasets": dataset_rows, "probes": probe_rows}


@pytest.mark.parametrize("columns", [80, 140])
@pytest.mark.parametrize("command", sorted(LISTINGS))
def test_a_listing_fits_the_terminal_and_breaks_no_word(command, columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit) as exited:
        main([command])
    out = capsys.readouterr().out
    assert exited.value.code in (0, None)
    assert max(len(line) for line in out.splitlines()) <= columns
    printed = set(out.split())
    words = {word for row in LISTINGS[command]() for cell in row for word in cell.split()} - {"-"}
    assert words <= printed, f"broken or cut at {columns} columns: {sorted(words - printed)[:10]}"


def test_prose_columns_share_the_width_and_never_go_below_their_longest_word():
    headers, rows = ("name", "text"), [("a", "short words but a lot of them " * 4), ("bb", "a-very-long-word here")]
    widths = column_widths(headers, rows, 40)
    assert widths is not None and widths[0] == 4 and 19 <= widths[1] <= 40 - 7 - 4
    assert column_widths(headers, rows, 25) is None  # "a-very-long-word" (16) + "name" (4) + frame (7) > 25
