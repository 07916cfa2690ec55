"""Exact geodesic nearest-neighbour search and distances on the WGS84 ellipsoid.

Why hand-written: no library answers "nearest point by ellipsoidal geodesic distance" for millions of points.
scikit-learn's BallTree with the haversine metric is exact on a sphere but slow; a KD-tree on raw degrees (what
giga-spatial does) is fast but picks the wrong neighbour away from the equator. We use scipy's cKDTree on 3-D unit
vectors (chord length is monotonic in great-circle distance, so the spherical nearest is exact and fast), then make
the answer exact on the ellipsoid:

* Along any curve, the ratio of ellipsoidal length to the length of the same curve mapped onto a sphere of radius
  ``R`` (same latitude and longitude) lies between ``M_equator / R`` and ``N_pole / R`` (the smallest and largest
  radii of curvature of WGS84). So ``RATIO_MIN * s <= e <= RATIO_MAX * s`` for every pair, where ``s`` is the
  spherical and ``e`` the ellipsoidal distance.
* If the second-nearest point on the sphere is farther than ``s1 * RATIO_MAX / RATIO_MIN``, no other point can be
  nearer on the ellipsoid than the spherical nearest. Otherwise (near ties, a few per cent of queries at most) every
  candidate inside that radius is measured with :class:`pyproj.Geod` and the nearest taken.
* Distances reported are always pyproj ``Geod.inv`` (Karney's algorithm, accurate to nanometres).

Counting points within a radius uses the same bounds: points clearly inside or outside on the sphere are counted
from the tree, and only those in the uncertain ring are measured on the ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

#: Mean Earth radius (IUGG), the sphere the KD-tree works on.
EARTH_RADIUS_KM = 6371.0088
_A_KM = 6378.137
_B_KM = 6356.752314245
#: Smallest radius of curvature of WGS84 (meridional, at the equator), relative to the sphere.
RATIO_MIN = (_B_KM**2 / _A_KM) / EARTH_RADIUS_KM
#: Largest radius of curvature of WGS84 (at the poles), relative to the sphere.
RATIO_MAX = (_A_KM**2 / _B_KM) / EARTH_RADIUS_KM
_SAFETY = 1.0 + 1e-9
_GEOD = pyproj.Geod(ellps="WGS84")


def unit_vectors(lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.float64]:
    """Points on the unit sphere for longitudes and latitudes in degrees, shape ``(n, 3)``."""
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))


def km_to_chord(distance_km: ArrayLike) -> NDArray[np.float64]:
    """Chord length on the unit sphere for a great-circle distance in km (capped at half the circumference)."""
    angle = np.minimum(np.asarray(distance_km, dtype=np.float64) / EARTH_RADIUS_KM, np.pi)
    return 2.0 * np.sin(angle / 2.0)


def chord_to_km(chord: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in km on the mean sphere for a chord length on the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, dtype=np.float64) / 2.0, 0.0, 1.0))


def geodesic_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Ellipsoidal (WGS84) geodesic distance in km between paired points, vectorised; NaN in, NaN out."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (lon1, lat1, lon2, lat2))
    )
    out = np.full(lon1.shape, np.nan)
    ok = np.isfinite(lon1) & np.isfinite(lat1) & np.isfinite(lon2) & np.isfinite(lat2)
    if ok.any():
        _, _, dist_m = _GEOD.inv(lon1[ok], lat1[ok], lon2[ok], lat2[ok])
        out[ok] = np.asarray(dist_m) / 1000.0
    return out


@dataclass
class Nearest:
    """Result of a nearest-point search.

    Attributes
    ----------
    index
        Position of the nearest reference point in the array the index was built from; -1 where the query point
        was not finite or the index is empty.
    distance_km
        Ellipsoidal geodesic distance to it in km; NaN where ``index`` is -1.
    """

    index: NDArray[np.int64]
    distance_km: NDArray[np.float64]


class PointIndex:
    """An exact geodesic nearest-neighbour and radius index over points given in degrees.

    Parameters
    ----------
    lon_deg, lat_deg
        Reference points. Non-finite points are left out of the index (they can never be nearest).

    Examples
    --------
    >>> towers = PointIndex([0.0, 1.0], [0.0, 0.0])
    >>> hit = towers.nearest([0.9], [0.0])
    >>> int(hit.index[0]), round(float(hit.distance_km[0]), 3)
    (1, 11.132)
    """

    def __init__(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> None:
        lon = np.asarray(lon_deg, dtype=np.float64).ravel()
        lat = np.asarray(lat_deg, dtype=np.float64).ravel()
        if lon.shape != lat.shape:
            raise ValueError("longitude and latitude arrays differ in length")
        finite = np.isfinite(lon) & np.isfinite(lat)
        self._positions = np.flatnonzero(finite)
        self.lon = lon[finite]
        self.lat = lat[finite]
        self._tree = cKDTree(unit_vectors(self.lon, self.lat)) if self._positions.size else None

    def __len__(self) -> int:
        return int(self._positions.size)

    def _queries(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> tuple[NDArray, NDArray, NDArray]:
        lon = np.asarray(lon_deg, dtype=np.float64).ravel()
        lat = np.asarray(lat_deg, dtype=np.float64).ravel()
        ok = np.isfinite(lon) & np.isfinite(lat)
        return lon, lat, ok

    def nearest(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> Nearest:
        """Nearest reference point to each query point by ellipsoidal geodesic distance.

        Ties (equal distances to the nanometre) go to the reference point that comes first.
        """
        lon, lat, ok = self._queries(lon_deg, lat_deg)
        index = np.full(lon.shape, -1, dtype=np.int64)
        distance = np.full(lon.shape, np.nan)
        if self._tree is None or not ok.any():
            return Nearest(index, distance)
        qlon, qlat = lon[ok], lat[ok]
        xyz = unit_vectors(qlon, qlat)
        k = min(2, len(self))
        # A list of k values always gives 2-D results, also for k = 1.
        chord, idx = self._tree.query(xyz, k=list(range(1, k + 1)), workers=-1)
        best = idx[:, 0].astype(np.int64)
        sph1_km = chord_to_km(chord[:, 0])
        limit_km = sph1_km * (RATIO_MAX / RATIO_MIN) * _SAFETY
        if k > 1:
            unsure = np.flatnonzero(chord_to_km(chord[:, 1]) <= limit_km)
            if unsure.size:
                best[unsure] = self._resolve(qlon[unsure], qlat[unsure], xyz[unsure], limit_km[unsure])
        index[ok] = self._positions[best]
        distance[ok] = geodesic_km(qlon, qlat, self.lon[best], self.lat[best])
        return Nearest(index, distance)

    def _resolve(self, qlon: NDArray, qlat: NDArray, xyz: NDArray, limit_km: NDArray) -> NDArray[np.int64]:
        """Exact nearest for queries whose spherical runner-up is too close to trust the spherical answer."""
        assert self._tree is not None
        candidates = self._tree.query_ball_point(xyz, r=km_to_chord(limit_km) * _SAFETY, workers=-1)
        lengths = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=len(candidates))
        owner = np.repeat(np.arange(len(candidates)), lengths)
        cand = np.fromiter((j for c in candidates for j in c), dtype=np.int64, count=int(lengths.sum()))
        dist = geodesic_km(qlon[owner], qlat[owner], self.lon[cand], self.lat[cand])
        # Sort by owner, then distance, then candidate position; the first row of each owner wins.
        order = np.lexsort((cand, dist, owner))
        first = np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]
        return cand[order][first]

    def count_within(self, lon_deg: ArrayLike, lat_deg: ArrayLike, radius_km: float) -> NDArray[np.int64]:
        """Number of reference points within ``radius_km`` (ellipsoidal geodesic, inclusive) of each query.

        Query points that are not finite get -1, so a caller can tell "unknown" from "none".
        """
        lon, lat, ok = self._queries(lon_deg, lat_deg)
        counts = np.where(ok, 0, -1).astype(np.int64)
        if self._tree is None or not ok.any():
            return counts
        qlon, qlat = lon[ok], lat[ok]
        xyz = unit_vectors(qlon, qlat)
        inner = km_to_chord(radius_km / RATIO_MAX) / _SAFETY
        outer = km_to_chord(radius_km / RATIO_MIN) * _SAFETY
        n_inner = self._tree.query_ball_point(xyz, r=inner, return_length=True, workers=-1)
        n_outer = self._tree.query_ball_point(xyz, r=outer, return_length=True, workers=-1)
        result = np.asarray(n_inner, dtype=np.int64)
        ring = np.flatnonzero(np.asarray(n_outer) != result)
        if ring.size:
            candidates = self._tree.query_ball_point(xyz[ring], r=outer, workers=-1)
            lengths = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=ring.size)
            owner = np.repeat(ring, lengths)
            cand = np.fromiter((j for c in candidates for j in c), dtype=np.int64, count=int(lengths.sum()))
            inside = geodesic_km(qlon[owner], qlat[owner], self.lon[cand], self.lat[cand]) <= radius_km
            result[ring] = np.bincount(owner[inside], minlength=len(qlon))[ring]
        counts[ok] = result
        return counts

    def pairs_within(self, radius_km: float) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """All pairs of reference points within ``radius_km`` of each other (ellipsoidal geodesic, inclusive).

        Returns
        -------
        i, j, distance_km
            Positions in the original arrays (``i < j`` in index order) and their distance in km.
        """
        if self._tree is None:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        pairs = self._tree.query_pairs(km_to_chord(radius_km / RATIO_MIN) * _SAFETY, output_type="ndarray")
        if pairs.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        a, b = pairs[:, 0], pairs[:, 1]
        dist = geodesic_km(self.lon[a], self.lat[a], self.lon[b], self.lat[b])
        keep = dist <= radius_km
        i, j = self._positions[a[keep]], self._positions[b[keep]]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        return lo, hi, dist[keep]
