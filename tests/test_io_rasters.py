"""Raster reading: lazy open with checks, point values, disks and population sums, on GeoTIFFs written here."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import rasterio
from rasterio.transform import from_origin

from connectmap.errors import CRSError, InputError, MissingInputError
from connectmap.io.rasters import any_within, disk_sum, disk_sums, open_raster, pixel_areas_km2, sample

GEOD = pyproj.Geod(ellps="WGS84")


def write_tif(path, data, *, transform, crs="EPSG:4326", nodata=None, tags=None, tiled=False, compress=None):
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype.name, "crs": crs, "transform": transform, "nodata": nodata}
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if compress:
        profile["compress"] = compress
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
        if tags:
            ds.update_tags(**tags)
    return path


# --- open_raster --------------------------------------------------------------------------------------------------
def test_open_reads_tags_and_arguments_override_them(tmp_path):
    path = write_tif(tmp_path / "cov.tif", np.ones((10, 10), np.uint8), transform=from_origin(0, 10, 1, 1),
                     tags={"technology": "4G", "operator": "Orange", "value": "binary"})
    layer = open_raster(path, kind="coverage")
    assert (layer.technology, layer.operator, layer.value) == ("LTE", "Orange", "binary")
    assert layer.bounds == pytest.approx((0, 0, 10, 10))
    other = open_raster(path, kind="coverage", technology="umts", operator="Moov")
    assert (other.technology, other.operator) == ("UMTS", "Moov")
    pop = write_tif(tmp_path / "pop.tif", np.ones((4, 4), np.float32), transform=from_origin(0, 4, 1, 1))
    assert open_raster(pop, kind="population", value="count").value == "count"


def test_open_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(MissingInputError, match=r"nothere\.tif"):
        open_raster(tmp_path / "nothere.tif")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"this is not a GeoTIFF at all" * 10)
    with pytest.raises(InputError, match=r"junk\.tif.*corrupt or truncated"):
        open_raster(junk, technology="LTE")
    # A valid header whose pixel data was cut off: fails at open, not mid-run.
    full = write_tif(tmp_path / "full.tif", np.arange(512 * 512, dtype=np.uint16).reshape(512, 512),
                     transform=from_origin(0, 10, 0.01, 0.01), tiled=True, tags={"technology": "LTE", "value": "dbm"})
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.tif"):
        open_raster(cut)
    nocrs = write_tif(tmp_path / "nocrs.tif", np.ones((4, 4), np.uint8), transform=from_origin(0, 4, 1, 1), crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif.*gdal_edit"):
        open_raster(nocrs, technology="LTE")
    cov = write_tif(tmp_path / "c.tif", np.ones((4, 4), np.uint8), transform=from_origin(0, 4, 1, 1))
    with pytest.raises(InputError, match="which technology"):
        open_raster(cov)
    with pytest.raises(InputError, match="technology 'LTE-X'"):
        open_raster(cov, technology="LTE-X")
    with pytest.raises(InputError, match="count or density"):
        open_raster(cov, kind="population")
    with pytest.raises(InputError, match="not valid for a coverage raster"):
        open_raster(cov, technology="LTE", value="density")


# --- sample -------------------------------------------------------------------------------------------------------
def test_sample_values_outside_and_nodata(tmp_path):
    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    data[3, 4] = -9999
    data[5, 5] = np.nan
    path = write_tif(tmp_path / "s.tif", data, transform=from_origin(20.0, 10.0, 0.5, 0.5), nodata=-9999,
                     tags={"technology": "LTE", "value": "dbm"})
    layer = open_raster(path)
    lon = np.array([20.25, 24.99, 21.0, 22.2, 22.75, 19.9, 23.0, np.nan, 25.0])
    lat = np.array([9.9, 5.01, 7.5, 8.1, 7.25, 8.0, 10.01, 8.0, 7.0])
    # By hand: col = (lon - 20) / 0.5, row = (10 - lat) / 0.5; value = 10 * row + col.
    expected = [0.0, 99.0, 2 * 10 + 5 * 1 - 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    expected[2] = 10 * 5 + 2  # lon 21.0 -> col 2, lat 7.5 -> row 5
    # (22.2, 8.1): col 4, row 3 -> nodata; (22.75, 7.25): col 5, row 5 -> NaN; 19.9 west of the raster;
    # 10.01 north of it; NaN point; lon 25.0 is the east edge (outside: pixels are [c, c+1)).
    got = sample(layer, lon, lat)
    np.testing.assert_array_equal(got, np.array(expected))


def test_sample_projected_raster_matches_rasterio_sample(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(-120, -60, (300, 400)).astype(np.int16)
    transform = from_origin(400_000, 1_700_000, 250, 250)  # UTM 33N, around 15°E 15°N
    path = write_tif(tmp_path / "utm.tif", data, transform=transform, crs="EPSG:32633", tiled=True,
                     compress="deflate", tags={"technology": "LTE", "value": "dbm"})
    layer = open_raster(path)
    to_utm = pyproj.Transformer.from_crs(4326, 32633, always_xy=True)
    to_geo = pyproj.Transformer.from_crs(32633, 4326, always_xy=True)
    x = rng.uniform(400_000, 500_000, 2000)
    y = rng.uniform(1_625_000, 1_700_000, 2000)
    lon, lat = to_geo.transform(x, y)
    got = sample(layer, lon, lat)
    xx, yy = to_utm.transform(lon, lat)
    with rasterio.open(path) as ds:
        ref = np.array([v[0] for v in ds.sample(zip(xx, yy, strict=True))], dtype=float)
    np.testing.assert_array_equal(got, ref)
    # A tiny memory budget forces block-by-block reading: same answer.
    np.testing.assert_array_equal(sample(layer, lon, lat, max_bytes=256 * 256 * 2), ref)


# --- covered anywhere within R ----------------------------------------------------------------------------------
def test_any_within_reaches_a_pixel_edge_at_the_radius(tmp_path):
    data = np.zeros((100, 100), np.uint8)
    data[50, 50] = 1
    data[10, 10] = 255  # nodata
    transform = from_origin(10.0, 40.0, 0.01, 0.01)
    path = write_tif(tmp_path / "b.tif", data, transform=transform, nodata=255, tags={"technology": "GSM"})
    layer = open_raster(path)
    # The covered pixel spans lon [10.50, 10.51], lat [39.49, 39.50]. Points due east of its east edge, due south
    # of its south edge, and north-west of its north-west corner, at known geodesic distances from the edge.
    east = GEOD.fwd([10.51] * 2, [39.495] * 2, [90.0] * 2, [450.0, 550.0])
    south = GEOD.fwd([10.505] * 2, [39.49] * 2, [180.0] * 2, [450.0, 550.0])
    corner = GEOD.fwd([10.50] * 2, [39.50] * 2, [-45.0] * 2, [450.0, 550.0])
    lon = np.r_[east[0], south[0], corner[0], 10.505]
    lat = np.r_[east[1], south[1], corner[1], 39.495]
    got = any_within(layer, lon, lat, 500.0, 0.5)
    np.testing.assert_array_equal(got, [1, 0, 1, 0, 1, 0, 1])
    # Radius 0: the pixel at the point only.
    np.testing.assert_array_equal(any_within(layer, lon, lat, 0.0, 0.5), [0, 0, 0, 0, 0, 0, 1])
    # Not covered, with a nodata pixel within reach: unknown, never "not covered".
    near_nodata = any_within(layer, [10.105], [39.885], 800.0, 0.5)
    assert np.isnan(near_nodata[0])
    # Disk crossing the raster's edge and no coverage inside: unknown.
    assert np.isnan(any_within(layer, [10.002], [39.5], 500.0, 0.5)[0])
    # Same answers when read in small tiles.
    np.testing.assert_array_equal(any_within(layer, lon, lat, 500.0, 0.5, max_bytes=64 * 64), got)


# --- population -----------------------------------------------------------------------------------------------------
def _cell_area_km2(west, north, dx, dy):
    """Independent: the pixel as a densified polygon, area by pyproj Geod."""
    n = 200
    lons = np.r_[np.linspace(west, west + dx, n), np.full(n, west + dx), np.linspace(west + dx, west, n),
                 np.full(n, west)]
    lats = np.r_[np.full(n, north), np.linspace(north, north - dy, n), np.full(n, north - dy),
                 np.linspace(north - dy, north, n)]
    area, _ = GEOD.polygon_area_perimeter(lons, lats)
    return abs(area) / 1e6


def test_pixel_areas_match_geod_polygons(tmp_path):
    path = write_tif(tmp_path / "p.tif", np.ones((90, 10), np.float32), transform=from_origin(0, 89.0, 1.0, 1.0))
    layer = open_raster(path, kind="population", value="count")
    rows = np.array([0, 30, 60, 89])
    got = pixel_areas_km2(layer, rows)
    expected = [_cell_area_km2(0.0, 89.0 - r, 1.0, 1.0) for r in rows]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_population_disk_inside_one_coarse_pixel(tmp_path):
    """A 1 km disk inside a 20 km pixel: density x disk area, not the pixel's people."""
    density = np.full((20, 20), 50.0, np.float32)  # people/km²
    transform = from_origin(-12.0, 20.0, 0.2, 0.2)
    dens = write_tif(tmp_path / "d.tif", density, transform=transform, nodata=-1, tags={"value": "density"})
    layer = open_raster(dens, kind="population")
    got = disk_sum(layer, [-11.1], [19.1], 1000.0)  # middle of pixel (row 4, col 4)
    assert got[0] == pytest.approx(50.0 * np.pi * 1.0**2, rel=1e-4)
    # Counts raster: people per pixel; a disk gets its share of the pixel's area.
    area = _cell_area_km2(-11.2, 19.2, 0.2, 0.2)
    counts = write_tif(tmp_path / "c.tif", np.full((20, 20), 1000.0, np.float32), transform=transform,
                       tags={"value": "count"})
    got = disk_sum(open_raster(counts, kind="population"), [-11.1], [19.1], 2000.0)
    assert got[0] == pytest.approx(1000.0 * np.pi * 4.0 / area, rel=1e-3)


