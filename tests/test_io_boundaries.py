"""Boundaries and coverage polygons: name-field choice, repairs, polygon-only rule, technology labels."""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from connectmap.errors import CRSError, InputError, SchemaError
from connectmap.io import read_boundaries, read_coverage_polygons
from tests.conftest import shared_file

BOWTIE = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])  # self-intersecting: two triangles of area 1


def regions(**columns) -> gpd.GeoDataFrame:
    geometry = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    return gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:4326")


def test_real_topojson_countries_and_land():
    path = shared_file("countries-50m.json")
    with path.open() as handle:
        topology = json.load(handle)
    with pytest.raises(InputError, match=r"2 layers: 'countries' .*'land'.*layer=NAME"):
        read_boundaries(path)
    countries = read_boundaries(path, layer="countries")
    expected_names = [g["properties"]["name"] for g in topology["objects"]["countries"]["geometries"]]
    assert countries["admin1"].tolist() == expected_names  # 'id' (numeric text) is not a name candidate
    assert "admin2" not in countries.columns
    assert countries.geom_type.isin(["Polygon", "MultiPolygon"]).all() and countries.is_valid.all()
    assert countries.attrs["connectmap"]["admin1_field"] == "name"
    land = read_boundaries(path, layer="land")
    assert len(land) == 1 and land["admin1"].isna().all()


def test_real_outline_geojson():
    outline = read_boundaries(shared_file("mauritania", "ne10m_MRT_admin0.geojson"))
    assert outline["admin1"].tolist() == ["Mauritania"]
    assert outline.geometry.iloc[0].contains(shapely.Point(-15.97, 18.08))  # Nouakchott


def test_several_name_fields_are_refused_then_chosen(tmp_path):
    path = tmp_path / "adm2.gpkg"
    regions(ADM1_EN=["North", "North"], ADM2_EN=["Alpha", "Beta"], ADM2_PCODE=["XX0101", "XX0102"],
            ISO3=["XXX", "XXX"], population=[100, 200]).to_file(path, driver="GPKG")
    with pytest.raises(SchemaError) as err:
        read_boundaries(path)
    message = str(err.value)
    assert "'ADM1_EN' (e.g. 'North')" in message and "'ADM2_EN' (e.g. 'Alpha')" in message
    assert "PCODE" not in message and "ISO3" not in message and "population" not in message
    assert "admin1_field=NAME" in message
    table = read_boundaries(path, admin1_field="adm1_en", admin2_field="ADM2_EN")  # case-insensitive
    assert table[["admin1", "admin2"]].values.tolist() == [["North", "Alpha"], ["North", "Beta"]]
    with pytest.raises(SchemaError, match=r"column 'NAME_1'.*'ADM1_EN'"):
        read_boundaries(path, admin1_field="NAME_1")
    # With admin2 named, the only other candidate is used for admin1.
    assert read_boundaries(path, admin2_field="ADM2_EN")["admin1"].tolist() == ["North", "North"]


def test_invalid_polygons_are_repaired_and_counted(tmp_path, caplog):
    path = tmp_path / "bowtie.geojson"
    gpd.GeoDataFrame({"name": ["Bow", "Box"]}, geometry=[BOWTIE, shapely.box(5, 5, 6, 6)],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    assert not BOWTIE.is_valid
    with caplog.at_level(logging.INFO, logger="connectmap.io.boundaries"):
        table = read_boundaries(path)
    assert table.attrs["connectmap"]["repaired"] == 1 and "1 invalid polygon(s) repaired" in caplog.text
    repaired = table.geometry.iloc[0]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon" and repaired.area == pytest.approx(2.0)
    assert table.geometry.iloc[1].equals(shapely.box(5, 5, 6, 6))


def test_non_polygons_are_refused_with_their_features(tmp_path):
    path = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame({"name": ["A", "B", "C"]},
                     geometry=[shapely.box(0, 0, 1, 1), shapely.Point(3, 3), shapely.LineString([(0, 0), (1, 1)])],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match=r"2 feature\(s\) are not polygons: feature 2 \(Point\), feature 3 "
                                         r"\(LineString\)"):
        read_boundaries(path)


def test_shapefile_without_prj_and_geopackage_layers(tmp_path):
    shp = tmp_path / "regions.shp"
    regions(name=["A", "B"]).to_crs("EPSG:32631").to_file(shp, driver="ESRI Shapefile")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"\.prj file is missing"):
        read_boundaries(shp)
    table = read_boundaries(shp, crs="EPSG:32631")
    assert table.geometry.iloc[0].bounds == pytest.approx((0, 0, 1, 1), abs=1e-7)
    gpkg = tmp_path / "admin.gpkg"
    regions(name=["A", "B"]).to_file(gpkg, layer="adm1", driver="GPKG")
    regions(name=["a", "b"]).to_file(gpkg, layer="adm2", driver="GPKG")
    with pytest.raises(InputError, match=r"'adm1'.*'adm2'"):
        read_boundaries(gpkg)
    assert read_boundaries(gpkg, layer="adm2")["admin1"].tolist() == ["a", "b"]


