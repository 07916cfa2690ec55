"""The geodesic kernels enrichment rests on, against pyproj Geod and brute force.

Distances must agree with pyproj Geod within 1 m, nearest ids and counts must equal a brute-force search over all
pairs, including near the poles, across the antimeridian (Fiji) and at Tajikistan's latitudes (~38°N), where a
KD-tree on raw degrees picks the wrong tower.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString

from connectmap.geodesy import PointIndex, PolylineIndex, geodesic_upper_km

GEOD = pyproj.Geod(ellps="WGS84")

# (lon_min, lon_max, lat_min, lat_max) of the regions the issue names.
REGIONS = {
    "tajikistan": (67.0, 75.0, 36.5, 41.0),
    "fiji_antimeridian": (177.0, 183.0, -19.5, -15.5),  # longitudes above 180 are wrapped below
    "near_north_pole": (-180.0, 180.0, 86.0, 89.99),
    "near_south_pole": (-180.0, 180.0, -89.99, -86.0),
    "equator": (-5.0, 5.0, -3.0, 3.0),
}


def _points(rng: np.random.Generator, region: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    lo0, lo1, la0, la1 = REGIONS[region]
    lon = rng.uniform(lo0, lo1, n)
    lon = (lon + 180.0) % 360.0 - 180.0
    return lon, rng.uniform(la0, la1, n)


def _brute(qlon, qlat, rlon, rlat) -> np.ndarray:
    """Geodesic distance matrix (km) by pyproj Geod, queries x references."""
    n, m = qlon.size, rlon.size
    _, _, d = GEOD.inv(np.repeat(qlon, m), np.repeat(qlat, m), np.tile(rlon, n), np.tile(rlat, n))
    return np.asarray(d).reshape(n, m) / 1000.0


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_nearest_equals_brute_force_and_geod(region):
    rng = np.random.default_rng(abs(hash(region)) % 2**32)
    tlon, tlat = _points(rng, region, 400)
    slon, slat = _points(rng, region, 300)
    hit = PointIndex(tlon, tlat).nearest(slon, slat)
    matrix = _brute(slon, slat, tlon, tlat)
    expected = matrix.argmin(axis=1)
    assert np.array_equal(hit.index, expected)
    assert np.abs(hit.distance_km - matrix.min(axis=1)).max() * 1000.0 < 1.0


def test_raw_degree_kdtree_is_wrong_at_tajik_latitudes_but_we_are_not():
    """The trap the issue describes: a KD-tree on (lat, lon) degrees misses the true nearest tower at ~38°N."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(7)
    tlon, tlat = _points(rng, "tajikistan", 1000)
    slon, slat = _points(rng, "tajikistan", 1000)
    truth = _brute(slon, slat, tlon, tlat).argmin(axis=1)
    _, naive = cKDTree(np.column_stack([tlat, tlon])).query(np.column_stack([slat, slon]))
    assert (naive != truth).mean() > 0.02  # the peers' method is wrong for several per cent of schools
    assert np.array_equal(PointIndex(tlon, tlat).nearest(slon, slat).index, truth)


def test_near_ties_resolve_to_the_geodesic_nearest_and_first_on_exact_ties():
    # Two towers almost equidistant from the school on the sphere but not on the ellipsoid: one due north, one due
    # east at the same spherical distance. The ellipsoid makes north-south distances shorter near the equator.
    lon2, lat2, _ = GEOD.fwd([10.0, 10.0], [0.5, 0.5], [0.0, 90.0], [5000.0, 5000.5])
    towers = PointIndex(lon2, lat2)
    hit = towers.nearest([10.0], [0.5])
    assert hit.index[0] == 0
    # Exact duplicates: the first one wins.
    dup = PointIndex([1.0, 1.0, 2.0], [1.0, 1.0, 2.0]).nearest([1.1], [1.0])
    assert dup.index[0] == 0


