"""The Dask engine gives the local engine's table, column for column and bit for bit.

Compared: every column of :func:`connectmap.enrich.enrich` (ids exactly; floats bit-identical, NaN where NaN), of
:func:`connectmap.cost.add_microwave_options` + :func:`connectmap.cost.add_costs`, and the sites of
:func:`connectmap.io.towers.cells_to_sites` built on Dask. One local Dask cluster (2 workers) serves the module;
the CLI tests reach it with ``--scheduler ADDRESS``.

* a small world case (always fast): schools in Kenya, Fiji across the antimeridian, Svalbard and Patagonia, NR
  sites only in Europe (every NR answer needs the whole-Earth fallback), two schools at one point;
* the Kenya register (37,930 schools) with seeded OpenCelliD-like cells collapsed to sites on both engines, the real
  OFDS fibre, outline and population raster, a DEM written by the test for microwave line of sight; partitions
  deliberately small so that halos, sentinels and both fallbacks are exercised.

Geometry (caps, halos, partitions) is checked against brute-force geodesic distances.
"""

from __future__ import annotations

import glob

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import Affine

from connectmap.engine import Engine, EngineParams
from connectmap.engine.spatial import (
    MIN_PARTITION_ROWS,
    WHOLE_EARTH_KM,
    cap_of,
    footprint_of,
    hilbert_partitions,
    reaching,
    within_halo,
)
from connectmap.geodesy import geodesic_km
from tests.conftest import shared_file

pytest.importorskip("distributed")


# --- helpers ---------------------------------------------------------------------------------------------------------
#: The one float measured over tower rows rather than schools: the distance from the chosen microwave site to the
#: fibre. connectmap.geodesy measures batches under 1,000 pairs with pyproj Geod and larger ones with its compiled
#: formula (they agree to 5e-12 km under 50 km), and a task's tower rows are fewer than the whole table's, so this
#: column may differ in the last bits; the site itself is always the same. Every other float is bit-identical
#: because every school partition holds at least 1,000 schools (connectmap.engine.spatial.MIN_PARTITION_ROWS).
TOWER_SIDE_KM = {"microwave_site_fibre_km": 1e-9}


def assert_same_table(local: pd.DataFrame, dask: pd.DataFrame) -> None:
    """Same columns in the same order, same index, same dtypes, same values (floats bit for bit, NaN as NaN; the
    columns of :data:`TOWER_SIDE_KM` within their tolerance in km)."""
    assert list(dask.columns) == list(local.columns)
    assert dask.index.equals(local.index)
    assert type(dask) is type(local)
    different = []
    for column in local.columns:
        a, b = local[column], dask[column]
        assert b.dtype == a.dtype, f"{column}: {b.dtype} != {a.dtype}"
        if isinstance(a.dtype, gpd.array.GeometryDtype):
            same = bool(a.geom_equals(b).all())
        elif pd.api.types.is_float_dtype(a.dtype):
            x, y = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
            both_nan = np.isnan(x) & np.isnan(y)
            if column in TOWER_SIDE_KM:
                same = bool(np.all(both_nan | (np.abs(x - y) <= TOWER_SIDE_KM[column])))
            else:
                same = bool(np.all((x.view(np.int64) == y.view(np.int64)) | both_nan))
        else:
            same = bool(a.equals(b))
        if not same:
            different.append(column)
    assert not different, f"columns that differ: {different}"


