"""Rasters: open lazily, read pixel values at points, test disks around points, sum population in disks.

:func:`open_raster` reads only metadata and checks it (file readable, CRS present, georeferenced, one band,
technology/operator/value kind known); it also reads the last block so a truncated GeoTIFF fails at once with the
file's name instead of half-way through a run. Pixel values are read when a kernel needs them.

The kernels never call ``rasterio.sample()`` (one GDAL call per point): points are transformed into the raster's
CRS in one vectorised call, turned into pixel indices with the inverse geotransform, grouped into block-aligned
tiles of at most 2048 x 2048 pixels (and the memory budget), and each tile that holds points is read once, in the
file's data type (with a halo for disk queries), and indexed with numpy. Tiles without points are never read, and
rasters far larger than memory are read tile by tile. (Measured: a 30,000 x 30,000 deflate GeoTIFF reads in 0.5 s
as 2048-pixel tiles on one thread, and 3x slower with GDAL_NUM_THREADS=ALL_CPUS on this 2-core machine.) Point
values read their tiles in one thread per core, each with its own dataset handle (GDAL decodes without the GIL),
and GDAL's block cache is kept at 64 MB: every block is decoded once, so a bigger cache only held memory.

Outside the raster, on nodata, or on NaN, a value is *unknown* (NaN), never "no coverage" or zero.

Disks around points ("covered anywhere within R m", "people within N km") are handled in each point's local
metric: the Jacobian of (east, north metres) -> (column, row) at the point maps the disk to an ellipse in pixel
space (exact to first order; for R <= 10 km the error in the ellipse's axes is below 0.1 %). A pixel is "within
R" when any part of it is (the pixel holding the point always is). Population sums use the exact area of overlap
between the disk and each partly covered pixel (circle-polygon intersection in closed form, in a compiled numba
loop: :mod:`connectmap.io._disk_kernel`) and row prefix sums for the pixels wholly inside, so a 1 km disk inside a
20 km pixel gets density x disk area, not the whole pixel; disks many pixels wide are summed by convolution (see
:func:`disk_sum`).

Why hand-written: rasterio/GDAL give windowed reads and rasterstats/exactextract give zonal statistics over
polygons, but none takes a million points and disks in one vectorised call; building a million disk polygons for
exactextract costs more than this whole computation.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pyproj
import rasterio
from numpy.typing import ArrayLike, NDArray
from rasterio.errors import RasterioError
from rasterio.windows import Window

from connectmap.columns import RADIO_ALIASES, TECHNOLOGIES
from connectmap.errors import CRSError, InputError, MissingInputError
from connectmap.geodesy import spatial_order

log = logging.getLogger(__name__)

RasterKind = Literal["coverage", "population", "dem"]
#: Value kinds allowed for each raster kind; the first is the one assumed for unsigned-byte coverage rasters.
VALUE_KINDS: dict[str, tuple[str, ...]] = {
    "coverage": ("binary", "dbm"),
    "population": ("count", "density"),
    "dem": ("elevation",),
}
_WGS84 = pyproj.CRS.from_epsg(4326)
_GEOD = pyproj.Geod(ellps="WGS84")
_A_M = 6378137.0
_E2 = 6.69437999014e-3
#: Default memory budget for one window of pixels (bytes).
DEFAULT_WINDOW_BYTES = 256 * 1024 * 1024
#: Largest tile side (pixels) read at once.
TILE_PX = 2048
#: GDAL block cache (MB) while the kernels read.
_GDAL_CACHE_MB = 64
#: Threads reading tiles at once in :func:`sample` (one per core, at most 4).
_READ_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Height (degrees of latitude) of the bands sharing one convolution kernel on geographic rasters.
BAND_DEG = 0.25


@dataclass(frozen=True)
class RasterLayer:
    """A raster's metadata and meaning; pixels are read only by the kernels.

    Attributes
    ----------
    path
        The file.
    kind
        ``"coverage"``, ``"population"`` or ``"dem"``.
    value
        What a pixel holds: ``"binary"`` (1 covered, 0 not), ``"dbm"`` (signal strength), ``"count"`` (people per
        pixel), ``"density"`` (people per km²) or ``"elevation"`` (m).
    technology, operator
        For coverage rasters: GSM/UMTS/LTE/NR and the operator (None when the file covers all operators).
    crs, transform, width, height, nodata, dtype, block_shape
        As in the file (band 1).
    """

    path: Path
    kind: str
    value: str
    technology: str | None
    operator: str | None
    crs: pyproj.CRS
    transform: rasterio.Affine
    width: int
    height: int
    nodata: float | None
    dtype: str
    block_shape: tuple[int, int]
    _to_raster: pyproj.Transformer | None = field(default=None, repr=False, compare=False)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the raster's CRS."""
        return rasterio.transform.array_bounds(self.height, self.width, self.transform)

    @property
    def label(self) -> str:
        """Short description for messages, e.g. ``"LTE coverage (Orange) from cov.tif"``."""
        what = f"{self.technology} {self.kind}" if self.technology else self.kind
        who = f" ({self.operator})" if self.operator else ""
        return f"{what}{who} from {self.path.name}"


def _normalise_technology(value: str | None, path: Path) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if text.upper() in TECHNOLOGIES:
        return text.upper()
    tech = RADIO_ALIASES.get(text.lower())
    if tech is None:
        raise InputError(
            f"{path}: technology {text!r} is not known; use one of GSM, UMTS, LTE, NR (or 2G, 3G, 4G, 5G)"
        )
    return tech


