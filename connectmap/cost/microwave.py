"""Point-to-point microwave: the fibre-backhauled tower each school could link to, with a line-of-sight check.

A tower site counts as **fibre-backhauled** when it is within ``cost.microwave.backhaul_max_fibre_km`` of a
fibre node or line (WGS84 geodesic distance). Each school links to its nearest backhauled site within
``cost.microwave.max_range_km`` (exact ellipsoidal nearest, :class:`connectmap.geodesy.PointIndex`).

With a DEM, the path to that site is checked for line of sight; when terrain blocks it, the next nearest
backhauled sites in range are tried (up to ``cost.microwave.candidate_sites``). At each elevation sample at
distances ``d1`` from the school and ``d2`` from the tower (metres, ``d = d1 + d2``)::

    line of sight height = (z_school + h_school) + ((z_tower + h_tower) - (z_school + h_school)) x d1 / d
    earth bulge          = d1 x d2 / (2 x k x 6,371,000)           (k = cost.microwave.k_factor, 4/3)
    Fresnel radius F1    = sqrt(wavelength x d1 x d2 / d)           (wavelength = c / cost.microwave.frequency_ghz)
    clear when  terrain + earth bulge + fresnel_clearance x F1  <=  line of sight height   at every sample

(``fresnel_clearance`` = 0.6, the ITU-R P.530 criterion; ``h_tower`` from the tower list's ``height_m`` or
``cost.microwave.tower_antenna_height_m``.) Samples outside the DEM or on nodata are skipped; a path whose ends
are outside the DEM is ``not_checked``, and, as without a DEM, assumed clear — ``microwave_los`` says which.

Distances from tower sites to fibre lines use :class:`connectmap.geodesy.PolylineIndex` (the same exact geodesic
point-to-line distance as the fibre enrichment), to nodes :class:`connectmap.geodesy.PointIndex`.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from connectmap.columns import TOWER_HEIGHT_M, TOWER_SITE_ID, describe
from connectmap.cost.choose import Reason
from connectmap.cost.inputs import MICROWAVE_DISTANCE, MICROWAVE_REASON
from connectmap.geodesy import PointIndex, PolylineIndex, geodesic_km, unit_vectors
from connectmap.io.dem import ElevationProfiles, read_elevation_profiles
from connectmap.io.fibre import in_service
from connectmap.parameters.cost import CostParams, MicrowaveParams
from connectmap.table import coordinates, replace_columns

log = logging.getLogger(__name__)

MICROWAVE_SITE = describe(
    "microwave_site_id", "Tower site chosen for the school's microwave link (empty: none)", "text"
)
MICROWAVE_LOS = describe(
    "microwave_los",
    "Line of sight to the chosen site: clear or not_checked (no DEM, or the path leaves the DEM); empty: no link",
    "text",
)
MICROWAVE_SITE_FIBRE = describe(
    "microwave_site_fibre_km", "Distance from the chosen tower site to the fibre network (its backhaul)", "km"
)
MICROWAVE_COLUMNS = (MICROWAVE_SITE, MICROWAVE_DISTANCE, MICROWAVE_LOS, MICROWAVE_SITE_FIBRE, MICROWAVE_REASON)

SPEED_OF_LIGHT_M_S = 299_792_458.0
EARTH_RADIUS_M = 6_371_008.8


def line_of_sight(
    profiles: ElevationProfiles,
    school_height_m: NDArray[np.float64] | float,
    site_height_m: NDArray[np.float64] | float,
    params: MicrowaveParams,
) -> NDArray[np.float64]:
    """Check each profile (school at fraction 0, site at fraction 1): 1.0 clear, 0.0 blocked, NaN unknown.

    Unknown when either end has no elevation, or no interior sample has one.
    """
    elevation = profiles.elevation_m
    fractions = profiles.fractions
    length_m = profiles.distance_km[:, None] * 1000.0
    start = elevation[:, 0:1] + np.asarray(school_height_m, dtype=np.float64).reshape(-1, 1)
    end = elevation[:, -1:] + np.asarray(site_height_m, dtype=np.float64).reshape(-1, 1)
    interior = slice(1, len(fractions) - 1)
    f = fractions[None, interior]
    d1 = f * length_m
    d2 = (1.0 - f) * length_m
    sight = start + (end - start) * f
    bulge = d1 * d2 / (2.0 * params.k_factor * EARTH_RADIUS_M)
    wavelength = SPEED_OF_LIGHT_M_S / (params.frequency_ghz * 1e9)
    with np.errstate(invalid="ignore", divide="ignore"):
        fresnel = np.sqrt(wavelength * d1 * d2 / length_m)
    margin = sight - (elevation[:, interior] + bulge + params.fresnel_clearance * fresnel)
    blocked = np.any(margin < 0.0, axis=1)  # NaN samples compare false: skipped
    known = np.isfinite(elevation[:, 0]) & np.isfinite(elevation[:, -1]) & np.any(np.isfinite(margin), axis=1)
    return np.where(known, np.where(blocked, 0.0, 1.0), np.nan)


def _sites(towers: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """One row per tower site: site_id, lon, lat, height_m (the tallest of its rows)."""
    if towers is None or len(towers) == 0:
        return pd.DataFrame({"site_id": [], "lon": [], "lat": [], "height_m": []})
    points = towers.geometry
    if towers.crs is not None and not towers.crs.equals("EPSG:4326"):
        points = points.to_crs("EPSG:4326")
    geometry = points.to_numpy()
    ok = ~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)
    site_id = towers[TOWER_SITE_ID] if TOWER_SITE_ID in towers.columns else pd.Series(towers.index, index=towers.index)
    height = (
        pd.to_numeric(towers[TOWER_HEIGHT_M], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if TOWER_HEIGHT_M in towers.columns else np.full(len(towers), np.nan)
    )
    frame = pd.DataFrame(
        {
            "site_id": site_id.astype("str").to_numpy(dtype=object)[ok],
            "lon": shapely.get_x(geometry[ok]),
            "lat": shapely.get_y(geometry[ok]),
            "height_m": height[ok],
        }
    )
    return frame.groupby("site_id", sort=False).agg(lon=("lon", "first"), lat=("lat", "first"),
                                                    height_m=("height_m", "max")).reset_index()


def _fibre_layers(
    fibre: Any, statuses: list[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]:
    """Node longitudes, latitudes and line geometries (EPSG:4326) that can backhaul a tower.

    ``fibre`` is a FibreNetwork (``.nodes``, ``.lines``) or a GeoDataFrame of points and lines; only features
    :func:`connectmap.io.fibre.in_service` keeps for ``statuses`` count.
    """
    frames = [fibre] if isinstance(fibre, gpd.GeoDataFrame) else [getattr(fibre, "nodes", None),
                                                                   getattr(fibre, "lines", None)]
    geoms = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        series = frame.geometry[in_service(frame, statuses)]
        if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
            series = series.to_crs("EPSG:4326")
        geoms.append(series.to_numpy())
    geometry = np.concatenate(geoms) if geoms else np.empty(0, dtype=object)
    geometry = geometry[~shapely.is_missing(geometry) & ~shapely.is_empty(geometry)]
    kinds = shapely.get_type_id(geometry)
    points = geometry[np.isin(kinds, (0, 4))]
    nodes = shapely.get_coordinates(points) if points.size else np.empty((0, 2))
    lines = geometry[np.isin(kinds, (1, 2, 5))]
    return nodes[:, 0], nodes[:, 1], lines


def _has_features(fibre: Any) -> bool:
    """Whether a fibre layer (GeoDataFrame or FibreNetwork) holds any feature at all, usable or not."""
    if fibre is None:
        return False
    frames = [fibre] if isinstance(fibre, gpd.GeoDataFrame) else [getattr(fibre, "nodes", None),
                                                                   getattr(fibre, "lines", None)]
    return any(frame is not None and len(frame) > 0 for frame in frames)


def distance_to_lines_km(
    lon: NDArray[np.float64], lat: NDArray[np.float64], lines: NDArray[np.object_]
) -> NDArray[np.float64]:
    """Geodesic distance (km) from points to the nearest of ``lines`` (NaN when there are none)."""
    if lines.size == 0:
        return np.full(lon.shape, np.nan)
    return PolylineIndex(lines, spacing_km=1.0).nearest(lon, lat).distance_km


def _candidates(
    site_lon: NDArray, site_lat: NDArray, lon: NDArray, lat: NDArray, count: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Up to ``count`` nearest sites per school, sorted by geodesic distance: indices (-1 none) and km."""
    exact = PointIndex(site_lon, site_lat).nearest(lon, lat)
    if count == 1 or len(site_lon) == 1:
        return exact.index[:, None], exact.distance_km[:, None]
    k = min(count + 2, len(site_lon))
    tree = cKDTree(unit_vectors(site_lon, site_lat))
    ok = np.isfinite(lon) & np.isfinite(lat)
    index = np.full((lon.size, k), -1, dtype=np.int64)
    _, found = tree.query(unit_vectors(lon[ok], lat[ok]), k=list(range(1, k + 1)), workers=-1)
    index[ok] = found
    index[ok, 0] = exact.index[ok]  # the exact ellipsoidal nearest comes first
    distance = np.where(
        index >= 0,
        geodesic_km(lon[:, None], lat[:, None], site_lon[np.maximum(index, 0)], site_lat[np.maximum(index, 0)]),
        np.inf,
    )
    duplicate = np.zeros_like(index, dtype=bool)
    duplicate[:, 1:] = index[:, 1:] == index[:, :1]
    distance[duplicate] = np.inf
    order = np.argsort(distance[:, 1:], axis=1, kind="stable") + 1
    index[:, 1:] = np.take_along_axis(index, order, axis=1)
    distance[:, 1:] = np.take_along_axis(distance, order, axis=1)
    index, distance = index[:, :count], distance[:, :count]
    index[~np.isfinite(distance)] = -1
    distance[index < 0] = np.nan
    return index, distance


