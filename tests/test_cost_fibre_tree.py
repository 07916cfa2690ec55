"""Shared fibre: the sparse Delaunay graph gives the same minimum spanning tree as the complete graph, and
schools switch to fibre exactly when their share of the tree is cheaper (hand-worked chains)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from connectmap.cost import add_costs, add_shared_fibre
from connectmap.cost.fibre_tree import choose_shared, neighbour_pairs, spanning_tree
from connectmap.geodesy import PointIndex, geodesic_km
from connectmap.parameters.cost import CostParams

GEOD = pyproj.Geod(ellps="WGS84")


def brute_force_tree_length(lon, lat, root_km, max_km, net_lon=(), net_lat=()):
    """Total length of the MST component holding the network, over the complete graph."""
    n = lon.size
    all_lon, all_lat = np.r_[lon, net_lon], np.r_[lat, net_lat]
    i, j = np.triu_indices(all_lon.size, 1)
    d = geodesic_km(all_lon[i], all_lat[i], all_lon[j], all_lat[j])
    i, j = np.where(i >= n, n, i), np.where(j >= n, n, j)  # network points are the network node
    weights = np.zeros((n + 1, n + 1))
    keep = (d <= max_km) & (i != j)
    for a, b, w in zip(i[keep], j[keep], d[keep], strict=True):  # small n: a plain loop is the independent check
        lo, hi = min(a, b), max(a, b)
        weights[lo, hi] = w + 1e-9 if weights[lo, hi] == 0 else min(weights[lo, hi], w + 1e-9)
    for a in np.flatnonzero(root_km <= max_km):
        weights[a, n] = root_km[a] + 1e-9 if weights[a, n] == 0 else min(weights[a, n], root_km[a] + 1e-9)
    tree = minimum_spanning_tree(sp.csr_matrix(weights)).tocoo()
    _, label = connected_components(tree, directed=False)
    in_root = label[tree.row] == label[n]
    return float((tree.data[in_root] - 1e-9).sum()), int((label[:n] == label[n]).sum())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sparse_tree_equals_complete_graph_tree(seed):
    rng = np.random.default_rng(seed)
    n = 250
    lon, lat = rng.uniform(30.0, 30.6, n), rng.uniform(-1.2, -0.7, n)
    lon[:6], lat[:6] = lon[6:12], lat[6:12]  # schools at the same place
    nodes_lon, nodes_lat = rng.uniform(30.0, 30.6, 3), rng.uniform(-1.2, -0.7, 3)
    root_km = PointIndex(nodes_lon, nodes_lat).nearest(lon, lat).distance_km
    net_lon, net_lat = rng.uniform(30.0, 30.6, 4), rng.uniform(-1.2, -0.7, 4)  # schools already on fibre
    max_km = 6.0
    parent, link, depth = spanning_tree(lon, lat, root_km, max_km, net_lon, net_lat)
    expected_length, expected_reached = brute_force_tree_length(lon, lat, root_km, max_km, net_lon, net_lat)
    reached = parent > -2
    assert reached.sum() == expected_reached
    assert np.sum(link[reached]) == pytest.approx(expected_length, rel=1e-9)
    assert np.all(link[reached] <= max_km + 1e-9)
    # depth is one more than the parent's, and every school's parent chain ends at the network
    children = np.flatnonzero(parent >= 0)
    assert np.all(depth[children] == depth[parent[children]] + 1)
    assert np.all(depth[parent == -1] == 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_tree_over_schools_spread_over_the_world_equals_complete_graph_tree(seed):
    """Schools on every continent (no stereographic projection holds them): the convex-hull triangulation, with
    towns of schools metres apart and a long link limit, gives the complete graph's tree."""
    rng = np.random.default_rng(seed)
    towns_lon, towns_lat = rng.uniform(-180.0, 180.0, 12), rng.uniform(-70.0, 75.0, 12)
    town = rng.integers(0, 12, 360)
    lon = (towns_lon[town] + rng.normal(0.0, 0.15, town.size) + 180.0) % 360.0 - 180.0
    lat = np.clip(towns_lat[town] + rng.normal(0.0, 0.15, town.size), -89.0, 89.0)
    lon[:20], lat[:20] = lon[20:40] + 1e-5, lat[20:40]  # neighbours about a metre apart
    lon[40:43], lat[40:43] = lon[43:46], lat[43:46]  # and at the same place
    root_km = np.where(np.arange(town.size) % 7 == 0, rng.uniform(0.5, 8.0, town.size), np.inf)
    max_km = 30.0
    i, _, _ = neighbour_pairs(lon, lat, max_km)
    assert i.size < 4 * town.size  # a triangulation, not every pair within 30 km
    parent, link, _ = spanning_tree(lon, lat, root_km, max_km)
    expected_length, expected_reached = brute_force_tree_length(lon, lat, root_km, max_km)
    reached = parent > -2
    assert reached.sum() == expected_reached > 100
    assert np.sum(link[reached]) == pytest.approx(expected_length, rel=1e-9)