def _polar_brute_force(layer, lon, lat, radius_m, rings=300, spokes=720):
    """Independent: sample the disk at equal-area points (geodesic offsets), density x area per point."""
    r = np.sqrt((np.arange(rings) + 0.5) / rings) * radius_m
    az = (np.arange(spokes) + 0.5) / spokes * 360.0
    rr, aa = np.meshgrid(r, az)
    plon, plat, _ = GEOD.fwd(np.full(rr.size, lon), np.full(rr.size, lat), aa.ravel(), rr.ravel())
    values = sample(layer, plon, plat)
    return np.nansum(values) * np.pi * (radius_m / 1000.0) ** 2 / rr.size


def test_population_sums_match_brute_force_on_many_pixels(tmp_path):
    rng = np.random.default_rng(4)
    density = rng.uniform(0, 500, (60, 60)).astype(np.float32)
    density[20:25, 30:35] = -1  # nodata: counts as nobody
    transform = from_origin(30.0, 50.0, 0.05, 0.05)
    path = write_tif(tmp_path / "d.tif", density, transform=transform, nodata=-1, tags={"value": "density"})
    layer = open_raster(path, kind="population")
    lon = np.array([31.23, 30.9, 31.7])
    lat = np.array([48.77, 49.1, 48.95])
    for radius in (2000.0, 10000.0):
        got = disk_sum(layer, lon, lat, radius)
        for i in range(lon.size):
            if i == 2 and radius == 2000.0:
                # The third school's 2 km disk lies wholly in the nodata block: unknown, not 0 people.
                assert np.isnan(got[i])
                continue
            assert got[i] == pytest.approx(_polar_brute_force(layer, lon[i], lat[i], radius), rel=2e-3)
    # Read in small tiles: the same.
    np.testing.assert_allclose(disk_sum(layer, lon, lat, 10000.0, max_bytes=32 * 32 * 4),
                               disk_sum(layer, lon, lat, 10000.0), rtol=1e-9)
    # Outside the raster entirely: unknown.
    assert np.isnan(disk_sum(layer, [10.0], [10.0], 5000.0)[0])
    # Several radii at once share reads and geometry: same answers as one by one.
    both = disk_sums(layer, lon, lat, [2000.0, 10000.0])
    np.testing.assert_allclose(both[0], disk_sum(layer, lon, lat, 2000.0), rtol=1e-12)
    np.testing.assert_allclose(both[1], disk_sum(layer, lon, lat, 10000.0), rtol=1e-12)


