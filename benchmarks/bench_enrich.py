"""Benchmark enrichment at national scale, and side by side with giga-spatial and the naive methods.

Part 1 (scale): 1,000,000 schools x 2,000,000 tower rows (one technology each: 40 % GSM, 30 % UMTS, 25 % LTE,
5 % NR) on an India-sized box (20° x 20°, 70% of points clustered around 3,000 towns): nearest site per technology,
sites within 5 km, the value of a 30,000 x 30,000 tiled, deflate-compressed coverage GeoTIFF at every school
(generated once into benchmarks/_work/enrich/), nearest fibre node and fibre line (300 routes, ~45,000 km, 3,000
nodes), and people within 1, 2, 3, 5 and 10 km from a 0.01° population-density raster. Every step is the public
``connectmap.enrich.add_*`` function on GeoDataFrames; building the input tables is not timed. Reported: median
seconds of 3 runs per step and for the whole chain, and the peak memory of the process running the chain.

Part 2 (side by side, the same 100,000 schools and 800,000 towers; connectmap and giga-spatial median of 3 runs,
the naive methods one run): connectmap
against giga-spatial 0.10.1 (PyPI ``giga-spatial``, AGPL, installed only in ``benchmarks/.venv-peers`` and run
there in a subprocess), sklearn ``BallTree`` (haversine), geopandas ``sjoin_nearest`` and rasterio ``sample()``.
Wrong nearest ids are counted against an independent exact answer: BallTree's 16 spherical nearest, re-ranked by
pyproj ``Geod`` (provably exact when the 16th is more than 1.0101 x the first, which the script checks).

Part 1 with ``--compare REF`` times the chain of the code at git revision REF (extracted with ``git archive`` into
benchmarks/_work/enrich/) and of the working tree side by side: the runs alternate between the two (REF, now, now,
REF, REF, now, ...), each in a fresh process that first runs the chain once on 2,000 schools (numba kernels
compiled or loaded, imports done), so both see the same machine load; medians per step and the two chains'
answers compared column by column are printed.

Run:  python benchmarks/bench_enrich.py            (both parts; --part scale | peers; --schools N for part 1)
      python benchmarks/bench_enrich.py --part scale --compare HEAD~3
Set up the peers' environment once:
      python -m venv benchmarks/.venv-peers && benchmarks/.venv-peers/bin/pip install giga-spatial fiona
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.harness import WORK, machine, measure

HERE = Path(__file__).resolve().parent
DATA = Path(WORK) / "enrich"
BOX = (70.0, 90.0, 10.0, 30.0)  # lon0, lon1, lat0, lat1
RASTER_SIDE = 30_000
TECH_SHARES = {"GSM": 0.40, "UMTS": 0.30, "LTE": 0.25, "NR": 0.05}
#: Repeats per method in part 2 (medians reported).
REPEATS = 3
PEERS_PY = HERE / ".venv-peers" / "bin" / "python"


# --- data -------------------------------------------------------------------------------------------------------
def _clustered(rng: np.random.Generator, n: int, towns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon0, lon1, lat0, lat1 = BOX
    k = int(n * 0.7)
    pick = rng.integers(0, len(towns), k)
    lon = np.r_[towns[pick, 0] + rng.normal(0, 0.08, k), rng.uniform(lon0, lon1, n - k)]
    lat = np.r_[towns[pick, 1] + rng.normal(0, 0.08, k), rng.uniform(lat0, lat1, n - k)]
    order = rng.permutation(n)
    return np.clip(lon[order], lon0, lon1 - 1e-9), np.clip(lat[order], lat0, lat1 - 1e-9)


def prepare(n_schools: int, n_towers: int) -> Path:
    """Generate (once) the points, fibre, population raster and the 30,000² coverage raster."""
    DATA.mkdir(parents=True, exist_ok=True)
    points = DATA / f"points_{n_schools}_{n_towers}.npz"
    if not points.exists():
        rng = np.random.default_rng(2026)
        towns = np.column_stack([rng.uniform(BOX[0], BOX[1], 3000), rng.uniform(BOX[2], BOX[3], 3000)])
        slon, slat = _clustered(rng, n_schools, towns)
        tlon, tlat = _clustered(rng, n_towers, towns)
        tech = rng.choice(list(TECH_SHARES), n_towers, p=list(TECH_SHARES.values()))
        operator = rng.choice(["Alpha", "Beta", "Gamma"], n_towers)
        # Fibre: 300 routes, random walks of 30 vertices ~5 km apart, starting at towns.
        starts = towns[rng.integers(0, len(towns), 300)]
        steps = rng.normal(0, 0.035, (300, 30, 2))
        routes = starts[:, None, :] + np.cumsum(steps, axis=1)
        nodes = routes[rng.integers(0, 300, 3000), rng.integers(0, 30, 3000)]
        np.savez(points, slon=slon, slat=slat, tlon=tlon, tlat=tlat, tech=tech, operator=operator, routes=routes,
                 nodes=nodes)
    _coverage_raster()
    _population_raster()
    return points


def _coverage_raster() -> Path:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    path = DATA / "coverage_30000.tif"
    if path.exists():
        return path
    rng = np.random.default_rng(7)
    # Blobs ~10 km across (a 200 x 200 field) with ragged edges (a 3,000 x 3,000 field, ~700 m), upsampled
    # bilinearly: compresses like a real operator map, not like a flat image.
    coarse = rng.normal(0, 1, (201, 201))
    fine = rng.normal(0, 0.35, (3001, 3001))
    side = RASTER_SIDE
    step = (BOX[1] - BOX[0]) / side
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "uint8", "crs": "EPSG:4326",
               "transform": from_origin(BOX[0], BOX[3], step, step), "nodata": 255, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "YES"}
    tmp = path.with_suffix(".part")
    with rasterio.open(tmp, "w", **profile) as ds:
        ds.update_tags(technology="LTE", value="binary")
        for row in range(0, side, 256):
            rows = np.arange(row, min(row + 256, side))
            field = _bilinear(coarse, rows, side) + _bilinear(fine, rows, side)
            ds.write((field > 0.2).astype(np.uint8), 1, window=Window(0, row, side, rows.size))
    os.replace(tmp, path)
    return path


def _bilinear(grid: np.ndarray, rows: np.ndarray, side: int) -> np.ndarray:
    """Rows of ``grid`` upsampled bilinearly to ``side`` x ``side``."""
    cells = grid.shape[0] - 1
    pos = np.arange(side) * (cells / side)
    i0 = np.minimum(pos.astype(int), cells - 1)
    w = (pos - i0)[None, :].astype(np.float32)
    r = rows * (cells / side)
    j0 = np.minimum(r.astype(int), cells - 1)
    v = (r - j0)[:, None].astype(np.float32)
    g = grid.astype(np.float32)
    top = g[j0][:, i0] * (1 - w) + g[j0][:, i0 + 1] * w
    bottom = g[j0 + 1][:, i0] * (1 - w) + g[j0 + 1][:, i0 + 1] * w
    return top * (1 - v) + bottom * v


def _population_raster() -> Path:
    import rasterio
    from rasterio.transform import from_origin

    path = DATA / "population_001deg.tif"
    if path.exists():
        return path
    rng = np.random.default_rng(8)
    n = int((BOX[1] - BOX[0]) / 0.01)
    density = rng.gamma(0.6, 400.0, (n, n)).astype(np.float32)  # people/km²
    density[rng.uniform(size=(n, n)) < 0.02] = -1.0  # water / nodata
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(BOX[0], BOX[3], 0.01, 0.01), nodata=-1.0, tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as ds:
        ds.write(density, 1)
        ds.update_tags(value="density")
    return path


def _tables(points: Path, n_schools: int | None = None, n_towers: int | None = None):
    import geopandas as gpd
    import pandas as pd
    import shapely

    from connectmap.io.fibre import FibreNetwork

    d = np.load(points)
    ns = n_schools or d["slon"].size
    nt = n_towers or d["tlon"].size
    schools = gpd.GeoDataFrame({"source_row": np.arange(ns)}, geometry=gpd.points_from_xy(d["slon"][:ns],
                                                                                         d["slat"][:ns]),
                               crs="EPSG:4326")
    towers = gpd.GeoDataFrame(
        {"site_id": pd.array([f"S{i}" for i in range(nt)], dtype="str"),
         "operator": pd.array(d["operator"][:nt], dtype="str"), "technology": pd.array(d["tech"][:nt], dtype="str"),
         "range_m": np.full(nt, np.nan)},
        geometry=gpd.points_from_xy(d["tlon"][:nt], d["tlat"][:nt]), crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"line_id": [f"L{i}" for i in range(len(d["routes"]))]},
                             geometry=shapely.linestrings(d["routes"]), crs="EPSG:4326")
    nodes = gpd.GeoDataFrame({"node_id": [f"N{i}" for i in range(len(d["nodes"]))]},
                             geometry=gpd.points_from_xy(d["nodes"][:, 0], d["nodes"][:, 1]), crs="EPSG:4326")
    return schools, towers, FibreNetwork(nodes=nodes, lines=lines)


# --- part 1: the chain at scale -------------------------------------------------------------------------------------
STEPS = ("nearest x4 + sites in 5 km", "coverage raster value", "fibre node + line", "population 1-10 km")


def _use_code(code_dir: str) -> None:
    """Import connectmap from ``code_dir`` (a ``git archive`` of another revision) in this fresh process."""
    if code_dir:
        assert "connectmap" not in sys.modules, "connectmap was imported before the code directory was chosen"
        sys.path.insert(0, code_dir)


def _scale_setup(points: str, code_dir: str = "", save: str = ""):
    _use_code(code_dir)
    from connectmap.io.rasters import open_raster
    from connectmap.parameters.enrich import EnrichParams

    schools, towers, fibre = _tables(Path(points))
    coverage = open_raster(DATA / "coverage_30000.tif", kind="coverage")
    population = open_raster(DATA / "population_001deg.tif", kind="population")
    params = EnrichParams(per_operator=False, coverage_search_radius_m=0.0, tower_count_radii_km=[5.0])
    # Untimed warm-up on 2,000 schools: numba kernels compiled or loaded from their cache, lazy imports done.
    _scale_chain(schools.iloc[:2000], towers, fibre, coverage, population, params, {})
    return schools, towers, fibre, coverage, population, params, {}, save


def _scale_chain(schools, towers, fibre, coverage, population, params, times, save=""):
    from connectmap.enrich import add_coverage, add_fibre, add_nearest_towers, add_population

    steps = (
        lambda t: add_nearest_towers(t, towers, params),
        lambda t: add_coverage(t, rasters=[coverage], params=params),
        lambda t: add_fibre(t, fibre, params),
        lambda t: add_population(t, population, params),
    )
    out = schools
    for name, step in zip(STEPS, steps, strict=True):
        wall, cpu = time.perf_counter(), time.process_time()
        out = step(out)
        times.setdefault(name, []).append(time.perf_counter() - wall)
        times.setdefault(f"{name} cpu", []).append(time.process_time() - cpu)
    if save:
        out.drop(columns="geometry").to_parquet(save)
    return json.dumps({k: statistics.median(v) for k, v in times.items()})


_scale_chain.setup = _scale_setup  # type: ignore[attr-defined]


def _within_setup(points: str):
    from connectmap.io.rasters import open_raster
    from connectmap.parameters.enrich import EnrichParams

    schools, _, _ = _tables(Path(points), None, 1)
    coverage = open_raster(DATA / "coverage_30000.tif", kind="coverage")
    return schools, coverage, EnrichParams(coverage_search_radius_m=500.0)


def _within_step(schools, coverage, params):
    from connectmap.enrich import add_coverage

    out = add_coverage(schools, rasters=[coverage], params=params)
    reached = out["covered_LTE_within_500m"].sum() - out["covered_LTE"].sum()
    return f"{int(reached):,} schools covered within 500 m but not at the school"


_within_step.setup = _within_setup  # type: ignore[attr-defined]


def part_scale(n_schools: int, n_towers: int, runs: int) -> None:
    points = prepare(n_schools, n_towers)
    print(f"\n## Part 1: {n_schools:,} schools x {n_towers:,} tower rows ({machine()})")
    load = os.getloadavg()[0]
    m = measure("enrich chain", f"{n_schools:,}", "connectmap", _scale_chain, str(points), repeats=runs)
    steps = json.loads(m.note)
    print(f"{'step':<28}{'median s':>10}{'CPU s':>10}")
    for name in STEPS:
        print(f"{name:<28}{steps[name]:>10.2f}{steps[name + ' cpu']:>10.2f}")
    print(f"{'sum of CPU (all threads)':<28}{'':>10}{sum(steps[n + ' cpu'] for n in STEPS):>10.2f}")
    print(f"load average before the run: {load:.1f}, after: {os.getloadavg()[0]:.1f} (other engineers' processes "
          "share the 2 cores)")
    print(f"{'TOTAL (chain)':<28}{m.median_s:>10.2f}   runs {', '.join(f'{s:.2f}' for s in m.seconds)}")
    print(f"peak memory of the process (inputs, interpreter and results included): {m.peak_mb:,.0f} MB")
    print(f"schools/s: {n_schools / m.median_s:,.0f}")
    w = measure("covered within 500 m", f"{n_schools:,}", "connectmap", _within_step, str(points), repeats=runs)
    print(f"coverage at the school + covered anywhere within 500 m (30,000² raster): median {w.median_s:.2f} s, "
          f"peak {w.peak_mb:,.0f} MB; {w.note}")


def _extract(ref: str) -> tuple[str, str]:
    """``git archive`` of connectmap at ``ref`` into benchmarks/_work/enrich/ref_<sha>; returns (directory, sha)."""
    root = HERE.parent
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=root, capture_output=True, text=True,
                         check=True).stdout.strip()
    target = DATA / f"ref_{sha}"
    if not (target / "connectmap").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "connectmap"], cwd=root, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return str(target), sha


def _chain_s(m) -> float:
    """Wall seconds of the four steps of one chain run (saving the answers for the comparison is not counted)."""
    steps = json.loads(m.note)
    return sum(steps[name] for name in STEPS)


def part_compare(n_schools: int, n_towers: int, runs: int, ref: str) -> None:
    """The chain of revision ``ref`` and of the working tree, alternating, in one script run."""
    import pandas as pd

    points = prepare(n_schools, n_towers)
    code_dir, sha = _extract(ref)
    print(f"\n## Part 1, side by side: {ref} ({sha}) and the working tree, {n_schools:,} schools x {n_towers:,} "
          f"tower rows ({machine()})")
    results: dict[str, list] = {sha: [], "now": []}
    loads = []
    for k in range(runs):
        # Alternate who goes first so neither always runs right after the other's memory was freed.
        for label in ((sha, "now") if k % 2 == 0 else ("now", sha)):
            loads.append(os.getloadavg()[0])
            save = str(DATA / f"chain_{label}.parquet") if k == 0 else ""
            m = measure("enrich chain", f"{n_schools:,}", label, _scale_chain, str(points),
                        code_dir if label == sha else "", save, repeats=1)
            results[label].append(m)
            loads.append(os.getloadavg()[0])
            print(f"  run {k + 1} {label:>8}: {_chain_s(m):6.2f} s, peak {m.peak_mb:,.0f} MB", flush=True)
    print(f"load average (1 min) during the runs: {min(loads):.1f} - {max(loads):.1f} on {os.cpu_count()} cores")
    print(f"{'step':<28}{sha + ' s':>12}{'CPU s':>9}{'now s':>10}{'CPU s':>9}{'speed-up':>10}")
    for name in (*STEPS, None):
        row = []
        for label in (sha, "now"):
            if name is None:
                wall = statistics.median(_chain_s(m) for m in results[label])
                cpu = statistics.median(sum(json.loads(m.note)[f"{s} cpu"] for s in STEPS) for m in results[label])
            else:
                wall = statistics.median(json.loads(m.note)[name] for m in results[label])
                cpu = statistics.median(json.loads(m.note)[f"{name} cpu"] for m in results[label])
            row += [wall, cpu]
        print(f"{name or 'TOTAL (chain)':<28}{row[0]:>12.2f}{row[1]:>9.2f}{row[2]:>10.2f}{row[3]:>9.2f}"
              f"{row[0] / row[2]:>9.1f}x")
    for label in (sha, "now"):
        walls = ", ".join(f"{_chain_s(m):.2f}" for m in results[label])
        print(f"{label}: chain runs {walls} s; peak memory {max(m.peak_mb for m in results[label]):,.0f} MB")
    old = pd.read_parquet(DATA / f"chain_{sha}.parquet")
    new = pd.read_parquet(DATA / "chain_now.parquet")
    print("answers, column by column (largest difference; counts and ids must be equal):")
    for column in new.columns:
        a, b = old[column], new[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(float), b.to_numpy(float)
            same_nan = bool((np.isnan(x) == np.isnan(y)).all())
            ok = ~np.isnan(x) & ~np.isnan(y)
            diff = np.abs(x[ok] - y[ok])
            rel = diff / np.maximum(np.abs(x[ok]), 1e-300)
            print(f"  {column:<28} max |diff| {diff.max() if diff.size else 0.0:.3g}, max relative "
                  f"{rel.max() if rel.size else 0.0:.3g}, unknowns equal: {same_nan}")
        else:
            print(f"  {column:<28} equal: {a.equals(b)}")


# --- part 2: side by side -------------------------------------------------------------------------------------------
def _exact_nearest(slon, slat, tlon, tlat):
    """Independent exact answer: BallTree (haversine) 16 candidates re-ranked by Geod; checks the bound."""
    import pyproj
    from sklearn.neighbors import BallTree

    tree = BallTree(np.radians(np.column_stack([tlat, tlon])), metric="haversine")
    dist, idx = tree.query(np.radians(np.column_stack([slat, slon])), k=16)
    provable = dist[:, -1] > dist[:, 0] * 1.0101 + 1e-12
    geod = pyproj.Geod(ellps="WGS84")
    n = slon.size
    _, _, d = geod.inv(np.repeat(slon, 16), np.repeat(slat, 16), tlon[idx.ravel()], tlat[idx.ravel()])
    d = np.asarray(d).reshape(n, 16)
    order = np.lexsort((idx, d), axis=1)[:, 0]
    return idx[np.arange(n), order], provable


def part_peers(n_schools: int = 100_000, n_towers: int = 800_000) -> None:
    import geopandas as gpd
    import rasterio
    from sklearn.neighbors import BallTree

    from connectmap.enrich import add_coverage, add_fibre, add_nearest_towers, add_population
    from connectmap.io.rasters import open_raster
    from connectmap.parameters.enrich import EnrichParams

    points = prepare(1_000_000, 2_000_000)
    schools, towers, fibre = _tables(points, n_schools, n_towers)
    slon, slat = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
    tlon, tlat = towers.geometry.x.to_numpy(), towers.geometry.y.to_numpy()
    tech = towers["technology"].to_numpy()
    coverage_path, population_path = DATA / "coverage_30000.tif", DATA / "population_001deg.tif"
    print(f"\n## Part 2: side by side, {n_schools:,} schools x {n_towers:,} towers; connectmap and giga-spatial: "
          f"median of {REPEATS} runs, naive methods: one run ({machine()}; load {os.getloadavg()[0]:.1f})")

    # Truth for nearest ids, independently.
    truth, provable = {}, {}
    for t in TECH_SHARES:
        sel = np.flatnonzero(tech == t)
        idx, ok = _exact_nearest(slon, slat, tlon[sel], tlat[sel])
        truth[t], provable[t] = sel[idx], ok
    rows: list[tuple[str, str, float, str]] = []

    def wrong(t: str, got_rows: np.ndarray) -> str:
        ok = provable[t]
        return f"{int((got_rows[ok] != truth[t][ok]).sum())} wrong of {int(ok.sum()):,} checked"

    # connectmap
    params = EnrichParams(per_operator=False, coverage_search_radius_m=0.0, tower_count_radii_km=[5.0],
                          population_radii_km=[1.0])
    cov = open_raster(coverage_path, kind="coverage")
    pop = open_raster(population_path, kind="population")
    runs: dict[str, list[float]] = {}
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = add_nearest_towers(schools, towers, params)
        runs.setdefault("nearest x4 + count 5 km", []).append(time.perf_counter() - start)
        start = time.perf_counter()
        out = add_coverage(out, rasters=[cov], params=params)
        runs.setdefault("raster value", []).append(time.perf_counter() - start)
        start = time.perf_counter()
        out = add_population(out, pop, params)
        runs.setdefault("population 1 km", []).append(time.perf_counter() - start)
        start = time.perf_counter()
        out = add_fibre(out, fibre, params)
        runs.setdefault("fibre node + line", []).append(time.perf_counter() - start)
    ours = {k: statistics.median(v) for k, v in runs.items()}
    site_row = {s: i for i, s in enumerate(towers["site_id"].to_numpy())}
    notes = []
    for t in TECH_SHARES:
        got = np.array([site_row[s] for s in out[f"nearest_{t}_id"].to_numpy()])
        notes.append(f"{t}: {wrong(t, got)}")
    ours_total = sum(ours.values())
    for k, v in ours.items():
        rows.append(("connectmap", k, v, ""))
    rows.append(("connectmap", "TOTAL", ours_total, "; ".join(notes)))

    # naive: BallTree haversine (spherical nearest), per technology
    start = time.perf_counter()
    naive_notes = []
    for t in TECH_SHARES:
        sel = np.flatnonzero(tech == t)
        tree = BallTree(np.radians(np.column_stack([tlat[sel], tlon[sel]])), metric="haversine")
        _, idx = tree.query(np.radians(np.column_stack([slat, slon])), k=1)
        naive_notes.append(f"{t}: {wrong(t, sel[idx[:, 0]])}")
    rows.append(("sklearn BallTree haversine", "nearest x4", time.perf_counter() - start, "; ".join(naive_notes)))
    # naive: geopandas sjoin_nearest in degrees
    start = time.perf_counter()
    sj_notes = []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in TECH_SHARES:
            sel = np.flatnonzero(tech == t)
            right = gpd.GeoDataFrame({"row": sel}, geometry=towers.geometry.iloc[sel].to_numpy(), crs="EPSG:4326")
            joined = gpd.sjoin_nearest(schools[["geometry"]], right, how="left")
            joined = joined[~joined.index.duplicated(keep="first")]
            sj_notes.append(f"{t}: {wrong(t, joined['row'].to_numpy())}")
    rows.append(("geopandas sjoin_nearest (degrees)", "nearest x4", time.perf_counter() - start, "; ".join(sj_notes)))
    # naive: rasterio sample()
    start = time.perf_counter()
    with rasterio.open(coverage_path) as ds:
        sampled = np.array([v[0] for v in ds.sample(zip(slon, slat, strict=True))])
    agree = int((sampled == cov_values(out)).sum())
    rows.append(("rasterio sample()", "raster value", time.perf_counter() - start, f"{agree:,} equal to ours"))

    # giga-spatial, in its own environment
    peers = _run_gigaspatial(schools, towers, fibre, coverage_path, population_path)
    if peers is not None:
        giga_total = 0.0
        for key, seconds in peers["times"].items():
            rows.append(("giga-spatial 0.10.1", key, seconds, ""))
            giga_total += seconds
        gnotes = []
        for t in TECH_SHARES:
            got = np.load(DATA / f"giga_nearest_{t}.npy")
            sel = np.flatnonzero(tech == t)
            gnotes.append(f"{t}: {wrong(t, sel[got])}")
        rows.append(("giga-spatial 0.10.1", "TOTAL", giga_total, "; ".join(gnotes)))
        rows.append(("speed-up", "giga-spatial / connectmap", giga_total / ours_total, ""))
    print(f"{'method':<36}{'task':<28}{'seconds':>10}  note")
    for method, task, seconds, note in rows:
        print(f"{method:<36}{task:<28}{seconds:>10.2f}  {note}")


def cov_values(out) -> np.ndarray:
    covered = out["covered_LTE"]
    return np.where(covered.isna(), 255, covered.fillna(False).astype(int)).astype(np.int64)


def _run_gigaspatial(schools, towers, fibre, coverage_path, population_path) -> dict | None:
    if not PEERS_PY.exists():
        print("giga-spatial: skipped (create benchmarks/.venv-peers, see the module docstring)")
        return None
    np.savez(DATA / "peers_input.npz", slon=schools.geometry.x.to_numpy(), slat=schools.geometry.y.to_numpy(),
             tlon=towers.geometry.x.to_numpy(), tlat=towers.geometry.y.to_numpy(),
             tech=towers["technology"].to_numpy().astype("U4"),
             nlon=fibre.nodes.geometry.x.to_numpy(), nlat=fibre.nodes.geometry.y.to_numpy())
    script = HERE / "_peers_gigaspatial.py"
    result = subprocess.run([str(PEERS_PY), str(script), str(DATA), str(coverage_path), str(population_path),
                             str(REPEATS)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print("giga-spatial failed:\n" + result.stderr[-3000:])
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "scale", "peers"], default="all")
    parser.add_argument("--schools", type=int, default=1_000_000)
    parser.add_argument("--towers", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", metavar="REF", help="part 1: also time git revision REF, alternating runs")
    args = parser.parse_args()
    if args.part in ("all", "scale") and args.compare:
        part_compare(args.schools, args.towers, args.runs, args.compare)
    elif args.part in ("all", "scale"):
        part_scale(args.schools, args.towers, args.runs)
    if args.part in ("all", "peers"):
        part_peers()


if __name__ == "__main__":
    main()