def test_neighbour_pairs_fall_back_for_collinear_and_tiny_inputs():
    lon = np.array([0.0, 0.01, 0.02, 0.03])  # all on the equator: no triangulation possible
    lat = np.zeros(4)
    i, j, d = neighbour_pairs(lon, lat, 5.0)
    pairs = set(zip(i.tolist(), j.tolist(), strict=True))
    assert {(0, 1), (1, 2), (2, 3)} <= pairs
    assert np.all(d <= 5.0)
    i, j, d = neighbour_pairs(np.array([1.0]), np.array([1.0]), 5.0)
    assert i.size == 0


def test_choose_shared_on_a_hand_made_tree():
    # network <- a <- b <- c, and network <- d; savings: a -1, b +3, c -5, d -2
    parent = np.array([-1, 0, 1, -1])
    depth = np.array([1, 2, 3, 1])
    saving = np.array([-1.0, 3.0, -5.0, -2.0])
    # g(c) = -5; g(b) = 3 + max(0, -5) = 3; g(a) = -1 + 3 = 2 > 0; g(d) = -2
    assert choose_shared(parent, depth, saving).tolist() == [True, True, False, False]
    # unreachable schools (depth -1) never take fibre
    assert choose_shared(np.array([-2]), np.array([-1]), np.array([np.inf])).tolist() == [False]


def chain(spacings_km):
    """A fibre node at (0, 0) and schools eastwards along the equator at the given spacings."""
    positions = np.cumsum(spacings_km) * 1000.0
    lon, _, _ = GEOD.fwd(np.zeros(len(positions)), np.zeros(len(positions)), np.full(len(positions), 90.0), positions)
    return gpd.GeoDataFrame(
        {"source_row": np.arange(2, 2 + len(positions)), "num_students": 100.0,
         "electricity_availability": pd.array([True] * len(positions), dtype="boolean"),
         "fiber_node_distance": positions / 1000.0},
        geometry=gpd.points_from_xy(lon, np.zeros(len(positions))), crs="EPSG:4326",
    )


def simple_params(satellite_usd: float) -> CostParams:
    """Fibre costs 1,000 USD per km of link and nothing else; satellite a flat ``satellite_usd``."""
    p = CostParams()
    p.finance.horizon_years, p.finance.discount_rate_pct, p.finance.refresh_equipment = 1, 0.0, False
    f = p.fibre
    f.cable_usd_per_km, f.route_factor, f.max_link_km, f.cable_maintenance_usd_per_km_per_year = 1_000.0, 1.0, 20.0, 0.0
    f.school_equipment_usd, f.maintenance_usd_per_year, f.bandwidth_usd_per_mbps_per_year = 0.0, 0.0, 0.0
    p.electricity.grid_usd_per_kwh = 0.0
    p.cellular.enabled = p.microwave.enabled = False
    s = p.satellite
    s.terminal_usd, s.maintenance_usd_per_year, s.bandwidth_usd_per_mbps_per_year = satellite_usd, 0.0, 0.0
    return p