def test_population_projected_count_raster_matches_brute_force(tmp_path):
    rng = np.random.default_rng(8)
    people = rng.uniform(0, 80, (200, 200)).astype(np.float32)  # people per 100 m pixel
    transform = from_origin(500_000, 4_200_000, 100, 100)  # UTM 42N, Tajikistan's latitude
    path = write_tif(tmp_path / "u.tif", people, transform=transform, crs="EPSG:32642", tags={"value": "count"})
    layer = open_raster(path, kind="population")
    lon, lat = pyproj.Transformer.from_crs(32642, 4326, always_xy=True).transform(510_000, 4_190_000)
    got = disk_sum(layer, [lon], [lat], 3000.0)[0]
    # Brute force: density = people / ground pixel area (UTM scale factor at the point).
    factors = pyproj.Proj("EPSG:32642").get_factors(lon, lat)
    density_layer = open_raster(path, kind="population", value="count")
    brute = _polar_brute_force(density_layer, lon, lat, 3000.0) / (0.1 * 0.1 / factors.areal_scale)
    assert got == pytest.approx(brute, rel=2e-3)


def test_convolution_method_agrees_with_exact(tmp_path):
    """Large disks use FFT convolution at pixel centres: exact on uniform density, close on a varying one."""
    rng = np.random.default_rng(21)
    smooth = np.kron(rng.uniform(50, 500, (12, 12)), np.ones((10, 10))).astype(np.float32)  # 10-pixel patches
    transform = from_origin(20.0, 10.0, 0.01, 0.01)
    path = write_tif(tmp_path / "s.tif", smooth, transform=transform, tags={"value": "density"})
    uniform = write_tif(tmp_path / "u.tif", np.full((120, 120), 80.0, np.float32), transform=transform,
                        tags={"value": "count"})
    lon, lat = rng.uniform(20.3, 20.9, 300), rng.uniform(9.1, 9.7, 300)
    for raster, tolerance in ((uniform, 5e-4), (path, 0.02)):  # uniform: only the band kernel's latitude
        layer = open_raster(raster, kind="population")
        exact = disk_sum(layer, lon, lat, 10_000.0, method="exact")
        fast = disk_sum(layer, lon, lat, 10_000.0, method="convolve")
        rel = np.abs(fast / exact - 1)
        assert rel.max() <= tolerance, rel.max()
    assert np.median(rel) < 0.005


