"""The operator investment case: what connecting schools and zero-rating learning content means for each mobile
operator, and what the package costs the ministry.

Two steps:

* :func:`add_new_sites` plans new sites for schools no operator covers today. Sites are placed at schools so that
  every uncovered school is within ``zerorating.case.new_site_radius_km`` (geodesic) of one, biggest schools first:
  a greedy maximal independent set on the graph of uncovered schools closer than the radius (computed in rounds
  over all schools at once, which gives the same sites as placing them one by one in order of enrolment). Each
  school joins its nearest site. The operator with an existing site nearest to the new site builds it (or the one
  named in ``new_site_operator``).
* :func:`investment_case` evaluates the per-school formulas (zero-rating from :mod:`connectmap.zerorating`, then
  lines and new sites below) and sums them per operator, per region and per year.

Per school (the workbook writes these as formulas, see :func:`case_formulas`)::

    line_mbps            = line x bandwidth_demand_mbps x zero_rated_share
    line_usd_per_year    = line_mbps x connection_price_usd_per_mbps_per_year       (the ministry pays)
    students_connected   = line x students_used x zero_rated_share
    new_site_capex_usd   = new_site_lead x (equipment + civil works + backhaul)
    new_site_opex_usd    = new_site_lead x ((equipment + backhaul) x maintenance % + rental + power)
    new_site_revenue_usd = new_site_lead x new_site_population x subscriber share x ARPU x 12

Per operator k, with its shares ``share_k`` (sums over schools)::

    line_mbps_k        = sum(line x bandwidth x share_k);  line revenue = x price;  line cost = x line cost
    zero_rating_gb_k   = sum(learning_gb x share_k) x (1 - off-ministry share)
    zero_rating cost_k = zero_rating_gb_k x (network cost + forgone share x retail price);  in kind = x retail price
    new sites_k        = the sites operator k builds: their capex, opex and subscriber revenue

Yearly cash flows over ``horizon_years`` (year 0 = new-site capex net of the ministry's subsidy; years 1..H the
yearly flows, zero-rating growing by the traffic growth), the operator's NPV at its discount rate and the payback
year (first year whose cumulative cash flow is >= 0); the ministry's present cost of the package (line payments and
new-site subsidy) and of the in-kind value it receives, at the ministry's discount rate.

Every operator figure that adds up (money, GB, share-weighted schools and students) sums over operators to the
national figure, and over regions too: shares of a school sum to its ``zero_rated_share``. Footprint counts
(schools an operator covers) overlap between operators and do not add up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import ADMIN1, CONNECTIVITY, COVERAGE_AVAILABILITY, NUM_STUDENTS, TECHNOLOGIES, describe
from connectmap.enrich.towers import nearest_distance_column
from connectmap.errors import ConfigError
from connectmap.formulas import Col, FormulaTable, Name
from connectmap.geodesy import PointIndex
from connectmap.parameters.zerorating import ZeroRatingParams
from connectmap.table import boolean_column, coordinates, numeric_column, replace_columns, text_column
from connectmap.zerorating import (
    LEARNING_GB,
    NEW_SITE,
    NEW_SITE_OPERATOR,
    NEW_SITE_OPERATOR_NO,
    SERVING_COUNT,
    STUDENTS_USED,
    ZERO_RATED_SHARE,
    ZERO_RATING_EXCLUDED_GB,
    ZERO_RATING_GB,
    ZERO_RATING_IN_KIND,
    ZERO_RATING_USD,
    OperatorInputs,
    assumption_values,
    case_name,
    coverage_by_operator,
    covers_column,
    operator_names,
    param_name,
    school_inputs,
    share_column,
    zero_rating_formulas,
)

log = logging.getLogger(__name__)

__all__ = [
    "CASH_FLOW_ITEMS", "OPERATOR_METRICS", "InvestmentCase", "add_new_sites", "case_formulas", "investment_case",
]

#: Most years of a case (the workbook's cash-flow columns are years 0..MAX_YEARS).
MAX_YEARS = 30
ALL_OPERATORS = "All operators"
NO_REGION = "(no region)"

# --- columns add_new_sites adds -----------------------------------------------------------------------------------
NEW_SITE_ID = describe("new_site_id", "Planned new site that will cover the school (empty: none)", "text")
NEW_SITE_LEAD = describe("new_site_lead", "The planned new site stands at this school (1/0)", "flag")
NEW_SITE_DISTANCE = describe(
    "new_site_distance_km", "Geodesic distance from the school to its planned new site (0 at the site)", "km"
)
NEW_SITE_POPULATION = describe(
    "new_site_population", "People within the new site's radius (pop_within_<R>km at the site's school)", "people"
)
NEW_SITE_COLUMNS = (NEW_SITE, NEW_SITE_ID, NEW_SITE_LEAD, NEW_SITE_DISTANCE, NEW_SITE_OPERATOR, NEW_SITE_POPULATION)

# --- inputs and outputs of the case formulas --------------------------------------------------------------------------
LINE = describe(
    "line", "The school gets a line from the operators serving it (not connected; cellular or new site) (1/0)", "flag"
)
BANDWIDTH = "bandwidth_demand_mbps"
LINE_MBPS = describe("line_mbps", "Bandwidth of the school's line in the package (0: no line)", "Mbps")
LINE_USD = describe(
    "line_usd_per_year", "Yearly price of the school's line the ministry pays the operator(s)", "USD/year"
)
STUDENTS_CONNECTED = describe(
    "students_connected", "Students at the school if it gets a line in the package", "students"
)
NEW_SITE_CAPEX = describe("new_site_capex_usd", "Capital cost of the new site standing at this school", "USD")
NEW_SITE_OPEX = describe(
    "new_site_opex_usd_per_year", "Yearly operating cost of the new site standing at this school", "USD/year"
)
NEW_SITE_REVENUE = describe(
    "new_site_revenue_usd_per_year", "Yearly subscriber revenue of the new site standing at this school", "USD/year"
)

#: Metrics of each operator (and of all operators), in the workbook's column order: name -> (unit, meaning, additive).
OPERATOR_METRICS: dict[str, tuple[str, str, bool]] = {
    "schools_in_footprint": ("schools", "Schools the operator covers now (overlaps between operators)", False),
    "schools_served": ("schools", "Schools served, share-weighted (a school shared by two counts 0.5 each)", True),
    "students_served": ("students", "Students at the schools served, share-weighted", True),
    "lines": ("lines", "School lines in the package, share-weighted", True),
    "line_mbps": ("Mbps", "Bandwidth of the lines", True),
    "students_connected": ("students", "Students at schools getting a line, share-weighted", True),
    "line_revenue_usd_per_year": ("USD/year", "Line payments from the ministry", True),
    "line_cost_usd_per_year": ("USD/year", "The operator's cost of providing the lines", True),
    "zero_rating_gb_per_year": ("GB/year", "Zero-rated traffic, first year", True),
    "zero_rating_excluded_gb_per_year": ("GB/year", "Learning traffic from third-party hosts, not zero-rated", True),
    "zero_rating_cost_usd_per_year": ("USD/year", "Network cost and forgone revenue of zero-rating, first year", True),
    "zero_rating_in_kind_usd_per_year": ("USD/year", "Zero-rated traffic at the retail price, first year", True),
    "new_sites": ("sites", "New sites the operator builds", True),
    "new_site_schools": ("schools", "Schools the new sites cover", True),
    "new_site_capex_usd": ("USD", "Capital cost of the new sites (year 0)", True),
    "new_site_opex_usd_per_year": ("USD/year", "Operating cost of the new sites", True),
    "new_site_revenue_usd_per_year": ("USD/year", "Subscriber revenue of the new sites", True),
    "operator_npv_usd": ("USD", "Operator's net present value of the package at its discount rate", True),
    "payback_year": ("year", "First year whose cumulative cash flow is >= 0 (empty: not within the horizon)", False),
    "ministry_package_pv_usd": ("USD", "Present cost to the ministry: line payments and new-site subsidy", True),
    "ministry_in_kind_pv_usd": ("USD", "Present value of the zero-rating the ministry receives in kind", True),
    "ministry_usd_per_student_connected_per_year": (
        "USD/student/year", "Yearly line payments divided by students connected", False),
}

#: Rows of each operator's yearly cash flow, in the workbook's order: name -> meaning.
CASH_FLOW_ITEMS: dict[str, str] = {
    "new_site_capex": "New-site capital cost, net of the ministry's subsidy (year 0)",
    "lines_net": "Line revenue minus line cost",
    "new_sites_net": "New-site subscriber revenue minus operating cost",
    "zero_rating": "Zero-rating cost (growing with traffic)",
    "net": "Operator's net cash flow",
    "cumulative": "Operator's cumulative net cash flow",
    "ministry_payments": "Ministry's payments: new-site subsidy (year 0) and line payments",
    "ministry_in_kind": "Zero-rating value received in kind (retail price)",
}


# --- new sites ------------------------------------------------------------------------------------------------------
def _greedy_sites(n: int, i: NDArray[np.int64], j: NDArray[np.int64], rank: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Greedy maximal independent set by ``rank`` (0 = first choice), in parallel rounds.

    A point joins when it outranks every undecided neighbour; neighbours of joined points drop out. The result is
    the set sequential greedy in rank order would pick; each round settles at least the best undecided point.
    """
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 site, 2 covered by a site
    a = np.concatenate([i, j])
    b = np.concatenate([j, i])
    while (state == 0).any():
        undecided = state == 0
        live = undecided[a] & undecided[b]
        best_neighbour = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(best_neighbour, a[live], rank[b[live]])
        joins = undecided & (rank < best_neighbour)
        state[joins] = 1
        drop = joins[a] & (state[b] == 0)
        state[b[drop]] = 2
    return state == 1


