"""`connectmap enrich` on the real Mauritania files: outputs re-read through GDAL, errors as one line."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
from rasterio.transform import from_origin

from tests.conftest import shared_file

GEOD = pyproj.Geod(ellps="WGS84")


def test_enrich_command_on_mauritania(tmp_path, run_cli):
    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    towers = shared_file("mauritania", "mauritania_towers_from_register.csv")
    out = tmp_path / "out"
    # An LTE coverage raster for the capital only (written here: no real operator raster is public).
    lte = tmp_path / "lte_nkc.tif"
    with rasterio.open(lte, "w", driver="GTiff", width=40, height=40, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=from_origin(-16.2, 18.3, 0.01, 0.01), nodata=255) as ds:
        ds.write(np.ones((40, 40), np.uint8), 1)
        ds.update_tags(operator="MR")
    code, stdout, stderr = run_cli(
        "enrich", register, "--towers", towers,
        "--fibre", shared_file("mauritania", "MRT_nodes.geojson"),
        "--fibre", shared_file("mauritania", "MRT_lines.geojson"),
        "--population", shared_file("mauritania", "derived_afripop2020_MRT_clip.tif"), "--population-value", "density",
        "--boundaries", shared_file("mauritania", "ne10m_MRT_admin0.geojson"),
        "--coverage", f"LTE={lte}", "--modelled-coverage-tif", "--out", out,
    )
    assert code == 0, stderr
    gpkg = gpd.read_file(out / "schools_enriched.gpkg")
    csv = pd.read_csv(out / "schools_enriched.csv")
    rejected = pd.read_csv(out / "rejected.csv")
    assert len(gpkg) == len(csv) and len(gpkg) + len(rejected) == 2942  # every register row accounted for
    assert f"{len(gpkg)} schools enriched" in stdout
    for column in ("nearest_GSM_distance", "nearest_UMTS_id", "covered_LTE", "cellular_coverage_type",
                   "coverage_source", "fiber_node_distance", "fiber_line_distance_km", "pop_within_5km",
                   "schools_within_10km", "nearest_school_distance", "admin1", "towers_within_5km"):
        assert column in gpkg.columns, column
    # Spot check the GPKG against brute force: nearest 3G tower of the first 50 schools.
    tw = pd.read_csv(towers)
    umts = tw[tw["technology"] == "3G"]
    lon, lat = gpkg.geometry.x.to_numpy()[:50], gpkg.geometry.y.to_numpy()[:50]
    _, _, d = GEOD.inv(np.repeat(lon, len(umts)), np.repeat(lat, len(umts)), np.tile(umts.longitude, 50),
                       np.tile(umts.latitude, 50))
    matrix = np.asarray(d).reshape(50, len(umts)) / 1000.0
    assert (gpkg["nearest_UMTS_id"].to_numpy()[:50] == umts["tower_id"].to_numpy()[matrix.argmin(axis=1)]).all()
    # Schools in the capital are 4G from the raster; elsewhere the raster does not reach: modelled, never
    # "uncovered by the raster".
    in_nkc = (gpkg.geometry.x.between(-16.19, -15.81)) & (gpkg.geometry.y.between(17.91, 18.29))
    assert in_nkc.sum() > 50
    assert (gpkg.loc[in_nkc, "cellular_coverage_type"] == "4G").all()
    assert (gpkg.loc[in_nkc, "coverage_source"] == "raster").all()
    assert (gpkg.loc[~in_nkc, "coverage_source"] == "modelled").all()
    assert gpkg.loc[in_nkc, "covering_operators"].str.contains("MR").all()
    assert gpkg["nearest_LTE_distance"].isna().all()  # no LTE sites in the tower list
    for tech in ("GSM", "UMTS"):
        with rasterio.open(out / f"modelled_coverage_{tech}.tif") as ds:
            assert ds.tags()["technology"] == tech and ds.read(1).max() == 1


def test_enrich_command_errors_are_one_line(tmp_path, run_cli):
    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    code, _, stderr = run_cli("enrich", register, "--coverage", "LTE=", "--out", tmp_path / "o")
    assert code == 2 and "expected TECH[:OPERATOR]=PATH" in stderr
    untagged = tmp_path / "cov.tif"
    with rasterio.open(untagged, "w", driver="GTiff", width=4, height=4, count=1, dtype="int16", crs="EPSG:4326",
                       transform=from_origin(-16, 18, 0.1, 0.1)) as ds:
        ds.write(np.full((4, 4), -90, np.int16), 1)
    code, _, stderr = run_cli("enrich", register, "--coverage", f"LTE={untagged}", "--out", tmp_path / "o")
    assert code == 2 and "cov.tif" in stderr and "binary or dbm" in stderr
    code, _, stderr = run_cli("enrich", register, "--population", shared_file("mauritania", "MRT_nodes.geojson"),
                              "--population-value", "count", "--out", tmp_path / "o")
    assert code == 2 and "MRT_nodes.geojson" in stderr
