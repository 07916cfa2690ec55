"""Spatial partitions of a point table, the cap around each partition, and the halo a partition needs.

**Order.** Points are cut into partitions along a Hilbert curve over longitude and latitude
(:meth:`geopandas.GeoSeries.hilbert_distance`, the method dask-geopandas' ``spatial_shuffle`` uses), so each
partition is a compact patch of the map. Points without a usable position go to one extra partition.

**Cap.** A partition's cap is a centre and a radius ``R`` (km) with every point of the partition within ``R`` of
the centre by ellipsoidal geodesic distance (measured with :func:`connectmap.geodesy.geodesic_km`, then widened by
a relative 1e-9 and 1 mm, far above Karney's nanometre error).

**Halo.** The reference points (towers, other schools) a partition's task reads are those whose *chord* (straight
line through the Earth, ECEF km) from the centre is at most ``R + H``. Why that is enough:

* the geodesic distance is a metric on the ellipsoid, so for a school ``s`` of the partition and a reference point
  ``t`` within ``H`` of ``s``: ``d(c, t) <= d(c, s) + d(s, t) <= R + H``;
* a chord is never longer than the geodesic between the same points, so ``t`` passes the chord test.

Every reference point within ``H`` of any school of the partition is therefore read (the test may let in a few
more, which cannot change an exact answer). A nearest answer at distance ``d <= H`` is then the global answer, ties
included (every point at distance exactly ``d`` is read too, in the global order). Counts within ``r <= H`` are
exact. Answers farther than ``H`` are recomputed with a wider halo (:mod:`connectmap.engine.run`).

Why hand-written: dask-geopandas partitions by bounding boxes in degrees, which says nothing about geodesic
distance near the poles or across the antimeridian; a cap with a geodesic radius does.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from connectmap.geodesy import ecef_km, geodesic_km

#: Column that carries a reference point's position in the layer's global order (for ties and de-duplication).
ROW = "_engine_row"
#: Farther than any two points on the ellipsoid (half a meridian is 20,003.9 km): a halo this wide reads everything.
WHOLE_EARTH_KM = 20_100.0
#: Smallest partition of schools: :mod:`connectmap.geodesy` measures batches of 1,000 pairs or more with its
#: compiled formula and smaller ones with pyproj (they agree to 1e-8 km), so a partition as large as that keeps
#: every distance in the formula the whole table uses, bit for bit.
MIN_PARTITION_ROWS = 1000
_RELATIVE_SLACK = 1e-9
_ABSOLUTE_SLACK_KM = 1e-6


@dataclass(frozen=True)
class Cap:
    """A spherical cap on the ellipsoid: every point of a partition is within ``radius_km`` of the centre.

    Attributes
    ----------
    lon, lat
        Centre (degrees).
    radius_km
        Geodesic radius (km), an upper bound of the distance from the centre to every point.
    """

    lon: float
    lat: float
    radius_km: float

    @property
    def xyz_km(self) -> NDArray[np.float64]:
        """The centre in Earth-centred coordinates (km)."""
        return ecef_km(np.array([self.lon]), np.array([self.lat]))[0]

    def reaches(self, other: Cap | None, halo_km: float) -> bool:
        """Whether some point of ``other`` may lie within ``self.radius_km + halo_km`` of this centre.

        ``False`` is certain: any point ``t`` of ``other`` has ``chord(c, t) <= chord(c, c') + R'``.
        """
        if other is None:
            return False
        chord = float(np.linalg.norm(self.xyz_km - other.xyz_km))
        return chord <= self.radius_km + halo_km + other.radius_km + _ABSOLUTE_SLACK_KM


def point_lonlat(table: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude (degrees, WGS84) of a table's point geometry, or of its longitude/latitude columns;
    NaN where missing."""
    if isinstance(table, gpd.GeoDataFrame) and table.geometry.name in table.columns:
        series = table.geometry
        if series.crs is not None and not series.crs.equals("EPSG:4326"):
            series = series.to_crs("EPSG:4326")
        geom = series.to_numpy()
        bad = shapely.is_missing(geom) | shapely.is_empty(geom)
        lon = np.where(bad, np.nan, shapely.get_x(geom)).astype(np.float64)
        lat = np.where(bad, np.nan, shapely.get_y(geom)).astype(np.float64)
        return lon, lat
    lon = pd.to_numeric(table["longitude"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lat = pd.to_numeric(table["latitude"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return lon, lat


def cap_of(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Cap | None:
    """The cap around the finite points (``None`` when there are none).

    The centre is the normalised mean of the points' unit vectors (any centre would be correct; this one keeps
    the radius small); the radius is the largest geodesic distance to it, widened by the slack.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    lon, lat = lon[ok], lat[ok]
    lam, phi = np.radians(lon), np.radians(lat)
    mean = np.array([np.mean(np.cos(phi) * np.cos(lam)), np.mean(np.cos(phi) * np.sin(lam)), np.mean(np.sin(phi))])
    norm = float(np.linalg.norm(mean))
    if norm < 1e-9:  # points spread evenly round the globe: any centre will do
        c_lon, c_lat = float(lon[0]), float(lat[0])
    else:
        mean /= norm
        c_lon = float(np.degrees(np.arctan2(mean[1], mean[0])))
        c_lat = float(np.degrees(np.arcsin(np.clip(mean[2], -1.0, 1.0))))
    radius = float(np.max(geodesic_km(np.full(lon.size, c_lon), np.full(lon.size, c_lat), lon, lat)))
    return Cap(c_lon, c_lat, radius * (1.0 + _RELATIVE_SLACK) + _ABSOLUTE_SLACK_KM)


def cap_of_table(table: pd.DataFrame) -> Cap | None:
    """The cap around a table's points (``None`` when none has a position)."""
    return cap_of(*point_lonlat(table))


def within_halo(
    lon: NDArray[np.float64], lat: NDArray[np.float64], cap: Cap | None, halo_km: float
) -> NDArray[np.bool_]:
    """Points whose chord from the cap's centre is at most ``cap.radius_km + halo_km`` (see the module docstring).

    Every point within ``halo_km`` (geodesic) of any point of the cap is selected; ``None`` selects nothing.
    """
    if cap is None:
        return np.zeros(lon.size, dtype=bool)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(lon.size, dtype=bool)
    if halo_km >= WHOLE_EARTH_KM:
        return ok
    idx = np.flatnonzero(ok)
    chord = np.linalg.norm(ecef_km(lon[idx], lat[idx]) - cap.xyz_km, axis=1)
    out[idx] = chord <= cap.radius_km + halo_km + _ABSOLUTE_SLACK_KM
    return out


def hilbert_partitions(
    lon: NDArray[np.float64], lat: NDArray[np.float64], rows: int, min_rows: int = MIN_PARTITION_ROWS
) -> list[NDArray[np.int64]]:
    """Positions of the points cut into equal partitions of at most ``rows`` along a Hilbert curve.

    Partitions hold at least ``min_rows`` points when there are that many (fewer, larger partitions otherwise).
    Points without a finite position form the last partition. Each partition's positions are in ascending order,
    so a partition keeps the table's own order.
    """
    ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    parts: list[NDArray[np.int64]] = []
    if ok.size:
        points = gpd.GeoSeries(shapely.points(lon[ok], lat[ok]))
        key = points.hilbert_distance(total_bounds=(-180.0, -90.0, 180.0, 90.0), level=16).to_numpy()
        order = ok[np.argsort(key, kind="stable")]
        count = max(1, min(int(np.ceil(order.size / max(rows, 1))), order.size // max(min_rows, 1)))
        parts = [np.sort(chunk) for chunk in np.array_split(order, count)]
    missing = np.setdiff1d(np.arange(lon.size), ok)
    if missing.size:
        parts.append(missing)
    return parts
