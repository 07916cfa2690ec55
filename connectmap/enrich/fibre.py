"""Distance from every school to the fibre network: nearest node and nearest line.

Columns added:

* ``fiber_node_distance`` (km, Giga's name) and ``fiber_node_id``: the nearest fibre node (point of presence), by
  ellipsoidal geodesic distance (:class:`connectmap.geodesy.PointIndex`).
* ``fiber_line_distance_km`` and ``fiber_line_id``: the nearest point of any fibre line (route), by geodesic
  distance to segments taken as great-circle arcs between their vertices (:class:`connectmap.geodesy.PolylineIndex`;
  its docstring states the error bound: under 1 m within 20 km of a line, under 2e-5 of the distance beyond).

Only fibre that carries traffic counts (``fibre_statuses``, default operational; unknown status counts): a
microwave site in a WATRA node file or a planned route is not fibre a school can be connected to. All are
NaN/empty when the network has no such nodes (or lines): unknown, not zero.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from connectmap.columns import describe
from connectmap.enrich._common import layer_lonlat, params_or_default, school_lonlat
from connectmap.geodesy import PointIndex, PolylineIndex, prepare_queries
from connectmap.io.fibre import FibreNetwork
from connectmap.parameters.enrich import EnrichParams

log = logging.getLogger(__name__)

FIBER_NODE_DISTANCE = describe("fiber_node_distance", "Geodesic distance to the nearest fibre node (empty = no "
                               "fibre nodes given)", "km")
FIBER_NODE_ID = describe("fiber_node_id", "node_id of the nearest fibre node", "text")
FIBER_LINE_DISTANCE = describe("fiber_line_distance_km", "Geodesic distance to the nearest point of a fibre line "
                               "(empty = no fibre lines given)", "km")
FIBER_LINE_ID = describe("fiber_line_id", "line_id of the nearest fibre line", "text")


def _ids(values: pd.Series, index: np.ndarray, n: int) -> pd.array:
    ids = values.astype("str").to_numpy(dtype=object)
    out = np.full(n, None, dtype=object)
    found = index >= 0
    out[found] = ids[index[found]]
    return pd.array(out, dtype="str")


def add_fibre(schools: pd.DataFrame, fibre: FibreNetwork | None, params: EnrichParams | None = None) -> pd.DataFrame:
    """Add the distance (km) and id of the nearest fibre node and fibre line.

    Parameters
    ----------
    schools
        School table (EPSG:4326 points).
    fibre
        Network from :func:`connectmap.io.read_fibre`; ``None`` leaves every column empty.
    params
        ``fibre_statuses``: which features count (see :func:`connectmap.io.fibre.in_service`: microwave sites,
        and routes whose status is not listed, are left out); ``fibre_densify_spacing_m`` (speed only).

    Returns
    -------
    pandas.DataFrame
        A copy of ``schools`` with the four columns.
    """
    params = params_or_default(params)
    schools = schools.copy()
    lon, lat = school_lonlat(schools)
    n = len(schools)
    if fibre is not None:
        usable = fibre.in_service(params.fibre_statuses)
        left_out = len(fibre.nodes) - len(usable.nodes), len(fibre.lines) - len(usable.lines)
        if any(left_out):
            log.info("fibre: %d nodes and %d lines left out (medium not fibre, or status not in %s)",
                     *left_out, params.fibre_statuses)
        fibre = usable
    nodes = fibre.nodes if fibre is not None else None
    lines = fibre.lines if fibre is not None else None
    have_nodes = nodes is not None and len(nodes) > 0
    have_lines = lines is not None and len(lines) > 0
    # Schools sorted and converted to Earth-centred coordinates once, for both searches.
    queries = prepare_queries(lon, lat) if have_nodes or have_lines else None
    if have_nodes:
        nlon, nlat = layer_lonlat(nodes)
        hit = PointIndex(nlon, nlat).nearest(queries)
        schools[FIBER_NODE_DISTANCE] = hit.distance_km
        schools[FIBER_NODE_ID] = _ids(nodes["node_id"], hit.index, n)
    else:
        schools[FIBER_NODE_DISTANCE] = np.full(n, np.nan)
        schools[FIBER_NODE_ID] = pd.array([None] * n, dtype="str")
    if have_lines:
        index = PolylineIndex(lines.geometry.to_numpy(), spacing_km=params.fibre_densify_spacing_m / 1000.0)
        hit = index.nearest(queries)
        schools[FIBER_LINE_DISTANCE] = hit.distance_km
        schools[FIBER_LINE_ID] = _ids(lines["line_id"], hit.index, n)
    else:
        schools[FIBER_LINE_DISTANCE] = np.full(n, np.nan)
        schools[FIBER_LINE_ID] = pd.array([None] * n, dtype="str")
    log.info("fibre: %d schools, %d nodes, %d lines", n, 0 if nodes is None else len(nodes),
             0 if lines is None else len(lines))
    return schools