def open_raster(
    path: str | Path,
    *,
    kind: RasterKind = "coverage",
    technology: str | None = None,
    operator: str | None = None,
    value: str | None = None,
) -> RasterLayer:
    """Open a raster lazily: read and check its metadata, not its pixels.

    Parameters
    ----------
    path
        A GeoTIFF (or any single-band raster GDAL reads).
    kind
        What the raster is: ``"coverage"``, ``"population"`` or ``"dem"``.
    technology, operator, value
        Override the GeoTIFF dataset tags ``technology``, ``operator`` and ``value``. ``value`` is ``binary`` or
        ``dbm`` for coverage (an unsigned-byte coverage raster without a tag is taken as binary), ``count`` or
        ``density`` (people/km²) for population.

    Returns
    -------
    RasterLayer

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file is not a readable raster (corrupt, truncated), has no band, or its tags/arguments are invalid.
    CRSError
        The raster has no CRS or no geotransform.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: raster file not found")
    if kind not in VALUE_KINDS:
        raise InputError(f"{path}: raster kind must be coverage, population or dem, not {kind!r}")
    try:
        with rasterio.open(path) as ds:
            if ds.count < 1:
                raise InputError(f"{path}: the raster has no band")
            if ds.count > 1:
                log.warning("%s: %d bands; only band 1 is used", path, ds.count)
            if ds.crs is None:
                raise CRSError(
                    f"{path}: the raster has no coordinate reference system; set it, e.g. "
                    f"`gdal_edit.py -a_srs EPSG:4326 {path.name}`"
                )
            if ds.transform.is_identity or ds.transform.determinant == 0:
                raise CRSError(f"{path}: the raster is not georeferenced (no geotransform)")
            tags = {k.lower(): v for k, v in ds.tags().items()}
            crs = pyproj.CRS.from_user_input(ds.crs.to_wkt())
            meta = {
                "transform": ds.transform, "width": ds.width, "height": ds.height, "nodata": ds.nodata,
                "dtype": ds.dtypes[0], "block_shape": tuple(ds.block_shapes[0]),
            }
            # A truncated file still has a valid header: reading its last block exposes it now, not mid-run.
            bh, bw = meta["block_shape"]
            last = Window((ds.width - 1) // bw * bw, (ds.height - 1) // bh * bh, 1, 1)
            ds.read(1, window=last)
    except RasterioError as err:
        raise InputError(
            f"{path}: cannot be read as a raster ({err}); the file may be corrupt or truncated - re-export or "
            "re-download it"
        ) from None
    technology = _normalise_technology(technology if technology is not None else tags.get("technology"), path)
    operator = operator if operator is not None else (tags.get("operator") or None)
    value = (value if value is not None else tags.get("value") or "").strip().lower() or None
    allowed = VALUE_KINDS[kind]
    if value is None:
        if kind == "coverage" and meta["dtype"] in ("uint8", "bool"):
            value = "binary"
        elif kind == "dem":
            value = "elevation"
        else:
            raise InputError(
                f"{path}: say what the {kind} pixels hold ({' or '.join(allowed)}): pass value=..., or tag the "
                f"file, e.g. `gdal_edit.py -mo value={allowed[0]} {path.name}`"
            )
    if value not in allowed:
        raise InputError(f"{path}: value {value!r} is not valid for a {kind} raster; use {' or '.join(allowed)}")
    if kind == "coverage" and technology is None:
        raise InputError(
            f"{path}: which technology does this coverage raster show? Pass technology=GSM/UMTS/LTE/NR (CLI: "
            f"--coverage LTE={path.name}) or tag the file: `gdal_edit.py -mo technology=LTE {path.name}`"
        )
    to_raster = None
    if not crs.equals(_WGS84, ignore_axis_order=True):
        to_raster = pyproj.Transformer.from_crs(_WGS84, crs, always_xy=True)
    return RasterLayer(
        path=path, kind=kind, value=value, technology=technology, operator=operator, crs=crs,
        _to_raster=to_raster, **meta,
    )


# --- points to pixels -------------------------------------------------------------------------------------------
def pixel_coordinates(layer: RasterLayer, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Fractional (column, row) of WGS84 points in the raster; pixel (c, r) spans [c, c+1) x [r, r+1)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if layer._to_raster is not None:
        with np.errstate(invalid="ignore"):
            x, y = layer._to_raster.transform(x, y, errcheck=False)
        x = np.where(np.isfinite(x), x, np.nan)
        y = np.where(np.isfinite(y), y, np.nan)
    inv = ~layer.transform
    col = inv.a * x + inv.b * y + inv.c
    row = inv.d * x + inv.e * y + inv.f
    return col, row


def local_jacobian(layer: RasterLayer, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    """Pixels per metre east and north at each point, shape ``(n, 2, 2)``: ``[[dcol/de, dcol/dn], [drow/de, drow/dn]]``.

    Geographic rasters use the WGS84 radii of curvature in closed form; projected rasters use finite differences
    over 10 m geodesic steps east and north.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    inv = ~layer.transform
    lin = np.array([[inv.a, inv.b], [inv.d, inv.e]])
    n = lon.size
    if layer.crs.is_geographic:
        phi = np.radians(lat)
        w = 1.0 - _E2 * np.sin(phi) ** 2
        prime = _A_M / np.sqrt(w)
        meridian = _A_M * (1.0 - _E2) / w**1.5
        with np.errstate(divide="ignore"):
            dlon_de = np.degrees(1.0 / (prime * np.maximum(np.cos(phi), 1e-12)))
        dlat_dn = np.degrees(1.0 / meridian)
        jac = np.empty((n, 2, 2))
        jac[:, :, 0] = lin[None, :, 0] * dlon_de[:, None]
        jac[:, :, 1] = lin[None, :, 1] * dlat_dn[:, None]
        return jac
    step = 10.0
    c0, r0 = pixel_coordinates(layer, lon, lat)
    elon, elat, _ = _GEOD.fwd(lon, lat, np.full(n, 90.0), np.full(n, step))
    nlon, nlat, _ = _GEOD.fwd(lon, lat, np.zeros(n), np.full(n, step))
    ce, re = pixel_coordinates(layer, elon, elat)
    cn, rn = pixel_coordinates(layer, nlon, nlat)
    jac = np.empty((n, 2, 2))
    jac[:, 0, 0], jac[:, 1, 0] = (ce - c0) / step, (re - r0) / step
    jac[:, 0, 1], jac[:, 1, 1] = (cn - c0) / step, (rn - r0) / step
    return jac