def points(lon, lat, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


@pytest.fixture(scope="module")
def engine():
    params = EngineParams(kind="dask", n_workers=2, memory_limit_gb=3.0, partition_schools=1000,
                          partition_towers=1000, halo_km=20.0)
    with Engine(params) as running:
        yield running


# --- caps, halos, partitions ---------------------------------------------------------------------------------------
def test_cap_holds_every_point_and_the_halo_every_neighbour():
    rng = np.random.default_rng(3)
    cases = {
        "Fiji across the antimeridian": (rng.uniform(177, 183, 300), rng.uniform(-19, -15, 300)),
        "near the north pole": (rng.uniform(-180, 180, 300), rng.uniform(86, 90, 300)),
        "Kenya": (rng.uniform(34, 42, 300), rng.uniform(-4.5, 4.5, 300)),
    }
    for name, (lon, lat) in cases.items():
        lon = (lon + 180) % 360 - 180
        cap = cap_of(lon, lat)
        to_centre = geodesic_km(np.full(lon.size, cap.lon), np.full(lon.size, cap.lat), lon, lat)
        assert np.all(to_centre <= cap.radius_km), name
        assert cap.radius_km <= to_centre.max() * (1 + 1e-8) + 1e-5, name  # the bound is tight
        # Reference points around the cap: every one within H of some point must be selected.
        ref_lon = cap.lon + rng.uniform(-12, 12, 3000)
        ref_lon = (ref_lon + 180) % 360 - 180
        ref_lat = np.clip(cap.lat + rng.uniform(-8, 8, 3000), -90, 90)
        halo = 150.0
        selected = within_halo(ref_lon, ref_lat, cap, halo)
        nearest = np.array([geodesic_km(np.full(lon.size, x), np.full(lon.size, y), lon, lat).min()
                            for x, y in zip(ref_lon, ref_lat, strict=True)])
        assert np.all(selected[nearest <= halo]), name
        assert selected.sum() < ref_lon.size, name  # it is a filter, not everything
    assert within_halo(np.array([0.0, 179.9]), np.array([0.0, -89.0]), cap, WHOLE_EARTH_KM).all()
    assert not within_halo(np.array([0.0]), np.array([0.0]), None, 100.0).any()


def test_hilbert_partitions_cover_every_row_once_and_are_compact():
    rng = np.random.default_rng(5)
    lon = rng.uniform(-180, 180, 10_500)
    lat = rng.uniform(-60, 70, 10_500)
    lon[[7, 70]] = np.nan  # no position: the last partition
    partitions = hilbert_partitions(lon, lat, 2000)
    parts = [p.positions for p in partitions]
    every = np.concatenate(parts)
    assert np.array_equal(np.sort(every), np.arange(lon.size))
    assert np.array_equal(parts[-1], [7, 70])
    assert all(np.all(np.diff(p) > 0) for p in parts)  # each keeps the table's order
    assert all(len(p) <= 2000 for p in parts[:-1])
    # compact: a Hilbert partition's cap is far smaller than the cap of a random sample of the same size
    caps = [cap_of(lon[p], lat[p]).radius_km for p in parts[:-1]]
    random_cap = cap_of(lon[:1750], lat[:1750]).radius_km
    assert max(caps) < 0.6 * random_cap
    # never below the minimum partition size when the table has that many rows
    small = hilbert_partitions(lon[:2500], lat[:2500], 100)
    assert all(len(p.positions) >= MIN_PARTITION_ROWS for p in small if p.footprint is not None)
    # footprints: every point of a partition lies in one of its caps, and the caps hug the points
    for part in partitions[:-1]:
        fp = part.footprint
        sample = rng.choice(part.positions, 100, replace=False)
        d = geodesic_km(fp.lon[None, :], fp.lat[None, :], lon[sample, None], lat[sample, None])
        assert np.all((d <= fp.radius_km[None, :]).any(axis=1))
        assert fp.radius_km.max() < 45.0  # 0.5° cells
    assert partitions[-1].footprint is None


def test_footprint_halo_and_reaching_never_miss_a_neighbour():
    rng = np.random.default_rng(8)
    # a ragged partition: two clusters far apart, as a Hilbert run can be
    lon = np.r_[rng.normal(10, 0.5, 1500), rng.normal(40, 0.5, 1500)]
    lat = np.r_[rng.normal(5, 0.5, 1500), rng.normal(-2, 0.5, 1500)]
    fp = hilbert_partitions(lon, lat, 10_000)[0].footprint  # one partition, one cap per 0.5° cell
    one_cap = cap_of(lon, lat)
    whole = footprint_of(lon, lat, cell_deg=400.0)  # a single cell: the one cap round everything
    assert whole.lon.size == 1 and whole.radius_km[0] == pytest.approx(one_cap.radius_km, rel=1e-9)
    assert fp.radius_km.max() < 45.0 < 1000.0 < one_cap.radius_km  # the footprint hugs the clusters
    ref_lon, ref_lat = rng.uniform(0, 50, 4000), rng.uniform(-12, 15, 4000)
    halo = 80.0
    selected = within_halo(ref_lon, ref_lat, fp, halo)
    from scipy.spatial import cKDTree

    from connectmap.geodesy import ecef_km

    tree = cKDTree(ecef_km(lon, lat))
    _, near = tree.query(ecef_km(ref_lon, ref_lat), k=20)
    nearest = np.array([geodesic_km(np.full(20, x), np.full(20, y), lon[n], lat[n]).min()
                        for x, y, n in zip(ref_lon, ref_lat, near, strict=True)])
    assert np.all(selected[nearest <= halo])
    assert selected.mean() < within_halo(ref_lon, ref_lat, one_cap, halo).mean() / 3  # far less than one cap
    # reaching: a layer cut into caps; a cap with a point within the halo is never left out
    cells = [np.flatnonzero((ref_lon // 5 == i) & (ref_lat // 5 == j)) for i in range(10) for j in range(-3, 3)]
    cells = [c for c in cells if c.size]
    caps = [cap_of(ref_lon[c], ref_lat[c]) for c in cells]
    hit = set(reaching(fp, caps, halo))
    for k, c in enumerate(cells):
        if (nearest[c] <= halo).any():
            assert k in hit


# --- a small world case ------------------------------------------------------------------------------------------
def world_case():
    rng = np.random.default_rng(11)
    groups = [  # (lon0, lon1, lat0, lat1, schools)
        (36.0, 38.0, -2.0, 0.0, 1600),    # Kenya
        (177.0, 183.0, -19.0, -16.0, 900),  # Fiji, across the antimeridian
        (10.0, 30.0, 77.0, 80.0, 500),    # Svalbard
        (-72.0, -66.0, -52.0, -45.0, 400),  # Patagonia
    ]
    lon = np.concatenate([rng.uniform(a, b, n) for a, b, _, _, n in groups])
    lat = np.concatenate([rng.uniform(c, d, n) for _, _, c, d, n in groups])
    lon = (lon + 180) % 360 - 180
    lon[5], lat[5] = lon[4], lat[4]  # two schools at one point
    schools = points(lon, lat, source_row=np.arange(lon.size) + 2,
                     num_students=rng.integers(20, 900, lon.size).astype(float))
    schools.index = pd.RangeIndex(lon.size) * 3 + 7  # an index that is not 0..n-1
    n_sites = 1500
    site_lon = np.concatenate([rng.uniform(a - 1, b + 1, n_sites // 4) for a, b, _, _, _ in groups])
    site_lat = np.concatenate([rng.uniform(c - 1, d + 1, n_sites // 4) for _, _, c, d, _ in groups])
    site_lon = (site_lon + 180) % 360 - 180
    rows = []
    for tech, share in (("GSM", 1.0), ("UMTS", 0.6), ("LTE", 0.3)):
        pick = np.flatnonzero(rng.random(site_lon.size) < share)
        rows.append(pd.DataFrame({"site_id": [f"S{i}" for i in pick], "technology": tech,
                                  "operator": rng.choice(["Alpha", "Beta"], pick.size),
                                  "range_m": np.where(rng.random(pick.size) < 0.3, np.nan,
                                                      rng.uniform(500, 30_000, pick.size)),
                                  "lon": site_lon[pick], "lat": site_lat[pick]}))
    # NR only in Europe, far from every school: every NR answer needs the whole-Earth fallback.
    rows.append(pd.DataFrame({"site_id": ["NR1", "NR2"], "technology": "NR", "operator": ["Alpha", pd.NA],
                              "range_m": np.nan, "lon": [2.35, 13.4], "lat": [48.85, 52.5]}))
    table = pd.concat(rows, ignore_index=True)
    for column in ("site_id", "technology", "operator"):
        table[column] = table[column].astype("str")
    towers = gpd.GeoDataFrame(table.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(table.lon, table.lat),
                              crs="EPSG:4326")
    return schools, towers


def test_world_case_enrich_and_cost_identical(engine):
    from connectmap.cost import add_costs, add_microwave_options
    from connectmap.enrich import enrich
    from connectmap.io.fibre import FibreNetwork
    from connectmap.parameters.enrich import EnrichParams

    schools, towers = world_case()
    nodes = towers.iloc[::40][["geometry"]].assign(node_id=lambda t: [f"N{i}" for i in range(len(t))])
    fibre = FibreNetwork(nodes=nodes, lines=gpd.GeoDataFrame({"line_id": []}, geometry=[], crs="EPSG:4326"))
    params = EnrichParams(school_count_radii_km=[1.0, 10.0])
    local = enrich(schools, towers=towers, fibre=fibre, params=params)
    dask = engine.enrich(schools, towers=towers, fibre=fibre, params=params)
    assert_same_table(local, dask)
    # the case is what it claims: NR answers come from Europe, thousands of km away
    assert local["nearest_NR_distance"].min() > 2000
    assert local.loc[schools.index[4], "nearest_school_distance"] == 0.0
    assert (local["nearest_NR_id__alpha"] == "NR1").all()
    # without per-operator columns a task reads a handful of sentinels instead of one per operator
    lean = EnrichParams(per_operator=False, school_count_radii_km=[1.0])
    assert_same_table(enrich(schools, towers=towers, params=lean), engine.enrich(schools, towers=towers, params=lean))
    costed_local = add_costs(add_microwave_options(local, towers, fibre), None)
    costed_dask = engine.add_microwave_options_and_costs(local, towers, fibre)
    assert_same_table(costed_local, costed_dask)
    assert costed_local["microwave_site_id"].notna().sum() > 100  # microwave links were found


def test_engine_local_kind_is_the_local_functions():
    from connectmap.enrich import enrich

    schools, towers = world_case()
    with Engine(EngineParams()) as local_engine:
        assert not local_engine.distributed
        out = local_engine.enrich(schools.iloc[:50], towers=towers)
    assert_same_table(enrich(schools.iloc[:50], towers=towers), out)


# --- Kenya: the register, seeded cells, real fibre, outline and population --------------------------------------------
def kenya_cells(schools: gpd.GeoDataFrame, seed: int = 2026, n_sites: int = 5000) -> pd.DataFrame:
    """OpenCelliD-like cells (the columns read_towers hands to cells_to_sites) around the Kenyan schools.

    70 % of the sites near a school, the rest anywhere in Kenya's box; three networks (639-2, 639-3, 639-7); GSM at
    every site, UMTS at 70 %, LTE at 45 % (ECI = eNodeB x 256 + sector), NR only around Nairobi and Mombasa; 1-3
    sectors per site and technology scattered ~60 m; 10 % of ranges unknown.
    """
    rng = np.random.default_rng(seed)
    lon, lat = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
    near = rng.random(n_sites) < 0.7
    pick = rng.integers(0, lon.size, n_sites)
    site_lon = np.where(near, lon[pick] + rng.normal(0, 0.03, n_sites), rng.uniform(34.0, 42.0, n_sites))
    site_lat = np.where(near, lat[pick] + rng.normal(0, 0.03, n_sites), rng.uniform(-4.7, 4.6, n_sites))
    mnc = rng.choice([2, 3, 7], n_sites, p=[0.5, 0.35, 0.15])
    cities = (np.hypot(site_lon - 36.82, site_lat + 1.29) < 0.25) | (np.hypot(site_lon - 39.67, site_lat + 4.04) < 0.2)
    frames = []
    for tech, has in (("GSM", np.ones(n_sites, bool)), ("UMTS", rng.random(n_sites) < 0.7),
                      ("LTE", rng.random(n_sites) < 0.45), ("NR", cities & (rng.random(n_sites) < 0.5))):
        site = np.repeat(np.flatnonzero(has), rng.integers(1, 4, int(has.sum())))
        sector = pd.Series(site).groupby(site).cumcount().to_numpy() + 1
        n = site.size
        cell = (site * 256 + sector) if tech == "LTE" else rng.choice(2**27, n, replace=False) + 1
        frames.append(pd.DataFrame({
            "operator": "639-" + pd.Series(mnc[site]).astype(str), "technology": tech,
            "lon": site_lon[site] + rng.normal(0, 60 / 111_000, n),
            "lat": site_lat[site] + rng.normal(0, 60 / 111_000, n),
            "range_m": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(200, 20_000, n)),
            "samples": rng.geometric(0.05, n).astype(float), "mcc": 639, "mnc": mnc[site],
            "area": 100 + site % 50, "cell": cell,
            "site_hint": pd.array(np.where(tech == "LTE", cell // 256, 0), dtype="Int64"),
        }))
    cells = pd.concat(frames, ignore_index=True)
    cells.loc[cells["technology"] != "LTE", "site_hint"] = pd.NA
    cells["operator"] = cells["operator"].astype("category")
    cells["technology"] = pd.Categorical(cells["technology"], categories=["GSM", "UMTS", "LTE", "NR"])
    return cells.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # row order must not matter


def write_kenya_dem(path) -> str:
    """A 0.02° elevation GeoTIFF over Kenya: smooth hills up to ~2,500 m and ridges that block some links."""
    rows, cols = 480, 420
    y, x = np.mgrid[0:rows, 0:cols] / 40.0
    elevation = 1200 + 800 * np.sin(x * 1.3) * np.cos(y * 0.9) + 500 * np.sin(x * 5.1 + y * 3.7)
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
                       crs="EPSG:4326", transform=Affine(0.02, 0.0, 33.8, 0.0, -0.02, 5.0), nodata=-9999.0) as ds:
        ds.write(elevation.astype(np.float32), 1)
    return str(path)


@pytest.mark.slow
def test_kenya_register_identical_on_both_engines(engine, tmp_path):
    import dask.dataframe as dd

    from connectmap import io
    from connectmap.cost import add_costs, add_microwave_options
    from connectmap.engine.towers import gather_layer, sites_from_cells
    from connectmap.enrich import enrich
    from connectmap.io.towers import cells_to_sites
    from connectmap.parameters.cost import CostParams
    from connectmap.validate import validate_schools

    register = io.read_schools(shared_file("kenya", "kenya_schools_moe2016.csv.gz"))
    outline = io.read_boundaries(shared_file("kenya", "ne10m_KEN_admin0.geojson"))
    schools = validate_schools(register, boundary=outline).clean
    assert len(schools) == 37_930
    fibre = io.read_fibre(sorted(glob.glob(str(shared_file("kenya", "fibre_ofds") / "*" / "*.geojson"))))
    population = io.open_raster(shared_file("kenya", "derived_afripop2020_KEN_clip.tif"), kind="population",
                                value="density")

    # Cells to sites: whole table locally; on Dask from partitions that split operators (the shuffle path).
    cells = kenya_cells(schools)
    towers = cells_to_sites(cells)
    layer = sites_from_cells(engine.client, dd.from_pandas(cells, npartitions=3), partition_towers=1500)
    assert_same_table(towers, gather_layer(engine.client, layer))
    assert len(layer.parts) > 5 and set(towers["technology"]) == {"GSM", "UMTS", "LTE", "NR"}

    # Enrichment: 10 partitions of ~3,800 schools, towers in partitions of 2,000 rows, a 20 km halo.
    kenya = Engine(EngineParams(kind="dask", partition_schools=4000, partition_towers=2000, halo_km=20.0),
                   client=engine.client)
    kw = {"towers": towers, "fibre": fibre, "population": population, "boundaries": outline}
    local = enrich(schools, **kw)
    dask = kenya.enrich(schools, **kw)
    assert_same_table(local, dask)
    far_nr = (local["nearest_NR_distance"] > 20.0).mean()
    assert far_nr > 0.5  # most NR answers came from the fallback
    assert local["nearest_school_distance"].max() > 20.0  # and some nearest schools did too
    assert {"nearest_LTE_distance__639_2", "covering_operators", "pop_within_10km"} <= set(local.columns)

    # Costing with microwave line of sight over a DEM (three candidate sites per school). The cost model samples
    # every path of a batch as finely as its longest path needs, up to max_profile_samples; on this 2 km DEM 8
    # samples are reached by every batch, so both engines sample every path alike (see the docs on DEMs).
    dem = write_kenya_dem(tmp_path / "kenya_dem.tif")
    params = CostParams.model_validate({"microwave": {"max_profile_samples": 8}})
    costed_local = add_costs(add_microwave_options(local, towers, fibre, dem=dem, params=params), params)
    costed_dask = kenya.add_microwave_options_and_costs(local, towers, fibre, dem=dem, params=params)
    assert_same_table(costed_local, costed_dask)
    los = costed_local["microwave_los"].value_counts()
    assert los.get("clear", 0) > 0 and (costed_local["microwave_reason"] == "no_line_of_sight").any()


def test_partitions_on_disk_are_read_once_per_process_and_again_when_rewritten(tmp_path, monkeypatch):
    from connectmap.engine import layers

    monkeypatch.setattr(layers, "_PART_CACHE", type(layers._PART_CACHE)())
    monkeypatch.setattr(layers, "PART_CACHE_ROWS", 5)
    frame = gpd.GeoDataFrame({"site_id": ["a", "b", "c"], "technology": ["LTE", "NR", "LTE"]},
                             geometry=gpd.points_from_xy([1, 2, 3], [0, 0, 0]), crs="EPSG:4326")
    first, second = tmp_path / "p1.parquet", tmp_path / "p2.parquet"
    frame.to_parquet(first)
    frame.iloc[:2].to_parquet(second)
    one = layers.load_part(first)
    assert layers.load_part(str(first)) is one  # the cached frame
    assert list(one["site_id"]) == ["a", "b", "c"] and one.crs.to_epsg() == 4326
    layers.load_part(second)  # 5 rows cached: both kept
    assert len(layers._PART_CACHE) == 2
    pd.concat([frame, frame.iloc[:1]]).to_parquet(first)  # rewritten: read again, and over the row budget
    again = layers.load_part(first)
    assert again is not one and list(again["site_id"]) == ["a", "b", "c", "a"]
    assert sum(len(f) for f in layers._PART_CACHE.values()) <= 5
    nr = layers.load_part(second, technologies=["NR"])  # only the NR rows are read
    assert list(nr["site_id"]) == ["b"] and isinstance(nr, gpd.GeoDataFrame)
    frame_in_memory = frame.iloc[:1]
    assert layers.load_part(frame_in_memory, technologies=["NR"]) is frame_in_memory
