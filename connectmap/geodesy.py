"""Exact geodesic nearest-neighbour search and distances on the WGS84 ellipsoid.

Why hand-written: no library answers "nearest point by ellipsoidal geodesic distance" for millions of points.
scikit-learn's BallTree with the haversine metric is exact on a sphere but slow; a KD-tree on raw degrees (what
giga-spatial does) is fast but picks the wrong neighbour away from the equator. We use scipy's cKDTree on the
points' 3-D Earth-centred coordinates (ECEF, km, on the WGS84 ellipsoid) and make the answer exact with two bounds
that hold for every pair of points on the ellipsoid, where ``c`` is the straight-line (chord) distance and ``s`` the
ellipsoidal geodesic distance:

* ``c <= s``: a straight line is the shortest path in space.
* ``s <= 2 rho asin(c / (2 rho))`` with ``rho = b**2 / a`` (6335.4 km), the smallest radius of curvature of WGS84:
  a geodesic's curvature in space is the normal curvature of the surface, at most ``1 / rho``, and by Schur's
  comparison theorem a curve of curvature at most ``1 / rho`` has a chord at least that of a circular arc of radius
  ``rho`` of the same length. The theorem needs ``s <= pi rho``; it holds whenever ``c <= 2 rho sin(0.45 pi)``,
  because on WGS84 ``s <= (pi / 2) (a / b) c`` always. Larger chords are simply treated as "not sure".

For distances up to a few hundred km the two bounds differ by less than a millimetre (``s**3 / (24 rho**2)``), so:

* The KD-tree's nearest point by chord is the geodesic nearest unless the runner-up's chord is within that sliver;
  those rare queries have every candidate inside the bound measured (compiled distance, re-measured with
  :class:`pyproj.Geod` where another place comes within a millimetre of the best) and the nearest taken.
* Counting points within a radius counts the points clearly inside and measures only the points in the
  sub-millimetre uncertain ring. Radii up to :data:`GRID_MAX_KM` are counted in one pass over a grid of ECEF cells
  as wide as the radius (compiled, :class:`connectmap._geodesic_fast.CellGrid`: every point within the radius lies
  in the 27 cells around the query's; 7x faster than two KD-tree passes at 5 km), larger ones with the KD-tree.
* Distances reported are pyproj ``Geod.inv`` (Karney's algorithm, accurate to nanometres) or, for pairs under
  200 km in large batches, a compiled closed form that agrees with it to 1e-5 m
  (:mod:`connectmap._geodesic_fast`).

Queries are processed in Morton (Z-order) order of their coordinates: nearby queries then walk the same tree nodes,
which makes large batches two to three times faster (measured in ``benchmarks/bench_enrich.py``); results are
returned in the caller's order. A step that searches several indexes with the same schools (one per technology,
fibre nodes and lines) sorts them and computes their ECEF coordinates once (:func:`prepare_queries`).

:class:`PolylineIndex` answers "distance to the nearest line" (fibre routes, region outlines): see its docstring
for the method and its error bound.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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
_E2 = 1.0 - (_B_KM / _A_KM) ** 2
#: Smallest radius of curvature of WGS84 (km): the meridian at the equator, ``b**2 / a``.
RHO_MIN_KM = _B_KM**2 / _A_KM
#: Largest chord (km) for which the Schur bound is valid (see the module docstring).
_CHORD_TRUSTED_KM = 2.0 * RHO_MIN_KM * np.sin(0.45 * np.pi)
#: Absolute slack (km) added to every bound, far above floating-point error of ECEF coordinates (~1e-9 km).
_SLACK_KM = 1e-7
#: Distances (km) closer than this to the nearest are re-measured with Geod before a choice between points is made
#: (the compiled distance agrees with Geod to 1e-8 km).
_TIE_KM = 1e-6
#: Batches smaller than this are not worth sorting into Morton order.
_SORT_MIN = 20_000
#: Queries per block handed to a thread by :func:`_query_knn`, and the number of threads.
_QUERY_BLOCK = 32_768
_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Largest radius (km) counted on the ECEF cell grid; larger radii are counted with the KD-tree.
GRID_MAX_KM = 200.0


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


def ecef_km(lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.float64]:
    """Earth-centred, Earth-fixed coordinates (km) of points on the WGS84 ellipsoid, shape ``(n, 3)``."""
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    sin_lat = np.sin(lat)
    n = _A_KM / np.sqrt(1.0 - _E2 * sin_lat * sin_lat)
    cos_lat = np.cos(lat)
    return np.column_stack((n * cos_lat * np.cos(lon), n * cos_lat * np.sin(lon), n * (1.0 - _E2) * sin_lat))


def geodesic_upper_km(chord_km: ArrayLike) -> NDArray[np.float64]:
    """Upper bound (km) of the geodesic distance between two points whose chord is ``chord_km``; inf if unknown.

    Valid for chords up to about 12,500 km (points less than ~19,700 km apart); larger chords give ``inf``.
    """
    chord = np.asarray(chord_km, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        upper = 2.0 * RHO_MIN_KM * np.arcsin(np.clip(chord / (2.0 * RHO_MIN_KM), 0.0, 1.0))
    return np.where(chord <= _CHORD_TRUSTED_KM, upper * _SAFETY + _SLACK_KM, np.inf)


def chord_inside_km(radius_km: float) -> float:
    """Largest chord (km) that guarantees a geodesic distance of at most ``radius_km``."""
    angle = min(radius_km / (2.0 * RHO_MIN_KM), 0.45 * np.pi)
    return max(2.0 * RHO_MIN_KM * float(np.sin(angle)) / _SAFETY - _SLACK_KM, 0.0)


def spatial_order(lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.int64]:
    """Permutation that sorts points along a Morton (Z-order) curve of their longitude and latitude.

    Non-finite points sort last. Used to batch tree queries so that neighbouring queries share cache lines.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    finite = np.isfinite(lon) & np.isfinite(lat)
    qx = np.where(finite, np.clip((lon + 180.0) / 360.0, 0.0, 1.0) * 65535.0, 65535.0).astype(np.uint64)
    qy = np.where(finite, np.clip((lat + 90.0) / 180.0, 0.0, 1.0) * 65535.0, 65535.0).astype(np.uint64)
    key = _spread_bits(qx) | (_spread_bits(qy) << np.uint64(1))
    key[~finite] = np.iinfo(np.uint64).max
    return np.argsort(key, kind="stable")


