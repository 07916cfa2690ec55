"""Bandwidth each school needs.

``bandwidth_demand_mbps = max(floor_mbps, per_student_mbps x num_students)`` (by default 20 Mbps and 50 kbps per
student, the ITU/UNICEF school-connectivity target). A school whose student count is unknown (missing, or
negative) gets the floor and the quality flag ``students_unknown``, so nobody mistakes the floor for a measured
need.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import NUM_STUDENTS, describe
from connectmap.parameters.cost import CostParams, DemandParams
from connectmap.quality import append_flag, flag_code
from connectmap.table import numeric_column

BANDWIDTH_DEMAND = describe(
    "bandwidth_demand_mbps",
    "Bandwidth the school needs: max(cost.demand.floor_mbps, cost.demand.per_student_mbps x num_students)",
    "Mbps",
)
STUDENTS_UNKNOWN = flag_code(
    "students_unknown",
    "Student count unknown: bandwidth demand is the floor (cost.demand.floor_mbps) and cost per student is empty",
)


def bandwidth_demand_mbps(
    num_students: NDArray[np.float64], params: DemandParams | None = None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Bandwidth demand per school and which schools had no usable student count.

    Parameters
    ----------
    num_students
        Students per school (NaN or negative = unknown).
    params
        Demand parameters (defaults when ``None``).

    Returns
    -------
    demand_mbps, students_unknown
        ``max(floor_mbps, per_student_mbps x num_students)`` in Mbps (the floor where unknown), and the mask of
        schools whose count was unknown.

    Examples
    --------
    >>> demand, unknown = bandwidth_demand_mbps(np.array([100.0, 1000.0, np.nan]))
    >>> demand.tolist(), unknown.tolist()
    ([20.0, 50.0, 20.0], [False, False, True])
    """
    params = params or DemandParams()
    students = np.asarray(num_students, dtype=np.float64)
    unknown = ~(students >= 0)  # NaN compares false, so NaN and negatives are unknown
    per_student = np.where(unknown, 0.0, students) * params.per_student_mbps
    return np.maximum(params.floor_mbps, per_student), unknown


def add_demand(schools: pd.DataFrame, params: CostParams | None = None) -> pd.DataFrame:
    """Return ``schools`` with ``bandwidth_demand_mbps`` and the ``students_unknown`` flag.

    Parameters
    ----------
    schools
        The school table; ``num_students`` may be missing (every school then gets the floor and the flag).
    params
        Cost parameters (defaults when ``None``).
    """
    params = params or CostParams()
    out = schools.copy()
    students = numeric_column(out, NUM_STUDENTS)
    demand, unknown = bandwidth_demand_mbps(students, params.demand)
    out[BANDWIDTH_DEMAND] = demand
    append_flag(out, unknown, STUDENTS_UNKNOWN)
    return out
