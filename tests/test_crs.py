"""CRS parsing, GK zones and the GCJ-02/BD-09 round trips."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgis import crs
from gridgis.errors import InputError

# A spread of points over Deyang and beyond (degrees, CGCS2000 ≈ WGS84).
LON = np.array([104.398, 104.25, 104.58, 103.9, 105.1, 116.39, 121.47])
LAT = np.array([31.129, 31.02, 31.36, 31.5, 30.8, 39.91, 31.23])


def metres(dlon: np.ndarray, dlat: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.hypot(dlon * 111_320 * np.cos(np.radians(lat)), dlat * 110_574)


@pytest.mark.parametrize("shift", ["gcj02", "bd09"])
def test_shift_inverse_is_sub_millimetre(shift: str) -> None:
    slon, slat = crs.wgs84_to_shifted(LON, LAT, shift)
    offset = metres(slon - LON, slat - LAT, LAT)
    assert (offset > 100).all(), "the forward shift moves points by hundreds of metres"
    back_lon, back_lat = crs.shifted_to_wgs84(slon, slat, shift)
    assert metres(back_lon - LON, back_lat - LAT, LAT).max() < 0.001


def test_gcj02_offset_in_deyang_matches_the_published_range() -> None:
    glon, glat = crs.wgs84_to_gcj02(np.array([104.398]), np.array([31.129]))
    offset = metres(glon - 104.398, glat - 31.129, np.array([31.129]))[0]
    assert 300 <= offset <= 600


def test_outside_china_is_not_shifted() -> None:
    lon, lat = crs.wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert lon[0] == 2.35 and lat[0] == 48.85


@pytest.mark.parametrize(
    ("text", "epsg", "shift"),
    [
        ("wgs84", 4326, None),
        ("CGCS2000", 4490, None),
        ("gcj02", 4326, "gcj02"),
        ("bd09", 4326, "bd09"),
        ("4544", 4544, None),
        ("EPSG:4523", 4523, None),
        (3857, 3857, None),
    ],
)
def test_parse_crs(text: str | int, epsg: int, shift: str | None) -> None:
    spec = crs.parse_crs(text)
    assert (spec.epsg, spec.shift) == (epsg, shift)


@pytest.mark.parametrize("text", ["mars", "EPSG:99999999", ""])
def test_parse_crs_refuses_unknown(text: str) -> None:
    with pytest.raises(InputError):
        crs.parse_crs(text)


def test_gk_zone_35_codes() -> None:
    assert crs.gk_zone_epsg(35, prefixed=True) == 4523
    assert crs.gk_zone_epsg(35, prefixed=False) == 4544
    with pytest.raises(InputError):
        crs.gk_zone_epsg(12, prefixed=True)


def test_geometry_round_trip_through_gk_and_gcj() -> None:
    square = shapely.box(104.39, 31.12, 104.40, 31.13)
    for spec in (crs.parse_crs(4523), crs.parse_crs("gcj02"), crs.parse_crs("bd09")):
        there = crs.from_cgcs2000(np.array([square]), spec)
        back = crs.to_cgcs2000(there, spec)[0]
        assert shapely.hausdorff_distance(back, square) < 1e-8
