"""Fibre reader: OFDS and WATRA files with feature counts checked against the raw JSON, merging, id rules."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from connectmap.errors import InputError
from connectmap.io import FibreNetwork, read_fibre
from connectmap.io.fibre import LINE_COLUMNS, NODE_COLUMNS, line_length_km
from tests.conftest import SHARED_DATA, shared_file

GEOD = pyproj.Geod(ellps="WGS84")


def raw_features(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)["features"]


def geometry_kinds(path: Path) -> dict[str, int]:
    """Independent count of nodes, lines and features without geometry, straight from the JSON."""
    counts = {"nodes": 0, "lines": 0, "none": 0}
    for feature in raw_features(path):
        geometry = feature.get("geometry")
        kind = geometry["type"] if geometry and geometry["coordinates"] else None  # empty coordinates: none
        if kind == "Point":
            counts["nodes"] += 1
        elif kind in ("LineString", "MultiLineString"):
            counts["lines"] += 1
        else:
            counts["none"] += 1
    return counts


def ofds_files() -> list[Path]:
    files = sorted(SHARED_DATA.glob("*/fibre_ofds/**/*.geojson"))
    if not files:
        pytest.skip(f"real data not available: no OFDS files under {SHARED_DATA}")
    return files


def watra_files() -> list[Path]:
    files = sorted((SHARED_DATA / "west_africa_fibre").glob("*/*.geojson"))
    if len(files) != 32:
        pytest.skip(f"real data not available: WATRA files missing under {SHARED_DATA / 'west_africa_fibre'}")
    return files


def test_every_ofds_file_loads_with_its_counts_operators_and_status():
    for path in ofds_files():
        counts = geometry_kinds(path)
        network = read_fibre(path)
        assert (len(network.nodes), len(network.lines), len(network.rejected)) == (
            counts["nodes"], counts["lines"], counts["none"]), path
        table = network.nodes if len(network.nodes) else network.lines
        id_column = "node_id" if len(network.nodes) else "line_id"
        by_id = table.set_index(id_column)
        for feature in raw_features(path):
            props = feature["properties"]
            providers = props.get("networkProviders") or []
            expected_operator = (providers[0]["name"] if providers else None) \
                or (props.get("physicalInfrastructureProvider") or {}).get("name") \
                or (props.get("network") or {}).get("name")
            row = by_id.loc[str(props["id"])]
            assert row["operator"] == expected_operator, (path, props["id"])
            assert row["name"] == props.get("name").strip()
            status = props.get("status")
            assert (pd.isna(row["status"]) if status is None else row["status"] == status), (path, props["id"])
        assert table[id_column].is_unique


def test_ofds_nodes_and_spans_merge_into_one_network():
    bofinet = shared_file("botswana", "fibre_ofds", "Bofinet_2022_ofds-nodes_11nov2025.geojson")
    spans = bofinet.with_name("Bofinet_2022_ofds-spans_11nov2025.geojson")
    network = read_fibre([bofinet, spans])
    assert len(network.nodes) == geometry_kinds(bofinet)["nodes"] == 61
    assert len(network.lines) == geometry_kinds(spans)["lines"] == 114
    assert set(network.nodes["operator"]) == {"Bofinet"} and set(network.lines["operator"]) == {"Bofinet"}
    assert list(network.nodes.columns) == [*NODE_COLUMNS, "geometry"]
    assert list(network.lines.columns) == [*LINE_COLUMNS, "geometry"]
    spans_json = raw_features(spans)
    assert set(network.lines["line_id"]) == {f["properties"]["id"] for f in spans_json}  # no prefix: no clash


def test_all_watra_files_load_as_nodes_and_lines():
    files = watra_files()
    network = read_fibre(files)
    counts = [geometry_kinds(path) for path in files]
    assert len(network.nodes) == sum(c["nodes"] for c in counts) == 1508
    assert len(network.lines) == sum(c["lines"] for c in counts)
    assert len(network.rejected) == sum(c["none"] for c in counts) == 1  # a CIV line with no coordinates
    assert network.rejected["reason"].tolist() == ["empty geometry"]
    assert network.nodes["node_id"].is_unique and network.lines["line_id"].is_unique
    # Node ids are the files' own (no clash between WATRA files, so no prefix).
    ids = {str(f["properties"]["node_id"]) for p in files if "nodes" in p.parts for f in raw_features(p)}
    assert set(network.nodes["node_id"]) == ids
    # Medium and status from type_infr / node_status, recomputed from the raw properties.
    for path in (p for p in files if "nodes" in p.parts):
        for feature in raw_features(path):
            props = feature["properties"]
            row = network.nodes.set_index("node_id").loc[props["node_id"]]
            medium = "microwave" if props["type_infr"].startswith("Microwave") else "fibre"
            assert row["medium"] == medium
            status_text = props["node_status"] or props["type_infr"].split(" ", 1)[1]
            expected = {"Operational": "operational", "Planned": "planned",
                        "Under Construction": "underConstruction"}[status_text]
            assert row["status"] == expected
            assert row["operator"] == props["operator_name"]
    assert set(network.lines["status"].dropna()) <= {"operational", "planned"}  # "Unknown" and "<NA>" -> missing


def test_clashing_ids_across_files_are_prefixed():
    first = shared_file("mauritania", "MRT_nodes.geojson")
    second = shared_file("west_africa_fibre", "nodes", "MRT_nodes.geojson")  # the same WATRA file
    network = read_fibre([first, second])
    n = geometry_kinds(first)["nodes"]
    assert len(network.nodes) == 2 * n and network.nodes["node_id"].is_unique
    assert network.nodes["node_id"].str.startswith("mauritania/MRT_nodes:").sum() == n
    assert network.nodes["node_id"].str.startswith("nodes/MRT_nodes:").sum() == n


def test_mixed_file_and_id_rules(tmp_path):
    path = tmp_path / "mixed.geojson"
    features = [
        {"type": "Feature", "properties": {"id": 7, "name": "PoP A", "owner": "Telco", "status": "Active"},
         "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}},
        {"type": "Feature", "properties": {"id": 7, "name": "PoP B"},  # repeated id
         "geometry": {"type": "MultiPoint", "coordinates": [[1.5, 2.0]]}},
        {"type": "Feature", "properties": {"name": "no id"}, "geometry": {"type": "Point", "coordinates": [1, 3]}},
        {"type": "Feature", "properties": {"id": 8, "status": "under construction"},
         "geometry": {"type": "LineString", "coordinates": [[1.0, 2.0], [1.5, 2.0]]}},
        {"type": "Feature", "properties": {"id": 9}, "geometry": {"type": "Polygon",
                                                                  "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"id": 10}, "geometry": None},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    network = read_fibre(path)
    assert list(network.nodes["node_id"]) == ["7", "7#2", "mixed:3"]
    assert list(network.nodes["status"]) == ["operational", pd.NA, pd.NA]
    assert network.nodes["operator"].iloc[0] == "Telco"
    assert list(network.lines["line_id"]) == ["8"] and network.lines["status"].iloc[0] == "underConstruction"
    assert network.rejected[["feature", "reason"]].values.tolist() == [
        [5, "geometry is a Polygon, neither a node (point) nor a line"], [6, "no geometry"]]
    assert "3 nodes, 1 lines" in network.summary()


def test_geopackage_layers_and_shapefile_numeric_ids(tmp_path):
    nodes = gpd.GeoDataFrame({"node_id": [1, 2], "name": ["A", "B"]},
                             geometry=[shapely.Point(30, -1), shapely.Point(31, -1)], crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"line_id": [1], "operator": ["NBN"]},
                             geometry=[shapely.LineString([(30, -1), (31, -1)])], crs="EPSG:4326")
    gpkg = tmp_path / "fibre.gpkg"
    nodes.to_file(gpkg, layer="nodes", driver="GPKG")
    lines.to_file(gpkg, layer="lines", driver="GPKG")
    network = read_fibre(gpkg)  # every layer of a fibre GeoPackage
    assert list(network.nodes["node_id"]) == ["1", "2"] and list(network.lines["line_id"]) == ["1"]
    assert network.lines["operator"].iloc[0] == "NBN"
    gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(
        gpkg, layer="districts", driver="GPKG")
    with pytest.raises(InputError, match=r"layer 'districts': no fibre nodes .* choose the fibre layer"):
        read_fibre(gpkg)
    assert len(read_fibre(gpkg, layer="lines").lines) == 1
    shp = tmp_path / "nodes.shp"
    nodes.to_crs("EPSG:32736").to_file(shp, driver="ESRI Shapefile")
    network = read_fibre(shp)
    assert list(network.nodes["node_id"]) == ["1", "2"]
    assert network.nodes.geometry.iloc[0].x == pytest.approx(30.0, abs=1e-7)


def test_lines_only_gives_empty_nodes_with_columns(tmp_path):
    path = tmp_path / "lines.geojson"
    gpd.GeoDataFrame({"line_id": ["L1"]}, geometry=[shapely.LineString([(0, 0), (0, 1)])],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    network = read_fibre(path)
    assert isinstance(network, FibreNetwork) and network.nodes.empty
    assert list(network.nodes.columns) == [*NODE_COLUMNS, "geometry"] and network.nodes.crs.to_epsg() == 4326


def test_line_length_agrees_with_pyproj():
    rng = np.random.default_rng(5)
    geometries = [
        shapely.LineString(rng.uniform([-20, -30], [40, 60], size=(5, 2))),
        shapely.MultiLineString([[(179.5, -17.0), (-179.5, -17.2)], [(10, 10), (10.5, 10.5), (11, 10)]]),
        shapely.LineString([(0, 89.0), (90, 89.0), (180, 89.0)]),
    ]
    expected = [GEOD.geometry_length(g) / 1000.0 for g in geometries]
    assert np.allclose(line_length_km(np.array(geometries, dtype=object)), expected, rtol=1e-9)


def test_no_files_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="no fibre file"):
        read_fibre([])
    with pytest.raises(FileNotFoundError):
        read_fibre(tmp_path / "nope.geojson")
