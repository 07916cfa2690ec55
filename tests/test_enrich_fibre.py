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
