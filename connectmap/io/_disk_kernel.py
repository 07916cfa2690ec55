"""Compiled kernel for exact population sums in disks (numba).

Why compiled: the exact sum needs the area of overlap between each school's disk and every pixel the disk's edge
crosses -- about 8 pixels per pixel of radius, per school and radius. Vectorised numpy spends ~2 µs per such pixel
on temporary arrays (17 s for 1M schools at 1 km on a 1 km raster); this loop does the same arithmetic in tens of
nanoseconds, in parallel over schools. The geometry is the same as in :mod:`connectmap.io.rasters` (ellipse of
the disk in pixel space from the local Jacobian; whole pixels by row prefix sums; partial pixels by the exact
circle-polygon intersection area).

North-up geographic rasters (WorldPop, every population raster we know) have pixels that are rectangles aligned
with east and north in each point's local metric. For them the overlap of a pixel with the disk is the
inclusion-exclusion of one closed-form function at its four corners, the disk's area between the axes and the
corner (:func:`_corner_area`), whose transcendental terms belong to a column edge or a row edge alone: computed
once per edge and point, they leave only arithmetic in the loop over pixels, 3.6x faster than the polygon overlap
at the same answer (within 1e-12; ``tests/test_io_rasters.py`` compares the two paths pixel by pixel). Rotated or
projected grids keep the polygon overlap.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _sector(r: float, ux: float, uy: float, vx: float, vy: float) -> float:
    return 0.5 * r * r * math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)


@numba.njit(cache=True)
def _segment_area(ax: float, ay: float, bx: float, by: float, r: float) -> float:
    """Signed area of disk(origin, r) intersected with triangle(origin, a, b)."""
    dx, dy = bx - ax, by - ay
    qa = dx * dx + dy * dy
    if qa <= 0.0:
        return 0.0
    qb = ax * dx + ay * dy
    qc = ax * ax + ay * ay - r * r
    disc = qb * qb - qa * qc
    if disc <= 0.0:  # the segment's line misses the circle: a pure sector
        return _sector(r, ax, ay, bx, by)
    root = math.sqrt(disc)
    t1 = (-qb - root) / qa
    t2 = (-qb + root) / qa
    if t1 >= 1.0 or t2 <= 0.0:  # the segment lies outside the circle
        return _sector(r, ax, ay, bx, by)
    t1 = max(t1, 0.0)
    t2 = min(t2, 1.0)
    p1x, p1y = ax + t1 * dx, ay + t1 * dy
    p2x, p2y = ax + t2 * dx, ay + t2 * dy
    area = 0.5 * (p1x * p2y - p1y * p2x)  # the part inside the circle: a triangle
    if t1 > 0.0:
        area += _sector(r, ax, ay, p1x, p1y)
    if t2 < 1.0:
        area += _sector(r, p2x, p2y, bx, by)
    return area


@numba.njit(cache=True)
def _pixel_overlap(j00: float, j01: float, j10: float, j11: float, dc: float, dr: float, r: float) -> float:
    """Area (m²) of the disk inside the pixel whose top-left corner is (dc, dr) pixels from the centre."""
    # Quick exits on the bounding box in metres: wholly outside the disk, or wholly inside it.
    xs = (j00 * dc + j01 * dr, j00 * (dc + 1) + j01 * dr, j00 * (dc + 1) + j01 * (dr + 1), j00 * dc + j01 * (dr + 1))
    ys = (j10 * dc + j11 * dr, j10 * (dc + 1) + j11 * dr, j10 * (dc + 1) + j11 * (dr + 1), j10 * dc + j11 * (dr + 1))
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    nx = min(max(0.0, x_lo), x_hi)
    ny = min(max(0.0, y_lo), y_hi)
    if nx * nx + ny * ny >= r * r:
        return 0.0
    far = 0.0
    for k in range(4):
        far = max(far, xs[k] * xs[k] + ys[k] * ys[k])
    if far <= r * r:
        return abs(j00 * j11 - j01 * j10)
    area = 0.0
    cx = (0.0, 1.0, 1.0, 0.0)
    cy = (0.0, 0.0, 1.0, 1.0)
    for k in range(4):
        px, py = dc + cx[k], dr + cy[k]
        qx, qy = dc + cx[(k + 1) % 4], dr + cy[(k + 1) % 4]
        area += _segment_area(j00 * px + j01 * py, j10 * px + j11 * py, j00 * qx + j01 * qy, j10 * qx + j11 * qy, r)
    return abs(area)


@numba.njit(cache=True, inline="always")
def _row_edge(y: float, r: float) -> tuple[float, float, float]:
    """Terms of :func:`_corner_area` that depend on the corner's row edge only: (|y| clipped to r, the half-width
    of the disk at that height, and asin(half-width / r)).

    The angle is taken as atan2(half-width, |y|), not asin: asin is ill-conditioned next to 1 (a row edge a
    millimetre from the centre would lose ~1 m² of area to rounding); atan2 is accurate to the last bit.
    """
    ym = min(abs(y), r)
    xc = math.sqrt(max(r * r - ym * ym, 0.0))
    return ym, xc, math.atan2(xc, ym)


@numba.njit(cache=True, inline="always")
def _column_terms(x: float, r: float) -> tuple[float, float, float]:
    """Terms of :func:`_corner_area` that depend on the corner's column edge only: (|x| clipped to r,
    xm sqrt(r² - xm²), asin(xm / r)), the angle again as a well-conditioned atan2 (see :func:`_row_edge`)."""
    xm = min(abs(x), r)
    yx = math.sqrt(max(r * r - xm * xm, 0.0))
    return xm, xm * yx, math.atan2(xm, yx)


@numba.njit(cache=True, inline="always")
def _corner_area(x: float, xm: float, gx: float, ax: float, y: float, ym: float, xc: float, ac: float,
                 r: float) -> float:
    """Signed integral of the disk's indicator (centre origin, radius r) over [0, x] x [0, y].

    The disk's area in a rectangle [x0, x1] x [y0, y1] is F(x1, y1) - F(x0, y1) - F(x1, y0) + F(x0, y0). For
    x, y >= 0 it is the area of the disk in [0, x] x [0, y]: xm * ym while the corner (xm, ym) = (min(x, r),
    min(y, r)) is inside the disk, else xc * ym plus the area under the circle from xc (its half-width at height
    ym) to xm: the integral of sqrt(r² - X²) is (X sqrt(r² - X²) + r² asin(X / r)) / 2. ``gx`` = xm sqrt(r² - xm²)
    and ``ax`` = asin(xm / r) belong to the column edge (:func:`_column_terms`), ``xc`` and ``ac`` = asin(xc / r)
    to the row edge (:func:`_row_edge`): each is computed once per edge and shared by the pixels along it, so the
    loop over pixels has no transcendental function in it.
    """
    inside = xm * xm + ym * ym <= r * r
    a = xm * ym if inside else 0.5 * (xc * ym + gx + r * r * (ax - ac))
    return a if (x >= 0.0) == (y >= 0.0) else -a


@numba.njit(cache=True, inline="always")
def _run_axis_aligned(t_sum, v_sum, per_m2, ok, rr, c0, c1, ex, exm, egx, eax, k0, ya, yma, xca, aca, yb, ymb, xcb,
                      acb, r, full, scale):
    """Add the partly covered pixels c0..c1 of row rr, for a pixel grid aligned with east and north.

    ``ya``..``yb``: the row's extent in metres (north or south of the point), with each edge's
    :func:`_row_edge` terms; ``ex[k]`` is column edge ``k0 + k`` in metres east of the point, ``exm``, ``egx``,
    ``eax`` its :func:`_column_terms`. A pixel's overlap is the difference, between its two column edges, of the
    disk's area from the vertical axis to the edge within the row; a pixel that only touches the circle at a point
    adds nothing.
    """
    if c1 < c0:
        return t_sum, v_sum
    ny = min(max(0.0, ya), yb)
    fy = max(abs(ya), abs(yb))
    r2 = r * r
    k = c0 - k0
    xa = ex[k]
    ea = (_corner_area(xa, exm[k], egx[k], eax[k], yb, ymb, xcb, acb, r)
          - _corner_area(xa, exm[k], egx[k], eax[k], ya, yma, xca, aca, r))
    for cc in range(c0, c1 + 1):
        k = cc + 1 - k0
        xb = ex[k]
        eb = (_corner_area(xb, exm[k], egx[k], eax[k], yb, ymb, xcb, acb, r)
              - _corner_area(xb, exm[k], egx[k], eax[k], ya, yma, xca, aca, r))
        lo, hi = min(xa, xb), max(xa, xb)
        nx = min(max(0.0, lo), hi)
        if nx * nx + ny * ny < r2:
            fx = max(abs(lo), abs(hi))
            ov = full if fx * fx + fy * fy <= r2 else abs(eb - ea)
            t_sum += per_m2[rr, cc] * ov * scale
            if ok[rr, cc] and ov > 0.0:
                v_sum += 1.0
        xa, ea = xb, eb
    return t_sum, v_sum


@numba.njit(cache=True, inline="always")
def _chord(q00: float, q01: float, q11: float, r: float, dy: float) -> tuple[float, float, bool]:
    disc = (q01 * dy) ** 2 - q00 * (q11 * dy * dy - r * r)
    if disc < 0.0:
        return 0.0, 0.0, False
    root = math.sqrt(disc)
    return (-q01 * dy - root) / q00, (-q01 * dy + root) / q00, True


@numba.njit(parallel=True, cache=True)
def disk_sums(cum, okcum, per_m2, ok, col, row, jinv, iscale, pscale, radius, total, valid):
    """Add each point's disk sum (window coordinates) to ``total`` and its valid-pixel count to ``valid``.

    ``cum``/``okcum``: row prefix sums of people per pixel and of the valid mask, shape (h, w + 1); ``per_m2``:
    people per m² (times ``pscale``) for partly covered pixels; ``jinv``: (n, 2, 2) metres per pixel;
    ``iscale``/``pscale``: per-point factors for whole and partial pixels.
    """
    h, w = ok.shape
    r = radius
    for i in numba.prange(col.size):
        j00, j01, j10, j11 = jinv[i, 0, 0], jinv[i, 0, 1], jinv[i, 1, 0], jinv[i, 1, 1]
        q00 = j00 * j00 + j10 * j10
        q01 = j00 * j01 + j10 * j11
        q11 = j01 * j01 + j11 * j11
        det = q00 * q11 - q01 * q01
        if not (det > 0.0):
            continue
        ext_col = math.sqrt(r * r * q11 / det)
        ext_row = math.sqrt(r * r * q00 / det)
        y_left = q01 * r / math.sqrt(q11 * det)
        c, rw = col[i], row[i]
        aligned = j01 == 0.0 and j10 == 0.0
        full = abs(j00 * j11 - j01 * j10)
        r_lo = max(math.floor(rw - ext_row), 0)
        r_hi = min(math.floor(rw + ext_row), h - 1)
        # Aligned grids: the terms of every column edge (one pixel of margin either side for rounding) and of every
        # row edge, once per point: the loop over pixels then needs no transcendental function.
        k0 = max(math.floor(c - ext_col) - 1, 0)
        n_cols = max(min(math.floor(c + ext_col) + 1, w - 1) + 2 - k0, 1) if aligned else 1
        n_rows = max(r_hi - r_lo + 2, 1) if aligned else 1
        edges = np.empty((8, max(n_cols, n_rows)))
        ex, exm, egx, eax = edges[0], edges[1], edges[2], edges[3]
        ey, eym, exc, eac = edges[4], edges[5], edges[6], edges[7]
        if aligned:
            for k in range(n_cols):
                ex[k] = (k0 + k - c) * j00
                exm[k], egx[k], eax[k] = _column_terms(ex[k], r)
            for m in range(n_rows):
                ey[m] = (r_lo + m - rw) * j11
                eym[m], exc[m], eac[m] = _row_edge(ey[m], r)
        t_sum = 0.0
        v_sum = 0.0
        for rr in range(r_lo, r_hi + 1):
            y0 = rr - rw
            y1 = y0 + 1.0
            yc0 = max(y0, -ext_row)
            yc1 = min(y1, ext_row)
            lo0, hi0, _ = _chord(q00, q01, q11, r, yc0)
            lo1, hi1, _ = _chord(q00, q01, q11, r, yc1)
            lo = -ext_col if yc0 <= y_left <= yc1 else min(lo0, lo1)
            hi = ext_col if yc0 <= -y_left <= yc1 else max(hi0, hi1)
            lo_c = max(math.floor(c + lo), 0)
            hi_c = min(math.floor(c + hi), w - 1)
            if hi_c < lo_c:
                continue
            a0, b0, ok0 = _chord(q00, q01, q11, r, y0)
            a1, b1, ok1 = _chord(q00, q01, q11, r, y1)
            fin_lo, fin_hi = lo_c, lo_c - 1
            if ok0 and ok1:
                fin_lo = max(math.ceil(c + max(a0, a1)), 0)
                fin_hi = min(math.floor(c + min(b0, b1)) - 1, w - 1)
            if fin_hi >= fin_lo:
                t_sum += (cum[rr, fin_hi + 1] - cum[rr, fin_lo]) * iscale[i]
                v_sum += okcum[rr, fin_hi + 1] - okcum[rr, fin_lo]
                left_end, right_start = fin_lo - 1, fin_hi + 1
            else:
                left_end, right_start = hi_c, hi_c + 1
            if aligned:
                # Pixel edges run east-west and north-south (north-up geographic rasters): exact overlaps from
                # the disk's area below and left of each corner, shared between neighbouring pixels.
                ma, mb = rr - r_lo, rr - r_lo + 1
                if ey[ma] > ey[mb]:
                    ma, mb = mb, ma
                t_sum, v_sum = _run_axis_aligned(t_sum, v_sum, per_m2, ok, rr, lo_c, left_end, ex, exm, egx, eax,
                                                 k0, ey[ma], eym[ma], exc[ma], eac[ma], ey[mb], eym[mb], exc[mb],
                                                 eac[mb], r, full, pscale[i])
                t_sum, v_sum = _run_axis_aligned(t_sum, v_sum, per_m2, ok, rr, right_start, hi_c, ex, exm, egx, eax,
                                                 k0, ey[ma], eym[ma], exc[ma], eac[ma], ey[mb], eym[mb], exc[mb],
                                                 eac[mb], r, full, pscale[i])
                continue
            for cc in range(lo_c, left_end + 1):
                ov = _pixel_overlap(j00, j01, j10, j11, cc - c, rr - rw, r)
                t_sum += per_m2[rr, cc] * ov * pscale[i]
                if ok[rr, cc] and ov > 0.0:
                    v_sum += 1.0
            for cc in range(right_start, hi_c + 1):
                ov = _pixel_overlap(j00, j01, j10, j11, cc - c, rr - rw, r)
                t_sum += per_m2[rr, cc] * ov * pscale[i]
                if ok[rr, cc] and ov > 0.0:
                    v_sum += 1.0
        total[i] += t_sum
        valid[i] += v_sum


def warm_up() -> None:
    """Compile (or load from cache) the kernel on a tiny input."""
    z = np.zeros((1, 2))
    disk_sums(z, z, np.zeros((1, 1)), np.zeros((1, 1), dtype=np.bool_), np.zeros(1), np.zeros(1),
              np.eye(2).reshape(1, 2, 2), np.ones(1), np.ones(1), 1.0, np.zeros(1), np.zeros(1))
