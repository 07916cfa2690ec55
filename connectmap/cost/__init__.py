"""The cost of connecting every school: demand, four technologies, cash flows, least-cost choice, shared fibre,
budget rollout, scenarios and sensitivity.

Steps (each takes the school table and returns it with new columns):

* :func:`add_demand` — ``bandwidth_demand_mbps`` and the ``students_unknown`` flag;
* :func:`add_microwave_options` — the fibre-backhauled tower each school could reach by microwave;
* :func:`add_costs` — every technology's cost, the least-cost ``technology``, NPV, TCO, reasons;
* :func:`add_shared_fibre` — the economies-of-scale result (``*_shared`` columns);
* :func:`add_rollout_year` — the plan year of each school.

Tables: :func:`plan_rollout` (budget rollout), :func:`sensitivity` (tornado table), :func:`scenario_totals`
(low/base/high), :func:`summarise` (totals by region), :func:`yearly_cash_flows`, :func:`formulas` (every formula
in words, for the workbook).
"""

from connectmap.cost.cashflow import annuity_factor, purchases, refresh_factor
from connectmap.cost.choose import Reason
from connectmap.cost.demand import add_demand, bandwidth_demand_mbps
from connectmap.cost.explain import formulas
from connectmap.cost.fibre_tree import SHARED_COLUMNS, add_shared_fibre
from connectmap.cost.microwave import MICROWAVE_COLUMNS, add_microwave_options, line_of_sight
from connectmap.cost.model import COST_COLUMNS, add_costs, yearly_cash_flows
from connectmap.cost.plan import Rollout, add_rollout_year, plan_rollout
from connectmap.cost.scenarios import cost_scenario, scenario_totals, sensitivity
from connectmap.cost.summary import summarise

__all__ = [
    "COST_COLUMNS",
    "MICROWAVE_COLUMNS",
    "SHARED_COLUMNS",
    "Reason",
    "Rollout",
    "add_costs",
    "add_demand",
    "add_microwave_options",
    "add_rollout_year",
    "add_shared_fibre",
    "annuity_factor",
    "bandwidth_demand_mbps",
    "cost_scenario",
    "formulas",
    "line_of_sight",
    "plan_rollout",
    "purchases",
    "refresh_factor",
    "scenario_totals",
    "sensitivity",
    "summarise",
    "yearly_cash_flows",
]
