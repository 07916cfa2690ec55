"""Helpers shared by the enrichment steps: school coordinates, column naming, flags, parameter defaults."""

from __future__ import annotations

import re
import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from connectmap.errors import CRSError, SchemaError
from connectmap.parameters.enrich import EnrichParams


def params_or_default(params: EnrichParams | None) -> EnrichParams:
    """The given parameters, or the documented defaults."""
    return params if params is not None else EnrichParams()


def school_lonlat(schools: pd.DataFrame, what: str = "schools") -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude (degrees) of every school; NaN where the school has no usable point.

    The geometry is used when the table has one (EPSG:4326 points, as :mod:`connectmap.validate` leaves them),
    else the ``longitude``/``latitude`` columns.
    """
    if isinstance(schools, gpd.GeoDataFrame) and schools.geometry.name in schools.columns:
        if schools.crs is not None and not schools.crs.equals("EPSG:4326"):
            raise CRSError(f"{what}: the table is in {schools.crs.to_string()}, expected EPSG:4326; reproject it with "
                           "to_crs(4326) or read it with connectmap.io.read_schools")
        geom = schools.geometry.to_numpy()
        lon = shapely.get_x(geom)
        lat = shapely.get_y(geom)
        missing = shapely.is_missing(geom) | shapely.is_empty(geom)
        lon = np.where(missing, np.nan, lon).astype(np.float64)
        lat = np.where(missing, np.nan, lat).astype(np.float64)
        return lon, lat
    if "longitude" not in schools.columns or "latitude" not in schools.columns:
        raise SchemaError(f"{what}: no geometry and no longitude/latitude columns; read the register with "
                          "connectmap.io.read_schools")
    lon = pd.to_numeric(schools["longitude"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lat = pd.to_numeric(schools["latitude"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return lon, lat


def layer_lonlat(layer: gpd.GeoDataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude of a point layer's geometries (NaN for missing or empty)."""
    geom = layer.geometry.to_numpy()
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    lon = np.where(missing, np.nan, shapely.get_x(geom)).astype(np.float64)
    lat = np.where(missing, np.nan, shapely.get_y(geom)).astype(np.float64)
    return lon, lat


def operator_slug(name: object) -> str:
    """Column-safe operator name: ASCII lowercase, runs of other characters as ``_`` (``"Orange Mali"`` ->
    ``"orange_mali"``)."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return slug or "operator"


def radius_label(value: float) -> str:
    """A radius for a column name: ``5.0 -> "5"``, ``2.5 -> "2_5"``."""
    return f"{value:g}".replace(".", "_").replace("-", "m")


def nullable_bool(values: NDArray[np.float64]) -> pd.array:
    """Float array with 1 (True), 0 (False), NaN (unknown) as a pandas nullable boolean array."""
    out = pd.array(values == 1.0, dtype="boolean")
    out[np.isnan(values)] = pd.NA
    return out