# --- tiles ------------------------------------------------------------------------------------------------------
def _tiles(
    layer: RasterLayer, lo_col: NDArray, lo_row: NDArray, hi_col: NDArray, hi_row: NDArray, max_bytes: int
) -> Iterator[tuple[Window, NDArray[np.int64]]]:
    """Group points by the window to read for them.

    Each point needs the pixel rectangle [lo_col, hi_col] x [lo_row, hi_row] (inclusive, already clipped to the
    raster). Yields (window, positions of the points it serves). One window for all when it fits ``max_bytes``,
    otherwise block-aligned tiles (plus each tile's largest halo).
    """
    if lo_col.size == 0:
        return
    itemsize = np.dtype(layer.dtype).itemsize
    # Tiles of at most TILE_PX x TILE_PX pixels (and the memory budget): reading a big raster in 2048-pixel tiles
    # is as fast as one big read (measured: 900 MB of deflate tiles in 0.5 s either way), skips empty regions, and
    # keeps the kernels' per-tile working arrays (prefix sums: 8 bytes a pixel) small.
    side = max(min(TILE_PX, int(np.sqrt(max_bytes / max(itemsize, 8)) / 2)), 1)
    c0, r0, c1, r1 = int(lo_col.min()), int(lo_row.min()), int(hi_col.max()), int(hi_row.max())
    if max(c1 - c0 + 1, r1 - r0 + 1) <= 2 * side:
        yield Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1), np.arange(lo_col.size)
        return
    bh, bw = layer.block_shape
    tile_h = max(side // bh, 1) * bh
    tile_w = max(side // bw, 1) * bw
    centre_col = (lo_col + hi_col) // 2
    centre_row = (lo_row + hi_row) // 2
    n_tile_cols = layer.width // tile_w + 1
    key = (centre_row // tile_h) * n_tile_cols + centre_col // tile_w
    order = np.argsort(key, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(key[order])) + 1, order.size]
    for start, stop in itertools.pairwise(bounds.tolist()):
        members = order[start:stop]
        wc0, wr0 = int(lo_col[members].min()), int(lo_row[members].min())
        wc1, wr1 = int(hi_col[members].max()), int(hi_row[members].max())
        yield Window(wc0, wr0, wc1 - wc0 + 1, wr1 - wr0 + 1), members


def _read(layer: RasterLayer, ds: rasterio.DatasetReader, window: Window) -> NDArray:
    """Read a window in the file's data type."""
    try:
        return ds.read(1, window=window)
    except RasterioError as err:
        raise InputError(
            f"{layer.path}: pixels in rows {window.row_off}-{window.row_off + window.height - 1} cannot be read "
            f"({err}); the file may be corrupt or truncated - re-export or re-download it"
        ) from None


def _invalid(layer: RasterLayer, values: NDArray) -> NDArray[np.bool_]:
    """Where raw values are nodata or not finite (unknown)."""
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values)
        if layer.nodata is not None and np.isfinite(layer.nodata):
            bad |= np.isclose(values, layer.nodata, rtol=1e-6, atol=0.0)
        return bad
    if layer.nodata is not None and np.isfinite(layer.nodata):
        return values == layer.nodata
    return np.zeros(values.shape, dtype=bool)


def _as_float(layer: RasterLayer, values: NDArray) -> NDArray[np.float64]:
    """Raw values as float64 with unknown ones as NaN."""
    out = values.astype(np.float64)
    out[_invalid(layer, values)] = np.nan
    return out


def _open(layer: RasterLayer) -> rasterio.DatasetReader:
    try:
        return rasterio.open(layer.path)
    except RasterioError as err:
        raise InputError(f"{layer.path}: cannot be opened ({err}); was it moved or changed during the run?") from None


def _env() -> rasterio.Env:
    # Single-threaded decoding: on this 2-core machine GDAL_NUM_THREADS=ALL_CPUS made tile reads 3x slower.
    # A small block cache: tiles are read once each, so GDAL's default cache (5 % of RAM) only held ~500 MB of
    # decoded blocks that were never read again (measured on the 30,000 x 30,000 benchmark raster).
    return rasterio.Env(GDAL_NUM_THREADS="1", GDAL_CACHEMAX=_GDAL_CACHE_MB)


# --- kernels ----------------------------------------------------------------------------------------------------
def sample(layer: RasterLayer, lon: ArrayLike, lat: ArrayLike, *, max_bytes: int = DEFAULT_WINDOW_BYTES) -> NDArray:
    """Pixel value at each WGS84 point, float64; NaN where outside the raster, on nodata, or the point is NaN."""
    col, row = pixel_coordinates(layer, lon, lat)
    out = np.full(col.shape, np.nan)
    with np.errstate(invalid="ignore"):
        inside = (col >= 0) & (col < layer.width) & (row >= 0) & (row < layer.height)
    idx = np.flatnonzero(inside)
    if not idx.size:
        return out
    ci = np.floor(col[idx]).astype(np.int64)
    ri = np.floor(row[idx]).astype(np.int64)
    tiles = list(_tiles(layer, ci, ri, ci, ri, max_bytes))

    def read(part: list[tuple[Window, NDArray[np.int64]]]) -> None:
        # One dataset handle per thread (GDAL handles are not shared between threads); tiles are disjoint.
        with _env(), _open(layer) as ds:
            for window, members in part:
                data = _read(layer, ds, window)
                out[idx[members]] = _as_float(layer, data[ri[members] - window.row_off,
                                                          ci[members] - window.col_off])

    # Decoding compressed tiles is most of the time and GDAL releases the GIL while it decodes: a thread per core
    # reads every n-th tile.
    n_threads = min(_READ_THREADS, len(tiles))
    if n_threads <= 1:
        read(tiles)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(read, [tiles[k::n_threads] for k in range(n_threads)]))
    return out


