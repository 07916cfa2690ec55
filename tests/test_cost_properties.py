"""Invariants of the cost model, checked on tables hypothesis makes up.

* cost never falls as the distance to fibre grows (per technology and for the chosen one);
* NPV at 0 % without refresh equals the undiscounted sum of the yearly cash flows, and in general NPV equals the
  yearly cash flows discounted year by year;
* the chosen technology is never dearer than any feasible one;
* every costed school has a technology or a reason for each of the four technologies.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectmap.cost import Reason, add_costs, yearly_cash_flows
from connectmap.parameters.cost import COST_TECHNOLOGIES, CostParams

MAYBE_BOOL = st.sampled_from([True, False, None])
MICROWAVE_REASONS = ["", "", Reason.BEYOND_MAX_MICROWAVE_RANGE.value, Reason.NO_LINE_OF_SIGHT.value,
                     Reason.NO_FIBRE_BACKHAULED_SITE.value]

school = st.fixed_dictionaries({
    "num_students": st.one_of(st.none(), st.integers(0, 6_000).map(float)),
    "electricity_availability": MAYBE_BOOL,
    "connectivity": MAYBE_BOOL,
    "fiber_node_distance": st.one_of(st.none(), st.floats(0.0, 80.0, allow_nan=False)),
    "covered_LTE": MAYBE_BOOL,
    "covered_NR": MAYBE_BOOL,
    "microwave_distance_km": st.floats(0.0, 35.0, allow_nan=False),
    "microwave_reason": st.sampled_from(MICROWAVE_REASONS),
    "located": st.booleans(),
})


@st.composite
def parameters(draw: st.DrawFn) -> CostParams:
    p = CostParams()
    p.finance.discount_rate_pct = draw(st.floats(0.0, 20.0))
    p.finance.horizon_years = draw(st.integers(1, 30))
    p.finance.refresh_equipment = draw(st.booleans())
    p.cost_connected_schools = draw(st.booleans())
    p.electricity.allow_solar = draw(st.booleans())
    p.electricity.unknown_means_no_power = draw(st.booleans())
    p.fibre.cable_usd_per_km = draw(st.floats(0.0, 50_000.0))
    p.fibre.max_link_km = draw(st.floats(1.0, 60.0))
    p.satellite.capacity_mbps = draw(st.sampled_from([50.0, 150.0, 400.0]))
    for tech in COST_TECHNOLOGIES:
        p.technology(tech).enabled = draw(st.booleans())
    return p


def table(rows: list[dict]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows)
    lon = np.where(frame.pop("located"), np.linspace(-5.0, 5.0, len(frame)), np.nan)
    for name in ("electricity_availability", "connectivity", "covered_LTE", "covered_NR"):
        frame[name] = pd.array(frame[name].tolist(), dtype="boolean")
    frame["fiber_node_distance"] = frame["fiber_node_distance"].astype(float)
    frame["num_students"] = frame["num_students"].astype(float)
    points = gpd.points_from_xy(lon, np.full(len(frame), 10.0))
    return gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")


def as_cost(values: pd.Series | np.ndarray) -> np.ndarray:
    """NaN (infeasible) counts as infinitely expensive."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), np.inf, values)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(rows=st.lists(school, min_size=1, max_size=12), extra_km=st.floats(0.0, 40.0), params=parameters())
def test_cost_never_falls_as_distance_grows(rows, extra_km, params):
    near = table(rows)
    far = near.copy()
    far["fiber_node_distance"] = near["fiber_node_distance"] + extra_km
    a, b = add_costs(near, params), add_costs(far, params)
    for column in ("npv_usd_fibre", "capex_usd_fibre", "npv_usd"):
        assert np.all(as_cost(b[column]) >= as_cost(a[column]) - 1e-6), column
    # microwave distance does not change the microwave price (a fixed hop), so nothing falls there either
    farther_hop = near.copy()
    farther_hop["microwave_distance_km"] = near["microwave_distance_km"] + extra_km
    c = add_costs(farther_hop, params)
    assert np.all(as_cost(c["npv_usd"]) >= as_cost(a["npv_usd"]) - 1e-6)


