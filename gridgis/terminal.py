"""How the command line shows things in a terminal: times on the city's clock, and tables
whose codes are never cut."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

WRAP_WORDS_FROM = 12  # a longer word (a Chinese run has no spaces) may fold; shorter ones wrap


def city_time(value: datetime | None, timezone: str) -> str:
    """A stored (UTC) moment on the city's clock with its offset, ``2026-11-30 14:05 +08:00``:
    the clock ``--at`` and ``--valid-from`` dates are read on, so the two agree."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    whole: Collection[str],
) -> None:
    """A table whose ``whole`` columns (codes, ids, names) are never cut.

    Left to itself, rich shortens every column of a table too wide for the terminal, a
    15-digit grid code included (``5106030010…``). Here the whole columns keep their
    width, the others give way down to their longest word (a time wraps to
    ``2026-11-30`` over ``14:05 +08:00``), and when even that does not fit the lines run
    long, which a terminal wraps and a pipe keeps, rather than lose a digit.
    """
    columns = [[row[i] for row in rows] for i in range(len(headers))]
    natural = [max(map(cell_len, [h, *c])) for h, c in zip(headers, columns, strict=True)]
    least = [
        width if header in whole else min(width, _longest_word([header, *cells]))
        for header, cells, width in zip(headers, columns, natural, strict=True)
    ]
    borders = 3 * len(headers) + 1  # a space either side of each cell, and the rules
    room = console.width - borders
    widths = natural
    if sum(natural) > room:  # give each column its least, then share out what is left
        spare = max(room - sum(least), 0)
        wants = [n - m for n, m in zip(natural, least, strict=True)]
        total = sum(wants) or 1
        widths = [m + w * spare // total for m, w in zip(least, wants, strict=True)]
    table = Table()
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, width=width, no_wrap=header in whole, overflow="fold")
    for row in rows:
        table.add_row(*row)
    needed = sum(widths) + borders
    if needed > console.width:  # rich never draws wider than its console: give it a wider one
        console = Console(width=needed, markup=False, highlight=False, file=console.file)
    console.print(table, soft_wrap=False)


def _longest_word(texts: Sequence[str]) -> int:
    words = [cell_len(word) for text in texts for word in text.split()]
    return min(max(words, default=1), WRAP_WORDS_FROM)