@dataclass
class _Ellipse:
    """A disk around each point, in pixel space: centre (col, row) and the quadratic form of the disk."""

    col: NDArray
    row: NDArray
    jinv: NDArray  # (n, 2, 2): metres (east, north) per pixel (col, row)
    q00: NDArray  # p^T Q p <= r^2 with Q = Jinv^T Jinv
    q01: NDArray
    q11: NDArray
    radius_m: float

    @classmethod
    def build(cls, layer: RasterLayer, lon: NDArray, lat: NDArray, radius_m: float) -> _Ellipse:
        col, row = pixel_coordinates(layer, lon, lat)
        jac = local_jacobian(layer, lon, lat)
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        det = np.where(np.abs(det) > 0, det, np.nan)
        jinv = np.empty_like(jac)
        jinv[:, 0, 0], jinv[:, 1, 1] = jac[:, 1, 1] / det, jac[:, 0, 0] / det
        jinv[:, 0, 1], jinv[:, 1, 0] = -jac[:, 0, 1] / det, -jac[:, 1, 0] / det
        q00 = jinv[:, 0, 0] ** 2 + jinv[:, 1, 0] ** 2
        q01 = jinv[:, 0, 0] * jinv[:, 0, 1] + jinv[:, 1, 0] * jinv[:, 1, 1]
        q11 = jinv[:, 0, 1] ** 2 + jinv[:, 1, 1] ** 2
        return cls(col, row, jinv, q00, q01, q11, float(radius_m))

    def extent(self) -> tuple[NDArray, NDArray]:
        """Half-extents (pixels) of the ellipse in columns and rows."""
        det = self.q00 * self.q11 - self.q01**2
        r2 = self.radius_m**2
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(r2 * self.q11 / det), np.sqrt(r2 * self.q00 / det)

    def chord(self, i: NDArray, dy: NDArray) -> tuple[NDArray, NDArray]:
        """Column range (offsets from the centre) of the ellipse on the line ``row = centre + dy``; NaN if none."""
        a, b, c = self.q00[i], self.q01[i], self.q11[i]
        disc = (b * dy) ** 2 - a * (c * dy * dy - self.radius_m**2)
        with np.errstate(invalid="ignore"):
            root = np.where(disc >= 0, np.sqrt(disc), np.nan)
        return (-b * dy - root) / a, (-b * dy + root) / a

    def band_span(self, i: NDArray, y0: NDArray, y1: NDArray) -> tuple[NDArray, NDArray]:
        """Column range (offsets from the centre) the ellipse reaches in the band of rows ``[y0, y1]``, where the
        band edges are already clipped to the ellipse's vertical extent."""
        lo0, hi0 = self.chord(i, y0)
        lo1, hi1 = self.chord(i, y1)
        ext_col, _ = self.extent()
        ext_col = ext_col[i]
        # Row offset of the leftmost point of the ellipse (rightmost is the mirror image).
        det = self.q00[i] * self.q11[i] - self.q01[i] ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            y_left = self.q01[i] * self.radius_m / np.sqrt(self.q11[i] * det)
        left_in = (y_left >= y0) & (y_left <= y1)
        right_in = (-y_left >= y0) & (-y_left <= y1)
        lo = np.where(left_in, -ext_col, np.fmin(lo0, lo1))
        hi = np.where(right_in, ext_col, np.fmax(hi0, hi1))
        return lo, hi


