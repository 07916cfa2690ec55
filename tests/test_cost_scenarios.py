"""Low/base/high scenarios and the sensitivity (tornado) table, against independent re-runs of the model."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from connectmap.cost import add_costs, cost_scenario, scenario_totals, sensitivity, summarise
from connectmap.errors import ConfigError, SchemaError
from connectmap.parameters import iter_parameters
from connectmap.parameters.cost import CostParams


@pytest.fixture
def schools() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(21)
    n = 400
    return gpd.GeoDataFrame(
        {"source_row": np.arange(2, n + 2),
         "admin1": rng.choice(["North", "South", None], n),
         "num_students": np.where(rng.random(n) < 0.1, np.nan, rng.integers(20, 3_500, n)).astype(float),
         "electricity_availability": pd.array(rng.random(n) < 0.6, dtype="boolean"),
         "fiber_node_distance": rng.uniform(0, 30, n),
         "covered_LTE": pd.array(rng.random(n) < 0.4, dtype="boolean"),
         "connectivity": pd.array(rng.random(n) < 0.1, dtype="boolean")},
        geometry=gpd.points_from_xy(rng.uniform(0, 1, n), rng.uniform(0, 1, n)), crs="EPSG:4326",
    )


def test_scenarios_set_the_low_and_high_values():
    base = CostParams()
    low, high = cost_scenario(base, "low"), cost_scenario(base, "high")
    assert (low.fibre.cable_usd_per_km, base.fibre.cable_usd_per_km, high.fibre.cable_usd_per_km) == (
        5_000.0, 10_000.0, 20_000.0)
    for info in iter_parameters(base):
        if info.low is None:
            continue
        assert info.low <= info.value <= info.high, info.path  # low is the low-cost value everywhere
    with pytest.raises(ConfigError):
        cost_scenario(base, "medium")


def test_scenario_totals_are_ordered_and_match_a_direct_run(schools):
    totals = scenario_totals(schools).set_index("scenario")
    assert totals.loc["low", "npv_usd"] <= totals.loc["base", "npv_usd"] <= totals.loc["high", "npv_usd"]
    direct = add_costs(schools, cost_scenario(CostParams(), "high"))
    assert totals.loc["high", "npv_usd"] == pytest.approx(direct["npv_usd"].sum(), rel=1e-12)
    assert totals.loc["high", "schools_satellite"] == (direct["technology"] == "satellite").sum()
    assert totals.loc["base", "schools_costed"] == (direct["cost_status"] != "already_connected").sum()


def test_sensitivity_matches_independent_reruns(schools):
    table = sensitivity(schools, CostParams(), change_pct=20.0)
    assert table["swing_usd"].is_monotonic_decreasing  # tornado order
    base_total = add_costs(schools, CostParams())["npv_usd"].sum()
    row = table.set_index("parameter").loc["fibre.cable_usd_per_km"]
    assert (row["low_value"], row["high_value"]) == (8_000.0, 12_000.0)
    higher = CostParams()
    higher.fibre.cable_usd_per_km = 12_000.0
    assert row["npv_usd_high"] == pytest.approx(add_costs(schools, higher)["npv_usd"].sum(), rel=1e-12)
    assert row["npv_usd_base"] == pytest.approx(base_total, rel=1e-12)
    assert row["change_usd_high"] == pytest.approx(row["npv_usd_high"] - base_total, abs=1e-6)
    # a demand parameter changes the bandwidth every school needs, so the model is re-run from the students
    demand = table.set_index("parameter").loc["demand.per_student_mbps"]
    more = CostParams()
    more.demand.per_student_mbps = 0.06
    assert demand["npv_usd_high"] == pytest.approx(add_costs(schools, more)["npv_usd"].sum(), rel=1e-12)
    # values are kept inside the allowed range (route factor >= 1) and whole years stay whole
    route = table.set_index("parameter").loc["fibre.route_factor"]
    assert route["low_value"] == 1.0 and route["high_value"] == pytest.approx(1.32)
    years = table.set_index("parameter").loc["finance.horizon_years"]
    assert (years["low_value"], years["high_value"]) == (8, 12)


def test_sensitivity_rejects_unknown_or_non_numeric_parameters(schools):
    with pytest.raises(ConfigError, match="not a cost parameter"):
        sensitivity(schools, parameters=["fibre.cost_per_mile"])
    with pytest.raises(ConfigError, match="not a number"):
        sensitivity(schools, parameters=["fibre.distance_to"])


def test_totals_by_region_reconcile_with_the_rows(schools):
    costed = add_costs(schools)
    table = summarise(costed)
    regions = table[table["admin1"] != "Total"]
    total = table[table["admin1"] == "Total"].iloc[0]
    assert set(regions["admin1"]) == {"North", "South", "(unknown)"}
    for column in ("schools", "connectable", "not_connectable", "already_connected", "capex_usd", "npv_usd"):
        assert regions[column].sum() == pytest.approx(total[column])
    connectable = costed["cost_status"] == "connectable"
    assert total["npv_usd"] == pytest.approx(costed.loc[connectable, "npv_usd"].sum())
    assert total["schools"] == len(costed)
    north = costed["admin1"] == "North"
    assert table.set_index("admin1").loc["North", "tco_usd"] == pytest.approx(
        costed.loc[north & connectable, "tco_usd"].sum())
    with pytest.raises(SchemaError, match="add_costs"):
        summarise(schools)
