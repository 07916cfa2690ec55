"""A seeded synthetic world for the global-scale run: schools, OpenCelliD-like cells, fibre and population.

Written once into ``benchmarks/_work/global/`` (gitignored) as Parquet/GeoParquet, then reused:

* ``countries``: the real Natural Earth 1:50m countries (``../shared/data/countries-50m.json``, public domain),
  Antarctica left out; they hold every school and are the boundaries of the run (``admin1`` = country);
* ``schools.parquet``: ``n_schools`` schools in the countries, in proportion to area^0.75 (a tenth of that where
  the country's centre is beyond 55° of latitude); 75 % clustered round towns (one town per 400 schools, normal
  scatter of 0.12°), 25 % anywhere in the country; enrolment, electricity and connectivity drawn at random;
  rows in random order (``source_row`` 2, 3, ...);
* ``cells/part-*.parquet``: ``n_cells`` cells, the columns ``read_towers`` hands to ``cells_to_sites``, as
  OpenCelliD publishes them: one file per group of countries (each network in one file). Per country 2-4 networks
  (MCC 200 + country, MNC 1-4); ``n_cells / 4.6`` sites, 80 % round the towns; GSM at 90 % of sites, UMTS 75 %,
  LTE 55 %, NR 8 % (town sites only); 1-3 sectors per site and technology scattered ~60 m, LTE cells as eNodeB x
  256 + sector; ranges 200 m-15 km (10 % unknown); OpenCelliD-like sample counts;
* ``fibre_nodes.parquet``, ``fibre_lines.parquet``: a node per 150 schools near the towns, and routes (random
  walks of 25 vertices ~5 km apart) from a third of the towns;
* ``population.tif``: people/km², 0.05° over the land (gamma-distributed), nodata at sea.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import WORK

WORLD = Path(WORK) / "global"
COUNTRIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "countries-50m.json"
CELLS_PER_SITE = 4.56  # 2.28 technologies per site x 2 sectors on average
TECH_SHARE = {"GSM": 0.90, "UMTS": 0.75, "LTE": 0.55, "NR": 0.08}


@dataclass(frozen=True)
class World:
    """Paths of a generated world."""

    folder: Path
    schools: Path
    cells: Path
    fibre_nodes: Path
    fibre_lines: Path
    population: Path
    countries: Path


def world_paths(folder: Path = WORLD) -> World:
    return World(folder, folder / "schools.parquet", folder / "cells", folder / "fibre_nodes.parquet",
                 folder / "fibre_lines.parquet", folder / "population.tif", COUNTRIES)


def countries_table():
    from connectmap.io import read_boundaries

    table = read_boundaries(COUNTRIES, layer="countries")
    table = table[table["admin1"] != "Antarctica"].reset_index(drop=True)
    return table


def _inside(rng: np.random.Generator, prepared, bounds, n: int, centres=None, scale: float = 0.0) -> np.ndarray:
    """``n`` points inside a polygon: uniform in it, or normal round ``centres`` (rejection sampling)."""
    import shapely

    out = np.empty((0, 2))
    west, south, east, north = bounds
    for _ in range(200):
        need = n - len(out)
        if need <= 0:
            break
        draw = max(need * 2, 64)
        if centres is None:
            x, y = rng.uniform(west, east, draw), rng.uniform(south, north, draw)
        else:
            pick = rng.integers(0, len(centres), draw)
            x = centres[pick, 0] + rng.normal(0, scale, draw)
            y = centres[pick, 1] + rng.normal(0, scale, draw)
        ok = shapely.contains_xy(prepared, x, y)
        out = np.vstack([out, np.column_stack([x[ok], y[ok]])[:need]])
    if len(out) < n:  # islands scattered over a huge box: repeat what was found, or the polygon's inner point
        import shapely as _shapely

        seed = out if len(out) else _shapely.get_coordinates(_shapely.point_on_surface(prepared))
        out = np.vstack([out, seed[rng.integers(0, len(seed), n - len(out))]])
    return out[:n]


def _shares(countries, total: int, rng: np.random.Generator) -> np.ndarray:
    area = countries.to_crs("+proj=eqearth").area.to_numpy() / 1e6
    lat = countries.representative_point().y.to_numpy()
    weight = area**0.75 * np.where(np.abs(lat) > 55, 0.1, 1.0)
    counts = np.floor(weight / weight.sum() * total).astype(np.int64)
    counts[np.argsort(-weight)[: total - counts.sum()]] += 1
    return counts


def generate_world(n_schools: int = 2_500_000, n_cells: int = 40_000_000, seed: int = 2026,
                   folder: Path = WORLD) -> World:
    """Write the world once (skipped when ``world.json`` says it was made with the same sizes and seed)."""
    paths = world_paths(folder)
    stamp = folder / "world.json"
    wanted = {"n_schools": n_schools, "n_cells": n_cells, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()).get("sizes") == wanted:
        return paths
    import geopandas as gpd
    import shapely

    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cells").mkdir(exist_ok=True)
    for old in (folder / "cells").glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    countries = countries_table()
    school_counts = _shares(countries, n_schools, rng)
    site_counts = np.round(school_counts * (n_cells / CELLS_PER_SITE / n_schools)).astype(np.int64)
    schools, towns_all, cell_frames, cells_in_file, file_no = [], [], [], 0, 0
    for k, geometry in enumerate(countries.geometry):
        n = int(school_counts[k])
        if n == 0:
            continue
        shapely.prepare(geometry)
        prepared, bounds = geometry, geometry.bounds
        towns = _inside(rng, prepared, bounds, max(3, n // 400))
        towns_all.append(towns)
        clustered = int(n * 0.75)
        xy = np.vstack([_inside(rng, prepared, bounds, clustered, towns, 0.12),
                        _inside(rng, prepared, bounds, n - clustered)])
        schools.append(pd.DataFrame({"lon": xy[:, 0], "lat": xy[:, 1], "country": k}))
        cells = _country_cells(rng, k, int(site_counts[k]), towns, prepared, bounds)
        cell_frames.append(cells)
        cells_in_file += len(cells)
        if cells_in_file >= 2_000_000:
            _write_cells(cell_frames, folder / "cells" / f"part-{file_no:03d}.parquet")
            cell_frames, cells_in_file, file_no = [], 0, file_no + 1
    if cell_frames:
        _write_cells(cell_frames, folder / "cells" / f"part-{file_no:03d}.parquet")

    table = pd.concat(schools, ignore_index=True)
    order = rng.permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    size = len(table)
    students = np.round(rng.lognormal(5.3, 0.8, size))
    students[rng.random(size) < 0.1] = np.nan
    frame = gpd.GeoDataFrame({
        "source_row": np.arange(2, size + 2, dtype=np.int64),
        "school_id_giga": pd.array([f"g{i:08x}" for i in rng.permutation(size)], dtype="str"),
        "school_name": pd.array([f"School {i}" for i in range(size)], dtype="str"),
        "num_students": students,
        "electricity_availability": pd.array(rng.random(size) < 0.7, dtype="boolean"),
        "connectivity": pd.array(rng.random(size) < 0.3, dtype="boolean"),
        "quality_flags": pd.array([""] * size, dtype="str"),
    }, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326")
    frame.loc[rng.random(size) < 0.2, "electricity_availability"] = pd.NA
    frame.loc[rng.random(size) < 0.3, "connectivity"] = pd.NA
    frame.to_parquet(paths.schools)

    towns = np.vstack(towns_all)
    _write_fibre(rng, towns, n_schools, paths)
    _write_population(rng, countries, paths.population)
    stamp.write_text(json.dumps({"sizes": wanted, "seconds": round(time.perf_counter() - start, 1),
                                 "schools": size, "countries": len(countries)}))
    return paths


def _country_cells(rng, k: int, n_sites: int, towns: np.ndarray, prepared, bounds) -> pd.DataFrame:
    if n_sites == 0:
        return pd.DataFrame()
    in_town = rng.random(n_sites) < 0.8
    xy = np.empty((n_sites, 2))
    t = np.flatnonzero(in_town)
    pick = rng.integers(0, len(towns), t.size)
    xy[t] = towns[pick] + rng.normal(0, 0.08, (t.size, 2))
    xy[~in_town] = _inside(rng, prepared, bounds, int((~in_town).sum()))
    networks = int(rng.integers(2, 5))
    mcc = 200 + k
    mnc = rng.integers(1, networks + 1, n_sites)
    frames = []
    for tech, share in TECH_SHARE.items():
        has = rng.random(n_sites) < share
        if tech == "NR":
            has &= in_town
        site = np.repeat(np.flatnonzero(has), rng.integers(1, 4, int(has.sum())))
        n = site.size
        if n == 0:
            continue
        sector = np.arange(n) - np.searchsorted(site, site)  # 0, 1, 2 within each site (site is sorted)
        if tech == "LTE":
            cell = site.astype(np.int64) * 256 + sector + 1
        else:
            cell = rng.choice(2**28, n, replace=False).astype(np.int64) + 1
        frames.append(pd.DataFrame({
            "operator": pd.array([f"{mcc}-{m}" for m in mnc[site]], dtype="str"),
            "technology": tech,
            "lon": xy[site, 0] + rng.normal(0, 60 / 111_000, n), "lat": xy[site, 1] + rng.normal(0, 60 / 111_000, n),
            "range_m": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(200, 15_000, n)),
            "samples": rng.geometric(0.05, n).astype(np.float64),
            "mcc": np.full(n, mcc, dtype=np.int64), "mnc": mnc[site].astype(np.int64),
            "area": rng.integers(1, 2000, n).astype(np.int64), "cell": cell,
            "site_hint": pd.array(np.where(tech == "LTE", cell // 256, 0), dtype="Int64"),
        }))
    cells = pd.concat(frames, ignore_index=True)
    cells.loc[cells["technology"] != "LTE", "site_hint"] = pd.NA
    cells["lat"] = cells["lat"].clip(-89.9, 89.9)
    cells["lon"] = (cells["lon"] + 180.0) % 360.0 - 180.0
    return cells


def _write_cells(frames, path: Path) -> None:
    table = pd.concat(frames, ignore_index=True)
    table["technology"] = table["technology"].astype("str")
    tmp = path.with_name(path.name + ".part")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _write_fibre(rng, towns: np.ndarray, n_schools: int, paths: World) -> None:
    import geopandas as gpd
    import shapely

    n_nodes = max(100, n_schools // 150)
    pick = rng.integers(0, len(towns), n_nodes)
    nodes = towns[pick] + rng.normal(0, 0.05, (n_nodes, 2))
    gpd.GeoDataFrame({"node_id": pd.array([f"N{i}" for i in range(n_nodes)], dtype="str"),
                      "status": "operational", "medium": "fibre"},
                     geometry=gpd.points_from_xy(nodes[:, 0], np.clip(nodes[:, 1], -89.9, 89.9)),
                     crs="EPSG:4326").to_parquet(paths.fibre_nodes)
    starts = towns[rng.choice(len(towns), max(10, len(towns) // 3), replace=False)]
    walk = starts[:, None, :] + np.cumsum(rng.normal(0, 0.035, (len(starts), 25, 2)), axis=1)
    walk[..., 1] = np.clip(walk[..., 1], -89.9, 89.9)
    gpd.GeoDataFrame({"line_id": pd.array([f"L{i}" for i in range(len(starts))], dtype="str"),
                      "status": "operational", "medium": "fibre"},
                     geometry=shapely.linestrings(walk), crs="EPSG:4326").to_parquet(paths.fibre_lines)


def _write_population(rng, countries, path: Path) -> None:
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    step = 0.05
    width, height = int(360 / step), int(180 / step)
    transform = Affine(step, 0.0, -180.0, 0.0, -step, 90.0)
    land = rasterize(((g, 1) for g in countries.geometry), out_shape=(height, width), transform=transform,
                     fill=0, dtype="uint8")
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
                       crs="EPSG:4326", transform=transform, nodata=-1.0, tiled=True, blockxsize=512,
                       blockysize=512, compress="deflate") as ds:
        for row in range(0, height, 512):
            rows = slice(row, min(row + 512, height))
            density = rng.gamma(0.6, 150.0, (rows.stop - rows.start, width)).astype(np.float32)
            density[land[rows] == 0] = -1.0
            ds.write(density, 1, window=((rows.start, rows.stop), (0, width)))
        ds.update_tags(value="density")
