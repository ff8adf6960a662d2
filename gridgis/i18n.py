"""Which language a page speaks: Chinese unless English is asked for.

Grid offices read Chinese; English is there for visitors and for developers. Each page
keeps its own labels (a dict per language); this module only says which languages there
are and how a request names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridgis.errors import InputError

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
#: The ``<html lang>`` of each language (BCP 47), so browsers pick the right fonts.
HTML_LANG: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}


def parse_lang(value: str | None, param: str = "lang") -> Lang:
    """``zh`` or ``en``; absent means :data:`DEFAULT_LANG`. Anything else names ``param``."""
    if value is None:
        return DEFAULT_LANG
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    raise InputError(f"{param} must be zh or en, got {value!r}", param=param)


@dataclass(frozen=True)
class Text:
    """One text in each language, for what a document says in the reader's language."""

    zh: str
    en: str

    def __getitem__(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en
