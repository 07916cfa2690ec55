"""Operator investment case: new sites checked by brute force, a hand-worked case, reconciliation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

from connectmap.errors import ConfigError
from connectmap.operators import ALL_OPERATORS, OPERATOR_METRICS, add_new_sites, investment_case
from connectmap.parameters.zerorating import OperatorCaseParams, ZeroRatingParams
from connectmap.zerorating import add_zero_rating

GEOD = pyproj.Geod(ellps="WGS84")


def _km(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2] / 1000.0


def _random_schools(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(69.0, 69.4, n)  # Tajikistan's latitudes: degrees are far from square here
    lat = rng.uniform(38.0, 38.3, n)
    coverage = rng.choice(["Alpha", "Beta;Alpha", "", "", "", None], n)
    return gpd.GeoDataFrame({
        "num_students": rng.integers(10, 900, n).astype(float),
        "covering_operators": pd.array(coverage, dtype="string"),
        "nearest_LTE_distance__alpha": rng.uniform(1, 40, n),
        "nearest_GSM_distance__beta": rng.uniform(1, 40, n),
        "pop_within_5km": rng.uniform(0, 9000, n),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def test_new_sites_match_sequential_greedy_by_brute_force():
    schools = _random_schools(260, seed=3)
    out = add_new_sites(schools)
    lon, lat = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
    uncovered = np.flatnonzero((schools["covering_operators"] == "").fillna(False).to_numpy())
    radius = OperatorCaseParams().new_site_radius_km

    # independent: biggest school first, a site wherever no earlier site is within the radius
    order = sorted(uncovered, key=lambda i: (-schools["num_students"].iloc[i], i))
    sites: list[int] = []
    for i in order:
        if all(_km(lon[i], lat[i], lon[s], lat[s]) > radius for s in sites):
            sites.append(i)
    assert sorted(sites) == np.flatnonzero(out["new_site_lead"].to_numpy()).tolist()
    assert len(sites) > 20

    # every uncovered school joins its nearest site, within the radius; nobody else gets one
    assert out["new_site"].to_numpy().sum() == uncovered.size
    for i in uncovered:
        distances = [_km(lon[i], lat[i], lon[s], lat[s]) for s in sites]
        nearest = sites[int(np.argmin(distances))]
        assert out["new_site_id"].iloc[i] == out["new_site_id"].iloc[nearest]
        assert out["new_site_distance_km"].iloc[i] == pytest.approx(min(distances), abs=1e-9)
        assert min(distances) <= radius
    others = np.setdiff1d(np.arange(len(schools)), uncovered)
    assert not out["new_site"].to_numpy()[others].any()
    assert (out["new_site_id"].iloc[others] == "").all()

    # the builder is the operator with the nearest existing site to the site's school
    for s in sites:
        alpha, beta = schools["nearest_LTE_distance__alpha"].iloc[s], schools["nearest_GSM_distance__beta"].iloc[s]
        assert out["new_site_operator"].iloc[s] == ("Alpha" if alpha < beta else "Beta")
    # subscriber revenue population comes from pop_within_5km at the site's school only
    lead = out["new_site_lead"].to_numpy()
    np.testing.assert_allclose(out["new_site_population"].to_numpy()[lead], schools["pop_within_5km"].to_numpy()[lead])
    assert out["new_site_population"].to_numpy()[~lead].tolist() == [pytest.approx(np.nan, nan_ok=True)] * int(
        (~lead).sum())


def test_new_site_builder_fallback_and_named():
    schools = _random_schools(60, seed=5).drop(columns=["nearest_LTE_distance__alpha", "nearest_GSM_distance__beta"])
    out = add_new_sites(schools)
    # no per-operator distances: the operator covering most schools (Alpha covers every covered school)
    assert set(out.loc[out["new_site"], "new_site_operator"]) == {"Alpha"}
    named = ZeroRatingParams(case=OperatorCaseParams(new_site_operator="Beta"))
    assert set(add_new_sites(schools, named).loc[lambda t: t["new_site"], "new_site_operator"]) == {"Beta"}
    with pytest.raises(ConfigError, match="Gamma"):
        add_new_sites(schools, ZeroRatingParams(case=OperatorCaseParams(new_site_operator="Gamma")))


def _hand_table() -> pd.DataFrame:
    return pd.DataFrame({
        "num_students": [200.0, 100.0, 300.0, 50.0],
        "num_teachers": [8.0, 4.0, 10.0, 2.0],
        "covering_operators": pd.array(["Alpha;Beta", "Alpha", "", ""], dtype="string"),
        "technology": ["cellular", "satellite", "satellite", "satellite"],
        "connectivity": pd.array([False, False, False, True], dtype="boolean"),
        "bandwidth_demand_mbps": [20.0, 20.0, 20.0, 20.0],
        "admin1": ["North", "North", None, "South"],
        "new_site": [False, False, True, True],
        "new_site_id": ["", "", "site-00001", "site-00001"],
        "new_site_lead": [False, False, True, False],
        "new_site_operator": ["", "", "Beta", "Beta"],
        "new_site_population": [np.nan, np.nan, 3000.0, np.nan],
    })


def test_hand_worked_investment_case():
    case = investment_case(_hand_table(), ZeroRatingParams())
    by = case.by_operator
    gb_per_user = 73.25 * 180 / 1000  # 13.185
    # learning GB: users 68, 34, 100, 17 (students x 30 % + teachers)
    learning = np.array([68.0, 34.0, 100.0, 17.0]) * gb_per_user
    # Alpha: half of school 0, all of school 1; Beta: half of school 0, schools 2 and 3 (its new site)
    alpha_gb = (learning[0] / 2 + learning[1]) * 0.9
    beta_gb = (learning[0] / 2 + learning[2] + learning[3]) * 0.9
    assert by.loc["Alpha", "zero_rating_gb_per_year"] == pytest.approx(alpha_gb)
    assert alpha_gb == pytest.approx(806.922)
    assert by.loc["Beta", "zero_rating_cost_usd_per_year"] == pytest.approx(beta_gb * 0.9)
    assert by.loc["Beta", "zero_rating_in_kind_usd_per_year"] == pytest.approx(beta_gb * 2.0)
    # lines: school 0 (cellular, shared) and school 2 (new site); school 3 is connected, school 1 satellite
    assert by.loc["Alpha", "line_mbps"] == 10.0
    assert by.loc["Beta", "line_mbps"] == 30.0
    assert by.loc["Beta", "line_revenue_usd_per_year"] == 30 * 34.0
    assert by.loc["Beta", "line_cost_usd_per_year"] == 30 * 4.5
    assert by.loc["Beta", "students_connected"] == 100 + 300
    # the new site: 20,500 + 20,000 + 20,000 capex; (20,500 + 20,000) x 10 % + 1,000 + 650 opex;
    # 3,000 people x 30 % x 2.5 USD x 12 months revenue
    assert by.loc["Beta", "new_site_capex_usd"] == 60_500.0
    assert by.loc["Beta", "new_site_opex_usd_per_year"] == pytest.approx(5_700.0)
    assert by.loc["Beta", "new_site_revenue_usd_per_year"] == pytest.approx(27_000.0)
    assert by.loc["Alpha", "new_sites"] == 0 and by.loc["Beta", "new_sites"] == 1

    # Beta's NPV by an explicit loop: year 0 capex, years 1..10 flows, zero-rating growing 20 %/year, at 15 %
    npv, cumulative, payback = -60_500.0, -60_500.0, None
    for t in range(1, 11):
        flow = (1020 - 135) + (27_000 - 5700) - beta_gb * 0.9 * 1.2 ** (t - 1)
        npv += flow / 1.15**t
        cumulative += flow
        if payback is None and cumulative >= 0:
            payback = t
    assert by.loc["Beta", "operator_npv_usd"] == pytest.approx(npv, abs=0.005)
    assert payback is not None
    assert by.loc["Beta", "payback_year"] == payback
    # Alpha has no capex and pays back in year 1 when its yearly flow is positive, never when it is negative
    alpha_flow = 10 * (34.0 - 4.5) - alpha_gb * 0.9
    assert alpha_flow < 0 and np.isnan(by.loc["Alpha", "payback_year"])
    # the ministry pays the lines each year at 5 %
    ministry = sum(1020 / 1.05**t for t in range(1, 11))
    assert by.loc["Beta", "ministry_package_pv_usd"] == pytest.approx(ministry, abs=0.005)
    assert by.loc["Beta", "ministry_usd_per_student_connected_per_year"] == pytest.approx(1020 / 400)


def test_operators_and_regions_add_up_to_the_nation():
    schools = add_zero_rating(add_new_sites(_random_schools(300, seed=11).assign(
        technology=lambda t: np.where(np.arange(len(t)) % 3 == 0, "cellular", "satellite"),
        admin1=lambda t: np.where(np.arange(len(t)) % 4 == 0, None, np.where(np.arange(len(t)) % 2, "East", "West")),
    )))
    case = investment_case(schools)
    by = case.by_operator
    operators = by.drop(index=ALL_OPERATORS)
    for metric, (_, _, additive) in OPERATOR_METRICS.items():
        if additive:
            assert operators[metric].sum() == pytest.approx(by.loc[ALL_OPERATORS, metric], rel=1e-9, abs=1e-6), metric
    regions = case.by_region
    assert list(regions.index) == ["East", "West", "(no region)"]
    assert regions["schools"].sum() == len(schools)
    for column, metric in (("zero_rating_usd_per_year", "zero_rating_cost_usd_per_year"),
                           ("line_usd_per_year", "line_revenue_usd_per_year"),
                           ("new_site_capex_usd", "new_site_capex_usd"), ("new_sites", "new_sites")):
        assert regions[column].sum() == pytest.approx(by.loc[ALL_OPERATORS, metric], rel=1e-9), column
    # the zero-rating step and the case agree school by school
    np.testing.assert_allclose(case.values["zero_rating_usd_per_year"], schools["zero_rating_usd_per_year"])


def test_operator_subset_keeps_its_figures():
    schools = add_new_sites(_random_schools(200, seed=2).assign(technology="cellular"))
    case = investment_case(schools)
    for operator in case.operators:
        subset = case.for_operator(operator)
        assert len(subset.schools) < len(case.schools)
        mine, national = subset.by_operator.loc[operator], case.by_operator.loc[operator]
        for metric in OPERATOR_METRICS:
            assert mine[metric] == pytest.approx(national[metric], rel=1e-9, abs=1e-9, nan_ok=True), metric
