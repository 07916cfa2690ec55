"""Least-cost choice per school, and why each technology that cannot connect a school cannot.

The chosen technology is the feasible one with the lowest NPV (ties go to the technology listed first in
:data:`connectmap.parameters.cost.COST_TECHNOLOGIES`: fibre, cellular, microwave, satellite). Every technology
that is infeasible for a school gets one :class:`Reason`, the first check it failed, and ``infeasible_reasons``
lists them as ``technology:reason`` pairs joined by ``;``. So every costed school has either a technology or a
reason for each of the four.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from connectmap.cost.cashflow import TechnologyCost
from connectmap.parameters.cost import FinanceParams


class Reason(StrEnum):
    """Why a technology cannot connect a school (the value is what the tables show)."""

    TECHNOLOGY_DISABLED = "technology_disabled"
    """The technology is switched off in the configuration (``cost.<technology>.enabled = false``)."""
    LOCATION_UNKNOWN = "location_unknown"
    """The school has no usable coordinates, so distances to fibre and towers are unknown."""
    NO_FIBRE_DATA = "no_fibre_data"
    """No fibre network was given (or no distance to it), so fibre (or a backhauled tower) cannot be assessed."""
    BEYOND_MAX_FIBRE_DISTANCE = "beyond_max_fibre_distance"
    """The fibre network is farther than ``cost.fibre.max_link_km``."""
    NO_COVERAGE = "no_coverage"
    """No required cellular technology (``cost.cellular.technologies``) covers the school."""
    COVERAGE_UNKNOWN = "coverage_unknown"
    """Whether a required cellular technology covers the school is unknown (no coverage data for it)."""
    NO_TOWER_DATA = "no_tower_data"
    """No tower list was given, so microwave cannot be assessed."""
    NO_FIBRE_BACKHAULED_SITE = "no_fibre_backhauled_site"
    """No tower site is within ``cost.microwave.backhaul_max_fibre_km`` of the fibre network."""
    BEYOND_MAX_MICROWAVE_RANGE = "beyond_max_microwave_range"
    """The nearest fibre-backhauled tower is farther than ``cost.microwave.max_range_km``."""
    NO_LINE_OF_SIGHT = "no_line_of_sight"
    """Terrain blocks 60 % of the first Fresnel zone to every candidate tower in range (DEM check)."""
    DEMAND_EXCEEDS_CAPACITY = "demand_exceeds_capacity"
    """The school's bandwidth demand is more than the technology delivers."""
    NO_ELECTRICITY = "no_electricity"
    """The school has no electricity and solar is not allowed (``cost.electricity.allow_solar = false``)."""


#: Reason codes as stored in arrays: position in this tuple; 0 means feasible.
REASONS: tuple[Reason | None, ...] = (None, *Reason)
_CODE: dict[Reason, int] = {reason: index for index, reason in enumerate(REASONS) if reason is not None}


def reason_code(reason: Reason) -> int:
    """The integer code of a reason in reason arrays."""
    return _CODE[reason]


def first_reason(checks: list[tuple[NDArray[np.bool_], Reason]], size: int) -> NDArray[np.int8]:
    """Code of the first failed check per school (0 where every check passed).

    Parameters
    ----------
    checks
        ``(failed, reason)`` pairs in priority order; ``failed`` is a boolean array.
    size
        Number of schools.
    """
    codes = np.zeros(size, dtype=np.int8)
    for failed, reason in reversed(checks):
        codes = np.where(failed, np.int8(reason_code(reason)), codes)
    return codes


def cheapest(npv: list[NDArray[np.float64]]) -> NDArray[np.int64]:
    """Position of the lowest NPV per school among technologies (NaN = infeasible); -1 where all are NaN.

    Exact ties go to the technology listed first (``argmin`` keeps the first of equal values), i.e. the order of
    :data:`~connectmap.parameters.cost.COST_TECHNOLOGIES`.
    """
    ranked = np.column_stack([np.where(np.isnan(values), np.inf, values) for values in npv])
    chosen = np.argmin(ranked, axis=1)
    best = np.take_along_axis(ranked, chosen[:, None], axis=1)[:, 0]
    return np.where(np.isfinite(best), chosen, -1).astype(np.int64)


def least_cost(costs: list[TechnologyCost], finance: FinanceParams) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Index of the cheapest feasible technology per school (by NPV) and the NPV matrix.

    Returns
    -------
    chosen, npv
        ``chosen[i]`` is the position in ``costs`` of the technology with the lowest NPV for school ``i`` (-1
        where none is feasible); ``npv`` has shape ``(schools, technologies)`` with NaN where infeasible.
    """
    npv = [cost.npv_usd(finance) for cost in costs]
    return cheapest(npv), np.column_stack(npv)


def reason_combinations(costs: list[TechnologyCost]) -> tuple[NDArray[np.int64], list[str]]:
    """``infeasible_reasons`` as codes into a list of texts (one per distinct combination of reasons).

    Each text is the ``technology:reason`` pairs of the infeasible technologies joined by ``;`` ("" when all are
    feasible). Built once per combination, so a million schools cost the same as ten.
    """
    size = len(costs[0].feasible) if costs else 0
    base = len(REASONS)
    key = np.zeros(size, dtype=np.int64)
    for cost in costs:
        key = key * base + cost.reason.astype(np.int64)
    if base ** len(costs) <= 10_000_000:  # a lookup table beats sorting a million keys
        present = np.zeros(base ** len(costs), dtype=bool)
        present[key] = True
        unique = np.flatnonzero(present)
        position = np.cumsum(present) - 1
        inverse = position[key]
    else:
        unique, inverse = np.unique(key, return_inverse=True)
    texts = []
    for combined in unique.tolist():
        codes = []
        for _ in costs:
            codes.append(combined % base)
            combined //= base
        pairs = zip(costs, reversed(codes), strict=True)
        parts = [f"{cost.technology}:{REASONS[code]}" for cost, code in pairs if code]
        texts.append(";".join(parts))
    return inverse.ravel().astype(np.int64), texts