def _disk_rows(
    ell: _Ellipse, layer: RasterLayer, points: NDArray
) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray, NDArray]:
    """(point, raster row) pairs of every row band the disk reaches, with the columns it reaches in that band.

    Returns owner (index into ``points``), row, lo_col, hi_col (inclusive pixel columns, clipped to the raster)
    and the fully-inside column range fin_lo..fin_hi (inclusive, may be empty).
    """
    _, ext_row = ell.extent()
    r_lo = np.maximum(np.floor(ell.row[points] - ext_row[points]), 0).astype(np.int64)
    r_hi = np.minimum(np.floor(ell.row[points] + ext_row[points]), layer.height - 1).astype(np.int64)
    n_rows = np.maximum(r_hi - r_lo + 1, 0)
    owner = np.repeat(np.arange(points.size), n_rows)
    row = np.arange(n_rows.sum()) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows) + r_lo[owner]
    p = points[owner]
    y0 = row - ell.row[p]
    y1 = y0 + 1.0
    lo, hi = ell.band_span(p, np.maximum(y0, -ext_row[p]), np.minimum(y1, ext_row[p]))
    # A pixel is wholly inside when its four corners are: the chords at the real (unclipped) pixel edges.
    full_lo0, full_hi0 = ell.chord(p, y0)
    full_lo1, full_hi1 = ell.chord(p, y1)
    # np.maximum/minimum propagate NaN: an edge that misses the ellipse means no pixel of the row is wholly inside.
    in_lo, in_hi = np.maximum(full_lo0, full_lo1), np.minimum(full_hi0, full_hi1)
    c = ell.col[p]
    lo_col = np.maximum(np.floor(c + lo), 0)
    hi_col = np.minimum(np.floor(c + hi), layer.width - 1)
    hi_col = np.maximum(hi_col, lo_col - 1)
    fin_lo = np.maximum(np.ceil(c + in_lo), 0)
    fin_hi = np.minimum(np.floor(c + in_hi) - 1, layer.width - 1)
    ok = np.isfinite(lo_col) & np.isfinite(hi_col)
    fin_ok = np.isfinite(fin_lo) & np.isfinite(fin_hi) & (fin_hi >= fin_lo)
    # No pixel wholly inside: an empty range that still indexes inside the window (lo_col .. lo_col - 1).
    fin_lo = np.where(fin_ok, fin_lo, lo_col)
    fin_hi = np.where(fin_ok, fin_hi, lo_col - 1)
    owner, row = owner[ok], row[ok]
    return (owner, row, lo_col[ok].astype(np.int64), hi_col[ok].astype(np.int64),
            fin_lo[ok].astype(np.int64), fin_hi[ok].astype(np.int64))


def _disk_windows(
    layer: RasterLayer, ell: _Ellipse, idx: NDArray, max_bytes: int
) -> Iterator[tuple[Window, NDArray[np.int64]]]:
    ext_col, ext_row = ell.extent()
    c, r = ell.col[idx], ell.row[idx]
    ec, er = ext_col[idx], ext_row[idx]
    lo_c = np.clip(np.floor(c - ec), 0, layer.width - 1).astype(np.int64)
    hi_c = np.clip(np.floor(c + ec), 0, layer.width - 1).astype(np.int64)
    lo_r = np.clip(np.floor(r - er), 0, layer.height - 1).astype(np.int64)
    hi_r = np.clip(np.floor(r + er), 0, layer.height - 1).astype(np.int64)
    yield from _tiles(layer, lo_c, lo_r, hi_c, hi_r, max_bytes)


def _reachable(layer: RasterLayer, ell: _Ellipse) -> NDArray[np.int64]:
    """Points whose disk's bounding box overlaps the raster."""
    ext_col, ext_row = ell.extent()
    with np.errstate(invalid="ignore"):
        ok = (
            (ell.col + ext_col >= 0) & (ell.col - ext_col < layer.width)
            & (ell.row + ext_row >= 0) & (ell.row - ext_row < layer.height)
            & np.isfinite(ext_col) & np.isfinite(ext_row)
        )
    return np.flatnonzero(ok)


_CHUNK_ROWS = 250_000  # (point, row) pairs processed at once: bounds the disk kernels' temporary arrays


def _chunks(ell: _Ellipse, members: NDArray) -> Iterator[NDArray]:
    _, ext_row = ell.extent()
    rows = 2.0 * ext_row[members] + 2.0
    cum = np.cumsum(rows)
    edges = np.searchsorted(cum, np.arange(_CHUNK_ROWS, cum[-1] + _CHUNK_ROWS, _CHUNK_ROWS), side="right")
    start = 0
    for stop in [*edges.tolist(), members.size]:
        if stop > start:
            yield members[start:stop]
            start = stop


