"""The global-scale run on the Dask engine: millions of schools against tens of millions of OpenCelliD-like cells.

Two stages, each run in its own process by ``benchmarks/run.py --global`` (which times it and samples the memory of
the whole process tree: this process, the scheduler in it, and the worker processes):

1. :func:`build_sites` — the cells (``benchmarks/_world.py``) to tower sites with
   :func:`connectmap.engine.towers.sites_from_cells` (``cells_to_sites`` per operator on the workers), written by
   the workers as spatial partitions (GeoParquet, one file each) with their caps, so later runs read from disk only
   the partitions their halos reach;
2. :func:`run_schools` — the first ``n`` schools of the world (its rows are in random order, so any ``n`` is a
   random sample): spatial partitions, enrichment (regions, nearest site per technology, sites within 5 km,
   coverage modelled from the sites, fibre node and line, population within 1-10 km, nearby schools), microwave
   options and costs on the workers, each costed partition written by its worker as GeoParquet; then on this
   process the steps that need every school at once (shared-fibre tree, budget rollout) on the columns they read.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._world import World, countries_table

#: Columns the all-schools cost steps read (plus the geometry).
GLOBAL_STEP_COLUMNS = (
    "source_row", "school_id_giga", "school_name", "admin1", "num_students", "bandwidth_demand_mbps",
    "electricity_availability", "connectivity", "connectivity_type_govt", "fiber_node_distance",
    "fiber_line_distance_km", "covered_GSM", "covered_UMTS", "covered_LTE", "covered_NR", "cellular_coverage_type",
    "microwave_distance_km", "microwave_reason", "technology", "capex_usd", "opex_usd_per_year", "npv_usd", "tco_usd",
    "cost_per_student_usd", "cost_status", "fibre_distance_km", "capex_usd_provider", "capex_usd_school",
    "opex_usd_per_year_provider", "opex_usd_per_year_school", "npv_usd_provider", "npv_usd_school",
)


def _write_part(part: Any, path: str) -> int:
    """Write a partition as GeoParquet with native point coordinates (GeoArrow), which read ~3x faster than WKB."""
    from connectmap.report.files import atomic_path

    with atomic_path(path) as tmp:
        part.to_parquet(tmp, geometry_encoding="geoarrow")
    return len(part)


def _columns(part: Any, names: tuple[str, ...]) -> Any:
    return part[[c for c in (*names, part.geometry.name) if c in part.columns]]


def _sink(folder: str, part: Any, group: int, index: int) -> str:
    """Write one site partition (on the worker that made it) and return its path."""
    path = str(Path(folder) / f"sites-{group:03d}-{index:03d}.parquet")
    _write_part(part, path)
    return path


def build_sites(world: World, folder: str, params: Any) -> dict[str, Any]:
    """Cells to sites on Dask; each site partition is written by its worker as it is made (``layer.json`` lists
    them with their caps)."""
    import functools

    import dask.dataframe as dd

    from connectmap.engine import Engine
    from connectmap.engine.towers import sites_from_cells

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    start = time.perf_counter()
    with Engine(params) as engine:
        cells = dd.read_parquet(str(world.cells), split_row_groups=False)
        layer = sites_from_cells(engine.client, cells, partition_towers=params.partition_towers,
                                 sink=functools.partial(_sink, str(out)))
    seconds = time.perf_counter() - start
    layer.sentinels.to_parquet(out / "sentinels.parquet")
    layer.extra["ambiguous"].to_parquet(out / "ambiguous.parquet")
    layer.empty.to_parquet(out / "empty.parquet")
    (out / "layer.json").write_text(json.dumps({"parts": [Path(p).name for p in layer.parts],
                                                "footprints": [_footprint_json(f) for f in layer.caps],
                                                "rows": layer.rows, "groups": layer.groups,
                                                "part_rows": layer.part_rows}))
    cells_total = sum(len(pd.read_parquet(f, columns=["lat"])) for f in sorted(world.cells.glob("*.parquet")))
    sites = pd.concat([pd.read_parquet(p, columns=["site_id"]) for p in layer.parts])["site_id"].nunique()
    return {"seconds": seconds, "cells": cells_total, "site_rows": layer.rows, "sites": int(sites),
            "partitions": len(layer.parts), "operators": len({op for _, op in layer.groups})}


def _footprint_json(footprint: Any) -> Any:
    if footprint is None:
        return None
    return [footprint.lon.tolist(), footprint.lat.tolist(), footprint.radius_km.tolist(), footprint.count.tolist()]


def load_sites(folder: str) -> Any:
    """The site partitions written by :func:`build_sites`, as a disk-backed layer (tasks read the files)."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    from connectmap.engine.layers import PartitionedLayer
    from connectmap.engine.spatial import Footprint

    out = Path(folder)
    meta = json.loads((out / "layer.json").read_text())
    caps = [None if f is None else Footprint(*(np.asarray(v) for v in f)) for f in meta["footprints"]]
    paths = [str(out / name) for name in meta["parts"]]
    part_rows = meta.get("part_rows") or [pq.read_metadata(p).num_rows for p in paths]
    layer = PartitionedLayer(paths, caps, gpd.read_parquet(out / "sentinels.parquet"),
                             gpd.read_parquet(out / "empty.parquet"), meta["rows"], [tuple(g) for g in meta["groups"]],
                             part_rows=part_rows)
    layer.extra["ambiguous"] = gpd.read_parquet(out / "ambiguous.parquet")
    return layer