def _nearest_operator(schools: pd.DataFrame, rows: NDArray[np.int64], names: list[str]) -> NDArray[np.object_]:
    """Operator with the nearest existing site (any technology) to each of ``rows``; None where no operator has a
    ``nearest_<TECH>_distance__<operator>`` value (ties go to the first operator in ``names``)."""
    best_km = np.full(rows.size, np.inf)
    best = np.full(rows.size, None, dtype=object)
    for name in names:
        distance = np.full(rows.size, np.inf)
        for tech in TECHNOLOGIES:
            column = nearest_distance_column(tech, name)
            if column in schools.columns:
                values = numeric_column(schools, column)[rows]
                distance = np.fmin(distance, np.where(np.isfinite(values), values, np.inf))
        nearer = distance < best_km
        best_km[nearer] = distance[nearer]
        best[nearer] = name
    return best


def _population_column(schools: pd.DataFrame, radius_km: float) -> str | None:
    """The ``pop_within_<R>km`` column with the largest R not above ``radius_km``."""
    candidates = []
    for column in schools.columns:
        match = re.fullmatch(r"pop_within_(\d+(?:\.\d+)?)km", str(column))
        if match and float(match.group(1)) <= radius_km:
            candidates.append((float(match.group(1)), str(column)))
    return max(candidates)[1] if candidates else None


