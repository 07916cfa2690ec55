"""Compiled kernels (numba) for the hot loops of :mod:`connectmap.geodesy`: short geodesic distances, counts of
points within a radius on a grid of cells, and the feet of perpendiculars on great-circle arcs.

Why: pyproj ``Geod.inv`` (Karney's algorithm, exact to nanometres) costs about 1 µs a pair; the enrichment
measures millions of pairs (nearest site per technology for every school). For points up to
:data:`FAST_MAX_KM` apart the ellipsoidal geodesic length follows from the straight-line (ECEF) chord ``c`` and
the curvature ``k`` of the ellipsoid's normal section at the midpoint in the chord's direction (Euler's formula
``k = cos²(az) / M + sin²(az) / N``): ``s = 2 / k * asin(k c / 2)``. Measured against ``Geod.inv`` on 2 million
random pairs per range, including near the poles: largest difference 5e-9 m up to 50 km, 3e-7 m up to 100 km,
1e-5 m up to 200 km (``tests/test_enrich_geodesy.py`` checks it). Longer pairs go to ``Geod.inv``.

Counting within a radius (:class:`CellGrid`): scipy's KD-tree counts points within one radius per pass, and an
exact count needs two (the chord certainly inside, and the chord up to the radius, whose sub-millimetre difference
is measured on the ellipsoid). Sorting the points into cubic ECEF cells as wide as the radius answers both in one
pass that compares each query with the points of the 27 cells around it: 0.8 s instead of 6 s for 1M schools
among 2M sites at 5 km (``benchmarks/bench_enrich.py``), the same counts (tests compare with the KD-tree and with
brute force).

Feet of perpendiculars (:func:`arc_feet`): the nearest point of each candidate fibre segment to each school, the
numpy formula of :func:`connectmap.geodesy._arc_foot` in one compiled pass without temporary arrays (it was most
of the fibre-line time).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

_A = 6378.137
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)
#: Pairs farther apart than this (km) are measured with pyproj Geod instead.
FAST_MAX_KM = 200.0
#: Iterations a thread takes at a time in the parallel loops: with numba's default (an equal share per thread) a
#: thread held up by another job on the machine makes the other wait at the end of the loop.
PARALLEL_CHUNK = 4096


@numba.njit(parallel=True, cache=True)
def _short_km(lon1, lat1, lon2, lat2, out):
    for i in numba.prange(lon1.size):
        f1, l1 = math.radians(lat1[i]), math.radians(lon1[i])
        f2, l2 = math.radians(lat2[i]), math.radians(lon2[i])
        s1, c1 = math.sin(f1), math.cos(f1)
        s2, c2 = math.sin(f2), math.cos(f2)
        n1 = _A / math.sqrt(1.0 - _E2 * s1 * s1)
        n2 = _A / math.sqrt(1.0 - _E2 * s2 * s2)
        dx = n2 * c2 * math.cos(l2) - n1 * c1 * math.cos(l1)
        dy = n2 * c2 * math.sin(l2) - n1 * c1 * math.sin(l1)
        dz = n2 * (1.0 - _E2) * s2 - n1 * (1.0 - _E2) * s1
        chord = math.sqrt(dx * dx + dy * dy + dz * dz)
        if chord == 0.0:
            out[i] = 0.0
            continue
        # Surface normal midway (mean of the two unit normals).
        ux = c1 * math.cos(l1) + c2 * math.cos(l2)
        uy = c1 * math.sin(l1) + c2 * math.sin(l2)
        uz = s1 + s2
        norm = math.sqrt(ux * ux + uy * uy + uz * uz)
        sm = uz / norm
        cm = math.sqrt(ux * ux + uy * uy) / norm
        lm = math.atan2(uy, ux)
        de = -dx * math.sin(lm) + dy * math.cos(lm)
        dn = -dx * sm * math.cos(lm) - dy * sm * math.sin(lm) + dz * cm
        h2 = de * de + dn * dn
        w = 1.0 - _E2 * sm * sm
        meridian = _A * (1.0 - _E2) / (w * math.sqrt(w))
        prime = _A / math.sqrt(w)
        k = (dn * dn / meridian + de * de / prime) / h2 if h2 > 0.0 else 1.0 / prime
        out[i] = 2.0 / k * math.asin(min(k * chord / 2.0, 1.0))


def short_geodesic_km(lon1: NDArray, lat1: NDArray, lon2: NDArray, lat2: NDArray) -> NDArray[np.float64]:
    """Geodesic distance (km) for finite paired points; values above :data:`FAST_MAX_KM` are to be re-measured."""
    out = np.empty(np.shape(lon1))
    with numba.parallel_chunksize(PARALLEL_CHUNK):
        _short_km(np.ascontiguousarray(lon1, dtype=np.float64), np.ascontiguousarray(lat1, dtype=np.float64),
                  np.ascontiguousarray(lon2, dtype=np.float64), np.ascontiguousarray(lat2, dtype=np.float64), out)
    return out


# --- counting points within a radius: a uniform grid of cells in ECEF -----------------------------------------------
#: Smallest cell side (km): keeps cell keys within int64 (cells per axis <= 2**18).
GRID_MIN_CELL_KM = 0.05
#: Offset (km) that makes every ECEF coordinate positive before it is divided into cells.
_GRID_OFFSET_KM = 6400.0


def grid_cells_per_axis(cell_km: float) -> int:
    """Number of cells along each ECEF axis for cells of ``cell_km``."""
    return int(np.ceil(2.0 * _GRID_OFFSET_KM / cell_km)) + 3


def grid_keys(xyz: NDArray, cell_km: float) -> NDArray[np.int64]:
    """Cell key of each ECEF point (km): cells numbered x-major, then y, then z, so the three cells stacked along z
    at one (x, y) are consecutive keys."""
    n_axis = grid_cells_per_axis(cell_km)
    ijk = np.floor((xyz + _GRID_OFFSET_KM) / cell_km).astype(np.int64) + 1  # +1: neighbours of cell 0 stay >= 0
    return (ijk[:, 0] * n_axis + ijk[:, 1]) * n_axis + ijk[:, 2]


@numba.njit(parallel=True, cache=True)
def _count_in_cells(qxyz, group_start, lo, hi, site_xyz, inner2, outer2, count, ring):
    """For each query, the sites with squared chord <= inner2 (``count``) and in (inner2, outer2] (``ring``).

    Queries are sorted by cell and grouped (``group_start``); ``lo[g, k]:hi[g, k]`` (k < 9) are the nine runs of
    sites (three cells stacked along z each) around group g's cell, compared with every query of the group.
    """
    for g in numba.prange(group_start.size - 1):
        for i in range(group_start[g], group_start[g + 1]):
            x, y, z = qxyz[i, 0], qxyz[i, 1], qxyz[i, 2]
            c_in = 0
            c_ring = 0
            for k in range(9):
                for j in range(lo[g, k], hi[g, k]):
                    dx = site_xyz[j, 0] - x
                    dy = site_xyz[j, 1] - y
                    dz = site_xyz[j, 2] - z
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 <= inner2:
                        c_in += 1
                    elif d2 <= outer2:
                        c_ring += 1
            count[i] = c_in
            ring[i] = c_ring


@numba.njit(cache=True)
def _ring_pairs(qxyz, lo, hi, site_xyz, inner2, outer2, owner, cand):
    """Write the (query, sorted site position) pairs in the ring (inner2, outer2] of each query; returns how many.

    ``lo[i, k]:hi[i, k]`` are the nine runs of sites around query i's cell."""
    m = 0
    for i in range(qxyz.shape[0]):
        x, y, z = qxyz[i, 0], qxyz[i, 1], qxyz[i, 2]
        for k in range(9):
            for j in range(lo[i, k], hi[i, k]):
                dx = site_xyz[j, 0] - x
                dy = site_xyz[j, 1] - y
                dz = site_xyz[j, 2] - z
                d2 = dx * dx + dy * dy + dz * dz
                if inner2 < d2 <= outer2:
                    owner[m] = i
                    cand[m] = j
                    m += 1
    return m


