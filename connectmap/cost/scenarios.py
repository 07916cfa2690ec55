"""Low/base/high scenarios and the sensitivity (tornado) table.

* :func:`cost_scenario` sets every cost parameter that has a low or high value (see
  :mod:`connectmap.parameters.cost`: the low-cost and high-cost values where the open models disagree) and
  :func:`scenario_totals` costs the schools under each of the three.
* :func:`sensitivity` moves each key parameter (``cost.sensitivity.parameters``) down and up by
  ``cost.sensitivity.change_pct`` per cent, one at a time, re-runs the least-cost choice and reports the change in
  total NPV, sorted by swing: the rows of a tornado chart. Values are kept inside each parameter's allowed range
  (a route factor cannot go below 1), and whole-number parameters (years) are rounded; the table shows the values
  actually used.

Both recompute from the per-school inputs only (no table copies), so they cost a few full costings each.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from connectmap.cost.demand import bandwidth_demand_mbps
from connectmap.cost.inputs import CostInputs
from connectmap.cost.model import COST_STATUS, NPV, TECHNOLOGY, cost_columns
from connectmap.errors import ConfigError
from connectmap.parameters import iter_parameters
from connectmap.parameters.cost import COST_TECHNOLOGIES, CostParams


def cost_scenario(params: CostParams, which: str) -> CostParams:
    """``params`` with every parameter that has a low/high value set to it (``which`` = low, base or high)."""
    from connectmap.config import Config, scenario

    return scenario(Config(cost=params), which).cost


def _inputs(schools: pd.DataFrame, params: CostParams) -> CostInputs:
    inputs = CostInputs.from_table(schools, params)
    demand, _ = bandwidth_demand_mbps(inputs.students, params.demand)
    return dataclasses.replace(inputs, demand_mbps=demand)


def _totals(inputs: CostInputs, params: CostParams) -> dict[str, float]:
    columns = cost_columns(inputs, params)
    status = np.asarray(columns[COST_STATUS], dtype=object)
    technology = np.asarray(columns[TECHNOLOGY], dtype=object)
    totals: dict[str, float] = {
        "schools_costed": int(np.sum(status != "already_connected")),
        "connectable": int(np.sum(status == "connectable")),
        "not_connectable": int(np.sum(status == "not_connectable")),
    }
    for tech in COST_TECHNOLOGIES:
        totals[f"schools_{tech}"] = int(np.sum(technology == tech))
    for name in ("capex_usd", "opex_usd_per_year", NPV, "tco_usd"):
        totals[name] = float(np.nansum(columns[name]))
    return totals


def scenario_totals(schools: pd.DataFrame, params: CostParams | None = None) -> pd.DataFrame:
    """Totals under the low, base and high scenarios: one row each (schools per technology, capex, opex, NPV, TCO)."""
    params = params or CostParams()
    rows = []
    for which in ("low", "base", "high"):
        chosen = cost_scenario(params, which)
        rows.append({"scenario": which, **_totals(_inputs(schools, chosen), chosen)})
    return pd.DataFrame(rows)


def _bounds(model: BaseModel, name: str) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    for rule in type(model).model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = max(low, float(rule.ge))
        elif isinstance(rule, Gt):
            low = max(low, float(rule.gt) + 1e-12)
        elif isinstance(rule, Le):
            high = min(high, float(rule.le))
        elif isinstance(rule, Lt):
            high = min(high, float(rule.lt) - 1e-12)
    return low, high


def _with_value(params: CostParams, path: str, value: float) -> CostParams:
    changed = params.model_copy(deep=True)
    *parents, leaf = path.split(".")
    node: BaseModel = changed
    for part in parents:
        node = getattr(node, part)
    setattr(node, leaf, value)
    return changed


def sensitivity(
    schools: pd.DataFrame,
    params: CostParams | None = None,
    *,
    change_pct: float | None = None,
    parameters: list[str] | None = None,
) -> pd.DataFrame:
    """Change in total NPV when each parameter moves down and up by ``change_pct`` per cent (tornado-ready).

    Parameters
    ----------
    schools
        The school table (costed or not; the per-school inputs are read from it).
    params
        Base parameters (defaults when ``None``).
    change_pct
        Per cent to move each parameter; ``cost.sensitivity.change_pct`` when ``None``.
    parameters
        Dotted paths inside the cost section; ``cost.sensitivity.parameters`` when ``None``.

    Returns
    -------
    DataFrame
        One row per parameter, largest swing first: ``parameter``, ``unit``, ``description``, ``base_value``,
        ``low_value``, ``high_value``, ``npv_usd_base``, ``npv_usd_low``, ``npv_usd_high``, ``change_usd_low``,
        ``change_usd_high``, ``change_pct_low``, ``change_pct_high``, ``swing_usd``, ``connectable_low``,
        ``connectable_high`` (total NPV over connectable schools, in USD).
    """
    params = params or CostParams()
    change = (params.sensitivity.change_pct if change_pct is None else change_pct) / 100.0
    paths = params.sensitivity.parameters if parameters is None else parameters
    info = {row.path: row for row in iter_parameters(params)}
    inputs = _inputs(schools, params)
    base = _totals(inputs, params)
    rows = []
    for path in paths:
        if path not in info:
            raise ConfigError(
                f"cost.sensitivity.parameters: {path!r} is not a cost parameter (e.g. fibre.cable_usd_per_km)"
            )
        row = info[path]
        value = row.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"cost.sensitivity.parameters: {path!r} is not a number and cannot be varied")
        *parents, leaf = path.split(".")
        owner: BaseModel = params
        for part in parents:
            owner = getattr(owner, part)
        low_bound, high_bound = _bounds(owner, leaf)
        results = {}
        for side, factor in (("low", 1.0 - change), ("high", 1.0 + change)):
            moved = float(np.clip(value * factor, low_bound, high_bound))
            if isinstance(value, int):
                moved = round(moved)
            varied = _with_value(params, path, moved)
            varied_inputs = _inputs(schools, varied) if path.startswith("demand.") else inputs
            results[side] = (moved, _totals(varied_inputs, varied))
        base_npv = base[NPV]
        low_npv, high_npv = results["low"][1][NPV], results["high"][1][NPV]
        rows.append({
            "parameter": path, "unit": row.unit, "description": row.description, "base_value": value,
            "low_value": results["low"][0], "high_value": results["high"][0], "npv_usd_base": base_npv,
            "npv_usd_low": low_npv, "npv_usd_high": high_npv,
            "change_usd_low": low_npv - base_npv, "change_usd_high": high_npv - base_npv,
            "change_pct_low": 100.0 * (low_npv - base_npv) / base_npv if base_npv else np.nan,
            "change_pct_high": 100.0 * (high_npv - base_npv) / base_npv if base_npv else np.nan,
            "swing_usd": abs(high_npv - low_npv),
            "connectable_low": results["low"][1]["connectable"], "connectable_high": results["high"][1]["connectable"],
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values("swing_usd", ascending=False, kind="stable").reset_index(drop=True)