def run_schools(world: World, sites: str, n_schools: int, out: str, params: Any) -> dict[str, Any]:
    """Enrich and cost the first ``n_schools`` schools on Dask; write the partitions; run the all-schools steps."""
    import geopandas as gpd
    from distributed import wait

    from connectmap import cost as costing
    from connectmap.engine import Engine
    from connectmap.engine.tasks import SharedLayers
    from connectmap.io import open_raster
    from connectmap.io.fibre import FibreNetwork
    from connectmap.parameters.cost import CostParams
    from connectmap.parameters.enrich import EnrichParams

    times: dict[str, float] = {}
    t = time.perf_counter()
    schools = gpd.read_parquet(world.schools).iloc[:n_schools]
    boundaries = countries_table()
    fibre = FibreNetwork(nodes=gpd.read_parquet(world.fibre_nodes), lines=gpd.read_parquet(world.fibre_lines))
    population = open_raster(world.population, kind="population")
    layer = load_sites(sites)
    times["read inputs"] = time.perf_counter() - t
    enrich_params = EnrichParams(per_operator=False)
    cost_params = CostParams()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    with Engine(params) as engine:
        client = engine.client
        t = time.perf_counter()
        parts = engine.scatter_schools(schools, layer)
        wait(parts.futures)
        times["partition schools"] = time.perf_counter() - t
        t = time.perf_counter()
        shared = SharedLayers((), None, fibre, population, boundaries)
        enriched = engine.enrich_parts(parts, layer, shared, enrich_params)
        wait(enriched.futures)
        times["enrich"] = time.perf_counter() - t
        del parts
        t = time.perf_counter()
        costed = engine.cost_parts(enriched, layer, fibre, None, cost_params)
        wait(costed.futures)
        times["microwave + costs"] = time.perf_counter() - t
        del enriched
        t = time.perf_counter()
        names = [str(folder / f"costed-{i:04d}.parquet") for i in range(len(costed.futures))]
        rows = client.gather([client.submit(_write_part, f, n, pure=False) for f, n in zip(costed.futures, names,
                                                                                           strict=True)])
        times["write partitions"] = time.perf_counter() - t
        t = time.perf_counter()
        reduced = engine.gather(type(costed)(
            [client.submit(_columns, f, GLOBAL_STEP_COLUMNS, pure=False) for f in costed.futures],
            costed.caps, costed.positions, costed.located, costed.dtypes))
        del costed
        times["gather columns for all-schools steps"] = time.perf_counter() - t
    t = time.perf_counter()
    shared_result = costing.add_shared_fibre(reduced, cost_params)
    times["shared-fibre tree (all schools)"] = time.perf_counter() - t
    t = time.perf_counter()
    rollout = costing.plan_rollout(shared_result, cost_params)
    times["budget rollout (all schools)"] = time.perf_counter() - t
    counts = shared_result["cost_status"].value_counts().to_dict()
    return {
        "times": times, "schools": int(sum(rows)), "partitions": len(names),
        "status": {str(k): int(v) for k, v in counts.items()},
        "technology": {str(k): int(v) for k, v in shared_result["technology"].value_counts().items()},
        "npv_usd": float(np.nansum(shared_result["npv_usd"])),
        "npv_usd_shared": float(np.nansum(shared_result["npv_usd_shared"])),
        "rollout_schools": len(rollout.schools),
    }