class CellGrid:
    """Sites sorted into cubic ECEF cells of side ``cell_km`` (at least the largest chord to be searched).

    Every site within a chord of ``cell_km`` of a query lies in the 27 cells around the query's cell, so counting
    them compares each query with those cells' sites only: one pass, no tree, exact chord comparisons.
    """

    def __init__(self, xyz: NDArray, cell_km: float) -> None:
        self.cell_km = float(max(cell_km, GRID_MIN_CELL_KM))
        self.n_axis = grid_cells_per_axis(self.cell_km)
        keys = grid_keys(xyz, self.cell_km)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.xyz = np.ascontiguousarray(xyz[self.order])

    def _runs(self, keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """For cell keys, shape (n,), the nine runs [lo, hi) of sorted sites covering the 27 cells around each."""
        step = (np.arange(-1, 2)[:, None] * self.n_axis + np.arange(-1, 2)[None, :]).ravel() * self.n_axis
        centre = keys[:, None] + step[None, :]
        lo = np.searchsorted(self.keys, centre - 1, side="left")
        hi = np.searchsorted(self.keys, centre + 1, side="right")
        return lo, hi

    def count(self, qxyz: NDArray, inner_km: float, outer_km: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per query: sites with chord <= ``inner_km``, and sites with chord in (``inner_km``, ``outer_km``]."""
        if outer_km > self.cell_km:
            raise ValueError("search chord larger than the grid's cells")
        qkey = grid_keys(qxyz, self.cell_km)
        order = np.argsort(qkey, kind="stable")
        skey = qkey[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(skey)) + 1, skey.size].astype(np.int64)
        lo, hi = self._runs(skey[group_start[:-1]])
        count = np.empty(skey.size, dtype=np.int64)
        ring = np.empty(skey.size, dtype=np.int64)
        # Cells hold very different numbers of sites (towns, empty land): small chunks keep both threads busy.
        with numba.parallel_chunksize(64):
            _count_in_cells(np.ascontiguousarray(qxyz[order]), group_start, lo, hi, self.xyz,
                            inner_km * inner_km, outer_km * outer_km, count, ring)
        out_count = np.empty_like(count)
        out_ring = np.empty_like(ring)
        out_count[order] = count
        out_ring[order] = ring
        return out_count, out_ring

    def ring_pairs(self, qxyz: NDArray, inner_km: float, outer_km: float, n_pairs: int) -> tuple[NDArray, NDArray]:
        """(query, site) pairs with chord in (``inner_km``, ``outer_km``]; ``n_pairs`` from :meth:`count`. Sites
        are positions in the array the grid was built from."""
        owner = np.empty(n_pairs, dtype=np.int64)
        cand = np.empty(n_pairs, dtype=np.int64)
        lo, hi = self._runs(grid_keys(qxyz, self.cell_km))
        m = _ring_pairs(np.ascontiguousarray(qxyz), lo, hi, self.xyz, inner_km * inner_km, outer_km * outer_km,
                        owner, cand)
        return owner[:m], self.order[cand[:m]]


# --- nearest point of great-circle arcs ---------------------------------------------------------------------------
@numba.njit(parallel=True, cache=True)
def _arc_feet(qunit, qxyz, owner, seg, a, b, flon, flat, fchord):
    for i in numba.prange(owner.size):
        q, s = owner[i], seg[i]
        px, py, pz = qunit[q, 0], qunit[q, 1], qunit[q, 2]
        ax, ay, az = a[s, 0], a[s, 1], a[s, 2]
        bx, by, bz = b[s, 0], b[s, 1], b[s, 2]
        # Normal of the arc's plane; the foot is the query projected onto the plane, if it falls between a and b.
        nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        n_len = math.sqrt(nx * nx + ny * ny + nz * nz)
        ok = n_len > 1e-15
        if not ok:
            n_len = 1.0
        nx, ny, nz = nx / n_len, ny / n_len, nz / n_len
        d = px * nx + py * ny + pz * nz
        fx, fy, fz = px - d * nx, py - d * ny, pz - d * nz
        f_len = math.sqrt(fx * fx + fy * fy + fz * fz)
        ok = ok and f_len > 1e-15
        if not ok:
            f_len = 1.0
        fx, fy, fz = fx / f_len, fy / f_len, fz / f_len
        # f lies on the arc when a x f and f x b both point along n.
        s1 = (ay * fz - az * fy) * nx + (az * fx - ax * fz) * ny + (ax * fy - ay * fx) * nz
        s2 = (fy * bz - fz * by) * nx + (fz * bx - fx * bz) * ny + (fx * by - fy * bx) * nz
        if not (ok and s1 >= 0.0 and s2 >= 0.0):
            # Outside the arc (or degenerate): the nearer end point, by dot product on the sphere.
            if px * ax + py * ay + pz * az >= px * bx + py * by + pz * bz:
                fx, fy, fz = ax, ay, az
            else:
                fx, fy, fz = bx, by, bz
        flon[i] = math.degrees(math.atan2(fy, fx))
        flat[i] = math.degrees(math.atan2(fz, math.hypot(fx, fy)))
        # ECEF (km) of the foot taken at that longitude and (geodetic) latitude: for a unit vector f,
        # cos(lat) cos(lon), cos(lat) sin(lon) and sin(lat) are f's own components, so no trigonometry is needed.
        nn = _A / math.sqrt(1.0 - _E2 * fz * fz)
        dx = nn * fx - qxyz[q, 0]
        dy = nn * fy - qxyz[q, 1]
        dz = nn * (1.0 - _E2) * fz - qxyz[q, 2]
        fchord[i] = math.sqrt(dx * dx + dy * dy + dz * dz)


def arc_feet(qunit: NDArray, qxyz: NDArray, owner: NDArray, seg: NDArray, a: NDArray,
             b: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """For (query, arc) pairs: the arc's point nearest to the query on the unit sphere (projection onto the arc's
    plane, clamped to the end points), as longitude and latitude (degrees), and its chord (km) on the WGS84
    ellipsoid to the query's ECEF point ``qxyz[owner]``. ``qunit``: the queries as unit vectors
    (:func:`connectmap.geodesy.unit_vectors`); ``a``, ``b``: the arcs' end points as unit vectors."""
    n = owner.size
    flon, flat, fchord = np.empty(n), np.empty(n), np.empty(n)
    with numba.parallel_chunksize(PARALLEL_CHUNK):
        _arc_feet(np.ascontiguousarray(qunit), np.ascontiguousarray(qxyz),
                  np.ascontiguousarray(owner, dtype=np.int64), np.ascontiguousarray(seg, dtype=np.int64),
                  np.ascontiguousarray(a), np.ascontiguousarray(b), flon, flat, fchord)
    return flon, flat, fchord