def any_within(
    layer: RasterLayer,
    lon: ArrayLike,
    lat: ArrayLike,
    radius_m: float,
    threshold: float,
    *,
    max_bytes: int = DEFAULT_WINDOW_BYTES,
) -> NDArray:
    """Whether any pixel reached by a disk of ``radius_m`` around each point has a value ``>= threshold``.

    Returns
    -------
    numpy.ndarray of float
        1.0 where some pixel in the disk meets the threshold; 0.0 where every pixel the disk reaches is known and
        none does; NaN where none does but some pixel is unknown (nodata or outside the raster).
    """
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    out = np.full(lon.size, np.nan)
    ell = _Ellipse.build(layer, lon, lat, radius_m)
    idx = _reachable(layer, ell)
    if not idx.size:
        return out
    hits = np.zeros(lon.size, dtype=np.int64)
    unknown = np.zeros(lon.size, dtype=np.int64)
    # Pixels the disk reaches outside the raster are unknown.
    ext_col, ext_row = ell.extent()
    with np.errstate(invalid="ignore"):
        off = ((ell.col - ext_col < 0) | (ell.col + ext_col >= layer.width)
               | (ell.row - ext_row < 0) | (ell.row + ext_row >= layer.height))
    with _env(), _open(layer) as ds:
        for window, members in _disk_windows(layer, ell, idx, max_bytes):
            data = _read(layer, ds, window)
            bad = _invalid(layer, data)
            met = np.zeros((data.shape[0], data.shape[1] + 1), dtype=np.int32)
            nan = np.zeros_like(met)
            with np.errstate(invalid="ignore"):
                np.cumsum((data >= threshold) & ~bad, axis=1, out=met[:, 1:])
            np.cumsum(bad, axis=1, out=nan[:, 1:])
            for part in _chunks(ell, idx[members]):
                owner, row, lo_c, hi_c, _, _ = _disk_rows(ell, layer, part)
                wr = row - window.row_off
                a, b = lo_c - window.col_off, hi_c - window.col_off + 1
                hits += np.bincount(part[owner], weights=met[wr, b] - met[wr, a], minlength=lon.size).astype(np.int64)
                unknown += np.bincount(part[owner], weights=nan[wr, b] - nan[wr, a], minlength=lon.size).astype(
                    np.int64)
    reached = np.zeros(lon.size, dtype=bool)
    reached[idx] = True
    out[reached] = np.where(hits[reached] > 0, 1.0, np.where((unknown[reached] > 0) | off[reached], np.nan, 0.0))
    return out


def _segment_area(ax: NDArray, ay: NDArray, bx: NDArray, by: NDArray, r: float) -> NDArray:
    """Signed area of the intersection of the disk (centre origin, radius r) with the triangle (origin, a, b)."""
    dx, dy = bx - ax, by - ay
    qa = dx * dx + dy * dy
    qb = ax * dx + ay * dy
    qc = ax * ax + ay * ay - r * r
    disc = qb * qb - qa * qc
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        t1 = np.where(disc > 0, (-qb - root) / qa, 1.0)
        t2 = np.where(disc > 0, (-qb + root) / qa, 1.0)
    t1 = np.clip(np.nan_to_num(t1, nan=1.0), 0.0, 1.0)
    t2 = np.clip(np.nan_to_num(t2, nan=1.0), t1, 1.0)
    p1x, p1y = ax + t1 * dx, ay + t1 * dy
    p2x, p2y = ax + t2 * dx, ay + t2 * dy

    def sector(ux: NDArray, uy: NDArray, vx: NDArray, vy: NDArray) -> NDArray:
        return 0.5 * r * r * np.arctan2(ux * vy - uy * vx, ux * vx + uy * vy)

    return sector(ax, ay, p1x, p1y) + 0.5 * (p1x * p2y - p1y * p2x) + sector(p2x, p2y, bx, by)


def _pixel_overlap_m2(jinv: NDArray, dc: NDArray, dr: NDArray, r: float) -> NDArray:
    """Area (m²) of the disk of radius ``r`` around the point that falls in the pixel whose top-left corner is
    ``(dc, dr)`` pixels from the point, the pixel mapped to metres by the local Jacobian ``jinv``."""
    corners = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    xs, ys = [], []
    for cx, cy in corners:
        px, py = dc + cx, dr + cy
        xs.append(jinv[:, 0, 0] * px + jinv[:, 0, 1] * py)
        ys.append(jinv[:, 1, 0] * px + jinv[:, 1, 1] * py)
    area = np.zeros(dc.shape)
    for k in range(4):
        area += _segment_area(xs[k], ys[k], xs[(k + 1) % 4], ys[(k + 1) % 4], r)
    return np.abs(area)


def pixel_areas_km2(layer: RasterLayer, rows: NDArray) -> NDArray:
    """Ground area (km²) of one pixel in each given row, for geographic rasters (exact on the WGS84 ellipsoid).

    A cell between latitudes phi1 and phi2 spanning dlambda radians has area
    ``b² / 2 * dlambda * [q(phi)]`` with ``q(phi) = sin(phi) / (1 - e² sin² phi) + atanh(e sin phi) / e``.
    """
    t = layer.transform
    if abs(t.b) > 0 or abs(t.d) > 0:
        raise InputError(f"{layer.path}: rotated geographic rasters are not supported for population; warp it "
                         "north-up first (`gdalwarp`)")
    lat_top = t.f + t.e * rows
    lat_bottom = lat_top + t.e
    e = np.sqrt(_E2)
    b2 = (_A_M * np.sqrt(1 - _E2)) ** 2

    def q(phi_deg: NDArray) -> NDArray:
        s = np.sin(np.radians(np.clip(phi_deg, -90.0, 90.0)))
        return s / (1 - _E2 * s * s) + np.arctanh(e * s) / e

    return np.abs(b2 / 2.0 * np.radians(abs(t.a)) * (q(lat_top) - q(lat_bottom))) / 1e6


