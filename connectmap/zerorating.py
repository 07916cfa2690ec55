"""Zero-rating the ministry's learning content: traffic and cost per school, split among the operators serving it.

Per school, per year (first year; later years grow by ``traffic_growth_pct_per_year``)::

    students_used   = num_students, or students_if_unknown (median of known counts when not set)
    teachers_used   = num_teachers, or students_used / students_per_teacher_if_unknown
    users           = students_used x active_student_share_pct / 100 + teachers_used
    learning_gb     = users x (video + e-books + assessments + platform MB per user per day)
                      x school_days_per_year / 1000                                      (1 GB = 1000 MB)
    share_k         = the part of the school operator k carries (split rule, below); their sum is 1 where some
                      operator serves the school and 0 where none does
    zero_rating_gb  = learning_gb x (1 - off_ministry_share_pct / 100) x sum_k share_k
    excluded_gb     = learning_gb x off_ministry_share_pct / 100 x sum_k share_k
    zero_rating_usd = zero_rating_gb x (network_cost_usd_per_gb
                                        + forgone_revenue_share_pct / 100 x retail_price_usd_per_gb)
    in_kind_usd     = zero_rating_gb x retail_price_usd_per_gb

Operator k *serves* a school when it covers it now (``covering_operators``) or builds the new site that will cover
it (``new_site_*`` columns from :func:`connectmap.operators.add_new_sites`). The split rule (``split``):

* ``equal``: each serving operator carries 1 / (number of serving operators);
* ``market_share``: in proportion to ``market_share_pct`` among the serving operators (0 if they all have 0 %);
* ``operator``: ``named_operator`` carries everything where it serves the school, nobody elsewhere.

Content served from outside the ministry's servers (third-party CDNs, fonts, analytics) cannot be zero-rated: the
model keeps it out of ``zero_rating_gb_per_year`` and reports it in ``zero_rating_excluded_gb_per_year``. Schools
whose coverage is unknown are not priced (``zero_rating_operators`` is empty/NA for them).

The formulas are written once as a :class:`~connectmap.formulas.FormulaTable` (:func:`zero_rating_formulas`) and
evaluated with numpy here; the investment-case workbook writes the same table as live Excel formulas.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import COVERAGE_AVAILABILITY, COVERAGE_TYPE, NUM_STUDENTS, NUM_TEACHERS, describe
from connectmap.errors import ConfigError, SchemaError
from connectmap.formulas import Col, Exact, FormulaTable, If, IsNumber, Name, SafeDiv, Text, total
from connectmap.parameters.zerorating import ZeroRatingParams
from connectmap.table import boolean_column, numeric_column, replace_columns

log = logging.getLogger(__name__)

__all__ = [
    "COVERING_OPERATORS", "ZERO_RATING_COLUMNS", "OperatorInputs", "add_zero_rating", "assumption_values",
    "operator_names", "school_inputs", "zero_rating_formulas",
]

COVERING_OPERATORS = "covering_operators"

# --- input columns of the formulas (built from the table by school_inputs) -----------------------------------------
NEW_SITE = describe("new_site", "School without coverage now that a planned new site will cover (1/0)", "flag")
NEW_SITE_OPERATOR = describe(
    "new_site_operator", "Operator building the new site that will cover the school (empty: none)", "text"
)
NEW_SITE_NEAREST_NO = describe(
    "new_site_nearest_operator_no",
    "Number (in the workbook's operator list) of the operator that builds the school's new site by default; 0: none",
    "number",
)


def covers_column(k: int) -> str:
    """Input column: 1 when operator number ``k`` covers the school now, else 0."""
    return f"covers_op{k}"


def share_column(k: int) -> str:
    """Computed column: the part of the school operator number ``k`` carries (0..1)."""
    return f"share_op{k}"


# --- computed columns -------------------------------------------------------------------------------------------------
STUDENTS_USED = describe(
    "students_used", "Students counted: num_students, or zerorating.students_if_unknown where unknown", "students"
)
TEACHERS_USED = describe(
    "teachers_used",
    "Teachers counted: num_teachers, or students_used / zerorating.students_per_teacher_if_unknown where unknown",
    "teachers",
)
USERS = describe("zero_rating_users", "Users of the learning platform: students x active share + teachers", "users")
LEARNING_GB = describe(
    "learning_gb_per_year", "Learning-content traffic of the school's users in the first year (all hosts)", "GB/year"
)
NEW_SITE_OPERATOR_NO = describe(
    "new_site_operator_no",
    "Operator number building the school's new site (the named operator when zerorating.split = operator); 0: none",
    "number",
)
SERVING_COUNT = describe(
    "serving_operators", "Operators serving the school: covering it now or building its new site", "count"
)
SERVING_MARKET_SHARE = describe(
    "serving_market_share_pct", "Sum of the market shares of the operators serving the school", "%"
)
ZERO_RATED_SHARE = describe(
    "zero_rated_share", "Part of the school's traffic and line carried by some operator (1 served, 0 not)", "share"
)
ZERO_RATING_GB = describe(
    "zero_rating_gb_per_year",
    "Zero-rated learning traffic in the first year (ministry-hosted content only, where an operator serves)",
    "GB/year",
)
ZERO_RATING_EXCLUDED_GB = describe(
    "zero_rating_excluded_gb_per_year",
    "Learning traffic served from third-party hosts (CDNs, fonts, analytics) that cannot be zero-rated",
    "GB/year",
)
ZERO_RATING_USD = describe(
    "zero_rating_usd_per_year",
    "Cost of the zero-rating to the operators in the first year: network cost plus forgone retail revenue",
    "USD/year",
)
ZERO_RATING_IN_KIND = describe(
    "zero_rating_in_kind_usd_per_year",
    "Value of the zero-rated traffic at the retail price: the operators' in-kind contribution in the first year",
    "USD/year",
)
ZERO_RATING_OPERATORS = describe(
    "zero_rating_operators",
    "Operators carrying the school's zero-rated traffic, joined by ';' (empty: none; NA: coverage unknown)",
    "text",
)

#: Columns :func:`add_zero_rating` adds to the school table.
ZERO_RATING_COLUMNS = (
    STUDENTS_USED, TEACHERS_USED, USERS, LEARNING_GB, ZERO_RATED_SHARE, ZERO_RATING_GB, ZERO_RATING_EXCLUDED_GB,
    ZERO_RATING_USD, ZERO_RATING_IN_KIND, ZERO_RATING_OPERATORS,
)


# --- defined names (the workbook's Assumptions cells) ---------------------------------------------------------------
def param_name(field: str) -> str:
    """Defined name of a :class:`ZeroRatingParams` field."""
    return f"zr_{field}"


def case_name(field: str) -> str:
    """Defined name of an :class:`~connectmap.parameters.zerorating.OperatorCaseParams` field."""
    return f"case_{field}"


def market_share_name(k: int) -> str:
    """Defined name of operator ``k``'s market share (per cent)."""
    return f"market_share_op{k}"


