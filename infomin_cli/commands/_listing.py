"""Listings that fit the terminal they are printed in (`infomin views`, `objectives`, `datasets`).

Rich wraps a cell at spaces, and breaks a word only when its column is narrower than the word. So
a listing is a table whose short columns are as wide as their longest cell and whose prose columns
share the rest of the console's width (rich reads it from the terminal, or from `COLUMNS`), in
proportion to how much text each holds, each at least as wide as its longest word. When even that
does not fit, it is printed as one block per row: the row's first cell as a heading, the other
cells as `header: value` joined by " · " and wrapped at spaces: the same words in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

PROSE = 24  # a column with a longer cell is prose, and wraps; a shorter one is as wide as its longest cell


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """Content widths of the columns in a table `width` characters wide, or None when the prose
    columns cannot each be as wide as their longest word."""
    columns = [[header, *(row[i] for row in rows)] for i, header in enumerate(headers)]
    longest = [max(map(len, cells)) for cells in columns]
    prose = [i for i, n in enumerate(longest) if n > PROSE]
    frame = 3 * len(headers) + 1  # a border left of every column and after the last, padding both sides
    room = width - frame - sum(n for i, n in enumerate(longest) if i not in prose)
    widths = list(longest)
    for i in prose:
        widths[i] = max(len(word) for cell in columns[i] for word in cell.split() or [""])
    room -= sum(widths[i] for i in prose)
    if room < 0:
        return None
    weight = {i: sum(map(len, columns[i])) for i in prose}
    while room > 0 and (growing := [i for i in prose if widths[i] < longest[i]]):
        total = sum(weight[i] for i in growing)
        shares = {i: max(1, room * weight[i] // total) for i in growing}
        for i in growing:
            step = min(shares[i], longest[i] - widths[i], room)
            widths[i] += step
            room -= step
    return widths


def print_listing(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
                  console: Console | None = None, right: Sequence[str] = ()) -> None:
    """Print `rows` under `headers` at the console's width without breaking a word (the columns
    named in `right`, numbers, aligned right)."""
    console = console or Console()
    widths = column_widths(headers, rows, console.width)
    if widths is not None:
        table = Table(title=Text(title))
        for header, width in zip(headers, widths, strict=True):
            table.add_column(header, width=width, justify="right" if header in right else "left")
        for row in rows:
            table.add_row(*map(Text, row))  # Text: a cell is never read as markup ("[fixed: space=lab]")
        console.print(table)
        return
    console.print(Text(title, style="italic"), justify="center")
    for row in rows:
        first, rest = row[0], zip(headers[1:], row[1:], strict=True)
        if first:
            console.print()
            console.print(Text(first, style="bold"))
        line = Text(" · ").join(Text.assemble((f"{header}: ", "dim"), value) for header, value in rest
                                if value.strip() not in ("", "-"))
        console.print(Padding(line, (0, 0, 0, 2)))
