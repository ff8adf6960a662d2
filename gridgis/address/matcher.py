"""Free-text addresses → points of the standard address base, with a confidence.

Built once from the address base (``store.read_base_layer("addresses")``): the parts of
every address are spelled the way :func:`normalize` spells a query, and dictionaries
keyed on them answer the exact cases (road+door+building+unit, compound+building,
village+组+door …) with a few lookups. What is left goes to the fuzzy steps, each with a
lower score and a flag that says why: an unknown door number takes the nearest door on
its road, a misspelt name the nearest known name. Admin prefixes the query gives
(district, subdistrict, community) mark down candidates they contradict.

Group records (a building without its unit, a door, a compound, a village's 组) sit at
the member point nearest the members' mean, so they fall inside the group's own area.
"""

from __future__ import annotations

import bisect
import gc
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.address.admin import COMMUNITY, LEVELS, short_form, split_admin
from gridgis.address.names import NameIndex
from gridgis.address.normalize import NormalizedAddress, normalize
from gridgis.address.text import canon_name
from gridgis.errors import GridgisError, InvalidValueError

GOOD_ENOUGH = 0.6
# Scores of partial matches: what the query pinned down, not how sure the match is.
UNIT_UNKNOWN = 0.95
DOOR_ONLY = 0.9
COMPOUND_ONLY = 0.85
BUILDING_UNKNOWN = 0.8
GROUP_ONLY = 0.8
NEAREST_DOOR = 0.78
ROAD_ONLY = 0.45
ADMIN_MISMATCH = 0.5  # per contradicting level: alone it falls below GOOD_ENOUGH
DOOR_CONFLICT = 0.88  # compound found, but the road+door named points elsewhere
COMPOUND_CONFLICT = 0.9  # road+door found, but the compound named is another one
GLUED_SIMILARITY = 0.8  # a name with a number in it, read as road+door: only if close
BASE_CRS = 4490

K = TypeVar("K")
_GROUP = re.compile(r"(\d+)(?:组|社)")
_LEADING_INT = re.compile(r"\d+")
_DOOR_AND_REST = re.compile(r"(\d+(?:-\d+)?)号?(.*)")


@dataclass(slots=True)
class MatchedAddress:
    """One address of the base: its full text, point (EPSG:4490), score 0..1 and flags."""

    address: str
    lon: float
    lat: float
    score: float
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "lon": self.lon,
            "lat": self.lat,
            "score": self.score,
            "flags": list(self.flags),
        }


@dataclass(slots=True)
class AddressMatch:
    """The answer for one query: ``match`` is set when the best candidate is good enough."""

    query: str
    normalized: str
    match: MatchedAddress | None
    candidates: list[MatchedAddress]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "normalized": self.normalized,
            "match": None if self.match is None else self.match.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass(frozen=True, slots=True)
class AddressError:
    """A query of a batch that is not an address; the rest of the batch goes on."""

    query: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "error": self.error}


def _text_column(frame: pd.DataFrame, name: str) -> list[str | None]:
    if name not in frame.columns:
        return [None] * len(frame)
    col = frame[name]
    return [
        None if v is None or v != v or not str(v).strip() else str(v).strip()
        for v in col.astype(object).tolist()
    ]


def _canon(value: str | None) -> str | None:
    return canon_name(value) or None if value else None


def _canon_door(value: str | None) -> str | None:
    door = _canon(value)
    return door[:-1] or None if door and door.endswith("号") else door


def _canon_numbered(value: str | None, suffix: str) -> str | None:
    """3 / 3号楼 / 3栋 → 3栋; 1 / 1单元 → 1单元 (the normaliser's spelling)."""
    v = _canon(value)
    if v and v.isdigit():
        return v + suffix
    return v


def _frozen(index: dict[K, list[int]]) -> dict[K, tuple[int, ...]]:
    """Tuples of ints: the garbage collector stops scanning them, lists it never does."""
    return {k: tuple(v) for k, v in index.items()}


