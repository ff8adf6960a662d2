"""What a grid version may be called: one rule for every way a version gets its name.

A version name travels as a URL path segment (``/api/versions/{name}``), as a query
value (``?version=``), in file names of downloads and in the audit log, so it must
survive all of them unchanged. Chinese names such as ``2026年第一季度`` or ``v2-文明`` are
as welcome as ASCII ones; what is refused is what a URL or a file name cannot carry
as itself: path separators, ``?``, ``#`` and ``%`` (which would start an escape),
control characters, the path names ``.`` and ``..``, and spaces at either end that
nobody can see.
"""

from __future__ import annotations

import unicodedata

from gridgis.errors import ConflictError, InvalidValueError

MAX_VERSION_NAME = 64
FORBIDDEN = "/\\?#%"
ALLOWED = (
    f"a version name has 1–{MAX_VERSION_NAME} characters: letters (Chinese too), digits, "
    "and punctuation such as - _ . or spaces inside, but not / \\ ? # %, control "
    "characters, or . and .. alone; e.g. 2026年第一季度 or v2-文明"
)
#: Unicode categories refused anywhere in a name: controls, format characters (zero-width
#: and direction marks that make two names look alike), line and paragraph separators.
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def version_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a version, or ``None`` when it can."""
    if not name:
        return "the version name is empty"
    if name != name.strip():
        return f"version name {name!r} starts or ends with a space"
    if name in (".", ".."):
        return f"{name!r} is not a version name"
    if len(name) > MAX_VERSION_NAME:
        return f"version name {name[:20]!r}… has {len(name)} characters"
    for char in name:
        if char in FORBIDDEN:
            return f"version name {name!r} contains {char!r}"
        if unicodedata.category(char) in INVISIBLE:
            return f"version name {name!r} contains the control character U+{ord(char):04X}"
    return None


def check_version_name(name: str, *, param: str | None = None) -> str:
    """``name`` if it can name a version, else :class:`InvalidValueError` saying what is
    allowed (``code="invalid_version_name"``; ``param`` names the caller's option)."""
    problem = version_name_problem(name)
    if problem is not None:
        raise InvalidValueError(f"{problem}; {ALLOWED}", param=param, code="invalid_version_name")
    return name


def name_taken(name: str, status: str) -> ConflictError:
    """The refusal of a new version under a name in use; a draft may be replaced."""
    draft = status == "draft"
    return ConflictError(
        f"grid version {name!r} exists ({status}); choose another name"
        + (" or replace the draft" if draft else ""),
        param="replace" if draft else None,
    )
