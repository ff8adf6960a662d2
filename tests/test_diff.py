"""The diff of two versions, on hand-built edits of the sample city, checked against
geopandas' own spatial join; and the patch that turns one version into the other."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgis.diff import apply_patch, diff_versions, keyed, patch_lines
from gridgis.errors import InputError
from tests.conftest import City


def _edited(city: City) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """The clean version with one grid joined into its neighbour, one renamed, one given
    another officer, and one cut in two (its east half a new code)."""
    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    codes = frame["code"].tolist()
    city.put(frame, a, shapely.union(m[a], m[b]))
    renamed, updated, cut = [i for i in range(len(frame)) if i not in (a, b)][:3]
    frame.loc[frame.index[renamed], "name"] = "新名字网格"
    frame.loc[frame.index[updated], "officer_name"] = "新网格员"
    x0, _, x1, _ = m[cut].bounds
    new_code = codes[cut][:12] + "904"
    added = city.split(frame, cut, (x0 + x1) / 2, new_code)
    added = added.drop(index=b).reset_index(drop=True)
    return added, {
        "joined": codes[a],
        "retired": codes[b],
        "renamed": codes[renamed],
        "updated": codes[updated],
        "cut": codes[cut],
        "new": new_code,
    }


def test_a_version_against_itself_has_no_change(city: City) -> None:
    review = city.imported(city.frame())
    diff = diff_versions(city.store, "示范版-第一期", review.version, city.settings)
    assert diff.summary()["unchanged"] == len(city.clean)
    assert diff.households_moved == 0 and diff.addresses.empty and diff.mapping.empty
    lines = list(patch_lines(city.clean, city.store.read_grids(review.version), "a", "b"))
    assert len(lines) == 1  # the header alone


def test_hand_built_changes_are_counted_and_mapped(city: City) -> None:
    edited, who = _edited(city)
    after = city.imported(edited).version
    diff = diff_versions(city.store, "示范版-第一期", after, city.settings)
    assert diff.removed == [who["retired"]]
    assert diff.added == [who["new"]]
    assert diff.reshaped == sorted([who["joined"], who["cut"]])
    assert diff.renamed == [who["renamed"]]
    assert diff.updated == [who["updated"]]
    assert diff.summary()["unchanged"] == len(city.clean) - 5

    # The retired grid went whole to the one it joined, area and households.
    went = diff.mapping[diff.mapping["old_code"] == who["retired"]]
    assert went["new_code"].tolist() == [who["joined"]]
    assert went["old_share"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert went["household_share"].iloc[0] == pytest.approx(1.0)

    # Households and addresses that changed grid, counted by geopandas independently.
    buildings = city.store.read_base_layer("buildings")
    addresses = city.store.read_base_layer("addresses")
    old = city.clean.set_index("code")
    # Buildings in the retired grid all move; in the cut grid, those in its east half.
    new = city.store.read_grids(after).set_index("code")
    targets = gpd.GeoDataFrame(
        geometry=[old.geometry[who["retired"]], new.geometry[who["new"]]], crs=4490
    )
    points = gpd.GeoDataFrame(
        buildings[["households"]], geometry=buildings.representative_point(), crs=4490
    )
    hit = gpd.sjoin(points, targets, predicate="within")
    assert diff.households_moved == int(points.loc[hit.index.unique(), "households"].sum())
    addr_hit = gpd.sjoin(addresses[["address", "geometry"]], targets, predicate="within")
    assert len(diff.addresses) == addr_hit.index.nunique()
    assert set(diff.addresses["old_grid"]) <= {who["retired"], who["cut"]}


def test_the_patch_turns_a_into_b_exactly_and_refuses_the_wrong_base(
    city: City,
) -> None:
    edited, _ = _edited(city)
    after = city.store.read_grids(city.imported(edited).version)
    lines = list(patch_lines(city.clean, after, "a", "b"))
    rebuilt = apply_patch(city.clean, lines)
    expected = after.set_axis(keyed(after)).sort_index()
    assert rebuilt["code"].tolist() == expected["code"].tolist()
    for column in ("name", "kind", "households", "officer_name", "community_code"):
        assert rebuilt[column].tolist() == expected[column].tolist(), column
    assert all(
        shapely.to_wkb(g1) == shapely.to_wkb(g2)
        for g1, g2 in zip(rebuilt.geometry, expected.geometry, strict=True)
    )
    with pytest.raises(InputError, match="line"):
        apply_patch(after, lines)  # applied twice: the grids are no longer as it expects


def test_repeated_codes_are_keyed_apart() -> None:
    frame = gpd.GeoDataFrame(
        {"code": ["A", "B", "A"]}, geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=4490
    )
    assert list(keyed(frame)) == ["A", "B", "A#2"]
    assert np.unique(keyed(frame)).size == 3