def add_new_sites(schools: pd.DataFrame, params: ZeroRatingParams | None = None) -> pd.DataFrame:
    """Return ``schools`` with the new sites that would cover the schools no operator covers today.

    Parameters
    ----------
    schools
        The school table with ``covering_operators`` and point geometry (or ``latitude``/``longitude``). Optional:
        ``num_students`` (bigger schools get the sites first), ``nearest_<TECH>_distance__<operator>`` (who builds),
        ``pop_within_<R>km`` (subscriber revenue).
    params
        Zero-rating parameters; the case section ``params.case`` is used (defaults when ``None``).

    Returns
    -------
    pandas.DataFrame
        The table with :data:`NEW_SITE_COLUMNS`: ``new_site`` (bool), ``new_site_id`` (text, "" none),
        ``new_site_lead`` (bool), ``new_site_distance_km`` (km, NaN none), ``new_site_operator`` (text, "" none),
        ``new_site_population`` (people, on the site's school; NaN elsewhere).

    Raises
    ------
    SchemaError
        When ``covering_operators`` is missing.
    ConfigError
        When ``new_site_operator`` names an operator that is not in the table.
    """
    params = params or ZeroRatingParams()
    case = params.case
    n = len(schools)
    names = operator_names(schools)
    coverage = coverage_by_operator(schools, names)
    uncovered = coverage.known & ~coverage.covers.any(axis=1)
    if COVERAGE_AVAILABILITY in schools.columns:
        # Covered by a network whose operator is unknown: not a place for a new site.
        uncovered &= boolean_column(schools, COVERAGE_AVAILABILITY) != 1.0
    lon, lat = coordinates(schools)
    candidates = np.flatnonzero(uncovered & np.isfinite(lon) & np.isfinite(lat))
    site_of = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.nan)
    is_site = np.zeros(n, dtype=bool)
    if candidates.size:
        index = PointIndex(lon[candidates], lat[candidates])
        i, j, d = index.pairs_within(case.new_site_radius_km)
        students = np.nan_to_num(numeric_column(schools, NUM_STUDENTS)[candidates], nan=-1.0)
        order = np.lexsort((np.arange(candidates.size), -students))
        rank = np.empty(candidates.size, dtype=np.int64)
        rank[order] = np.arange(candidates.size)
        chosen = _greedy_sites(candidates.size, i, j, rank)
        own = np.where(chosen, np.arange(candidates.size), -1)
        own_distance = np.where(chosen, 0.0, np.nan)
        # Every other candidate has a site within the radius (the set is maximal): join the nearest.
        a = np.concatenate([i, j])
        b = np.concatenate([j, i])
        dd = np.concatenate([d, d])
        link = ~chosen[a] & chosen[b]
        a, b, dd = a[link], b[link], dd[link]
        order = np.lexsort((rank[b], dd, a))
        first = np.r_[True, a[order][1:] != a[order][:-1]] if order.size else np.zeros(0, dtype=bool)
        own[a[order][first]] = b[order][first]
        own_distance[a[order][first]] = dd[order][first]
        site_of[candidates] = candidates[own]
        distance[candidates] = own_distance
        is_site[candidates[chosen]] = True
    site_rows = np.flatnonzero(is_site)
    site_ids = np.full(n, "", dtype=object)
    if site_rows.size:
        labels = np.array([f"site-{k:05d}" for k in range(1, site_rows.size + 1)], dtype=object)
        lookup = np.full(n, -1, dtype=np.int64)
        lookup[site_rows] = np.arange(site_rows.size)
        has = site_of >= 0
        site_ids[has] = labels[lookup[site_of[has]]]
    builder = _builders(schools, site_rows, names, coverage, params)
    operator = np.full(n, "", dtype=object)
    if site_rows.size:
        lookup_builder = dict(zip(site_rows.tolist(), builder.tolist(), strict=True))
        has = site_of >= 0
        operator[has] = [lookup_builder[s] for s in site_of[has].tolist()]
    population = np.full(n, np.nan)
    pop_column = _population_column(schools, case.new_site_radius_km)
    if pop_column is None and site_rows.size:
        log.warning(
            "no pop_within_<R>km column with R <= %g km: new sites get no subscriber revenue; "
            "run `connectmap enrich` with a population raster", case.new_site_radius_km,
        )
    if site_rows.size:
        values = numeric_column(schools, pop_column) if pop_column else np.zeros(n)
        population[site_rows] = np.nan_to_num(values[site_rows], nan=0.0)
    log.info("new sites: %d site(s) for %d uncovered school(s)", site_rows.size, int((site_of >= 0).sum()))
    return replace_columns(schools, {
        NEW_SITE: site_of >= 0,
        NEW_SITE_ID: pd.array(site_ids, dtype="string"),
        NEW_SITE_LEAD: is_site,
        NEW_SITE_DISTANCE: distance,
        NEW_SITE_OPERATOR: pd.array(operator, dtype="string"),
        NEW_SITE_POPULATION: population,
    })


