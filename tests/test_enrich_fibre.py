"""Fibre distances: nearest node by brute force, nearest line against an independent local projection."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import LineString

from connectmap.enrich import add_fibre
from connectmap.io.fibre import FibreNetwork
from tests.conftest import shared_file
from tests.test_enrich_towers import schools_frame

GEOD = pyproj.Geod(ellps="WGS84")


def _aeqd_line_km(lon: float, lat: float, line) -> float:
    """Shapely distance to the geodesically densified line in an azimuthal equidistant projection at the point."""
    aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
    to_local = pyproj.Transformer.from_crs(4326, aeqd, always_xy=True)
    best = np.inf
    for part in getattr(line, "geoms", [line]):
        coords = np.asarray(part.coords)
        pts = [coords[0]]
        for a, b in itertools.pairwise(coords):
            pts.extend(GEOD.npts(a[0], a[1], b[0], b[1], 100))
            pts.append(b)
        pts = np.asarray(pts)
        local = LineString(np.column_stack(to_local.transform(pts[:, 0], pts[:, 1])))
        best = min(best, shapely.distance(shapely.Point(0, 0), local) / 1000.0)
    return best


def test_mauritania_fibre_nodes_and_lines():
    from connectmap.io import read_fibre

    network = read_fibre([shared_file("mauritania", "MRT_nodes.geojson"),
                          shared_file("mauritania", "MRT_lines.geojson")])
    rng = np.random.default_rng(9)
    lon, lat = rng.uniform(-16.5, -5.0, 300), rng.uniform(15.0, 26.0, 300)
    out = add_fibre(schools_frame(lon, lat), network)
    # Nodes: brute force over all nodes.
    nlon, nlat = network.nodes.geometry.x.to_numpy(), network.nodes.geometry.y.to_numpy()
    _, _, d = GEOD.inv(np.repeat(lon, nlon.size), np.repeat(lat, nlon.size), np.tile(nlon, 300), np.tile(nlat, 300))
    matrix = np.asarray(d).reshape(300, nlon.size) / 1000.0
    np.testing.assert_allclose(out["fiber_node_distance"], matrix.min(axis=1), atol=1e-6)
    assert (out["fiber_node_id"].to_numpy() == network.nodes["node_id"].to_numpy()[matrix.argmin(axis=1)]).all()
    # Lines: a sample of 12 schools against the independent projection, every line; within 1 m near the network
    # and within the documented bound (2e-5 of the distance) farther away.
    lines = network.lines.geometry.to_numpy()
    for i in range(12):
        per_line = np.array([_aeqd_line_km(lon[i], lat[i], g) for g in lines])
        ref = per_line.min()
        got = out["fiber_line_distance_km"].iloc[i]
        assert abs(got - ref) <= max(0.001, 2e-5 * ref), (i, got, ref)
        assert out["fiber_line_id"].iloc[i] in set(network.lines["line_id"].to_numpy()[per_line <= ref + 0.001])
    # A line distance is never longer than the distance to the nearest node on it... at least never longer than to
    # any line vertex: every vertex is on a line.
    vertices = shapely.get_coordinates(lines)
    _, _, dv = GEOD.inv(np.repeat(lon, len(vertices)), np.repeat(lat, len(vertices)),
                        np.tile(vertices[:, 0], 300), np.tile(vertices[:, 1], 300))
    assert np.all(out["fiber_line_distance_km"].to_numpy() <= np.asarray(dv).reshape(300, -1).min(axis=1) / 1000 + 1e-9)


def test_no_network_is_unknown_not_zero():
    out = add_fibre(schools_frame([1.0], [1.0]), None)
    assert out[["fiber_node_distance", "fiber_line_distance_km"]].isna().all().all()
    nodes = gpd.GeoDataFrame({"node_id": ["N1"]}, geometry=gpd.points_from_xy([1.0], [1.01]), crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"line_id": pd.Series([], dtype="str")}, geometry=[], crs="EPSG:4326")
    out = add_fibre(schools_frame([1.0, np.nan], [1.0, np.nan]), FibreNetwork(nodes=nodes, lines=lines,
                                                                             rejected=pd.DataFrame()))
    assert out["fiber_node_id"].tolist()[0] == "N1"
    assert abs(out["fiber_node_distance"].iloc[0] - GEOD.inv(1.0, 1.0, 1.0, 1.01)[2] / 1000) < 1e-9
    assert out["fiber_line_distance_km"].isna().all() and np.isnan(out["fiber_node_distance"].iloc[1])


def _network(rng: np.random.Generator) -> FibreNetwork:
    """Nodes and lines of every status and medium, as read_fibre gives them (missing = pd.NA)."""
    statuses = np.array(["operational", "planned", "decommissioned", "underConstruction", None], dtype=object)
    media = np.array(["fibre", "microwave", None], dtype=object)
    n_nodes, n_lines = 60, 12
    nodes = gpd.GeoDataFrame(
        {"node_id": [f"N{i}" for i in range(n_nodes)],
         "status": pd.array(rng.choice(statuses, n_nodes), dtype="string"),
         "medium": pd.array(rng.choice(media, n_nodes), dtype="string")},
        geometry=gpd.points_from_xy(rng.uniform(68, 75, n_nodes), rng.uniform(36, 41, n_nodes)), crs="EPSG:4326")
    starts = np.column_stack([rng.uniform(68, 75, n_lines), rng.uniform(36, 41, n_lines)])
    lines = gpd.GeoDataFrame(
        {"line_id": [f"L{i}" for i in range(n_lines)],
         "status": pd.array(rng.choice(statuses, n_lines), dtype="string"),
         "medium": pd.array(rng.choice(media[[0, 2]], n_lines), dtype="string")},
        # Routes of short segments (random walks of 0.15° steps), so that a segment taken as a great-circle arc and
        # as the ellipsoidal geodesic of the reference are the same line to well under a metre.
        geometry=[LineString(s + np.cumsum(rng.uniform(-0.15, 0.15, (12, 2)), axis=0)) for s in starts],
        crs="EPSG:4326")
    return FibreNetwork(nodes=nodes, lines=lines, rejected=pd.DataFrame())


def test_only_fibre_in_service_counts():
    """Microwave sites, decommissioned and (by default) planned routes are not fibre a school can be connected to;
    features whose status or medium is unknown count. Checked by brute force over the features that should count."""
    from connectmap.parameters.enrich import EnrichParams

    rng = np.random.default_rng(38)
    network = _network(rng)
    lon, lat = rng.uniform(68, 75, 80), rng.uniform(36, 41, 80)  # Tajikistan's latitudes
    for statuses in (["operational"], ["operational", "planned", "underConstruction"]):
        out = add_fibre(schools_frame(lon, lat), network, EnrichParams(fibre_statuses=statuses))
        for layer, distance, ident in ((network.nodes, "fiber_node_distance", "fiber_node_id"),
                                       (network.lines, "fiber_line_distance_km", "fiber_line_id")):
            status, medium = layer["status"].to_numpy(dtype=object), layer["medium"].to_numpy(dtype=object)
            counts = np.array([(s is pd.NA or s in statuses) and (m is pd.NA or m == "fibre")
                               for s, m in zip(status, medium, strict=True)])
            assert 0 < counts.sum() < len(layer)
            kept = layer[counts]
            ids = kept.iloc[:, 0].to_numpy()
            if layer is network.nodes:
                _, _, d = GEOD.inv(np.repeat(lon, len(kept)), np.repeat(lat, len(kept)),
                                   np.tile(kept.geometry.x, lon.size), np.tile(kept.geometry.y, lon.size))
                matrix = np.asarray(d).reshape(lon.size, -1) / 1000.0
            else:
                matrix = np.array([[_aeqd_line_km(x, y, g) for g in kept.geometry]
                                   for x, y in zip(lon, lat, strict=True)])
            np.testing.assert_allclose(out[distance], matrix.min(axis=1), rtol=2e-5, atol=1e-3)  # the stated bound
            assert (out[ident].to_numpy() == ids[matrix.argmin(axis=1)]).all()
    # Planned routes nearer than any operational one: counted only when asked for.
    default = add_fibre(schools_frame(lon, lat), network)
    with_planned = add_fibre(schools_frame(lon, lat), network, EnrichParams(fibre_statuses=["operational", "planned"]))
    assert (with_planned["fiber_line_distance_km"] <= default["fiber_line_distance_km"]).all()
    assert (with_planned["fiber_line_distance_km"] < default["fiber_line_distance_km"] - 1).any()
