"""Coverage at schools from rasters, polygons and towers; unknown is never reported as uncovered."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from connectmap.enrich import add_coverage, within_site_range
from connectmap.enrich.coverage import modelled_coverage_grid
from connectmap.io.rasters import open_raster
from connectmap.parameters.enrich import EnrichParams
from tests.test_enrich_towers import schools_frame, towers_frame

GEOD = pyproj.Geod(ellps="WGS84")


def coverage_tif(path, data, *, west=10.0, north=10.0, step=0.01, nodata=None, tags=None):
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype.name, "crs": "EPSG:4326", "transform": from_origin(west, north, step, step),
               "nodata": nodata}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
        ds.update_tags(**(tags or {}))
    return open_raster(path, kind="coverage")


def test_dbm_raster_threshold_outside_and_nodata_are_unknown(tmp_path):
    signal = np.full((100, 100), -120, np.int16)
    signal[:, :50] = -100  # west half above the LTE threshold (-110 dBm)
    signal[40:60, 70:90] = -32768  # nodata hole in the east half
    layer = coverage_tif(tmp_path / "lte.tif", signal, nodata=-32768, tags={"technology": "LTE", "value": "dbm"})
    # west half; east half; in the nodata hole; outside the raster
    schools = schools_frame([10.2, 10.6, 10.8, 12.0], [9.5, 9.5, 9.5, 9.5])
    out = add_coverage(schools, rasters=[layer], params=EnrichParams(coverage_search_radius_m=0))
    assert out["covered_LTE"].tolist()[:2] == [True, False]
    assert out["covered_LTE"].isna().tolist() == [False, False, True, True]
    assert out["signal_LTE_dbm"].tolist()[:2] == [-100.0, -120.0]
    assert out["cellular_coverage_type"].tolist() == ["4G", "unknown", "unknown", "unknown"]
    assert out["cellular_coverage_availability"].isna().tolist() == [False, True, True, True]
    assert out["coverage_source"].tolist()[0] == "raster"
    # A stricter threshold (Ofcom's -105 dBm would still pass -100) moves nothing; -95 makes the west uncovered.
    strict = EnrichParams(coverage_search_radius_m=0, thresholds={"LTE_dbm": -95.0})
    assert add_coverage(schools, rasters=[layer], params=strict)["covered_LTE"].tolist()[0] is False


def test_unknown_is_never_uncovered_and_no_data_means_unknown():
    schools = schools_frame([10.0, np.nan], [5.0, np.nan])
    out = add_coverage(schools)
    for tech in ("GSM", "UMTS", "LTE", "NR"):
        assert out[f"covered_{tech}"].isna().all()
    assert out["cellular_coverage_type"].tolist() == ["unknown", "unknown"]
    assert out["cellular_coverage_availability"].isna().all()
    assert out["coverage_source"].isna().all()
    assert out["covering_operators"].isna().all()


def test_raster_unknown_falls_back_to_modelled_and_register_order(tmp_path):
    data = np.zeros((50, 50), np.uint8)
    data[:, :25] = 1
    layer = coverage_tif(tmp_path / "gsm.tif", data, tags={"technology": "GSM"})
    towers = towers_frame([
        ("T1", "Orange", "UMTS", 11.0, 9.8, np.nan),   # far east of the raster
        ("T2", "Orange", "GSM", 11.0, 9.8, np.nan),
    ])
    # In the covered half; in the uncovered half; outside the raster but 1 km from T1/T2.
    lon = np.array([10.1, 10.4, GEOD.fwd(11.0, 9.8, 90.0, 1000.0)[0]])
    schools = schools_frame(lon, [9.8, 9.8, 9.8])
    schools["cellular_coverage_type"] = pd.array(["4G", "4G", "2G"], dtype="str")  # the register's own values
    params = EnrichParams(coverage_search_radius_m=0)
    out = add_coverage(schools, rasters=[layer], towers=towers, params=params)
    assert out["covered_GSM"].tolist() == [True, False, True]
    # Raster says GSM at school 0: 2G from the raster, the register's 4G does not override a coverage map.
    assert out["cellular_coverage_type"].tolist()[0] == "2G"
    assert out["coverage_source"].tolist()[0] == "raster"
    # School 1: the raster knows GSM is absent, others unknown -> the register's value is kept.
    assert out["cellular_coverage_type"].tolist()[1] == "4G" and out["coverage_source"].tolist()[1] == "register"
    # School 2: no map reaches it; register 2G kept over the modelled 3G unless configured otherwise.
    assert out["coverage_source"].tolist()[2] == "register"
    modelled = add_coverage(schools, rasters=[layer], towers=towers,
                            params=EnrichParams(coverage_search_radius_m=0, keep_register_coverage=False))
    assert modelled["cellular_coverage_type"].tolist()[1:] == ["no coverage", "3G"]
    assert modelled["coverage_source"].tolist()[1:] == ["modelled", "modelled"]
    assert modelled["covering_operators"].tolist() == ["", "", "Orange"]


def test_polygons_inside_boundary_and_within_radius():
    polys = gpd.GeoDataFrame({"technology": ["LTE", "LTE"], "operator": ["Orange", "Moov"]},
                             geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)], crs="EPSG:4326")
    east_400m = GEOD.fwd(1.0, 0.5, 90.0, 400.0)[0]
    east_700m = GEOD.fwd(1.0, 0.5, 90.0, 700.0)[0]
    schools = schools_frame([0.5, 1.0, east_400m, east_700m, 2.5], [0.5, 0.5, 0.5, 0.5, 0.5])
    out = add_coverage(schools, polygons=polys, params=EnrichParams(coverage_search_radius_m=500))
    assert out["covered_LTE"].tolist() == [True, True, False, False, True]  # boundary counts as inside
    assert out["covered_LTE_within_500m"].tolist() == [True, True, True, False, True]
    assert out["coverage_source"].tolist()[0] == "polygon"
    assert out["covering_operators"].tolist() == ["Orange", "Orange", "", "", "Moov"]
    # Other technologies have no data: "4G" where LTE covers, "unknown" (not "no coverage") elsewhere.
    assert out["cellular_coverage_type"].tolist() == ["4G", "4G", "unknown", "unknown", "4G"]


def test_modelled_ranges_capped_default_and_brute_force():
    rng = np.random.default_rng(2)
    n_sites = 40
    slon, slat = rng.uniform(30, 32, n_sites), rng.uniform(-3, -1, n_sites)
    reported = rng.choice([np.nan, 500.0, 2500.0, 90_000.0], n_sites)  # 90 km is capped
    towers = towers_frame([(f"S{i}", "Op", "LTE", slon[i], slat[i], reported[i]) for i in range(n_sites)])
    qlon, qlat = rng.uniform(30, 32, 2000), rng.uniform(-3, -1, 2000)
    params = EnrichParams(coverage_search_radius_m=0)
    out = add_coverage(schools_frame(qlon, qlat), towers=towers, params=params)
    default_m, cap_m = params.modelled.range_m("LTE")
    range_km = np.where(np.isnan(reported), default_m, np.minimum(reported, cap_m)) / 1000.0
    _, _, d = GEOD.inv(np.repeat(qlon, n_sites), np.repeat(qlat, n_sites), np.tile(slon, 2000), np.tile(slat, 2000))
    expected = ((np.asarray(d).reshape(2000, n_sites) / 1000.0) <= range_km[None, :]).any(axis=1)
    assert np.array_equal(out["covered_LTE"].to_numpy(dtype=bool), expected)
    assert 0.05 < expected.mean() < 0.95  # both answers occur
    # No GSM/UMTS/NR sites in a tower table that has sites: modelled as absent (False), not unknown.
    assert not out["covered_GSM"].isna().any() and not out["covered_GSM"].any()
    assert set(out["cellular_coverage_type"]) == {"4G", "no coverage"}
    assert set(out["coverage_source"]) == {"modelled"}


def test_within_site_range_without_reported_ranges_uses_the_default():
    towers = towers_frame([("S", "Op", "GSM", 0.0, 0.0, 50_000.0)])
    params = EnrichParams(coverage_search_radius_m=0, modelled={"use_reported_range": False})
    lon = np.array([GEOD.fwd(0.0, 0.0, 45.0, 4900.0)[0], GEOD.fwd(0.0, 0.0, 45.0, 5100.0)[0]])
    lat = np.array([GEOD.fwd(0.0, 0.0, 45.0, 4900.0)[1], GEOD.fwd(0.0, 0.0, 45.0, 5100.0)[1]])
    out = add_coverage(schools_frame(lon, lat), towers=towers, params=params)
    assert out["covered_GSM"].tolist() == [True, False]  # default GSM range 5 km
    assert np.isnan(within_site_range(np.array([np.nan]), np.array([0.0]), np.array([0.0]), np.array([0.0]),
                                      np.array([1.0]))[0])


def test_modelled_grid_written_and_read_back(tmp_path):
    from connectmap.report.rasters import write_coverage_geotiff

    towers = towers_frame([("S1", "Op", "UMTS", 5.0, 5.0, 2000.0), ("S2", "Op", "UMTS", 5.2, 5.0, 4000.0)])
    params = EnrichParams(modelled_raster_resolution_m=200)
    array, grid = modelled_coverage_grid(towers, "UMTS", params)
    path = write_coverage_geotiff(array, grid, tmp_path / "m.tif", technology="UMTS")
    layer = open_raster(path)
    assert (layer.technology, layer.value) == ("UMTS", "binary")
    # Read back through the coverage step: same answers as the direct model, away from pixel edges.
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(4.97, 5.23, 400), rng.uniform(4.97, 5.03, 400)  # inside the grid
    direct = within_site_range(lon, lat, np.array([5.0, 5.2]), np.array([5.0, 5.0]), np.array([2.0, 4.0]))
    from_raster = add_coverage(schools_frame(lon, lat), rasters=[layer],
                               params=EnrichParams(coverage_search_radius_m=0))["covered_UMTS"]
    d1 = GEOD.inv(lon, lat, np.full(400, 5.0), np.full(400, 5.0))[2] / 1000.0
    d2 = GEOD.inv(lon, lat, np.full(400, 5.2), np.full(400, 5.0))[2] / 1000.0
    clear = (np.abs(d1 - 2.0) > 0.3) & (np.abs(d2 - 4.0) > 0.3)
    assert np.array_equal(from_raster.to_numpy(dtype=bool)[clear], direct[clear] == 1)
    assert modelled_coverage_grid(towers, "LTE", params) is None


@pytest.mark.parametrize("value", ["binary", "dbm"])
def test_two_operator_rasters_combine(tmp_path, value):
    a = np.zeros((20, 20), np.int16 if value == "dbm" else np.uint8)
    b = a.copy()
    on, off = (-90, -130) if value == "dbm" else (1, 0)
    a[:] = off
    b[:] = off
    a[:, :10] = on
    b[:10, :] = on
    la = coverage_tif(tmp_path / "a.tif", a, tags={"technology": "UMTS", "operator": "A", "value": value})
    lb = coverage_tif(tmp_path / "b.tif", b, tags={"technology": "UMTS", "operator": "B", "value": value})
    # NW (both), NE (B), SW (A), SE (none)
    schools = schools_frame([10.05, 10.15, 10.05, 10.15], [9.95, 9.95, 9.85, 9.85])
    out = add_coverage(schools, rasters=[la, lb], params=EnrichParams(coverage_search_radius_m=0))
    assert out["covered_UMTS"].tolist() == [True, True, True, False]
    assert out["covering_operators"].tolist() == ["A;B", "B", "A", ""]
