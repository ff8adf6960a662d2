"""What a map's search box finds: an address, a road, a community or a grid.

People type more than addresses into the box: a road alone (沙河街), a community or a
village (文昌社区, 马鞍村), a grid's code or name, their grid officer's name. :func:`search`
reads the text each of those ways and ranks everything it finds on one score, the
address matcher's 0..1: a name as typed scores 1, an alias a little less, a near miss
less again; addresses score as the matcher scores them. Every :class:`Place` says which
grids of the version the map should show for it, so any candidate can be shown as it
is, without searching again.

The lookups besides the address matcher are built once per version, address base and
streets layer (:class:`PlaceIndex`): the grids each road's doors stand in and each
street's line runs along, the grids of each community, grids by name and by officer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.address.admin import COMMUNITY, short_form
from gridgis.address.matcher import GOOD_ENOUGH, AddressMatcher, MatchedAddress
from gridgis.address.names import NameIndex
from gridgis.address.normalize import NormalizedAddress, normalize
from gridgis.address.text import canon_name
from gridgis.crs import to_metric
from gridgis.errors import InvalidValueError
from gridgis.lookup.published import LoadedVersion

SearchKind = Literal["address", "road", "community", "grid"]
#: Which kind comes first when two places score the same: the most specific.
KIND_ORDER: dict[str, int] = {"grid": 0, "address": 1, "community": 2, "road": 3}
ALIAS = 0.95  # 文昌 for 文昌社区: what people say, but not the name itself
FUZZY = 0.8  # times the similarity of a near miss: one typo in a short name stays a candidate
# A street centreline is a grid border (街巷定界), so the grids on both sides are the
# road's: a line buffered a few metres meets them. A cross street's end only touches a
# grid's corner, so a grid counts when the road runs along it for a stretch.
ROAD_BUFFER_M = 3.0
ROAD_MIN_RUN_M = 20.0
Bounds = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Place:
    """One thing the search found, and the grids (codes) the map shows for it.

    ``code`` is the grid's or community's code; ``context`` says where it is (the
    community a grid or address lies in, the communities a road runs through, a
    community's subdistrict); ``lon``/``lat`` (CGCS2000) are an address's point.
    """

    kind: SearchKind
    text: str
    score: float
    grids: tuple[str, ...] = ()
    code: str | None = None
    context: str | None = None
    lon: float | None = None
    lat: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """What makes two finds the same place (the best-scored one is kept)."""
        return self.kind, self.code or self.text


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    """``match`` is the best place when it is good enough; ``candidates`` are the best
    ones, best first. ``ambiguous``: good enough, but tied with another of the same name
    (an officer who looks after two grids), so the choice is the user's."""

    query: str
    match: Place | None
    candidates: list[Place]
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class _Community:
    name: str
    subdistrict: str | None
    positions: tuple[int, ...]


@dataclass
class PlaceIndex:
    """One version's grids, communities and roads, looked up by name; positions are the
    version's index positions (code order), as :class:`LoadedVersion` answers them."""

    loaded: LoadedVersion
    grid_names: NameIndex
    by_grid_name: dict[str, tuple[int, ...]]
    by_officer: dict[str, tuple[int, ...]]
    communities: dict[str, _Community]  # code → community
    community_names: NameIndex
    by_community_name: dict[str, tuple[str, ...]]  # name → codes
    road_names: NameIndex
    road_grids: dict[str, tuple[int, ...]]
    road_bounds: dict[str, Bounds] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        loaded: LoadedVersion,
        matcher: AddressMatcher | None,
        streets: gpd.GeoDataFrame | None,
        *,
        metric_epsg: int,
    ) -> PlaceIndex:
        """Index ``loaded``; roads from the address base's doors and the streets' lines."""
        answers = loaded.answers
        names = [canon_name(a.get("name") or "") for a in answers]
        officers = [canon_name((a.get("officer") or {}).get("name") or "") for a in answers]
        communities = _communities(answers)
        by_community_name: dict[str, list[str]] = {}
        for code, c in communities.items():
            by_community_name.setdefault(canon_name(c.name), []).append(code)
        pairs = [_door_grids(loaded, matcher)]
        bounds: dict[str, Bounds] = {}
        if streets is not None and len(streets):
            pairs.append(_line_grids(loaded, streets, metric_epsg))
            bounds = _road_bounds(streets)
        road_grids = _group_pairs(pd.concat(pairs, ignore_index=True))
        return cls(
            loaded=loaded,
            grid_names=NameIndex((n for n in names if n), lambda _n: ()),
            by_grid_name=_positions_by(names),
            by_officer=_positions_by(officers),
            communities=communities,
            community_names=NameIndex(by_community_name, _community_aliases),
            by_community_name={k: tuple(v) for k, v in by_community_name.items()},
            road_names=NameIndex([*road_grids, *bounds], lambda _n: ()),
            road_grids=road_grids,
            road_bounds=bounds,
        )

    @property
    def nbytes(self) -> int:
        """Roughly what the lookups hold (names, position tuples), for the cache's budget."""
        tuples = [*self.by_grid_name.values(), *self.by_officer.values()]
        tuples += [*self.road_grids.values(), *(c.positions for c in self.communities.values())]
        names = len(self.grid_names) + len(self.road_names) + 2 * len(self.community_names)
        return sum(sys.getsizeof(t) for t in tuples) + names * 400 + len(self.road_bounds) * 120

    # --- what each kind of place shows --------------------------------------------------
    def codes(self, positions: Iterable[int]) -> tuple[str, ...]:
        return tuple(str(self.loaded.index.codes[i]) for i in sorted(set(positions)))

    def grid(self, position: int, score: float, flags: tuple[str, ...] = ()) -> Place:
        a = self.loaded.answers[position]
        code = str(a["code"])
        name = a.get("name") or code
        return Place("grid", name, score, (code,), code, a.get("community_name"), flags=flags)

    def community(self, code: str, score: float, flags: tuple[str, ...] = ()) -> Place:
        c = self.communities[code]
        grids = self.codes(c.positions)
        return Place("community", c.name, score, grids, code, c.subdistrict, flags=flags)

    def road(
        self, name: str, score: float, within: str | None = None, flags: tuple[str, ...] = ()
    ) -> Place:
        """A road and the grids it runs through (only those of community ``within``, if
        the query named one and the road has grids there)."""
        positions = self.road_grids.get(name, ())
        if within is not None:
            inside = set(self.communities[within].positions).intersection(positions)
            positions = tuple(inside) or positions
        codes = self.codes(positions)
        places = dict.fromkeys(
            self.loaded.answers[self.loaded.positions[c]].get("community_name") or "" for c in codes
        )
        context = "、".join(p for p in places if p) or None
        return Place("road", name, score, codes, None, context, flags=flags)

    def address(self, found: Sequence[MatchedAddress]) -> list[Place]:
        """Addresses the matcher found, each with the grid its point lies in (one lookup)."""
        if not found:
            return []
        lon = np.array([m.lon for m in found])
        lat = np.array([m.lat for m in found])
        positions = self.loaded.index.lookup_index(lon, lat).tolist()
        out = []
        for m, i in zip(found, positions, strict=True):
            grid = self.loaded.answers[i] if i >= 0 else None
            out.append(
                Place(
                    "address",
                    m.address,
                    m.score,
                    (str(grid["code"]),) if grid else (),
                    context=grid.get("community_name") if grid else None,
                    lon=m.lon,
                    lat=m.lat,
                    flags=tuple(m.flags),
                )
            )
        return out

    def bounds(self, place: Place) -> Bounds | None:
        """Where the map goes for a place: its grids, an address's point, a road's line."""
        boxes: list[NDArray[np.float64]] = []
        if place.grids:
            rows = [self.loaded.positions[c] for c in place.grids]
            boxes.append(shapely.total_bounds(self.loaded.index.geometries[rows]))
        if place.lon is not None and place.lat is not None:
            boxes.append(np.array([place.lon, place.lat, place.lon, place.lat]))
        if place.kind == "road" and not place.grids and place.text in self.road_bounds:
            boxes.append(np.array(self.road_bounds[place.text]))
        if not boxes:
            return None
        b = np.vstack(boxes)
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

    def place_dict(self, place: Place) -> dict[str, Any]:
        """A place as JSON: the single grid's answer for an address or a grid, the bounds."""
        one = place.kind in ("address", "grid") and len(place.grids) == 1
        return {
            "kind": place.kind,
            "text": place.text,
            "score": round(place.score, 3),
            "code": place.code,
            "context": place.context,
            "grids": list(place.grids),
            "grid": self.loaded.answer(place.grids[0]) if one else None,
            "point": None if place.lon is None else {"lon": place.lon, "lat": place.lat},
            "bbox": self.bounds(place),
            "flags": list(place.flags),
        }

    def answer_dict(self, answer: SearchAnswer) -> dict[str, Any]:
        return {
            "query": answer.query,
            "version": self.loaded.info.name,
            "match": None if answer.match is None else self.place_dict(answer.match),
            "ambiguous": answer.ambiguous,
            "candidates": [self.place_dict(p) for p in answer.candidates],
        }


