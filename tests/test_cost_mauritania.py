"""The cost model on real Mauritania data: the 2017 school register, the towers named in it and the WATRA fibre
network, through the real readers, validation and enrichment.

Every school gets a technology or a reason for each of the four technologies, and the totals by wilaya (admin1)
reconcile with the per-school rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connectmap import cost
from connectmap.enrich import add_coverage, add_fibre
from connectmap.io import read_boundaries, read_fibre, read_schools, read_towers
from connectmap.parameters.cost import COST_TECHNOLOGIES, CostParams
from connectmap.validate import validate_schools
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def enriched():
    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    schools = read_schools(register, columns={"admin1": "Wilaya", "admin2": "Moughataa"})
    outline = read_boundaries(shared_file("mauritania", "ne10m_MRT_admin0.geojson"))
    clean = validate_schools(schools, boundary=outline).clean
    towers = read_towers(shared_file("mauritania", "mauritania_towers_from_register.csv"))
    fibre = read_fibre([shared_file("mauritania", "MRT_nodes.geojson"), shared_file("mauritania", "MRT_lines.geojson")])
    table = add_fibre(add_coverage(clean, towers=towers), fibre)
    return cost.add_microwave_options(table, towers, fibre), towers, fibre


def reasons_by_technology(text: str) -> dict[str, str]:
    return dict(pair.split(":") for pair in text.split(";") if pair)


@pytest.mark.parametrize("satellite", [True, False])
def test_every_school_gets_a_technology_or_four_reasons(enriched, satellite):
    table, _, _ = enriched
    params = CostParams()
    params.satellite.enabled = satellite
    costed = cost.add_costs(table, params)
    assert len(costed) == len(table) == 2_939  # the register's schools after validation (3 footer rows rejected)
    for row in costed.itertuples():
        reasons = reasons_by_technology(row.infeasible_reasons)
        if pd.isna(row.technology):
            assert set(reasons) == set(COST_TECHNOLOGIES), row.source_row
        else:
            assert row.technology not in reasons and np.isfinite(row.npv_usd), row.source_row
    if not satellite:
        # without satellite most schools have no way in, and say why for all four technologies
        stuck = costed[costed["technology"].isna()]
        assert len(stuck) > 1_000
        assert (stuck["infeasible_reasons"].str.contains("satellite:technology_disabled")).all()
    # no LTE in the 2017 tower list: cellular never covers a school
    assert costed["infeasible_reasons"].str.contains("cellular:no_coverage").all()


def test_fibre_and_microwave_follow_the_distances(enriched):
    table, _, fibre = enriched
    costed = cost.add_costs(table)
    far = costed["fiber_node_distance"] > 20.0
    fibre_reason = costed["infeasible_reasons"].map(lambda t: reasons_by_technology(t).get("fibre", ""))
    assert (fibre_reason[far] == "beyond_max_fibre_distance").all()
    assert (fibre_reason[~far] == "").all()
    np.testing.assert_array_equal(costed["fibre_distance_km"], costed["fiber_node_distance"])
    linked = costed["microwave_reason"].fillna("") == ""
    assert linked.sum() > 100
    assert (costed.loc[linked, "microwave_distance_km"] <= 35.0).all()
    assert (costed.loc[linked, "microwave_site_fibre_km"] <= 1.0).all()
    # the backhaul check, independently: each chosen site is within ~1 km of a fibre node or line in UTM metres
    sites = costed.loc[linked, "microwave_site_id"].unique()
    towers = enriched[1]
    chosen = towers[towers["site_id"].isin(sites)].drop_duplicates("site_id").to_crs("EPSG:32628")
    network = pd.concat([fibre.nodes.geometry, fibre.lines.geometry]).to_crs("EPSG:32628")
    nearest_m = chosen.geometry.apply(lambda point: network.distance(point).min())
    assert (nearest_m <= 1_005.0).all()  # UTM distortion in Mauritania stays well under 0.5 %


def test_totals_by_wilaya_reconcile_with_the_schools(enriched):
    table, _, _ = enriched
    costed = cost.add_shared_fibre(cost.add_costs(table))
    summary = cost.summarise(costed)
    regions = summary[summary["admin1"] != "Total"].set_index("admin1")
    total = summary[summary["admin1"] == "Total"].iloc[0]
    assert len(regions) == 13  # the 13 wilayas of the register
    by_hand = costed[costed["cost_status"] == "connectable"].groupby("admin1").agg(
        connectable=("npv_usd", "size"), npv_usd=("npv_usd", "sum"), capex_usd=("capex_usd", "sum"),
        opex_usd_per_year=("opex_usd_per_year", "sum"), tco_usd=("tco_usd", "sum"),
        students=("num_students", "sum"),
    )
    for column in ("connectable", "npv_usd", "capex_usd", "opex_usd_per_year", "tco_usd"):
        np.testing.assert_allclose(regions[column].to_numpy(), by_hand.loc[regions.index, column].to_numpy(),
                                   rtol=1e-12)
        assert total[column] == pytest.approx(regions[column].sum(), rel=1e-12)
    assert total["npv_usd"] == pytest.approx(costed["npv_usd"].sum(), rel=1e-12)
    assert total["schools"] == 2_939
    counts = costed["technology"].value_counts()
    for tech in COST_TECHNOLOGIES:
        assert total[f"schools_{tech}"] == counts.get(tech, 0)
    # shared fibre never costs more, region by region
    assert (regions["npv_usd_shared"] <= regions["npv_usd"] + 1e-6).all()


def test_rollout_on_mauritania_stays_within_budget(enriched):
    table, _, _ = enriched
    params = CostParams()
    params.plan.budget_usd = 5_000_000.0
    costed = cost.add_costs(table, params)
    rollout = cost.plan_rollout(costed, params)
    assert rollout.years["spent_usd"].sum() <= 5_000_000.0 + 1e-6
    assert rollout.years["cumulative_spend_usd"].iloc[-1] == pytest.approx(rollout.years["spent_usd"].sum())
    assert rollout.schools["cumulative_students"].is_monotonic_increasing
    assert 0 < len(rollout.schools) < len(costed)
