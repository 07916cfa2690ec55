"""What the cost model reads: demand, coverage from any of the three sources, bad values, and the table reader that
brings a written GeoPackage or CSV back with its types."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from connectmap.cost import add_costs, add_demand, bandwidth_demand_mbps
from connectmap.cost.inputs import coverage_by_radio
from connectmap.errors import InputError, MissingInputError, SchemaError
from connectmap.io.tables import read_table
from connectmap.parameters.cost import CostParams, DemandParams
from connectmap.report.tables import write_csv, write_geopackage


def points(n: int) -> gpd.array.GeometryArray:
    return gpd.points_from_xy(np.linspace(0, 1, n), np.zeros(n))


def test_demand_floor_per_student_and_unknown_flag():
    demand, unknown = bandwidth_demand_mbps(np.array([0.0, 399.0, 401.0, 10_000.0, np.nan, -5.0]))
    # 0.05 x 399 = 19.95 -> floor 20; 0.05 x 401 = 20.05; 0.05 x 10,000 = 500
    np.testing.assert_allclose(demand, [20.0, 20.0, 20.05, 500.0, 20.0, 20.0])
    assert unknown.tolist() == [False, False, False, False, True, True]
    demand, _ = bandwidth_demand_mbps(np.array([100.0]), DemandParams(floor_mbps=10.0, per_student_mbps=0.2))
    assert demand.tolist() == [20.0]
    table = gpd.GeoDataFrame({"num_students": [np.nan, 50.0], "quality_flags": ["near_duplicate_name", ""]},
                             geometry=points(2), crs="EPSG:4326")
    once = add_demand(table)
    twice = add_demand(once)  # running the step again does not repeat the flag
    assert twice["quality_flags"].tolist() == ["near_duplicate_name;students_unknown", ""]
    no_column = add_demand(gpd.GeoDataFrame(geometry=points(2), crs="EPSG:4326"))
    assert no_column["bandwidth_demand_mbps"].tolist() == [20.0, 20.0]
    assert no_column["quality_flags"].tolist() == ["students_unknown", "students_unknown"]


def test_coverage_from_columns_giga_type_or_tower_distance():
    params = CostParams()
    explicit = pd.DataFrame({"covered_LTE": pd.array([True, False, None], dtype="boolean")})
    assert np.array_equal(coverage_by_radio(explicit, params)["LTE"], [1.0, 0.0, np.nan], equal_nan=True)
    giga = pd.DataFrame({"cellular_coverage_type": ["4G", "3g", "no coverage", "unknown", None, "5G"]})
    lte = coverage_by_radio(giga, params)["LTE"]
    np.testing.assert_array_equal(lte, [1.0, 0.0, 0.0, np.nan, np.nan, 1.0])
    assert coverage_by_radio(giga, params)["UMTS"].tolist()[:3] == [1.0, 1.0, 0.0]
    distance = pd.DataFrame({"nearest_LTE_distance": [2.0, 9.0, np.nan]})  # Giga's 6 km range
    np.testing.assert_array_equal(coverage_by_radio(distance, params)["LTE"], [1.0, 0.0, np.nan])
    assert np.isnan(coverage_by_radio(distance, params)["NR"]).all()


def test_cellular_reasons_and_capacity():
    table = gpd.GeoDataFrame(
        {"num_students": [100.0, 100.0, 100.0, 3_000.0, 3_000.0],
         "electricity_availability": pd.array([True] * 5, dtype="boolean"),
         "covered_LTE": pd.array([False, None, False, True, False], dtype="boolean"),
         "covered_NR": pd.array([False, False, None, False, True], dtype="boolean")},
        geometry=points(5), crs="EPSG:4326",
    )
    out = add_costs(table)
    cellular = [next((p.split(":")[1] for p in r.split(";") if p.startswith("cellular:")), "")
                for r in out["infeasible_reasons"]]
    # 3,000 students need 150 Mbps: more than LTE's 100 Mbps, within NR's 900 Mbps
    assert cellular == ["no_coverage", "coverage_unknown", "coverage_unknown", "demand_exceeds_capacity", ""]
    assert np.isfinite(out["npv_usd_cellular"].iloc[4])


def test_unreadable_values_name_the_column_and_row():
    table = gpd.GeoDataFrame({"source_row": [2, 3, 4], "num_students": ["12", "twelve", ""]},
                             geometry=points(3), crs="EPSG:4326")
    with pytest.raises(SchemaError, match=r"row 3, column 'num_students'.*'twelve' is not a number"):
        add_costs(table)
    table = gpd.GeoDataFrame({"source_row": [2, 3], "electricity_availability": ["yes", "maybe"]},
                             geometry=points(2), crs="EPSG:4326")
    with pytest.raises(SchemaError, match=r"row 3, column 'electricity_availability'.*'maybe'"):
        add_costs(table)
    table = gpd.GeoDataFrame({"cellular_coverage_type": ["4G", "6G"]}, geometry=points(2), crs="EPSG:4326")
    with pytest.raises(SchemaError, match="'6G' is not a coverage type"):
        add_costs(table)
    table = gpd.GeoDataFrame({"source_row": [7], "microwave_reason": ["too far"]}, geometry=points(1),
                             crs="EPSG:4326")
    with pytest.raises(SchemaError, match=r"row 7, column 'microwave_reason'"):
        add_costs(table)


def test_untrusted_text_passes_through_untouched():
    names = ["=HYPERLINK(\"http://x\")", "<script>alert(1)</script>", "{{ 7*7 }}", "${jndi:x}", "École Nº 1"]
    table = gpd.GeoDataFrame({"school_name": names, "num_students": 100.0}, geometry=points(5), crs="EPSG:4326")
    assert add_costs(table)["school_name"].tolist() == names


def test_read_table_round_trips_geopackage_and_csv(tmp_path):
    table = gpd.GeoDataFrame(
        {"source_row": [2, 3, 4], "school_id_govt": ["007", "010", None], "school_name": ["A", "=1+1", "C"],
         "num_students": [10.0, np.nan, 30.0],
         "electricity_availability": pd.array([True, None, False], dtype="boolean"),
         "covered_LTE": pd.array([None, True, False], dtype="boolean"),
         "fiber_node_distance": [1.5, 2.5, np.nan],
         "longitude": [0.0, 0.5, 1.0], "latitude": [0.0, 0.0, 0.0]},
        geometry=points(3), crs="EPSG:4326",
    )
    write_geopackage(table, tmp_path / "t.gpkg")
    write_csv(table, tmp_path / "t.csv")
    for path in (tmp_path / "t.gpkg", tmp_path / "t.csv"):
        back = read_table(path)
        assert back["school_id_govt"].tolist()[:2] == ["007", "010"], path  # leading zeros kept
        assert back["school_name"].tolist() == ["A", "=1+1", "C"], path
        assert isinstance(back["electricity_availability"].dtype, pd.BooleanDtype), path
        assert back["electricity_availability"].tolist()[0] is True and pd.isna(back["electricity_availability"][1])
        assert back["covered_LTE"].tolist()[1:] == [True, False], path
        np.testing.assert_array_equal(back["num_students"].to_numpy(dtype=float), [10.0, np.nan, 30.0])
        assert back.geometry.x.tolist() == [0.0, 0.5, 1.0], path
        # and the cost model reads it the same as the original
        assert add_costs(back)["npv_usd"].round(6).tolist() == add_costs(table)["npv_usd"].round(6).tolist()


def test_read_table_errors(tmp_path):
    with pytest.raises(MissingInputError):
        read_table(tmp_path / "none.gpkg")
    (tmp_path / "t.xlsx").write_bytes(b"not really")
    with pytest.raises(InputError, match="unknown table format"):
        read_table(tmp_path / "t.xlsx")
    (tmp_path / "t.csv").write_text("school_name,lat_deg\nA,1\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="'longitude'"):
        read_table(tmp_path / "t.csv")
