"""The same files give the same layers in PostGIS and in the embedded GeoPackage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from gridgis.store import SqlStore, open_store
from gridgis.store.base import BASE_KINDS, LayerInfo
from tests.conftest import Databases, make_settings
from tests.test_import import import_sample


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases, sample_dir: Path
) -> Iterator[tuple[SqlStore, SqlStore]]:
    stores = []
    for backend in ("geopackage", "postgis"):
        settings = make_settings(backend, tmp_path_factory.mktemp(backend), databases)
        store = open_store(settings, check=False)
        store.upgrade()
        import_sample(store, settings, sample_dir)
        stores.append(store)
    yield stores[0], stores[1]
    for store in stores:
        store.close()


def assert_same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    assert len(a) == len(b), what
    for column in a.columns:
        if column == "geometry":
            left, right = a.geometry.to_numpy(), b.geometry.to_numpy()
            assert shapely.equals_exact(left, right, tolerance=0).all(), what
        elif column != "id":
            pd.testing.assert_series_equal(
                a[column].reset_index(drop=True),
                b[column].reset_index(drop=True),
                check_dtype=False,
                obj=f"{what}.{column}",
            )


def test_layer_lists_match(pair: tuple[SqlStore, SqlStore]) -> None:
    gpkg, pg = pair

    def strip(layers: list[LayerInfo]) -> list[tuple[object, ...]]:
        return [(la.kind, la.name, la.rows, la.source_sha256, la.crs, la.encoding) for la in layers]

    assert strip(gpkg.list_layers()) == strip(pg.list_layers())


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_base_layers_are_identical(pair: tuple[SqlStore, SqlStore], kind: str) -> None:
    gpkg, pg = pair
    assert_same(gpkg.read_base_layer(kind), pg.read_base_layer(kind), kind)  # type: ignore[arg-type]


def test_department_layers_are_identical(pair: tuple[SqlStore, SqlStore]) -> None:
    gpkg, pg = pair
    names = [la.name for la in gpkg.list_layers() if la.kind == "department"]
    assert len(names) >= 20
    for name in names:
        a, b = gpkg.read_department_layer(name), pg.read_department_layer(name)
        assert_same(a.drop(columns="attributes"), b.drop(columns="attributes"), name)
        assert a["attributes"].tolist() == b["attributes"].tolist(), name
        # same field order too (JSONB reorders keys; the store puts the file's order back)
        assert [list(x) for x in a["attributes"]] == [list(x) for x in b["attributes"]], name
        assert np.all(a["source_id"].to_numpy() == b["source_id"].to_numpy())