def _builders(
    schools: pd.DataFrame, site_rows: NDArray[np.int64], names: list[str], coverage: OperatorInputs,
    params: ZeroRatingParams,
) -> NDArray[np.object_]:
    """The operator building each new site."""
    case = params.case
    if params.split == "operator":
        return np.full(site_rows.size, params.named_operator.strip(), dtype=object)
    if case.new_site_operator != "nearest":
        chosen = case.new_site_operator.strip()
        if chosen not in names:
            raise ConfigError(
                f"zerorating.case.new_site_operator = {chosen!r} is not an operator in covering_operators "
                f"({', '.join(names) or 'none found'}); use one of them or 'nearest'"
            )
        return np.full(site_rows.size, chosen, dtype=object)
    if not names:
        if site_rows.size:
            log.warning("no operator covers any school: new sites have no builder and stay out of the case")
        return np.full(site_rows.size, "", dtype=object)
    footprint = coverage.covers.sum(axis=0)
    largest = names[int(np.argmax(footprint))]  # argmax takes the first (alphabetical) among ties
    nearest = _nearest_operator(schools, site_rows, names)
    missing = np.array([x is None for x in nearest], dtype=bool)
    if missing.any():
        log.info(
            "new sites: %d site(s) without per-operator tower distances go to %s, the operator covering most schools",
            int(missing.sum()), largest,
        )
        nearest[missing] = largest
    return nearest