def _spread_bits(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Insert a zero bit between each of the low 16 bits of ``v`` (Morton encoding)."""
    v = v & np.uint64(0xFFFF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
    v = (v | (v << np.uint64(1))) & np.uint64(0x55555555)
    return v


def _query_knn(tree: cKDTree, xyz: NDArray, k: int) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """The ``k`` nearest tree points (chords and positions, shape (n, k)) of each query, on every core.

    ``cKDTree.query(workers=-1)`` gives each thread an equal share of the queries and waits for the slowest; on a
    machine shared with other jobs one thread is often held up. Blocks of queries taken one at a time by a thread
    pool (the tree releases the GIL) keep every thread busy to the end. Same answers.
    """
    n = xyz.shape[0]
    ks = list(range(1, k + 1))
    if n < 4 * _QUERY_BLOCK or _THREADS == 1:
        return tree.query(xyz, k=ks, workers=-1)
    chord = np.empty((n, k))
    index = np.empty((n, k), dtype=np.intp)

    def block(start: int) -> None:
        stop = min(start + _QUERY_BLOCK, n)
        chord[start:stop], index[start:stop] = tree.query(xyz[start:stop], k=ks, workers=1)

    with ThreadPoolExecutor(_THREADS) as pool:
        list(pool.map(block, range(0, n, _QUERY_BLOCK)))
    return chord, index


def _flatten(lists: object, n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Flatten cKDTree's list-of-lists answer into (owner, candidate) arrays."""
    lengths = np.fromiter((len(c) for c in lists), dtype=np.int64, count=n)  # type: ignore[attr-defined]
    owner = np.repeat(np.arange(n), lengths)
    cand = np.fromiter((j for c in lists for j in c), dtype=np.int64, count=int(lengths.sum()))  # type: ignore[attr-defined]
    return owner, cand


def _pair_km(lon1: NDArray, lat1: NDArray, lon2: NDArray, lat2: NDArray) -> NDArray[np.float64]:
    """Geodesic distance (km) of finite paired points: compiled short-range formula, pyproj Geod beyond 200 km.

    Agrees with :func:`geodesic_km` to 1e-5 m (see :mod:`connectmap._geodesic_fast`).
    """
    from connectmap._geodesic_fast import FAST_MAX_KM, short_geodesic_km

    if lon1.size < 1000:
        return geodesic_km(lon1, lat1, lon2, lat2)
    out = short_geodesic_km(lon1, lat1, lon2, lat2)
    far = ~(out <= FAST_MAX_KM)
    if far.any():
        out[far] = geodesic_km(lon1[far], lat1[far], lon2[far], lat2[far])
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


@dataclass(frozen=True)
class QueryPoints:
    """Query points prepared once for several searches (:func:`prepare_queries`).

    Every :class:`PointIndex` and :class:`PolylineIndex` search accepts one in place of longitude and latitude
    arrays, so a step that searches several indexes with the same schools (one per technology, nodes and lines)
    sorts them and computes their Earth-centred coordinates once.

    Attributes
    ----------
    lon, lat
        All query points (degrees), as given.
    sel
        Positions of the finite points, in search order (Morton order for large batches).
    qlon, qlat, xyz
        Longitude, latitude (degrees) and ECEF coordinates (km) of ``sel``.
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    sel: NDArray[np.int64]
    qlon: NDArray[np.float64]
    qlat: NDArray[np.float64]
    xyz: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of query points, finite or not."""
        return int(self.lon.size)


def prepare_queries(lon_deg: ArrayLike | QueryPoints, lat_deg: ArrayLike | None = None) -> QueryPoints:
    """Sort query points for searching and compute their ECEF coordinates once (returned as is if prepared)."""
    if isinstance(lon_deg, QueryPoints):
        return lon_deg
    lon = np.asarray(lon_deg, dtype=np.float64).ravel()
    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise ValueError("longitude and latitude arrays differ in length")
    sel = PointIndex._order(lon, lat)
    qlon, qlat = lon[sel], lat[sel]
    return QueryPoints(lon, lat, sel, qlon, qlat, ecef_km(qlon, qlat))


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
        self._n_input = int(lon.size)
        self._positions = np.flatnonzero(finite)
        self.lon = lon[finite]
        self.lat = lat[finite]
        self._xyz = ecef_km(self.lon, self.lat)
        self._kdtree: cKDTree | None = None
        self._grids: dict[float, object] = {}

    def __len__(self) -> int:
        return int(self._positions.size)

    @property
    def _tree(self) -> cKDTree | None:
        """The KD-tree, built on first use (counting within small radii does not need it); None when empty."""
        if self._kdtree is None and self._positions.size:
            # balanced_tree=False (sliding midpoint) builds faster and queries as fast on geographic data.
            self._kdtree = cKDTree(self._xyz, balanced_tree=False)
        return self._kdtree

    @staticmethod
    def _order(lon: NDArray, lat: NDArray) -> NDArray[np.int64]:
        """Positions of the finite queries, in Morton order when the batch is large."""
        ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if ok.size < _SORT_MIN:
            return ok
        return ok[spatial_order(lon[ok], lat[ok])]

    def nearest(
        self, lon_deg: ArrayLike | QueryPoints, lat_deg: ArrayLike | None = None, *, max_km: float | None = None
    ) -> Nearest:
        """Nearest reference point to each query point by ellipsoidal geodesic distance.

        The queries are longitude and latitude arrays (degrees) or one :class:`QueryPoints`. Ties (equal distances
        to the nanometre) go to the reference point that comes first.

        With ``max_km``, queries with no reference point within ``max_km`` may get index -1 and distance NaN
        without being measured (every query with one within ``max_km`` gets its exact nearest). Far queries are
        the costly ones: on a continent of points, a query thousands of km away has thousands of candidates
        whose chords are too close to rank without measuring them.
        """
        q = prepare_queries(lon_deg, lat_deg)
        index = np.full(q.n, -1, dtype=np.int64)
        distance = np.full(q.n, np.nan)
        if not len(self) or not q.sel.size:
            return Nearest(index, distance)
        sel, qlon, qlat, xyz = q.sel, q.qlon, q.qlat, q.xyz
        if max_km is not None:
            # A chord is never longer than the geodesic: a query whose nearest chord exceeds max_km has nothing
            # within max_km. (The bound is padded: a candidate too many only costs a measurement.)
            chord, _ = self._tree.query(xyz, k=1, distance_upper_bound=max_km * (1.0 + 1e-9) + 1e-6, workers=-1)
            near = np.isfinite(chord)
            sel, qlon, qlat, xyz = sel[near], qlon[near], qlat[near], xyz[near]
            if not sel.size:
                return Nearest(index, distance)
        best, dist = self._nearest_sorted(qlon, qlat, xyz, exclude=None)
        index[sel] = self._positions[best]
        distance[sel] = dist
        return Nearest(index, distance)

    def nearest_other(self) -> Nearest:
        """For each reference point, the nearest *other* reference point (a duplicate location counts, at 0 km).

        Returned in the order of the arrays the index was built from; points that were not finite, and every point
        when the index holds fewer than two, get index -1 and distance NaN.
        """
        index = np.full(self._n_input, -1, dtype=np.int64)
        distance = np.full(self._n_input, np.nan)
        if len(self) < 2:
            return Nearest(index, distance)
        sel = self._order(self.lon, self.lat)
        best, dist = self._nearest_sorted(self.lon[sel], self.lat[sel], self._xyz[sel], exclude=sel)
        index[self._positions[sel]] = self._positions[best]
        distance[self._positions[sel]] = dist
        return Nearest(index, distance)

    def _nearest_sorted(
        self, qlon: NDArray, qlat: NDArray, xyz: NDArray, exclude: NDArray | None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest tree point for each query (tree positions) and its geodesic distance in km.

        ``exclude`` gives, per query, a tree position that must not be returned (the query itself).
        """
        assert self._tree is not None
        k = min(2 if exclude is None else 3, len(self))
        chord, idx = _query_knn(self._tree, xyz, k)
        idx = idx.astype(np.int64)
        if exclude is not None:
            # Drop the query's own entry (it may not come first when points coincide), keep two others.
            own = idx == exclude[:, None]
            keep = np.argsort(own, axis=1, kind="stable")[:, : k - 1]
            idx = np.take_along_axis(idx, keep, axis=1)
            chord = np.take_along_axis(chord, keep, axis=1)
            if k == 2:  # only one other point: it is the nearest
                best = idx[:, 0]
                return best, _pair_km(qlon, qlat, self.lon[best], self.lat[best])
        best = idx[:, 0]
        if idx.shape[1] > 1:
            upper = geodesic_upper_km(chord[:, 0])
            unsure = np.flatnonzero(chord[:, 1] <= upper)
            if unsure.size:
                best[unsure] = self._resolve(
                    qlon[unsure], qlat[unsure], xyz[unsure], upper[unsure],
                    None if exclude is None else exclude[unsure],
                )
        return best, _pair_km(qlon, qlat, self.lon[best], self.lat[best])

    def _resolve(
        self, qlon: NDArray, qlat: NDArray, xyz: NDArray, upper_km: NDArray, exclude: NDArray | None
    ) -> NDArray[np.int64]:
        """Exact nearest for queries whose runner-up is too close (in chord) to trust the tree's answer."""
        assert self._tree is not None
        # Any point at least as near as the tree's nearest has a chord <= its geodesic distance <= upper_km.
        radius = np.minimum(upper_km, 3.0 * _A_KM)
        owner, cand = _flatten(self._tree.query_ball_point(xyz, r=radius, workers=-1), len(qlon))
        if exclude is not None:
            keep = cand != exclude[owner]
            owner, cand = owner[keep], cand[keep]
        # Measure with the compiled distance (within 1e-5 m of Geod); only where a candidate at another place comes
        # within _TIE_KM of the best is the choice re-made with Geod. Candidates at the very same coordinates as
        # the best (duplicate points) tie exactly whatever the formula, and the first one wins.
        dist = _pair_km(qlon[owner], qlat[owner], self.lon[cand], self.lat[cand])
        best = self._first_nearest(owner, cand, dist, len(qlon))
        best_dist = np.full(len(qlon), np.inf)
        np.minimum.at(best_dist, owner, dist)
        b = best[owner]
        elsewhere = (self.lon[cand] != self.lon[b]) | (self.lat[cand] != self.lat[b])
        near = (dist - best_dist[owner] <= _TIE_KM) & elsewhere
        redo = np.unique(owner[near])
        if redo.size:
            rows = np.flatnonzero(np.isin(owner, redo))
            exact = geodesic_km(qlon[owner[rows]], qlat[owner[rows]], self.lon[cand[rows]], self.lat[cand[rows]])
            best[redo] = self._first_nearest(owner[rows], cand[rows], exact, len(qlon))[redo]
        return best

    def _first_nearest(self, owner: NDArray, cand: NDArray, dist: NDArray, n: int) -> NDArray[np.int64]:
        """Per owner (0..n-1), the candidate at the smallest distance, ties to the point that comes first."""
        order = np.lexsort((self._positions[cand], dist, owner))
        first = np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]
        best = np.full(n, -1, dtype=np.int64)
        best[owner[order][first]] = cand[order][first]
        return best

    def count_within(
        self, lon_deg: ArrayLike | QueryPoints, lat_deg: ArrayLike | None, radius_km: float
    ) -> NDArray[np.int64]:
        """Number of reference points within ``radius_km`` (ellipsoidal geodesic, inclusive) of each query.

        The queries are longitude and latitude arrays (degrees) or one :class:`QueryPoints` (then ``lat_deg`` is
        None). Query points that are not finite get -1, so a caller can tell "unknown" from "none".

        Points with a chord up to :func:`chord_inside_km` are inside for certain, points with a chord beyond the
        radius outside for certain; the few in the sub-millimetre ring between are measured with pyproj ``Geod``.
        Radii up to ``GRID_MAX_KM`` (200 km) are counted in one pass over a grid of ECEF cells
        (:class:`connectmap._geodesic_fast.CellGrid`, compiled), larger ones with the KD-tree.
        """
        q = prepare_queries(lon_deg, lat_deg)
        counts = np.full(q.n, -1, dtype=np.int64)
        counts[q.sel] = 0
        if not len(self) or not q.sel.size or radius_km < 0:
            return counts
        inner = chord_inside_km(radius_km)
        # Chord never exceeds the geodesic distance: nothing beyond a chord of radius_km can be inside.
        outer = radius_km * _SAFETY + _SLACK_KM
        if radius_km <= GRID_MAX_KM:
            result, owner, cand = self._count_grid(q.xyz, inner, outer)
        else:
            result, owner, cand = self._count_tree(q.xyz, inner, outer)
        if owner.size:
            inside = geodesic_km(q.qlon[owner], q.qlat[owner], self.lon[cand], self.lat[cand]) <= radius_km
            result += np.bincount(owner[inside], minlength=result.size)
        counts[q.sel] = result
        return counts

    def _count_grid(self, xyz: NDArray, inner: float, outer: float) -> tuple[NDArray, NDArray, NDArray]:
        """Counts within chord ``inner`` and the (query, point) pairs in the ring up to ``outer``, on a cell grid."""
        from connectmap._geodesic_fast import CellGrid

        # Cells a millimetre wider than the search chord: rounding in the cell index can never hide a point.
        cell_km = float(outer) * (1.0 + 1e-9) + 1e-6
        grid = self._grids.get(cell_km)
        if grid is None:
            grid = self._grids[cell_km] = CellGrid(self._xyz, cell_km)
        result, ring = grid.count(xyz, inner, outer)
        in_ring = np.flatnonzero(ring)
        owner, cand = grid.ring_pairs(xyz[in_ring], inner, outer, int(ring.sum()))
        return result, in_ring[owner], cand

    def _count_tree(self, xyz: NDArray, inner: float, outer: float) -> tuple[NDArray, NDArray, NDArray]:
        """As :meth:`_count_grid`, with two KD-tree passes (any radius)."""
        assert self._tree is not None
        result = np.asarray(self._tree.query_ball_point(xyz, r=inner, return_length=True, workers=-1), np.int64)
        n_outer = np.asarray(self._tree.query_ball_point(xyz, r=outer, return_length=True, workers=-1), np.int64)
        ring = np.flatnonzero(n_outer != result)
        if not ring.size:
            return result, ring, ring
        owner, cand = _flatten(self._tree.query_ball_point(xyz[ring], r=outer, workers=-1), ring.size)
        cand_chord = np.linalg.norm(self._xyz[cand] - xyz[ring][owner], axis=1)
        in_ring = cand_chord > inner
        return result, ring[owner[in_ring]], cand[in_ring]

    def within(
        self, lon_deg: ArrayLike | QueryPoints, lat_deg: ArrayLike | None, radius_km: float
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """Every (query, reference point) pair within ``radius_km`` (ellipsoidal geodesic, inclusive).

        Returns
        -------
        query, ref, distance_km
            Position of the query, position of the reference point in the original arrays, and their distance.
            Memory grows with the number of pairs: call it on batches of queries.
        """
        prepared = prepare_queries(lon_deg, lat_deg)
        lon, lat, sel = prepared.lon, prepared.lat, prepared.sel
        empty = np.empty(0, dtype=np.int64)
        if not len(self) or not sel.size:
            return empty, empty, np.empty(0)
        owner, cand = _flatten(self._tree.query_ball_point(prepared.xyz, r=radius_km * _SAFETY + _SLACK_KM,
                                                           workers=-1), sel.size)
        q = sel[owner]
        dist = _pair_km(lon[q], lat[q], self.lon[cand], self.lat[cand])
        edge = np.abs(dist - radius_km) < 1e-6  # at the boundary, decide with Karney's exact distance
        if edge.any():
            dist[edge] = geodesic_km(lon[q][edge], lat[q][edge], self.lon[cand[edge]], self.lat[cand[edge]])
        keep = dist <= radius_km
        return q[keep], self._positions[cand[keep]], dist[keep]

    def pairs_within(self, radius_km: float) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """All pairs of reference points within ``radius_km`` of each other (ellipsoidal geodesic, inclusive).

        Returns
        -------
        i, j, distance_km
            Positions in the original arrays (``i < j`` in index order) and their distance in km.
        """
        empty = np.empty(0, dtype=np.int64)
        if not len(self):
            return empty, empty, np.empty(0)
        pairs = self._tree.query_pairs(radius_km * _SAFETY + _SLACK_KM, output_type="ndarray")
        if pairs.size == 0:
            return empty, empty, np.empty(0)
        a, b = pairs[:, 0], pairs[:, 1]
        dist = geodesic_km(self.lon[a], self.lat[a], self.lon[b], self.lat[b])
        keep = dist <= radius_km
        i, j = self._positions[a[keep]], self._positions[b[keep]]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        return lo, hi, dist[keep]


def _unit_to_lonlat(v: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude (degrees) of unit vectors."""
    lon = np.degrees(np.arctan2(v[:, 1], v[:, 0]))
    lat = np.degrees(np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1])))
    return lon, lat


@dataclass
class NearestLine:
    """Result of a nearest-line search.

    Attributes
    ----------
    index
        Position of the nearest line in the sequence the index was built from; -1 where the query point was not
        finite or the index is empty.
    distance_km
        Geodesic distance (km) to the nearest point of that line; NaN where ``index`` is -1.
    lon, lat
        The nearest point on the line (degrees).
    """

    index: NDArray[np.int64]
    distance_km: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


class PolylineIndex:
    """Geodesic distance from points to the nearest of many polylines (fibre routes, region outlines).

    A nearest-line query is not a nearest-point query, so the lines are densified: every segment (a great-circle
    arc between consecutive vertices, in geodetic coordinates) gets points at most ``spacing_km`` apart, indexed in
    a :class:`PointIndex`-style ECEF KD-tree. For a query the nearest densified point bounds the distance to the
    lines from above; every segment that has a densified point within that bound plus half the spacing may hold the
    true nearest point (each point of a segment is within half a spacing of one of its densified points), and for
    each such segment the nearest point of its arc is found in closed form on the sphere (projection onto the arc's
    plane, clamped to the end points). The distance to it is measured on the ellipsoid with ``Geod.inv``.

    Error bound: the spacing only changes speed, never the answer. The answer is the exact ellipsoidal distance to
    the foot of the perpendicular computed on the sphere; the true ellipsoidal minimum along the arc can be shorter
    by the second-order error of the foot's position: under 1 m for queries within 20 km of a line
    (``tests/test_enrich_geodesy.py``) and under 2e-5 of the distance farther away (about 1-2 m at 100 km;
    ``tests/test_enrich_fibre.py``), both against shapely distances in a local azimuthal equidistant projection.

    Parameters
    ----------
    lines
        Shapely LineStrings or MultiLineStrings (lon/lat degrees); empty or missing geometries are skipped.
    spacing_km
        Largest distance between densified points along a segment.
    """

    def __init__(self, lines: ArrayLike, spacing_km: float = 1.0) -> None:
        import shapely

        geoms = np.asarray(lines, dtype=object)
        valid = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        self.n_lines = int(geoms.size)
        parts, part_owner = shapely.get_parts(geoms[valid], return_index=True)
        part_owner = np.flatnonzero(valid)[part_owner]
        coords, vertex_part = shapely.get_coordinates(parts, return_index=True)
        same = np.diff(vertex_part) == 0
        start = np.flatnonzero(same)
        self.seg_line = part_owner[vertex_part[start]].astype(np.int64)
        self.a_lonlat = coords[start]
        self.b_lonlat = coords[start + 1]
        self.a = unit_vectors(self.a_lonlat[:, 0], self.a_lonlat[:, 1])
        self.b = unit_vectors(self.b_lonlat[:, 0], self.b_lonlat[:, 1])
        n_seg = start.size
        self._tree = None
        if n_seg == 0:
            return
        length_km = geodesic_km(self.a_lonlat[:, 0], self.a_lonlat[:, 1], self.b_lonlat[:, 0], self.b_lonlat[:, 1])
        n_sub = np.maximum(1, np.ceil(length_km * 1.01 / spacing_km)).astype(np.int64)
        # Densified points t = k / n_sub, k = 0..n_sub, spherical linear interpolation along each arc.
        counts = n_sub + 1
        self._vertex_seg = np.repeat(np.arange(n_seg), counts)
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        t = k / n_sub[self._vertex_seg]
        pts = _slerp(self.a[self._vertex_seg], self.b[self._vertex_seg], t)
        vlon, vlat = _unit_to_lonlat(pts)
        self._vxyz = ecef_km(vlon, vlat)
        # Largest along-arc gap between consecutive densified points, as a geodesic upper bound (km).
        gap = length_km / n_sub
        self._half_gap_km = float(gap.max()) * 0.5 * 1.01 + _SLACK_KM
        self._tree = cKDTree(self._vxyz, balanced_tree=False)

    def nearest(
        self, lon_deg: ArrayLike | QueryPoints, lat_deg: ArrayLike | None = None, k: int = 8
    ) -> NearestLine:
        """Nearest line and the geodesic distance (km) to it for each query point.

        The queries are longitude and latitude arrays (degrees) or one :class:`QueryPoints`.
        """
        q = prepare_queries(lon_deg, lat_deg)
        out = NearestLine(
            np.full(q.n, -1, dtype=np.int64), np.full(q.n, np.nan), np.full(q.n, np.nan), np.full(q.n, np.nan),
        )
        if self._tree is None or not q.sel.size:
            return out
        sel, qlon, qlat, qxyz = q.sel, q.qlon, q.qlat, q.xyz
        k = int(min(k, self._tree.n))
        chord, vid = _query_knn(self._tree, qxyz, k)
        radius = geodesic_upper_km(chord[:, 0]) + self._half_gap_km
        take = chord <= radius[:, None]
        # Candidate segments per query, deduplicated within each row of the k-neighbour matrix.
        seg_mat = np.where(take, self._vertex_seg[vid], -1)
        seg_mat.sort(axis=1)
        keep = seg_mat >= 0
        keep[:, 1:] &= seg_mat[:, 1:] != seg_mat[:, :-1]
        # Queries whose k-th neighbour is still inside the radius may have more candidates: ask for all of them.
        more = np.flatnonzero(take[:, -1]) if k < self._tree.n else np.empty(0, dtype=np.int64)
        keep[more] = False
        owner, seg = np.nonzero(keep)[0], seg_mat[keep]
        if more.size:
            rad = np.minimum(radius[more], 3.0 * _A_KM)
            o2, c2 = _flatten(self._tree.query_ball_point(qxyz[more], r=rad, workers=-1), more.size)
            n_seg = np.int64(self.seg_line.size)
            key = np.unique(more[o2].astype(np.int64) * n_seg + self._vertex_seg[c2])
            owner = np.concatenate([owner, key // n_seg])
            seg = np.concatenate([seg, key % n_seg])
        # The foot of each candidate arc and its chord to the school: _arc_foot's arithmetic, compiled (one pass,
        # no temporaries; it was most of the time here).
        from connectmap._geodesic_fast import arc_feet

        flon, flat, fchord = arc_feet(unit_vectors(qlon, qlat), qxyz, owner, seg, self.a, self.b)
        # Keep, per query, the segments whose foot could be nearest on the ellipsoid (chord within the Schur bound).
        best_chord = np.full(qlon.size, np.inf)
        np.minimum.at(best_chord, owner, fchord)
        keep = fchord <= geodesic_upper_km(best_chord)[owner]
        owner, seg, flon, flat = owner[keep], seg[keep], flon[keep], flat[keep]
        dist = _pair_km(qlon[owner], qlat[owner], flon, flat)
        # Per query the nearest foot, ties to the lowest segment ((query, segment) pairs are unique): two passes of
        # ufunc.at, linear (a three-key lexsort was a third of the time).
        best_dist = np.full(qlon.size, np.inf)
        np.minimum.at(best_dist, owner, dist)
        at_best = dist == best_dist[owner]
        best_seg = np.full(qlon.size, np.iinfo(np.int64).max)
        np.minimum.at(best_seg, owner[at_best], seg[at_best])
        first = np.flatnonzero(at_best & (seg == best_seg[owner]))
        q = owner[first]
        out.index[sel[q]] = self.seg_line[seg[first]]
        out.distance_km[sel[q]] = dist[first]
        out.lon[sel[q]] = flon[first]
        out.lat[sel[q]] = flat[first]
        return out


def _slerp(a: NDArray, b: NDArray, t: NDArray) -> NDArray:
    """Points at fraction ``t`` along the great-circle arcs from unit vectors ``a`` to ``b``."""
    dot = np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0)
    omega = np.arccos(dot)
    small = omega < 1e-12
    sin_omega = np.where(small, 1.0, np.sin(omega))
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * omega) / sin_omega)
    wb = np.where(small, t, np.sin(t * omega) / sin_omega)
    pts = wa[:, None] * a + wb[:, None] * b
    return pts / np.linalg.norm(pts, axis=1)[:, None]


def _arc_foot(p: NDArray, a: NDArray, b: NDArray) -> NDArray:
    """Nearest point (unit vector) of each great-circle arc ``a``-``b`` (shorter way) to unit vector ``p``."""
    n = np.cross(a, b)
    n_len = np.linalg.norm(n, axis=1)
    ok = n_len > 1e-15
    n = n / np.where(ok, n_len, 1.0)[:, None]
    proj = p - np.einsum("ij,ij->i", p, n)[:, None] * n
    proj_len = np.linalg.norm(proj, axis=1)
    ok &= proj_len > 1e-15
    f = proj / np.where(ok, proj_len, 1.0)[:, None]
    inside = ok & (np.einsum("ij,ij->i", np.cross(a, f), n) >= 0) & (np.einsum("ij,ij->i", np.cross(f, b), n) >= 0)
    # Outside the arc (or degenerate): the nearer end point, by dot product on the sphere.
    end = np.where((np.einsum("ij,ij->i", p, a) >= np.einsum("ij,ij->i", p, b))[:, None], a, b)
    return np.where(inside[:, None], f, end)
