"""CSV that a spreadsheet opens as data: a text cell that Excel or WPS would run as a
formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first) is written with a
leading apostrophe, the way OWASP advises and spreadsheets show as plain text. A cell
that is a number (``-3.5``, ``+86``-free digits) stays as it is, so coordinates and
shares round-trip.

Every CSV gridgis writes — bulk lookups and address matching, exports, crosswalks, the
diff's mapping — goes through :func:`spreadsheet_safe` or :func:`safe_cells`: the text in
them comes from department files and the public, so a name like ``=HYPERLINK(…)`` must
not become a live link in an office's spreadsheet.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value`` with an apostrophe in front if a spreadsheet would take it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.match(value):
        return "'" + value
    return value


def safe_cells(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns guarded (numbers and other types as they are)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column].to_numpy(dtype=object)
            texts = np.fromiter(
                (isinstance(v, str) and v.startswith(FORMULA_START) for v in values),
                dtype=bool,
                count=len(values),
            )
            if texts.any():
                out[column] = [safe_cell(v) if t else v for v, t in zip(values, texts, strict=True)]
    return out
