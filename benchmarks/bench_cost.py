"""The cost model at scale: costing (all technologies, choice, NPV), the shared-fibre tree, microwave options,
the sensitivity table and the budget rollout, on synthetic enriched tables of stated sizes.

    python benchmarks/bench_cost.py [--schools 1000000] [--tree 100000] [--microwave 100000] [--repeats 3]

Each measurement runs in a fresh process (benchmarks/harness.py): median seconds of the repeats and the peak
resident memory of that process (interpreter and libraries included; see the baseline row). The tables are built
untimed before the first repeat. Targets (issue 4): costing 1M schools < 5 s; fibre tree for 100k schools < 30 s.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table


def enriched_table(n: int, seed: int = 1):
    """An enriched school table over a Mauritania-sized area: every input column the cost model reads."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def maybe(p_true: float, p_unknown: float):
        values = np.where(rng.random(n) < p_unknown, None, rng.random(n) < p_true)
        return pd.array(values, dtype="boolean")

    lon, lat = rng.uniform(-17.0, -5.0, n), rng.uniform(15.0, 27.0, n)
    return gpd.GeoDataFrame({
        "source_row": np.arange(2, n + 2),
        "admin1": pd.array(rng.choice([f"Region {i}" for i in range(13)], n), dtype="str"),
        "num_students": np.where(rng.random(n) < 0.1, np.nan, rng.integers(10, 2_500, n)).astype(float),
        "electricity_availability": maybe(0.5, 0.1),
        "connectivity": maybe(0.2, 0.5),
        "fiber_node_distance": rng.exponential(25.0, n),
        "fiber_line_distance_km": rng.exponential(10.0, n),
        "covered_GSM": maybe(0.7, 0.1), "covered_UMTS": maybe(0.5, 0.1),
        "covered_LTE": maybe(0.4, 0.2), "covered_NR": maybe(0.05, 0.2),
        "microwave_distance_km": rng.uniform(0.0, 35.0, n),
        "microwave_reason": pd.array(rng.choice(["", "beyond_max_microwave_range", "no_line_of_sight"], n),
                                     dtype="str"),
        "quality_flags": pd.array(np.full(n, ""), dtype="str"),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def baseline() -> str:
    import connectmap.cost  # noqa: F401

    return "imports only"


def cost_all(table) -> str:
    from connectmap.cost import add_costs

    out = add_costs(table)
    return f"{(out['cost_status'] == 'connectable').sum():,} connectable, total NPV {out['npv_usd'].sum():,.0f} USD"


cost_all.setup = lambda n: (enriched_table(n),)  # type: ignore[attr-defined]


def _costed(n: int):
    from connectmap.cost import add_costs

    return (add_costs(enriched_table(n)),)


def shared_tree(costed) -> str:
    from connectmap.cost import add_shared_fibre

    out = add_shared_fibre(costed)
    moved = (out["technology_shared"] == "fibre").sum() - (out["technology"] == "fibre").sum()
    return f"{moved:,} more schools on fibre; NPV {out['npv_usd_shared'].sum() / out['npv_usd'].sum():.3f} x"


def _dense_costed(n: int):
    """Schools at Kenya-like density (100k over ~6 x 6 degrees) so that fibre links between schools exist."""
    import geopandas as gpd
    import numpy as np

    from connectmap.cost import add_costs
    from connectmap.geodesy import PointIndex

    table = enriched_table(n, seed=2)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(34.0, 40.0, n), rng.uniform(-4.0, 2.0, n)
    table = table.set_geometry(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    nodes = PointIndex(rng.uniform(34.0, 40.0, 300), rng.uniform(-4.0, 2.0, 300))
    table["fiber_node_distance"] = nodes.nearest(lon, lat).distance_km
    return (add_costs(table),)


shared_tree.setup = _dense_costed  # type: ignore[attr-defined]


def microwave(schools, towers, fibre, dem) -> str:
    from connectmap.cost import add_microwave_options

    out = add_microwave_options(schools, towers, fibre, dem=dem)
    return f"{(out['microwave_reason'] == '').sum():,} links" + (" (line of sight checked)" if dem else "")


def _microwave_inputs(n: int, with_dem: bool):
    import geopandas as gpd
    import numpy as np
    import rasterio
    from affine import Affine
    from shapely.geometry import LineString

    rng = np.random.default_rng(4)
    schools = enriched_table(n)
    sites = 5_000
    towers = gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(sites)], "technology": "LTE", "height_m": np.nan},
        geometry=gpd.points_from_xy(rng.uniform(-17, -5, sites), rng.uniform(15, 27, sites)), crs="EPSG:4326")
    lines = [LineString(np.column_stack([np.linspace(-17, -5, 200), np.full(200, y)]))
             for y in np.arange(15.5, 27, 1.0)]  # 12 east-west fibre routes, one per degree of latitude
    fibre = gpd.GeoDataFrame({"status": ["operational"] * len(lines)}, geometry=lines, crs="EPSG:4326")
    dem = None
    if with_dem:  # a 30 arc-second DEM of the whole area (1,440 x 1,440 px): rolling hills plus 5 m noise
        dem = os.path.join(WORK, "bench_dem.tif")
        if not os.path.exists(dem):
            os.makedirs(WORK, exist_ok=True)
            rows, cols = np.mgrid[0:1_440, 0:1_440]
            relief = (300.0 + 40.0 * np.sin(cols / 40.0) * np.cos(rows / 55.0)
                      + rng.normal(0.0, 5.0, (1_440, 1_440))).astype("float32")
            with rasterio.open(dem, "w", driver="GTiff", height=1_440, width=1_440, count=1, dtype="float32",
                               crs="EPSG:4326", transform=Affine(1 / 120, 0.0, -17.0, 0.0, -1 / 120, 27.0),
                               nodata=-9999.0, tiled=True) as out:
                out.write(relief, 1)
    return schools, towers, fibre, dem


