"""Fibre economies of scale: schools that take fibre relay it to their neighbours.

The independent result (:func:`connectmap.cost.add_costs`) costs a separate fibre link from every school to the
network. Here schools can instead connect through a neighbour that has fibre:

1. **Graph.** Nodes are the costed schools that fibre could serve apart from distance (known location, demand
   within capacity, power), plus one *network* node standing for the whole fibre network (and for schools already
   connected by fibre, ``connectivity_type_govt`` mentioning fibre). Each school has an edge to the network of its
   own fibre distance; school-school edges come from the spherical Delaunay triangulation of the schools (computed
   as a planar Delaunay triangulation of their stereographic projection, which preserves circles, so it *is* the
   spherical one; for schools spread over more than 150°, as the convex hull of their unit vectors), weighted by
   ellipsoidal geodesic length. Edges longer than ``cost.fibre.max_link_km`` are dropped. The Delaunay graph
   contains every edge of the minimum spanning tree, so this sparse graph (about 3 edges per school) gives the
   same tree as the complete graph (up to ties within the 0.7 % by which ellipsoidal and spherical lengths can
   disagree).
2. **Tree.** ``scipy.sparse.csgraph.minimum_spanning_tree``, rooted at the network node. Each school's *share* of
   the tree is the link to its parent: its shared fibre cost is the fibre formula with that link's length.
3. **Who switches.** A school's saving is ``s = independent NPV - shared fibre NPV`` (the independent NPV counted
   as 0 when it had no feasible technology: it is then connected only where its subtree's savings pay for it).
   Working up from the leaves, a subtree's value is ``g(v) = s(v) + sum of the positive g(child)``; working down
   from the network, a school takes shared fibre when its parent does and ``g(v) > 0``. This picks, exactly, the
   cheapest set of schools to connect through the tree (a subtree hanging from the network), every other school
   keeping its independent technology — so the shared total is never above the independent total.

Both results are reported: the independent columns stay as they are, the shared ones end in ``_shared``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree, shortest_path
from scipy.spatial import ConvexHull, Delaunay, QhullError

from connectmap.columns import CONNECTIVITY, CONNECTIVITY_TYPE_GOVT, SOURCE_ROW, describe
from connectmap.cost.inputs import CostInputs
from connectmap.cost.model import CAPEX, NPV, OPEX, TCO, TECHNOLOGY, costed_mask
from connectmap.cost.technologies import fibre
from connectmap.geodesy import PointIndex, geodesic_km, unit_vectors
from connectmap.parameters.cost import CostParams
from connectmap.table import boolean_column, coordinates, numeric_column, replace_columns, text_column

log = logging.getLogger(__name__)

TECHNOLOGY_SHARED = describe(
    "technology_shared", "Technology in the shared-fibre result (fibre relayed through neighbouring schools)", "text"
)
CAPEX_SHARED = describe("capex_usd_shared", "Year-0 capital cost in the shared-fibre result", "USD")
OPEX_SHARED = describe("opex_usd_per_year_shared", "Yearly operating cost in the shared-fibre result", "USD/year")
NPV_SHARED = describe("npv_usd_shared", "Net present value in the shared-fibre result", "USD")
TCO_SHARED = describe("tco_usd_shared", "Undiscounted total cost of ownership in the shared-fibre result", "USD")
FIBRE_LINK_SHARED = describe(
    "fibre_link_km_shared",
    "Straight-line length of the fibre link the school builds in the shared result (to its parent); empty: no fibre",
    "km",
)
FIBRE_PARENT_SHARED = describe(
    "fibre_parent_shared",
    "Where the school's shared fibre link goes: 'network', or the source_row of the school it connects through",
    "text",
)
SHARED_COLUMNS = (TECHNOLOGY_SHARED, CAPEX_SHARED, OPEX_SHARED, NPV_SHARED, TCO_SHARED, FIBRE_LINK_SHARED,
                  FIBRE_PARENT_SHARED)

_FIBRE_WORDS = r"fib(?:re|er|ra)|ftt|optic"
# Sparse matrices drop explicit zeros, so zero-length edges (schools at the same point) get this length instead.
_EPSILON_KM = 1e-9


def _stereographic(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Stereographic projection from the antipode of the points' centre; also the largest angle from the centre."""
    xyz = unit_vectors(lon, lat)
    centre = xyz.mean(axis=0)
    norm = np.linalg.norm(centre)
    centre = centre / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(centre[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x_axis = np.cross(helper, centre)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(centre, x_axis)
    local = xyz @ np.column_stack([x_axis, y_axis, centre])
    widest = float(np.degrees(np.arccos(np.clip(local[:, 2].min(), -1.0, 1.0))))
    return local[:, :2] / (1.0 + local[:, 2:3]), widest


def _hull_edges(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.int64] | None:
    """Edges (sorted pairs of positions) of the spherical Delaunay triangulation of distinct points, any spread.

    On a sphere every Delaunay circle is a plane with no point beyond it, so the triangles are facets of the
    convex hull of the points as unit vectors (points spread over less than a hemisphere add a few long facets
    across the open side; they are harmless, edges longer than the link limit are dropped). Points that Qhull
    finds too close to a facet's plane to be a vertex of it (neighbours a few metres apart, whose sag below the
    plane is under its precision) are joined to that facet's corners. ``None`` when there is no hull (all points
    on one great circle).
    """
    try:
        hull = ConvexHull(unit_vectors(lon, lat), qhull_options="Qc")
    except QhullError:
        return None
    faces = hull.simplices
    parts = [faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [0, 2]]]
    if hull.coplanar.size:
        point, facet = hull.coplanar[:, 0], hull.coplanar[:, 1]
        parts.extend(np.column_stack([point, faces[facet, k]]) for k in range(3))
    return np.unique(np.sort(np.concatenate(parts), axis=1), axis=0).astype(np.int64)


def neighbour_pairs(
    lon: NDArray[np.float64], lat: NDArray[np.float64], max_km: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Candidate edges of the minimum spanning tree: Delaunay neighbours within ``max_km``.

    Returns positions ``i < j`` into ``lon``/``lat`` and the ellipsoidal geodesic length in km. Points at the same
    place are joined to each other by zero-length edges. Points spread over more than 150° (a region, a continent,
    the world) are triangulated as the convex hull of their unit vectors instead of a stereographic projection.
    Falls back to every pair within ``max_km`` (exact, more edges) when no triangulation is possible (fewer than 4
    distinct points, or all on one great circle).
    """
    n = lon.size
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    coords = np.column_stack([lon, lat])
    unique, first, inverse = np.unique(coords, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    same_i = np.flatnonzero(first[inverse] != np.arange(n))
    dup_i, dup_j = first[inverse[same_i]], same_i
    pairs = None
    if len(unique) >= 4:
        plane, widest = _stereographic(unique[:, 0], unique[:, 1])
        if widest < 150.0:
            try:
                simplices = Delaunay(plane).simplices
                edges = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]])
                edges = np.unique(np.sort(edges, axis=1), axis=0)
                pairs = (first[edges[:, 0]], first[edges[:, 1]])
            except QhullError:
                pairs = None
    if pairs is None and len(unique) >= 4:
        edges = _hull_edges(unique[:, 0], unique[:, 1])
        if edges is not None:
            pairs = (first[edges[:, 0]], first[edges[:, 1]])
    if pairs is None:
        a, b, _ = PointIndex(unique[:, 0], unique[:, 1]).pairs_within(max_km)
        pairs = (first[a], first[b])
    i = np.concatenate([pairs[0], dup_i]).astype(np.int64)
    j = np.concatenate([pairs[1], dup_j]).astype(np.int64)
    length = geodesic_km(lon[i], lat[i], lon[j], lat[j])
    keep = length <= max_km
    i, j, length = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep]), length[keep]
    return i, j, length


def spanning_tree(
    node_lon: NDArray[np.float64],
    node_lat: NDArray[np.float64],
    root_km: NDArray[np.float64],
    max_km: float,
    network_lon: NDArray[np.float64] | None = None,
    network_lat: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Minimum spanning tree over schools and the fibre network, rooted at the network.

    Parameters
    ----------
    node_lon, node_lat
        The schools that may take fibre.
    root_km
        Each school's distance to the fibre network (NaN: unknown); edges longer than ``max_km`` are dropped.
    max_km
        Longest link.
    network_lon, network_lat
        Extra points that are part of the network (schools already on fibre).

    Returns
    -------
    parent, link_km, depth
        Per school: its parent (a school position, ``-1`` for the network, ``-2`` when not reachable), the length
        of the link to it in km, and its depth in the tree (1 = linked to the network directly; -1 unreachable).
    """
    n = node_lon.size
    extra_lon = np.empty(0) if network_lon is None else np.asarray(network_lon, dtype=np.float64)
    extra_lat = np.empty(0) if network_lat is None else np.asarray(network_lat, dtype=np.float64)
    all_lon = np.concatenate([node_lon, extra_lon])
    all_lat = np.concatenate([node_lat, extra_lat])
    i, j, length = neighbour_pairs(all_lon, all_lat, max_km)
    root = n
    i = np.where(i >= n, root, i)  # extra network points collapse into the network node
    j = np.where(j >= n, root, j)
    direct = np.flatnonzero(root_km <= max_km)
    i = np.concatenate([i, direct])
    j = np.concatenate([j, np.full(direct.size, root)])
    length = np.concatenate([length, root_km[direct]])
    keep = i != j
    lo, hi, length = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep]), length[keep]
    # coo -> csr would add up duplicate edges; keep the shortest of each pair instead
    order = np.lexsort((length, hi, lo))
    lo, hi, length = lo[order], hi[order], length[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
    lo, hi, length = lo[first], hi[first], length[first]
    graph = sp.csr_matrix((length + _EPSILON_KM, (lo, hi)), shape=(n + 1, n + 1))
    tree = minimum_spanning_tree(graph).tocoo()
    _, predecessors = breadth_first_order(tree, root, directed=False, return_predecessors=True)
    hops = shortest_path(tree, directed=False, unweighted=True, indices=root)
    parent = predecessors[:n].astype(np.int64)
    reachable = parent >= 0
    # each school's link is the tree edge to its parent: look it up by its (smaller, larger) end pair
    edge_key = np.minimum(tree.row, tree.col).astype(np.int64) * (n + 1) + np.maximum(tree.row, tree.col)
    order = np.argsort(edge_key)
    rows = np.flatnonzero(reachable)
    wanted = np.minimum(rows, parent[rows]) * (n + 1) + np.maximum(rows, parent[rows])
    found = order[np.searchsorted(edge_key, wanted, sorter=order)]
    link = np.full(n, np.nan)
    link[rows] = tree.data[found] - _EPSILON_KM
    parent = np.where(reachable, np.where(parent == root, -1, parent), -2)
    depth = np.where(reachable, hops[:n], -1).astype(np.int64)
    return parent, np.maximum(link, 0.0), depth


def choose_shared(
    parent: NDArray[np.int64], depth: NDArray[np.int64], saving: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Which schools take fibre through the tree: ``g(v) > 0`` and the parent takes it too (see module docs)."""
    n = parent.size
    value = np.where(depth > 0, saving, -np.inf).astype(np.float64)
    child_sum = np.zeros(n)
    levels = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[levels], np.arange(depth.max(initial=0) + 2))
    # bottom-up: a level's values are final once all deeper levels have added their positive parts
    for level in range(int(depth.max(initial=0)), 0, -1):
        nodes = levels[bounds[level]:bounds[level + 1]]
        value[nodes] = value[nodes] + child_sum[nodes]
        up = nodes[parent[nodes] >= 0]
        np.add.at(child_sum, parent[up], np.maximum(value[up], 0.0))
    selected = np.zeros(n, dtype=bool)
    for level in range(1, int(depth.max(initial=0)) + 1):
        nodes = levels[bounds[level]:bounds[level + 1]]
        parent_ok = np.where(parent[nodes] >= 0, selected[np.maximum(parent[nodes], 0)], True)
        selected[nodes] = parent_ok & (value[nodes] > 0)
    return selected


def add_shared_fibre(schools: pd.DataFrame, params: CostParams | None = None) -> pd.DataFrame:
    """Return the costed ``schools`` with the shared-fibre (economies of scale) result in ``*_shared`` columns.

    Parameters
    ----------
    schools
        Output of :func:`connectmap.cost.add_costs` (with the same ``params``).
    params
        Cost parameters (defaults when ``None``). With ``cost.fibre.economies_of_scale`` off, the shared columns
        repeat the independent result.

    Returns
    -------
    DataFrame or GeoDataFrame
        ``schools`` plus :data:`SHARED_COLUMNS`. ``npv_usd_shared <= npv_usd`` summed over all schools (a school
        no technology connects on its own counts 0 in ``npv_usd`` and is connected through the tree only where
        the savings of its subtree pay for it).
    """
    params = params or CostParams()
    finance = params.finance
    size = len(schools)
    inputs = CostInputs.from_table(schools, params)
    independent_npv = numeric_column(schools, NPV)
    technology = text_column(schools, TECHNOLOGY)
    columns: dict[str, object] = {
        TECHNOLOGY_SHARED: technology.copy(),
        CAPEX_SHARED: numeric_column(schools, CAPEX),
        OPEX_SHARED: numeric_column(schools, OPEX),
        NPV_SHARED: independent_npv.copy(),
        TCO_SHARED: numeric_column(schools, TCO),
        FIBRE_LINK_SHARED: np.full(size, np.nan),
        FIBRE_PARENT_SHARED: np.full(size, None, dtype=object),
    }
    independent_fibre = technology == "fibre"  # keeps its own direct link unless the tree does better
    columns[FIBRE_LINK_SHARED][independent_fibre] = inputs.fibre_distance_km[independent_fibre]
    columns[FIBRE_PARENT_SHARED][independent_fibre] = "network"
    if params.fibre.economies_of_scale and params.fibre.enabled and size:
        lon, lat = coordinates(schools)
        # fibre with a zero-length link tells which schools fibre could serve apart from the distance
        reachable_by_fibre = fibre(inputs, params, distance_km=np.zeros(size)).feasible
        nodes = np.flatnonzero(costed_mask(inputs, params) & inputs.location_known & reachable_by_fibre)
        connected = boolean_column(schools, CONNECTIVITY) == 1.0
        kind = pd.Series(text_column(schools, CONNECTIVITY_TYPE_GOVT), dtype=object).fillna("").astype(str)
        on_fibre = connected & kind.str.contains(_FIBRE_WORDS, case=False, regex=True).to_numpy()
        on_fibre &= inputs.location_known
        on_fibre[nodes] = False
        parent, link_km, depth = spanning_tree(
            lon[nodes], lat[nodes], inputs.fibre_distance_km[nodes], params.fibre.max_link_km,
            lon[on_fibre], lat[on_fibre],
        )
        distance = np.full(size, np.nan)
        distance[nodes] = link_km
        shared = fibre(inputs, params, distance_km=distance)
        shared_npv = shared.npv_usd(finance)[nodes]
        # A school nothing connects on its own costs nothing in the independent result, so it joins the tree only
        # where its subtree's savings pay for its link (the shared total never exceeds the independent one).
        saving = np.nan_to_num(independent_npv[nodes], nan=0.0) - shared_npv
        selected = choose_shared(parent, depth, np.where(np.isnan(saving), -np.inf, saving))
        take = nodes[selected]
        columns[TECHNOLOGY_SHARED][take] = "fibre"
        columns[CAPEX_SHARED][take] = shared.capex_usd()[take]
        columns[OPEX_SHARED][take] = shared.opex_usd_per_year()[take]
        columns[NPV_SHARED][take] = shared.npv_usd(finance)[take]
        columns[TCO_SHARED][take] = shared.tco_usd(finance)[take]
        columns[FIBRE_LINK_SHARED][take] = link_km[selected]
        labels = (
            numeric_column(schools, SOURCE_ROW) if SOURCE_ROW in schools.columns else np.arange(size, dtype=float)
        )
        parent_of_taken = parent[selected]
        parent_rows = labels[nodes[np.maximum(parent_of_taken, 0)]]
        parent_text = np.where(np.isfinite(parent_rows), parent_rows, -1).astype(np.int64).astype(str).astype(object)
        names = np.where(parent_of_taken >= 0, parent_text, "network")
        columns[FIBRE_PARENT_SHARED][take] = names
        log.info(
            "shared fibre: %d schools take fibre (%d through a neighbour); NPV %.0f USD vs %.0f USD independent",
            take.size, int((parent_of_taken >= 0).sum()), np.nansum(columns[NPV_SHARED]), np.nansum(independent_npv),
        )
    columns[TECHNOLOGY_SHARED] = pd.array(columns[TECHNOLOGY_SHARED], dtype="str")
    columns[FIBRE_PARENT_SHARED] = pd.array(columns[FIBRE_PARENT_SHARED], dtype="str")
    return replace_columns(schools, columns)