def _cut_after(address: str, part: str | None) -> str:
    """The address up to and including ``part`` (a group's own address), else all of it."""
    if not part:
        return address
    i = address.rfind(part)
    return address[: i + len(part)] if i >= 0 else address


def _admin_aliases(name: str) -> Iterable[str]:
    """What people may type for a name: without a leading admin prefix or a trailing 小区."""
    _, pos = split_admin(name)
    if 0 < pos < len(name):
        yield name[pos:]
    if name.endswith("小区") and len(name) > 4:
        yield name[:-2]


_UnitKey = tuple[str | None, str | None, str | None, str | None, str | None]


@dataclass
class _Base:
    """What the pass over the address base collects: each group's members, by key."""

    # Every record's road, door, compound and building as given.
    raw: list[tuple[str | None, ...]] = field(default_factory=list)
    # An urban record's road, door, compound, building and unit, as matched.
    units: dict[int, _UnitKey] = field(default_factory=dict)
    buildings: dict[tuple[str | None, str | None, str | None, str], list[int]] = field(
        default_factory=dict
    )
    doors: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    compounds: dict[str, list[int]] = field(default_factory=dict)
    roads: dict[str, list[int]] = field(default_factory=dict)
    village_groups: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    villages: set[str] = field(default_factory=set)
    by_vgd: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    by_gd: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add_rural(self, rid: int, village: str, group: str, door: str | None) -> None:
        self.villages.add(village)
        self.village_groups.setdefault((village, group), []).append(rid)
        if door:
            self.by_vgd.setdefault((village, group, door), []).append(rid)
            self.by_gd.setdefault((group, door), []).append(rid)

    def add_urban(
        self,
        rid: int,
        road: str | None,
        door: str | None,
        compound: str | None,
        building: str | None,
        unit: str | None,
    ) -> None:
        self.units[rid] = (road, door, compound, building, unit)
        if road:
            self.roads.setdefault(road, []).append(rid)
            if door:
                self.doors.setdefault((road, door), []).append(rid)
        if compound:
            self.compounds.setdefault(compound, []).append(rid)
        if building:
            self.buildings.setdefault((road, door, compound, building), []).append(rid)


