"""From source fields to the store's columns: aliases, vocabularies, checked values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis import crs as crsmod
from gridgis.divisions import load_district_polygons, load_divisions
from gridgis.errors import InputError
from gridgis.importer import fields as F
from gridgis.store.base import BASE_COLUMNS


def rows_named(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r) + 1) for r in rows[:5])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > 5 else ''}"


def values(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[column]


def text(series: pd.Series) -> pd.Series:
    out = series.astype(object).where(series.notna(), None)
    return out.map(lambda v: None if v is None else str(v).strip() or None)


def integers(series: pd.Series, name: str, source: str) -> pd.Series:
    numbers = pd.to_numeric(series, errors="coerce")
    bad = np.flatnonzero(series.notna().to_numpy() & numbers.isna().to_numpy())
    if len(bad):
        raise InputError(
            f"{rows_named(bad)}: {name} is not a number ({series.iloc[bad[0]]!r})", source=source
        )
    negative = np.flatnonzero((numbers < 0).to_numpy())
    if len(negative):
        raise InputError(f"{rows_named(negative)}: {name} is negative", source=source)
    return numbers.round().astype("Int64")


def json_safe(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in cleaned.to_dict("records")
    ]


# Fields a layer of each kind cannot do without.
REQUIRED: dict[str, set[str]] = {
    "communities": {"code", "name"},
    "streets": set(),
    "compounds": set(),
    "buildings": {"households"},
    "addresses": {"address"},
}


def map_base(
    kind: str,
    frame: gpd.GeoDataFrame,
    source: str,
    overrides: dict[str, str],
    repairs: Counter[str],
    warnings: list[str],
) -> pd.DataFrame:
    """The store's columns for a base layer, found among the file's fields (or named by
    ``overrides``), each typed and checked the way its kind needs."""
    cols = [c for c in frame.columns if c != "geometry"]
    out = pd.DataFrame(index=frame.index)
    for target in BASE_COLUMNS[kind]:
        column = F.find_field(
            cols, target, overrides.get(target), source=source, required=target in REQUIRED[kind]
        )
        out[target] = values(frame, column)
    _TYPED[kind](out, source, repairs, warnings)
    return out


def _communities(
    out: pd.DataFrame, source: str, repairs: Counter[str], warnings: list[str]
) -> None:
    out["code"] = text(out["code"])
    bad = np.flatnonzero(~out["code"].fillna("").str.fullmatch(r"\d{12}").to_numpy())
    if len(bad):
        raise InputError(
            f"{rows_named(bad)}: code {out['code'].iloc[bad[0]]!r} is not a "
            "12-digit statistical code",
            source=source,
        )
    dup = np.flatnonzero(out["code"].duplicated().to_numpy())
    if len(dup):
        raise InputError(
            f"{rows_named(dup)}: duplicate community code {out['code'].iloc[dup[0]]}",
            source=source,
        )
    out["name"] = text(out["name"])
    out["kind"] = np.where(out["name"].fillna("").str.endswith("村"), "村", "社区")


def _streets(out: pd.DataFrame, source: str, repairs: Counter[str], warnings: list[str]) -> None:
    out["name"] = text(out["name"])
    labels = text(out["class"])
    mapped = labels.map(lambda v: F.STREET_CLASSES.get(v.lower()) if v else None)
    unknown = labels.notna() & mapped.isna()
    if unknown.any():
        warnings.append(
            f"{int(unknown.sum())} streets of unknown class "
            f"({', '.join(sorted(set(labels[unknown])))[:80]}) taken as street"
        )
    if labels.isna().any():
        repairs["class_missing_taken_as_street"] = int(labels.isna().sum())
    out["class"] = mapped.fillna("street")


def _compounds(out: pd.DataFrame, source: str, repairs: Counter[str], warnings: list[str]) -> None:
    for c in ("source_id", "name"):
        out[c] = text(out[c])
    labels = text(out["kind"])
    out["kind"] = labels.map(
        lambda v: F.COMPOUND_KINDS.get(v.lower(), "residential") if v else "residential"
    )


def _buildings(out: pd.DataFrame, source: str, repairs: Counter[str], warnings: list[str]) -> None:
    for c in ("source_id", "name"):
        out[c] = text(out[c])
    households = integers(out["households"], "households", source)
    if households.isna().any():
        repairs["households_missing_as_0"] = int(households.isna().sum())
    out["households"] = households.fillna(0)
    out["population"] = integers(out["population"], "population", source)
    out["floors"] = integers(out["floors"], "floors", source)


def _addresses(out: pd.DataFrame, source: str, repairs: Counter[str], warnings: list[str]) -> None:
    for c in BASE_COLUMNS["addresses"]:
        out[c] = text(out[c])
    empty = np.flatnonzero(out["address"].isna().to_numpy())
    if len(empty):
        raise InputError(f"{rows_named(empty)}: empty address text", source=source)


# Each kind's columns typed in place: (columns, source name, repairs, warnings).
_TYPED: dict[str, Callable[[pd.DataFrame, str, Counter[str], list[str]], None]] = {
    "communities": _communities,
    "streets": _streets,
    "compounds": _compounds,
    "buildings": _buildings,
    "addresses": _addresses,
}


def admin_frames(communities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    divisions = load_divisions()
    sub_codes = communities["code"].str[:9]
    subdistricts = gpd.GeoDataFrame(
        geometry=communities.geometry.groupby(sub_codes.to_numpy()).agg(shapely.union_all),
        crs=crsmod.CGCS2000,
    )
    subdistricts["code"] = subdistricts.index
    subdistricts["name"] = [
        divisions.subdistricts[c].name if c in divisions.subdistricts else f"街道{c}"
        for c in subdistricts["code"]
    ]
    subdistricts["district_code"] = subdistricts["code"].str[:6]
    known = load_district_polygons().set_index("code")
    district_codes = sorted(set(subdistricts["district_code"]))
    geoms = []
    for code in district_codes:
        if code in known.index:
            geoms.append(known.geometry[code])
        else:
            geoms.append(
                shapely.union_all(
                    subdistricts.geometry[subdistricts["district_code"] == code].to_numpy()
                )
            )
    districts = gpd.GeoDataFrame(
        {
            "code": district_codes,
            "name": [
                divisions.districts[c].name if c in divisions.districts else f"区县{c}"
                for c in district_codes
            ],
        },
        geometry=geoms,
        crs=crsmod.CGCS2000,
    )
    return (
        districts,
        subdistricts.reset_index(drop=True)[["code", "name", "district_code", "geometry"]],
    )


def map_department(
    frame: gpd.GeoDataFrame, id_field: str | None, source: str, warnings: list[str]
) -> pd.DataFrame:
    """Every source field kept as an attribute; the department's grid id as ``source_id``."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    if id_field is not None and id_field not in columns:
        raise InputError(
            f"field {id_field!r} not found; the file has {', '.join(columns)}", source=source
        )
    id_col = id_field or F.department_id_field(columns)
    if id_col is None:
        warnings.append(
            "no grid id field found, so rows are numbered instead; "
            "name the id field (id_field) to use one"
        )
        ids = pd.Series([str(i + 1) for i in range(len(frame))], index=frame.index)
    else:
        ids = text(frame[id_col])
        duplicates = int(ids.dropna().duplicated().sum())
        if duplicates:
            warnings.append(f"{duplicates} duplicate grid ids in {id_col}")
    return pd.DataFrame(
        {"source_id": ids, "attributes": json_safe(frame[columns])}, index=frame.index
    )