def test_non_finite_and_empty_inputs_are_unknown_not_zero():
    index = PointIndex([0.0, 1.0, np.nan], [0.0, 1.0, 5.0])
    hit = index.nearest([0.1, np.nan], [0.0, 3.0])
    assert hit.index.tolist() == [0, -1]
    assert np.isnan(hit.distance_km[1]) and hit.distance_km[0] > 0
    empty = PointIndex([], []).nearest([1.0], [1.0])
    assert empty.index[0] == -1 and np.isnan(empty.distance_km[0])
    assert index.count_within([np.nan], [0.0], 5.0)[0] == -1


@pytest.mark.parametrize("radius_km", [0.5, 5.0, 40.0])
def test_count_within_equals_brute_force(radius_km):
    rng = np.random.default_rng(int(radius_km * 10))
    tlon, tlat = _points(rng, "tajikistan", 1500)
    slon, slat = _points(rng, "tajikistan", 400)
    # A few towers exactly on the circle's edge (within floating point) of school 0.
    elon, elat, _ = GEOD.fwd(np.full(3, slon[0]), np.full(3, slat[0]), [10.0, 100.0, 250.0],
                             np.full(3, radius_km * 1000.0))
    tlon, tlat = np.r_[tlon, elon], np.r_[tlat, elat]
    counts = PointIndex(tlon, tlat).count_within(slon, slat, radius_km)
    expected = (_brute(slon, slat, tlon, tlat) <= radius_km).sum(axis=1)
    assert np.array_equal(counts, expected)


def test_within_and_nearest_other_equal_brute_force():
    rng = np.random.default_rng(3)
    lon, lat = _points(rng, "fiji_antimeridian", 600)
    lon = np.r_[lon, lon[:5]]  # five duplicated schools
    lat = np.r_[lat, lat[:5]]
    index = PointIndex(lon, lat)
    matrix = _brute(lon, lat, lon, lat)
    q, ref, dist = index.within(lon[:50], lat[:50], 20.0)
    expected = {(i, j) for i in range(50) for j in np.flatnonzero(matrix[i] <= 20.0)}
    assert set(zip(q.tolist(), ref.tolist(), strict=True)) == expected
    assert np.allclose(dist, matrix[q, ref], atol=1e-6)
    other = index.nearest_other()
    np.fill_diagonal(matrix, np.inf)
    assert np.allclose(other.distance_km, matrix.min(axis=1), atol=1e-6)
    assert np.all(other.distance_km[:5] == 0.0) and np.all(other.distance_km[-5:] == 0.0)
    assert not np.any(other.index == np.arange(lon.size))


def test_schur_bound_brackets_geodesic_distance():
    rng = np.random.default_rng(11)
    lon1, lat1 = rng.uniform(-180, 180, 20000), np.degrees(np.arcsin(rng.uniform(-1, 1, 20000)))
    lon2, lat2 = rng.uniform(-180, 180, 20000), np.degrees(np.arcsin(rng.uniform(-1, 1, 20000)))
    from connectmap.geodesy import ecef_km

    chord = np.linalg.norm(ecef_km(lon1, lat1) - ecef_km(lon2, lat2), axis=1)
    geo = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2]) / 1000.0
    upper = geodesic_upper_km(chord)
    assert np.all(chord <= geo + 1e-9)
    assert np.all(geo <= upper)


# --- polylines ------------------------------------------------------------------------------------------------------
def _densified(line) -> list[np.ndarray]:
    """Each part of a line with 200 geodesic points per segment, lon/lat."""
    parts = []
    for part in getattr(line, "geoms", [line]):
        coords = np.asarray(part.coords)
        pts = [coords[0]]
        for a, b in itertools.pairwise(coords):
            pts.extend(GEOD.npts(a[0], a[1], b[0], b[1], 200))
            pts.append(b)
        parts.append(np.asarray(pts))
    return parts


