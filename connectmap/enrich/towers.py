"""Nearest tower per technology (and per operator) and the number of tower sites within a radius.

Columns added (Giga's names where Giga has them; distances in km, ellipsoidal geodesic on WGS84):

* ``nearest_<TECH>_distance``, ``nearest_<TECH>_id`` for TECH in GSM, UMTS, LTE, NR: the nearest site carrying
  that technology. NaN / empty when the tower table has no site of that technology (never 0).
* ``nearest_<TECH>_distance__<operator>``, ``nearest_<TECH>_id__<operator>``: the same among one operator's sites
  (operator names as column-safe slugs, see :func:`connectmap.enrich._common.operator_slug`); towers whose
  operator is unknown count only in the all-operator columns.
* ``towers_within_<R>km``: distinct sites (any technology, any operator) within R km; a site is one ``site_id``
  (at the position of its first row).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from connectmap.columns import TECHNOLOGIES, describe
from connectmap.enrich._common import layer_lonlat, operator_slug, params_or_default, radius_label, school_lonlat
from connectmap.errors import SchemaError
from connectmap.geodesy import PointIndex, QueryPoints, prepare_queries
from connectmap.parameters.enrich import EnrichParams

log = logging.getLogger(__name__)

for _tech in TECHNOLOGIES:
    describe(f"nearest_{_tech}_distance", f"Geodesic distance to the nearest {_tech} site (empty = no {_tech} "
             "sites in the tower data)", "km")
    describe(f"nearest_{_tech}_id", f"site_id of the nearest {_tech} site", "text")


def nearest_distance_column(technology: str, operator: str | None = None) -> str:
    """Name of the nearest-distance column for a technology, optionally for one operator."""
    base = f"nearest_{technology}_distance"
    return base if operator is None else f"{base}__{operator_slug(operator)}"


def nearest_id_column(technology: str, operator: str | None = None) -> str:
    """Name of the nearest-site-id column for a technology, optionally for one operator."""
    base = f"nearest_{technology}_id"
    return base if operator is None else f"{base}__{operator_slug(operator)}"


def towers_within_column(radius_km: float) -> str:
    """Name of the tower-count column for a radius in km."""
    return describe(f"towers_within_{radius_label(radius_km)}km",
                    f"Distinct tower sites (any technology and operator) within {radius_km:g} km", "count")


def check_towers(towers: pd.DataFrame) -> None:
    """Raise :class:`SchemaError` when the tower table lacks a contract column."""
    missing = [c for c in ("site_id", "technology") if c not in towers.columns]
    if missing or not hasattr(towers, "geometry"):
        raise SchemaError(f"tower table: missing {', '.join(missing) or 'geometry'}; read towers with "
                          "connectmap.io.read_towers")
    unknown = sorted(set(pd.unique(towers["technology"].dropna()).tolist()) - set(TECHNOLOGIES))
    if unknown:
        raise SchemaError(f"tower table, column 'technology': unknown values {unknown}; expected GSM, UMTS, LTE, NR")


def _nearest_into(out: dict[str, object], queries: QueryPoints, tlon: np.ndarray, tlat: np.ndarray,
                  ids: pd.api.extensions.ExtensionArray, rows: np.ndarray, dist_col: str, id_col: str) -> None:
    """Nearest of the tower rows ``rows`` for every school."""
    hit = PointIndex(tlon[rows], tlat[rows]).nearest(queries)
    out[dist_col] = hit.distance_km
    # take() on the string array (no Python loop); -1 (no site) becomes missing.
    out[id_col] = ids.take(np.where(hit.index >= 0, rows[np.maximum(hit.index, 0)], -1), allow_fill=True)


def add_nearest_towers(
    schools: pd.DataFrame, towers: pd.DataFrame | None, params: EnrichParams | None = None
) -> pd.DataFrame:
    """Add nearest-site distance and id per technology (and per operator) and site counts within radii.

    Parameters
    ----------
    schools
        School table (EPSG:4326 points).
    towers
        Tower table from :func:`connectmap.io.read_towers` (one row per site and technology). ``None`` or empty:
        every distance column is NaN and every count is NA (unknown, not zero).
    params
        ``tower_count_radii_km`` and ``per_operator`` are used.

    Returns
    -------
    pandas.DataFrame
        A copy of ``schools`` with the new columns.
    """
    params = params_or_default(params)
    schools = schools.copy()
    lon, lat = school_lonlat(schools)
    n = len(schools)
    out: dict[str, object] = {}
    have = towers is not None and len(towers) > 0
    if have:
        check_towers(towers)
        # Schools sorted and converted to Earth-centred coordinates once, for every search below.
        queries = prepare_queries(lon, lat)
    operator_known = None
    if have:
        # Columns as arrays once; technologies and operators select rows by index, not by copying the table.
        tlon, tlat = layer_lonlat(towers)
        ids = pd.array(towers["site_id"], dtype="str")
        tech_codes, tech_names = pd.factorize(towers["technology"])
        if "operator" in towers.columns:
            op_codes, op_names = pd.factorize(towers["operator"])  # missing operators get -1
            operator_known = op_codes >= 0
    for tech in TECHNOLOGIES:
        dist_col, id_col = nearest_distance_column(tech), nearest_id_column(tech)
        code = list(tech_names).index(tech) if have and tech in list(tech_names) else -2
        rows = np.flatnonzero(tech_codes == code) if have else np.empty(0, dtype=np.int64)
        if not rows.size:
            out[dist_col] = np.full(n, np.nan)
            out[id_col] = pd.array([None] * n, dtype="str")
            continue
        _nearest_into(out, queries, tlon, tlat, ids, rows, dist_col, id_col)
        if params.per_operator and operator_known is not None:
            known = rows[operator_known[rows]]
            for op_code in sorted(np.unique(op_codes[known]), key=lambda c: str(op_names[c])):
                operator = str(op_names[op_code])
                d_col, i_col = nearest_distance_column(tech, operator), nearest_id_column(tech, operator)
                describe(d_col, f"Geodesic distance to the nearest {tech} site of {operator}", "km")
                describe(i_col, f"site_id of the nearest {tech} site of {operator}", "text")
                _nearest_into(out, queries, tlon, tlat, ids, known[op_codes[known] == op_code], d_col, i_col)
    if have:
        # Count distinct sites: a site carrying GSM and LTE is one row per technology in the tower table.
        codes, _ = pd.factorize(towers["site_id"])
        # factorize numbers sites in order of first appearance: a site's first row is where its code first exceeds
        # every earlier code (linear; np.unique would sort).
        seen = np.maximum.accumulate(codes)
        first = np.flatnonzero(np.diff(seen, prepend=-1) > 0)
        missing = np.flatnonzero(codes < 0)
        if missing.size:  # rows without a site_id count as one site, as they always have
            first = np.sort(np.r_[first, missing[0]])
        index = PointIndex(tlon[first], tlat[first])
    for radius in params.tower_count_radii_km:
        column = towers_within_column(radius)
        if not have:
            out[column] = pd.array([pd.NA] * n, dtype="Int64")
            continue
        counts = index.count_within(queries, None, radius)
        out[column] = pd.array(np.where(counts >= 0, counts, 0), dtype="Int64")
        out[column][counts < 0] = pd.NA
    # Operator columns may differ between runs; keep a stable order: all-operator first, then per operator.
    new = pd.DataFrame(out, index=schools.index)
    for column in new.columns:
        schools[column] = new[column]
    log.info("nearest towers: %d schools, %d tower rows", n, 0 if towers is None else len(towers))
    return schools
