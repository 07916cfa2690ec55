"""Coverage rasters as semi-transparent PNG overlays for the HTML map (embedded as ``data:`` URIs).

Leaflet places an image overlay by its corners and stretches it linearly in Web Mercator, so a raster in any other
CRS is first reprojected onto a Web Mercator grid (:func:`rasterio.warp.reproject`, averaging the covered fraction
when the grid is coarser), at most ``raster_max_px`` on its longest side. Covered pixels get the layer's colour with
an alpha proportional to the covered fraction; not covered, nodata and outside-the-raster pixels are transparent
(unknown is never drawn as "no coverage"). This module only transforms arrays: the values come from
:mod:`connectmap.io` (no step reads files except ``io``).
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from connectmap.errors import CRSError

#: Web Mercator is defined up to this latitude (degrees).
MERCATOR_MAX_LAT = 85.0511287798


@dataclass(frozen=True)
class RasterOverlay:
    """A raster ready for the map: a PNG and where it goes.

    Attributes
    ----------
    name
        Layer name shown in the layer control (untrusted text; escaped by the page writer).
    png
        PNG bytes, Web Mercator grid, RGBA.
    bounds
        ``(south, west, north, east)`` in degrees.
    colour
        ``#rrggbb`` used for covered pixels (for the legend).
    rgba
        The same image as an array ``(rows, cols, 4)`` uint8, for the static map.
    """

    name: str
    png: bytes
    bounds: tuple[float, float, float, float]
    colour: str
    rgba: np.ndarray

    def data_uri(self) -> str:
        """The PNG as a ``data:image/png;base64,...`` URI (no network request when the page shows it)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def as_json(self, opacity: float) -> dict[str, Any]:
        """JSON-ready description for the page."""
        south, west, north, east = self.bounds
        return {"name": self.name, "url": self.data_uri(), "bounds": [[south, west], [north, east]],
                "colour": self.colour, "opacity": opacity}


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def coverage_overlay(
    covered: np.ndarray,
    transform: Affine,
    crs: Any,
    *,
    name: str,
    colour: str,
    max_px: int = 2048,
) -> RasterOverlay:
    """Reproject a coverage array to Web Mercator and colour it.

    Parameters
    ----------
    covered
        2-D array: ``1``/``True`` covered, ``0``/``False`` not covered, NaN (or a masked value) unknown. Fractions
        in between are allowed (share of the cell covered).
    transform, crs
        Georeferencing of ``covered`` (affine of the top-left corner; any CRS pyproj understands).
    name
        Layer name.
    colour
        ``#rrggbb`` for covered pixels.
    max_px
        Longest side of the output image in pixels.

    Returns
    -------
    RasterOverlay
    """
    if crs is None:
        raise CRSError(f"coverage raster {name!r}: no coordinate reference system; add one to the GeoTIFF")
    src = np.ma.filled(np.ma.asarray(covered, dtype=np.float32), np.nan)
    if src.ndim != 2:
        raise ValueError(f"coverage raster {name!r}: expected a 2-D array, got shape {src.shape}")
    src_crs = CRS.from_user_input(crs)
    rows, cols = src.shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (cols, rows)
    west, east = sorted((left, right))
    south, north = sorted((top, bottom))
    if src_crs.is_geographic:
        south, north = max(south, -MERCATOR_MAX_LAT), min(north, MERCATOR_MAX_LAT)
    x0, y0, x1, y1, width, height = _mercator_grid(src_crs, cols, rows, (west, south, east, north), max_px)
    dst = np.full((height, width), np.nan, dtype=np.float32)
    # Averaging keeps the covered share of each output cell (nodata source cells are left out of the mean).
    reproject(
        src, dst, src_transform=transform, src_crs=src_crs, dst_transform=from_bounds(x0, y0, x1, y1, width, height),
        dst_crs="EPSG:3857", src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.average,
    )
    return _coloured(dst, (x0, y0, x1, y1), name=name, colour=colour)