def _aeqd_distances_km(lon: float, lat: float, dense_lines: list[list[np.ndarray]]) -> list[float]:
    """Independent check: shapely distances in an azimuthal equidistant projection centred on the point (distances
    from the centre are exact there; densified segments follow the geodesics)."""
    aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
    to_local = pyproj.Transformer.from_crs(4326, aeqd, always_xy=True)
    out = []
    for parts in dense_lines:
        local = [LineString(np.column_stack(to_local.transform(p[:, 0], p[:, 1]))) for p in parts]
        out.append(shapely.distance(shapely.Point(0.0, 0.0), MultiLineString(local)) / 1000.0)
    return out


def test_polyline_distance_matches_local_projection_and_brute_force():
    rng = np.random.default_rng(5)
    lines = []
    for _ in range(12):
        lon0, lat0 = rng.uniform(-10, 10), rng.uniform(-50, 50)
        steps = rng.normal(0, 0.08, (rng.integers(2, 6), 2))
        lines.append(LineString(np.array([lon0, lat0]) + np.cumsum(steps, axis=0)))
    lines.append(MultiLineString([[(179.8, -17.0), (-179.9, -17.2)], [(179.5, -16.0), (179.6, -16.5)]]))
    index = PolylineIndex(np.array(lines, dtype=object), spacing_km=0.5)
    qlon, qlat = [], []
    for k in range(60):
        line = lines[k % len(lines)]
        p = line.interpolate(rng.uniform(0, 1), normalized=True)
        lo, la, _ = GEOD.fwd(p.x, p.y, rng.uniform(0, 360), rng.choice([10.0, 300.0, 3000.0, 20000.0]))
        qlon.append(lo)
        qlat.append(la)
    hit = index.nearest(np.array(qlon), np.array(qlat))
    dense = [_densified(line) for line in lines]
    for i in range(len(qlon)):
        per_line = _aeqd_distances_km(qlon[i], qlat[i], dense)
        best = int(np.argmin(per_line))
        # Within 1 m of the independent computation (lines under 20 km from the point).
        assert abs(hit.distance_km[i] - per_line[best]) * 1000.0 < 1.0, (i, hit.distance_km[i], per_line[best])
        if sorted(per_line)[1] - per_line[best] > 0.01:
            assert hit.index[i] == best
    # The nearest point reported is on the line and at the reported distance.
    d = GEOD.inv(np.array(qlon), np.array(qlat), hit.lon, hit.lat)[2] / 1000.0
    assert np.allclose(d, hit.distance_km, atol=1e-9)


def test_polyline_empty_and_missing():
    index = PolylineIndex(np.array([None, LineString()], dtype=object))
    hit = index.nearest([1.0], [1.0])
    assert hit.index[0] == -1 and np.isnan(hit.distance_km[0])
    one = PolylineIndex(np.array([None, LineString([(0, 0), (1, 0)])], dtype=object))
    assert one.nearest([0.5], [0.1]).index[0] == 1


@pytest.mark.parametrize("max_km", [1.0, 50.0, 200.0])
def test_compiled_short_distance_agrees_with_geod(max_km):
    """The compiled chord-to-arc distance used in the hot loops agrees with Karney's (pyproj) to 1e-5 m."""
    from connectmap._geodesic_fast import short_geodesic_km

    rng = np.random.default_rng(int(max_km))
    n = 200_000
    lon1 = rng.uniform(-180, 180, n)
    lat1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat1[: n // 10] = rng.uniform(85, 90, n // 10) * rng.choice([-1, 1], n // 10)  # near the poles
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), rng.uniform(0, max_km * 1000, n))
    ref = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2]) / 1000.0
    assert np.abs(short_geodesic_km(lon1, lat1, lon2, lat2) - ref).max() * 1000.0 < 1e-5