def test_chain_all_switch_to_shared_fibre():
    # schools at 5, 10, 15 km from the node; satellite 6,000 USD each
    # independent: 5 km fibre = 5,000 < 6,000; 10 and 15 km fibre dearer than satellite -> 5,000 + 6,000 + 6,000
    # shared: links of 5 km each = 5,000 x 3 = 15,000 < 17,000, every subtree saves -> all fibre
    params = simple_params(6_000.0)
    out = add_shared_fibre(add_costs(chain([5.0, 5.0, 5.0]), params), params)
    assert out["technology"].tolist() == ["fibre", "satellite", "satellite"]
    assert out["npv_usd"].sum() == pytest.approx(17_000.0, abs=1e-6)
    assert out["technology_shared"].tolist() == ["fibre", "fibre", "fibre"]
    np.testing.assert_allclose(out["fibre_link_km_shared"], [5.0, 5.0, 5.0], atol=1e-6)
    assert out["fibre_parent_shared"].tolist() == ["network", "2", "3"]
    assert out["npv_usd_shared"].sum() == pytest.approx(15_000.0, abs=1e-3)


def test_chain_nobody_switches_when_satellite_is_cheap():
    # satellite 4,000: independent all satellite = 12,000; shared chain would cost 15,000.
    # g(3) = 4,000 - 5,000 = -1,000; g(2) = -1,000; g(1) = -1,000: no subtree saves -> nothing changes
    params = simple_params(4_000.0)
    out = add_shared_fibre(add_costs(chain([5.0, 5.0, 5.0]), params), params)
    assert out["technology_shared"].tolist() == ["satellite"] * 3
    assert out["npv_usd_shared"].sum() == pytest.approx(12_000.0, abs=1e-6)
    assert out["fibre_link_km_shared"].isna().all()


def test_chain_only_the_worthwhile_subtree_switches():
    # schools at 5, 10 and 20 km (links 5, 5, 10); satellite 5,500
    # independent: 5,000 (fibre) + 5,500 + 5,500 = 16,000
    # g(3) = 5,500 - 10,000 = -4,500; g(2) = 5,500 - 5,000 + 0 = 500; g(1) = 5,500 - 5,000 + 500 = 1,000
    # -> schools 1 and 2 on shared fibre, school 3 keeps satellite: 5,000 + 5,000 + 5,500 = 15,500
    params = simple_params(5_500.0)
    out = add_shared_fibre(add_costs(chain([5.0, 5.0, 10.0]), params), params)
    assert out["technology_shared"].tolist() == ["fibre", "fibre", "satellite"]
    assert out["npv_usd"].sum() == pytest.approx(16_000.0, abs=1e-6)
    assert out["npv_usd_shared"].sum() == pytest.approx(15_500.0, abs=1e-3)


def test_a_school_nothing_else_connects_joins_the_tree_only_where_savings_pay_for_it():
    # schools at 5, 24, 29 and 34 km; fibre up to 20 km a link; school 2 needs 200 Mbps (4,000 students x 0.05),
    # more than a satellite terminal's 150, and is 24 km from the node: nothing connects it on its own.
    # satellite 20,000: independent 5,000 (fibre) + 0 (not connectable) + 20,000 + 20,000 = 45,000
    # tree links 5, 19, 5, 5: s = 0, 0 - 19,000, 20,000 - 5,000, 20,000 - 5,000
    # g(4) = 15,000; g(3) = 30,000; g(2) = -19,000 + 30,000 = 11,000 > 0; g(1) = 11,000 -> all on shared fibre
    params = simple_params(20_000.0)
    schools = chain([5.0, 19.0, 5.0, 5.0])
    schools.loc[1, "num_students"] = 4_000.0
    out = add_shared_fibre(add_costs(schools, params), params)
    assert out["technology"].fillna("-").tolist() == ["fibre", "-", "satellite", "satellite"]
    assert out["cost_status"].iloc[1] == "not_connectable"
    assert out["technology_shared"].tolist() == ["fibre"] * 4
    assert out["fibre_parent_shared"].tolist() == ["network", "2", "3", "4"]
    np.testing.assert_allclose(out["npv_usd_shared"], [5_000.0, 19_000.0, 5_000.0, 5_000.0], atol=1e-3)
    assert out["npv_usd"].sum() == pytest.approx(45_000.0, abs=1e-6)
    # satellite 10,000: g(2) = -19,000 + 2 x 5,000 < 0 -> the path is not worth it, school 2 stays unconnected
    params = simple_params(10_000.0)
    out = add_shared_fibre(add_costs(schools, params), params)
    assert out["technology_shared"].fillna("-").tolist() == ["fibre", "-", "satellite", "satellite"]
    assert out["npv_usd_shared"].sum() == pytest.approx(out["npv_usd"].sum(), abs=1e-6)


