"""What the look-back review (回头看) can find: each type, how serious it is, and the rule
it breaks in words a grid office understands (Chinese first, English after)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import shapely

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class FindingType:
    """``error``: the version cannot be published as it is (coverage, codes);
    ``warning``: a rule of division is broken; ``info``: something to know."""

    name: str
    severity: Severity
    group: str  # coverage | geometry | division | codes | people | drift
    rule_zh: str  # a sentence with {value} and {limit}
    rule_en: str


TYPES: dict[str, FindingType] = {
    t.name: t
    for t in (
        FindingType(
            "gap",
            "error",
            "coverage",
            "社区内有{value} m²不属于任何网格（容差{limit} m²）：网格应无缝覆盖社区",
            "{value} m² of the community lie in no grid (tolerance {limit} m²)",
        ),
        FindingType(
            "overlap",
            "error",
            "coverage",
            "两个网格重叠{value} m²（容差{limit} m²）：同一地点只能属于一个网格",
            "two grids overlap by {value} m² (tolerance {limit} m²)",
        ),
        FindingType(
            "hole",
            "error",
            "coverage",
            "网格内有{value} m²的空洞不属于任何网格（容差{limit} m²）",
            "a hole of {value} m² inside the grid belongs to no grid (tolerance {limit} m²)",
        ),
        FindingType(
            "outside_community",
            "error",
            "coverage",
            "网格有{value} m²超出所属社区边界（容差{limit} m²）：网格不得跨社区",
            "{value} m² of the grid lie outside its community (tolerance {limit} m²)",
        ),
        FindingType(
            "invalid_geometry",
            "error",
            "geometry",
            "网格图形无效（{value}）：导入时已按原样修复为有效图形，请核对",
            "the grid's geometry is invalid ({value}); made valid at import, check it",
        ),
        FindingType(
            "sliver",
            "warning",
            "geometry",
            "网格含细长碎片（细长度{value}，超过{limit}）：多为绘制误差",
            "the grid has a sliver part (thinness {value} over {limit}), a drawing slip",
        ),
        FindingType(
            "multipart",
            "warning",
            "geometry",
            "网格由{value}块不相连的部分组成：网格应为一整块",
            "the grid is in {value} separate pieces",
        ),
        FindingType(
            "households_over",
            "warning",
            "division",
            "网格有{value}户，超过上限{limit}户",
            "the grid has {value} households, over the maximum of {limit}",
        ),
        FindingType(
            "households_under",
            "warning",
            "division",
            "网格有{value}户，低于下限{limit}户",
            "the grid has {value} households, under the minimum of {limit}",
        ),
        FindingType(
            "population_over",
            "warning",
            "division",
            "网格有{value}人，超过上限{limit}人",
            "the grid has {value} residents, over the maximum of {limit}",
        ),
        FindingType(
            "compound_split",
            "warning",
            "division",
            "小区被分入{value}个网格：同一小区应在一个网格内（超过户数上限的小区除外）",
            "a compound is split among {value} grids; it should lie in one",
        ),
        FindingType(
            "building_cut",
            "warning",
            "division",
            "网格边界穿过楼栋：一栋楼应整体属于一个网格",
            "a grid border runs through a building",
        ),
        FindingType(
            "off_street",
            "warning",
            "division",
            "网格边界有{value}%不沿街巷、围墙、河流或铁路（上限{limit}%）",
            "{value}% of the grid's border follows no street, wall, river or railway "
            "(limit {limit}%)",
        ),
        FindingType(
            "not_compact",
            "warning",
            "division",
            "网格形状不紧凑（Polsby–Popper {value}，下限{limit}）",
            "the grid is not compact (Polsby–Popper {value}, minimum {limit})",
        ),
        FindingType(
            "dedicated_unit_mixed",
            "warning",
            "division",
            "专属网格内有{value}户居民不属于学校、医院等专属单位：普通住户应划入综合网格",
            "the dedicated grid holds {value} households outside every dedicated unit",
        ),
        FindingType(
            "code_invalid",
            "error",
            "codes",
            "网格编码“{value}”不符合15位编码规则（所属社区12位代码＋3位顺序号）",
            "grid code {value!r} is not the 15-digit form (community code + 3 digits)",
        ),
        FindingType(
            "code_duplicate",
            "error",
            "codes",
            "网格编码“{value}”重复使用：一个编码只能指一个网格",
            "grid code {value!r} is used more than once",
        ),
        FindingType(
            "code_order",
            "warning",
            "codes",
            "网格顺序号{value}未按自西向东、自北向南的顺序编排（应为第{limit}个）",
            "sequence {value} breaks the west→east, north→south order (expected {limit})",
        ),
        FindingType(
            "no_officer",
            "warning",
            "people",
            "网格没有网格员",
            "the grid has no officer",
        ),
        FindingType(
            "officer_overloaded",
            "warning",
            "people",
            "网格员负责{value}（上限{limit}）",
            "the officer is responsible for {value} (limit {limit})",
        ),
        FindingType(
            "base_changed",
            "info",
            "drift",
            "本版本生成后，{value}已重新导入：户数或边界依据已变化",
            "{value} imported again after this version was made",
        ),
    )
}
#: What each finding type is called in a grid office (the rule says what is wrong).
LABELS_ZH: dict[str, str] = {
    "gap": "缝隙",
    "overlap": "重叠",
    "hole": "空洞",
    "outside_community": "超出社区",
    "invalid_geometry": "图形无效",
    "sliver": "细长碎片",
    "multipart": "多块组成",
    "households_over": "户数超上限",
    "households_under": "户数低于下限",
    "population_over": "人口超上限",
    "compound_split": "小区被拆分",
    "building_cut": "楼栋被切开",
    "off_street": "边界不沿街巷",
    "not_compact": "形状不紧凑",
    "dedicated_unit_mixed": "专属网格混有住户",
    "code_invalid": "编码不规范",
    "code_duplicate": "编码重复",
    "code_order": "编码顺序",
    "no_officer": "无网格员",
    "officer_overloaded": "网格员超负荷",
    "base_changed": "基础数据已更新",
}
GEOMETRIC_TYPES = frozenset(n for n, t in TYPES.items() if t.group in ("coverage", "geometry"))
CODE_TYPES = frozenset(n for n, t in TYPES.items() if t.group == "codes")


@dataclass
class Finding:
    """One thing wrong, at the grids named; ``where`` is lon/lat (EPSG:4490)."""

    type: str
    grids: list[str]
    where: shapely.Geometry | None
    value: Any
    limit: Any = None
    detail: dict[str, Any] = field(default_factory=dict)
    proposal: str | None = None

    @property
    def severity(self) -> Severity:
        return TYPES[self.type].severity

    def rule(self) -> str:
        t = TYPES[self.type]
        return t.rule_zh.format(value=self.value, limit=self.limit)

    def rule_en(self) -> str:
        t = TYPES[self.type]
        return t.rule_en.format(value=self.value, limit=self.limit)

    def to_dict(self, where: dict[str, Any] | None) -> dict[str, Any]:
        """As JSON; ``where`` is the GeoJSON of :attr:`where`, encoded by the caller for
        all findings at once."""
        return {
            "type": self.type,
            "severity": self.severity,
            "grids": self.grids,
            "where": where,
            "value": self.value,
            "limit": self.limit,
            "rule": self.rule(),
            "rule_en": self.rule_en(),
            "proposal": self.proposal,
            **({"detail": self.detail} if self.detail else {}),
        }
