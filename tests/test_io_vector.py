"""Shared vector reading: layer choice, CRS rules, .cpg encodings, TopoJSON, reprojection, field matching."""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from connectmap.errors import CRSError, InputError, MissingInputError, SchemaError
from connectmap.io.vector import find_field, list_layers, read_vector, text_values
from tests.conftest import shared_file

NAMES = ["Школа № 1 им. Пушкина", "Лицей «Интеллект»", "Гимназия-Ёлка"]


def points(n: int = 3, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": NAMES[:n], "value": np.arange(n)},
        geometry=[shapely.Point(37.6 + i, 55.7 + i) for i in range(n)], crs=crs,
    )


def test_two_layer_geopackage_refused_without_layer_and_read_with_one(tmp_path):
    path = tmp_path / "two.gpkg"
    points(3).to_file(path, layer="schools", driver="GPKG")
    gpd.GeoDataFrame({"kind": ["x"]}, geometry=[shapely.Point(0, 1)], crs="EPSG:4326").to_file(
        path, layer="other", driver="GPKG")
    assert [name for name, _ in list_layers(path)] == ["schools", "other"]
    with pytest.raises(InputError) as err:
        read_vector(path)
    message = str(err.value)
    assert str(path) in message and "2 layers" in message and "'schools'" in message and "'other'" in message
    assert "layer=NAME" in message
    frame = read_vector(path, layer="schools")
    assert list(frame["name"]) == NAMES and len(frame) == 3
    assert len(read_vector(path, layer="OTHER")) == 1  # case-insensitive when unambiguous
    assert len(read_vector(path, layer=1)) == 1
    with pytest.raises(InputError, match=r"no layer 'roads'; the layers are 'schools', 'other'"):
        read_vector(path, layer="roads")


def test_shapefile_without_prj_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "towers.shp"
    points(2).to_file(path, driver="ESRI Shapefile")
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError) as err:
        read_vector(path)
    message = str(err.value)
    assert str(path) in message and ".prj file is missing" in message and "crs=" in message
    frame = read_vector(path, crs="EPSG:4326")
    assert frame.crs.to_epsg() == 4326 and frame.geometry.iloc[0].equals(shapely.Point(37.6, 55.7))
    # crs= is only for layers without one: a conflicting value is refused.
    points(1).to_file(tmp_path / "with.shp", driver="ESRI Shapefile")
    with pytest.raises(CRSError, match="says its CRS is EPSG:4326"):
        read_vector(tmp_path / "with.shp", crs="EPSG:32637")
    with pytest.raises(CRSError, match="not a CRS pyproj knows"):
        read_vector(path, crs="EPSG:nonsense")


def test_cpg_is_respected_for_cp1251_shapefiles(tmp_path, caplog):
    path = tmp_path / "cyr.shp"
    pyogrio.write_dataframe(points(3), path, encoding="cp1251")
    assert path.with_suffix(".cpg").read_text().strip().upper() in {"CP1251", "1251"}
    raw = path.with_suffix(".dbf").read_bytes()
    assert NAMES[0].encode("cp1251") in raw and NAMES[0].encode("utf-8") not in raw  # really cp1251 on disk
    assert list(read_vector(path)["name"]) == NAMES
    # Without the .cpg, GDAL falls back to ISO-8859-1: the names are garbled, and we say so.
    path.with_suffix(".cpg").unlink()
    with caplog.at_level(logging.WARNING, logger="connectmap.io.vector"):
        garbled = read_vector(path)
    assert list(garbled["name"]) != NAMES and "no .cpg" in caplog.text
    assert list(read_vector(path, encoding="cp1251")["name"]) == NAMES


def test_projected_layers_are_reprojected_exactly(tmp_path):
    utm = points(3).to_crs("EPSG:32637")
    utm.to_file(tmp_path / "utm.gpkg", driver="GPKG")
    frame = read_vector(tmp_path / "utm.gpkg")
    assert frame.crs.to_epsg() == 4326
    x, y = shapely.get_coordinates(utm.geometry).T
    lon, lat = pyproj.Transformer.from_crs(32637, 4326, always_xy=True).transform(x, y)
    assert np.allclose(shapely.get_coordinates(frame.geometry), np.column_stack([lon, lat]), atol=1e-9)
    assert frame.attrs["connectmap"]["source_crs"] == "EPSG:32637"