# --- the case ---------------------------------------------------------------------------------------------------------
def case_formulas() -> FormulaTable:
    """Per-school formulas of lines and new sites (after :func:`connectmap.zerorating.zero_rating_formulas`).

    Input columns: ``line``, ``bandwidth_demand_mbps``, ``new_site_lead``, ``new_site_population``.
    """
    c = case_name
    table = FormulaTable()
    served = Col(ZERO_RATED_SHARE)
    line_mbps = table.add(LINE_MBPS, Col(LINE) * Col(BANDWIDTH) * served, "Mbps")
    table.add(LINE_USD, line_mbps * Name(c("connection_price_usd_per_mbps_per_year")), "USD/year")
    table.add(STUDENTS_CONNECTED, Col(LINE) * Col(STUDENTS_USED) * served, "students")
    lead = Col(NEW_SITE_LEAD)
    equipment = Name(c("new_site_equipment_usd"))
    backhaul = Name(c("new_site_backhaul_usd"))
    table.add(NEW_SITE_CAPEX, lead * (equipment + Name(c("new_site_civil_works_usd")) + backhaul), "USD")
    table.add(
        NEW_SITE_OPEX,
        lead * ((equipment + backhaul) * Name(c("new_site_maintenance_pct_per_year")) / 100
                + Name(c("new_site_rental_usd_per_year")) + Name(c("new_site_power_usd_per_year"))),
        "USD/year",
    )
    table.add(
        NEW_SITE_REVENUE,
        lead * Col(NEW_SITE_POPULATION) * Name(c("subscriber_share_pct")) / 100 * Name(c("arpu_usd_per_month")) * 12,
        "USD/year",
    )
    return table


def full_formulas(n_operators: int) -> FormulaTable:
    """Every per-school formula of the case: zero-rating, then lines and new sites."""
    table = zero_rating_formulas(n_operators)
    table.extend(case_formulas())
    return table


@dataclass
class InvestmentCase:
    """The investment case for every operator, computed; the workbook writes it with live formulas.

    Attributes
    ----------
    params
        The parameters used.
    operators
        Operator names; operator number k is ``operators[k - 1]``.
    schools
        The school table (rows in workbook order).
    inputs
        The formula input columns (float arrays, NaN = blank), written as values.
    formulas
        The per-school formulas.
    values
        The per-school formula results (float arrays).
    assumptions
        Value of every defined name.
    region_labels, region_no
        Region names (admin1; ``"(no region)"`` for schools without one) and each school's region number (1-based).
    by_operator
        One row per operator plus ``"All operators"``, columns :data:`OPERATOR_METRICS`.
    by_region
        One row per region: schools, students and the additive per-school figures.
    cash_flows
        Per operator (and ``"All operators"``): a table of :data:`CASH_FLOW_ITEMS` rows by year 0..MAX_YEARS.
    coverage_known
        Whether each school's coverage is known.
    """

    params: ZeroRatingParams
    operators: list[str]
    schools: pd.DataFrame
    inputs: dict[str, NDArray[np.float64]]
    formulas: FormulaTable
    values: dict[str, NDArray[np.float64]]
    assumptions: dict[str, float | str]
    region_labels: list[str]
    region_no: NDArray[np.int64]
    by_operator: pd.DataFrame
    by_region: pd.DataFrame
    cash_flows: dict[str, pd.DataFrame]
    coverage_known: NDArray[np.bool_]
    notes: list[str] = field(default_factory=list)

    def schools_of(self, operator: str) -> NDArray[np.bool_]:
        """Schools the operator covers now or will cover with a new site it builds."""
        k = self.operators.index(operator) + 1
        return (self.inputs[covers_column(k)] > 0) | (self.values[NEW_SITE_OPERATOR_NO] == k)

    def for_operator(self, operator: str) -> InvestmentCase:
        """The case restricted to one operator's schools (same operators, assumptions and numbering)."""
        keep = self.schools_of(operator)
        subset = self.schools.iloc[np.flatnonzero(keep)]
        return _build_case(
            subset, self.params, self.operators, float(self.assumptions[param_name("students_if_unknown")]),
            self.region_labels,
        )


def _line_flags(schools: pd.DataFrame, params: ZeroRatingParams, new_site: NDArray[np.float64]) -> NDArray:
    connected = boolean_column(schools, CONNECTIVITY) == 1.0
    if params.case.lines_for == "unconnected":
        wanted = np.ones(len(schools), dtype=bool)
    else:
        technology = text_column(schools, "technology")
        if "technology" not in schools.columns:
            log.warning(
                "no technology column (cost model not run): only schools a new site covers get lines; run "
                "`connectmap cost` first or set zerorating.case.lines_for = 'unconnected'"
            )
        wanted = np.array([t == "cellular" for t in technology], dtype=bool) if len(technology) else np.zeros(0, bool)
    return (~connected & (wanted | (new_site > 0))).astype(np.float64)


def _bandwidth(schools: pd.DataFrame) -> NDArray[np.float64]:
    if BANDWIDTH in schools.columns:
        return np.nan_to_num(numeric_column(schools, BANDWIDTH), nan=0.0)
    from connectmap.cost import bandwidth_demand_mbps

    log.info("no bandwidth_demand_mbps column: using the cost model's default demand (max(20 Mbps, 50 kbps/student))")
    demand, _ = bandwidth_demand_mbps(numeric_column(schools, NUM_STUDENTS))
    return demand


