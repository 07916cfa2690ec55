"""Nearest towers and tower counts: real Mauritania register and towers against brute force, and small tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

from connectmap.enrich import add_nearest_towers
from connectmap.parameters.enrich import EnrichParams
from tests.conftest import shared_file

GEOD = pyproj.Geod(ellps="WGS84")


def towers_frame(rows):
    """rows: (site_id, operator, technology, lon, lat, range_m)."""
    df = pd.DataFrame(rows, columns=["site_id", "operator", "technology", "lon", "lat", "range_m"])
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(df.lon, df.lat),
                            crs="EPSG:4326")


def schools_frame(lon, lat):
    return gpd.GeoDataFrame({"source_row": np.arange(2, len(lon) + 2)}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")


def _brute(slon, slat, tlon, tlat):
    n, m = len(slon), len(tlon)
    _, _, d = GEOD.inv(np.repeat(slon, m), np.repeat(slat, m), np.tile(tlon, n), np.tile(tlat, n))
    return np.asarray(d).reshape(n, m) / 1000.0


@pytest.fixture(scope="module")
def mauritania():
    from connectmap.io import read_boundaries, read_schools, read_towers
    from connectmap.validate import validate_schools

    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    outline = shared_file("mauritania", "ne10m_MRT_admin0.geojson")
    towers = read_towers(shared_file("mauritania", "mauritania_towers_from_register.csv"))
    clean = validate_schools(read_schools(register), boundary=read_boundaries(outline)).clean
    return clean, towers


def test_every_mauritania_school_gets_its_nearest_2g_and_3g_tower(mauritania):
    schools, towers = mauritania
    out = add_nearest_towers(schools, towers)
    slon, slat = out.geometry.x.to_numpy(), out.geometry.y.to_numpy()
    assert len(out) == len(schools) > 2900
    for tech in ("GSM", "UMTS"):
        sites = towers[towers["technology"] == tech]
        matrix = _brute(slon, slat, sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
        best = matrix.argmin(axis=1)
        assert out[f"nearest_{tech}_id"].notna().all()
        assert (out[f"nearest_{tech}_id"].to_numpy() == sites["site_id"].to_numpy()[best]).all()
        np.testing.assert_allclose(out[f"nearest_{tech}_distance"], matrix.min(axis=1), rtol=0, atol=1e-3)
    # The list has no LTE or 5G sites: NaN distances and empty ids, never zeros.
    for tech in ("LTE", "NR"):
        assert out[f"nearest_{tech}_distance"].isna().all()
        assert out[f"nearest_{tech}_id"].isna().all()
    # Per operator (MA, MR, MC): equal to brute force over that operator's sites.
    sites = towers[(towers["technology"] == "UMTS") & (towers["operator"] == "MR")]
    matrix = _brute(slon, slat, sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
    assert (out["nearest_UMTS_id__mr"].to_numpy() == sites["site_id"].to_numpy()[matrix.argmin(axis=1)]).all()
    # towers_within_5km counts distinct sites of any technology.
    all_sites = _brute(slon, slat, towers.geometry.x.to_numpy(), towers.geometry.y.to_numpy())
    np.testing.assert_array_equal(out["towers_within_5km"].to_numpy(dtype=int), (all_sites <= 5.0).sum(axis=1))


def test_nearest_is_never_farther_than_the_tower_the_register_names(mauritania):
    """The register names a tower per school (and a distance known to be wrong in places): the geodesic nearest
    of that technology can never be farther than the named tower itself."""
    schools, towers = mauritania
    out = add_nearest_towers(schools, towers)
    named = schools["Tower Details"].astype("str").to_numpy()
    pos = towers.drop_duplicates("site_id").set_index("site_id")
    known = np.isin(named, pos.index.to_numpy())
    assert known.mean() > 0.95
    tech = pos.loc[named[known], "technology"].to_numpy()
    _, _, d = GEOD.inv(out.geometry.x.to_numpy()[known], out.geometry.y.to_numpy()[known],
                       pos.loc[named[known]].geometry.x.to_numpy(), pos.loc[named[known]].geometry.y.to_numpy())
    to_named_km = np.asarray(d) / 1000.0
    ours = np.where(tech == "GSM", out["nearest_GSM_distance"].to_numpy()[known],
                    out["nearest_UMTS_distance"].to_numpy()[known])
    assert np.all(ours <= to_named_km + 1e-9)
    # ...and for many schools a nearer tower exists than the one the register names (its known defect).
    assert (ours < to_named_km - 0.01).sum() > 10


def test_no_tower_data_keeps_nan_and_unknown_counts():
    schools = schools_frame([10.0, 10.1], [5.0, 5.1])
    out = add_nearest_towers(schools, None)
    for tech in ("GSM", "UMTS", "LTE", "NR"):
        assert out[f"nearest_{tech}_distance"].isna().all()
    assert out["towers_within_5km"].isna().all()
    empty = towers_frame([]).iloc[0:0]
    out = add_nearest_towers(schools, empty)
    assert out["nearest_LTE_distance"].isna().all()


def test_small_table_by_hand_with_operators_and_a_school_without_point():
    towers = towers_frame([
        ("A1", "Orange", "LTE", 0.0, 0.0, np.nan),
        ("A1", "Orange", "GSM", 0.0, 0.0, np.nan),
        ("B7", "Moov Africa", "LTE", 0.05, 0.0, np.nan),
        ("C3", None, "UMTS", 0.02, 0.0, np.nan),
    ])
    schools = schools_frame([0.03, np.nan], [0.0, np.nan])
    out = add_nearest_towers(schools, towers, EnrichParams(tower_count_radii_km=[3.0, 10.0]))
    # Along the equator 0.01° of longitude is 1.11319 km (a * pi / 180 / 100).
    km = 6378.137 * np.pi / 180 / 100
    assert out.loc[0, "nearest_LTE_id"] == "B7"
    assert out.loc[0, "nearest_LTE_distance"] == pytest.approx(2 * km, abs=1e-6)
    assert out.loc[0, "nearest_LTE_id__orange"] == "A1"
    assert out.loc[0, "nearest_LTE_distance__orange"] == pytest.approx(3 * km, abs=1e-6)
    assert out.loc[0, "nearest_LTE_id__moov_africa"] == "B7"
    assert out.loc[0, "nearest_UMTS_id"] == "C3"
    assert "nearest_UMTS_id__none" not in out.columns  # unknown operator: only in the all-operator columns
    assert out.loc[0, "towers_within_3km"] == 2  # C3 (1.1 km) and B7 (2.2 km); A1 is 3.34 km away
    assert out.loc[0, "towers_within_10km"] == 3  # A1 counted once although it carries GSM and LTE
    assert pd.isna(out.loc[1, "nearest_LTE_distance"]) and pd.isna(out.loc[1, "towers_within_3km"])
