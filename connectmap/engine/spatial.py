"""Spatial partitions of a point table, the footprint of each partition, and the halo a partition needs.

**Order.** Points are cut into partitions along a Hilbert curve over longitude and latitude
(:meth:`geopandas.GeoSeries.hilbert_distance`, the method dask-geopandas' ``spatial_shuffle`` uses), so each
partition is a patch of the map. Points without a usable position go to one extra partition.

**Cap.** A cap is a centre and a radius ``R`` (km) such that every point it stands for is within ``R`` of the
centre by ellipsoidal geodesic distance (measured with :func:`connectmap.geodesy.geodesic_km`, then widened by a
relative 1e-9 and 1 mm, far above Karney's nanometre error).

**Footprint.** A partition of schools can be long and ragged (the curve wanders and jumps across seas), so one cap
round it would hold a lot of empty land and the towers on it. Its footprint is instead one cap per grid cell of
:data:`FOOTPRINT_CELL_DEG` degrees that holds some of its schools: small caps that hug where the schools are.

**Halo.** The reference points (towers, other schools) a partition's task reads are those whose *chord* (straight
line through the Earth, ECEF km) from some cap's centre is at most that cap's ``R + H``. Why that is enough:

* the geodesic distance is a metric on the ellipsoid, so for a school ``s`` in a cap with centre ``c`` and a
  reference point ``t`` within ``H`` of ``s``: ``d(c, t) <= d(c, s) + d(s, t) <= R + H``;
* a chord is never longer than the geodesic between the same points, so ``t`` passes the chord test.

Every reference point within ``H`` of any school of the partition is therefore read (the test may let in a few
more, which cannot change an exact answer). A nearest answer at distance ``d <= H`` is then the global answer, ties
included (every point at distance exactly ``d`` is read too, in the global order). Counts within ``r <= H`` are
exact. Answers farther than ``H`` are recomputed with a wider halo (:mod:`connectmap.engine.engine`).

Why hand-written: dask-geopandas partitions by bounding boxes in degrees, which says nothing about geodesic
distance near the poles or across the antimeridian; caps with geodesic radii do.
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
#: Side of the grid cells (degrees) whose caps make a footprint.
FOOTPRINT_CELL_DEG = 0.5
#: Above this many caps, halo tests go through a KD-tree instead of a loop over the caps.
_LOOP_CAPS = 8
_RELATIVE_SLACK = 1e-9
_ABSOLUTE_SLACK_KM = 1e-6


@dataclass(frozen=True)
class Cap:
    """A spherical cap on the ellipsoid: every point it stands for is within ``radius_km`` of the centre.

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


@dataclass(frozen=True)
class Footprint:
    """Caps that together hold every point of a partition (see the module docstring).

    Attributes
    ----------
    lon, lat, radius_km
        Centre (degrees) and radius (km) of each cap.
    count
        Points in each cap.
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    radius_km: NDArray[np.float64]
    count: NDArray[np.int64]

    @classmethod
    def of_caps(cls, caps: list[Cap], counts: list[int] | None = None) -> Footprint:
        return cls(np.array([c.lon for c in caps]), np.array([c.lat for c in caps]),
                   np.array([c.radius_km for c in caps]),
                   np.array(counts if counts is not None else [0] * len(caps), dtype=np.int64))

    @property
    def xyz_km(self) -> NDArray[np.float64]:
        """Cap centres in Earth-centred coordinates (km), shape ``(caps, 3)``."""
        return ecef_km(self.lon, self.lat)

    @property
    def largest_radius_km(self) -> float:
        return float(self.radius_km.max())


def as_footprint(area: Footprint | Cap) -> Footprint:
    """A cap as a footprint of one cap."""
    return area if isinstance(area, Footprint) else Footprint.of_caps([area])


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


def footprint_of(
    lon: NDArray[np.float64], lat: NDArray[np.float64], cell_deg: float = FOOTPRINT_CELL_DEG
) -> Footprint | None:
    """One cap per grid cell of ``cell_deg`` degrees holding finite points; ``None`` without any."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    lon, lat = lon[ok], lat[ok]
    columns = int(np.ceil(360.0 / cell_deg)) + 1
    key = np.floor((lat + 90.0) / cell_deg) * columns + np.floor((lon + 180.0) / cell_deg)
    _, cell = np.unique(key, return_inverse=True)
    cells = int(cell.max()) + 1
    lam, phi = np.radians(lon), np.radians(lat)
    xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    mean = np.column_stack([np.bincount(cell, weights=xyz[:, k], minlength=cells) for k in range(3)])
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)  # points of one cell are never spread round the globe
    c_lon = np.degrees(np.arctan2(mean[:, 1], mean[:, 0]))
    c_lat = np.degrees(np.arcsin(np.clip(mean[:, 2], -1.0, 1.0)))
    radius = np.zeros(cells)
    np.maximum.at(radius, cell, geodesic_km(c_lon[cell], c_lat[cell], lon, lat))
    return Footprint(c_lon, c_lat, radius * (1.0 + _RELATIVE_SLACK) + _ABSOLUTE_SLACK_KM,
                     np.bincount(cell, minlength=cells).astype(np.int64))


