"""``connectmap cost``: real files in, every output written and consistent; user mistakes exit 2 with one line."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from connectmap.io.tables import read_table
from connectmap.report.tables import write_geopackage

N = 40


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(-1.0, 1.0, N), rng.uniform(10.0, 11.0, N)
    schools = gpd.GeoDataFrame(
        {"source_row": np.arange(2, N + 2), "school_name": [f"School {i}" for i in range(N)],
         "admin1": rng.choice(["East", "West"], N),
         "num_students": rng.integers(50, 1_200, N).astype(float),
         "electricity_availability": pd.array(rng.random(N) < 0.5, dtype="boolean"),
         "connectivity": pd.array([True] * 3 + [None] * (N - 3), dtype="boolean"),
         "fiber_node_distance": rng.uniform(0.5, 40.0, N),
         "covered_LTE": pd.array(rng.random(N) < 0.3, dtype="boolean"),
         "longitude": lon, "latitude": lat},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326",
    )
    enriched = tmp_path / "enriched.gpkg"
    write_geopackage(schools, enriched)
    towers = tmp_path / "towers.csv"
    pd.DataFrame({"tower_id": ["T1", "T2", "T3"], "operator": ["A", "A", "B"], "technology": ["4G", "3G", "4G"],
                  "latitude": [10.2, 10.5, 10.8], "longitude": [-0.5, 0.0, 0.5]}).to_csv(towers, index=False)
    fibre = tmp_path / "fibre.geojson"
    fibre.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "N1", "status": "Operational"},
         "geometry": {"type": "Point", "coordinates": [-0.5, 10.205]}},
        {"type": "Feature", "properties": {"name": "L1", "status": "Operational"},
         "geometry": {"type": "LineString", "coordinates": [[0.004, 9.0], [0.004, 12.0]]}},
    ]}), encoding="utf-8")
    return enriched, towers, fibre


def test_cost_command_writes_consistent_outputs(tmp_path, inputs, run_cli):
    enriched, towers, fibre = inputs
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("cost", enriched, "--towers", towers, "--fibre", fibre,
                                   "--budget-usd-per-year", "60000", "--out", out)
    assert code == 0, stderr
    assert "costed 40 schools" in stdout and "3 already connected" in stdout
    costed = read_table(out / "costed_schools.gpkg")
    csv = pd.read_csv(out / "costed_schools.csv", encoding="utf-8-sig")
    assert len(costed) == len(csv) == N
    assert costed["school_name"].tolist() == csv["school_name"].tolist()
    # microwave was assessed from the towers and fibre given (T1 is 0.5 km from node N1, T2 0.4 km from line L1)
    assert set(costed["microwave_site_id"].dropna()) <= {"T1", "T2"}
    assert costed["microwave_site_id"].notna().any()
    assert (costed["cost_status"] == "already_connected").sum() == 3
    rollout = pd.read_csv(out / "rollout.csv", encoding="utf-8-sig")
    years = pd.read_csv(out / "rollout_years.csv", encoding="utf-8-sig")
    assert np.all(years["spent_usd"] <= years["available_usd"] + 1e-6)
    assert rollout["cumulative_spend_usd"].is_monotonic_increasing
    assert set(rollout["source_row"]) <= set(costed.loc[costed["cost_status"] == "connectable", "source_row"])
    planned = costed["rollout_year"].notna()
    assert planned.sum() == len(rollout)
    sensitivity = pd.read_csv(out / "sensitivity.csv", encoding="utf-8-sig")
    assert sensitivity["swing_usd"].is_monotonic_decreasing and len(sensitivity) == 16
    scenarios = pd.read_csv(out / "scenarios.csv", encoding="utf-8-sig")
    assert scenarios["scenario"].tolist() == ["low", "base", "high"]
    assert scenarios.loc[1, "npv_usd"] == pytest.approx(costed["npv_usd"].sum())
    by_region = pd.read_csv(out / "cost_by_admin1.csv", encoding="utf-8-sig").set_index("admin1")
    assert by_region.loc["Total", "npv_usd"] == pytest.approx(by_region.drop("Total")["npv_usd"].sum())
    assert by_region.loc["Total", "npv_usd"] == pytest.approx(costed["npv_usd"].sum())
    assert not list(out.glob(".*.tmp*"))  # no temporary files left behind


def test_cost_command_scenario_and_config(tmp_path, inputs, run_cli):
    enriched, _, _ = inputs
    config = tmp_path / "cost.toml"
    config.write_text("[cost.fibre]\nenabled = false\n[cost.plan]\nyears = 3\n", encoding="utf-8")
    code, _, stderr = run_cli("cost", enriched, "--config", config, "--scenario", "low", "--out", tmp_path / "o")
    assert code == 0, stderr
    costed = read_table(tmp_path / "o" / "costed_schools.gpkg")
    assert "fibre" not in set(costed["technology"].dropna())
    assert costed["infeasible_reasons"].str.contains("fibre:technology_disabled").sum() == N - 3
    # low scenario: satellite bandwidth 6.4 USD/Mbps/year (ITU CPP) instead of 34
    satellite = costed[costed["technology"] == "satellite"].iloc[0]
    assert satellite["opex_usd_per_year_satellite"] == pytest.approx(
        satellite["bandwidth_demand_mbps"] * 6.4 + satellite["electricity_opex_usd_per_year"])


def test_cost_command_user_mistakes(tmp_path, inputs, run_cli):
    enriched, _, _ = inputs
    code, _, stderr = run_cli("cost", enriched, "--budget-usd", "1", "--budget-usd-per-year", "1", "--out", tmp_path)
    assert code == 2 and "not both" in stderr
    code, _, stderr = run_cli("cost", enriched, "--scenario", "medium", "--out", tmp_path / "x")
    assert code == 2 and "low, base or high" in stderr
    code, _, stderr = run_cli("cost", tmp_path / "missing.gpkg", "--out", tmp_path / "x")
    assert code == 2 and "missing.gpkg" in stderr and "not found" in stderr
    # an output that would replace the input is refused
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "costed_schools.csv").write_bytes(enriched.read_bytes())
    code, _, stderr = run_cli("cost", clash / "costed_schools.csv", "--out", clash)
    assert code == 2 and "over an input" in stderr
    assert len(stderr.strip().splitlines()) == 1
