"""GeoTIFF writers: modelled coverage for the map, readable back with :func:`connectmap.io.rasters.open_raster`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.transform import from_origin

from connectmap.report.files import atomic_path


def write_coverage_geotiff(
    array: NDArray[np.uint8],
    grid: tuple[float, float, float, float],
    path: str | os.PathLike[str],
    *,
    technology: str,
    operator: str | None = None,
    source: str = "modelled",
) -> Path:
    """Write a binary coverage grid (1 covered, 0 not, 255 nodata) as a tiled, compressed GeoTIFF, atomically.

    Parameters
    ----------
    array
        ``uint8`` grid, north up.
    grid
        ``(west, north, pixel_width_deg, pixel_height_deg)`` in EPSG:4326.
    path
        Output file.
    technology, operator, source
        Written as dataset tags (``technology``, ``operator``, ``value=binary``, ``source``), so ``open_raster``
        reads the file without arguments.
    """
    west, north, dx, dy = grid
    height, width = array.shape
    tiled = height >= 256 and width >= 256
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8", "crs": "EPSG:4326",
        "transform": from_origin(west, north, dx, dy), "nodata": 255, "compress": "deflate",
        **({"tiled": True, "blockxsize": 256, "blockysize": 256} if tiled else {}),
    }
    tags = {"technology": technology, "value": "binary", "source": source}
    if operator:
        tags["operator"] = operator
    # The temporary path ends in .tmp, so GDAL needs the driver named.
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(array, 1)
        ds.update_tags(**tags)
    return Path(path)
