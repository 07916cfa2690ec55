"""The per-school inputs of the cost model, read once from the school table as numpy arrays.

What each technology needs, and where it comes from (any column may be missing; its values are then unknown):

* demand: ``bandwidth_demand_mbps`` (:mod:`connectmap.cost.demand`), from ``num_students``;
* power: ``electricity_availability``;
* fibre: ``fiber_node_distance`` and/or ``fiber_line_distance_km`` (km, from enrichment), chosen by
  ``cost.fibre.distance_to``;
* cellular coverage per radio technology, first found of: ``covered_<TECH>`` (enrichment), Giga's
  ``cellular_coverage_type`` (a school with 4G counts as covered by LTE, UMTS and GSM), or
  ``nearest_<TECH>_distance`` within ``cost.cellular.max_range_km`` (as the Giga model does);
* microwave: ``microwave_distance_km`` and ``microwave_reason`` (:func:`connectmap.cost.add_microwave_options`);
* whether the school is already connected: ``connectivity``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import (
    CONNECTIVITY,
    COVERAGE_TYPE,
    ELECTRICITY,
    GENERATION,
    NUM_STUDENTS,
    TECHNOLOGIES,
    describe,
)
from connectmap.cost.choose import REASONS, Reason, reason_code
from connectmap.cost.demand import BANDWIDTH_DEMAND, bandwidth_demand_mbps
from connectmap.errors import SchemaError, where
from connectmap.parameters.cost import CostParams
from connectmap.table import boolean_column, category_codes, coordinates, numeric_column, text_column

FIBER_NODE_DISTANCE = "fiber_node_distance"
FIBER_LINE_DISTANCE = "fiber_line_distance_km"
MICROWAVE_DISTANCE = describe(
    "microwave_distance_km",
    "Geodesic distance from the school to the fibre-backhauled tower chosen for a microwave link (NaN: none)",
    "km",
)
MICROWAVE_REASON = describe(
    "microwave_reason",
    "Why no microwave link is possible ('' when one is): a connectmap.cost.Reason value",
    "text",
)

_GENERATION_NUMBER = {label.lower(): int(label[0]) for label in GENERATION.values()}
_NO_COVERAGE_LABELS = {"no coverage", "none", "no service", "no_coverage", "nocoverage", "0g"}
_UNKNOWN_LABELS = {"unknown", "", "nan", "none", "<na>"}


def _best_generation(table: pd.DataFrame) -> NDArray[np.float64]:
    """Best generation number (2..5, 0 = no coverage, NaN = unknown) from ``cellular_coverage_type``."""
    labels = pd.Series(text_column(table, COVERAGE_TYPE), index=table.index, dtype=object)
    lowered = labels.fillna("unknown").astype(str).str.strip().str.lower()
    generation = np.array(lowered.map(_GENERATION_NUMBER).to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    generation[lowered.isin(_NO_COVERAGE_LABELS).to_numpy()] = 0.0
    bad = np.isnan(generation) & ~lowered.isin(_UNKNOWN_LABELS).to_numpy()
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"{where(None, column=COVERAGE_TYPE)}: {labels.iloc[position]!r} is not a coverage type; "
            "use 5G, 4G, 3G, 2G, 'no coverage' or leave it empty for unknown"
        )
    return generation


def coverage_by_radio(table: pd.DataFrame, params: CostParams) -> dict[str, NDArray[np.float64]]:
    """Whether each radio technology covers each school: 1.0 yes, 0.0 no, NaN unknown."""
    generation = _best_generation(table) if COVERAGE_TYPE in table.columns else None
    covered: dict[str, NDArray[np.float64]] = {}
    for radio in TECHNOLOGIES:
        column = f"covered_{radio}"
        distance_column = f"nearest_{radio}_distance"
        if column in table.columns:
            covered[radio] = boolean_column(table, column)
        elif generation is not None:
            needed = float(GENERATION[radio][0])
            covered[radio] = np.where(np.isnan(generation), np.nan, (generation >= needed).astype(np.float64))
        elif distance_column in table.columns:
            distance = numeric_column(table, distance_column)
            within = (distance <= params.cellular.max_range_km).astype(np.float64)
            covered[radio] = np.where(np.isnan(distance), np.nan, within)
        else:
            covered[radio] = np.full(len(table), np.nan)
    return covered


def _microwave_codes(table: pd.DataFrame) -> NDArray[np.int8]:
    if MICROWAVE_REASON not in table.columns:
        return np.full(len(table), reason_code(Reason.NO_TOWER_DATA), dtype=np.int8)
    # labels in REASONS order with "" first, so a value's position is its reason code (0: a link is possible)
    labels = ["", *(reason.value for reason in REASONS[1:] if reason is not None)]
    codes = category_codes(table, MICROWAVE_REASON, labels)
    return np.maximum(codes, 0).astype(np.int8)  # missing (-1) means "" as well


@dataclass
class CostInputs:
    """Arrays the technology functions read, one value per school (NaN = unknown)."""

    size: int
    location_known: NDArray[np.bool_]
    students: NDArray[np.float64]
    demand_mbps: NDArray[np.float64]
    has_power: NDArray[np.bool_]
    power_unknown: NDArray[np.bool_]
    connected: NDArray[np.float64]
    fibre_distance_km: NDArray[np.float64]
    covered: dict[str, NDArray[np.float64]]
    microwave_distance_km: NDArray[np.float64]
    microwave_reason: NDArray[np.int8]

    @classmethod
    def from_table(cls, table: pd.DataFrame, params: CostParams) -> CostInputs:
        """Read every input column of ``table``; ``bandwidth_demand_mbps`` is computed when absent."""
        lon, lat = coordinates(table)
        students = numeric_column(table, NUM_STUDENTS)
        if BANDWIDTH_DEMAND in table.columns:
            demand = numeric_column(table, BANDWIDTH_DEMAND)
        else:
            demand, _ = bandwidth_demand_mbps(students, params.demand)
        power = boolean_column(table, ELECTRICITY)
        power_unknown = np.isnan(power)
        has_power = (power == 1.0) | (power_unknown & (not params.electricity.unknown_means_no_power))
        distance_to = params.fibre.distance_to
        node = numeric_column(table, FIBER_NODE_DISTANCE)
        line = numeric_column(table, FIBER_LINE_DISTANCE)
        fibre = {"node": node, "line": line}.get(distance_to)
        if fibre is None:  # "nearest": the nearer of the two; fmin ignores a NaN on one side
            fibre = np.fmin(node, line)
        return cls(
            size=len(table),
            location_known=np.isfinite(lon) & np.isfinite(lat),
            students=students,
            demand_mbps=demand,
            has_power=has_power,
            power_unknown=power_unknown,
            connected=boolean_column(table, CONNECTIVITY),
            fibre_distance_km=fibre,
            covered=coverage_by_radio(table, params),
            microwave_distance_km=numeric_column(table, MICROWAVE_DISTANCE),
            microwave_reason=_microwave_codes(table),
        )