# --- building ------------------------------------------------------------------------------
def _positions_by(names: list[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:
            out.setdefault(name, []).append(i)
    return {k: tuple(v) for k, v in out.items()}


def _community_aliases(name: str) -> Iterable[str]:
    """文昌社区 → 文昌, 马鞍村 → 马鞍: how people name a community in passing."""
    short = short_form(COMMUNITY, name)
    if short and short != name and len(short) >= 2:
        yield short


def _communities(answers: list[dict[str, Any]]) -> dict[str, _Community]:
    members: dict[str, list[int]] = {}
    for i, a in enumerate(answers):
        if a.get("community_code"):
            members.setdefault(str(a["community_code"]), []).append(i)
    out = {}
    for code, positions in members.items():
        first = answers[positions[0]]
        name = first.get("community_name") or code
        out[code] = _Community(name, first.get("subdistrict_name"), tuple(positions))
    return out


def _door_grids(loaded: LoadedVersion, matcher: AddressMatcher | None) -> pd.DataFrame:
    """(road, position) for every grid a door of the road stands in: one point lookup for
    the whole address base."""
    if matcher is None or not len(matcher.rec_road):
        return pd.DataFrame({"road": [], "position": []})
    roads = np.asarray(matcher.rec_road, dtype=object)
    positions = loaded.index.lookup_index(np.asarray(matcher.lon), np.asarray(matcher.lat))
    keep = (positions >= 0) & pd.notna(roads)
    return pd.DataFrame({"road": roads[keep], "position": positions[keep]})


def _line_grids(loaded: LoadedVersion, streets: gpd.GeoDataFrame, metric_epsg: int) -> pd.DataFrame:
    """(road, position) for every grid a street's line runs along or through."""
    names = np.array([canon_name(str(v)) if pd.notna(v) else "" for v in streets["name"]])
    named = np.flatnonzero(names != "")
    if not len(named) or not len(loaded.index):
        return pd.DataFrame({"road": [], "position": []})
    lines = shapely.buffer(
        to_metric(streets.geometry.to_numpy()[named], metric_epsg), ROAD_BUFFER_M, quad_segs=2
    )
    grids = to_metric(loaded.index.geometries, metric_epsg)
    line_idx, grid_idx = shapely.STRtree(grids).query(lines, predicate="intersects")
    run = shapely.area(shapely.intersection(lines[line_idx], grids[grid_idx]))
    along = run >= ROAD_BUFFER_M * ROAD_MIN_RUN_M
    return pd.DataFrame({"road": names[named][line_idx[along]], "position": grid_idx[along]})


def _group_pairs(pairs: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    if pairs.empty:
        return {}
    pairs = pairs.drop_duplicates().sort_values(["road", "position"])
    grouped = pairs.groupby("road", sort=False)["position"]
    return {str(road): tuple(int(p) for p in ps) for road, ps in grouped}


def _road_bounds(streets: gpd.GeoDataFrame) -> dict[str, Bounds]:
    """Each named road's extent, for a road that lies in no grid."""
    names = [canon_name(str(v)) if pd.notna(v) else "" for v in streets["name"]]
    frame = pd.DataFrame(shapely.bounds(streets.geometry.to_numpy()), columns=list("abcd"))
    frame["road"] = names
    frame = frame[frame["road"] != ""].dropna()
    agg = frame.groupby("road").agg(a=("a", "min"), b=("b", "min"), c=("c", "max"), d=("d", "max"))
    return {str(r): (row.a, row.b, row.c, row.d) for r, row in agg.iterrows()}


# --- searching -----------------------------------------------------------------------------
def search(
    text: str, places: PlaceIndex, matcher: AddressMatcher | None = None, *, limit: int = 5
) -> SearchAnswer:
    """Everything ``text`` may name, best first (at most ``limit``)."""
    query = text.strip()
    if not query:
        raise InvalidValueError("the search text is empty", param="q")
    if limit < 1:
        raise InvalidValueError(f"limit must be at least 1, not {limit}", param="limit")
    name = canon_name(query)
    try:
        n: NormalizedAddress | None = normalize(query)
    except InvalidValueError:  # not an address (no Chinese, no digits): maybe a grid code
        n = None
    found = _grids(name, places)
    if n is not None:
        found += _communities_named(name, n, places) + _roads_named(n, places)
        if matcher is not None:
            found += _addresses(matcher.match(query, limit=limit).candidates, places)
    ranked = _rank(found)[:limit]
    good = matcher.good_enough if matcher is not None else GOOD_ENOUGH
    if not ranked or ranked[0].score < good:
        return SearchAnswer(query, None, ranked)
    tied = len(ranked) > 1 and ranked[1].score == ranked[0].score
    if tied and "address" not in (ranked[0].kind, ranked[1].kind):
        return SearchAnswer(query, None, ranked, ambiguous=True)
    return SearchAnswer(query, ranked[0], ranked)


def _rank(found: list[Place]) -> list[Place]:
    best: dict[tuple[str, str], Place] = {}
    for p in found:
        if p.key not in best or p.score > best[p.key].score:
            best[p.key] = p
    return sorted(best.values(), key=lambda p: (-p.score, KIND_ORDER[p.kind], p.text))


def _similar(index: NameIndex, name: str) -> list[tuple[str, float, tuple[str, ...]]]:
    """Names for ``name``: as typed (1), by alias, else near misses, with their score."""
    exact = index.find(name)
    if exact:
        return [(n, 1.0 if s >= 1.0 else ALIAS, () if s >= 1.0 else ("alias",)) for n, s in exact]
    return [(n, FUZZY * s, ("fuzzy",)) for n, s in index.near(name, limit=3)]


def _grids(name: str, places: PlaceIndex) -> list[Place]:
    """A grid by code, name or officer (exact); by a name close to one when the text says
    网格 (otherwise every address would come with look-alike grid names)."""
    position = places.loaded.positions.get(name)
    if position is not None:
        return [places.grid(position, 1.0)]
    out = [places.grid(i, 1.0) for i in places.by_grid_name.get(name, ())]
    out += [places.grid(i, 1.0, ("officer",)) for i in places.by_officer.get(name, ())]
    if out or "网格" not in name:
        return out
    for grid_name, score, flags in _similar(places.grid_names, name):
        out += [places.grid(i, score, flags) for i in places.by_grid_name[grid_name]]
    return out


def _communities_named(name: str, n: NormalizedAddress, places: PlaceIndex) -> list[Place]:
    """A community or village: the text is its name (maybe after a district), or its name
    without 社区/村 (文昌)."""
    alone = n.community and not (n.road or n.compound or n.door_number or n.group or n.building)
    wanted = canon_name(n.community) if alone and n.community else name
    out = []
    for community, score, flags in _similar(places.community_names, wanted):
        if score < ALIAS and not alone:
            continue  # a near miss only when the text reads as a community
        out += [places.community(c, score, flags) for c in places.by_community_name[community]]
    return out


def _roads_named(n: NormalizedAddress, places: PlaceIndex) -> list[Place]:
    """A road alone (沙河街, 玉泉社区沙河街): no door, compound or building after it."""
    if not n.road or n.door_number or n.compound or n.building or n.group:
        return []
    within = _community_code(n, places)
    road = canon_name(n.road)
    return [places.road(r, s, within, f) for r, s, f in _similar(places.road_names, road)]


def _community_code(n: NormalizedAddress, places: PlaceIndex) -> str | None:
    if not n.community:
        return None
    codes = places.by_community_name.get(canon_name(n.community), ())
    return codes[0] if len(codes) == 1 else None


def _addresses(candidates: list[MatchedAddress], places: PlaceIndex) -> list[Place]:
    """The matcher's candidates; one that is just a road (its road-only record) becomes
    that road, so that choosing it shows the road rather than asking again."""
    out: list[Place] = []
    points = []
    for c in candidates:
        if "road_only" in c.flags:
            road = normalize(c.address).road
            if road and canon_name(road) in places.road_names:
                out.append(places.road(canon_name(road), c.score, None, tuple(c.flags)))
                continue
        points.append(c)
    return out + places.address(points)
