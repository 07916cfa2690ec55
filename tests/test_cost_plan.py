"""Budget rollout: hand-worked plans for each objective, what the budget covers, and invariants on bigger tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from connectmap.cost import add_costs, add_rollout_year, plan_rollout
from connectmap.errors import SchemaError
from connectmap.parameters.cost import CostParams

# Four costed schools (capex, yearly opex, students, cost per student) -- the plan reads only these columns.
FOUR = pd.DataFrame({
    "source_row": [2, 3, 4, 5],
    "school_name": ["A", "B", "C", "D"],
    "technology": ["satellite", "cellular", "fibre", "satellite"],
    "capex_usd": [100.0, 300.0, 200.0, 50.0],
    "opex_usd_per_year": [10.0, 20.0, 30.0, 5.0],
    "num_students": [100.0, 600.0, 100.0, 10.0],
    "cost_per_student_usd": [1.0, 0.5, 2.0, 5.0],
})


def plan_params(objective: str, per_year: float | None, covers: str = "capex", years: int = 2) -> CostParams:
    params = CostParams()
    params.plan.objective = objective
    params.plan.budget_usd_per_year = per_year
    params.plan.budget_covers = covers
    params.plan.years = years
    return params


def test_students_objective_by_hand():
    # students per dollar: A 100/100 = 1.0, B 600/300 = 2.0, C 100/200 = 0.5, D 10/50 = 0.2 -> order B, A, C, D
    # year 1, 350: B (300) leaves 50; A (100) and C (200) do not fit and are skipped; D (50) fits -> 0 left
    # year 2, 350: A (100) leaves 250; C (200) leaves 50
    rollout = plan_rollout(FOUR, plan_params("students", 350.0))
    plan = rollout.schools
    assert plan["school_name"].tolist() == ["B", "D", "A", "C"]
    assert plan["rollout_year"].tolist() == [1, 1, 2, 2]
    assert plan["cumulative_spend_usd"].tolist() == [300.0, 350.0, 450.0, 650.0]
    assert plan["cumulative_students"].tolist() == [600.0, 610.0, 710.0, 810.0]
    assert plan["priority"].tolist() == [1, 2, 3, 4]
    years = rollout.years
    assert years["spent_usd"].tolist() == [350.0, 300.0]
    assert years["unspent_usd"].tolist() == [0.0, 50.0]
    assert years["cumulative_students"].tolist() == [610.0, 810.0]


def test_cost_per_student_objective_is_strict_by_hand():
    # order by cost per student: B 0.5, A 1.0, C 2.0, D 5.0
    # year 1, 350: B (300) leaves 50; A (100) does not fit -> the year stops (strict order), 50 carried over
    # year 2, 350 + 50 = 400: A (100) -> 300 left, C (200) -> 100 left, D (50) -> 50 left
    rollout = plan_rollout(FOUR, plan_params("cost_per_student", 350.0))
    assert rollout.schools["school_name"].tolist() == ["B", "A", "C", "D"]
    assert rollout.schools["rollout_year"].tolist() == [1, 2, 2, 2]
    assert rollout.years["available_usd"].tolist() == [350.0, 400.0]
    assert rollout.years["unspent_usd"].tolist() == [50.0, 50.0]


def test_schools_objective_by_hand():
    # cheapest first: D 50, A 100, C 200, B 300; year 1, 350: D, A, C (350 exactly); year 2: B
    rollout = plan_rollout(FOUR, plan_params("schools", 350.0))
    assert rollout.schools["school_name"].tolist() == ["D", "A", "C", "B"]
    assert rollout.schools["rollout_year"].tolist() == [1, 1, 1, 2]


def test_budget_covering_opex_by_hand():
    # capex_and_opex, 400 a year, objective schools (cheapest first by capex + first-year opex):
    #   D 55, A 110, C 230, B 320
    # year 1: D 55, A 110, C 230 -> 395 spent, 5 left; yearly opex now 5 + 10 + 30 = 45 (<= 400, sustainable)
    # year 2: available 400 + 5 = 405; opex of D, A, C = 45 first -> 360 for new schools; B costs 320 -> 40 left
    #         spent 45 + 320 = 365, carried 40
    rollout = plan_rollout(FOUR, plan_params("schools", 400.0, covers="capex_and_opex"))
    assert rollout.schools["school_name"].tolist() == ["D", "A", "C", "B"]
    assert rollout.schools["rollout_year"].tolist() == [1, 1, 1, 2]
    years = rollout.years
    assert years["opex_existing_usd"].tolist() == [0.0, 45.0]
    assert years["spent_usd"].tolist() == [395.0, 365.0]
    assert years["unspent_usd"].tolist() == [5.0, 40.0]
    # cumulative spend of B = year 1 (395) + year-2 opex of the others (45) + B's own 320
    assert rollout.schools["cumulative_spend_usd"].tolist() == [55.0, 165.0, 395.0, 760.0]


def test_total_budget_is_spread_over_the_years_and_no_budget_plans_everything_in_year_one():
    params = plan_params("students", None, years=2)
    params.plan.budget_usd = 700.0  # 350 a year, the same as the first test
    assert plan_rollout(FOUR, params).schools["school_name"].tolist() == ["B", "D", "A", "C"]
    unlimited = plan_rollout(FOUR, plan_params("students", None))
    assert unlimited.schools["rollout_year"].tolist() == [1, 1, 1, 1]
    assert len(unlimited.years) == 1


def test_plan_on_costed_schools_keeps_within_the_budget():
    rng = np.random.default_rng(8)
    n = 600
    schools = gpd.GeoDataFrame(
        {"source_row": np.arange(2, n + 2),
         "num_students": np.where(rng.random(n) < 0.1, np.nan, rng.integers(20, 2_000, n)).astype(float),
         "electricity_availability": pd.array(rng.random(n) < 0.6, dtype="boolean"),
         "fiber_node_distance": rng.uniform(0, 40, n),
         "covered_LTE": pd.array(rng.random(n) < 0.4, dtype="boolean")},
        geometry=gpd.points_from_xy(rng.uniform(0, 1, n), rng.uniform(0, 1, n)), crs="EPSG:4326",
    )
    params = CostParams()
    params.plan.budget_usd_per_year = 250_000.0
    costed = add_costs(schools, params)
    rollout = plan_rollout(costed, params)
    years = rollout.years
    assert np.all(years["spent_usd"] <= years["available_usd"] + 1e-6)
    # the opex of connected schools never outgrows one year's budget (the plan can be kept running)
    opex_running = rollout.schools.groupby("rollout_year")["opex_usd_per_year"].sum().cumsum()
    assert np.all(opex_running.to_numpy() <= 250_000.0 + 1e-6)
    # totals reconcile: the plan's rows add up to the yearly table
    assert rollout.schools["spend_in_year_usd"].sum() == pytest.approx(years["new_spend_usd"].sum())
    assert years["cumulative_spend_usd"].iloc[-1] == pytest.approx(years["spent_usd"].sum())
    assert rollout.schools["cumulative_students"].iloc[-1] == pytest.approx(
        np.nansum(costed.loc[rollout.schools.index, "num_students"]))
    # only connectable schools, each once
    assert rollout.schools.index.is_unique
    assert set(costed.loc[rollout.schools.index, "cost_status"]) == {"connectable"}
    with_year = add_rollout_year(costed, rollout)
    assert with_year["rollout_year"].notna().sum() == len(rollout.schools)


def test_plan_needs_a_costed_table():
    with pytest.raises(SchemaError, match="add_costs"):
        plan_rollout(FOUR.drop(columns=["capex_usd"]))
