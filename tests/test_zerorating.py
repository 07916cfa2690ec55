"""Zero-rating model: hand-worked arithmetic, split rules, unknowns, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectmap.errors import ConfigError, SchemaError
from connectmap.formulas import Col, FormulaTable, If, IsNumber, Name, SafeDiv
from connectmap.parameters.zerorating import ZeroRatingParams
from connectmap.zerorating import add_zero_rating

# Default content mix: 56.25 video + 5 e-books + 2 assessments + 10 platform = 73.25 MB per user per day;
# 180 days -> 73.25 * 180 / 1000 = 13.185 GB per user per year.
GB_PER_USER = 73.25 * 180 / 1000
# Cost to the operator per GB: network 0.5 + 20 % forgone x retail 2.0 = 0.9 USD; in kind at retail 2.0 USD.
UNIT_COST = 0.5 + 0.20 * 2.0
RETAIL = 2.0


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "num_students": [200.0, np.nan, 300.0, 50.0, 120.0],
        "num_teachers": [8.0, np.nan, 10.0, 2.0, -3.0],
        "covering_operators": pd.array(["Alpha;Beta", "Beta", "", None, "Alpha"], dtype="string"),
    })


def test_hand_worked_equal_split():
    params = ZeroRatingParams(students_if_unknown=150.0)
    out = add_zero_rating(_table(), params)

    # school 0: 200 students x 30 % + 8 teachers = 68 users
    # school 1: 150 students assumed; teachers 150 / 38; users = 45 + 150/38
    # school 4: negative teachers count as unknown: 120 / 38; users = 36 + 120/38
    users = np.array([68.0, 45.0 + 150.0 / 38.0, 100.0, 17.0, 36.0 + 120.0 / 38.0])
    np.testing.assert_allclose(out["zero_rating_users"], users, rtol=1e-12)
    learning = users * GB_PER_USER
    np.testing.assert_allclose(out["learning_gb_per_year"], learning, rtol=1e-12)
    assert out["learning_gb_per_year"].iloc[0] == pytest.approx(896.58)  # 68 x 13.185

    # served: schools 0, 1, 4 (school 2: nobody covers it; school 3: coverage unknown)
    served = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(out["zero_rated_share"], served)
    zr_gb = learning * 0.9 * served  # 10 % from third-party hosts cannot be zero-rated
    np.testing.assert_allclose(out["zero_rating_gb_per_year"], zr_gb, rtol=1e-12)
    assert out["zero_rating_gb_per_year"].iloc[0] == pytest.approx(806.922)
    np.testing.assert_allclose(out["zero_rating_excluded_gb_per_year"], learning * 0.1 * served, rtol=1e-12)
    np.testing.assert_allclose(out["zero_rating_usd_per_year"], zr_gb * UNIT_COST, rtol=1e-12)
    assert out["zero_rating_usd_per_year"].iloc[0] == pytest.approx(726.2298)  # 806.922 x 0.9
    np.testing.assert_allclose(out["zero_rating_in_kind_usd_per_year"], zr_gb * RETAIL, rtol=1e-12)
    assert out["zero_rating_operators"].iloc[[0, 1, 2, 4]].tolist() == ["Alpha;Beta", "Beta", "", "Alpha"]
    assert pd.isna(out["zero_rating_operators"].iloc[3])


def test_median_of_known_enrolment_when_not_set():
    out = add_zero_rating(_table())
    # known counts 200, 300, 50, 120 -> median 160
    assert out["students_used"].iloc[1] == 160.0
    assert out["teachers_used"].iloc[1] == pytest.approx(160.0 / 38.0)


def test_market_share_and_named_operator_rules():
    table = _table()
    from connectmap.operators import investment_case

    shares = ZeroRatingParams(students_if_unknown=150.0, split="market_share",
                              market_share_pct={"Alpha": 60.0, "Beta": 40.0})
    case = investment_case(table, shares)
    # school 0 is covered by both: 60 / (60 + 40) and 40 / (60 + 40)
    assert case.values["share_op1"][0] == pytest.approx(0.6)
    assert case.values["share_op2"][0] == pytest.approx(0.4)
    assert case.values["share_op2"][1] == 1.0  # Beta alone

    named = ZeroRatingParams(students_if_unknown=150.0, split="operator", named_operator="Beta")
    case = investment_case(table, named)
    np.testing.assert_array_equal(case.values["share_op2"], [1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(case.values["share_op1"], np.zeros(5))
    out = add_zero_rating(table, named)
    # only Beta zero-rates: school 4 (Alpha only) is no longer served
    assert out["zero_rating_gb_per_year"].iloc[4] == 0.0
    assert out["zero_rating_operators"].iloc[0] == "Beta"


def test_market_share_rule_needs_every_operator():
    params = ZeroRatingParams(split="market_share", market_share_pct={"Alpha": 60.0})
    with pytest.raises(ConfigError, match="Beta"):
        add_zero_rating(_table(), params)


def test_named_operator_must_exist():
    with pytest.raises(ConfigError, match="Gamma"):
        add_zero_rating(_table(), ZeroRatingParams(split="operator", named_operator="Gamma"))
    with pytest.raises(ValueError, match="named_operator"):
        ZeroRatingParams(split="operator")


def test_missing_operator_column_is_a_clear_error():
    with pytest.raises(SchemaError, match=r"covering_operators.*connectmap enrich"):
        add_zero_rating(pd.DataFrame({"num_students": [10.0]}))


def test_unknown_operators_with_known_no_coverage_count_as_none():
    # A CSV round trip turns "" into empty: the coverage type still says nobody covers the school
    table = pd.DataFrame({
        "num_students": [100.0, 100.0],
        "covering_operators": pd.array([None, None], dtype="string"),
        "cellular_coverage_type": ["no coverage", "unknown"],
    })
    out = add_zero_rating(table)
    assert out["zero_rating_operators"].iloc[0] == ""
    assert pd.isna(out["zero_rating_operators"].iloc[1])


def test_new_site_schools_are_zero_rated_by_their_builder():
    table = pd.DataFrame({
        "num_students": [100.0, 100.0],
        "covering_operators": pd.array(["Alpha", ""], dtype="string"),
        "new_site": [False, True],
        "new_site_operator": pd.array(["", "Beta"], dtype="string"),
    })
    out = add_zero_rating(table)
    assert out["zero_rating_operators"].tolist() == ["Alpha", "Beta"]
    assert out["zero_rated_share"].tolist() == [1.0, 1.0]


def test_formula_rendering_keeps_precedence():
    a, b, c = Col("a"), Col("b"), Col("c")
    ref = str
    assert (a - (b - c)).to_excel(ref) == "a-(b-c)"
    assert (a / (b * c)).to_excel(ref) == "a/(b*c)"
    assert ((a + b) * c).to_excel(ref) == "(a+b)*c"
    assert (a * b / c).to_excel(ref) == "a*b/c"
    assert SafeDiv(a + b, c, 0).to_excel(ref) == "IF(c=0,0,(a+b)/c)"
    assert If(IsNumber(a), a, Name("x")).to_excel(ref) == "IF(ISNUMBER(a),a,x)"


def test_formula_table_follows_excel_blank_rules():
    table = FormulaTable()
    table.add("y", If(IsNumber(Col("a")), Col("a"), 7) + Col("a") * 2 + SafeDiv(1, Col("b"), -1), "-")
    values = table.evaluate({"a": np.array([np.nan, 3.0]), "b": np.array([0.0, 4.0])}, {}, 2)
    # blank a: ISNUMBER false -> 7, blank counts 0 in arithmetic, 1/0 -> fallback -1
    np.testing.assert_allclose(values["y"], [7 + 0 - 1, 3 + 6 + 0.25])


@settings(max_examples=60, deadline=None)
@given(
    students=st.lists(st.one_of(st.none(), st.floats(0, 5000)), min_size=1, max_size=12),
    coverage=st.lists(st.sampled_from(["A", "B", "A;B", "A;B;C", "", None]), min_size=12, max_size=12),
    split=st.sampled_from(["equal", "market_share"]),
)
def test_shares_add_up_and_costs_follow_traffic(students, coverage, split):
    n = len(students)
    table = pd.DataFrame({
        "num_students": [np.nan if s is None else s for s in students],
        "covering_operators": pd.array(coverage[:n], dtype="string"),
    })
    from connectmap.operators import investment_case

    params = ZeroRatingParams(split=split, market_share_pct={"A": 50.0, "B": 30.0, "C": 20.0})
    case = investment_case(table, params)
    shares = np.column_stack([case.values[f"share_op{k}"] for k in range(1, len(case.operators) + 1)]) \
        if case.operators else np.zeros((n, 0))
    total = shares.sum(axis=1)
    covered = np.array([bool(c) for c in coverage[:n]])
    np.testing.assert_allclose(total, covered.astype(float), atol=1e-12)
    assert (shares >= 0).all()
    zr = case.values["zero_rating_gb_per_year"]
    assert (zr >= 0).all()
    np.testing.assert_allclose(case.values["zero_rating_usd_per_year"], zr * UNIT_COST, rtol=1e-12)
    # operators' zero-rated GB add up to the national total
    by_op = case.by_operator
    assert by_op["zero_rating_gb_per_year"].iloc[:-1].sum() == pytest.approx(zr.sum(), rel=1e-12, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(base=st.floats(0, 3000), extra=st.floats(0, 3000))
def test_zero_rating_never_falls_as_enrolment_grows(base, extra):
    table = pd.DataFrame({"num_students": [base, base + extra], "covering_operators": ["A", "A"]})
    out = add_zero_rating(table)
    assert out["zero_rating_usd_per_year"].iloc[1] >= out["zero_rating_usd_per_year"].iloc[0]
