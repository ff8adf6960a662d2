"""What became of a grid code: the old→new mapping with area shares, and one code's successors."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gridgis.lineage import code_mapping, last_version_with, successors
from gridgis.lookup import LoadedVersion
from gridgis.store import SqlStore
from tests.conftest import save_boxes

METRIC = 4544
# v1: A and B side by side. v2: A's area split 60/40 between C and D; B kept.
A = (104.390, 31.120, 104.400, 31.130)
B = (104.400, 31.120, 104.410, 31.130)
C = (104.390, 31.120, 104.396, 31.130)
D = (104.396, 31.120, 104.400, 31.130)
OLD_A, OLD_B = "510603001001001", "510603001001002"
NEW_C, NEW_D = "510603001001011", "510603001001012"


def frame(boxes: dict[str, tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": list(boxes)}, geometry=[shapely.box(*b) for b in boxes.values()], crs=4490
    )


def test_the_mapping_gives_shares_both_ways_and_drops_border_slivers() -> None:
    old = frame({"A": A, "B": B})
    # E takes all of D's part and a sliver of B (a border moved ~4 m).
    new = frame({"C": C, "E": (104.396, 31.120, 104.40004, 31.130), "B": (104.40004, *B[1:])})
    mapping = code_mapping(old, new, metric_epsg=METRIC)
    rows = {(r.old_code, r.new_code): r for r in mapping.itertuples()}
    assert set(rows) == {("A", "C"), ("A", "E"), ("B", "B")}
    assert rows["A", "C"].old_share == pytest.approx(0.6, abs=1e-3)
    assert rows["A", "E"].old_share == pytest.approx(0.4, abs=1e-3)
    assert rows["A", "C"].new_share == pytest.approx(1.0, abs=1e-3)
    assert rows["B", "B"].old_share == pytest.approx(0.996, abs=1e-3)
    assert rows["A", "C"].area_m2 == pytest.approx(0.6 * 957 * 1110, rel=0.02)
    assert list(mapping["old_code"]) == ["A", "A", "B"]  # largest share first within a code
    assert code_mapping(old, frame({"F": (105.0, 32.0, 105.01, 32.01)}), metric_epsg=METRIC).empty


def test_successors_of_a_retired_code(store: SqlStore) -> None:
    save_boxes(store, "v1", {OLD_A: A, OLD_B: B})
    save_boxes(store, "v2", {NEW_C: C, NEW_D: D, OLD_B: B})
    store.publish("v1", "t")
    store.publish("v2", "t")
    assert [v.name for v in store.versions_with_grid(OLD_A)] == ["v1"]
    assert [v.name for v in store.versions_with_grid(OLD_B)] == ["v1", "v2"]
    assert store.versions_with_grid("nope") == []
    loaded = LoadedVersion.load(store, store.get_version("v2"))
    found = successors(store, OLD_A, loaded, metric_epsg=METRIC)
    assert found is not None
    assert (found.code, found.version, found.name) == (OLD_A, "v1", "v1 001")
    assert [s.code for s in found.successors] == [NEW_C, NEW_D]
    assert [s.share for s in found.successors] == pytest.approx([0.6, 0.4], abs=1e-3)
    assert found.successors[0].name == "v2 011" and found.uncovered == pytest.approx(0, abs=1e-3)
    assert successors(store, "510603001001099", loaded, metric_epsg=METRIC) is None


def test_the_last_version_in_force_comes_before_a_later_draft(store: SqlStore) -> None:
    save_boxes(store, "v1", {OLD_A: A})
    save_boxes(store, "v2", {NEW_C: C})
    store.publish("v1", "t")
    store.publish("v2", "t")
    save_boxes(store, "v3-draft", {OLD_A: B})  # a draft reusing the code elsewhere
    found = last_version_with(store, OLD_A, "v2")
    assert found is not None and found.name == "v1"
    loaded = LoadedVersion.load(store, store.get_version("v2"))
    result = successors(store, OLD_A, loaded, metric_epsg=METRIC)
    assert result is not None and result.version == "v1"
    # C covers 60% of A; the rest lies in no grid of v2.
    assert [s.code for s in result.successors] == [NEW_C]
    assert result.uncovered == pytest.approx(0.4, abs=1e-3)