def _regions(schools: pd.DataFrame, labels: list[str] | None) -> tuple[list[str], NDArray[np.int64]]:
    if ADMIN1 in schools.columns:
        names = schools[ADMIN1].astype("string").str.strip().fillna("").replace("", NO_REGION)
    else:
        names = pd.Series(NO_REGION, index=schools.index, dtype="string")
    if labels is None:
        found = sorted(set(names.dropna()) - {NO_REGION})
        labels = [*found, NO_REGION] if (names == NO_REGION).any() else found
    number = {label: k for k, label in enumerate(labels, start=1)}
    return labels, names.map(number).fillna(0).to_numpy(dtype=np.int64)


def _metrics(
    shares: NDArray[np.float64] | None, inputs: dict[str, NDArray[np.float64]], values: dict[str, NDArray[np.float64]],
    names: dict[str, float | str], k: int | None,
) -> dict[str, float]:
    """The yearly (non-cash-flow) metrics of operator ``k`` (``None``: all operators)."""
    line = inputs[LINE]
    students = values[STUDENTS_USED]
    off = float(names[param_name("off_ministry_share_pct")]) / 100
    unit_cost = float(names[param_name("network_cost_usd_per_gb")]) + float(
        names[param_name("forgone_revenue_share_pct")]) / 100 * float(names[param_name("retail_price_usd_per_gb")])
    retail = float(names[param_name("retail_price_usd_per_gb")])
    price = float(names[case_name("connection_price_usd_per_mbps_per_year")])
    line_cost = float(names[case_name("line_cost_usd_per_mbps_per_year")])
    lead = inputs[NEW_SITE_LEAD]
    if k is None:
        served = values[ZERO_RATED_SHARE]
        covers_any = (values[SERVING_COUNT] > 0) & (inputs[NEW_SITE] == 0)
        line_mbps = float(values[LINE_MBPS].sum())
        zr_gb = float(values[ZERO_RATING_GB].sum())
        builds = values[NEW_SITE_OPERATOR_NO] > 0
        out = {
            "schools_in_footprint": float(covers_any.sum()),
            "schools_served": float(served.sum()),
            "students_served": float((students * served).sum()),
            "lines": float((line * served).sum()),
            "line_mbps": line_mbps,
            "students_connected": float(values[STUDENTS_CONNECTED].sum()),
            "line_revenue_usd_per_year": float(values[LINE_USD].sum()),
            "line_cost_usd_per_year": line_mbps * line_cost,
            "zero_rating_gb_per_year": zr_gb,
            "zero_rating_excluded_gb_per_year": float(values[ZERO_RATING_EXCLUDED_GB].sum()),
            "zero_rating_cost_usd_per_year": float(values[ZERO_RATING_USD].sum()),
            "zero_rating_in_kind_usd_per_year": float(values[ZERO_RATING_IN_KIND].sum()),
        }
    else:
        assert shares is not None
        line_mbps = float((line * inputs[BANDWIDTH] * shares).sum())
        zr_gb = float((values[LEARNING_GB] * shares).sum()) * (1 - off)
        builds = values[NEW_SITE_OPERATOR_NO] == k
        out = {
            "schools_in_footprint": float(inputs[covers_column(k)].sum()),
            "schools_served": float(shares.sum()),
            "students_served": float((students * shares).sum()),
            "lines": float((line * shares).sum()),
            "line_mbps": line_mbps,
            "students_connected": float((line * students * shares).sum()),
            "line_revenue_usd_per_year": line_mbps * price,
            "line_cost_usd_per_year": line_mbps * line_cost,
            "zero_rating_gb_per_year": zr_gb,
            "zero_rating_excluded_gb_per_year": float((values[LEARNING_GB] * shares).sum()) * off,
            "zero_rating_cost_usd_per_year": zr_gb * unit_cost,
            "zero_rating_in_kind_usd_per_year": zr_gb * retail,
        }
    out.update({
        "new_sites": float((lead * builds).sum()),
        "new_site_schools": float((inputs[NEW_SITE] * builds).sum()),
        "new_site_capex_usd": float(values[NEW_SITE_CAPEX][builds].sum()),
        "new_site_opex_usd_per_year": float(values[NEW_SITE_OPEX][builds].sum()),
        "new_site_revenue_usd_per_year": float(values[NEW_SITE_REVENUE][builds].sum()),
    })
    return out


def years() -> NDArray[np.float64]:
    """Years 0..MAX_YEARS of the cash-flow tables."""
    return np.arange(MAX_YEARS + 1, dtype=np.float64)


