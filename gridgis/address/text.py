"""Character-level clean-up of address text, shared by queries and the address base.

Both sides go through :func:`prepare`, so whatever it does to a name (``二段`` → ``2段``,
``號`` → ``号``) it does the same way to the name as typed and to the name as stored; the
matcher then compares like with like.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opencc import OpenCC

NUMERALS = "零〇一二两三四五六七八九十百千"
_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGIT |= {"六": 6, "七": 7, "八": 8, "九": 9}
_POWER = {"十": 10, "百": 100, "千": 1000}
_DIGIT_TABLE = str.maketrans({c: str(d) for c, d in _DIGIT.items()})

# A numeral run is a number when a structural word follows (五十九号, 三栋, 二段, 十二组) or
# when it closes a door/room after a road, 组, 单元 or 栋 (沙河街三十七, 二单元一〇二). A lone
# numeral inside a name (三星花园, 五星村, 第二人民医院, 马道三四巷) is left alone.
# (The leading lookahead lets the regex engine skip to numerals fast.)
_CN_NUMBER = re.compile(
    rf"(?=[{NUMERALS}])(?:([{NUMERALS}]+)(?=号|栋|幢|座|单元|组|社(?!区)|室|户|层|楼|段|期|#|-)"
    rf"|(?<=[路街巷道组元栋层楼-])([{NUMERALS}]{{2,}}|[{NUMERALS}](?=$|-))(?![{NUMERALS}路街巷道]))"
)
_ORDINAL = re.compile(r"第(?=\d+(?:号|栋|单元|组|室|层|楼))")  # 第三栋 → 3栋
# 3号楼, 3幢, 3座, 3#, 3#楼, A座 → 3栋 / A栋.
_BUILDING = re.compile(r"(?<![A-Z])(\d+|[A-Z])(?:号楼|号栋|幢|座|#楼?)")  # (3栋 stays 3栋)
_NOISE = re.compile(r"附近|旁边|对面|门口|后面|隔壁|楼下|周边|一带|(?<=栋)下")
# Character-class searches: a fast "is there anything to do" before the costly passes.
_MAYBE_NOISE = re.compile("[附旁对门后隔楼周一下]")
_MAYBE_BUILDING = re.compile("[楼幢座#]")
_MAYBE_NUMERAL = re.compile(f"[{NUMERALS}]")
_DASH_TABLE = str.maketrans(dict.fromkeys("‐‑‒–—―−﹣~", "-"))
_DIGIT_GAP = re.compile(r"(?<=\d)\s+(?=\d)")
_PUNCT = re.compile(r"[^\w#-]|_")
_TRIPLE = re.compile(r"(\d+)-(\d+)-(\d+)")
_AFTER_BUILDING = re.compile(r"栋(\d+)-(\d+)?")
_DOOR_SUB = re.compile(r"(?<=[路街巷道])(\d+-\d+)(?!\d)(?!栋)号?")
_DOOR_GAP = re.compile(r"(?<=[路街巷道])(\d+)-(?=\d+栋)")
_PAIR = re.compile(r"(\d+)-(\d+)")


def cn_to_int(run: str) -> int:
    """五十九 → 59, 一百零二 → 102, 一〇二 / 一零二 → 102 (digit by digit without 十百千)."""
    if "十" not in run and "百" not in run and "千" not in run:
        return int(run.translate(_DIGIT_TABLE))
    total = digit = 0
    for c in run:
        if c in _POWER:
            total += (digit or 1) * _POWER[c]
            digit = 0
        else:
            digit = _DIGIT[c]
    return total + digit


def _numeral(m: re.Match[str]) -> str:
    return str(cn_to_int(m.group(1) or m.group(2)))


def _pair(s: str) -> str:
    """``3-2`` is building-unit, or unit-room once a building has been named."""

    def one(m: re.Match[str]) -> str:
        if "栋" in s[: m.start()]:
            return f"{m.group(1)}单元{m.group(2)}室"
        return f"{m.group(1)}栋{m.group(2)}单元"

    return _PAIR.sub(one, s)


def _after_building(m: re.Match[str]) -> str:
    return f"栋{m.group(1)}单元" + (f"{m.group(2)}室" if m.group(2) else "")


def _hyphens(s: str) -> str:
    """Shorthands: 3-2-501 (building-unit-room), 3栋2-501, 3栋2-, 长江路59-3 (door 59-3);
    a gap between two numbers was made a hyphen: 沙河街37 1栋 is door 37, building 1."""
    s = _TRIPLE.sub(r"\1栋\2单元\3室", s)
    s = _DOOR_GAP.sub(r"\1号", s)  # 沙河街37 1栋: a door, then a building
    s = _AFTER_BUILDING.sub(_after_building, s)
    s = _DOOR_SUB.sub(lambda m: m.group(1).replace("-", "/") + "号", s)
    s = _pair(s)
    return s.replace("-", "").replace("/", "-")  # "/" cannot survive _PUNCT: a safe stand-in


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    """OpenCC's t2s, opened once, on first use (the CLI mostly never needs it)."""
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified as OpenCC's t2s does it, phrases too (一目瞭然 → 一目了然).

    Every text with a non-ASCII character goes through OpenCC's C++ converter: which
    characters only change inside a phrase (瞭 alone stays 瞭) is known to its
    dictionaries alone, so no cheaper check could say when the call can be skipped. Text
    it leaves alone comes back as the same object."""
    if text.isascii():
        return text
    converted: str = _t2s().convert(text)
    return text if converted == text else converted


def prepare(text: str) -> str:
    """NFKC, simplified, upper-case, no spaces/punctuation/noise; numbers as digits; 栋.

    Structural shorthands become words: ``3-2-501`` → ``3栋2单元501室``.
    """
    return prepare_nfkc(unicodedata.normalize("NFKC", text))


def prepare_nfkc(s: str) -> str:
    """:func:`prepare` for text already in NFKC."""
    s = to_simplified(s.upper())
    if not s.isalnum():  # most addresses are CJK and digits only: skip three passes
        s = _PUNCT.sub("", _DIGIT_GAP.sub("-", s.translate(_DASH_TABLE)))
    if _MAYBE_NUMERAL.search(s) is not None:
        s = _CN_NUMBER.sub(_numeral, s)
        if "第" in s:
            s = _ORDINAL.sub("", s)
    if _MAYBE_BUILDING.search(s) is not None:
        s = _BUILDING.sub(r"\1栋", s)
    if _MAYBE_NOISE.search(s) is not None:
        s = _NOISE.sub("", s)
    if "-" in s:
        s = _hyphens(s)
    return s.replace("#", "")


@lru_cache(maxsize=65_536)
def canon_name(text: str) -> str:
    """A road, compound or division name as both sides compare it."""
    return prepare(text)