def operator_name_name(k: int) -> str:
    """Defined name of the cell holding operator ``k``'s name (text)."""
    return f"operator_name_op{k}"


NAMED_OPERATOR_NO = "zr_named_operator_no"

_MB_PER_DAY = (
    "video_lessons_mb_per_user_per_day", "ebooks_mb_per_user_per_day", "assessments_mb_per_user_per_day",
    "platform_mb_per_user_per_day",
)


def zero_rating_formulas(n_operators: int) -> FormulaTable:
    """The per-school zero-rating formulas for ``n_operators`` operators (numbered 1..n).

    Input columns: ``num_students``, ``num_teachers``, ``covers_op<k>``, ``new_site``,
    ``new_site_nearest_operator_no``. Names: ``zr_<parameter>``, ``market_share_op<k>``, ``operator_name_op<k>``,
    ``zr_named_operator_no``.
    """
    p = param_name
    table = FormulaTable()
    students = Col(NUM_STUDENTS)
    teachers = Col(NUM_TEACHERS)
    students_used = table.add(
        STUDENTS_USED, If(IsNumber(students), students, Name(p("students_if_unknown"))), "students"
    )
    teachers_used = table.add(
        TEACHERS_USED,
        If(IsNumber(teachers), teachers, students_used / Name(p("students_per_teacher_if_unknown"))),
        "teachers",
    )
    users = table.add(USERS, students_used * Name(p("active_student_share_pct")) / 100 + teachers_used, "users")
    mb_per_day = total([Name(p(field)) for field in _MB_PER_DAY])
    learning = table.add(LEARNING_GB, users * mb_per_day * Name(p("school_days_per_year")) / 1000, "GB/year")
    is_operator_rule = Exact(Name(p("split")), Text("operator"))
    new_site_operator = table.add(
        NEW_SITE_OPERATOR_NO,
        If(Col(NEW_SITE).eq(1), If(is_operator_rule, Name(NAMED_OPERATOR_NO), Col(NEW_SITE_NEAREST_NO)), 0),
        "number",
    )

    def serves(k: int) -> Col | If:
        # Coverage now and a new site are exclusive (new sites go only where nobody covers the school).
        return Col(covers_column(k)) + If(new_site_operator.eq(k), 1, 0)

    ks = range(1, n_operators + 1)
    n_serving = table.add(SERVING_COUNT, total([serves(k) for k in ks]), "count")
    serving_share = table.add(
        SERVING_MARKET_SHARE, total([serves(k) * Name(market_share_name(k)) for k in ks]), "%"
    )
    for k in ks:
        rule = If(
            Exact(Name(p("split")), Text("equal")),
            SafeDiv(1, n_serving, 0),
            If(
                Exact(Name(p("split")), Text("market_share")),
                SafeDiv(Name(market_share_name(k)), serving_share, 0),
                If(Name(NAMED_OPERATOR_NO).eq(k), 1, 0),
            ),
        )
        table.add(share_column(k), If(serves(k).gt(0), rule, 0), "share")
    served = table.add(ZERO_RATED_SHARE, total([Col(share_column(k)) for k in ks]), "share")
    off_share = Name(p("off_ministry_share_pct")) / 100
    zr_gb = table.add(ZERO_RATING_GB, learning * (1 - off_share) * served, "GB/year")
    table.add(ZERO_RATING_EXCLUDED_GB, learning * off_share * served, "GB/year")
    unit_cost = Name(p("network_cost_usd_per_gb")) + Name(p("forgone_revenue_share_pct")) / 100 * Name(
        p("retail_price_usd_per_gb")
    )
    table.add(ZERO_RATING_USD, zr_gb * unit_cost, "USD/year")
    table.add(ZERO_RATING_IN_KIND, zr_gb * Name(p("retail_price_usd_per_gb")), "USD/year")
    return table