def raster_layer_overlay(
    layer: Any,
    *,
    name: str,
    colour: str,
    threshold: float,
    max_px: int = 2048,
) -> RasterOverlay:
    """Colour a coverage raster opened with :func:`connectmap.io.rasters.open_raster`, at most ``max_px`` wide.

    The pixels are read by :func:`connectmap.io.rasters.sample` (blockwise, memory-bounded) at the centre of each
    cell of the Web Mercator output grid, so a raster larger than memory is never read whole; each output cell shows
    the raster pixel under its centre.

    Parameters
    ----------
    layer
        A coverage ``RasterLayer``.
    name, colour
        Layer name and ``#rrggbb`` for covered pixels.
    threshold
        A pixel is covered when its value is at least this (0.5 for binary rasters; the technology's dBm
        threshold for signal-strength rasters).
    max_px
        Longest side of the output image in pixels.
    """
    from connectmap.io.rasters import sample

    src_crs = CRS.from_user_input(layer.crs)
    west, south, east, north = layer.bounds
    if src_crs.is_geographic:
        south, north = max(south, -MERCATOR_MAX_LAT), min(north, MERCATOR_MAX_LAT)
    x0, y0, x1, y1, width, height = _mercator_grid(src_crs, layer.width, layer.height, (west, south, east, north),
                                                   max_px)
    xs = x0 + (np.arange(width) + 0.5) * (x1 - x0) / width
    ys = y1 - (np.arange(height) + 0.5) * (y1 - y0) / height
    grid_x, grid_y = np.meshgrid(xs, ys)
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(grid_x.ravel(), grid_y.ravel())
    values = sample(layer, lon, lat).reshape(height, width)
    with np.errstate(invalid="ignore"):
        covered = np.where(np.isnan(values), np.nan, (values >= threshold).astype(np.float32))
    return _coloured(covered, (x0, y0, x1, y1), name=name, colour=colour)


def _mercator_grid(
    src_crs: CRS, cols: int, rows: int, extent: tuple[float, float, float, float], max_px: int
) -> tuple[float, float, float, float, int, int]:
    """Web Mercator grid over exactly the raster's extent (so the overlay's corners are the raster's corners), at
    about the raster's own resolution, capped at ``max_px`` on the longest side: (x0, y0, x1, y1, width, height)."""
    west, south, east, north = extent
    _, natural_width, natural_height = calculate_default_transform(
        src_crs, "EPSG:3857", cols, rows, left=west, bottom=south, right=east, top=north
    )
    x0, y0, x1, y1 = transform_bounds(src_crs, "EPSG:3857", west, south, east, north, densify_pts=21)
    scale = max(natural_width, natural_height) / max_px
    width = max(1, math.ceil(natural_width / scale)) if scale > 1 else natural_width
    height = max(1, math.ceil(natural_height / scale)) if scale > 1 else natural_height
    return x0, y0, x1, y1, width, height


def _coloured(
    covered: np.ndarray, mercator_bounds: tuple[float, float, float, float], *, name: str, colour: str
) -> RasterOverlay:
    """RGBA image: ``colour`` with alpha = covered fraction (NaN = unknown = transparent), and its bounds in degrees."""
    fraction = np.clip(np.nan_to_num(covered, nan=0.0), 0.0, 1.0)
    height, width = fraction.shape
    red, green, blue = _hex_to_rgb(colour)
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = red, green, blue
    rgba[..., 3] = np.round(fraction * 255).astype(np.uint8)
    x0, y0, x1, y1 = mercator_bounds
    to_degrees = Transformer.from_crs(3857, 4326, always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_degrees.transform([x0, x1], [y0, y1])
    bounds = (min(lat0, lat1), min(lon0, lon1), max(lat0, lat1), max(lon0, lon1))
    return RasterOverlay(name=name, png=_png_bytes(rgba), bounds=bounds, colour=colour, rgba=rgba)


def _png_bytes(rgba: np.ndarray) -> bytes:
    from PIL import Image  # Pillow ships with matplotlib, a dependency

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
