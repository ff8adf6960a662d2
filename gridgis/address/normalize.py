"""Free-text Chinese address → its parts (province … road, door, compound, building, unit).

Residents leave out the province, write 五十九号 or ３栋, say 幢 or 号楼 or # for 栋, drop
号, add 附近 or 对面, type traditional characters. :func:`normalize` undoes all of that
and splits the text along the standard address structure, so that the matcher can look
the parts up in the address base.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from gridgis.address.admin import split_admin
from gridgis.address.text import prepare_nfkc
from gridgis.errors import InvalidValueError

MAX_LENGTH = 200
ROAD_ENDS = ("路", "街", "巷", "道", "段", "弄", "胡同")
_MEANINGFUL = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff0-9]")
# A number and what it numbers; a run of name text (an ``A栋``'s letter is a number).
_TOKEN = re.compile(
    r"(\d+(?:-\d+)?|(?<![A-Z])[A-Z](?=栋))"
    r"(号院|号路|号村道|号|栋|单元|组|社(?!区)|层|楼|室|户|段|期)?"
    r"|((?:(?![A-Z]栋)\D)+)"
)
# Numbers that are part of a name: 长江西路2段, 阳光12号院, 锦绣花园2期, 小区1号路.
_NAME_SUFFIXES = frozenset({"号院", "号路", "号村道", "段", "期"})


@dataclass(frozen=True, slots=True)
class NormalizedAddress:
    """An address in parts, in the address base's own spelling (3栋, 2单元, 1组, door 59).

    ``text`` is the cleaned address without its administrative prefix. Parts not given
    are ``None``.
    """

    text: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    subdistrict: str | None = None
    community: str | None = None
    road: str | None = None
    door_number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    group: str | None = None

    @property
    def admin(self) -> tuple[str | None, str | None, str | None, str | None, str | None]:
        return (self.province, self.city, self.district, self.subdistrict, self.community)

    @property
    def key(self) -> str:
        """The parts that locate the address, run together: what was understood."""
        door = f"{self.door_number}号" if self.door_number else ""
        if self.group:
            return f"{self.community or ''}{self.group}{door}"
        parts = (self.road, door, self.compound, self.building, self.unit)
        return "".join(p for p in parts if p)


def _ends_like_road(name: str) -> bool:
    return name.endswith(ROAD_ENDS)


def _parse_core(core: str) -> dict[str, str | None]:
    """Assign the numbers and names of the core (no admin prefix) to address parts."""
    tokens: list[tuple[str, str, str]] = _TOKEN.findall(core)
    parts = _Parts()
    for i, (num, suffix, text) in enumerate(tokens):
        if text:
            parts.pending += text
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        next_is_text = nxt is not None and bool(nxt[2])
        if suffix in _NAME_SUFFIXES or (not suffix and parts.pending.endswith("第")):
            parts.pending += num + suffix
        elif suffix:
            parts.numbered(num, suffix, nxt, next_is_text)
        else:
            parts.bare(num, next_is_text)
    return parts.finish()


class _Parts:
    """The parts found so far; name text waits in ``pending`` until a number after it
    says what it names (花园 before 3栋 is a compound, 长江路 before 59号 a road)."""

    __slots__ = ("out", "pending")

    def __init__(self) -> None:
        self.out: dict[str, str | None] = {}
        self.pending = ""

    def take_name(self) -> str | None:
        name, self.pending = self.pending or None, ""
        return name

    def numbered(
        self, num: str, suffix: str, nxt: tuple[str, str, str] | None, next_is_text: bool
    ) -> None:
        """A number with what it numbers: 59号, 3栋, 2单元, 5层, 1组 …"""
        out = self.out
        if suffix == "号":
            if "door_number" not in out and "building" not in out:
                if nxt is not None and nxt[1] == "单元" and not _ends_like_road(self.pending):
                    out["compound"], out["building"] = self.take_name(), f"{num}栋"  # 花园3号2单元
                else:
                    out["road"], out["door_number"] = self.take_name(), num
            elif next_is_text:
                self.pending += num + suffix  # a number inside a name: 金色2334号院
            elif "building" not in out:
                out["compound"], out["building"] = self.take_name(), f"{num}栋"
        elif suffix == "栋":
            if self.pending:
                out["compound"] = self.take_name()
            out["building"] = f"{num}栋"
        elif suffix == "单元":
            glued = (
                len(num) > 1
                and "door_number" not in out
                and "building" not in out
                and _ends_like_road(self.pending)
            )
            if glued:  # 梧桐巷552单元: door 55, unit 2 with the 号 left out (units are 1–9)
                out["road"], out["door_number"] = self.take_name(), num[:-1]
                num = num[-1]
            elif self.pending and "building" not in out:
                out["compound"] = self.take_name()
            out["unit"] = f"{num}单元"
        elif suffix in ("层", "楼"):
            if suffix == "楼" and "building" not in out and "unit" not in out:
                out["compound"] = self.take_name() or out.get("compound")
                out["building"] = f"{num}栋"
            else:
                out["floor"] = f"{num}层"
        elif suffix in ("室", "户"):
            out["room"] = num
        elif suffix in ("组", "社"):
            village = self.take_name()
            if village:
                out["village"] = village
            out["group"] = f"{num}组"

    def bare(self, num: str, next_is_text: bool) -> None:
        """A number alone: what it is follows from the parts already found."""
        out = self.out
        if "group" in out and "door_number" not in out:
            out["door_number"] = num  # 马鞍村1组2
        elif "unit" in out or "floor" in out:
            out["room"] = num
        elif "building" in out:
            if len(num) >= 3:
                out["room"] = num
            else:
                out["unit"] = f"{num}单元"
        elif "door_number" not in out:
            if self.pending and next_is_text and not _ends_like_road(self.pending):
                self.pending += num  # a number inside a name
            else:
                out["road"], out["door_number"] = self.take_name(), num  # 号 left out
        elif next_is_text:
            self.pending += num
        elif len(num) <= 2:
            out["compound"], out["building"] = self.take_name(), f"{num}栋"
        else:
            out["room"] = num

    def finish(self) -> dict[str, str | None]:
        """Name text left at the end: the compound after a door, else the road or
        compound when nothing else was found."""
        out, pending = self.out, self.pending
        if pending:
            if "door_number" in out and "group" not in out:
                out.setdefault("compound", pending)
            elif not any(k in out for k in ("building", "unit", "group", "road", "compound")):
                out["road" if _ends_like_road(pending) else "compound"] = pending
        return out


@lru_cache(maxsize=16_384)
def normalize(text: str) -> NormalizedAddress:
    """Clean and split one address as typed; raises InvalidValueError for non-addresses."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidValueError("address is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidValueError(
            f"address is {len(text)} characters long; at most {MAX_LENGTH} are accepted"
        )
    nfkc = unicodedata.normalize("NFKC", text)
    if _MEANINGFUL.search(nfkc) is None:
        raise InvalidValueError(f"not an address (no Chinese characters or digits): {text!r}")
    s = prepare_nfkc(nfkc)
    admin, pos = split_admin(s)
    core = s[pos:]
    if not s:
        raise InvalidValueError(f"nothing left of {text!r} once noise words are removed")
    parts = _parse_core(core)
    village = parts.pop("village", None)
    community = admin[4] if admin[4] is not None else village
    return NormalizedAddress(
        core,
        admin[0],
        admin[1],
        admin[2],
        admin[3],
        community,
        parts.get("road"),
        parts.get("door_number"),
        parts.get("compound"),
        parts.get("building"),
        parts.get("unit"),
        parts.get("floor"),
        parts.get("room"),
        parts.get("group"),
    )
