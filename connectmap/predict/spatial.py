"""Spatial groups, so that nearby schools never sit on both sides of a validation split.

Schools a few kilometres apart share towers, backbone and often the same survey team, so a model validated on
random folds is tested on near-copies of its training schools and looks better than it is. Grouping schools by
region (``admin1``/``admin2``) or by grid cell and keeping each group within one fold measures how the model does
on places it has not seen — which is how it is used.

Grid cells are squares of ``cell_km`` on a Lambert azimuthal equal-area projection centred on the schools
(pyproj): every cell has the same area, and within 1,000 km of the centre their sides differ from ``cell_km`` by
under 2 %. Cells are a grouping, not a distance, so this projection (not a geodesic) is the right tool here.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyproj
from sklearn.model_selection import StratifiedGroupKFold

from connectmap import columns as C
from connectmap.errors import ModelError, SchemaError

log = logging.getLogger(__name__)

NO_COORDINATES = "no coordinates"


def _lon_lat(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if C.LONGITUDE in table.columns and C.LATITUDE in table.columns:
        lon = pd.to_numeric(table[C.LONGITUDE], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(table[C.LATITUDE], errors="coerce").to_numpy(dtype=float)
        return lon, lat
    geometry = getattr(table, "geometry", None)
    if geometry is not None:
        points = geometry.to_crs(4326) if geometry.crs is not None and geometry.crs.to_epsg() != 4326 else geometry
        return points.x.to_numpy(dtype=float), points.y.to_numpy(dtype=float)
    raise SchemaError("the table has neither latitude/longitude columns nor point geometry; spatial groups need them")


def grid_centre(table: pd.DataFrame) -> tuple[float, float] | None:
    """Centre of the schools (longitude, latitude in degrees), where the grid is anchored; None without points.

    The mean of unit vectors, so a country across the antimeridian is centred correctly. Rounded to 0.01° so the
    value stored in a model card reproduces the same grid.
    """
    lon, lat = _lon_lat(table)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    lam, phi = np.radians(lon[ok]), np.radians(lat[ok])
    x, y, z = np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)
    lon0 = float(np.degrees(np.arctan2(y.mean(), x.mean())))
    lat0 = float(np.degrees(np.arctan2(z.mean(), np.hypot(x.mean(), y.mean()))))
    return round(lon0, 2), round(lat0, 2)


def grid_cells(table: pd.DataFrame, cell_km: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """Label each school with the equal-area grid cell it falls in.

    Parameters
    ----------
    table
        School table with ``latitude``/``longitude`` (degrees) or point geometry.
    cell_km
        Side of the square cells, km.
    centre
        (longitude, latitude) the grid is anchored at; :func:`grid_centre` of ``table`` when not given. A model
        records its training centre so that its test tables are cut into the same cells.

    Returns
    -------
    numpy.ndarray of str
        Labels such as ``"24.37S 25.91E"`` (the cell centre); ``"no coordinates"`` where a school has none.
    """
    lon, lat = _lon_lat(table)
    ok = np.isfinite(lon) & np.isfinite(lat)
    labels = np.full(len(table), NO_COORDINATES, dtype=object)
    if not ok.any():
        return labels
    lon0, lat0 = centre or grid_centre(table) or (0.0, 0.0)
    laea = pyproj.CRS.from_proj4(f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m +no_defs")
    forward = pyproj.Transformer.from_crs(4326, laea, always_xy=True)
    east, north = forward.transform(lon[ok], lat[ok])
    size_m = cell_km * 1000.0
    col = np.floor(np.asarray(east) / size_m)
    row = np.floor(np.asarray(north) / size_m)
    # Name each cell by its centre in degrees, so a person can find it on a map.
    centre_lon, centre_lat = forward.transform((col + 0.5) * size_m, (row + 0.5) * size_m, direction="INVERSE")
    centre_lon, centre_lat = np.asarray(centre_lon), np.asarray(centre_lat)
    ns = np.where(centre_lat < 0, "S", "N")
    ew = np.where(centre_lon < 0, "W", "E")
    names = pd.Series(np.abs(centre_lat)).map("{:.2f}".format) + ns + " " + pd.Series(np.abs(centre_lon)).map(
        "{:.2f}".format) + ew
    labels[ok] = names.to_numpy(dtype=object)
    return labels


def spatial_groups(table: pd.DataFrame, group_by: str, cell_km: float) -> np.ndarray:
    """Group label of each school for validation.

    Parameters
    ----------
    table
        School table.
    group_by
        ``"grid"``, ``"admin1"`` or ``"admin2"``. Schools with no region fall back to their grid cell.
    cell_km
        Grid cell side, km.

    Returns
    -------
    numpy.ndarray of str

    Raises
    ------
    ModelError
        When ``group_by`` names a region column the table does not have.
    """
    cells = grid_cells(table, cell_km)
    if group_by == "grid":
        return cells
    if group_by not in table.columns or table[group_by].isna().all():
        raise ModelError(
            f"group_by = {group_by!r}, but the table has no {group_by} values; use group_by = 'grid' "
            "(--group-by grid) or add regions from admin boundaries"
        )
    regions = table[group_by].astype("string").str.strip()
    regions = regions.mask(regions == "")
    return np.where(regions.isna(), "cell " + pd.Series(cells, index=table.index).astype(str),
                    "region " + regions.fillna("").astype(str)).astype(object)


def spatial_folds(
    y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
) -> tuple[StratifiedGroupKFold, int]:
    """A splitter that keeps every group in one fold and balances the classes across folds.

    Parameters
    ----------
    y
        Labels (0/1).
    groups
        Group label per school.
    n_folds
        Folds wanted; reduced (with a log message) when there are fewer groups.
    seed
        Random seed for the assignment of groups to folds.

    Returns
    -------
    splitter, n_folds
        The splitter and the number of folds it makes.

    Raises
    ------
    ModelError
        When all schools fall in one group.
    """
    n_groups = len(pd.unique(groups))
    if n_groups < 2:
        raise ModelError(
            "all labelled schools fall in one validation group, so the model cannot be tested on places it has "
            "not seen; use smaller grid cells (--cell-km) or group by grid instead of region"
        )
    folds = min(n_folds, n_groups)
    if folds < n_folds:
        log.warning("only %d spatial groups: using %d folds instead of %d", n_groups, folds, n_folds)
    return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed), folds


def report_regions(
    table: pd.DataFrame, cell_km: float, centre: tuple[float, float] | None = None
) -> tuple[np.ndarray, str]:
    """Region of each school for the per-region error table: ``admin1`` when known, else a grid cell.

    Parameters
    ----------
    table
        School table.
    cell_km
        Grid cell side, km, used when the table has no ``admin1``.
    centre
        Grid anchor (see :func:`grid_cells`).

    Returns
    -------
    regions, kind
        Labels per school and what they are (``"admin1"`` or ``"grid cell of N km"``).
    """
    cells = grid_cells(table, cell_km, centre)
    if C.ADMIN1 in table.columns and table[C.ADMIN1].notna().any():
        regions = table[C.ADMIN1].astype("string").str.strip()
        regions = regions.mask(regions == "")
        labels = np.where(regions.isna(), "(no region) " + pd.Series(cells, index=table.index).astype(str),
                          regions.fillna("").astype(str))
        return labels.astype(object), C.ADMIN1
    return cells, f"grid cell of {cell_km:g} km"