def test_outline_without_names_and_cyrillic_names(tmp_path):
    path = tmp_path / "outline.geojson"
    gpd.GeoDataFrame({"fid_1": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(
        path, driver="GeoJSON")
    assert read_boundaries(path)["admin1"].isna().all()
    shp = tmp_path / "oblast.shp"
    regions(name=["Ташкентская область", "Самаркандская область"]).to_file(
        shp, driver="ESRI Shapefile", encoding="cp1251")
    assert read_boundaries(shp)["admin1"].tolist() == ["Ташкентская область", "Самаркандская область"]


# --- coverage polygons -----------------------------------------------------------------------------------------------
def test_coverage_technology_and_operator_from_fields(tmp_path):
    path = tmp_path / "coverage.shp"
    regions(TECH=["4G", "2G/3G"], OPERATOR=["Airtel", "MTN"]).to_file(path, driver="ESRI Shapefile")
    table = read_coverage_polygons(path)
    assert sorted(zip(table.technology, table.operator, strict=True)) == [
        ("GSM", "MTN"), ("LTE", "Airtel"), ("UMTS", "MTN")]
    # The 2G/3G polygon is the same geometry in both rows.
    mtn = table[table.operator == "MTN"].geometry
    assert mtn.iloc[0].equals(mtn.iloc[1]) and mtn.iloc[0].equals(shapely.box(1, 0, 2, 1))
    assert list(table.columns) == ["technology", "operator", "geometry"]


def test_coverage_technology_and_operator_given(tmp_path):
    path = tmp_path / "lte_orange.geojson"
    regions(value=[1, 1]).to_file(path, driver="GeoJSON")
    with pytest.raises(SchemaError, match=r"no technology field.*technology='LTE'"):
        read_coverage_polygons(path)
    table = read_coverage_polygons(path, technology="4G", operator="Orange")
    assert table["technology"].tolist() == ["LTE", "LTE"] and table["operator"].tolist() == ["Orange", "Orange"]
    assert read_coverage_polygons(path, technology="LTE")["operator"].isna().all()
    with pytest.raises(InputError, match="not both"):
        read_coverage_polygons(path, technology="LTE", technology_field="value")


def test_coverage_unknown_and_missing_technology_are_errors(tmp_path):
    path = tmp_path / "cov.gpkg"
    gpd.GeoDataFrame({"network_type": ["LTE", "WiMAX", None]},
                     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2), BOWTIE],
                     crs="EPSG:4326").to_file(path, driver="GPKG")
    with pytest.raises(InputError) as err:
        read_coverage_polygons(path)
    message = str(err.value)
    assert "feature 2: unknown technology 'WiMAX'" in message and "feature 3: no technology" in message
    table = read_coverage_polygons(path, technology="NR")
    assert len(table) == 3 and table.attrs["connectmap"]["repaired"] == 1 and table.is_valid.all()
    other = tmp_path / "other_field.gpkg"
    gpd.GeoDataFrame({"gen": ["3G"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(other)
    assert read_coverage_polygons(other, technology_field="GEN")["technology"].tolist() == ["UMTS"]
    assert pd.isna(read_coverage_polygons(other, technology_field="gen")["operator"].iloc[0])