# --- inputs ---------------------------------------------------------------------------------------------------------
def _operator_combinations(values: pd.Series) -> tuple[NDArray[np.int64], list[list[str]]]:
    """``covering_operators`` as a code per school (-1 unknown) and the sorted operator list of each code.

    Registers hold a handful of distinct combinations ("A;B", "A", ""), so each is split once, not every row.
    """
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    lists = [sorted({name.strip() for name in str(text).split(";") if name.strip()}) for text in uniques]
    return np.asarray(codes, dtype=np.int64), lists


def _coverage_known_none(schools: pd.DataFrame) -> NDArray[np.bool_]:
    """Schools known to have no mobile coverage at all (so an NA operator list means "nobody")."""
    none = np.zeros(len(schools), dtype=bool)
    if COVERAGE_TYPE in schools.columns:
        none |= (schools[COVERAGE_TYPE].astype("string").str.strip().str.lower() == "no coverage").fillna(False)
    if COVERAGE_AVAILABILITY in schools.columns:
        none |= boolean_column(schools, COVERAGE_AVAILABILITY) == 0.0
    return none


@dataclass(frozen=True)
class OperatorInputs:
    """Which operator covers which school.

    Attributes
    ----------
    names
        Operator names in workbook order (sorted); operator number k is ``names[k - 1]``.
    covers
        Boolean matrix (schools x operators): operator covers the school now.
    known
        Whether the school's coverage is known (False: ``covering_operators`` unknown).
    """

    names: list[str]
    covers: NDArray[np.bool_]
    known: NDArray[np.bool_]