def test_metres_labelled_as_degrees_are_refused(tmp_path):
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 1}, "geometry": {"type": "Point", "coordinates": [500000, 9800000]}},
    ]}))
    with pytest.raises(CRSError, match=r"first: feature 1\).*not degrees"):
        read_vector(path)


def test_z_coordinates_are_dropped(tmp_path):
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "LineString", "coordinates": [[1, 2, 30], [3, 4, 40]]}},
    ]}))
    frame = read_vector(path)
    assert not shapely.has_z(frame.geometry.iloc[0])
    assert shapely.get_coordinates(frame.geometry).tolist() == [[1, 2], [3, 4]]


def test_topojson_quantized_objects_are_layers(tmp_path):
    # Delta-encoded, quantised arc: (0,0) (4,0) (4,4) (0,4) (0,0) -> x = 10 + 0.5 q, y = 20 + 0.25 q.
    topology = {
        "type": "Topology", "transform": {"scale": [0.5, 0.25], "translate": [10, 20]},
        "objects": {
            "regions": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0]], "properties": {"name": "Nord"}}]},
            "outline": {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "arcs": [[0]]}]},
        },
        "arcs": [[[0, 0], [4, 0], [0, 4], [-4, 0], [0, -4]]],
    }
    path = tmp_path / "regions.topojson"
    path.write_text(json.dumps(topology))
    with pytest.raises(InputError, match="2 layers"):
        read_vector(path)
    frame = read_vector(path, layer="regions")
    assert frame.crs.to_epsg() == 4326 and frame.attrs["connectmap"]["crs_assumed"] == "WGS84 by format"
    assert frame.geometry.iloc[0].bounds == (10.0, 20.0, 12.0, 21.0)
    assert frame["name"].tolist() == ["Nord"]


def test_real_topojson_outline():
    path = shared_file("countries-50m.json")
    with path.open() as handle:
        objects = json.load(handle)["objects"]
    with pytest.raises(InputError, match=r"'countries'.*'land'"):
        read_vector(path)
    countries = read_vector(path, layer="countries")
    assert len(countries) == len(objects["countries"]["geometries"])
    mauritania = countries[countries["name"] == "Mauritania"].geometry.iloc[0]
    assert mauritania.contains(shapely.Point(-10.9, 20.3))  # Atar region, inland Mauritania
    land = read_vector(path, layer="land")
    assert len(land) == 1 and land.total_bounds[0] >= -180 and land.total_bounds[2] <= 180


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(MissingInputError):
        read_vector(tmp_path / "nope.gpkg")
    junk = tmp_path / "junk.geojson"
    junk.write_bytes(b"\x00\x01 not json at all")
    with pytest.raises(InputError, match="cannot be read as a vector file"):
        read_vector(junk)
    truncated = tmp_path / "cut.geojson"
    points(3).to_file(truncated, driver="GeoJSON")
    truncated.write_bytes(truncated.read_bytes()[:150])
    with pytest.raises(InputError, match=str(truncated)):
        read_vector(truncated)


def test_find_field_and_text_values():
    columns = ["Tower ID", "OPERATOR", "lat"]
    assert find_field(columns, ("site_id", "tower_id")) == "Tower ID"
    assert find_field(columns, ("operator",)) == "OPERATOR"
    assert find_field(columns, ("height",)) is None
    assert find_field(columns, (), given="operator") == "OPERATOR"
    with pytest.raises(SchemaError, match=r"column 'mno'.*'Tower ID', 'OPERATOR', 'lat'"):
        find_field(columns, (), given="mno", place="f.csv", meaning="operator")
    values = pd.Series([12.0, 7, "0042", None, np.nan, "  x ", np.float32(3.0), "e\u0301cole"], dtype=object)
    assert text_values(values).tolist() == ["12", "7", "0042", pd.NA, pd.NA, "x", "3", "\u00e9cole"]
