"""Administrative prefixes (省 市 区/县 街道/镇/乡 社区/村) split off the front of an address.

Known names come first (every province, Deyang's districts, townships and committees,
and the short forms people type: 四川, 德阳, 旌阳); suffix rules catch the rest only where
they cannot eat a compound or road name (…区 after a city only, …村 only before 组).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from gridgis.address.text import NUMERALS
from gridgis.divisions import load_divisions

LEVELS: Final = ("province", "city", "district", "subdistrict", "community")
PROVINCE, CITY, DISTRICT, SUBDISTRICT, COMMUNITY = range(5)

_PROVINCES = (
    *("北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省"),
    *("黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省"),
    *("湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省"),
    *("甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区"),
    *("宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区"),
)
_SUFFIXES: Final = (
    ("特别行政区", "自治区", "省", "市"),
    ("自治州", "地区", "市", "盟"),
    ("区", "县", "市", "旗"),
    ("街道办事处", "街道办", "街道", "镇", "乡"),
    ("社区居民委员会", "村民委员会", "居民委员会", "居委会", "村委会", "社区", "村"),
)
# A name must not run into a road: 北京路, 德阳大道, 黄许镇路 keep their prefix.
_NOT_AFTER_SHORT = frozenset("路街巷道大桥")
_ROAD_ENDS = frozenset("路街巷")
_CJK = "\u4e00-\u9fff"
_GENERIC: Final = (
    re.compile(rf"[{_CJK}]{{2,7}}?(?:省|自治区)"),
    re.compile(rf"[{_CJK}]{{2,7}}?(?:市|自治州|地区|盟)"),
    # not 小区, 园区, 二区, 北区 …: those are parts of compounds
    re.compile(rf"[{_CJK}]{{1,6}}?[^小社园片校厂东西南北中上下期{NUMERALS}\d](?:区|县|旗)"),
    re.compile(rf"[{_CJK}]{{2,6}}?(?:街道办事处|街道办|街道|镇(?![路街巷道])|乡(?![路街巷道村]))"),
    re.compile(
        rf"(?:(?!街道|镇|乡)[{_CJK}]){{2,8}}?"
        r"(?:社区(?:居民委员会|居委会)?|村(?=\d+(?:组|社)|村民委员会))"
    ),
)
# Suffix rules allowed without a known level before them (the rest need one).
_GENERIC_ALONE = (True, False, False, False, True)


@lru_cache(maxsize=1)
def gazetteer() -> tuple[dict[str, tuple[int, bool]], dict[str, tuple[int, ...]]]:
    """Known name → (level, short form?); first character → name lengths, longest first."""
    names: dict[str, tuple[int, bool]] = {}

    def add(name: str, level: int, short: bool = False) -> None:
        names.setdefault(name, (level, short))

    for p in _PROVINCES:
        add(p, PROVINCE)
        for suffix in _SUFFIXES[PROVINCE]:
            if p.endswith(suffix) and len(p) > len(suffix) + 1:
                add(p[: -len(suffix)], PROVINCE, True)
                break
    for stem in ("内蒙古", "广西", "西藏", "宁夏", "新疆"):
        add(stem, PROVINCE, True)
    add("德阳市", CITY)
    add("德阳", CITY, True)
    divisions = load_divisions()
    for d in divisions.districts.values():
        add(d.name, DISTRICT)
        stem = d.name[:-1]
        if len(stem) >= 2:
            add(stem, DISTRICT, True)
    for s in divisions.subdistricts.values():
        add(s.name, SUBDISTRICT)
    for c in divisions.committees.values():
        add(c.short_name, COMMUNITY)
    lengths: dict[str, set[int]] = {}
    for name in names:
        lengths.setdefault(name[0], set()).add(len(name))
    return names, {c: tuple(sorted(ks, reverse=True)) for c, ks in lengths.items()}


def split_admin(s: str) -> tuple[list[str | None], int]:
    """The five admin fields found at the front of ``s`` and where the rest begins."""
    names, lengths = gazetteer()
    found: list[str | None] = [None] * 5
    pos, level = 0, 0
    n = len(s)
    while pos < n and level < 5:
        hit: tuple[int, int] | None = None  # (level, end)
        for k in lengths.get(s[pos], ()):
            if pos + k > n:
                continue
            known = names.get(s[pos : pos + k])
            if known is None or known[0] < level:
                continue
            end = pos + k
            if end < n and s[end] in (_NOT_AFTER_SHORT if known[1] else _ROAD_ENDS):
                continue
            hit = (known[0], end)
            break
        if hit is None:
            for lv in range(level, 5):
                if not (_GENERIC_ALONE[lv] or level > 0):
                    continue
                m = _GENERIC[lv].match(s, pos)
                if (
                    m is not None
                    and (m.end() < n or lv == COMMUNITY)
                    and s[m.end() : m.end() + 1] not in _ROAD_ENDS
                ):
                    hit = (lv, m.end())
                    break
        if hit is None:
            break
        lv, end = hit
        found[lv] = s[pos:end]
        pos, level = end, lv + 1
    return found, pos


def short_form(level: int, name: str | None) -> str | None:
    """What two spellings of one division share: 旌阳区/旌阳 → 旌阳, 文昌社区 → 文昌."""
    if not name:
        return None
    for suffix in _SUFFIXES[level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
