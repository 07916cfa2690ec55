"""Elevation profiles along many paths from a DEM GeoTIFF, for microwave line-of-sight checks.

How it reads, and why by hand: rasterio's ``sample()`` reads one pixel per call, far too slow for thousands of
paths with hundreds of samples each. Instead every sample point of every path is placed along its geodesic
(pyproj ``Geod.fwd``, vectorised), transformed once into the DEM's CRS, and turned into a pixel row and column.
The DEM is then read in square blocks of :data:`BLOCK_PX` pixels, only the blocks that hold samples, each once,
and the values are picked with numpy indexing. A raster larger than memory is fine: at most one block is in memory
at a time. Samples outside the DEM or on nodata are NaN (unknown), never zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from numpy.typing import ArrayLike, NDArray
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from connectmap.errors import CRSError, InputError, MissingInputError

#: Side of the square blocks the DEM is read in, in pixels.
BLOCK_PX = 2048
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class ElevationProfiles:
    """Ground elevation sampled along straight (geodesic) paths.

    Attributes
    ----------
    fractions
        Position of each sample along its path, from 0 (start) to 1 (end), shape ``(samples,)``.
    distance_km
        Geodesic length of each path in km, shape ``(paths,)``.
    elevation_m
        Ground elevation in metres, shape ``(paths, samples)``; NaN outside the DEM or on nodata.
    """

    fractions: NDArray[np.float64]
    distance_km: NDArray[np.float64]
    elevation_m: NDArray[np.float64]


def _dem_path(dem: str | PathLike[str] | object) -> Path:
    # Accept a path or a lazy raster layer from connectmap.io.rasters (anything with a ``path`` attribute).
    path = Path(getattr(dem, "path", dem))  # type: ignore[arg-type]
    if not path.is_file():
        raise MissingInputError(f"{path}: DEM file not found; pass an elevation GeoTIFF with --dem")
    return path


def _open(path: Path) -> rasterio.DatasetReader:
    try:
        src = rasterio.open(path)
    except RasterioIOError as err:
        raise InputError(f"{path}: not a readable raster ({err}); pass an elevation GeoTIFF") from None
    if src.crs is None:
        src.close()
        raise CRSError(f"{path}: the DEM has no coordinate reference system; assign one (e.g. gdal_edit.py -a_srs)")
    return src


def pixel_size_m(dem: str | PathLike[str] | object) -> float:
    """Approximate pixel size of the DEM in metres (the smaller side; at the DEM's centre for degrees)."""
    path = _dem_path(dem)
    with _open(path) as src:
        res_x, res_y = abs(src.transform.a), abs(src.transform.e)
        if src.crs.is_geographic:
            centre_lat = math.radians((src.bounds.top + src.bounds.bottom) / 2.0)
            metres_per_degree = math.pi * 6_371_008.8 / 180.0
            return min(res_x * metres_per_degree * max(math.cos(centre_lat), 1e-6), res_y * metres_per_degree)
        return min(res_x, res_y) * float(src.crs.linear_units_factor[1])


def sample_points(
    dem: str | PathLike[str] | object, lon_deg: ArrayLike, lat_deg: ArrayLike
) -> NDArray[np.float64]:
    """Elevation at points given in WGS84 degrees (any shape), NaN outside the DEM or on nodata."""
    path = _dem_path(dem)
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    out = np.full(lon.shape, np.nan)
    flat_lon, flat_lat, flat_out = lon.ravel(), lat.ravel(), out.reshape(-1)
    with _open(path) as src:
        transformer = pyproj.Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        ok = np.isfinite(flat_lon) & np.isfinite(flat_lat)
        x, y = transformer.transform(flat_lon[ok], flat_lat[ok])
        inverse = ~src.transform  # pixel (col, row) from map (x, y), written out to stay vectorised
        x, y = np.asarray(x), np.asarray(y)
        col_f = inverse.a * x + inverse.b * y + inverse.c
        row_f = inverse.d * x + inverse.e * y + inverse.f
        rows = np.floor(np.asarray(row_f)).astype(np.int64)
        cols = np.floor(np.asarray(col_f)).astype(np.int64)
        inside = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
        positions = np.flatnonzero(ok)[inside]
        rows, cols = rows[inside], cols[inside]
        values = np.full(positions.size, np.nan)
        blocks_per_row = math.ceil(src.width / BLOCK_PX)
        block = (rows // BLOCK_PX) * blocks_per_row + cols // BLOCK_PX
        order = np.argsort(block, kind="stable")
        starts = np.r_[0, np.flatnonzero(np.diff(block[order])) + 1]
        ends = np.r_[starts[1:], order.size]
        nodata = src.nodata
        for start, end in zip(starts, ends, strict=True):
            members = order[start:end]
            block_id = int(block[members[0]])
            row_off = (block_id // blocks_per_row) * BLOCK_PX
            col_off = (block_id % blocks_per_row) * BLOCK_PX
            window = Window(col_off, row_off, min(BLOCK_PX, src.width - col_off), min(BLOCK_PX, src.height - row_off))
            data = src.read(1, window=window).astype(np.float64)
            picked = data[rows[members] - row_off, cols[members] - col_off]
            if nodata is not None and not np.isnan(nodata):
                picked[picked == nodata] = np.nan
            values[members] = picked
        flat_out[positions] = values
    return out


def read_elevation_profiles(
    dem: str | PathLike[str] | object,
    lon1: ArrayLike,
    lat1: ArrayLike,
    lon2: ArrayLike,
    lat2: ArrayLike,
    *,
    max_samples: int = 512,
) -> ElevationProfiles:
    """Ground elevation along the geodesic from each start point to its end point.

    Parameters
    ----------
    dem
        Elevation GeoTIFF (any CRS; metres above sea level).
    lon1, lat1, lon2, lat2
        Path ends in WGS84 degrees, one value per path.
    max_samples
        Most samples per path. Samples are spaced about one DEM pixel apart along the longest path, with at least
        3 and at most ``max_samples``; every path gets the same number (so shorter paths are sampled more finely).

    Returns
    -------
    ElevationProfiles

    Raises
    ------
    MissingInputError, InputError, CRSError
        When the DEM is missing, unreadable or has no CRS.
    """
    lon1, lat1, lon2, lat2 = (np.asarray(a, dtype=np.float64).ravel() for a in (lon1, lat1, lon2, lat2))
    azimuth, _, distance_m = _GEOD.inv(lon1, lat1, lon2, lat2)
    distance_m = np.asarray(distance_m, dtype=np.float64)
    longest = float(np.nanmax(distance_m)) if distance_m.size else 0.0
    step = pixel_size_m(dem)
    samples = int(np.clip(math.ceil(longest / step) + 1 if step > 0 else max_samples, 3, max_samples))
    fractions = np.linspace(0.0, 1.0, samples)
    count = lon1.size
    lon_s, lat_s, _ = _GEOD.fwd(
        np.repeat(lon1, samples), np.repeat(lat1, samples), np.repeat(np.asarray(azimuth, dtype=np.float64), samples),
        (distance_m[:, None] * fractions[None, :]).ravel(),
    )
    elevation = sample_points(dem, np.asarray(lon_s).reshape(count, samples), np.asarray(lat_s).reshape(count, samples))
    return ElevationProfiles(fractions=fractions, distance_km=distance_m / 1000.0, elevation_m=elevation)
