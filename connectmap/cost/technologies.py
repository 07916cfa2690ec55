"""The four ways to connect a school, and its power, each as one vectorised function over every school.

Each function returns a :class:`~connectmap.cost.cashflow.TechnologyCost`: which schools it can connect (and the
first reason why not), and its capital and yearly cost items. The formulas are deliberately simple so that a
spreadsheet can repeat them cell by cell; :func:`connectmap.cost.explain.formulas` lists them with the parameter
names. Names below: ``P.x`` is parameter ``cost.x``; ``d`` the school's fibre distance in km, ``D`` its bandwidth
demand in Mbps (``bandwidth_demand_mbps``).

Electricity (added to every technology by :func:`electricity`)::

    school with power:    grid opex   = P.<tech>.energy_kwh_per_year x P.electricity.grid_usd_per_kwh   (school)
    school without power: solar capex = P.electricity.solar_system_w x P.electricity.solar_usd_per_w    (school,
                                        bought again every P.electricity.solar_lifetime_years)
                          solar opex  = P.electricity.solar_maintenance_usd_per_year                    (school)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from connectmap.cost.cashflow import CapexItem, OpexItem, TechnologyCost
from connectmap.cost.choose import Reason, first_reason
from connectmap.cost.inputs import CostInputs
from connectmap.parameters.cost import CostParams


def electricity(
    inputs: CostInputs, params: CostParams, energy_kwh_per_year: float
) -> tuple[list[CapexItem], list[OpexItem], NDArray[np.bool_]]:
    """Power cost items of a technology using ``energy_kwh_per_year``, and where power makes it infeasible.

    Schools with power pay the grid for the energy::

        grid_electricity (opex, school) = energy_kwh_per_year x P.electricity.grid_usd_per_kwh

    schools without power (and, by default, those whose power is unknown) get solar::

        solar (capex, school, lifetime P.electricity.solar_lifetime_years)
            = P.electricity.solar_system_w x P.electricity.solar_usd_per_w
        solar_maintenance (opex, school) = P.electricity.solar_maintenance_usd_per_year

    Returns
    -------
    capex_items, opex_items, no_electricity
        ``no_electricity`` is true where the school needs solar but ``P.electricity.allow_solar`` is off.
    """
    power = params.electricity
    needs_solar = ~inputs.has_power
    solar_usd = np.where(needs_solar, power.solar_system_w * power.solar_usd_per_w, 0.0)
    capex = [CapexItem("solar", "school", power.solar_lifetime_years, solar_usd)]
    opex = [
        OpexItem(
            "grid_electricity", "school", np.where(needs_solar, 0.0, energy_kwh_per_year * power.grid_usd_per_kwh)
        ),
        OpexItem("solar_maintenance", "school", np.where(needs_solar, power.solar_maintenance_usd_per_year, 0.0)),
    ]
    return capex, opex, needs_solar & (not power.allow_solar)


def fibre(
    inputs: CostInputs, params: CostParams, distance_km: NDArray[np.float64] | None = None
) -> TechnologyCost:
    """Fibre from the school to the fibre network ``d`` km away (straight line).

    Feasible when fibre is enabled, ``d`` is known, ``d <= P.fibre.max_link_km``, ``D <= P.fibre.capacity_mbps``
    and the school has power or may get solar. Items::

        route_km                       = d x P.fibre.route_factor
        cable (capex, provider, lifetime P.fibre.cable_lifetime_years) = route_km x P.fibre.cable_usd_per_km
        school_equipment (capex, school, lifetime P.fibre.equipment_lifetime_years) = P.fibre.school_equipment_usd
        cable_maintenance (opex, provider) = route_km x P.fibre.cable_maintenance_usd_per_km_per_year
        bandwidth (opex, school)       = D x P.fibre.bandwidth_usd_per_mbps_per_year
        maintenance (opex, school)     = P.fibre.maintenance_usd_per_year
        + electricity with P.fibre.energy_kwh_per_year

    With ``P.fibre.route_factor`` as Giga's correction coefficient and no school equipment or maintenance, this is
    the Giga open cost model's fibre cost (``capex = d x cost_per_km x correction``, ``opex = d x correction x
    maintenance_per_km + D x annual_cost_per_mbps``).

    Parameters
    ----------
    distance_km
        Distance to use instead of the school's own fibre distance (the shared-fibre tree passes link lengths).
    """
    p = params.fibre
    d = inputs.fibre_distance_km if distance_km is None else np.asarray(distance_km, dtype=np.float64)
    unknown = np.isnan(d)
    route_km = np.where(unknown, 0.0, d) * p.route_factor
    capex, opex, no_power = electricity(inputs, params, p.energy_kwh_per_year)
    reason = first_reason(
        [
            (np.full(inputs.size, not p.enabled), Reason.TECHNOLOGY_DISABLED),
            (unknown & ~inputs.location_known, Reason.LOCATION_UNKNOWN),
            (unknown, Reason.NO_FIBRE_DATA),
            (~(d <= p.max_link_km) & ~unknown, Reason.BEYOND_MAX_FIBRE_DISTANCE),
            (inputs.demand_mbps > p.capacity_mbps, Reason.DEMAND_EXCEEDS_CAPACITY),
            (no_power, Reason.NO_ELECTRICITY),
        ],
        inputs.size,
    )
    return TechnologyCost(
        technology="fibre",
        feasible=reason == 0,
        reason=reason,
        capex_items=[
            CapexItem("cable", "provider", p.cable_lifetime_years, route_km * p.cable_usd_per_km),
            CapexItem("school_equipment", "school", p.equipment_lifetime_years, float(p.school_equipment_usd)),
            *capex,
        ],
        opex_items=[
            OpexItem("cable_maintenance", "provider", route_km * p.cable_maintenance_usd_per_km_per_year),
            OpexItem("bandwidth", "school", inputs.demand_mbps * p.bandwidth_usd_per_mbps_per_year),
            OpexItem("maintenance", "school", float(p.maintenance_usd_per_year)),
            *opex,
        ],
    )


def cellular(inputs: CostInputs, params: CostParams) -> TechnologyCost:
    """A mobile-broadband router on an existing network.

    Feasible when cellular is enabled, at least one technology of ``P.cellular.technologies`` covers the school
    (``no_coverage`` when none does, ``coverage_unknown`` when none is known to), ``D`` is at most the capacity of
    the best covering technology (``P.cellular.capacity_<tech>_mbps``), and there is power. Items::

        cpe (capex, school, lifetime P.cellular.equipment_lifetime_years) = P.cellular.cpe_usd
        bandwidth (opex, school)   = D x P.cellular.bandwidth_usd_per_mbps_per_year
        maintenance (opex, school) = P.cellular.maintenance_usd_per_year
        + electricity with P.cellular.energy_kwh_per_year
    """
    p = params.cellular
    any_covered = np.zeros(inputs.size, dtype=bool)
    all_uncovered = np.ones(inputs.size, dtype=bool)
    capacity = np.zeros(inputs.size)
    for radio in p.technologies:
        covered = inputs.covered[radio]
        yes = covered == 1.0
        any_covered |= yes
        all_uncovered &= covered == 0.0
        capacity = np.where(yes, np.maximum(capacity, p.capacity_mbps(radio)), capacity)
    capex, opex, no_power = electricity(inputs, params, p.energy_kwh_per_year)
    reason = first_reason(
        [
            (np.full(inputs.size, not p.enabled), Reason.TECHNOLOGY_DISABLED),
            (all_uncovered, Reason.NO_COVERAGE),
            (~any_covered, Reason.COVERAGE_UNKNOWN),
            (inputs.demand_mbps > capacity, Reason.DEMAND_EXCEEDS_CAPACITY),
            (no_power, Reason.NO_ELECTRICITY),
        ],
        inputs.size,
    )
    return TechnologyCost(
        technology="cellular",
        feasible=reason == 0,
        reason=reason,
        capex_items=[CapexItem("cpe", "school", p.equipment_lifetime_years, float(p.cpe_usd)), *capex],
        opex_items=[
            OpexItem("bandwidth", "school", inputs.demand_mbps * p.bandwidth_usd_per_mbps_per_year),
            OpexItem("maintenance", "school", float(p.maintenance_usd_per_year)),
            *opex,
        ],
    )


def microwave(inputs: CostInputs, params: CostParams) -> TechnologyCost:
    """A point-to-point radio link to a fibre-backhauled tower found by
    :func:`connectmap.cost.add_microwave_options` (its ``microwave_reason`` says why there is none).

    Feasible when microwave is enabled, a link was found, ``D <= P.microwave.capacity_mbps`` and there is power.
    Items::

        school_equipment (capex, school, lifetime P.microwave.equipment_lifetime_years)
            = P.microwave.school_equipment_usd
        tower_equipment (capex, provider, same lifetime) = P.microwave.tower_equipment_usd
        licence_once (capex, provider, never refreshed)  = P.microwave.licence_once_usd
        licence (opex, provider)    = P.microwave.licence_usd_per_year
        bandwidth (opex, school)    = D x P.microwave.bandwidth_usd_per_mbps_per_year
        maintenance (opex, school)  = P.microwave.maintenance_usd_per_year
        + electricity with P.microwave.energy_kwh_per_year
    """
    p = params.microwave
    capex, opex, no_power = electricity(inputs, params, p.energy_kwh_per_year)
    disabled = np.full(inputs.size, not p.enabled)
    reason = first_reason(
        [
            (disabled, Reason.TECHNOLOGY_DISABLED),
            (inputs.demand_mbps > p.capacity_mbps, Reason.DEMAND_EXCEEDS_CAPACITY),
            (no_power, Reason.NO_ELECTRICITY),
        ],
        inputs.size,
    )
    # The link search's own reason (no towers, out of range, no line of sight...) comes right after "disabled".
    reason = np.where(~disabled & (inputs.microwave_reason != 0), inputs.microwave_reason, reason).astype(np.int8)
    lifetime = p.equipment_lifetime_years
    return TechnologyCost(
        technology="microwave",
        feasible=reason == 0,
        reason=reason,
        capex_items=[
            CapexItem("school_equipment", "school", lifetime, float(p.school_equipment_usd)),
            CapexItem("tower_equipment", "provider", lifetime, float(p.tower_equipment_usd)),
            CapexItem("licence_once", "provider", None, float(p.licence_once_usd)),
            *capex,
        ],
        opex_items=[
            OpexItem("licence", "provider", float(p.licence_usd_per_year)),
            OpexItem("bandwidth", "school", inputs.demand_mbps * p.bandwidth_usd_per_mbps_per_year),
            OpexItem("maintenance", "school", float(p.maintenance_usd_per_year)),
            *opex,
        ],
    )


def satellite(inputs: CostInputs, params: CostParams) -> TechnologyCost:
    """A satellite terminal at the school: feasible everywhere, up to ``P.satellite.capacity_mbps``, with power.

    Items::

        terminal (capex, school, lifetime P.satellite.equipment_lifetime_years) = P.satellite.terminal_usd
        bandwidth (opex, school)   = D x P.satellite.bandwidth_usd_per_mbps_per_year
        plan (opex, school)        = P.satellite.plan_usd_per_year
        maintenance (opex, school) = P.satellite.maintenance_usd_per_year
        + electricity with P.satellite.energy_kwh_per_year
    """
    p = params.satellite
    capex, opex, no_power = electricity(inputs, params, p.energy_kwh_per_year)
    reason = first_reason(
        [
            (np.full(inputs.size, not p.enabled), Reason.TECHNOLOGY_DISABLED),
            (inputs.demand_mbps > p.capacity_mbps, Reason.DEMAND_EXCEEDS_CAPACITY),
            (no_power, Reason.NO_ELECTRICITY),
        ],
        inputs.size,
    )
    return TechnologyCost(
        technology="satellite",
        feasible=reason == 0,
        reason=reason,
        capex_items=[
            CapexItem("terminal", "school", p.equipment_lifetime_years, float(p.terminal_usd)),
            *capex,
        ],
        opex_items=[
            OpexItem("bandwidth", "school", inputs.demand_mbps * p.bandwidth_usd_per_mbps_per_year),
            OpexItem("plan", "school", float(p.plan_usd_per_year)),
            OpexItem("maintenance", "school", float(p.maintenance_usd_per_year)),
            *opex,
        ],
    )


#: The technology functions in tie-break order.
TECHNOLOGY_FUNCTIONS = {"fibre": fibre, "cellular": cellular, "microwave": microwave, "satellite": satellite}