@PROPERTY
@given(rows=st.lists(school, min_size=1, max_size=12), params=parameters())
def test_npv_at_zero_percent_without_refresh_is_the_undiscounted_sum(rows, params):
    params.finance.discount_rate_pct = 0.0
    params.finance.refresh_equipment = False
    schools = table(rows)
    costed = add_costs(schools, params)
    flows = yearly_cash_flows(schools, params)
    chosen = costed["technology"].notna().to_numpy()
    np.testing.assert_allclose(flows.sum(axis=1).to_numpy()[chosen], costed["npv_usd"].to_numpy()[chosen], rtol=1e-12)
    np.testing.assert_allclose(costed["npv_usd"].to_numpy()[chosen], costed["tco_usd"].to_numpy()[chosen], rtol=1e-12)
    # and capex + opex x H, the Giga total
    expected = costed["capex_usd"] + costed["opex_usd_per_year"] * params.finance.horizon_years
    np.testing.assert_allclose(costed["npv_usd"].to_numpy()[chosen], expected.to_numpy()[chosen], rtol=1e-12)
    assert flows.to_numpy()[~chosen].size == 0 or np.isnan(flows.to_numpy()[~chosen]).all()


@PROPERTY
@given(rows=st.lists(school, min_size=1, max_size=12), params=parameters())
def test_npv_is_the_discounted_yearly_cash_flow(rows, params):
    schools = table(rows)
    costed = add_costs(schools, params)
    flows = yearly_cash_flows(schools, params).to_numpy()
    r = params.finance.discount_rate_pct / 100.0
    discounted = np.nansum(flows * (1.0 + r) ** -np.arange(flows.shape[1]), axis=1)
    chosen = costed["technology"].notna().to_numpy()
    np.testing.assert_allclose(discounted[chosen], costed["npv_usd"].to_numpy()[chosen], rtol=1e-9)
    # undiscounted, the same flows add up to the TCO
    np.testing.assert_allclose(np.nansum(flows, axis=1)[chosen], costed["tco_usd"].to_numpy()[chosen], rtol=1e-9)


@PROPERTY
@given(rows=st.lists(school, min_size=1, max_size=12), params=parameters())
def test_chosen_technology_is_never_dearer_than_a_feasible_one(rows, params):
    costed = add_costs(table(rows), params)
    chosen = as_cost(costed["npv_usd"])
    for tech in COST_TECHNOLOGIES:
        option = as_cost(costed[f"npv_usd_{tech}"])
        assert np.all(chosen <= option + 1e-9), tech
    # and the chosen NPV is exactly that technology's own NPV
    for row in np.flatnonzero(costed["technology"].notna().to_numpy()):
        tech = costed["technology"].iloc[row]
        assert costed["npv_usd"].iloc[row] == costed[f"npv_usd_{tech}"].iloc[row]


@PROPERTY
@given(rows=st.lists(school, min_size=1, max_size=12), params=parameters())
def test_every_school_has_a_technology_or_four_reasons(rows, params):
    costed = add_costs(table(rows), params)
    reasons = {reason.value for reason in Reason}
    for row in costed.itertuples():
        if row.cost_status == "already_connected":
            assert pd.isna(row.technology) and row.infeasible_reasons == ""
            assert bool(row.connectivity) and not params.cost_connected_schools
            continue
        pairs = [pair.split(":") for pair in row.infeasible_reasons.split(";") if pair]
        techs = [tech for tech, _ in pairs]
        assert len(techs) == len(set(techs))
        assert set(techs) <= set(COST_TECHNOLOGIES)
        assert all(reason in reasons for _, reason in pairs)
        if pd.isna(row.technology):
            assert row.cost_status == "not_connectable"
            assert sorted(techs) == sorted(COST_TECHNOLOGIES)
        else:
            assert row.cost_status == "connectable"
            assert row.technology not in techs  # the chosen technology has no reason against it
            for tech in set(COST_TECHNOLOGIES) - set(techs):  # every technology without a reason has a cost
                assert np.isfinite(getattr(row, f"npv_usd_{tech}"))
