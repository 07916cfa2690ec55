"""Totals of the costed school table by region (or any column): counts per technology and money.

Every figure is a plain sum of the per-school rows of that group, so the regional totals add up to the national
total exactly; ``(unknown)`` collects schools without a value in the grouping column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectmap.columns import ADMIN1, NUM_STUDENTS
from connectmap.cost.model import CAPEX, COST_STATUS, NPV, OPEX, TCO, TECHNOLOGY
from connectmap.errors import SchemaError
from connectmap.parameters.cost import COST_TECHNOLOGIES

UNKNOWN_GROUP = "(unknown)"
TOTAL_GROUP = "Total"


def summarise(schools: pd.DataFrame, by: str = ADMIN1, *, total: bool = True) -> pd.DataFrame:
    """Sum the costed schools by ``by`` (default ``admin1``).

    Parameters
    ----------
    schools
        Output of :func:`connectmap.cost.add_costs` (shared-fibre totals are added when its columns are present).
    by
        Column to group by; schools without a value go to ``(unknown)``. A missing column gives one national row.
    total
        Append a ``Total`` row (the sum of the other rows).

    Returns
    -------
    DataFrame
        One row per group: ``schools``, ``already_connected``, ``connectable``, ``not_connectable``,
        ``schools_<technology>``, ``students`` and ``students_connectable`` (known counts only), ``capex_usd``,
        ``opex_usd_per_year``, ``npv_usd``, ``tco_usd`` (over connectable schools), and ``npv_usd_shared`` when
        the shared result is present.
    """
    for name in (TECHNOLOGY, COST_STATUS, NPV):
        if name not in schools.columns:
            raise SchemaError(f"<table>, column {name!r}: missing; run connectmap.cost.add_costs first")
    if by in schools.columns:
        group = schools[by].astype("str").where(schools[by].notna(), UNKNOWN_GROUP).to_numpy(dtype=object)
    else:
        group = np.full(len(schools), TOTAL_GROUP if not total else "(all)", dtype=object)
    status = schools[COST_STATUS].astype("str").to_numpy(dtype=object)
    technology = schools[TECHNOLOGY].astype("str").where(schools[TECHNOLOGY].notna(), "").to_numpy(dtype=object)
    students = (
        pd.to_numeric(schools[NUM_STUDENTS], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if NUM_STUDENTS in schools.columns else np.full(len(schools), np.nan)
    )
    connectable = status == "connectable"
    frame = pd.DataFrame({
        "group": group,
        "schools": 1,
        "already_connected": (status == "already_connected").astype(int),
        "connectable": connectable.astype(int),
        "not_connectable": (status == "not_connectable").astype(int),
        **{f"schools_{tech}": (technology == tech).astype(int) for tech in COST_TECHNOLOGIES},
        "students": np.nan_to_num(students),
        "students_connectable": np.where(connectable, np.nan_to_num(students), 0.0),
        **{
            name: np.where(connectable, pd.to_numeric(schools[name]).to_numpy(dtype=np.float64, na_value=0.0), 0.0)
            for name in (CAPEX, OPEX, NPV, TCO)
        },
    })
    if "npv_usd_shared" in schools.columns:
        shared = pd.to_numeric(schools["npv_usd_shared"]).to_numpy(dtype=np.float64, na_value=np.nan)
        frame["npv_usd_shared"] = np.nan_to_num(shared)
    table = frame.groupby("group", sort=True).sum().rename_axis(by).reset_index()
    if total:
        sums = table.drop(columns=[by]).sum()
        table = pd.concat([table, pd.DataFrame([{by: TOTAL_GROUP, **sums.to_dict()}])], ignore_index=True)
    counts = ["schools", "already_connected", "connectable", "not_connectable",
              *(f"schools_{tech}" for tech in COST_TECHNOLOGIES)]
    return table.astype({name: "int64" for name in counts})
