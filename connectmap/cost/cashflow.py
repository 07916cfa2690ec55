"""Yearly cash flows of connecting each school, their net present value (NPV) and total cost of ownership (TCO).

The timeline, the same for every technology:

* **year 0**: every capital item is bought (``capex``);
* **years 1 .. H** (``H = cost.finance.horizon_years``): the yearly operating cost (``opex``) is paid;
* **refresh**: with ``cost.finance.refresh_equipment`` on, a capital item with lifetime ``L`` is bought again in
  years ``L, 2L, ...`` while they are before ``H`` (so it is bought ``n(L) = ceil(H / L)`` times); items without a
  lifetime (a one-time licence) are bought once. Nothing is credited for equipment still working after year ``H``.

With the discount rate ``r = cost.finance.discount_rate_pct / 100``::

    AF     = sum over t = 1..H of (1 + r)^-t            (annuity factor; = H when r = 0)
    RF(L)  = sum over k = 0..n(L)-1 of (1 + r)^-(k L)   (refresh factor; = 1 without refresh)
    NPV    = sum over capital items of capex_item x RF(L_item)  +  opex x AF
    TCO    = sum over capital items of capex_item x n(L_item)   +  opex x H

So at a 0 % discount rate without refresh, ``NPV = TCO = capex + opex x H``, the Giga open cost model's total
(``capex + opex x years``). Unlike ITU CPP, capital is not spread evenly over the years: it is paid when bought.

Each item is on the *provider* side (network built for the school: fibre cable, tower radio, licences) or the
*school* side (equipment at the school, bandwidth, electricity), as in the Giga model's cost attribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from connectmap.parameters.cost import FinanceParams

Side = Literal["provider", "school"]


@dataclass(frozen=True)
class CapexItem:
    """One capital item of a technology, for every school.

    Attributes
    ----------
    name
        What is bought (``"cable"``, ``"school_equipment"``, ``"solar"``...).
    side
        ``"provider"`` or ``"school"``.
    lifetime_years
        Years before it is bought again; ``None`` for a one-off payment (never refreshed).
    usd
        Price per school in USD (0 where the item does not apply), or one number for every school.
    """

    name: str
    side: Side
    lifetime_years: int | None
    usd: NDArray[np.float64] | float


@dataclass(frozen=True)
class OpexItem:
    """One yearly operating cost of a technology, for every school (USD/year, paid in years 1..H; an array, or one
    number for every school)."""

    name: str
    side: Side
    usd_per_year: NDArray[np.float64] | float


@dataclass
class TechnologyCost:
    """Feasibility and cost items of one technology for every school.

    Attributes
    ----------
    technology
        ``"fibre"``, ``"cellular"``, ``"microwave"`` or ``"satellite"``.
    feasible
        Whether the technology can connect the school.
    reason
        :class:`connectmap.cost.choose.Reason` code (its position in ``REASONS``) where infeasible, 0 where feasible.
    capex_items, opex_items
        The cost items; their values are meaningful where ``feasible`` only.
    """

    technology: str
    feasible: NDArray[np.bool_]
    reason: NDArray[np.int8]
    capex_items: list[CapexItem] = field(default_factory=list)
    opex_items: list[OpexItem] = field(default_factory=list)

    def _mask(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(self.feasible, values, np.nan)

    def capex_usd(self, side: Side | None = None) -> NDArray[np.float64]:
        """Year-0 capital cost (USD), NaN where infeasible."""
        total = np.zeros(len(self.feasible))
        for item in self.capex_items:
            if side is None or item.side == side:
                total = total + item.usd
        return self._mask(total)

    def opex_usd_per_year(self, side: Side | None = None) -> NDArray[np.float64]:
        """Yearly operating cost (USD/year), NaN where infeasible."""
        total = np.zeros(len(self.feasible))
        for item in self.opex_items:
            if side is None or item.side == side:
                total = total + item.usd_per_year
        return self._mask(total)

    def npv_usd(self, finance: FinanceParams, side: Side | None = None) -> NDArray[np.float64]:
        """Net present value of all costs over the horizon (USD), NaN where infeasible."""
        total = np.zeros(len(self.feasible))
        for item in self.capex_items:
            if side is None or item.side == side:
                total = total + item.usd * refresh_factor(item.lifetime_years, finance)
        return self._mask(total) + self.opex_usd_per_year(side) * annuity_factor(finance)

    def tco_usd(self, finance: FinanceParams, side: Side | None = None) -> NDArray[np.float64]:
        """Undiscounted total cost of ownership over the horizon (USD), NaN where infeasible."""
        total = np.zeros(len(self.feasible))
        for item in self.capex_items:
            if side is None or item.side == side:
                total = total + item.usd * purchases(item.lifetime_years, finance)
        return self._mask(total) + self.opex_usd_per_year(side) * finance.horizon_years

    def totals(self, finance: FinanceParams, *, masked: bool = True) -> dict[str, NDArray[np.float64]]:
        """Every total in one pass over the items, NaN where infeasible (unless ``masked`` is false).

        Keys: ``capex_usd``, ``opex_usd_per_year``, ``npv_usd``, ``tco_usd`` and each of the first three with
        ``_provider`` and ``_school``.
        """
        size = len(self.feasible)
        # Items priced the same for every school are summed as numbers and added to the arrays once at the end:
        # for a million schools that saves a full pass over memory per item.
        arrays: dict[str, NDArray[np.float64]] = {}
        numbers: dict[str, float] = {}

        def add(key: str, value: NDArray[np.float64] | float, factor: float = 1.0) -> None:
            if np.ndim(value) == 0:
                numbers[key] = numbers.get(key, 0.0) + float(value) * factor
            elif key in arrays:
                arrays[key] += value * factor if factor != 1.0 else value
            else:
                arrays[key] = np.array(value, dtype=np.float64) * factor if factor != 1.0 else np.array(
                    value, dtype=np.float64)

        def total(key: str) -> NDArray[np.float64]:
            base = arrays[key] if key in arrays else np.zeros(size)
            return base + numbers[key] if key in numbers else base

        for item in self.capex_items:
            add(f"capex_{item.side}", item.usd)
            add(f"npv_capex_{item.side}", item.usd, refresh_factor(item.lifetime_years, finance))
            add(f"tco_capex_{item.side}", item.usd, float(purchases(item.lifetime_years, finance)))
        for item in self.opex_items:
            add(f"opex_{item.side}", item.usd_per_year)
        factor = annuity_factor(finance)
        out: dict[str, NDArray[np.float64]] = {}
        for side in ("provider", "school"):
            out[f"capex_usd_{side}"] = total(f"capex_{side}")
            out[f"opex_usd_per_year_{side}"] = total(f"opex_{side}")
            out[f"npv_usd_{side}"] = total(f"npv_capex_{side}") + out[f"opex_usd_per_year_{side}"] * factor
        out["capex_usd"] = out["capex_usd_provider"] + out["capex_usd_school"]
        out["opex_usd_per_year"] = out["opex_usd_per_year_provider"] + out["opex_usd_per_year_school"]
        out["npv_usd"] = out["npv_usd_provider"] + out["npv_usd_school"]
        out["tco_usd"] = (total("tco_capex_provider") + total("tco_capex_school")
                          + out["opex_usd_per_year"] * finance.horizon_years)
        return {key: self._mask(value) for key, value in out.items()} if masked else out

    def yearly_usd(self, finance: FinanceParams, side: Side | None = None) -> NDArray[np.float64]:
        """Undiscounted cash flow per school and year, shape ``(schools, H + 1)``; column ``t`` is year ``t``."""
        horizon = finance.horizon_years
        flows = np.zeros((len(self.feasible), horizon + 1))
        for item in self.capex_items:
            if side is None or item.side == side:
                for year in purchase_years(item.lifetime_years, finance):
                    flows[:, year] += item.usd
        flows[:, 1:] += self.opex_usd_per_year(side)[:, None]
        flows[~self.feasible] = np.nan
        return flows


def discount_rate(finance: FinanceParams) -> float:
    """The discount rate as a fraction."""
    return finance.discount_rate_pct / 100.0


def annuity_factor(finance: FinanceParams) -> float:
    """``AF = sum_{t=1..H} (1 + r)^-t``: present value of 1 USD paid at the end of each year 1..H."""
    years = np.arange(1, finance.horizon_years + 1)
    return float(np.sum((1.0 + discount_rate(finance)) ** -years.astype(np.float64)))


def purchases(lifetime_years: int | None, finance: FinanceParams) -> int:
    """How many times an item is bought over the horizon: ``ceil(H / L)`` with refresh, else 1."""
    if lifetime_years is None or not finance.refresh_equipment:
        return 1
    return max(1, math.ceil(finance.horizon_years / lifetime_years))


def purchase_years(lifetime_years: int | None, finance: FinanceParams) -> list[int]:
    """Years in which an item is bought: ``0, L, 2L, ...`` before the horizon ends."""
    if lifetime_years is None:
        return [0]
    return [k * lifetime_years for k in range(purchases(lifetime_years, finance))]


def refresh_factor(lifetime_years: int | None, finance: FinanceParams) -> float:
    """``RF(L) = sum_{k=0..n(L)-1} (1 + r)^-(k L)``: present value of buying an item of 1 USD as often as needed."""
    years = np.asarray(purchase_years(lifetime_years, finance), dtype=np.float64)
    return float(np.sum((1.0 + discount_rate(finance)) ** -years))
