"""Every cost formula in words, for people re-computing it (the workbook's formulas, an auditor's check).

:func:`formulas` returns one row per quantity: the technology, the item, whether it is capex, opex, a feasibility
rule or a finance step, its side (provider or school), the parameter giving its lifetime, and the exact
expression. Parameter names are dotted paths inside the ``[cost]`` section of the configuration (so
``fibre.cable_usd_per_km`` is ``cost.fibre.cable_usd_per_km``; their values, units and sources come from
:func:`connectmap.parameters.iter_parameters`); per-school inputs are column names of the school table:

* ``D`` = ``bandwidth_demand_mbps``; ``d`` = ``fibre_distance_km`` (from ``fiber_node_distance`` and/or
  ``fiber_line_distance_km`` per ``fibre.distance_to``);
* ``power`` = ``electricity_availability`` (unknown counts as no power while
  ``electricity.unknown_means_no_power`` is on); ``solar`` = not ``power``;
* ``H`` = ``finance.horizon_years``, ``r`` = ``finance.discount_rate_pct`` / 100.

A test checks that the capex and opex items listed here are exactly those the technology functions compute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Formula:
    """One documented formula."""

    technology: str
    item: str
    kind: str
    side: str
    lifetime: str
    expression: str


def _electricity(tech: str) -> list[Formula]:
    return [
        Formula(tech, "solar", "capex", "school", "electricity.solar_lifetime_years",
                "if solar: electricity.solar_system_w × electricity.solar_usd_per_w, else 0"),
        Formula(tech, "grid_electricity", "opex", "school", "",
                f"if power: {tech}.energy_kwh_per_year × electricity.grid_usd_per_kwh, else 0"),
        Formula(tech, "solar_maintenance", "opex", "school", "",
                "if solar: electricity.solar_maintenance_usd_per_year, else 0"),
    ]


def _power_rule(tech: str) -> str:
    return f"(power or electricity.allow_solar); infeasible reasons in this order: {tech} disabled"


FORMULAS: tuple[Formula, ...] = (
    Formula("all", "bandwidth_demand_mbps", "input", "", "",
            "max(demand.floor_mbps, demand.per_student_mbps × num_students); demand.floor_mbps when num_students is "
            "unknown (flag students_unknown)"),
    # fibre
    Formula("fibre", "feasible", "feasibility", "", "",
            "fibre.enabled and d known and d ≤ fibre.max_link_km and D ≤ fibre.capacity_mbps and "
            + _power_rule("fibre") + " > location_unknown > no_fibre_data > beyond_max_fibre_distance > "
            "demand_exceeds_capacity > no_electricity"),
    Formula("fibre", "route_km", "input", "", "", "d × fibre.route_factor"),
    Formula("fibre", "cable", "capex", "provider", "fibre.cable_lifetime_years", "route_km × fibre.cable_usd_per_km"),
    Formula("fibre", "school_equipment", "capex", "school", "fibre.equipment_lifetime_years",
            "fibre.school_equipment_usd"),
    Formula("fibre", "cable_maintenance", "opex", "provider", "",
            "route_km × fibre.cable_maintenance_usd_per_km_per_year"),
    Formula("fibre", "bandwidth", "opex", "school", "", "D × fibre.bandwidth_usd_per_mbps_per_year"),
    Formula("fibre", "maintenance", "opex", "school", "", "fibre.maintenance_usd_per_year"),
    *_electricity("fibre"),
    # cellular
    Formula("cellular", "feasible", "feasibility", "", "",
            "cellular.enabled and some technology T in cellular.technologies covers the school (covered_T, else "
            "cellular_coverage_type ≥ T's generation, else nearest_T_distance ≤ cellular.max_range_km) and D ≤ the "
            "largest cellular.capacity_<T>_mbps of the covering T and " + _power_rule("cellular")
            + " > no_coverage (all known not covered) > coverage_unknown > demand_exceeds_capacity > no_electricity"),
    Formula("cellular", "cpe", "capex", "school", "cellular.equipment_lifetime_years", "cellular.cpe_usd"),
    Formula("cellular", "bandwidth", "opex", "school", "", "D × cellular.bandwidth_usd_per_mbps_per_year"),
    Formula("cellular", "maintenance", "opex", "school", "", "cellular.maintenance_usd_per_year"),
    *_electricity("cellular"),
    # microwave
    Formula("microwave", "feasible", "feasibility", "", "",
            "microwave.enabled and microwave_reason empty (a fibre-backhauled tower within microwave.max_range_km "
            "with line of sight; see connectmap.cost.microwave) and D ≤ microwave.capacity_mbps and "
            + _power_rule("microwave") + " > microwave_reason > demand_exceeds_capacity > no_electricity"),
    Formula("microwave", "school_equipment", "capex", "school", "microwave.equipment_lifetime_years",
            "microwave.school_equipment_usd"),
    Formula("microwave", "tower_equipment", "capex", "provider", "microwave.equipment_lifetime_years",
            "microwave.tower_equipment_usd"),
    Formula("microwave", "licence_once", "capex", "provider", "(never refreshed)", "microwave.licence_once_usd"),
    Formula("microwave", "licence", "opex", "provider", "", "microwave.licence_usd_per_year"),
    Formula("microwave", "bandwidth", "opex", "school", "", "D × microwave.bandwidth_usd_per_mbps_per_year"),
    Formula("microwave", "maintenance", "opex", "school", "", "microwave.maintenance_usd_per_year"),
    *_electricity("microwave"),
    # satellite
    Formula("satellite", "feasible", "feasibility", "", "",
            "satellite.enabled and D ≤ satellite.capacity_mbps and " + _power_rule("satellite")
            + " > demand_exceeds_capacity > no_electricity"),
    Formula("satellite", "terminal", "capex", "school", "satellite.equipment_lifetime_years", "satellite.terminal_usd"),
    Formula("satellite", "bandwidth", "opex", "school", "", "D × satellite.bandwidth_usd_per_mbps_per_year"),
    Formula("satellite", "plan", "opex", "school", "", "satellite.plan_usd_per_year"),
    Formula("satellite", "maintenance", "opex", "school", "", "satellite.maintenance_usd_per_year"),
    *_electricity("satellite"),
    # finance, the same for every technology
    Formula("all", "capex_usd", "finance", "", "", "sum of the technology's capex items (year 0)"),
    Formula("all", "opex_usd_per_year", "finance", "", "", "sum of the technology's opex items (each of years 1..H)"),
    Formula("all", "purchases n(L)", "finance", "", "",
            "ceil(H / L) when finance.refresh_equipment, else 1; 1 for items without a lifetime"),
    Formula("all", "annuity factor AF", "finance", "", "", "sum over t = 1..H of (1 + r)^-t  (= H when r = 0)"),
    Formula("all", "refresh factor RF(L)", "finance", "", "", "sum over k = 0..n(L)-1 of (1 + r)^-(k × L)"),
    Formula("all", "npv_usd", "finance", "", "", "sum over capex items of item × RF(L_item) + opex_usd_per_year × AF"),
    Formula("all", "tco_usd", "finance", "", "", "sum over capex items of item × n(L_item) + opex_usd_per_year × H"),
    Formula("all", "cost_per_student_usd", "finance", "", "", "npv_usd / num_students (empty when unknown or 0)"),
    Formula("all", "technology", "choice", "", "",
            "the feasible technology with the lowest npv_usd; ties: fibre, cellular, microwave, satellite"),
)


def formulas() -> pd.DataFrame:
    """Every cost formula as a table: technology, item, kind, side, lifetime, expression."""
    return pd.DataFrame([asdict(formula) for formula in FORMULAS])