def disk_sum(
    layer: RasterLayer,
    lon: ArrayLike,
    lat: ArrayLike,
    radius_m: float,
    *,
    max_bytes: int = DEFAULT_WINDOW_BYTES,
    method: Literal["auto", "exact", "convolve"] = "auto",
    convolve_min_px: float = 8.0,
) -> NDArray:
    """People within ``radius_m`` of each point, from a population raster of counts or density (people/km²).

    Each pixel contributes its people times the fraction of its area inside the disk (density x overlap area
    for density rasters). Nodata pixels and pixels outside the raster contribute nothing; the result is NaN only
    when the disk reaches no valid pixel at all (or the point is NaN).

    Two methods give this sum:

    * ``exact``: per point, whole pixels by row prefix sums and every partly covered pixel by its exact overlap.
      Its cost grows with the disk's perimeter in pixels, so it is used for disks whose smaller semi-axis is under
      ``convolve_min_px`` pixels (the case that matters most: a 1 km disk in a 20 km pixel).
    * ``convolve``: for larger disks, the same sum for a disk centred on every pixel centre, by FFT convolution
      with the exact overlap kernel (one kernel per band of ``BAND_DEG`` degrees of latitude), interpolated
      bilinearly to the point. Cost no longer depends on the number of points; the error is the interpolation
      between pixel centres and the kernel being that of its band's mid-latitude: under 0.05 % on uniform densities;
      on a raster of independent random densities (the worst case)
      measured at 8 pixels of radius: median 0.3 %, largest 5 % (``benchmarks/bench_enrich.py``).

    ``auto`` picks per point.
    """
    return disk_sums(layer, lon, lat, [radius_m], max_bytes=max_bytes, method=method,
                     convolve_min_px=convolve_min_px)[0]


def disk_sums(
    layer: RasterLayer,
    lon: ArrayLike,
    lat: ArrayLike,
    radii_m: Sequence[float],
    *,
    max_bytes: int = DEFAULT_WINDOW_BYTES,
    method: Literal["auto", "exact", "convolve"] = "auto",
    convolve_min_px: float = 8.0,
) -> list[NDArray]:
    """:func:`disk_sum` for several radii at once, sharing the pixel reads and the per-point geometry."""
    import numba

    from connectmap.io._disk_kernel import disk_sums as kernel

    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    outs = [np.full(lon.size, np.nan) for _ in radii_m]
    if not len(radii_m):
        return outs
    base = _Ellipse.build(layer, lon, lat, max(radii_m))
    exact: list[NDArray] = []
    for k, radius in enumerate(radii_m):
        ell = replace(base, radius_m=float(radius))
        idx = _reachable(layer, ell)
        if idx.size and method != "exact":
            ext_col, ext_row = ell.extent()
            big = np.minimum(ext_col[idx], ext_row[idx]) >= (convolve_min_px if method == "auto" else 0.0)
            if big.any():
                total, valid = _disk_sum_convolved(layer, lon, lat, float(radius), idx[big], max_bytes)
                outs[k][idx[big]] = np.where(valid > 0.5, total, np.nan)
                idx = idx[~big]
        exact.append(idx)
    in_any = np.zeros(lon.size, dtype=bool)
    for idx in exact:
        in_any[idx] = True
    union = np.flatnonzero(in_any)
    if not union.size:
        return outs
    totals = [np.zeros(lon.size) for _ in radii_m]
    valids = [np.zeros(lon.size) for _ in radii_m]
    in_exact = [np.zeros(lon.size, dtype=bool) for _ in radii_m]
    for k, idx in enumerate(exact):
        in_exact[k][idx] = True
    local_pixel_m2 = np.abs(base.jinv[:, 0, 0] * base.jinv[:, 1, 1] - base.jinv[:, 0, 1] * base.jinv[:, 1, 0])
    # Whole pixels inside the disk add their people: counts as they are; density x the pixel's exact area (per row)
    # on geographic rasters, or x the local pixel area at the point on projected rasters. Partly covered pixels add
    # people per m² x overlap area (a count raster's density is its count over the pixel's exact area, or over
    # the local pixel area on projected rasters).
    geographic = layer.crs.is_geographic
    if geographic:
        iscale = np.ones(lon.size)
        pscale = np.full(lon.size, 1e-6)  # per km² x m²
    elif layer.value == "density":
        iscale, pscale = local_pixel_m2 / 1e6, np.full(lon.size, 1e-6)
    else:
        iscale, pscale = np.ones(lon.size), 1.0 / local_pixel_m2
    # Windows sized for the largest radius serve every radius.
    widest = replace(base, radius_m=float(max(radii_m)))
    with _env(), _open(layer) as ds:
        for window, members in _disk_windows(layer, widest, union, max_bytes):
            data = _as_float(layer, _read(layer, ds, window))
            ok = np.isfinite(data)
            people = np.where(ok, data, 0.0)
            per_area = people
            if geographic:
                rows = np.arange(window.row_off, window.row_off + window.height)
                area = pixel_areas_km2(layer, rows)[:, None]
                if layer.value == "density":
                    people = people * area
                else:
                    per_area = people / area
            cum = np.zeros((data.shape[0], data.shape[1] + 1))
            np.cumsum(people, axis=1, out=cum[:, 1:])
            okcum = np.zeros(cum.shape)
            np.cumsum(ok.astype(np.float64), axis=1, out=okcum[:, 1:])  # casting bools inside cumsum is 5x slower
            per_area = np.ascontiguousarray(per_area)
            pts_all = union[members]
            # Morton order: neighbouring points read neighbouring rows of the prefix sums (cache locality).
            pts_all = pts_all[spatial_order(lon[pts_all], lat[pts_all])]
            for k, radius in enumerate(radii_m):
                pts = pts_all[in_exact[k][pts_all]]
                if not pts.size:
                    continue
                t = np.zeros(pts.size)
                v = np.zeros(pts.size)
                # Points a thread takes at a time: an equal share per thread (numba's default) leaves one waiting
                # when the other is held up by another job on the machine.
                with numba.parallel_chunksize(256):
                    kernel(cum, okcum, per_area, ok, base.col[pts] - window.col_off, base.row[pts] - window.row_off,
                           np.ascontiguousarray(base.jinv[pts]), iscale[pts], pscale[pts], float(radius), t, v)
                totals[k][pts] += t
                valids[k][pts] += v
    for k, idx in enumerate(exact):
        outs[k][idx] = np.where(valids[k][idx] > 0, totals[k][idx], np.nan)
    return outs