def operator_names(schools: pd.DataFrame, extra: Sequence[str] = ()) -> list[str]:
    """Sorted operator names found in ``covering_operators`` (plus ``extra`` names, e.g. new-site builders)."""
    found: set[str] = {name for name in extra if name}
    if COVERING_OPERATORS in schools.columns:
        for names in _operator_combinations(schools[COVERING_OPERATORS])[1]:
            found.update(names)
    return sorted(found)


def coverage_by_operator(schools: pd.DataFrame, names: Sequence[str]) -> OperatorInputs:
    """Coverage matrix of ``names`` from ``covering_operators``.

    Raises
    ------
    SchemaError
        When the table has no ``covering_operators`` column.
    """
    if COVERING_OPERATORS not in schools.columns:
        raise SchemaError(
            f"{COVERING_OPERATORS!r} column missing: zero-rating is split among the operators covering each school; "
            "run `connectmap enrich` with towers or coverage files that name operators"
        )
    codes, combinations = _operator_combinations(schools[COVERING_OPERATORS])
    known = codes >= 0
    known_none = _coverage_known_none(schools) & ~known
    covers = np.zeros((len(schools), len(names)), dtype=bool)
    index = {name: k for k, name in enumerate(names)}
    for code, combination in enumerate(combinations):
        rows = codes == code
        for name in combination:
            covers[rows, index[name]] = True
    return OperatorInputs(list(names), covers, known | known_none)


def school_inputs(schools: pd.DataFrame, operators: OperatorInputs) -> dict[str, NDArray[np.float64]]:
    """The input columns of the zero-rating formulas, as float arrays (NaN = blank cell).

    ``new_site`` and ``new_site_nearest_operator_no`` come from the ``new_site`` and ``new_site_operator`` columns
    :func:`connectmap.operators.add_new_sites` adds; they are 0 when it has not run.
    """
    n = len(schools)
    students = numeric_column(schools, NUM_STUDENTS)
    teachers = numeric_column(schools, NUM_TEACHERS)
    # Negative counts are data errors (validation flags them); they count as unknown here.
    students = np.where(students >= 0, students, np.nan)
    teachers = np.where(teachers >= 0, teachers, np.nan)
    columns: dict[str, NDArray[np.float64]] = {NUM_STUDENTS: students, NUM_TEACHERS: teachers}
    for k in range(1, len(operators.names) + 1):
        columns[covers_column(k)] = operators.covers[:, k - 1].astype(np.float64)
    new_site = np.zeros(n)
    nearest_no = np.zeros(n)
    if NEW_SITE in schools.columns:
        new_site = np.nan_to_num(boolean_column(schools, NEW_SITE), nan=0.0)
        if NEW_SITE_OPERATOR in schools.columns:
            number = {name: float(k) for k, name in enumerate(operators.names, start=1)}
            builders = schools[NEW_SITE_OPERATOR].astype("string")
            nearest_no = builders.map(number).astype("Float64").fillna(0.0).to_numpy(dtype=np.float64)
            nearest_no = np.where(new_site > 0, nearest_no, 0.0)
    columns[NEW_SITE] = new_site
    columns[NEW_SITE_NEAREST_NO] = nearest_no
    return columns


def resolved_students_if_unknown(params: ZeroRatingParams, students: NDArray[np.float64]) -> float:
    """``students_if_unknown``, or the median of the known counts when it is not set (0 when none is known)."""
    if params.students_if_unknown is not None:
        return float(params.students_if_unknown)
    known = students[np.isfinite(students) & (students >= 0)]
    if known.size == 0:
        if students.size:
            log.warning(
                "no school has a student count and zerorating.students_if_unknown is not set: "
                "zero-rating counts teachers only; set students_if_unknown for a useful estimate"
            )
        return 0.0
    return float(np.median(known))


