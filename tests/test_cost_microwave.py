"""Microwave links: backhauled towers, nearest site in range, reasons, and the line-of-sight check on real GeoTIFFs
written by the tests (flat ground worked by hand, a ridge, a path leaving the DEM), plus the DEM reader itself."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point

import connectmap.io.dem as dem_module
from connectmap.cost import Reason, add_costs, add_microwave_options, line_of_sight
from connectmap.errors import CRSError, MissingInputError
from connectmap.geodesy import geodesic_km
from connectmap.io.dem import read_elevation_profiles, sample_points
from connectmap.parameters.cost import CostParams, MicrowaveParams

GEOD = pyproj.Geod(ellps="WGS84")


def write_dem(path, data, *, west=-0.5, north=0.5, res=0.001, crs="EPSG:4326", nodata=-9999.0):
    transform = Affine(res, 0.0, west, 0.0, -res, north)  # north-up, pixel size res
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data.astype("float32"), 1)
    return path


def schools_at(lons, lats):
    return gpd.GeoDataFrame({"source_row": np.arange(2, 2 + len(lons))},
                            geometry=gpd.points_from_xy(lons, lats), crs="EPSG:4326")


def towers_at(ids, lons, lats, heights=None):
    return gpd.GeoDataFrame(
        {"site_id": ids, "technology": ["LTE"] * len(ids),
         "height_m": heights if heights is not None else [np.nan] * len(ids)},
        geometry=gpd.points_from_xy(lons, lats), crs="EPSG:4326",
    )


def fibre_line(lon):
    return gpd.GeoDataFrame({"status": ["operational"]}, geometry=[LineString([(lon, -2.0), (lon, 2.0)])],
                            crs="EPSG:4326")


# --- the DEM reader ------------------------------------------------------------------------------------------------
def test_sample_points_reads_values_nodata_and_outside(tmp_path):
    data = np.arange(100 * 200, dtype=np.float32).reshape(100, 200)
    data[10, 20] = -9999.0
    path = write_dem(tmp_path / "dem.tif", data, west=10.0, north=5.0, res=0.01)
    # pixel (row 3, col 7) has its centre at lon 10 + 7.5 x 0.01, lat 5 - 3.5 x 0.01
    lon = np.array([10.075, 10.205, 20.0, 10.0005])
    lat = np.array([4.965, 4.895, 0.0, 4.9995])
    values = sample_points(path, lon, lat)
    assert values[0] == 3 * 200 + 7
    assert np.isnan(values[1])  # nodata
    assert np.isnan(values[2])  # outside the raster: unknown, never 0
    assert values[3] == 0.0     # the first pixel really is 0


def test_blockwise_reading_gives_the_same_values(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    data = rng.uniform(0, 500, (300, 300)).astype(np.float32)
    path = write_dem(tmp_path / "dem.tif", data, west=0.0, north=3.0, res=0.01)
    lon, lat = rng.uniform(0, 3, 2000), rng.uniform(0, 3, 2000)
    one_block = sample_points(path, lon, lat)
    monkeypatch.setattr(dem_module, "BLOCK_PX", 37)  # many small blocks, each read once
    np.testing.assert_array_equal(sample_points(path, lon, lat), one_block)
    rows = np.floor((3.0 - lat) / 0.01).astype(int)
    cols = np.floor(lon / 0.01).astype(int)
    np.testing.assert_array_equal(one_block, data[rows, cols])


def test_projected_dem_and_profile_geometry(tmp_path):
    # a UTM 31N DEM whose value is the easting in km: the profile along a parallel must rise linearly
    west, north, res = 400_000.0, 100_000.0, 50.0
    cols = np.arange(400)
    data = np.tile((west + (cols + 0.5) * res) / 1000.0, (400, 1))
    path = write_dem(tmp_path / "utm.tif", data, west=west, north=north, res=res, crs="EPSG:32631")
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    lon1, lat1 = to_lonlat.transform(402_000.0, 95_000.0)
    lon2, lat2 = to_lonlat.transform(412_000.0, 95_000.0)
    profiles = read_elevation_profiles(path, [lon1], [lat1], [lon2], [lat2], max_samples=101)
    assert profiles.elevation_m.shape == (1, 101)
    assert profiles.distance_km[0] == pytest.approx(float(geodesic_km(lon1, lat1, lon2, lat2)), abs=1e-9)
    # easting grows from 402 to 412 km along the path (to within one 50 m pixel)
    np.testing.assert_allclose(profiles.elevation_m[0], np.linspace(402.0, 412.0, 101), atol=0.06)


def test_dem_errors(tmp_path):
    with pytest.raises(MissingInputError, match="DEM file not found"):
        sample_points(tmp_path / "none.tif", [0.0], [0.0])
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32",
                       transform=Affine(1.0, 0.0, 0.0, 0.0, -1.0, 4.0)) as dst:
        dst.write(np.zeros((4, 4), dtype="float32"), 1)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        sample_points(path, [0.5], [3.5])


# --- line of sight worked by hand ------------------------------------------------------------------------------------
def test_line_of_sight_threshold_on_flat_ground(tmp_path):
    """Flat ground at 100 m; a 20 km hop along the equator; both antennas at the same height h.

    At the middle (d1 = d2 = 10 km) both the earth bulge and the Fresnel radius are largest:
        bulge = d1 d2 / (2 k R) = 10,000^2 / (2 x 4/3 x 6,371,008.8)           = 5.8862 m
        wavelength = 299,792,458 / 11e9                                        = 0.027254 m
        F1 = sqrt(wavelength x d1 x d2 / d) = sqrt(0.027254 x 5,000)           = 11.6735 m
        needed height above ground = bulge + 0.6 F1 = 5.8862 + 7.0041          = 12.890 m
    so the link is clear with h just above 12.890 m and blocked just below.
    """
    params = MicrowaveParams(frequency_ghz=11.0, k_factor=4.0 / 3.0, fresnel_clearance=0.6)
    bulge = 10_000.0**2 / (2 * (4.0 / 3.0) * 6_371_008.8)
    fresnel = math.sqrt(299_792_458.0 / 11e9 * 10_000.0 * 10_000.0 / 20_000.0)
    needed = bulge + 0.6 * fresnel
    assert needed == pytest.approx(12.890, abs=0.001)
    path = write_dem(tmp_path / "flat.tif", np.full((200, 600), 100.0), west=-0.05, north=0.05, res=0.0005)
    lon2, _, _ = GEOD.fwd(0.0, 0.0, 90.0, 20_000.0)
    profiles = read_elevation_profiles(path, [0.0, 0.0], [0.0, 0.0], [lon2, lon2], [0.0, 0.0], max_samples=201)
    assert profiles.fractions[100] == 0.5  # the middle is sampled
    clear = line_of_sight(profiles, np.array([needed + 0.02, needed - 0.02]), np.array([needed + 0.02,
                                                                                       needed - 0.02]), params)
    assert clear.tolist() == [1.0, 0.0]


def test_line_of_sight_unknown_off_the_dem(tmp_path):
    path = write_dem(tmp_path / "small.tif", np.full((10, 10), 50.0), west=0.0, north=0.01, res=0.001)
    profiles = read_elevation_profiles(path, [0.005], [0.005], [0.5], [0.005])  # ends far outside the DEM
    assert np.isnan(line_of_sight(profiles, 10.0, 30.0, MicrowaveParams())[0])


# --- choosing the site --------------------------------------------------------------------------------------------
def test_ridge_blocks_the_nearest_site_and_the_next_one_is_taken(tmp_path):
    # ground 100 m with a 400 m ridge between lon 0.0 and 0.01; school at lon -0.1; fibre at both towers
    data = np.full((200, 800), 100.0)
    ridge_cols = slice(int((0.0 + 0.5) / 0.001), int((0.01 + 0.5) / 0.001))
    data[:, ridge_cols] = 400.0
    dem = write_dem(tmp_path / "ridge.tif", data, west=-0.5, north=0.1, res=0.001)
    schools = schools_at([-0.1], [0.0])
    # "east" (0.19 degrees, ~21.2 km, across the ridge) is nearer than "west" (0.22 degrees, ~24.5 km, flat)
    towers = towers_at(["east", "west"], [0.09, -0.32], [0.0, 0.0], heights=[30.0, 30.0])
    fibre = pd.concat([fibre_line(0.09), fibre_line(-0.32)], ignore_index=True)
    no_dem = add_microwave_options(schools, towers, fibre)
    assert no_dem["microwave_site_id"].iloc[0] == "east" and no_dem["microwave_los"].iloc[0] == "not_checked"
    with_dem = add_microwave_options(schools, towers, fibre, dem=dem)
    assert with_dem["microwave_site_id"].iloc[0] == "west"
    assert with_dem["microwave_los"].iloc[0] == "clear"
    assert with_dem["microwave_reason"].iloc[0] == ""
    expected = float(geodesic_km(-0.1, 0.0, -0.32, 0.0))
    assert with_dem["microwave_distance_km"].iloc[0] == pytest.approx(expected, abs=1e-9)
    # with only the blocked site the reason is no_line_of_sight
    only_east = add_microwave_options(schools, towers.iloc[:1], fibre, dem=dem)
    assert only_east["microwave_reason"].iloc[0] == Reason.NO_LINE_OF_SIGHT.value
    assert pd.isna(only_east["microwave_site_id"].iloc[0])
    costed = add_costs(only_east)
    assert "microwave:no_line_of_sight" in costed["infeasible_reasons"].iloc[0]


def test_reasons_when_there_is_no_link():
    schools = schools_at([0.0, 1.0, np.nan], [0.0, 0.0, np.nan])
    towers = towers_at(["t1"], [0.05], [0.0])
    near_fibre = fibre_line(0.055)  # ~0.56 km from the tower
    far_fibre = fibre_line(0.2)     # ~16 km from the tower
    assert set(add_microwave_options(schools, None, near_fibre)["microwave_reason"]) == {"no_tower_data"}
    assert set(add_microwave_options(schools, towers, None)["microwave_reason"]) == {"no_fibre_data"}
    unbacked = add_microwave_options(schools, towers, far_fibre)["microwave_reason"].tolist()
    assert unbacked == ["no_fibre_backhauled_site", "no_fibre_backhauled_site", "location_unknown"]
    linked = add_microwave_options(schools, towers, near_fibre)
    assert linked["microwave_reason"].tolist() == ["", "beyond_max_microwave_range", "location_unknown"]
    tower_to_fibre = float(geodesic_km(0.05, 0.0, 0.055, 0.0))
    assert linked["microwave_site_fibre_km"].iloc[0] == pytest.approx(tower_to_fibre, abs=1e-6)
    # a planned fibre route cannot backhaul, nor can a microwave "line"
    planned = near_fibre.assign(status=["planned"])
    assert add_microwave_options(schools, towers, planned)["microwave_reason"].iloc[0] == "no_fibre_backhauled_site"
    radio = near_fibre.assign(medium=["microwave"])
    assert add_microwave_options(schools, towers, radio)["microwave_reason"].iloc[0] == "no_fibre_backhauled_site"


def test_nearest_backhauled_site_matches_brute_force():
    rng = np.random.default_rng(11)
    school_lon, school_lat = rng.uniform(0, 2, 300), rng.uniform(40, 41, 300)
    site_lon, site_lat = rng.uniform(0, 2, 60), rng.uniform(40, 41, 60)
    towers = towers_at([f"s{i}" for i in range(60)], site_lon, site_lat)
    nodes = gpd.GeoDataFrame({"status": ["operational"] * 30},
                             geometry=[Point(x + 0.001, y) for x, y in zip(site_lon[:30], site_lat[:30], strict=True)],
                             crs="EPSG:4326")  # the first 30 sites are ~85 m from a fibre node
    params = CostParams()
    params.microwave.max_range_km = 30.0
    out = add_microwave_options(schools_at(school_lon, school_lat), towers, nodes, params=params)
    distance = geodesic_km(school_lon[:, None], school_lat[:, None], site_lon[None, :30], site_lat[None, :30])
    best = distance.min(axis=1)
    in_range = best <= 30.0
    np.testing.assert_allclose(out["microwave_distance_km"].to_numpy()[in_range], best[in_range], rtol=1e-12)
    expected_ids = np.array([f"s{i}" for i in distance.argmin(axis=1)], dtype=object)
    assert (out["microwave_site_id"].to_numpy()[in_range] == expected_ids[in_range]).all()
    assert (out["microwave_reason"].to_numpy()[~in_range] == "beyond_max_microwave_range").all()