class AddressMatcher:
    """The address base, indexed for matching free text; build with :meth:`from_frame`."""

    def __init__(self, good_enough: float = GOOD_ENOUGH) -> None:
        self.good_enough = good_enough
        self.address: list[str] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.admin: list[tuple[str | None, ...]] = []
        self.rec_road: list[str | None] = []
        self.rec_door: list[str | None] = []
        self.rec_compound: list[str | None] = []
        self.rows = 0
        # exact keys → record ids
        self.by_rdbu: dict[tuple[str, str, str, str], tuple[int, ...]] = {}
        self.by_rdb: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self.by_rd: dict[tuple[str, str], tuple[int, ...]] = {}
        self.by_cbu: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self.by_cb: dict[tuple[str, str], tuple[int, ...]] = {}
        self.by_c: dict[str, tuple[int, ...]] = {}
        self.by_road: dict[str, tuple[int, ...]] = {}
        self.by_vgd: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self.by_vg: dict[tuple[str, str], tuple[int, ...]] = {}
        self.by_gd: dict[tuple[str, str], tuple[int, ...]] = {}
        # door numbers, for the nearest door: road (or village and 组) → its doors
        self.road_doors: dict[str, _Doors] = {}
        self.group_doors: dict[tuple[str, str], _Doors] = {}
        self.roads = NameIndex((), _admin_aliases)
        self.compounds = NameIndex((), _admin_aliases)
        self.villages = NameIndex((), _admin_aliases)

    def __len__(self) -> int:
        return self.rows

    # --- building ------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls, frame: gpd.GeoDataFrame, *, good_enough: float = GOOD_ENOUGH
    ) -> AddressMatcher:
        """Index an address base frame as the store returns it (points in EPSG:4490)."""
        if frame.crs is not None and frame.crs.to_epsg() not in (BASE_CRS, 4326):
            frame = frame.to_crs(BASE_CRS)
        geoms = frame.geometry.to_numpy()
        point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
        x = np.where(point, shapely.get_x(geoms), np.nan)
        y = np.where(point, shapely.get_y(geoms), np.nan)
        cols = {c: _text_column(frame, c) for c in ("address", *LEVELS)}
        for c in ("road", "door_number", "compound", "building", "unit"):
            cols[c] = _text_column(frame, c)
        has_text = np.array([a is not None for a in cols["address"]], dtype=bool)
        keep = np.flatnonzero(np.isfinite(x) & np.isfinite(y) & has_text)
        m = cls(good_enough)
        m._build(x, y, cols, keep.tolist())
        return m

    def _record(self, address: str, lon: float, lat: float, like: int) -> int:
        self.address.append(address)
        self.lon.append(lon)
        self.lat.append(lat)
        self.admin.append(self.admin[like])
        self.rec_road.append(self.rec_road[like])
        self.rec_door.append(self.rec_door[like])
        self.rec_compound.append(self.rec_compound[like])
        return len(self.address) - 1

    def _group(self, members: list[int], address: str) -> int:
        """A record for a group of addresses at the member nearest their mean."""
        if len(members) == 1:
            i = members[0]
        else:
            xs = np.array([self.lon[j] for j in members])
            ys = np.array([self.lat[j] for j in members])
            i = members[int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))]
        return self._record(address, self.lon[i], self.lat[i], i)

    def _build(
        self,
        x: np.ndarray[Any, Any],
        y: np.ndarray[Any, Any],
        cols: dict[str, list[str | None]],
        keep: list[int],
    ) -> None:
        """One record per address, then one per group of them (building, door, compound,
        road, village 组) — in that order, which fixes the group records' ids."""
        base = self._add_addresses(x, y, cols, keep)
        self.rows = len(keep)
        self._index_units(base)
        self._index_buildings(base)
        self._index_doors(base)
        by_c: dict[str, list[int]] = {}
        for compound, members in base.compounds.items():
            by_c.setdefault(compound, []).append(self._group_up_to(members, base, 2))
        by_road: dict[str, list[int]] = {}
        for road, members in base.roads.items():
            by_road.setdefault(road, []).append(self._group_up_to(members, base, 0))
        self.by_c, self.by_road = _frozen(by_c), _frozen(by_road)
        self._index_villages(base)
        self.roads = NameIndex(base.roads, _admin_aliases)
        self.compounds = NameIndex(base.compounds, _admin_aliases)
        self.villages = NameIndex(base.villages, _admin_aliases)

    def _add_addresses(
        self,
        x: np.ndarray[Any, Any],
        y: np.ndarray[Any, Any],
        cols: dict[str, list[str | None]],
        keep: list[int],
    ) -> _Base:
        """A record for every address of the base, and who belongs to which group."""
        base = _Base()
        admin_cache: dict[tuple[str | None, ...], tuple[str | None, ...]] = {}
        for rid, row in enumerate(keep):
            raw_admin = tuple(cols[c][row] for c in LEVELS)
            admin = admin_cache.get(raw_admin)
            if admin is None:
                admin = tuple(short_form(lv, _canon(v)) for lv, v in enumerate(raw_admin))
                admin_cache[raw_admin] = admin
            road = _canon(cols["road"][row])
            door = _canon_door(cols["door_number"][row])
            community = _canon(cols["community"][row])
            self.address.append(cols["address"][row] or "")
            self.lon.append(float(x[row]))
            self.lat.append(float(y[row]))
            self.admin.append(admin)
            base.raw.append(
                tuple(cols[c][row] for c in ("road", "door_number", "compound", "building"))
            )
            group = _GROUP.fullmatch(road) if road else None
            if group is not None and community:
                self.rec_road.append(None)
                self.rec_door.append(door)
                self.rec_compound.append(None)
                base.add_rural(rid, community, f"{group.group(1)}组", door)
                continue
            compound = _canon(cols["compound"][row])
            self.rec_road.append(road)
            self.rec_door.append(door)
            self.rec_compound.append(compound)
            building = _canon_numbered(cols["building"][row], "栋")
            unit = _canon_numbered(cols["unit"][row], "单元")
            base.add_urban(rid, road, door, compound, building, unit)
        return base

    def _group_up_to(self, members: list[int], base: _Base, part: int) -> int:
        """A group record whose address ends at its first member's ``part`` as given
        (0 road, 2 compound, 3 building)."""
        return self._group(
            members, _cut_after(self.address[members[0]], base.raw[members[0]][part])
        )

    def _index_units(self, base: _Base) -> None:
        """Exact keys of single addresses: road+door+building+unit, compound+building+unit."""
        by_rdbu: dict[tuple[str, str, str, str], list[int]] = {}
        by_cbu: dict[tuple[str, str, str], list[int]] = {}
        for rid, (road, door, compound, building, unit) in base.units.items():
            if building and unit:
                if road and door:
                    by_rdbu.setdefault((road, door, building, unit), []).append(rid)
                if compound:
                    by_cbu.setdefault((compound, building, unit), []).append(rid)
        self.by_rdbu, self.by_cbu = _frozen(by_rdbu), _frozen(by_cbu)

    def _index_buildings(self, base: _Base) -> None:
        """A record per building (without its unit), by road+door and by compound."""
        by_rdb: dict[tuple[str, str, str], list[int]] = {}
        by_cb: dict[tuple[str, str], list[int]] = {}
        for (road, door, compound, building), members in base.buildings.items():
            gid = self._group_up_to(members, base, 3)
            if road and door:
                by_rdb.setdefault((road, door, building), []).append(gid)
            if compound:
                by_cb.setdefault((compound, building), []).append(gid)
        self.by_rdb, self.by_cb = _frozen(by_rdb), _frozen(by_cb)

    def _index_doors(self, base: _Base) -> None:
        """A record per road+door (named by its compound when it has one), and each
        road's door numbers for the nearest door."""
        by_rd: dict[tuple[str, str], list[int]] = {}
        door_numbers: dict[str, list[tuple[int, int]]] = {}
        for (road, door), members in base.doors.items():
            _, r_door, r_compound, _ = base.raw[members[0]]
            same_compound = len({self.rec_compound[i] for i in members}) == 1
            address = self.address[members[0]]
            address = (
                _cut_after(address, r_compound)
                if same_compound and r_compound
                else _cut_after(address, f"{r_door}号")
            )
            gid = self._group(members, address)
            by_rd.setdefault((road, door), []).append(gid)
            number = _LEADING_INT.match(door)
            if number is not None:
                door_numbers.setdefault(road, []).append((int(number.group()), gid))
        for road, pairs in door_numbers.items():
            self.road_doors[road] = _Doors(pairs)
        self.by_rd = _frozen(by_rd)

    def _index_villages(self, base: _Base) -> None:
        """A record per village 组, and its house numbers for the nearest door."""
        by_vg: dict[tuple[str, str], list[int]] = {}
        for (village, g), members in base.village_groups.items():
            gid = self._group_up_to(members, base, 0)
            by_vg.setdefault((village, g), []).append(gid)
            self.group_doors[(village, g)] = _Doors(
                [
                    (int(n.group()), i)
                    for i in members
                    if (door := self.rec_door[i]) and (n := _LEADING_INT.match(door)) is not None
                ]
            )
        self.by_vg = _frozen(by_vg)
        self.by_vgd, self.by_gd = _frozen(base.by_vgd), _frozen(base.by_gd)

    # --- matching ------------------------------------------------------------------------
    def match(self, query: str, *, limit: int = 5) -> AddressMatch:
        """Match one address; raises InvalidValueError when ``query`` is not an address."""
        if limit < 1:
            raise InvalidValueError(f"limit must be at least 1, not {limit}")
        n = normalize(query)
        found = _Candidates()
        if n.group:
            self._rural(n, found)
        else:
            self._urban(n, found)
        return self._answer(query, n, found, limit)

    def match_many(
        self, queries: Sequence[str], *, limit: int = 5
    ) -> list[AddressMatch | AddressError]:
        """Match a batch; a query that is not an address gives an error entry in its place.

        The cyclic garbage collector is paused for the batch (and restored after): every
        result stays alive, so its passes would find nothing and cost about a sixth of
        the time. Reference counting still frees all temporaries.
        """
        out: list[AddressMatch | AddressError] = []
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            for q in queries:
                if not isinstance(q, str):
                    out.append(AddressError(str(q), "not an address: expected text"))
                    continue
                try:
                    out.append(self.match(q, limit=limit))
                except GridgisError as e:
                    out.append(AddressError(q, e.message))
        finally:
            if paused:
                gc.enable()
        return out

    def _answer(
        self, query: str, n: NormalizedAddress, found: _Candidates, limit: int
    ) -> AddressMatch:
        checks = _admin_checks(n.admin)
        if found.skip_levels:
            checks = tuple(c for c in checks if c[0] not in found.skip_levels)
        ranked: list[tuple[float, int, list[str]]] = []
        admin = self.admin
        for rid, (score, flags) in found.items.items():
            misses = 0
            for lv, wanted in checks:
                have = admin[rid][lv]
                if have and have != wanted:
                    misses += 1
            if misses:
                score *= ADMIN_MISMATCH**misses
                flags = [*flags, "admin_mismatch"]
            ranked.append((score, rid, flags))
        if len(ranked) > 1:
            ranked.sort(key=lambda t: (-t[0], t[1]))
        candidates = [
            MatchedAddress(self.address[rid], self.lon[rid], self.lat[rid], round(s, 3), [*f])
            for s, rid, f in ranked[:limit]
        ]
        best = candidates[0] if candidates and candidates[0].score >= self.good_enough else None
        return AddressMatch(query, n.key, best, candidates)

    def _find(
        self, index: NameIndex, name: str | None, n: NormalizedAddress, found: _Candidates
    ) -> list[tuple[str, float]]:
        """Known names for ``name``: as typed, with admin prefix text put back, or an alias.

        德阳市外国语学校 is read as city 德阳市 + 外国语学校; putting the prefix back finds
        the compound, and the city then no longer counts as a filter.
        """
        if name and name in index.exact:
            return [(name, 1.0)]
        admin = n.admin
        tail = ""
        for lv in range(4, -1, -1):
            part = admin[lv]
            if not part:
                continue
            tail = part + tail
            joined = tail + (name or "")
            if joined in index.exact:
                found.skip_levels.update(range(lv, 5))
                return [(joined, 1.0)]
        return index.find(name) if name else []

    def _split_road(self, text: str) -> tuple[str, str | None, str | None] | None:
        """长江西路锦绣花园 / 沙河37祥和尚城 → a known road, a door, the compound text."""
        for k in range(len(text) - 1, 1, -1):
            if text[:k] in self.roads.exact:
                rest = text[k:]
                m = _DOOR_AND_REST.fullmatch(rest)
                if m is not None:
                    return text[:k], m.group(1), m.group(2) or None
                return text[:k], None, rest
        return None

    def _urban(self, n: NormalizedAddress, found: _Candidates) -> None:
        roads, comps, door, building = self._read_urban(n, found)
        self._look_up_urban(roads, comps, door, building, n.unit, found)

    def _read_urban(
        self, n: NormalizedAddress, found: _Candidates
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], str | None, str | None]:
        """Known roads and compounds the query names (with their similarity), and the
        door and building: each read again where the parser's first reading names
        nothing known (a compound typed where the road goes, a door glued to a name …)."""
        road_text, comp_text = n.road, n.compound
        door, building = n.door_number, n.building
        roads = self._find(self.roads, road_text, n, found) if road_text else []
        comps = self._find(self.compounds, comp_text, n, found) if comp_text else []
        if road_text and not roads:
            as_compound = [] if comp_text else self._find(self.compounds, road_text, n, found)
            if as_compound:  # 锦绣花园3号: a compound, and the number is its building
                comps, comp_text, road_text = as_compound, road_text, None
                if door and door.isdigit() and not building:
                    building = f"{door}栋"
                door = None
            elif (split := self._split_road(road_text)) is not None:
                road_text, _, glued = split
                roads = [(road_text, 1.0)]
                if glued and not comp_text:
                    comp_text = glued
                    comps = self._find(self.compounds, glued, n, found)
        if comp_text and not comps and not roads:
            if not road_text and (as_road := self._find(self.roads, comp_text, n, found)):
                roads, road_text, comp_text = as_road, comp_text, None
            elif (split := self._split_road(comp_text)) is not None:
                road_text, split_door, comp_text = split
                roads = [(road_text, 1.0)]
                door = door or split_door
                comps = self._find(self.compounds, comp_text, n, found) if comp_text else []
        if not road_text and not comp_text and (building or door):
            comps = self._find(self.compounds, None, n, found)  # 阳光新村 read as a village
            comp_text = comps[0][0] if comps else None
        if road_text and door and not roads and not comps:
            # 丽景1500号5栋: a compound named with a number (丽景1500号院) read as a door.
            glued_name = f"{road_text}{door}号{comp_text or ''}"
            comps = self._find(self.compounds, glued_name, n, found) or [
                (c, sim) for c, sim in self.compounds.near(glued_name) if sim >= GLUED_SIMILARITY
            ]
            if comps:
                road_text, comp_text, door = None, glued_name, None
        if road_text and not roads:
            roads = self.roads.near(road_text)
        if comp_text and not comps:
            comps = self.compounds.near(comp_text)
            if not comps and not roads and not road_text:
                roads = self.roads.near(comp_text)
        if roads and not door and building and building[:-1].isdigit() and len(building) > 2:
            split_number = self._glued_door(roads[0][0], building[:-1])
            if split_number is not None:
                door, building = split_number
        return roads, comps, door, building

    def _look_up_urban(
        self,
        roads: list[tuple[str, float]],
        comps: list[tuple[str, float]],
        door: str | None,
        building: str | None,
        unit: str | None,
        found: _Candidates,
    ) -> None:
        """Candidates on the roads and in the compounds; where the query names both, each
        side's candidates the other contradicts are marked down."""
        if not comps or not roads:  # one source: no cross-check needed
            for road, sim in roads:
                self._on_road(road, sim, door, building, unit, None, found)
            for compound, sim in comps:
                self._in_compound(compound, sim, building, unit, found)
            return
        by_road = _Candidates()
        for road, sim in roads:
            self._on_road(road, sim, door, building, unit, comps, by_road)
        names = {c for c, _ in comps}
        for rid, (score, _) in by_road.items.items():
            if score >= 1.0 and self.rec_compound[rid] in names:
                found.merge(by_road)  # road, door and compound agree: nothing to add
                return
        by_compound = _Candidates()
        for compound, sim in comps:
            self._in_compound(compound, sim, building, unit, by_compound)
        if by_road.items and by_compound.items:
            places = {(r, door) for r, _ in roads}
            by_road.mark(
                lambda rid: self.rec_compound[rid] in names, COMPOUND_CONFLICT, "compound_mismatch"
            )
            by_compound.mark(
                lambda rid: (self.rec_road[rid], self.rec_door[rid]) in places,
                DOOR_CONFLICT,
                "door_mismatch",
            )
        found.merge(by_road)
        found.merge(by_compound)

    def _on_road(
        self,
        road: str,
        sim: float,
        door: str | None,
        building: str | None,
        unit: str | None,
        compounds: list[tuple[str, float]] | None,
        found: _Candidates,
    ) -> None:
        f, flags = _fuzzy(sim)
        if not door:
            if not compounds:
                found.add_all(self.by_road.get(road, ()), ROAD_ONLY * f, [*flags, "road_only"])
            return
        if (road, door) in self.by_rd:
            self._at_door(road, door, building, unit, f, flags, found)
            return
        # An unknown door number: the nearest known ones on the road, same side first.
        doors = self.road_doors.get(road)
        m = _LEADING_INT.match(door)
        if m is None or doors is None:
            found.add_all(self.by_road.get(road, ()), ROAD_ONLY * f, [*flags, "road_only"])
            return
        for gid, score in doors.nearest(int(m.group())):
            near = self.rec_door[gid]
            assert near is not None
            self._at_door(road, near, building, unit, score * f, [*flags, "nearest_door"], found)

    def _at_door(
        self,
        road: str,
        door: str,
        building: str | None,
        unit: str | None,
        f: float,
        flags: list[str],
        found: _Candidates,
    ) -> None:
        """The most precise record at a known door: unit, building, else the door."""
        at_door = self.by_rd[(road, door)]
        if not building:
            found.add_all(at_door, DOOR_ONLY * f, [*flags, "door_only"])
            return
        in_unit = self.by_rdbu.get((road, door, building, unit)) if unit else None
        _add_building(
            found, in_unit, self.by_rdb.get((road, door, building)), at_door, unit, f, flags
        )

    def _glued_door(self, road: str, digits: str) -> tuple[str, str] | None:
        """长江西路4011栋 (号 and the compound left out): door 40, building 11栋 — or a
        door number next to one that has such a building (the door was mistyped too)."""
        splits = [(digits[:k], f"{digits[k:]}栋") for k in range(1, len(digits))]
        for door, building in splits:
            if (road, door, building) in self.by_rdb:
                return door, building
        doors = self.road_doors.get(road)
        if doors is None:
            return None
        for door, building in splits:
            for gid, _ in doors.nearest(int(door)):
                if (road, self.rec_door[gid], building) in self.by_rdb:
                    return door, building
        return None

    def _in_compound(
        self,
        compound: str,
        sim: float,
        building: str | None,
        unit: str | None,
        found: _Candidates,
    ) -> None:
        f, flags = _fuzzy(sim)
        in_compound = self.by_c.get(compound, ())
        if not building:
            found.add_all(in_compound, COMPOUND_ONLY * f, [*flags, "compound_only"])
            return
        in_unit = self.by_cbu.get((compound, building, unit)) if unit else None
        in_building = self.by_cb.get((compound, building))
        _add_building(found, in_unit, in_building, in_compound, unit, f, flags)

    def _rural(self, n: NormalizedAddress, found: _Candidates) -> None:
        """马鞍村1组2号: village (read as the community), 村民小组 and house number."""
        group, door = n.group or "", n.door_number
        villages: list[tuple[str, float]] = []
        if n.community:
            found.skip_levels.add(COMMUNITY)  # the village is matched as a name, not a filter
            villages = self.villages.find(n.community) or self.villages.near(n.community)
        if not villages:
            if door:  # 1组2号 without the village: fine if only one village has it
                houses = self.by_gd.get((group, door), ())
                one = len(houses) == 1
                flags = ["no_village"] if one else ["no_village", "ambiguous"]
                found.add_all(houses, GROUP_ONLY if one else ROAD_ONLY, flags)
            return
        for village, sim in villages:
            f, flags = _fuzzy(sim)
            if door and (rids := self.by_vgd.get((village, group, door))):
                found.add_all(rids, f, flags)
            elif door and (doors := self.group_doors.get((village, group))) is not None:
                m = _LEADING_INT.match(door)
                for rid, score in doors.nearest(int(m.group())) if m is not None else ():
                    found.add(rid, score * f, [*flags, "nearest_door"])
            elif gids := self.by_vg.get((village, group)):
                found.add_all(gids, GROUP_ONLY * f, [*flags, "group_only"])


