"""Which source field holds what, for each base layer kind; and value vocabularies.

Bureaus name fields in Chinese, English or pinyin abbreviations; matching is by alias,
case-insensitive, and the user can name a field outright (``--households-field``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gridgis.errors import InputError

ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "社区代码", "统计代码", "区划代码", "代码", "sqdm", "cun_code"),
    "name": ("name", "名称", "社区名称", "小区名称", "路名", "道路名称", "mc", "sqmc"),
    "class": ("class", "等级", "道路等级", "类别", "fclass", "dj"),
    "source_id": ("source_id", "编号", "id", "楼栋编号", "小区编号", "bh", "objectid", "fid_"),
    "kind": ("kind", "类型", "用途", "类别", "lx"),
    "households": ("households", "户数", "hs", "hu_shu", "hhs", "户"),
    "population": ("population", "人口", "人数", "rk", "pop"),
    "floors": ("floors", "层数", "cs", "floor"),
    "address": ("address", "标准地址", "地址", "全称", "dz", "bzdz", "full_address"),
    "province": ("province", "省"),
    "city": ("city", "市"),
    "district": ("district", "区县", "区"),
    "subdistrict": ("subdistrict", "街道", "乡镇"),
    "community": ("community", "社区", "村社区"),
    "road": ("road", "路巷", "街路巷", "道路"),
    "door_number": ("door_number", "门牌号", "门牌", "mph"),
    "compound": ("compound", "小区"),
    "building": ("building", "楼栋", "楼号"),
    "unit": ("unit", "单元"),
}
# Fields in department layers that usually hold the department's own grid id.
DEPARTMENT_ID_ALIASES = (
    "网格编号",
    "网格码",
    "网格代码",
    "编号",
    "编码",
    "社区代码",
    "grid_id",
    "gridcode",
    "code",
    "id",
    "wgbh",
)

# Otherwise: a field whose name ends like an id (警务区号, 宗地号, 学区编号, GRID_ID …).
ID_NAME = re.compile(r"(编号|编码|代码|号|码|_?id|_?code|bh|dm)$", re.IGNORECASE)

STREET_CLASSES: dict[str, str] = {
    "arterial": "arterial",
    "主干路": "arterial",
    "主干道": "arterial",
    "快速路": "arterial",
    "street": "street",
    "次干路": "street",
    "次干道": "street",
    "支路": "street",
    "街": "street",
    "lane": "lane",
    "巷道": "lane",
    "巷": "lane",
    "街巷": "lane",
    "小巷": "lane",
    "river": "river",
    "河流": "river",
    "河道": "river",
    "水系": "river",
    "railway": "railway",
    "铁路": "railway",
    "wall": "wall",
    "围墙": "wall",
    "internal": "internal",
    "小区道路": "internal",
    "内部道路": "internal",
    "小区内部道路": "internal",
}
COMPOUND_KINDS: dict[str, str] = {
    "residential": "residential",
    "住宅": "residential",
    "小区": "residential",
    "居住": "residential",
    "school": "school",
    "学校": "school",
    "幼儿园": "school",
    "hospital": "hospital",
    "医院": "hospital",
    "卫生院": "hospital",
    "government": "government",
    "机关": "government",
    "政府": "government",
    "党政机关": "government",
    "industrial": "industrial",
    "工业": "industrial",
    "园区": "industrial",
    "工业园区": "industrial",
    "企业": "industrial",
    "commercial": "commercial",
    "商业": "commercial",
}
DEDICATED = frozenset({"school", "hospital", "government", "industrial"})


def find_field(
    columns: Iterable[str],
    target: str,
    explicit: str | None = None,
    *,
    source: str,
    required: bool = True,
) -> str | None:
    """The source column for ``target``: the one named explicitly, else the first alias."""
    cols = list(columns)
    if explicit:
        if explicit not in cols:
            raise InputError(
                f"field {explicit!r} not found; the file has {', '.join(cols) or 'no fields'}",
                source=source,
            )
        return explicit
    lowered = {c.lower(): c for c in cols}
    for alias in ALIASES.get(target, (target,)):
        if alias.lower() in lowered:
            return lowered[alias.lower()]
    if required:
        raise InputError(
            f"no {target!r} field (looked for {', '.join(ALIASES.get(target, (target,)))}); "
            f"the file has {', '.join(cols) or 'no fields'}",
            source=source,
        )
    return None


def department_id_field(columns: Iterable[str]) -> str | None:
    """The field most likely to hold a department's own grid id."""
    cols = list(columns)
    lowered = {c.lower(): c for c in cols}
    for alias in DEPARTMENT_ID_ALIASES:
        if alias.lower() in lowered:
            return lowered[alias.lower()]
    return next((c for c in cols if ID_NAME.search(c)), None)