# --- kernels added for speed: each against an independent computation ---------------------------------------------
@pytest.mark.parametrize("radius_km", [0.0, 2.0, 5.0, 150.0, 300.0])
def test_count_on_the_cell_grid_and_the_tree_equal_brute_force(radius_km):
    """Radii up to GRID_MAX_KM are counted on the ECEF cell grid, larger ones with the KD-tree: both exact.

    Sites are clustered (so cells hold very different numbers), some coincide with a school (radius 0 counts
    them), and some sit on the circle's edge, in the sub-millimetre ring that must be measured with Geod.
    """
    from connectmap.geodesy import GRID_MAX_KM, chord_inside_km

    rng = np.random.default_rng(int(radius_km * 7) + 1)
    clon, clat = _points(rng, "tajikistan", 30)
    pick = rng.integers(0, 30, 2500)
    spread = max(radius_km, 1.0) / 111.0
    tlon, tlat = clon[pick] + rng.normal(0, spread, 2500), clat[pick] + rng.normal(0, spread, 2500)
    slon, slat = _points(rng, "tajikistan", 300)
    slon[:20], slat[:20] = tlon[:20], tlat[:20]  # schools standing on a site
    elon, elat, _ = GEOD.fwd(np.repeat(slon[20:30], 4), np.repeat(slat[20:30], 4), np.tile([0, 90, 180, 270], 10),
                             np.full(40, radius_km * 1000.0))
    tlon, tlat = np.r_[tlon, elon], np.r_[tlat, elat]
    index = PointIndex(tlon, tlat)
    counts = index.count_within(slon, slat, radius_km)
    expected = (_brute(slon, slat, tlon, tlat) <= radius_km).sum(axis=1)
    assert np.array_equal(counts, expected)
    assert (radius_km <= GRID_MAX_KM) == (bool(index._grids))  # the path this radius is meant to take was taken
    # The grid and the tree agree on the sure counts and on the ring pairs to measure, for a wide ring too.
    xyz = prepare(slon, slat).xyz
    for inner in (chord_inside_km(radius_km), 0.9 * radius_km):
        outer = radius_km + 1e-7
        g_count, g_owner, g_cand = index._count_grid(xyz, inner, outer)
        t_count, t_owner, t_cand = index._count_tree(xyz, inner, outer)
        assert np.array_equal(g_count, t_count)
        pairs_grid = sorted(zip(g_owner.tolist(), g_cand.tolist(), strict=True))
        assert pairs_grid == sorted(zip(t_owner.tolist(), t_cand.tolist(), strict=True))


def prepare(lon, lat):
    from connectmap.geodesy import prepare_queries

    return prepare_queries(lon, lat)


def test_prepared_queries_give_the_same_answers_as_arrays():
    """One QueryPoints serves several indexes (towers per technology, fibre nodes and lines): same answers."""
    rng = np.random.default_rng(12)
    slon, slat = _points(rng, "equator", 30_000)  # above the size where queries are sorted in Morton order
    slon[5], slat[7] = np.nan, np.nan
    tlon, tlat = _points(rng, "equator", 2000)
    q = prepare(slon, slat)
    index = PointIndex(tlon, tlat)
    a, b = index.nearest(slon, slat), index.nearest(q)
    assert np.array_equal(a.index, b.index) and np.array_equal(a.distance_km, b.distance_km, equal_nan=True)
    assert np.array_equal(index.count_within(slon, slat, 20.0), index.count_within(q, None, 20.0))
    assert index.count_within(q, None, 20.0)[5] == -1
    lines = PolylineIndex(np.array([LineString(np.column_stack([tlon[:50], tlat[:50]]))], dtype=object))
    la, lb = lines.nearest(slon, slat), lines.nearest(q)
    assert np.array_equal(la.distance_km, lb.distance_km, equal_nan=True)


def test_nearest_among_many_duplicate_points_equals_brute_force():
    """Many references at the very same coordinates (fibre nodes listed twice): every query is a tie the tree
    cannot settle; the compiled distances settle it, ties go to the first point, as with Geod on every pair."""
    rng = np.random.default_rng(5)
    ulon, ulat = _points(rng, "near_north_pole", 600)
    tlon, tlat = np.r_[ulon, ulon[::-1], ulon[:100]], np.r_[ulat, ulat[::-1], ulat[:100]]
    slon, slat = _points(rng, "near_north_pole", 1500)
    hit = PointIndex(tlon, tlat).nearest(slon, slat)
    matrix = _brute(slon, slat, tlon, tlat)
    assert np.array_equal(hit.index, matrix.argmin(axis=1))  # argmin: the first of equal minima
    assert np.abs(hit.distance_km - matrix.min(axis=1)).max() * 1000.0 < 1e-3