def _disk_kernel(layer: RasterLayer, lon: float, lat: float, radius_m: float) -> tuple[NDArray, NDArray]:
    """Weights of the pixels around a disk centred on a pixel centre at (lon, lat): (people weights, overlap>0).

    People weight = overlap area in km² for density rasters, overlap / pixel area for count rasters.
    """
    jac = local_jacobian(layer, np.array([lon]), np.array([lat]))[0]
    det = jac[0, 0] * jac[1, 1] - jac[0, 1] * jac[1, 0]
    jinv = np.array([[jac[1, 1], -jac[0, 1]], [-jac[1, 0], jac[0, 0]]]) / det
    q = jinv.T @ jinv
    dq = q[0, 0] * q[1, 1] - q[0, 1] ** 2
    kc = int(np.ceil(radius_m * np.sqrt(q[1, 1] / dq) + 0.5))
    kr = int(np.ceil(radius_m * np.sqrt(q[0, 0] / dq) + 0.5))
    rows, cols = np.mgrid[-kr:kr + 1, -kc:kc + 1]
    n = rows.size
    overlap = _pixel_overlap_m2(np.broadcast_to(jinv, (n, 2, 2)), cols.ravel() - 0.5, rows.ravel() - 0.5, radius_m)
    overlap = overlap.reshape(rows.shape)
    weight = overlap / 1e6 if layer.value == "density" else overlap / abs(np.linalg.det(jinv))
    return weight, (overlap > 0).astype(np.float64)


def _disk_sum_convolved(
    layer: RasterLayer, lon: NDArray, lat: NDArray, radius_m: float, idx: NDArray, max_bytes: int
) -> tuple[NDArray, NDArray]:
    """People in the disk for the points ``idx`` by convolution at pixel centres and bilinear interpolation.

    Returns (total, valid) for ``idx``: valid is the interpolated number of valid pixels the disk reaches.
    """
    from scipy.signal import fftconvolve

    col, row = pixel_coordinates(layer, lon[idx], lat[idx])
    # The four pixel centres around each point: (c0, r0) .. (c0 + 1, r0 + 1), centres at integer + 0.5.
    fc, fr = col - 0.5, row - 0.5
    c0, r0 = np.floor(fc).astype(np.int64), np.floor(fr).astype(np.int64)
    wc, wr = fc - c0, fr - r0
    total = np.zeros(idx.size)
    valid = np.zeros(idx.size)
    t = layer.transform
    band_rows = max(int(BAND_DEG / abs(t.e)), 16) if layer.crs.is_geographic else 512
    band = np.clip(r0, 0, layer.height - 1) // band_rows
    order = np.argsort(band, kind="stable")
    edges = np.r_[0, np.flatnonzero(np.diff(band[order])) + 1, order.size]
    with _env(), _open(layer) as ds:
        for start, stop in itertools.pairwise(edges.tolist()):
            members = order[start:stop]
            mid_col = float(np.clip(np.median(col[members]), 0, layer.width - 1))
            mid_row = (band[members[0]] + 0.5) * band_rows
            mid_row = min(mid_row, layer.height - 0.5)
            x, y = t.a * mid_col + t.b * mid_row + t.c, t.d * mid_col + t.e * mid_row + t.f
            if layer._to_raster is not None:
                x, y = layer._to_raster.transform(x, y, direction="INVERSE")
            weight, reach = _disk_kernel(layer, float(x), float(y), radius_m)
            kr, kc = weight.shape[0] // 2, weight.shape[1] // 2
            need_r0 = int(r0[members].min()) - kr
            need_r1 = int(r0[members].max()) + 1 + kr
            need_c0 = int(c0[members].min()) - kc
            need_c1 = int(c0[members].max()) + 1 + kc
            win_r0, win_r1 = max(need_r0, 0), min(need_r1, layer.height - 1)
            win_c0, win_c1 = max(need_c0, 0), min(need_c1, layer.width - 1)
            if win_r1 < win_r0 or win_c1 < win_c0:
                continue
            data = _as_float(layer, _read(layer, ds, Window(win_c0, win_r0, win_c1 - win_c0 + 1,
                                                          win_r1 - win_r0 + 1)))
            ok = np.isfinite(data)
            values = np.where(ok, data, 0.0)
            # Pad to the full needed extent with zeros (outside the raster: nobody, not valid).
            pad = ((win_r0 - need_r0, need_r1 - win_r1), (win_c0 - need_c0, need_c1 - win_c1))
            values = np.pad(values, pad)
            okf = np.pad(ok.astype(np.float64), pad)
            people = fftconvolve(values, weight[::-1, ::-1], mode="same")
            reached = fftconvolve(okf, reach[::-1, ::-1], mode="same")
            for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
                rr = r0[members] + dr - need_r0
                cc = c0[members] + dc - need_c0
                w = (wr[members] if dr else 1 - wr[members]) * (wc[members] if dc else 1 - wc[members])
                total[members] += w * people[rr, cc]
                valid[members] += w * np.maximum(reached[rr, cc], 0.0)
    return total, valid
