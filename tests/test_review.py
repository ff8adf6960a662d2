"""The look-back review: each finding seeded into a good version by editing its export and
importing it back (as a grid office does in QGIS), found at the grid where it was put.

One store per backend holds the sample city, merged and published; every test imports
its own draft into it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgis import crs
from gridgis.errors import InputError
from gridgis.export import write_frame
from gridgis.importer.grids import import_grids
from gridgis.review.findings import CODE_TYPES, GEOMETRIC_TYPES, LABELS_ZH, TYPES
from gridgis.review.publishing import VersionHasErrors, publish_reviewed
from gridgis.review.run import Review, review_version
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO, EDIT_EPSG, City, save_boxes


def at(review: Review, kind: str) -> list[list[str]]:
    return [f.grids for f in review.findings if f.type == kind]


def codes_of(review: Review, kind: str) -> set[str]:
    return {code for grids in at(review, kind) for code in grids}


# --- clean versions ------------------------------------------------------------------------------
def test_the_merge_output_has_no_geometric_or_code_finding(city: City) -> None:
    review = review_version(city.store, DEMO, city.settings)
    found = {f.type for f in review.findings}
    assert not found & (GEOMETRIC_TYPES | CODE_TYPES), found
    assert review.summary["publishable"]
    assert review.summary["grids"] == len(city.clean)
    assert review.summary["households"] == int(city.clean["households"].sum())


def test_an_unedited_export_imports_back_clean(city: City) -> None:
    review = city.imported(city.frame())
    found = {f.type for f in review.findings}
    assert not found & (GEOMETRIC_TYPES | CODE_TYPES), found
    imported = city.store.read_grids(review.version)
    assert imported["code"].tolist() == city.clean["code"].tolist()
    assert imported["households"].tolist() == city.clean["households"].tolist()
    assert imported["officer_name"].tolist() == city.clean["officer_name"].tolist()


def test_the_json_names_every_field_the_issue_asks_for(city: City) -> None:
    body = review_version(city.store, DEMO, city.settings).to_dict()
    assert set(body) == {"version", "summary", "findings"}
    assert body["findings"], "the sample city has grids under the band"
    for finding in body["findings"]:
        assert {"type", "severity", "grids", "where", "value", "limit", "rule", "proposal"} <= set(
            finding
        )
        assert finding["type"] in TYPES
        assert finding["where"]["type"] in {"Point", "MultiPoint", "Polygon", "MultiPolygon"}
        assert any("\u4e00" <= ch <= "\u9fff" for ch in finding["rule"])  # Chinese first


# --- coverage and geometry -----------------------------------------------------------------------
def test_a_shrunk_grid_leaves_a_gap_beside_its_neighbours(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    city.put(frame, a, shapely.buffer(m[a], -5.0))
    review = city.imported(frame)
    gaps = at(review, "gap")
    assert any(frame["code"].iloc[a] in g and frame["code"].iloc[b] in g for g in gaps)
    assert not review.summary["publishable"]
    area = sum(f.value for f in review.findings if f.type == "gap")
    expected = m[a].area - shapely.buffer(m[a], -5.0).area
    assert area == pytest.approx(expected, rel=0.02)


def test_a_grown_grid_overlaps_its_neighbour(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    community = shapely.union_all(m[(frame["community_code"] == frame["community_code"].iloc[a])])
    city.put(frame, a, shapely.intersection(shapely.buffer(m[a], 8.0), community))
    review = city.imported(frame)
    pair = sorted([frame["code"].iloc[a], frame["code"].iloc[b]])
    assert pair in at(review, "overlap")


def test_a_punched_hole_is_a_hole_and_an_enclave_is_not(city: City) -> None:
    frame = city.frame()
    a, _ = city.neighbours(frame)
    m = city.metric(frame)
    inner = shapely.buffer(shapely.point_on_surface(shapely.buffer(m[a], -30.0)), 10.0)
    city.put(frame, a, shapely.difference(m[a], inner))
    review = city.imported(frame)
    assert at(review, "hole") == [[frame["code"].iloc[a]]]
    assert not at(review, "gap")
    # The same hole filled by a grid of its own (an enclave) is no finding.
    enclave = frame.iloc[[a]].copy()
    enclave["code"] = frame["code"].iloc[a][:12] + "901"
    filled = gpd.GeoDataFrame(
        gpd.pd.concat([frame, enclave], ignore_index=True), crs=frame.crs, geometry="geometry"
    )
    city.put(filled, len(filled) - 1, inner)
    assert not at(city.imported(filled), "hole")


def test_a_grid_reaching_out_of_its_community_is_named(city: City) -> None:
    frame = city.frame()
    m = city.metric(frame)
    edge = city.edge_grid(frame)  # on its community's border, grown across it below
    city.put(frame, edge, shapely.buffer(m[edge], 15.0))
    review = city.imported(frame)
    assert [frame["code"].iloc[edge]] in at(review, "outside_community")


def test_a_self_crossing_ring_is_made_valid_at_import_and_named(city: City) -> None:
    frame = city.frame()
    a, _ = city.neighbours(frame)
    m = city.metric(frame)
    x0, y0, x1, y1 = m[a].bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bowtie = shapely.Polygon(
        [(cx - 5, cy - 5), (cx + 5, cy + 5), (cx + 5, cy - 5), (cx - 5, cy + 5)]
    )
    city.put(
        frame,
        a,
        shapely.Polygon(
            list(m[a].geoms[0].exterior.coords)
            if m[a].geom_type == "MultiPolygon"
            else list(m[a].exterior.coords),
            holes=[bowtie.exterior.coords],
        ),
    )
    assert not shapely.is_valid(frame.geometry.iloc[a])
    review = city.imported(frame)
    assert [frame["code"].iloc[a]] in at(review, "invalid_geometry")


def test_a_strip_given_to_another_grid_is_a_sliver_and_a_second_part(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    city.give_strip(frame, a, b)
    review = city.imported(frame)
    code = frame["code"].iloc[a]
    assert [code] in at(review, "multipart")
    assert [code] in at(review, "sliver")
    assert not at(review, "hole")  # the strip fills the hole it leaves in b


# --- rules of division ---------------------------------------------------------------------------
def test_two_grids_joined_are_over_the_band_and_their_population_too(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    joined = frame.drop(index=frame.index[b]).reset_index(drop=True)
    city.put(joined, a if a < b else a - 1, shapely.union(m[a], m[b]))
    code = frame["code"].iloc[a]
    review = city.imported(joined)
    assert [code] in at(review, "households_over")
    hh = int(frame["households"].iloc[a] + frame["households"].iloc[b])
    assert {f.value for f in review.findings if f.type == "households_over"} >= {hh}
    # Population against its own limit: found just over it, not at it.
    pop = int(frame["population"].iloc[a] + frame["population"].iloc[b])
    over = city.settings.model_copy(update={"max_population": pop - 1})
    at_limit = city.settings.model_copy(update={"max_population": pop})
    assert [code] in at(city.imported(joined, over), "population_over")
    assert [code] not in at(city.imported(joined, at_limit), "population_over")


def test_a_cut_through_a_compound_splits_it(city: City) -> None:
    frame = city.frame()
    m = city.metric(frame)
    compounds = city.store.read_base_layer("compounds")
    c_m = crs.to_metric(compounds.geometry.to_numpy(), EDIT_EPSG)
    comp = np.flatnonzero((frame["kind"] == "综合").to_numpy())
    g, k = shapely.STRtree(c_m).query(shapely.buffer(m[comp], -1.0), predicate="contains")
    residential = (compounds["kind"].to_numpy()[k] == "residential") & (shapely.area(c_m[k]) > 2000)
    pick = np.flatnonzero(residential)[0]
    grid, compound = int(comp[g[pick]]), int(k[pick])
    new_code = frame["code"].iloc[grid][:12] + "906"
    split = city.split(frame, grid, shapely.centroid(c_m[compound]).x, new_code)
    found = [f for f in city.imported(split).findings if f.type == "compound_split"]
    pair = sorted([frame["code"].iloc[grid], new_code])
    assert [f.grids for f in found if f.grids == pair], [f.grids for f in found]
    named = next(f for f in found if f.grids == pair)
    assert named.detail["households"] <= city.settings.max_households


def test_a_split_through_a_compound_cuts_it_and_its_building(city: City) -> None:
    frame = city.frame()
    m = city.metric(frame)
    buildings = city.store.read_base_layer("buildings")
    b_m = crs.to_metric(buildings.geometry.to_numpy(), EDIT_EPSG)
    hh = buildings["households"].fillna(0).to_numpy()
    # A comprehensive grid and a building with households well inside it.
    comp = np.flatnonzero((frame["kind"] == "综合").to_numpy())
    g, k = shapely.STRtree(b_m).query(shapely.buffer(m[comp], -20.0), predicate="contains")
    pick = np.flatnonzero(hh[k] > 0)[0]
    grid, building = int(comp[g[pick]]), int(k[pick])
    new_code = frame["code"].iloc[grid][:12] + "902"
    split = city.split(frame, grid, shapely.centroid(b_m[building]).x, new_code)
    review = city.imported(split)
    pair = sorted([frame["code"].iloc[grid], new_code])
    assert pair in at(review, "building_cut")
    under = codes_of(review, "households_under")
    assert set(pair) & under  # halves of a grid in the band: at least one is under it


def test_a_grid_relabelled_dedicated_holds_homes(city: City) -> None:
    frame = city.frame()
    a, _ = city.neighbours(frame)
    frame.loc[frame.index[a], "kind"] = "专属"
    review = city.imported(frame)
    assert [frame["code"].iloc[a]] in at(review, "dedicated_unit_mixed")


def test_a_combed_border_is_not_compact(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    # Teeth of b pushed into a along their shared border: a's border grows ragged.
    shared = shapely.intersection(shapely.boundary(m[a]), shapely.boundary(m[b]))
    teeth = [
        shapely.buffer(shared.interpolate(t, normalized=True), 12.0, quad_segs=1)
        for t in np.linspace(0.05, 0.95, 12)
    ]
    bite = shapely.intersection(shapely.union_all(teeth), m[a])
    pp_clean = float(frame["compactness"].iloc[a])
    city.put(frame, a, shapely.difference(m[a], bite))
    city.put(frame, b, shapely.union(m[b], bite))
    settings = city.settings.model_copy(
        update={"min_polsby_popper": 0.9 * pp_clean, "min_reock": 1.0}
    )
    assert [frame["code"].iloc[a]] not in at(city.imported(city.frame(), settings), "not_compact")
    assert [frame["code"].iloc[a]] in at(city.imported(frame, settings), "not_compact")


def _split_diagonally(city: City, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int, str]:
    """The first comprehensive grid cut corner to corner in two: the east half a new
    grid with the code ending in 903."""
    m = city.metric(frame)
    for i in np.flatnonzero((frame["kind"] == "综合").to_numpy()):
        x0, y0, x1, y1 = m[i].bounds
        cut = shapely.LineString([(x0 - 1, y0 - 1), (x1 + 1, y1 + 1)])
        halves = shapely.get_parts(
            shapely.polygonize_full([shapely.union(shapely.boundary(m[i]), cut)])[0]
        )
        halves = halves[shapely.within(shapely.point_on_surface(halves), m[i])]
        if len(halves) == 2:
            break
    split = gpd.GeoDataFrame(
        gpd.pd.concat([frame, frame.iloc[[i]]], ignore_index=True),
        crs=frame.crs,
        geometry="geometry",
    )
    code = frame["code"].iloc[i][:12] + "903"
    split.loc[len(split) - 1, "code"] = code
    city.put(split, int(i), halves[0])
    city.put(split, len(split) - 1, halves[1])
    return split, int(i), code


def test_a_border_across_open_ground_is_off_street(city: City) -> None:
    split, i, new_code = _split_diagonally(city, city.frame())
    settings = city.settings.model_copy(update={"max_off_street_share": 0.1})
    old_code = split["code"].iloc[i]
    assert old_code not in codes_of(city.imported(city.frame(), settings), "off_street")
    found = [f for f in city.imported(split, settings).findings if f.type == "off_street"]
    assert {old_code, new_code} <= {f.grids[0] for f in found}
    assert all(f.value > 10 and f.detail["off_street_m"] > 0 for f in found)


# --- codes and people ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["51060300100100", "5106030010010A1", "510603999999001", ""])
def test_malformed_codes_import_and_are_named(city: City, bad: str) -> None:
    frame = city.frame()
    frame.loc[frame.index[3], "code"] = bad
    review = city.imported(frame)
    assert [bad] in at(review, "code_invalid")
    assert not review.summary["publishable"]


def test_a_code_used_twice_imports_and_is_named(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    frame.loc[frame.index[b], "code"] = frame["code"].iloc[a]
    review = city.imported(frame)
    code = frame["code"].iloc[a]
    assert [code, code] in at(review, "code_duplicate")
    assert (city.store.read_grids(review.version)["code"] == code).sum() == 2


def test_swapped_sequences_break_the_reading_order(city: City) -> None:
    frame = city.frame()
    community = frame["community_code"].iloc[0]
    mine = np.flatnonzero((frame["community_code"] == community).to_numpy())
    first, last = mine[0], mine[-1]
    codes = frame["code"].to_numpy().copy()
    codes[first], codes[last] = codes[last], codes[first]
    frame["code"] = codes
    review = city.imported(frame)
    assert codes[first] in codes_of(review, "code_order") | {codes[last]}
    assert codes_of(review, "code_order") & set(frame["code"].iloc[mine])


def test_officers_missing_and_overloaded(city: City) -> None:
    frame = city.frame()
    frame.loc[frame.index[0], "officer_name"] = None
    many = frame.index[5:9]
    frame.loc[many, "officer_name"] = "测试员"
    frame.loc[many, "officer_phone"] = "13800000000"
    review = city.imported(frame)
    assert [frame["code"].iloc[0]] in at(review, "no_officer")
    assert sorted(frame.loc[many, "code"]) in at(review, "officer_overloaded")


# --- import refusals ------------------------------------------------------------------------------
def test_a_file_without_codes_is_refused_naming_the_fields(city: City, tmp_path: Path) -> None:
    frame = city.frame().drop(columns=["code"])
    path = write_frame(frame, "gpkg", tmp_path / "nocode", "grids")
    with pytest.raises(InputError) as caught:
        import_grids(city.store, path, "no-code", settings=city.settings, actor="test")
    assert "no grid code field" in caught.value.message and "name" in caught.value.message
    assert "no-code" not in {v.name for v in city.store.list_versions()}


def test_a_shapefile_export_comes_back_with_its_cut_field_names(city: City, tmp_path: Path) -> None:
    path = write_frame(city.frame(), "shp", tmp_path / "grids", "grids")
    info, report = import_grids(city.store, path, "from-shp", settings=city.settings, actor="t")
    assert report.fields["community_code"] == "community_"
    assert report.fields["officer_phone"] == "officer_ph"
    back = city.store.read_grids(info.name)
    assert back["community_code"].tolist() == city.clean["community_code"].tolist()
    assert back["officer_phone"].tolist() == city.clean["officer_phone"].tolist()


# --- publishing ----------------------------------------------------------------------------------
def test_publishing_errors_is_refused_then_forced_with_a_reason(city: City) -> None:
    frame = city.frame()
    a, b = city.neighbours(frame)
    frame.loc[frame.index[b], "code"] = frame["code"].iloc[a]
    review = city.imported(frame)
    with pytest.raises(VersionHasErrors) as caught:
        publish_reviewed(city.store, review.version, city.settings, actor="test")
    assert [f["type"] for f in caught.value.findings] == ["code_duplicate"]
    assert city.store.get_version(review.version).status == "draft"
    with pytest.raises(InputError):
        publish_reviewed(city.store, review.version, city.settings, actor="t", force=True)
    published = city.store.published_version()
    assert published is not None and published.name == DEMO
    info = publish_reviewed(
        city.store, review.version, city.settings, actor="t", force=True, reason="test"
    )
    assert info.status == "published"
    entry = city.store.read_audit(1)[0]
    assert (entry.action, entry.detail["forced"], entry.reason) == ("publish", True, "test")
    assert entry.detail["errors"][0]["type"] == "code_duplicate"
    # Back to the clean version, so the module's other tests see the city as it was.
    publish_reviewed(city.store, DEMO, city.settings, actor="t")


def test_every_finding_type_has_a_rule_in_chinese_and_english() -> None:
    def check(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    for t in TYPES.values():
        assert check(t.rule_zh) and not check(t.rule_en), t.name
    assert set(LABELS_ZH) == set(TYPES) and all(map(check, LABELS_ZH.values()))


# --- drift (last: it changes the module's buildings) -------------------------------------------
def test_buildings_imported_after_the_version_show_what_moved(city: City, tmp_path: Path) -> None:
    from gridgis.export import layer_frame
    from gridgis.importer.pipeline import import_layer

    assert not at(review_version(city.store, DEMO, city.settings), "base_changed")
    buildings, _ = layer_frame(city.store, "buildings")
    grids = city.clean
    b_m = crs.to_metric(buildings.geometry.to_numpy(), EDIT_EPSG)
    inside = shapely.within(
        shapely.point_on_surface(b_m), crs.to_metric(grids.geometry.to_numpy()[:1], EDIT_EPSG)[0]
    )
    first = int(np.flatnonzero(inside)[0])
    buildings.loc[buildings.index[first], "households"] += 100
    path = write_frame(buildings, "gpkg", tmp_path / "buildings", "buildings")
    import_layer(city.store, "buildings", path, settings=city.settings, actor="test")
    review = review_version(city.store, DEMO, city.settings)
    (drift,) = [f for f in review.findings if f.type == "base_changed"]
    assert drift.grids == [grids["code"].iloc[0]]
    assert drift.detail["households_moved"] == 100
    assert drift.severity == "info"


def test_a_grid_stored_invalid_is_named_and_trips_no_other_check(city: City) -> None:
    """A GeoPackage edited in QGIS can hold a bow-tie: the review names it and goes on."""
    from gridgis.store.base import GridEdit

    review = city.imported(city.frame())
    a, _ = city.neighbours(city.frame())
    code = city.clean["code"].iloc[a]
    x0, y0, x1, y1 = city.clean.geometry.iloc[a].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    assert not bowtie.is_valid
    city.store.update_grids(review.version, [GridEdit(code, {}, bowtie)], actor="test")
    again = review_version(city.store, review.version, city.settings)
    assert [code] in at(again, "invalid_geometry")


def test_checks_without_their_layers_are_skipped_and_said(store: SqlStore) -> None:
    """A store with grids but no buildings or streets: no flood of 'under the band'."""
    save_boxes(store, "bare", {"510603001001001": (104.39, 31.12, 104.40, 31.13)})
    review = review_version(store, "bare", Settings(database_url=None))
    found = {f.type for f in review.findings}
    assert not found & {"households_under", "off_street", "building_cut"}
    assert review.summary["skipped"]["households"] == "no buildings imported"
    assert "streets" in review.summary["skipped"]["off_street"]