def cash_flow(metrics: dict[str, float], names: dict[str, float | str]) -> pd.DataFrame:
    """Yearly cash flow of one operator (or all operators) from its metrics; columns are years 0..MAX_YEARS."""
    t = years()
    horizon = float(names[case_name("horizon_years")])
    in_horizon = ((t >= 1) & (t <= horizon)).astype(np.float64)
    growth = np.where(
        t >= 1, (1 + float(names[param_name("traffic_growth_pct_per_year")]) / 100) ** (t - 1), 0.0
    )
    subsidy = float(names[case_name("ministry_new_site_subsidy_pct")]) / 100
    year0 = (t == 0).astype(np.float64)
    capex = metrics["new_site_capex_usd"]
    rows = {
        "new_site_capex": -year0 * (capex * (1 - subsidy)),
        "lines_net": in_horizon * (metrics["line_revenue_usd_per_year"] - metrics["line_cost_usd_per_year"]),
        "new_sites_net": in_horizon
        * (metrics["new_site_revenue_usd_per_year"] - metrics["new_site_opex_usd_per_year"]),
        "zero_rating": -in_horizon * metrics["zero_rating_cost_usd_per_year"] * growth,
    }
    rows["net"] = rows["new_site_capex"] + rows["lines_net"] + rows["new_sites_net"] + rows["zero_rating"]
    rows["cumulative"] = np.cumsum(rows["net"])
    rows["ministry_payments"] = year0 * (capex * subsidy) + in_horizon * metrics["line_revenue_usd_per_year"]
    rows["ministry_in_kind"] = in_horizon * metrics["zero_rating_in_kind_usd_per_year"] * growth
    return pd.DataFrame(rows, index=t.astype(int)).T


def discount_factors(rate_pct: float) -> NDArray[np.float64]:
    """1 / (1 + rate)^t for years 0..MAX_YEARS."""
    return 1.0 / (1.0 + rate_pct / 100) ** years()


def _finance(metrics: dict[str, float], flow: pd.DataFrame, names: dict[str, float | str]) -> dict[str, float]:
    operator_df = discount_factors(float(names[case_name("operator_discount_rate_pct")]))
    ministry_df = discount_factors(float(names[case_name("ministry_discount_rate_pct")]))
    horizon = float(names[case_name("horizon_years")])
    t = years()
    paid_back = (t >= 1) & (t <= horizon) & (flow.loc["cumulative"].to_numpy() >= 0)
    students = metrics["students_connected"]
    return {
        "operator_npv_usd": float((flow.loc["net"].to_numpy() * operator_df).sum()),
        "payback_year": float(t[paid_back][0]) if paid_back.any() else np.nan,
        "ministry_package_pv_usd": float((flow.loc["ministry_payments"].to_numpy() * ministry_df).sum()),
        "ministry_in_kind_pv_usd": float((flow.loc["ministry_in_kind"].to_numpy() * ministry_df).sum()),
        "ministry_usd_per_student_connected_per_year": (
            metrics["line_revenue_usd_per_year"] / students if students > 0 else np.nan
        ),
    }


#: Additive per-school figures summed per region: region column -> per-school source.
REGION_SUMS: dict[str, str] = {
    "students": STUDENTS_USED,
    "schools_served": ZERO_RATED_SHARE,
    "zero_rating_gb_per_year": ZERO_RATING_GB,
    "zero_rating_excluded_gb_per_year": ZERO_RATING_EXCLUDED_GB,
    "zero_rating_usd_per_year": ZERO_RATING_USD,
    "zero_rating_in_kind_usd_per_year": ZERO_RATING_IN_KIND,
    "line_mbps": LINE_MBPS,
    "line_usd_per_year": LINE_USD,
    "students_connected": STUDENTS_CONNECTED,
    "new_site_capex_usd": NEW_SITE_CAPEX,
    "new_site_opex_usd_per_year": NEW_SITE_OPEX,
    "new_site_revenue_usd_per_year": NEW_SITE_REVENUE,
}
#: Cost-model columns summed per region when the table has them (values, not formulas).
COST_SUMS = ("capex_usd", "opex_usd_per_year", "npv_usd")