def add_microwave_options(
    schools: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame | None,
    fibre: Any,
    dem: Any = None,
    params: CostParams | None = None,
) -> gpd.GeoDataFrame:
    """Return ``schools`` with the fibre-backhauled tower each could reach by microwave.

    Parameters
    ----------
    schools
        School table (EPSG:4326 points, or longitude/latitude columns).
    towers
        Tower sites from :func:`connectmap.io.read_towers` (one row per site and technology; ``site_id``,
        ``height_m`` and point geometry are used), or ``None``.
    fibre
        A :class:`connectmap.io.FibreNetwork` (``.nodes`` and ``.lines``) or a GeoDataFrame of fibre points and
        lines, or ``None``.
    dem
        Path of an elevation GeoTIFF for the line-of-sight check, or ``None`` (line of sight not checked).
    params
        Cost parameters (defaults when ``None``).

    Returns
    -------
    GeoDataFrame
        ``schools`` plus ``microwave_site_id``, ``microwave_distance_km``, ``microwave_los``,
        ``microwave_site_fibre_km`` and ``microwave_reason`` ("" where a link is possible, else a
        :class:`~connectmap.cost.Reason` value), which :func:`connectmap.cost.add_costs` reads.
    """
    p = (params or CostParams()).microwave
    size = len(schools)
    lon, lat = coordinates(schools)
    located = np.isfinite(lon) & np.isfinite(lat)
    site_id = np.full(size, None, dtype=object)
    distance = np.full(size, np.nan)
    site_fibre = np.full(size, np.nan)
    los = np.full(size, None, dtype=object)
    reason = np.full(size, "", dtype=object)

    sites = _sites(towers)
    node_lon, node_lat, lines = (
        _fibre_layers(fibre, p.backhaul_fibre_statuses) if fibre is not None
        else (np.empty(0), np.empty(0), np.empty(0, dtype=object))
    )
    if sites.empty:
        reason[:] = Reason.NO_TOWER_DATA.value
    elif not _has_features(fibre):
        reason[:] = Reason.NO_FIBRE_DATA.value
    else:
        s_lon, s_lat = sites["lon"].to_numpy(), sites["lat"].to_numpy()
        to_fibre = np.fmin(
            PointIndex(node_lon, node_lat).nearest(s_lon, s_lat).distance_km if node_lon.size else np.nan,
            distance_to_lines_km(s_lon, s_lat, lines),
        )
        # fmin of NaN and NaN is NaN (no usable fibre at all), which compares false: no site is backhauled
        backhauled = np.flatnonzero(to_fibre <= p.backhaul_max_fibre_km)
        log.info("%d of %d tower sites are within %.3g km of fibre", backhauled.size, len(sites),
                 p.backhaul_max_fibre_km)
        reason[~located] = Reason.LOCATION_UNKNOWN.value
        if backhauled.size == 0:
            reason[located] = Reason.NO_FIBRE_BACKHAULED_SITE.value
        else:
            count = p.candidate_sites if dem is not None else 1
            cand, cand_km = _candidates(s_lon[backhauled], s_lat[backhauled], lon, lat, count)
            in_range = (cand >= 0) & (cand_km <= p.max_range_km)
            chosen = np.full(size, -1, dtype=np.int64)
            chosen_los = np.full(size, None, dtype=object)
            if dem is None:
                pick = in_range[:, 0]
                chosen[pick] = 0
                chosen_los[pick] = "not_checked"
            else:
                fallback = np.full(size, -1, dtype=np.int64)
                heights = sites["height_m"].to_numpy(dtype=np.float64)[backhauled]
                heights = np.where(np.isfinite(heights), heights, p.tower_antenna_height_m)
                for rank in range(cand.shape[1]):
                    todo = np.flatnonzero((chosen < 0) & in_range[:, rank])
                    if todo.size == 0:
                        continue
                    target = cand[todo, rank]
                    profiles = read_elevation_profiles(
                        dem, lon[todo], lat[todo], s_lon[backhauled][target], s_lat[backhauled][target],
                        max_samples=p.max_profile_samples,
                    )
                    clear = line_of_sight(profiles, p.school_antenna_height_m, heights[target], p)
                    is_clear = clear == 1.0
                    chosen[todo[is_clear]] = rank
                    chosen_los[todo[is_clear]] = "clear"
                    unknown = todo[np.isnan(clear)]
                    fallback[unknown] = np.where(fallback[unknown] < 0, rank, fallback[unknown])
                use_fallback = (chosen < 0) & (fallback >= 0)
                chosen[use_fallback] = fallback[use_fallback]
                chosen_los[use_fallback] = "not_checked"
            rows = np.flatnonzero(chosen >= 0)
            pick = cand[rows, chosen[rows]]
            site_id[rows] = sites["site_id"].to_numpy(dtype=object)[backhauled][pick]
            distance[rows] = cand_km[rows, chosen[rows]]
            site_fibre[rows] = to_fibre[backhauled][pick]
            los[rows] = chosen_los[rows]
            no_link = located & (chosen < 0)
            any_in_range = in_range.any(axis=1)
            reason[no_link & any_in_range] = Reason.NO_LINE_OF_SIGHT.value
            reason[no_link & ~any_in_range] = Reason.BEYOND_MAX_MICROWAVE_RANGE.value
    columns = {
        MICROWAVE_SITE: pd.array(site_id, dtype="str"),
        MICROWAVE_DISTANCE: distance,
        MICROWAVE_LOS: pd.array(los, dtype="str"),
        MICROWAVE_SITE_FIBRE: site_fibre,
        MICROWAVE_REASON: pd.array(reason, dtype="str"),
    }
    return replace_columns(schools, columns)
