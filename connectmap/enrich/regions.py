"""Administrative regions (``admin1``, ``admin2``) of every school from boundary polygons.

A school inside a polygon (boundary included; where polygons overlap, the first in the file) takes its region. A
school outside every polygon -- typically on the coast or a border of a generalised outline -- takes the region
whose outline is nearest (geodesic distance to the polygon's boundary, :class:`connectmap.geodesy.PolylineIndex`)
when that is within ``nearest_region_max_km``, and gets the flag ``region_from_nearest``; farther away the region
stays empty and the flag is ``outside_regions``. ``region_distance_km`` records how far outside it was (0 inside).

Register values are kept where present unless ``keep_register_regions`` is false.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap.columns import ADMIN1, ADMIN2, describe
from connectmap.enrich._common import params_or_default, school_lonlat
from connectmap.geodesy import PolylineIndex
from connectmap.parameters.enrich import EnrichParams
from connectmap.quality import append_flag, flag_code

log = logging.getLogger(__name__)

REGION_DISTANCE = describe("region_distance_km", "Distance from the school to the region polygon it was given "
                           "(0 = inside)", "km")
FLAG_FROM_NEAREST = flag_code(
    "region_from_nearest", "The school lies just outside every region polygon; it takes the nearest region.")
FLAG_OUTSIDE = flag_code(
    "outside_regions", "The school lies farther than nearest_region_max_km from every region polygon (no region).")


def locate_regions(
    boundaries: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, max_km: float
) -> tuple[np.ndarray, np.ndarray]:
    """Polygon position for each point (-1 = none) and the distance (km) to it (0 inside, NaN for none).

    Points outside every polygon take the nearest polygon within ``max_km``.
    """
    n = lon.size
    poly = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    geoms = boundaries.geometry.to_numpy()
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.size or not usable.any():
        return poly, dist
    tree = shapely.STRtree(np.where(usable, geoms, None))
    q, p = tree.query(shapely.points(lon[ok], lat[ok]), predicate="intersects")
    # First polygon in file order for points on shared boundaries or in overlaps.
    order = np.lexsort((p, q))
    q, p = q[order], p[order]
    first = np.r_[True, q[1:] != q[:-1]]
    poly[ok[q[first]]] = p[first]
    dist[ok[q[first]]] = 0.0
    outside = ok[poly[ok] < 0]
    if outside.size:
        outlines = np.where(usable, shapely.boundary(np.where(usable, geoms, None)), None)
        hit = PolylineIndex(outlines, spacing_km=1.0).nearest(lon[outside], lat[outside])
        near = (hit.index >= 0) & (hit.distance_km <= max_km)
        poly[outside[near]] = hit.index[near]
        dist[outside[near]] = hit.distance_km[near]
    return poly, dist


def add_regions(
    schools: pd.DataFrame, boundaries: gpd.GeoDataFrame | None, params: EnrichParams | None = None
) -> pd.DataFrame:
    """Add ``admin1``/``admin2`` from boundary polygons, with flags for schools placed in the nearest region.

    Parameters
    ----------
    schools
        School table (EPSG:4326 points).
    boundaries
        From :func:`connectmap.io.read_boundaries`, with ``admin1`` and/or ``admin2``; ``None`` or a file without
        either column leaves the table unchanged.
    params
        ``keep_register_regions``, ``nearest_region_max_km``.
    """
    params = params_or_default(params)
    fields = [c for c in (ADMIN1, ADMIN2) if boundaries is not None and c in boundaries.columns]
    if not fields:
        if boundaries is not None:
            log.info("regions: the boundaries have no admin1/admin2 field; regions left as they are")
        return schools
    schools = schools.copy()
    lon, lat = school_lonlat(schools)
    poly, dist = locate_regions(boundaries, lon, lat, params.nearest_region_max_km)
    found = poly >= 0
    for column in fields:
        names = boundaries[column].astype("str").to_numpy(dtype=object)
        from_file = np.full(len(schools), None, dtype=object)
        from_file[found] = names[poly[found]]
        if column in schools.columns and params.keep_register_regions:
            current = schools[column].astype("str")
            have = current.notna() & (current.str.strip() != "")
            values = np.where(have.to_numpy(dtype=bool), current.to_numpy(dtype=object), from_file)
        else:
            values = from_file
        schools[column] = pd.array(values, dtype="str")
    schools[REGION_DISTANCE] = dist
    ok = np.isfinite(lon) & np.isfinite(lat)
    schools = append_flag(schools, found & (dist > 0), FLAG_FROM_NEAREST)
    schools = append_flag(schools, ok & ~found, FLAG_OUTSIDE)
    log.info("regions: %d inside a polygon, %d from the nearest, %d outside", int((found & (dist == 0)).sum()),
             int((found & (dist > 0)).sum()), int((ok & ~found).sum()))
    return schools