def test_compiled_arc_feet_equal_the_vectorised_formula():
    """The compiled foot-of-perpendicular (fibre lines) against the numpy version it replaced."""
    from connectmap._geodesic_fast import arc_feet
    from connectmap.geodesy import _arc_foot, _unit_to_lonlat, ecef_km, unit_vectors

    rng = np.random.default_rng(8)
    n = 20_000
    qlon, qlat = rng.uniform(-180, 180, n), rng.uniform(-89, 89, n)
    alon, alat = qlon + rng.normal(0, 0.5, n), np.clip(qlat + rng.normal(0, 0.5, n), -90, 90)
    blon, blat = alon + rng.normal(0, 0.5, n), np.clip(alat + rng.normal(0, 0.5, n), -90, 90)
    blon[:100], blat[:100] = alon[:100], alat[:100]  # degenerate arcs (a point)
    a, b = unit_vectors(alon, alat), unit_vectors(blon, blat)
    owner = rng.integers(0, n, n)
    seg = rng.integers(0, n, n)
    seg[:200] = np.arange(200)
    flon, flat, fchord = arc_feet(unit_vectors(qlon, qlat), ecef_km(qlon, qlat), owner, seg, a, b)
    ref_lon, ref_lat = _unit_to_lonlat(_arc_foot(unit_vectors(qlon[owner], qlat[owner]), a[seg], b[seg]))
    ref_chord = np.linalg.norm(ecef_km(ref_lon, ref_lat) - ecef_km(qlon, qlat)[owner], axis=1)
    assert np.abs(flon - ref_lon).max() < 1e-9 and np.abs(flat - ref_lat).max() < 1e-9
    assert np.abs(fchord - ref_chord).max() < 1e-9  # km


@pytest.mark.parametrize("max_km", [5.0, 20.0, 150.0])
def test_nearest_within_max_km_equals_brute_force(max_km):
    """With max_km, a query with a reference point within max_km gets its exact nearest; the others get -1/NaN
    (and never a wrong id)."""
    rng = np.random.default_rng(7)
    tlon, tlat = _points(rng, "tajikistan", 300)
    slon, slat = _points(rng, "tajikistan", 400)
    slon[:50] += 20.0  # far from every reference point
    matrix = _brute(slon, slat, tlon, tlat)
    hit = PointIndex(tlon, tlat).nearest(slon, slat, max_km=max_km)
    within = matrix.min(axis=1) <= max_km
    assert 0 < within.sum() < len(slon)
    assert np.array_equal(hit.index[within], matrix.argmin(axis=1)[within])
    assert np.abs(hit.distance_km[within] - matrix.min(axis=1)[within]).max() * 1000.0 < 1.0
    found = hit.index >= 0
    assert np.array_equal(hit.index[found], matrix.argmin(axis=1)[found])
    assert np.isnan(hit.distance_km[~found]).all() and not found[:50].any()


def test_within_site_range_equals_brute_force():
    """Modelled coverage: covered where some site is within its own range, with far schools (another continent)."""
    from connectmap.enrich.coverage import within_site_range

    rng = np.random.default_rng(11)
    tlon, tlat = _points(rng, "tajikistan", 200)
    range_km = rng.uniform(1.0, 35.0, tlon.size)
    slon, slat = _points(rng, "tajikistan", 500)
    slon[:100] -= 60.0  # in Africa: nothing within any range
    slon[100] = np.nan
    got = within_site_range(slon, slat, tlon, tlat, range_km)
    matrix = _brute(np.nan_to_num(slon), slat, tlon, tlat)
    expected = (matrix <= range_km[None, :]).any(axis=1).astype(float)
    expected[100] = np.nan
    assert np.array_equal(got, expected, equal_nan=True)
    assert 0 < np.nansum(got) < 400
