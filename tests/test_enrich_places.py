"""Population within radii, nearby schools and regions: real rasters and outlines, brute force and hand checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import box

from connectmap.enrich import add_population, add_regions, add_schools_nearby, enrich
from connectmap.io.rasters import open_raster, sample
from connectmap.parameters.enrich import EnrichParams
from tests.conftest import shared_file
from tests.test_enrich_towers import schools_frame, towers_frame

GEOD = pyproj.Geod(ellps="WGS84")


def test_population_on_the_real_mauritania_raster_against_hand_and_brute_force():
    layer = open_raster(shared_file("mauritania", "derived_afripop2020_MRT_clip.tif"), kind="population",
                        value="density")
    # Nouakchott, Kiffa, Nema, Zouerate.
    lon = np.array([-15.9785, -11.4044, -7.2586, -12.4800])
    lat = np.array([18.0735, 16.6166, 16.6170, 22.7350])
    out = add_population(schools_frame(lon, lat), layer)
    density = sample(layer, lon, lat)
    # 1 km disks lie inside one ~18 km pixel unless the school is within 1 km of a pixel edge: density x pi.
    col = (lon - layer.transform.c) / layer.transform.a
    row = (lat - layer.transform.f) / layer.transform.e
    interior = (np.minimum(col % 1, 1 - col % 1) > 0.1) & (np.minimum(row % 1, 1 - row % 1) > 0.1)
    assert interior.sum() >= 2
    np.testing.assert_allclose(out["pop_within_1km"].to_numpy()[interior], density[interior] * np.pi, rtol=1e-4)
    # 10 km disks cross pixels: against equal-area sampling of the disk.
    for i in range(lon.size):
        r = np.sqrt((np.arange(200) + 0.5) / 200) * 10_000.0
        rr, aa = np.meshgrid(r, (np.arange(360) + 0.5))
        plon, plat, _ = GEOD.fwd(np.full(rr.size, lon[i]), np.full(rr.size, lat[i]), aa.ravel(), rr.ravel())
        brute = np.nansum(sample(layer, plon, plat)) * np.pi * 100.0 / rr.size
        assert out["pop_within_10km"].iloc[i] == pytest.approx(brute, rel=5e-3)
    # Monotone in the radius.
    radii = out[["pop_within_1km", "pop_within_2km", "pop_within_3km", "pop_within_5km", "pop_within_10km"]]
    assert (np.diff(radii.to_numpy(), axis=1) >= 0).all()
    assert add_population(schools_frame(lon, lat), None)["pop_within_5km"].isna().all()


def test_schools_nearby_equal_brute_force_and_count_duplicates():
    rng = np.random.default_rng(12)
    lon = np.r_[rng.uniform(71.0, 71.3, 400), 71.1, np.nan]
    lat = np.r_[rng.uniform(38.5, 38.8, 400), 38.6, np.nan]
    lon[401 - 1], lat[401 - 1] = lon[0], lat[0]  # a second school at the first one's point
    out = add_schools_nearby(schools_frame(lon, lat))
    ok = np.isfinite(lon)
    _, _, d = GEOD.inv(np.repeat(lon[ok], ok.sum()), np.repeat(lat[ok], ok.sum()), np.tile(lon[ok], ok.sum()),
                       np.tile(lat[ok], ok.sum()))
    matrix = np.asarray(d).reshape(ok.sum(), ok.sum()) / 1000.0
    for r in (1, 2, 3, 5, 10):
        expected = (matrix <= r).sum(axis=1) - 1
        np.testing.assert_array_equal(out[f"schools_within_{r}km"].to_numpy()[ok].astype(int), expected)
        assert pd.isna(out[f"schools_within_{r}km"].iloc[-1])
    np.fill_diagonal(matrix, np.inf)
    np.testing.assert_allclose(out["nearest_school_distance"].to_numpy()[ok], matrix.min(axis=1), atol=1e-9)
    assert out["nearest_school_distance"].iloc[0] == 0.0 and np.isnan(out["nearest_school_distance"].iloc[-1])


def test_regions_inside_nearest_and_outside():
    regions = gpd.GeoDataFrame({"admin1": ["North", "South"], "admin2": ["N-1", "S-1"]},
                               geometry=[box(0, 1, 2, 2), box(0, 0, 2, 1)], crs="EPSG:4326")
    east_3km = GEOD.fwd(2.0, 1.5, 90.0, 3000.0)[0]
    east_60km = GEOD.fwd(2.0, 0.5, 90.0, 60000.0)[0]
    schools = schools_frame([1.0, 1.0, east_3km, east_60km, 1.0], [1.5, 1.0, 1.5, 0.5, 0.5])
    schools["admin1"] = pd.array([None, None, None, None, "Registered"], dtype="str")
    schools["quality_flags"] = pd.array(["", "", "swapped_coordinates", "", ""], dtype="str")
    out = add_regions(schools, regions)
    # On the shared boundary (lat 1.0) the first polygon in the file wins.
    assert out["admin1"].fillna("(none)").tolist() == ["North", "North", "North", "(none)", "Registered"]
    assert out["admin2"].fillna("(none)").tolist() == ["N-1", "N-1", "N-1", "(none)", "S-1"]
    assert out["region_distance_km"].iloc[2] == pytest.approx(3.0, abs=1e-3)
    assert out["quality_flags"].tolist() == ["", "", "swapped_coordinates;region_from_nearest", "outside_regions",
                                             ""]
    overwrite = add_regions(schools, regions, EnrichParams(keep_register_regions=False))
    assert overwrite["admin1"].iloc[4] == "South"


def test_real_outline_puts_coastal_schools_in_the_nearest_region():
    from connectmap.io import read_boundaries

    outline = read_boundaries(shared_file("mauritania", "ne10m_MRT_admin0.geojson"))
    # Nouakchott beach, 300 m into the sea west of the generalised coastline; and a point far into the Atlantic.
    schools = schools_frame([-16.03, -20.0, -12.0], [18.09, 18.0, 19.0])
    out = add_regions(schools, outline)
    assert out["admin1"].iloc[2] == outline["admin1"].iloc[0]
    assert pd.isna(out["admin1"].iloc[1])
    assert "outside_regions" in out["quality_flags"].iloc[1]


def test_enrich_runs_the_steps_for_the_layers_given():
    towers = towers_frame([("T", "Op", "LTE", 10.0, 10.0, 3000.0)])
    schools = schools_frame([10.0, 10.2], [10.01, 10.0])
    out = enrich(schools, towers=towers)
    assert out["covered_LTE"].tolist() == [True, False]
    assert out["cellular_coverage_type"].tolist() == ["4G", "no coverage"]
    assert "schools_within_1km" in out.columns and "pop_within_1km" not in out.columns
    assert len(out) == len(schools) and out["source_row"].tolist() == schools["source_row"].tolist()