microwave.setup = _microwave_inputs  # type: ignore[attr-defined]


def sensitivity_table(costed) -> str:
    from connectmap.cost import sensitivity

    table = sensitivity(costed)
    return f"{len(table)} parameters x 2; widest swing {table['parameter'].iloc[0]}"


sensitivity_table.setup = _costed  # type: ignore[attr-defined]


def rollout(costed) -> str:
    from connectmap.cost import plan_rollout
    from connectmap.parameters.cost import CostParams

    params = CostParams()
    params.plan.budget_usd_per_year = 50_000_000.0
    plan = plan_rollout(costed, params)
    return f"{len(plan.schools):,} schools in {len(plan.years)} years"


rollout.setup = _costed  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=1_000_000, help="size for costing, sensitivity, rollout")
    parser.add_argument("--tree", type=int, default=100_000, help="size for the shared-fibre tree")
    parser.add_argument("--microwave", type=int, default=100_000, help="size for microwave options")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    row = measure("add_costs (4 technologies, choice, NPV)", f"{args.schools:,}", "connectmap", cost_all,
                  args.schools, repeats=args.repeats)
    row.note += f"; {args.schools / row.median_s:,.0f} schools/s"
    rows.append(row)
    row = measure("add_shared_fibre (Delaunay + MST + choice)", f"{args.tree:,}", "connectmap", shared_tree,
                  args.tree, repeats=args.repeats)
    row.note += f"; {args.tree / row.median_s:,.0f} schools/s"
    rows.append(row)
    rows.append(measure("add_microwave_options, 5,000 sites", f"{args.microwave:,}", "no DEM", microwave,
                        args.microwave, False, repeats=args.repeats))
    rows.append(measure("add_microwave_options, 5,000 sites", f"{args.microwave // 10:,}", "DEM 1,440 px",
                        microwave, args.microwave // 10, True, repeats=args.repeats))
    rows.append(measure("sensitivity (16 parameters)", f"{args.schools // 10:,}", "connectmap", sensitivity_table,
                        args.schools // 10, repeats=args.repeats))
    rows.append(measure("plan_rollout (budget per year)", f"{args.schools:,}", "connectmap", rollout, args.schools,
                        repeats=args.repeats))
    print_table(rows, title="Cost model")


if __name__ == "__main__":
    main()