def _add_building(
    found: _Candidates,
    in_unit: tuple[int, ...] | None,
    in_building: tuple[int, ...] | None,
    in_place: tuple[int, ...],
    unit: str | None,
    f: float,
    flags: list[str],
) -> None:
    """A building asked for at a door or in a compound: the unit asked for, else the
    building (the unit unknown when one was asked for), else the door or compound."""
    if in_unit:
        found.add_all(in_unit, f, flags)
    elif in_building:
        if unit:
            found.add_all(in_building, UNIT_UNKNOWN * f, [*flags, "unit_unknown"])
        else:
            found.add_all(in_building, f, flags)
    else:
        found.add_all(in_place, BUILDING_UNKNOWN * f, [*flags, "building_unknown"])


@lru_cache(maxsize=4096)
def _admin_checks(admin: tuple[str | None, ...]) -> tuple[tuple[int, str], ...]:
    """(level, short name) for each admin level the query names."""
    return tuple((lv, s) for lv, v in enumerate(admin) if (s := short_form(lv, v)))


def _fuzzy(sim: float) -> tuple[float, list[str]]:
    """Score factor and flags for a name found at similarity ``sim`` (1: as typed)."""
    if sim >= 1.0:
        return 1.0, []
    if sim >= 0.97:
        return sim, []
    return 0.5 + 0.5 * sim, ["fuzzy"]


