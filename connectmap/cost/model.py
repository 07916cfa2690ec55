"""Costing every school: all four technologies, their cash flows, and the least-cost choice, as table columns.

:func:`add_costs` is the step the pipeline calls: it takes the enriched school table and returns it with the
columns below (registered in :mod:`connectmap.columns` with their meaning and unit). Schools already connected
(``connectivity`` true) are not costed unless ``cost.cost_connected_schools`` is on: their cost columns are empty
and ``cost_status`` says ``already_connected``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import describe
from connectmap.cost.cashflow import TechnologyCost
from connectmap.cost.choose import cheapest, least_cost, reason_combinations
from connectmap.cost.demand import add_demand
from connectmap.cost.inputs import CostInputs
from connectmap.cost.technologies import TECHNOLOGY_FUNCTIONS
from connectmap.parameters.cost import COST_TECHNOLOGIES, CostParams
from connectmap.quality import append_flag, flag_code
from connectmap.table import labels_array, replace_columns

log = logging.getLogger(__name__)

ELECTRICITY_UNKNOWN = flag_code(
    "electricity_unknown",
    "Electricity unknown: costed without power (solar) unless cost.electricity.unknown_means_no_power is false",
)

TECHNOLOGY = describe(
    "technology", "Least-cost feasible technology: fibre, cellular, microwave or satellite (empty: none)", "text"
)
CAPEX = describe("capex_usd", "Year-0 capital cost of the chosen technology, electricity included", "USD")
OPEX = describe("opex_usd_per_year", "Yearly operating cost of the chosen technology, electricity included", "USD/year")
NPV = describe(
    "npv_usd", "Net present value of the chosen technology's costs over cost.finance.horizon_years", "USD"
)
TCO = describe("tco_usd", "Undiscounted total cost of ownership of the chosen technology over the horizon", "USD")
COST_PER_STUDENT = describe(
    "cost_per_student_usd", "npv_usd divided by num_students (empty when the student count is unknown or 0)", "USD"
)
INFEASIBLE_REASONS = describe(
    "infeasible_reasons",
    "Why each infeasible technology cannot connect the school: technology:reason pairs joined by ';'",
    "codes",
)
COST_STATUS = describe(
    "cost_status",
    "connectable (a technology was chosen), not_connectable (none is feasible) or already_connected (not costed)",
    "text",
)
FIBRE_DISTANCE = describe(
    "fibre_distance_km", "Straight-line distance to the fibre network used by the fibre cost (cost.fibre.distance_to)",
    "km",
)
ELECTRICITY_SOURCE = describe(
    "electricity_source", "Power for the equipment: grid (school has electricity) or solar (it does not)", "text"
)
ELECTRICITY_CAPEX = describe("electricity_capex_usd", "Solar capital cost included in capex_usd", "USD")
ELECTRICITY_OPEX = describe(
    "electricity_opex_usd_per_year", "Grid energy or solar maintenance included in opex_usd_per_year", "USD/year"
)
SIDE_COLUMNS = {
    ("capex_usd", "provider"): describe(
        "capex_usd_provider", "Part of capex_usd on the provider side (fibre cable, tower radio, licences)", "USD"),
    ("capex_usd", "school"): describe(
        "capex_usd_school", "Part of capex_usd on the school side (equipment at the school, solar)", "USD"),
    ("opex_usd_per_year", "provider"): describe(
        "opex_usd_per_year_provider", "Part of opex_usd_per_year on the provider side (cable upkeep, licences)",
        "USD/year"),
    ("opex_usd_per_year", "school"): describe(
        "opex_usd_per_year_school", "Part of opex_usd_per_year on the school side (bandwidth, upkeep, power)",
        "USD/year"),
    ("npv_usd", "provider"): describe("npv_usd_provider", "Provider-side part of npv_usd", "USD"),
    ("npv_usd", "school"): describe("npv_usd_school", "School-side part of npv_usd", "USD"),
}
for _tech in COST_TECHNOLOGIES:
    describe(f"npv_usd_{_tech}", f"Net present value of connecting the school by {_tech} (empty: infeasible)", "USD")
    describe(f"capex_usd_{_tech}", f"Year-0 capital cost of {_tech}, electricity included (empty: infeasible)", "USD")
    describe(f"opex_usd_per_year_{_tech}", f"Yearly operating cost of {_tech} (empty: infeasible)", "USD/year")

#: Every column :func:`add_costs` adds (besides ``bandwidth_demand_mbps``), in output order.
COST_COLUMNS: tuple[str, ...] = (
    TECHNOLOGY, CAPEX, OPEX, NPV, TCO, COST_PER_STUDENT, *SIDE_COLUMNS.values(), ELECTRICITY_SOURCE,
    ELECTRICITY_CAPEX, ELECTRICITY_OPEX, FIBRE_DISTANCE, INFEASIBLE_REASONS, COST_STATUS,
    *(f"{kind}_{tech}" for tech in COST_TECHNOLOGIES for kind in ("npv_usd", "capex_usd", "opex_usd_per_year")),
)


def technology_costs(inputs: CostInputs, params: CostParams) -> list[TechnologyCost]:
    """Feasibility and cost items of the four technologies, in :data:`COST_TECHNOLOGIES` order."""
    return [TECHNOLOGY_FUNCTIONS[name](inputs, params) for name in COST_TECHNOLOGIES]


def costed_mask(inputs: CostInputs, params: CostParams) -> NDArray[np.bool_]:
    """Schools the model costs: all of them, or only those not known to be connected."""
    if params.cost_connected_schools:
        return np.ones(inputs.size, dtype=bool)
    return ~(inputs.connected == 1.0)


def _pick(values: list[NDArray[np.float64]], chosen: NDArray[np.int64]) -> NDArray[np.float64]:
    """Value of the chosen technology per row (``values[k]`` is technology ``k``'s column); NaN where none."""
    picked = np.choose(np.maximum(chosen, 0), values)
    return np.where(chosen >= 0, picked, np.nan)


def _electricity_parts(cost: TechnologyCost) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    capex = sum(item.usd for item in cost.capex_items if item.name == "solar")
    opex = sum(item.usd_per_year for item in cost.opex_items if item.name in ("grid_electricity", "solar_maintenance"))
    return np.asarray(capex, dtype=np.float64), np.asarray(opex, dtype=np.float64)


def cost_columns(
    inputs: CostInputs, params: CostParams, costs: list[TechnologyCost] | None = None
) -> dict[str, NDArray | pd.api.extensions.ExtensionArray]:
    """The cost columns as arrays (the computing part of :func:`add_costs`, without touching the table)."""
    costs = costs if costs is not None else technology_costs(inputs, params)
    finance = params.finance
    costed = costed_mask(inputs, params)
    # unmasked totals: values are only ever picked for a feasible technology, and per-technology columns are masked
    totals = [cost.totals(finance, masked=False) for cost in costs]
    usable = [costed & cost.feasible for cost in costs]
    npv = [np.where(ok, total[NPV], np.nan) for ok, total in zip(usable, totals, strict=True)]
    chosen = cheapest(npv)
    columns: dict[str, NDArray | pd.api.extensions.ExtensionArray] = {}
    columns[TECHNOLOGY] = labels_array(chosen, list(COST_TECHNOLOGIES))
    for name in (CAPEX, OPEX, NPV, TCO, *SIDE_COLUMNS.values()):
        columns[name] = _pick([total[name] for total in totals], chosen)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns[COST_PER_STUDENT] = np.where(inputs.students > 0, columns[NPV] / inputs.students, np.nan)
    electricity = [_electricity_parts(c) for c in costs]
    source = np.where(chosen < 0, -1, np.where(inputs.has_power, 0, 1))
    columns[ELECTRICITY_SOURCE] = labels_array(source, ["grid", "solar"])
    columns[ELECTRICITY_CAPEX] = _pick([e[0] for e in electricity], chosen)
    columns[ELECTRICITY_OPEX] = _pick([e[1] for e in electricity], chosen)
    columns[FIBRE_DISTANCE] = inputs.fibre_distance_km
    reason_codes, reason_texts = reason_combinations(costs)
    columns[INFEASIBLE_REASONS] = labels_array(np.where(costed, reason_codes, len(reason_texts)), [*reason_texts, ""])
    status = np.where(~costed, 2, np.where(chosen >= 0, 0, 1))
    columns[COST_STATUS] = labels_array(status, ["connectable", "not_connectable", "already_connected"])
    for position, tech in enumerate(COST_TECHNOLOGIES):
        columns[f"npv_usd_{tech}"] = npv[position]
        columns[f"capex_usd_{tech}"] = np.where(usable[position], totals[position][CAPEX], np.nan)
        columns[f"opex_usd_per_year_{tech}"] = np.where(usable[position], totals[position][OPEX], np.nan)
    return columns


def add_costs(schools: pd.DataFrame, params: CostParams | None = None) -> pd.DataFrame:
    """Return ``schools`` with the demand, every technology's cost, and the least-cost choice.

    Parameters
    ----------
    schools
        The enriched school table (see :mod:`connectmap.cost.inputs` for the columns read; any may be missing).
    params
        Cost parameters (defaults when ``None``).

    Returns
    -------
    GeoDataFrame or DataFrame
        ``schools`` plus ``bandwidth_demand_mbps`` and :data:`COST_COLUMNS`; the flags ``students_unknown`` and
        ``electricity_unknown`` are appended to ``quality_flags``.

    Raises
    ------
    SchemaError
        When an input column holds a value that cannot be read (the message names the column and row).
    """
    params = params or CostParams()
    out = add_demand(schools, params)
    inputs = CostInputs.from_table(out, params)
    costed = costed_mask(inputs, params)
    if params.electricity.unknown_means_no_power:
        append_flag(out, inputs.power_unknown & costed, ELECTRICITY_UNKNOWN)
    columns = cost_columns(inputs, params)
    out = replace_columns(out, columns)
    status = pd.Series(columns[COST_STATUS]).value_counts().to_dict()
    log.info("costed %d schools: %s", len(out), ", ".join(f"{n} {k}" for k, n in sorted(status.items())))
    return out


def yearly_cash_flows(
    schools: pd.DataFrame, params: CostParams | None = None, *, side: str | None = None
) -> pd.DataFrame:
    """Undiscounted cash flow of the chosen technology per school and year (USD).

    Parameters
    ----------
    schools
        The school table (the choice is recomputed from its inputs with ``params``).
    params
        Cost parameters (defaults when ``None``).
    side
        ``"provider"``, ``"school"`` or ``None`` for both.

    Returns
    -------
    DataFrame
        Index of ``schools``; columns ``year_0`` (capex) to ``year_<H>``; NaN rows for schools not connectable or
        not costed. Discounting row ``t`` by ``(1 + r)^-t`` and summing gives ``npv_usd``.
    """
    params = params or CostParams()
    table = add_demand(schools, params)
    inputs = CostInputs.from_table(table, params)
    costs = technology_costs(inputs, params)
    chosen, _ = least_cost(costs, params.finance)
    chosen = np.where(costed_mask(inputs, params), chosen, -1)
    flows = np.full((inputs.size, params.finance.horizon_years + 1), np.nan)
    for position, cost in enumerate(costs):
        rows = chosen == position
        if rows.any():
            flows[rows] = cost.yearly_usd(params.finance, side)[rows]  # type: ignore[arg-type]
    columns = [f"year_{year}" for year in range(flows.shape[1])]
    return pd.DataFrame(flows, index=schools.index, columns=columns)