def test_shared_is_never_dearer_than_independent():
    rng = np.random.default_rng(5)
    n = 1_500
    lon, lat = rng.uniform(10, 10.5, n), rng.uniform(5, 5.5, n)
    node_lon, node_lat = rng.uniform(10, 10.5, 4), rng.uniform(5, 5.5, 4)
    schools = gpd.GeoDataFrame(
        {"num_students": rng.integers(50, 1_500, n).astype(float),
         "electricity_availability": pd.array(rng.random(n) < 0.5, dtype="boolean"),
         "fiber_node_distance": PointIndex(node_lon, node_lat).nearest(lon, lat).distance_km,
         "covered_LTE": pd.array(rng.random(n) < 0.3, dtype="boolean")},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326",
    )
    params = CostParams()
    params.fibre.cable_usd_per_km = 5_000.0  # the low-cost value: makes sharing worthwhile for some schools
    out = add_shared_fibre(add_costs(schools, params), params)
    assert out["npv_usd_shared"].sum() <= out["npv_usd"].sum() + 1e-6
    switched = out["technology_shared"].eq("fibre") & out["technology"].ne("fibre")
    assert switched.any()
    # a school on shared fibre pays exactly the fibre formula for its link length
    link = out.loc[switched, "fibre_link_km_shared"].to_numpy()
    assert np.all(link <= params.fibre.max_link_km)
    # every parent of a shared-fibre school is on shared fibre too
    parents = out.loc[out["technology_shared"].eq("fibre"), "fibre_parent_shared"]
    by_row = dict(zip(out.index.astype(str), out["technology_shared"], strict=True))
    assert all(p == "network" or by_row[p] == "fibre" for p in parents)
    # switching off economies of scale repeats the independent result
    params.fibre.economies_of_scale = False
    off = add_shared_fibre(add_costs(schools, params), params)
    np.testing.assert_array_equal(off["npv_usd_shared"].to_numpy(), off["npv_usd"].to_numpy())


def test_one_school_and_schools_already_on_fibre():
    # a single school (the smallest tree) takes shared fibre through a school already on fibre 0.11 km away
    params = simple_params(6_000.0)
    schools = gpd.GeoDataFrame(
        {"source_row": [2, 3], "num_students": [100.0, 100.0],
         "electricity_availability": pd.array([True, True], dtype="boolean"),
         "connectivity": pd.array([None, True], dtype="boolean"),
         "connectivity_type_govt": [None, "Fibre optic"],
         "fiber_node_distance": [30.0, 30.0]},
        geometry=gpd.points_from_xy([0.0, 0.001], [0.0, 0.0]), crs="EPSG:4326",
    )
    out = add_shared_fibre(add_costs(schools, params), params)
    # independent: fibre is 30 km away (beyond 20 km) -> satellite 6,000; shared: 0.1113 km x 1,000 = 111.32
    assert out["technology"].iloc[0] == "satellite"
    assert out["technology_shared"].iloc[0] == "fibre"
    assert out["fibre_link_km_shared"].iloc[0] == pytest.approx(float(geodesic_km(0.0, 0.0, 0.001, 0.0)), abs=1e-9)
    assert out["npv_usd_shared"].iloc[0] == pytest.approx(111.32, abs=0.01)
    assert out["fibre_parent_shared"].iloc[0] == "network"
    assert out["cost_status"].iloc[1] == "already_connected" and pd.isna(out["technology_shared"].iloc[1])
