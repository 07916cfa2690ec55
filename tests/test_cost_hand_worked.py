"""Hand-worked costs, one school per technology, to the cent; and the Giga open cost model's formulas reproduced.

Every expected number below is worked out by hand in the comments from the parameters set in the test (not read
back from the code). Finance: horizon H = 10 years, r = 5 %:

    AF      = sum_{t=1..10} 1.05^-t = (1 - 1.05^-10) / 0.05 = 7.721734929184812
    RF(5)   = 1 + 1.05^-5  = 1 + 0.783526166468459 = 1.783526166468459   (bought in years 0 and 5)
    RF(7)   = 1 + 1.05^-7  = 1 + 0.710681330130121 = 1.710681330130121   (bought in years 0 and 7)
    RF(10)  = RF(25) = 1                                                  (bought in year 0 only)
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from connectmap.cost import add_costs, annuity_factor, formulas, purchases, refresh_factor, yearly_cash_flows
from connectmap.cost.inputs import CostInputs
from connectmap.cost.model import technology_costs
from connectmap.parameters.cost import COST_TECHNOLOGIES, CostParams

AF = 7.721734929184812
RF5 = 1.783526166468459
RF7 = 1.710681330130121


def hand_params() -> CostParams:
    """Every parameter the four cases use, set explicitly so the test does not move when defaults do."""
    p = CostParams()
    p.demand.floor_mbps, p.demand.per_student_mbps = 20.0, 0.05
    p.finance.horizon_years, p.finance.discount_rate_pct, p.finance.refresh_equipment = 10, 5.0, True
    f = p.fibre
    f.distance_to, f.cable_usd_per_km, f.route_factor, f.max_link_km = "node", 10_000.0, 1.1, 20.0
    f.cable_maintenance_usd_per_km_per_year, f.cable_lifetime_years = 100.0, 25
    f.school_equipment_usd, f.equipment_lifetime_years, f.maintenance_usd_per_year = 500.0, 10, 25.0
    f.bandwidth_usd_per_mbps_per_year, f.capacity_mbps, f.energy_kwh_per_year = 10.0, 2_000.0, 500.0
    c = p.cellular
    c.technologies, c.cpe_usd, c.equipment_lifetime_years, c.maintenance_usd_per_year = ["LTE", "NR"], 534.0, 5, 14.4
    c.bandwidth_usd_per_mbps_per_year, c.capacity_lte_mbps, c.energy_kwh_per_year = 34.0, 100.0, 10.0
    m = p.microwave
    m.school_equipment_usd, m.tower_equipment_usd, m.licence_once_usd = 4_272.0, 0.0, 2_000.0
    m.licence_usd_per_year, m.equipment_lifetime_years, m.maintenance_usd_per_year = 600.0, 7, 300.0
    m.bandwidth_usd_per_mbps_per_year, m.capacity_mbps, m.energy_kwh_per_year = 68.0, 400.0, 10.0
    s = p.satellite
    s.terminal_usd, s.equipment_lifetime_years, s.maintenance_usd_per_year = 534.0, 5, 80.0
    s.bandwidth_usd_per_mbps_per_year, s.plan_usd_per_year = 34.0, 0.0
    s.capacity_mbps, s.energy_kwh_per_year = 150.0, 10.0
    e = p.electricity
    e.allow_solar, e.unknown_means_no_power, e.solar_usd_per_w, e.solar_system_w = True, True, 3.0, 1_000.0
    e.solar_lifetime_years, e.solar_maintenance_usd_per_year, e.grid_usd_per_kwh = 10, 60.0, 0.09
    return p


def hand_schools() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "source_row": [2, 3, 4, 5],
            "school_name": ["Fibre school", "Cellular school", "Microwave school", "Satellite school"],
            "num_students": [600.0, 200.0, 1000.0, 100.0],
            "electricity_availability": pd.array([True, False, True, None], dtype="boolean"),
            "fiber_node_distance": [3.0, np.nan, np.nan, np.nan],
            "covered_LTE": pd.array([None, True, False, False], dtype="boolean"),
            "covered_NR": pd.array([None, False, False, False], dtype="boolean"),
            "microwave_distance_km": [np.nan, np.nan, 12.0, np.nan],
            "microwave_reason": ["beyond_max_microwave_range", "beyond_max_microwave_range", "",
                                 "beyond_max_microwave_range"],
        },
        geometry=gpd.points_from_xy([10.0, 10.1, 10.2, 10.3], [5.0, 5.0, 5.0, 5.0]),
        crs="EPSG:4326",
    )


def test_finance_factors_by_hand():
    finance = hand_params().finance
    assert annuity_factor(finance) == pytest.approx(AF, abs=1e-12)
    assert refresh_factor(5, finance) == pytest.approx(RF5, abs=1e-12)
    assert refresh_factor(7, finance) == pytest.approx(RF7, abs=1e-12)
    assert refresh_factor(10, finance) == 1.0 and refresh_factor(25, finance) == 1.0
    assert refresh_factor(None, finance) == 1.0
    assert [purchases(n, finance) for n in (3, 5, 7, 10, 11)] == [4, 2, 2, 1, 1]  # ceil(10 / L)


def test_fibre_by_hand():
    out = add_costs(hand_schools(), hand_params()).iloc[0]
    # demand D = max(20, 0.05 x 600 = 30) = 30 Mbps; route = 3.0 km x 1.1 = 3.3 km; the school has grid power
    # capex: cable 3.3 x 10,000 = 33,000 (provider) + school equipment 500 (school)          = 33,500.00
    # opex:  cable upkeep 3.3 x 100 = 330 (provider) + bandwidth 30 x 10 = 300 + upkeep 25
    #        + grid 500 kWh x 0.09 = 45 (school)                                              =    700.00
    # NPV:   33,000 x RF(25) + 500 x RF(10) + 700 x AF = 33,500 + 700 x 7.721734929 = 33,500 + 5,405.21
    #                                                                                         = 38,905.21
    # TCO:   33,500 + 700 x 10                                                                = 40,500.00
    assert out["bandwidth_demand_mbps"] == 30.0
    assert round(out["capex_usd_fibre"], 2) == 33_500.00
    assert round(out["opex_usd_per_year_fibre"], 2) == 700.00
    assert round(out["npv_usd_fibre"], 2) == 38_905.21
    # satellite is feasible too and cheaper here: D = 30, grid power:
    #   534 x RF(5) + (30 x 34 + 80 + 10 x 0.09) x AF = 952.40 + 1,100.90 x 7.721734929 = 952.40 + 8,500.86 = 9,453.26
    assert round(out["npv_usd_satellite"], 2) == 9_453.26
    assert out["technology"] == "satellite" and round(out["npv_usd"], 2) == 9_453.26
    # its TCO: 534 x 2 + 1,100.90 x 10 = 12,077.00
    assert round(out["tco_usd"], 2) == 12_077.00


def test_fibre_choice_and_sides_by_hand():
    params = hand_params()
    params.satellite.enabled = False
    out = add_costs(hand_schools(), params).iloc[0]
    assert out["technology"] == "fibre"
    assert round(out["capex_usd"], 2) == 33_500.00 and round(out["opex_usd_per_year"], 2) == 700.00
    assert round(out["npv_usd"], 2) == 38_905.21 and round(out["tco_usd"], 2) == 40_500.00
    # provider: 33,000 + 330 x AF = 33,000 + 2,548.17 = 35,548.17; school: 500 + 370 x AF = 500 + 2,857.04 = 3,357.04
    assert round(out["capex_usd_provider"], 2) == 33_000.00 and round(out["capex_usd_school"], 2) == 500.00
    assert round(out["opex_usd_per_year_provider"], 2) == 330.00 and round(out["opex_usd_per_year_school"], 2) == 370.00
    assert round(out["npv_usd_provider"], 2) == 35_548.17 and round(out["npv_usd_school"], 2) == 3_357.04
    # cost per student = 38,905.21 / 600 = 64.84
    assert round(out["cost_per_student_usd"], 2) == 64.84
    assert out["electricity_source"] == "grid" and out["electricity_opex_usd_per_year"] == pytest.approx(45.0)
    assert out["infeasible_reasons"] == "cellular:coverage_unknown;microwave:beyond_max_microwave_range;" \
                                        "satellite:technology_disabled"


def test_cellular_by_hand():
    out = add_costs(hand_schools(), hand_params()).iloc[1]
    # D = max(20, 0.05 x 200 = 10) = 20 Mbps; no power: solar 1,000 W x 3.0 USD/W = 3,000 (lifetime 10)
    # capex: router 534 + solar 3,000                                   = 3,534.00
    # opex:  bandwidth 20 x 34 = 680 + upkeep 14.4 + solar upkeep 60    =   754.40
    # NPV:   534 x RF(5) + 3,000 x RF(10) + 754.4 x AF
    #      = 534 x 1.783526166 + 3,000 + 754.4 x 7.721734929 = 952.40 + 3,000 + 5,825.28 = 9,777.68
    # TCO:   534 x 2 + 3,000 + 754.4 x 10 = 1,068 + 3,000 + 7,544       = 11,612.00
    assert round(out["capex_usd_cellular"], 2) == 3_534.00
    assert round(out["opex_usd_per_year_cellular"], 2) == 754.40
    assert round(out["npv_usd_cellular"], 2) == 9_777.68
    assert out["technology"] == "cellular"  # satellite: 534 x RF5 + 3,000 + 820 x AF = 10,284.23 > 9,777.68
    assert round(out["tco_usd"], 2) == 11_612.00
    assert out["electricity_source"] == "solar" and out["electricity_capex_usd"] == 3_000.0
    assert math.isnan(out["npv_usd_fibre"])
    assert out["infeasible_reasons"] == "fibre:no_fibre_data;microwave:beyond_max_microwave_range"


def test_microwave_by_hand():
    params = hand_params()
    params.satellite.enabled = False
    out = add_costs(hand_schools(), params).iloc[2]
    # D = max(20, 0.05 x 1,000) = 50 Mbps; grid power
    # capex: school radio 4,272 + tower radio 0 + one-time licence 2,000          = 6,272.00
    # opex:  licence 600 + bandwidth 50 x 68 = 3,400 + upkeep 300 + grid 10 x 0.09 = 4,300.90
    # NPV:   4,272 x RF(7) + 0 x RF(7) + 2,000 + 4,300.9 x AF
    #      = 4,272 x 1.710681330 + 2,000 + 4,300.9 x 7.721734929 = 7,308.03 + 2,000 + 33,210.41 = 42,518.44
    # TCO:   4,272 x 2 + 2,000 + 4,300.9 x 10 = 8,544 + 2,000 + 43,009               = 53,553.00
    assert round(out["capex_usd_microwave"], 2) == 6_272.00
    assert round(out["opex_usd_per_year_microwave"], 2) == 4_300.90
    assert round(out["npv_usd_microwave"], 2) == 42_518.44
    assert out["technology"] == "microwave" and round(out["tco_usd"], 2) == 53_553.00
    # provider side: licences only: 2,000 + 600 x AF = 2,000 + 4,633.04 = 6,633.04
    assert round(out["npv_usd_provider"], 2) == 6_633.04


def test_satellite_by_hand_and_unknown_power_flag():
    out = add_costs(hand_schools(), hand_params())
    school = out.iloc[3]
    # D = 20 Mbps (0.05 x 100 = 5 < 20); power unknown -> costed with solar, flagged electricity_unknown
    # capex: terminal 534 + solar 3,000                                  = 3,534.00
    # opex:  bandwidth 20 x 34 = 680 + plan 0 + upkeep 80 + solar 60     =   820.00
    # NPV:   534 x 1.783526166 + 3,000 + 820 x 7.721734929 = 952.40 + 3,000 + 6,331.82 = 10,284.23
    # TCO:   534 x 2 + 3,000 + 8,200                                       = 12,268.00
    assert round(school["npv_usd_satellite"], 2) == 10_284.23
    assert school["technology"] == "satellite" and round(school["tco_usd"], 2) == 12_268.00
    assert school["quality_flags"] == "electricity_unknown"
    assert out["quality_flags"].iloc[:3].tolist() == ["", "", ""]
    assert school["infeasible_reasons"] == ("fibre:no_fibre_data;cellular:no_coverage;"
                                            "microwave:beyond_max_microwave_range")


def test_yearly_cash_flows_by_hand():
    flows = yearly_cash_flows(hand_schools(), hand_params())
    cellular = flows.iloc[1].to_numpy()
    # year 0: 534 + 3,000; years 1-10: 754.40; year 5 also buys a new router (534)
    expected = [3_534.0] + [754.4] * 10
    expected[5] += 534.0
    np.testing.assert_allclose(cellular, expected, atol=1e-9)
    # discounting each year's flow gives the NPV: sum_t flow_t x 1.05^-t
    discounted = float(np.sum(cellular * 1.05 ** -np.arange(11)))
    assert round(discounted, 2) == 9_777.68


# --- the Giga open cost model's formulas, discounting and refresh off ------------------------------------------------
def giga_params() -> CostParams:
    p = CostParams()
    p.finance.horizon_years, p.finance.discount_rate_pct, p.finance.refresh_equipment = 5, 0.0, False  # Giga: 5 years
    p.demand.floor_mbps, p.demand.per_student_mbps = 20.0, 0.0  # one bandwidth for every school, as Giga
    f = p.fibre
    f.cable_usd_per_km, f.route_factor, f.cable_maintenance_usd_per_km_per_year = 8_900.0, 1.2, 100.0
    f.school_equipment_usd, f.maintenance_usd_per_year, f.bandwidth_usd_per_mbps_per_year = 0.0, 0.0, 10.0
    f.energy_kwh_per_year, f.max_link_km = 500.0, 20.0
    c = p.cellular
    c.cpe_usd, c.maintenance_usd_per_year = 534.0, 0.0
    c.bandwidth_usd_per_mbps_per_year, c.energy_kwh_per_year = 34.0, 10.0
    s = p.satellite
    s.terminal_usd, s.maintenance_usd_per_year, s.bandwidth_usd_per_mbps_per_year = 534.0, 0.0, 34.0
    s.plan_usd_per_year, s.energy_kwh_per_year = 0.0, 10.0
    e = p.electricity
    e.solar_usd_per_w, e.solar_system_w, e.solar_maintenance_usd_per_year, e.grid_usd_per_kwh = 3.0, 1_000.0, 0.0, 0.09
    return p


def test_giga_formulas_reproduced():
    """Giga (giga/models/components/*_cost_model.py, output.py::technology_connectivity_cost):

    total = capex + electricity_capex + (opex + electricity_opex) x years_opex, where
      fibre:     capex = distance_km x cost_per_km x correction_coeficient + fixed capex
                 opex  = distance_km x correction_coeficient x opex cost_per_km + bandwidth x annual_cost_per_mbps
      cellular:  capex = fixed capex;  opex = bandwidth x annual_cost_per_mbps + fixed opex
      satellite: capex = fixed capex;  opex = bandwidth x annual_cost_per_mbps + fixed opex
      electricity: grid opex = cost_per_kwh x required_power (kWh/year);
                   solar capex = solar_cost_per_watt x required_power_per_school (W)
    """
    schools = gpd.GeoDataFrame(
        {
            "num_students": [400.0, 400.0, 400.0],
            "electricity_availability": pd.array([True, True, False], dtype="boolean"),
            "fiber_node_distance": [7.5, np.nan, np.nan],
            "covered_LTE": pd.array([False, True, False], dtype="boolean"),
            "covered_NR": pd.array([False, False, False], dtype="boolean"),
        },
        geometry=gpd.points_from_xy([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]),
        crs="EPSG:4326",
    )
    out = add_costs(schools, giga_params())
    # fibre, 7.5 km, correction 1.2, 20 Mbps, 5 years, grid:
    #   capex = 7.5 x 8,900 x 1.2 = 80,100; opex = 7.5 x 1.2 x 100 + 20 x 10 = 900 + 200 = 1,100
    #   electricity opex = 0.09 x 500 = 45;  total = 80,100 + (1,100 + 45) x 5 = 80,100 + 5,725 = 85,825.00
    assert round(out["npv_usd_fibre"].iloc[0], 2) == 85_825.00
    # cellular, grid: capex 534; opex 20 x 34 = 680; electricity 0.09 x 10 = 0.9
    #   total = 534 + (680 + 0.9) x 5 = 534 + 3,404.50 = 3,938.50
    assert round(out["npv_usd_cellular"].iloc[1], 2) == 3_938.50
    # satellite, no power: capex 534 + solar 3.0 x 1,000 = 3,534; opex 680; total = 3,534 + 680 x 5 = 6,934.00
    assert round(out["npv_usd_satellite"].iloc[2], 2) == 6_934.00
    # at 0 % and without refresh NPV and TCO are the same number (Giga has only the undiscounted total)
    chosen = out["technology"].to_numpy()
    for row, tech in enumerate(chosen):
        assert out["npv_usd"].iloc[row] == pytest.approx(out["tco_usd"].iloc[row], abs=1e-9), tech


def test_formulas_list_the_items_the_code_computes():
    table = formulas()
    inputs = CostInputs.from_table(hand_schools(), hand_params())
    for cost in technology_costs(inputs, hand_params()):
        rows = table[table["technology"] == cost.technology]
        listed = {(r.item, r.kind, r.side) for r in rows.itertuples() if r.kind in ("capex", "opex")}
        computed = {(i.name, "capex", i.side) for i in cost.capex_items} | {
            (i.name, "opex", i.side) for i in cost.opex_items}
        assert listed == computed, cost.technology
    assert set(table["technology"]) == {"all", *COST_TECHNOLOGIES}
    assert table["expression"].str.len().min() > 5