class _Doors:
    """The known door numbers of one road (or 组), odd and even apart: Chinese door
    numbers alternate sides of the road, so a neighbour on the same side is nearer."""

    __slots__ = ("sides",)

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        pairs = sorted(pairs)
        self.sides = tuple(
            ([n for n, _ in pairs if n % 2 == side], [i for n, i in pairs if n % 2 == side])
            for side in (0, 1)
        )

    def nearest(self, wanted: int) -> list[tuple[int, float]]:
        """Ids of the two nearest numbers below and above on each side, with scores: lower
        the further away, lower again on the other side. (Two: the nearest door may lack
        the building asked for, which the next one has.)"""
        out = []
        for side in (wanted % 2, 1 - wanted % 2):
            numbers, ids = self.sides[side]
            at = bisect.bisect_left(numbers, wanted)
            for i in (at - 2, at - 1, at, at + 1):
                if 0 <= i < len(numbers):
                    gap = abs(numbers[i] - wanted)
                    score = max(NEAREST_DOOR - 0.004 * gap, GOOD_ENOUGH + 0.02)
                    out.append((ids[i], score if side == wanted % 2 else score * 0.9))
        return out


class _Candidates:
    """Record id → (score, flags), keeping the best score per record."""

    __slots__ = ("items", "skip_levels")

    def __init__(self) -> None:
        self.items: dict[int, tuple[float, list[str]]] = {}
        self.skip_levels: set[int] = set()  # admin levels read as part of a name

    def add(self, rid: int, score: float, flags: list[str]) -> None:
        current = self.items.get(rid)
        if current is None or score > current[0]:
            self.items[rid] = (score, flags)

    def add_all(self, rids: Iterable[int], score: float, flags: list[str]) -> None:
        items = self.items
        for rid in rids:
            current = items.get(rid)
            if current is None or score > current[0]:
                items[rid] = (score, flags)

    def mark(self, agrees: Callable[[int], bool], factor: float, flag: str) -> None:
        for rid, (score, flags) in list(self.items.items()):
            if not agrees(rid):
                self.items[rid] = (score * factor, [*flags, flag])

    def merge(self, other: _Candidates) -> None:
        self.add_all_items(other.items)

    def add_all_items(self, items: dict[int, tuple[float, list[str]]]) -> None:
        for rid, (score, flags) in items.items():
            self.add(rid, score, flags)