def _by_region(
    labels: list[str], region_no: NDArray[np.int64], values: dict[str, NDArray[np.float64]], schools: pd.DataFrame,
) -> pd.DataFrame:
    bins = len(labels) + 1
    data: dict[str, NDArray[np.float64]] = {
        "schools": np.bincount(region_no, minlength=bins)[1:].astype(np.float64),
    }
    for name, source in REGION_SUMS.items():
        data[name] = np.bincount(region_no, weights=values[source], minlength=bins)[1:]
    data["new_sites"] = np.bincount(region_no, weights=values["new_site_lead_flag"], minlength=bins)[1:]
    for column in COST_SUMS:
        if column in schools.columns:
            data[column] = np.bincount(
                region_no, weights=np.nan_to_num(numeric_column(schools, column), nan=0.0), minlength=bins
            )[1:]
    return pd.DataFrame(data, index=pd.Index(labels, name="region"))


def _build_case(
    schools: pd.DataFrame, params: ZeroRatingParams, names: list[str], students_if_unknown: float | None,
    region_labels: list[str] | None = None,
) -> InvestmentCase:
    schools = schools.reset_index(drop=True)
    n = len(schools)
    coverage = coverage_by_operator(schools, names)
    inputs = school_inputs(schools, coverage)
    resolved = params if students_if_unknown is None else params.model_copy(
        update={"students_if_unknown": students_if_unknown}
    )
    assumptions = assumption_values(resolved, names, inputs["num_students"])
    inputs[LINE] = _line_flags(schools, params, inputs[NEW_SITE])
    inputs[BANDWIDTH] = _bandwidth(schools)
    inputs[NEW_SITE_LEAD] = (
        np.nan_to_num(boolean_column(schools, NEW_SITE_LEAD), nan=0.0) if NEW_SITE_LEAD in schools.columns
        else np.zeros(n)
    )
    inputs[NEW_SITE_POPULATION] = (
        numeric_column(schools, NEW_SITE_POPULATION) if NEW_SITE_POPULATION in schools.columns else np.full(n, np.nan)
    )
    formulas = full_formulas(len(names))
    values = formulas.evaluate(inputs, assumptions, n)
    # Sites without a builder (no operator at all) stay out of every operator's figures.
    values["new_site_lead_flag"] = inputs[NEW_SITE_LEAD] * (values[NEW_SITE_OPERATOR_NO] > 0)
    rows: dict[str, dict[str, float]] = {}
    flows: dict[str, pd.DataFrame] = {}
    for k, name in enumerate([*names, ALL_OPERATORS], start=1):
        shares = values[share_column(k)] if name != ALL_OPERATORS else None
        metrics = _metrics(shares, inputs, values, assumptions, None if name == ALL_OPERATORS else k)
        flow = cash_flow(metrics, assumptions)
        metrics.update(_finance(metrics, flow, assumptions))
        rows[name] = metrics
        flows[name] = flow
    by_operator = pd.DataFrame.from_dict(rows, orient="index")[list(OPERATOR_METRICS)]
    labels, region_no = _regions(schools, region_labels)
    by_region = _by_region(labels, region_no, values, schools)
    return InvestmentCase(
        params=resolved, operators=list(names), schools=schools, inputs=inputs, formulas=formulas, values=values,
        assumptions=assumptions, region_labels=labels, region_no=region_no, by_operator=by_operator,
        by_region=by_region, cash_flows=flows, coverage_known=coverage.known | (inputs[NEW_SITE] > 0),
    )


def investment_case(schools: pd.DataFrame, params: ZeroRatingParams | None = None) -> InvestmentCase:
    """Compute the investment case of every operator and the ministry's view.

    Parameters
    ----------
    schools
        The school table after :func:`add_new_sites` (without it, no new sites are in the case) with
        ``covering_operators``; cost columns (``technology``, ``bandwidth_demand_mbps``) when the cost model ran.
    params
        Zero-rating and case parameters (defaults when ``None``).

    Returns
    -------
    InvestmentCase
        Per-school results, per-operator and per-region tables and yearly cash flows.
    """
    params = params or ZeroRatingParams()
    extra: list[str] = []
    if NEW_SITE_OPERATOR in schools.columns:
        extra = [str(x) for x in schools[NEW_SITE_OPERATOR].dropna().unique() if str(x)]
    if NEW_SITE not in schools.columns:
        log.info("no new_site column: the case has no new sites (run connectmap.operators.add_new_sites first)")
    names = operator_names(schools, extra)
    return _build_case(schools, params, names, None)


def add_case_columns(schools: pd.DataFrame, case: InvestmentCase) -> pd.DataFrame:
    """``schools`` (the table the case was built from, same row order) with the per-school case results."""
    columns = {name: case.values[name] for name in (LINE_MBPS, LINE_USD, STUDENTS_CONNECTED)}
    columns[LINE] = case.inputs[LINE] > 0
    return replace_columns(schools.reset_index(drop=True), columns)