def within_halo(
    lon: NDArray[np.float64], lat: NDArray[np.float64], area: Footprint | Cap | None, halo_km: float
) -> NDArray[np.bool_]:
    """Points whose chord from some cap's centre is at most its radius + ``halo_km`` (see the module docstring).

    Every point within ``halo_km`` (geodesic) of any point of the area is selected; ``None`` selects nothing.
    """
    if area is None:
        return np.zeros(lon.size, dtype=bool)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if halo_km >= WHOLE_EARTH_KM:
        return ok
    area = as_footprint(area)
    out = np.zeros(lon.size, dtype=bool)
    idx = np.flatnonzero(ok)
    if not idx.size:
        return out
    xyz = ecef_km(lon[idx], lat[idx])
    reach = area.radius_km + halo_km + _ABSOLUTE_SLACK_KM
    if area.lon.size <= _LOOP_CAPS:
        for centre, limit in zip(area.xyz_km, reach, strict=True):
            out[idx[np.linalg.norm(xyz - centre, axis=1) <= limit]] = True
        return out
    from scipy.spatial import cKDTree

    hits = cKDTree(xyz).query_ball_point(area.xyz_km, r=reach, return_sorted=False)
    found = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]) if len(hits) else np.empty(0, np.int64)
    out[idx[found]] = True
    return out


def _cap_hits(
    area: Footprint | Cap | None, others: list[Footprint | Cap | None], halo_km: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(owner, cap) of every cap of ``others`` that may hold a point within ``halo_km`` of a point of ``area``.

    A cap is left out only when it certainly cannot: a point ``t`` of a cap ``(c', R')`` has
    ``chord(c, t) <= chord(c, c') + R'``, and the chord is never longer than the geodesic.
    """
    empty = np.empty(0, dtype=np.int64)
    if area is None:
        return empty, empty
    mine = as_footprint(area)
    owners, lons, lats, radii = [], [], [], []
    for position, other in enumerate(others):
        if other is None:
            continue
        theirs = as_footprint(other)
        owners.append(np.column_stack([np.full(theirs.lon.size, position), np.arange(theirs.lon.size)]))
        lons.append(theirs.lon)
        lats.append(theirs.lat)
        radii.append(theirs.radius_km)
    if not owners:
        return empty, empty
    from scipy.spatial import cKDTree

    owner = np.concatenate(owners)
    xyz = ecef_km(np.concatenate(lons), np.concatenate(lats))
    radius = np.concatenate(radii)
    centres = mine.xyz_km
    # Candidates by the largest radius, then the exact test per pair of caps.
    hits = cKDTree(xyz).query_ball_point(centres, r=mine.radius_km + radius.max() + halo_km + _ABSOLUTE_SLACK_KM,
                                         return_sorted=False)
    sizes = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    if not sizes.sum():
        return empty, empty
    mine_of = np.repeat(np.arange(len(hits)), sizes)
    theirs_of = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])
    chord = np.linalg.norm(centres[mine_of] - xyz[theirs_of], axis=1)
    close = np.unique(theirs_of[chord <= mine.radius_km[mine_of] + radius[theirs_of] + halo_km + _ABSOLUTE_SLACK_KM])
    return owner[close, 0], owner[close, 1]


def reaching(area: Footprint | Cap | None, others: list[Footprint | Cap | None], halo_km: float) -> list[int]:
    """Positions in ``others`` of the areas that may hold a point within ``halo_km`` of a point of ``area``."""
    owner, _ = _cap_hits(area, others, halo_km)
    return sorted(set(owner.tolist()))


def points_reached(area: Footprint | Cap | None, others: list[Footprint | None], halo_km: float) -> int:
    """Points in the caps of ``others`` that may lie within ``halo_km`` of ``area`` (an upper bound of what a task
    with that halo reads)."""
    owner, cap = _cap_hits(area, others, halo_km)
    return int(sum(as_footprint(others[o]).count[c] for o, c in zip(owner.tolist(), cap.tolist(), strict=True)))


@dataclass(frozen=True)
class Partition:
    """Positions of a partition's points in the table (ascending), its footprint, and its points in curve order."""

    positions: NDArray[np.int64]
    footprint: Footprint | None
    curve: NDArray[np.int64]

    def halves(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[Partition, Partition]:
        """The partition cut in two along the curve."""
        first, second = np.array_split(self.curve, 2)
        return (Partition(np.sort(first), footprint_of(lon[first], lat[first]), first),
                Partition(np.sort(second), footprint_of(lon[second], lat[second]), second))


def hilbert_partitions(
    lon: NDArray[np.float64], lat: NDArray[np.float64], rows: int, min_rows: int = MIN_PARTITION_ROWS
) -> list[Partition]:
    """The points cut into equal runs of at most ``rows`` along a Hilbert curve, with their footprints.

    Partitions hold at least ``min_rows`` points when there are that many (fewer, larger partitions otherwise).
    Points without a finite position form the last partition (no footprint). Each partition's positions are in
    ascending order, so a partition keeps the table's own order.
    """
    ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    parts: list[Partition] = []
    if ok.size:
        points = gpd.GeoSeries(shapely.points(lon[ok], lat[ok]))
        key = points.hilbert_distance(total_bounds=(-180.0, -90.0, 180.0, 90.0), level=16).to_numpy()
        order = ok[np.argsort(key, kind="stable")]
        count = max(1, min(int(np.ceil(order.size / max(rows, 1))), order.size // max(min_rows, 1)))
        parts = [Partition(np.sort(run), footprint_of(lon[run], lat[run]), run) for run in np.array_split(order, count)]
    missing = np.setdiff1d(np.arange(lon.size), ok)
    if missing.size:
        parts.append(Partition(missing, None, missing))
    return parts