# --- the compiled population kernel: the fast path for north-up grids against the general one ---------------------
def _kernel_sums(per_pixel, ok, col, row, jinv, radius):
    """Call the compiled kernel directly on a window whose every pixel is ``per_pixel`` people per m²."""
    from connectmap.io._disk_kernel import disk_sums as kernel

    area = np.abs(np.linalg.det(jinv[0]))
    cum = np.zeros((ok.shape[0], ok.shape[1] + 1))
    np.cumsum(per_pixel * area, axis=1, out=cum[:, 1:])
    okcum = np.zeros(cum.shape)
    np.cumsum(ok.astype(float), axis=1, out=okcum[:, 1:])
    total, valid = np.zeros(col.size), np.zeros(col.size)
    kernel(cum, okcum, np.ascontiguousarray(per_pixel), ok, col, row, np.ascontiguousarray(jinv), np.ones(col.size),
           np.ones(col.size), float(radius), total, valid)
    return total, valid


@pytest.mark.parametrize("radius", [700.0, 1000.0, 2500.0, 5000.0, 10000.0])
def test_axis_aligned_overlaps_equal_polygon_overlaps_and_the_disk_area(radius):
    """North-up grids (diagonal Jacobian) take the corner-integral path; a Jacobian with a denormal off-diagonal
    term (the same grid to the last bit) takes the general circle-polygon path. They must agree pixel by pixel
    (random people per pixel), count the same valid pixels, and a uniform grid must give pi r² exactly."""
    rng = np.random.default_rng(int(radius))
    h = w = 60
    ok = rng.uniform(size=(h, w)) > 0.05
    people = np.where(ok, rng.gamma(0.6, 1.0, (h, w)), 0.0)
    n = 3000
    col, row = rng.uniform(25, 35, n), rng.uniform(25, 35, n)
    col[:50] = np.floor(col[:50]) + rng.choice([0.0, 1e-9, 1 - 1e-9], 50)  # centres on or next to pixel edges
    row[50:100] = np.floor(row[50:100]) + rng.choice([0.0, 1e-7, 1 - 1e-7], 50)
    aligned = np.tile(np.array([[1043.7, 0.0], [0.0, -1105.3]]), (n, 1, 1))
    general = aligned.copy()
    general[:, 0, 1] = 5e-324
    fast, fast_valid = _kernel_sums(people, ok, col, row, aligned, radius)
    slow, slow_valid = _kernel_sums(people, ok, col, row, general, radius)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    assert np.array_equal(fast_valid, slow_valid)
    uniform, _ = _kernel_sums(np.ones((h, w)), np.ones((h, w), dtype=bool), col, row, aligned, radius)
    np.testing.assert_allclose(uniform, np.pi * radius**2, rtol=1e-13)


def test_sample_reads_tiles_in_threads_like_rasterio(tmp_path):
    """Many small tiles read by several threads (each its own handle): every value as rasterio reads it."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 2, (1200, 1300)).astype(np.uint8)
    data[rng.uniform(size=data.shape) < 0.01] = 255
    path = write_tif(tmp_path / "cov.tif", data, transform=from_origin(30.0, 10.0, 0.001, 0.001), nodata=255,
                     tiled=True, compress="deflate", tags={"technology": "LTE"})
    layer = open_raster(path)
    lon, lat = rng.uniform(29.9, 31.4, 50_000), rng.uniform(8.7, 10.1, 50_000)
    got = sample(layer, lon, lat, max_bytes=256 * 256 * 4)  # tiles of 256 pixels: ~25 tiles
    with rasterio.open(path) as ds:
        inside = (lon > 30.0) & (lon < 31.3) & (lat > 8.8) & (lat < 10.0)
        raw = np.array([v[0] for v in ds.sample(zip(lon[inside], lat[inside], strict=True))], dtype=float)
    expected = np.full(lon.size, np.nan)
    expected[inside] = np.where(raw == 255, np.nan, raw)
    np.testing.assert_array_equal(got[inside], expected[inside])
    assert np.isnan(got[~inside & ((lon < 30.0) | (lon > 31.3) | (lat < 8.8) | (lat > 10.0))]).all()
