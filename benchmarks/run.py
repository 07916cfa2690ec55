"""connectmap's benchmark suite: one command, one table.

    python benchmarks/run.py                        # every step at the stated sizes, peers side by side
    python benchmarks/run.py --global               # ... plus the global-scale Dask run and its scaling
    python benchmarks/run.py --groups enrich peers  # some groups only (read validate enrich engine cost
                                                    # workbook map peers)
    python benchmarks/run.py --quick                # small sizes, one repeat: checks that everything runs

Inputs are synthetic and seeded, generated once into ``benchmarks/_work/`` (gitignored) by the per-step benchmark
modules this script calls (``bench_validate``, ``bench_layers``, ``bench_enrich``, ``bench_cost``, ``bench_excel``,
``bench_map``) and, for the global run, ``_world.py``. Every measurement runs in a fresh process
(``harness.measure``): the time is the median of ``--repeats`` runs after an untimed setup that builds the
inputs, and *peak MB* is that process's peak resident memory (inputs, interpreter and libraries included; the
``baseline`` row shows the interpreter alone). Rows that start Dask workers report the peak of the summed resident
memory of the whole process tree (driver, scheduler, workers), sampled every 0.2 s.

Side by side (group ``peers``): the same 100,000 schools and 800,000 tower rows through connectmap's kernels,
giga-spatial 0.10.1 (installed only in ``benchmarks/.venv-peers``, run there in a subprocess by
``_peers_gigaspatial.py``; set it up with ``python -m venv benchmarks/.venv-peers &&
benchmarks/.venv-peers/bin/pip install giga-spatial fiona``) and the naive methods (sklearn ``BallTree``
haversine, geopandas ``sjoin_nearest``, rasterio ``sample()``), each task timed ``--peer-repeats`` times, with the
ratio to connectmap and the wrong nearest ids against an independent exact answer.

The results are printed as one Markdown table and saved to ``benchmarks/_work/results.md`` and ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from benchmarks import bench_cost, bench_enrich, bench_excel, bench_layers, bench_map, bench_validate
from benchmarks.harness import WORK, Measurement, _child, machine, measure

RESULTS = Path(WORK)


# --- measuring a process tree (Dask workers) ------------------------------------------------------------------------
def measure_tree(step: str, size: str, method: str, target: Callable[..., Any], *args: Any,
                 repeats: int = 3) -> Measurement:
    """Like :func:`harness.measure`, with the peak of the summed RSS of the measuring process and its children."""
    import psutil

    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, target, args, repeats))
    process.start()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                members = [root, *root.children(recursive=True)]
                total = 0
                for member in members:
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_info().rss
                peak[0] = max(peak[0], total / 2**20)
            except psutil.Error:
                break
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status, seconds, own_peak, note = queue.get()
    done.set()
    process.join()
    sampler.join()
    if status != "ok":
        raise RuntimeError(f"{step} / {method} failed: {seconds}")
    return Measurement(step, size, method, seconds, max(peak[0], own_peak), note)


# --- targets: reading and validation -------------------------------------------------------------------------------
def read_register(path: str) -> str:
    from connectmap.io import read_schools

    return f"{len(read_schools(path)):,} rows"


def validate_register(table) -> str:
    from connectmap.validate import validate_schools

    result = validate_schools(table)
    return f"{len(result.clean):,} clean, {len(result.rejected):,} rejected"


def _read_for_validation(path: str) -> tuple:
    from connectmap.io import read_schools

    return (read_schools(path),)


validate_register.setup = _read_for_validation  # type: ignore[attr-defined]


# --- targets: enrichment kernels (bench_enrich's inputs) ------------------------------------------------------------
def _regions(n_side: int = 20):
    """A 20 x 20 grid of regions over bench_enrich's box (admin1 names)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    lon0, lon1, lat0, lat1 = bench_enrich.BOX
    xs, ys = np.linspace(lon0, lon1, n_side + 1), np.linspace(lat0, lat1, n_side + 1)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(n_side) for j in range(n_side)]
    return gpd.GeoDataFrame({"admin1": [f"Region {k}" for k in range(len(boxes))]}, geometry=boxes, crs="EPSG:4326")