def assumption_values(
    params: ZeroRatingParams, operators: Sequence[str], students: NDArray[np.float64]
) -> dict[str, float | str]:
    """Value of every defined name the formulas use, for ``params`` and the operators in the table.

    Raises
    ------
    ConfigError
        When ``split = market_share`` and an operator has no market share, or ``split = operator`` and
        ``named_operator`` serves no school in the table.
    """
    names: dict[str, float | str] = {}
    for field in type(params).model_fields:
        if field in ("case", "market_share_pct"):
            continue
        value = getattr(params, field)
        names[param_name(field)] = "" if value is None else value
    names[param_name("students_if_unknown")] = resolved_students_if_unknown(params, students)
    for field in type(params.case).model_fields:
        names[case_name(field)] = getattr(params.case, field)
    missing = [name for name in operators if name not in params.market_share_pct]
    if params.split == "market_share" and missing:
        raise ConfigError(
            f"zerorating.split = 'market_share' but zerorating.market_share_pct has no share for "
            f"{', '.join(repr(m) for m in missing)}; add e.g. market_share_pct = {{ {missing[0]!r} = 30 }}"
            .replace("'", '"')
        )
    for k, name in enumerate(operators, start=1):
        names[market_share_name(k)] = float(params.market_share_pct.get(name, 0.0))
        names[operator_name_name(k)] = name
    named = params.named_operator.strip()
    names[NAMED_OPERATOR_NO] = float(operators.index(named) + 1) if named in operators else 0.0
    if params.split == "operator" and named not in operators:
        raise ConfigError(
            f"zerorating.named_operator = {named!r} serves no school in the table; operators found: "
            f"{', '.join(operators) or 'none'}"
        )
    return names


def operators_text(shares: NDArray[np.float64], names: Sequence[str], known: NDArray[np.bool_]) -> pd.Series:
    """Names of the operators with a positive share, joined by ';' ("" none; NA where coverage is unknown)."""
    n = shares.shape[0]
    if not names:
        text = pd.Series([""] * n, dtype="string")
    else:
        # A boolean matrix times "name;" strings concatenates the names of the true cells.
        labels = np.array([f"{name};" for name in names], dtype=object)
        joined = (shares > 0).astype(object) @ labels if n else np.empty(0, dtype=object)
        text = pd.Series(joined, dtype="string").str.rstrip(";")
    text[~known] = pd.NA
    return text


def add_zero_rating(schools: pd.DataFrame, params: ZeroRatingParams | None = None) -> pd.DataFrame:
    """Return ``schools`` with the zero-rating traffic, cost and operators of every school.

    Parameters
    ----------
    schools
        The school table with ``covering_operators`` (from enrichment); ``num_students`` and ``num_teachers`` may be
        missing (unknown). When :func:`connectmap.operators.add_new_sites` has run, schools a new site will cover
        are zero-rated by the operator building it.
    params
        Zero-rating parameters (defaults when ``None``).

    Returns
    -------
    pandas.DataFrame
        The table with the columns in :data:`ZERO_RATING_COLUMNS` added (GB/year, USD/year for the first year).

    Raises
    ------
    SchemaError
        When ``covering_operators`` is missing.
    ConfigError
        When the split rule needs a market share or operator the table lacks.
    """
    params = params or ZeroRatingParams()
    extra = []
    if NEW_SITE_OPERATOR in schools.columns:
        extra = [str(x) for x in schools[NEW_SITE_OPERATOR].dropna().unique() if str(x)]
    names = operator_names(schools, extra)
    coverage = coverage_by_operator(schools, names)
    inputs = school_inputs(schools, coverage)
    assumptions = assumption_values(params, names, inputs[NUM_STUDENTS])
    table = zero_rating_formulas(len(names))
    values = table.evaluate(inputs, assumptions, len(schools))
    shares = (
        np.column_stack([values[share_column(k)] for k in range(1, len(names) + 1)])
        if names else np.zeros((len(schools), 0))
    )
    known = coverage.known | (inputs[NEW_SITE] > 0)
    added: dict[str, object] = {name: values[name] for name in ZERO_RATING_COLUMNS if name in values}
    added[ZERO_RATING_OPERATORS] = operators_text(shares, names, known).set_axis(schools.index).array
    unknown = int((~known).sum())
    if unknown:
        log.info("zero-rating: %d school(s) with unknown coverage are not priced", unknown)
    return replace_columns(schools, added)
