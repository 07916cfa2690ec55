"""Budget rollout: which connectable schools to connect first, year by year, within a budget.

The money: a budget per year (``cost.plan.budget_usd_per_year``), or a total (``cost.plan.budget_usd``) spread
evenly over ``cost.plan.years``; money not spent in a year is carried to the next. With ``budget_covers =
"capex_and_opex"`` (the default) a school costs its year-0 capex plus its yearly opex in the year it is connected,
and every connected school's opex is paid again each following year before new schools are chosen; new schools
are only taken while the yearly opex of everything connected stays within one year's budget, so the plan can be
kept running. With ``"capex"`` the budget pays connections only. Without a budget every connectable school is
planned in year 1, in priority order.

The order (``cost.plan.objective``):

* ``students`` — most students per dollar first (``num_students / cost``); a school that does not fit the money
  left this year is skipped and smaller ones fill the gap (the greedy knapsack rule);
* ``schools`` — cheapest first, also skipping, which connects the most schools;
* ``cost_per_student`` — lowest ``cost_per_student_usd`` first in strict merit order: the year stops at the first
  school that does not fit, and it goes first next year.

Schools with an unknown student count (flag ``students_unknown``) count as 0 students: they come last under
``students`` and ``cost_per_student`` and add nothing to ``cumulative_students``. The plan uses the independent
result (``technology``, ``capex_usd``, ``opex_usd_per_year``) unless asked for the shared-fibre one, whose links
depend on each other and are then all charged in the year their school is connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import (
    ADMIN1,
    ADMIN2,
    NUM_STUDENTS,
    SCHOOL_ID_GIGA,
    SCHOOL_ID_GOVT,
    SCHOOL_NAME,
    SOURCE_ROW,
    describe,
)
from connectmap.cost.model import CAPEX, COST_PER_STUDENT, OPEX, TECHNOLOGY
from connectmap.errors import ConfigError, SchemaError
from connectmap.parameters.cost import CostParams, PlanParams
from connectmap.table import numeric_column, text_column

ROLLOUT_YEAR = describe("rollout_year", "Plan year in which the school is connected (empty: not in the plan)", "year")
PRIORITY = describe("priority", "Position of the school in the rollout order (1 = first)", "rank")
SPEND_IN_YEAR = describe(
    "spend_in_year_usd", "What connecting the school costs in its rollout year (capex, plus opex when covered)", "USD"
)
CUMULATIVE_SPEND = describe(
    "cumulative_spend_usd", "Money spent from the start of the plan up to and including this school", "USD"
)
CUMULATIVE_STUDENTS = describe(
    "cumulative_students", "Students in schools connected up to and including this one (unknown counts as 0)", "count"
)
CUMULATIVE_SCHOOLS = describe("cumulative_schools", "Schools connected up to and including this one", "count")
_CARRIED = ("source_row", SCHOOL_ID_GIGA, SCHOOL_ID_GOVT, SCHOOL_NAME, ADMIN1, ADMIN2)


@dataclass
class Rollout:
    """A phased connection plan.

    Attributes
    ----------
    schools
        One row per planned school in connection order: identity columns, ``technology``, ``capex_usd``,
        ``opex_usd_per_year``, ``num_students``, ``rollout_year``, ``priority``, ``spend_in_year_usd``,
        ``cumulative_spend_usd``, ``cumulative_students``, ``cumulative_schools``. Its index is the school
        table's index.
    years
        One row per plan year: ``budget_usd``, ``available_usd`` (budget plus carry-over), ``opex_existing_usd``
        (opex of schools connected earlier), ``new_schools``, ``new_students``, ``new_spend_usd``,
        ``spent_usd``, ``unspent_usd`` (carried over), ``cumulative_spend_usd``, ``cumulative_schools``,
        ``cumulative_students``.
    """

    schools: pd.DataFrame
    years: pd.DataFrame


def _order(objective: str, cost: NDArray, students: NDArray, per_student: NDArray) -> NDArray[np.int64]:
    position = np.arange(cost.size)
    if objective == "schools":
        return np.lexsort((position, cost))
    if objective == "cost_per_student":
        key = np.where(np.isfinite(per_student) & (students > 0), per_student, np.inf)
        return np.lexsort((position, cost, key))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cost > 0, students / cost, np.where(students > 0, np.inf, 0.0))
    return np.lexsort((position, cost, -ratio))


def _take(
    cost: NDArray, opex: NDArray, money: float, room: float, strict: bool
) -> NDArray[np.int64]:
    """Positions (into the given priority-ordered arrays) chosen within ``money`` now and ``room`` of yearly opex."""
    chosen: list[NDArray[np.int64]] = []
    candidates = np.arange(cost.size)
    while candidates.size:
        if not strict:
            fits = (cost[candidates] <= money) & (opex[candidates] <= room)
            candidates = candidates[fits]
            if candidates.size == 0:
                break
        # costs are never negative, so the running totals only grow: the schools that fit form a prefix
        fits_so_far = (np.cumsum(cost[candidates]) <= money + 1e-9) & (np.cumsum(opex[candidates]) <= room + 1e-9)
        prefix = int(fits_so_far.sum())
        if prefix == 0:
            break
        taken = candidates[:prefix]
        chosen.append(taken)
        money -= float(cost[taken].sum())
        room -= float(opex[taken].sum())
        candidates = candidates[prefix:]
        if strict:
            break
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def plan_rollout(
    schools: pd.DataFrame,
    params: CostParams | None = None,
    *,
    shared: bool = False,
) -> Rollout:
    """Phase the connectable schools over the plan years within the budget (``cost.plan``).

    Parameters
    ----------
    schools
        Output of :func:`connectmap.cost.add_costs` (and :func:`connectmap.cost.add_shared_fibre` when
        ``shared``).
    params
        Cost parameters; ``params.plan`` sets the budget, years, objective and what the budget covers.
    shared
        Plan the shared-fibre result (``*_shared`` columns) instead of the independent one.

    Raises
    ------
    SchemaError
        When ``schools`` has not been costed.
    """
    params = params or CostParams()
    plan: PlanParams = params.plan
    if plan.budget_usd is not None and plan.budget_usd_per_year is not None:
        raise ConfigError("cost.plan: give budget_usd or budget_usd_per_year, not both")
    suffix = "_shared" if shared else ""
    needed = [f"{TECHNOLOGY}{suffix}", f"{CAPEX}{suffix}", f"{OPEX}{suffix}"]
    missing = [name for name in needed if name not in schools.columns]
    if missing:
        raise SchemaError(
            f"<table>: column(s) {', '.join(missing)} missing; run connectmap.cost.add_costs"
            + (" and add_shared_fibre" if shared else "") + " first"
        )
    technology = text_column(schools, needed[0])
    capex = numeric_column(schools, needed[1])
    opex = numeric_column(schools, needed[2])
    students = np.nan_to_num(numeric_column(schools, NUM_STUDENTS), nan=0.0)
    students = np.maximum(students, 0.0)
    per_student = numeric_column(schools, COST_PER_STUDENT)
    eligible = np.flatnonzero(pd.notna(technology) & np.isfinite(capex) & np.isfinite(opex))
    covers_opex = plan.budget_covers == "capex_and_opex"
    first_cost = capex + (opex if covers_opex else 0.0)
    yearly = opex if covers_opex else np.zeros_like(opex)
    order = eligible[_order(plan.objective, first_cost[eligible], students[eligible], per_student[eligible])]
    if plan.budget_usd_per_year is not None:
        budget = float(plan.budget_usd_per_year)
    elif plan.budget_usd is not None:
        budget = float(plan.budget_usd) / plan.years
    else:
        budget = np.inf
    years = plan.years if np.isfinite(budget) else 1
    strict = plan.objective == "cost_per_student"

    remaining = order
    carry = 0.0
    running_opex = 0.0
    spent_before = 0.0
    planned: list[tuple[int, NDArray[np.int64]]] = []
    year_rows = []
    for year in range(1, years + 1):
        available = budget + carry
        opex_existing = running_opex
        money = available - opex_existing
        room = budget - running_opex if covers_opex else np.inf
        taken = _take(first_cost[remaining], yearly[remaining], money, room, strict) if money > 0 else np.empty(
            0, dtype=np.int64)
        new = remaining[taken]
        keep = np.ones(remaining.size, dtype=bool)
        keep[taken] = False
        remaining = remaining[keep]
        new_spend = float(first_cost[new].sum())
        spent = opex_existing + new_spend
        planned.append((year, new))
        spent_before += spent
        carry = available - spent if np.isfinite(available) else 0.0
        running_opex += float(yearly[new].sum())
        year_rows.append({
            "year": year, "budget_usd": budget, "available_usd": available, "opex_existing_usd": opex_existing,
            "new_schools": int(new.size), "new_students": float(students[new].sum()), "new_spend_usd": new_spend,
            "spent_usd": spent, "unspent_usd": carry, "cumulative_spend_usd": spent_before,
        })
    years_table = pd.DataFrame(year_rows)
    years_table["cumulative_schools"] = years_table["new_schools"].cumsum()
    years_table["cumulative_students"] = years_table["new_students"].cumsum()

    rows = np.concatenate([new for _, new in planned]) if planned else np.empty(0, dtype=np.int64)
    rollout_year = np.concatenate([np.full(new.size, year) for year, new in planned]) if planned else np.empty(0)
    out = pd.DataFrame(index=schools.index[rows])
    for name in _CARRIED:
        if name in schools.columns:
            out[name] = schools[name].to_numpy()[rows]
    out[TECHNOLOGY] = pd.array(technology[rows], dtype="str")
    out[CAPEX] = capex[rows]
    out[OPEX] = opex[rows]
    out[NUM_STUDENTS] = numeric_column(schools, NUM_STUDENTS)[rows]
    out[ROLLOUT_YEAR] = rollout_year.astype(np.int64)
    out[PRIORITY] = np.arange(1, rows.size + 1)
    out[SPEND_IN_YEAR] = first_cost[rows]
    # spend up to a school = everything spent in earlier years + this year's opex of earlier schools
    # + this year's new schools up to and including it
    year_start = years_table.set_index("year")
    before = (year_start["cumulative_spend_usd"] - year_start["spent_usd"] + year_start["opex_existing_usd"])
    within = pd.Series(first_cost[rows]).groupby(rollout_year).cumsum().to_numpy() if rows.size else np.empty(0)
    out[CUMULATIVE_SPEND] = before.reindex(rollout_year).to_numpy() + within
    out[CUMULATIVE_STUDENTS] = np.cumsum(students[rows])
    out[CUMULATIVE_SCHOOLS] = np.arange(1, rows.size + 1)
    if SOURCE_ROW in out.columns:
        out[SOURCE_ROW] = out[SOURCE_ROW].astype("Int64")
    return Rollout(schools=out, years=years_table)


def add_rollout_year(schools: pd.DataFrame, rollout: Rollout) -> pd.DataFrame:
    """``schools`` with ``rollout_year`` from ``rollout`` (empty for schools not in the plan)."""
    out = schools.copy()
    out[ROLLOUT_YEAR] = rollout.schools[ROLLOUT_YEAR].reindex(schools.index).astype("Int64")
    return out