def _enrich_inputs(n_schools: int, n_towers: int) -> tuple:
    from connectmap.io.rasters import open_raster
    from connectmap.parameters.enrich import EnrichParams

    points = bench_enrich.prepare(1_000_000, 2_000_000)
    schools, towers, fibre = bench_enrich._tables(points, n_schools, n_towers)
    coverage = open_raster(bench_enrich.DATA / "coverage_30000.tif", kind="coverage")
    population = open_raster(bench_enrich.DATA / "population_001deg.tif", kind="population")
    params = EnrichParams(per_operator=False)
    return schools, towers, fibre, coverage, population, _regions(), params


def k_nearest(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_nearest_towers

    out = add_nearest_towers(schools, towers, params)
    return f"median nearest LTE {out['nearest_LTE_distance'].median():.2f} km"


def k_coverage_raster(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_coverage

    out = add_coverage(schools, rasters=[coverage], params=params)
    return f"{int(out['covered_LTE'].sum()):,} covered (+ {params.coverage_search_radius_m:g} m disk)"


def k_coverage_modelled(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_coverage

    out = add_coverage(schools, towers=towers, params=params)
    return f"{(out['cellular_coverage_type'] != 'no coverage').mean():.0%} covered by some technology"


def k_fibre(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_fibre

    out = add_fibre(schools, fibre, params)
    return f"median line distance {out['fiber_line_distance_km'].median():.1f} km"


def k_population(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_population

    out = add_population(schools, population, params)
    return f"median {out['pop_within_5km'].median():,.0f} people in 5 km"


def k_schools(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_schools_nearby

    out = add_schools_nearby(schools, params)
    return f"median {out['schools_within_5km'].median():.0f} other schools in 5 km"


def k_regions(schools, towers, fibre, coverage, population, regions, params) -> str:
    from connectmap.enrich import add_regions

    out = add_regions(schools, regions, params)
    return f"{out['admin1'].nunique()} regions"


for _kernel in (k_nearest, k_coverage_raster, k_coverage_modelled, k_fibre, k_population, k_schools, k_regions):
    _kernel.setup = _enrich_inputs  # type: ignore[attr-defined]

KERNELS = {
    "nearest site x4 technologies + sites within 5 km": k_nearest,
    "coverage: raster value + 500 m disk": k_coverage_raster,
    "coverage: modelled from tower ranges": k_coverage_modelled,
    "fibre: nearest node + nearest line": k_fibre,
    "population within 1, 2, 3, 5, 10 km": k_population,
    "other schools within 1-10 km + nearest": k_schools,
    "regions (400 polygons)": k_regions,
}


# --- targets: the engine, local vs Dask ----------------------------------------------------------------------------
def engine_enrich(engine, schools, towers, fibre, population, regions, params) -> str:
    out = engine.enrich(schools, towers=towers, fibre=fibre, population=population, boundaries=regions,
                        params=params)
    return f"{len(out):,} rows x {out.shape[1]} columns"


def _engine_inputs(kind: str, n_schools: int, n_towers: int) -> tuple:
    from connectmap.engine import Engine, EngineParams

    schools, towers, fibre, _, population, regions, params = _enrich_inputs(n_schools, n_towers)
    engine = Engine(EngineParams(kind=kind, n_workers=2))
    engine.__enter__()  # the cluster (when Dask) starts untimed and ends with the measuring process
    return engine, schools, towers, fibre, population, regions, params


engine_enrich.setup = _engine_inputs  # type: ignore[attr-defined]


def cluster_start() -> str:
    from connectmap.engine import Engine, EngineParams

    with Engine(EngineParams(kind="dask", n_workers=2)) as engine:
        workers = len(engine.client.scheduler_info()["workers"])
    return f"{workers} workers up and down"


# --- the global run --------------------------------------------------------------------------------------------------
def global_sites(n_schools: int, n_cells: int, folder: str) -> str:
    from benchmarks._global import build_sites
    from benchmarks._world import generate_world

    world = generate_world(n_schools, n_cells)
    result = build_sites(world, folder, _global_params())
    return json.dumps(result)


def global_schools(n_cells_label: str, n_schools: int, folder: str) -> str:
    from benchmarks._global import run_schools
    from benchmarks._world import world_paths

    del n_cells_label
    result = run_schools(world_paths(), folder, n_schools, str(Path(WORK) / "global" / f"out_{n_schools}"),
                         _global_params())
    return json.dumps(result)


def _global_params():
    from connectmap.engine import EngineParams

    return EngineParams(kind="dask", n_workers=2, memory_limit_gb=5.0, partition_schools=50_000,
                        partition_towers=50_000, task_tower_rows=300_000)


# --- the table --------------------------------------------------------------------------------------------------------
def rate(row: Measurement, count: int | None, unit: str) -> str:
    if not count or not row.seconds:
        return ""
    return f"{count / row.median_s:,.0f} {unit}/s"


def markdown(rows: list[tuple[Measurement, str]], command: str, started: str) -> str:
    lines = [
        f"Measured {started} on {machine()} (load average at start {os.getloadavg()[0]:.1f}); command: `{command}`.",
        "",
        "| step | size | method | median s | runs | peak MB | rate | note |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row, speed in rows:
        peak = "" if row.peak_mb != row.peak_mb else f"{row.peak_mb:,.0f}"  # NaN: not measured on its own
        lines.append(f"| {row.step} | {row.size} | {row.method} | {row.median_s:,.2f} | {len(row.seconds)} | "
                     f"{peak} | {speed} | {row.note} |")
    return "\n".join(lines)


class Suite:
    """Collects the rows, printing each as it comes (long runs show progress)."""

    def __init__(self, repeats: int) -> None:
        self.repeats = repeats
        self.rows: list[tuple[Measurement, str]] = []

    def add(self, row: Measurement, count: int | None = None, unit: str = "rows") -> Measurement:
        speed = rate(row, count, unit)
        self.rows.append((row, speed))
        print(f"  {row.step} | {row.size} | {row.method}: {row.median_s:.2f} s (runs "
              f"{', '.join(f'{s:.2f}' for s in row.seconds)}), peak {row.peak_mb:,.0f} MB {speed} {row.note}",
              flush=True)
        return row

    def run(self, step: str, size: int, method: str, target: Callable[..., Any], *args: Any,
            unit: str = "rows", tree: bool = False, repeats: int | None = None) -> Measurement:
        runner = measure_tree if tree else measure
        row = runner(step, f"{size:,}", method, target, *args, repeats=repeats or self.repeats)
        return self.add(row, size, unit)


def group_read(suite: Suite, sizes: dict[str, list[int]]) -> None:
    suite.add(measure("baseline (interpreter + connectmap)", "-", "-", bench_validate.baseline, repeats=1))
    for n in sizes["register"]:
        path = str(bench_validate.synthetic_register(n))
        suite.run("read school register (CSV, decimal commas)", n, "read_schools", read_register, path)
    for n in sizes["cells"]:
        path = str(bench_layers.synthetic_export(n))
        suite.run("read OpenCelliD export + cells to sites", n, "read_towers", bench_layers.read_export, path,
                  unit="cells")


def group_validate(suite: Suite, sizes: dict[str, list[int]]) -> None:
    for n in sizes["register"]:
        path = str(bench_validate.synthetic_register(n))
        suite.run("validate schools", n, "validate_schools", validate_register, path)


def group_enrich(suite: Suite, sizes: dict[str, list[int]]) -> None:
    towers = sizes["towers"]
    for n in sizes["enrich"]:
        for step, kernel in KERNELS.items():
            suite.run(f"enrich: {step}", n, f"add_* ({towers:,} tower rows)", kernel, n, towers, unit="schools")


def group_engine(suite: Suite, sizes: dict[str, list[int]]) -> None:
    suite.add(measure_tree("start + stop a local Dask cluster", "2 workers", "Engine(kind=dask)", cluster_start,
                           repeats=suite.repeats))
    towers = sizes["towers"]
    for n in sizes["engine"]:
        for kind in ("local", "dask"):
            method = "Engine local" if kind == "local" else "Engine dask, 2 workers x 1 thread"
            suite.run("enrich: towers, modelled coverage, fibre, population, schools, regions", n, method,
                      engine_enrich, kind, n, towers, unit="schools", tree=True)


def group_cost(suite: Suite, sizes: dict[str, list[int]]) -> None:
    for n in sizes["cost"]:
        suite.run("cost: 4 technologies, least cost, NPV", n, "add_costs", bench_cost.cost_all, n, unit="schools")
        suite.run("cost: budget rollout", n, "plan_rollout", bench_cost.rollout, n, unit="schools")
    for n in sizes["cost_small"]:
        suite.run("cost: shared-fibre tree (Delaunay + MST)", n, "add_shared_fibre", bench_cost.shared_tree, n,
                  unit="schools")
        suite.run("cost: microwave options (5,000 sites)", n, "add_microwave_options", bench_cost.microwave, n,
                  False, unit="schools")
        suite.run("cost: sensitivity (16 parameters x 2)", n, "sensitivity", bench_cost.sensitivity_table, n,
                  unit="schools")


def group_workbook(suite: Suite, sizes: dict[str, list[int]]) -> None:
    for n in sizes["workbook"]:
        path = str(Path(WORK) / "bench_case.xlsx")
        suite.run("workbook: investment case with live formulas (3 operators)", n, "write_workbook",
                  bench_excel.run_workbook, n, 3, path, unit="schools")


def group_map(suite: Suite, sizes: dict[str, list[int]]) -> None:
    for n in sizes["map"]:
        out = str(Path(WORK) / "map" / f"map_{n}.html")
        suite.run("map: offline HTML (schools, towers, fibre, regions)", n, "write_map", bench_map.build_html, n,
                  out, unit="schools")
        png = str(Path(WORK) / "map" / f"map_{n}.png")
        suite.run("map: static PNG", n, "write_static_map", bench_map.build_png, n, png, unit="schools")


# --- peers, side by side -------------------------------------------------------------------------------------------
def _median_runs(func: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of each of ``repeats`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def peer_rows(repeats: int, peer_repeats: int, n_schools: int, n_towers: int) -> str:
    """Runs in a fresh process: connectmap, the naive methods and giga-spatial on the same inputs, each task timed
    several times. Returns the rows as JSON (the parent adds the ratios)."""
    import resource
    import warnings

    import geopandas as gpd
    import numpy as np
    import rasterio
    from sklearn.neighbors import BallTree

    from connectmap.enrich import add_coverage, add_fibre, add_nearest_towers, add_population
    from connectmap.io.fibre import FibreNetwork
    from connectmap.io.rasters import open_raster
    from connectmap.parameters.enrich import EnrichParams

    points = bench_enrich.prepare(1_000_000, 2_000_000)
    schools, towers, fibre = bench_enrich._tables(points, n_schools, n_towers)
    nodes_only = FibreNetwork(nodes=fibre.nodes, lines=fibre.lines.iloc[:0])
    slon, slat = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
    tlon, tlat = towers.geometry.x.to_numpy(), towers.geometry.y.to_numpy()
    tech = towers["technology"].to_numpy()
    coverage_path = bench_enrich.DATA / "coverage_30000.tif"
    population_path = bench_enrich.DATA / "population_001deg.tif"
    truth, provable = {}, {}
    for t in bench_enrich.TECH_SHARES:
        sel = np.flatnonzero(tech == t)
        idx, ok = bench_enrich._exact_nearest(slon, slat, tlon[sel], tlat[sel])
        truth[t], provable[t] = sel[idx], ok

    def wrong(rows_by_tech: dict[str, np.ndarray]) -> str:
        bad = sum(int((rows_by_tech[t][provable[t]] != truth[t][provable[t]]).sum()) for t in truth)
        checked = sum(int(provable[t].sum()) for t in truth)
        return f"{bad:,} wrong nearest ids of {checked:,}"

    site_row = {s: i for i, s in enumerate(towers["site_id"].to_numpy())}

    def our_ids(out) -> dict[str, np.ndarray]:
        return {t: np.array([site_row[s] for s in out[f"nearest_{t}_id"].to_numpy()]) for t in truth}

    base = {"per_operator": False, "coverage_search_radius_m": 0.0, "population_radii_km": [1.0]}
    nearest_only = EnrichParams(**base, tower_count_radii_km=[])
    with_count = EnrichParams(**base, tower_count_radii_km=[5.0])
    cov = open_raster(coverage_path, kind="coverage")
    pop = open_raster(population_path, kind="population")
    rows: list[dict[str, Any]] = []
    add_nearest_towers(schools.iloc[:2_000], towers, with_count)  # untimed: loads the compiled geodesic kernel

    def add(task: str, method: str, seconds: list[float], note: str = "") -> None:
        rows.append({"task": task, "method": method, "seconds": seconds, "note": note})

    seconds, out = _median_runs(lambda: add_nearest_towers(schools, towers, nearest_only), repeats)
    add("nearest site x4 technologies", "connectmap", seconds, wrong(our_ids(out)))
    seconds, out = _median_runs(lambda: add_nearest_towers(schools, towers, with_count), repeats)
    add("nearest x4 + sites within 5 km", "connectmap", seconds, wrong(our_ids(out)))
    seconds, covered = _median_runs(lambda: add_coverage(schools, rasters=[cov], params=with_count), repeats)
    add("coverage raster value at each school", "connectmap", seconds)
    seconds, _ = _median_runs(lambda: add_population(schools, pop, with_count), repeats)
    add("people within 1 km", "connectmap", seconds)
    seconds, _ = _median_runs(lambda: add_fibre(schools, nodes_only, with_count), repeats)
    add("nearest fibre node", "connectmap", seconds)

    def balltree() -> dict[str, np.ndarray]:
        found = {}
        for t in truth:
            sel = np.flatnonzero(tech == t)
            tree = BallTree(np.radians(np.column_stack([tlat[sel], tlon[sel]])), metric="haversine")
            _, idx = tree.query(np.radians(np.column_stack([slat, slon])), k=1)
            found[t] = sel[idx[:, 0]]
        return found

    seconds, found = _median_runs(balltree, repeats)
    add("nearest site x4 technologies", "sklearn BallTree (haversine)", seconds, wrong(found))

    def sjoin() -> dict[str, np.ndarray]:
        found = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for t in truth:
                sel = np.flatnonzero(tech == t)
                right = gpd.GeoDataFrame({"row": sel}, geometry=towers.geometry.iloc[sel].to_numpy(), crs="EPSG:4326")
                joined = gpd.sjoin_nearest(schools[["geometry"]], right, how="left")
                found[t] = joined[~joined.index.duplicated(keep="first")]["row"].to_numpy()
        return found

    seconds, found = _median_runs(sjoin, repeats)
    add("nearest site x4 technologies", "geopandas sjoin_nearest (degrees)", seconds, wrong(found))

    def sample() -> np.ndarray:
        with rasterio.open(coverage_path) as ds:
            return np.array([v[0] for v in ds.sample(zip(slon, slat, strict=True))])

    seconds, sampled = _median_runs(sample, repeats)
    same = int((sampled == bench_enrich.cov_values(covered)).sum())
    add("coverage raster value at each school", "rasterio sample()", seconds,
        f"{same:,} of {n_schools:,} values equal to connectmap's")
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    runs = [bench_enrich._run_gigaspatial(schools, towers, fibre, coverage_path, population_path)
            for _ in range(peer_repeats)]
    runs = [r for r in runs if r is not None]
    giga_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if runs:
        giga_rows = {t: np.flatnonzero(tech == t)[np.load(bench_enrich.DATA / f"giga_nearest_{t}.npy")] for t in truth}
        times = [r["times"] for r in runs]
        add("nearest site x4 technologies", "giga-spatial 0.10.1", [t["nearest x4"] for t in times], wrong(giga_rows))
        add("nearest x4 + sites within 5 km", "giga-spatial 0.10.1",
            [t["nearest x4"] + t["count 5 km"] for t in times], wrong(giga_rows))
        add("coverage raster value at each school", "giga-spatial 0.10.1", [t["raster value"] for t in times])
        add("people within 1 km", "giga-spatial 0.10.1", [t["population 1 km"] for t in times])
        add("nearest fibre node", "giga-spatial 0.10.1", [t["fibre node"] for t in times])
    for row in rows:
        row["peak_mb"] = giga_peak if row["method"].startswith("giga") else own_peak
    return json.dumps(rows)


def group_peers(suite: Suite, repeats: int, peer_repeats: int, n_schools: int = 100_000,
                n_towers: int = 800_000) -> None:
    """The side-by-side comparison in a fresh process; each method's median with its ratio to connectmap's."""
    size = f"{n_schools:,} x {n_towers:,}"
    result = measure("side by side", size, "all", peer_rows, repeats, peer_repeats, n_schools, n_towers, repeats=1)
    rows = json.loads(result.note)
    ours = {r["task"]: statistics.median(r["seconds"]) for r in rows if r["method"] == "connectmap"}
    by_method: dict[str, list[float]] = {}
    for row in rows:
        median = statistics.median(row["seconds"])
        if row["method"] == "connectmap":
            ratio = "reference"
        else:
            ratio = f"{median / ours[row['task']]:.1f}x connectmap's time"
            # giga-spatial's total over the four tasks it has, against the same four of connectmap
            if row["method"].startswith("giga") and row["task"] != "nearest site x4 technologies":
                by_method.setdefault(row["method"], []).append(median)
        note = "; ".join(part for part in (ratio, row["note"]) if part)
        suite.add(Measurement(f"side by side: {row['task']}", size, row["method"], row["seconds"], row["peak_mb"],
                              note))
    four = ("nearest x4 + sites within 5 km", "coverage raster value at each school", "people within 1 km",
            "nearest fibre node")
    if all(task in ours for task in four):
        ours_total = sum(ours[task] for task in four)
        for method, medians in by_method.items():
            if len(medians) == len(four):
                total = sum(medians)
                suite.add(Measurement("side by side: the four tasks together", size, method, [total], float("nan"),
                                      f"{total / ours_total:.1f}x connectmap's {ours_total:.2f} s (sums of medians)"))


# --- main ------------------------------------------------------------------------------------------------------------
SIZES = {
    "full": {"register": [100_000, 1_000_000], "cells": [250_000, 1_000_000], "enrich": [100_000, 1_000_000],
             "towers": 2_000_000, "engine": [1_000_000], "cost": [1_000_000], "cost_small": [100_000],
             "workbook": [100_000], "map": [100_000]},
    "quick": {"register": [10_000], "cells": [250_000], "enrich": [10_000], "towers": 200_000, "engine": [20_000],
              "cost": [10_000], "cost_small": [5_000], "workbook": [2_000], "map": [2_000]},
}
GROUPS = {"read": group_read, "validate": group_validate, "enrich": group_enrich, "engine": group_engine,
          "cost": group_cost, "workbook": group_workbook, "map": group_map}
GLOBAL_SIZES = [100_000, 500_000, 1_000_000, 2_500_000]


def group_global(suite: Suite, sizes: list[int], n_cells: int, reuse_sites: bool = False) -> None:
    """The global-scale run: cells to sites once, then enrichment + costing for each size (one run each).

    With ``reuse_sites`` the sites an earlier run wrote are read again (no cells-to-sites row in the table)."""
    sites = str(Path(WORK) / "global" / "sites")
    if not (reuse_sites and (Path(sites) / "layer.json").exists()):
        suite.add(measure_tree("global: OpenCelliD-like cells to sites (Dask)", f"{n_cells:,} cells",
                               "sites_from_cells, 2 workers", global_sites, max(sizes), n_cells, sites, repeats=1),
                  n_cells, "cells")
    for n in sizes:
        suite.add(measure_tree("global: enrich + microwave + costs + write, then all-schools steps",
                               f"{n:,} schools", "Engine dask, 2 workers", global_schools, str(n_cells), n, sites,
                               repeats=1), n, "schools")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="*", default=[*GROUPS, "peers"],
                        choices=[*GROUPS, "peers"], help="which groups to run (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=3, help="runs of giga-spatial (slow: ~2 min each)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--global", dest="global_run", action="store_true",
                        help="also the global-scale Dask run (2.5M schools x 40M cells) and its scaling")
    parser.add_argument("--global-sizes", type=int, nargs="*", default=GLOBAL_SIZES)
    parser.add_argument("--global-cells", type=int, default=40_000_000)
    parser.add_argument("--global-reuse-sites", action="store_true",
                        help="read the sites an earlier --global run built instead of building them again")
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    repeats = 1 if args.quick else args.repeats
    suite = Suite(repeats)
    started = time.strftime("%Y-%m-%d %H:%M")
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    print(f"connectmap benchmarks, {started}, {machine()}", flush=True)
    for name in args.groups:
        print(f"\n## {name}", flush=True)
        if name == "peers":
            group_peers(suite, repeats, 1 if args.quick else args.peer_repeats,
                        *((10_000, 80_000) if args.quick else ()))
        else:
            GROUPS[name](suite, sizes)
    if args.global_run:
        print("\n## global", flush=True)
        group_global(suite, args.global_sizes, args.global_cells, args.global_reuse_sites)
    table = markdown(suite.rows, command.strip(), started)
    print("\n" + table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.md").write_text(table + "\n", encoding="utf-8")
    (RESULTS / "results.json").write_text(json.dumps(
        [{"step": r.step, "size": r.size, "method": r.method, "seconds": r.seconds, "median_s": r.median_s,
          "peak_mb": r.peak_mb, "rate": speed, "note": r.note} for r, speed in suite.rows], indent=1),
        encoding="utf-8")


if __name__ == "__main__":
    main()
