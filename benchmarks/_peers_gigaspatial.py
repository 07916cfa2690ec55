"""giga-spatial's equivalent of connectmap's enrichment, run in benchmarks/.venv-peers (giga-spatial is AGPL: it is
never imported by connectmap). Called by bench_enrich.py (argv: data folder, coverage tif, population tif,
repeats); prints one JSON line with the median timings and saves nearest ids.

Equivalents used (giga-spatial 0.10.1, gigaspatial.generators.poi.PoiViewGenerator):
* nearest site per technology: ``map_nearest_points`` (cKDTree on raw lat/lon degrees, haversine distance);
* sites within 5 km: ``map_zonal_stats(towers, map_radius_meters=5000)`` (buffers + spatial join count);
* coverage raster value: ``map_zonal_stats([TifProcessor])`` (rasterio ``sample()``);
* population within 1 km: ``map_zonal_stats([TifProcessor], map_radius_meters=1000, stat="sum")``;
* nearest fibre node: ``map_nearest_points``.
"""

import json
import logging
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")
logging.disable(logging.WARNING)

from gigaspatial.generators.poi import PoiViewGenerator  # noqa: E402
from gigaspatial.processing.tif_processor import TifProcessor  # noqa: E402


def main() -> None:
    data_dir, coverage, population = sys.argv[1], sys.argv[2], sys.argv[3]
    d = np.load(f"{data_dir}/peers_input.npz")
    schools = pd.DataFrame({"poi_id": np.arange(d["slon"].size), "latitude": d["slat"], "longitude": d["slon"]})
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    import geopandas as gpd

    towers_gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(d["tlon"], d["tlat"]), crs="EPSG:4326")
    nodes = pd.DataFrame({"row": np.arange(d["nlon"].size), "latitude": d["nlat"], "longitude": d["nlon"]})
    runs: dict[str, list[float]] = {}

    def timed(name, call, *args, **kwargs):
        start = time.perf_counter()
        result = call(*args, **kwargs)
        runs.setdefault(name, []).append(time.perf_counter() - start)
        return result

    for _ in range(repeats):
        view = timed("setup", PoiViewGenerator, points=schools)
        for tech in ("GSM", "UMTS", "LTE", "NR"):
            sel = np.flatnonzero(d["tech"] == tech)
            towers = pd.DataFrame({"row": np.arange(sel.size), "latitude": d["tlat"][sel],
                                   "longitude": d["tlon"][sel]})
            res = timed(f"nearest {tech}", view.map_nearest_points, towers, id_column="row",
                        output_prefix=f"nearest_{tech}")
            np.save(f"{data_dir}/giga_nearest_{tech}.npy", res[f"nearest_{tech}_id"].to_numpy().astype(np.int64))
        timed("count 5 km", view.map_zonal_stats, towers_gdf, map_radius_meters=5000)
        timed("raster value", view.map_zonal_stats, [TifProcessor(dataset_path=coverage)])
        timed("population 1 km", view.map_zonal_stats, [TifProcessor(dataset_path=population)],
              map_radius_meters=1000, stat="sum")
        timed("fibre node", view.map_nearest_points, nodes, id_column="row", output_prefix="fibre")
    times = {k: statistics.median(v) for k, v in runs.items() if not k.startswith("nearest ")}
    times["nearest x4"] = sum(statistics.median(v) for k, v in runs.items() if k.startswith("nearest "))
    print(json.dumps({"times": times}))


if __name__ == "__main__":
    main()
