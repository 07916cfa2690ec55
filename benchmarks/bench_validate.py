"""Reading and validating school registers: the real Kenya register and synthetic registers of stated sizes.

    python benchmarks/bench_validate.py [--sizes 100000 1000000] [--repeats 3]

Prints median seconds, rows per second and peak memory for read_schools + validate_schools.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table

KENYA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kenya" / "kenya_schools_moe2016.csv.gz"


def synthetic_register(n_rows: int, seed: int = 7) -> Path:
    """A semicolon-separated register with decimal commas, some defects, at Tajikistan-like latitudes."""
    import numpy as np
    import pandas as pd

    path = Path(WORK) / f"register_{n_rows}.csv"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lat = rng.uniform(36.7, 41.0, n_rows)
    lon = rng.uniform(67.4, 75.1, n_rows)
    swap = rng.random(n_rows) < 0.01
    lat[swap], lon[swap] = lon[swap], lat[swap]
    frame = pd.DataFrame({
        "school_id_govt": [f"{i:08d}" for i in range(n_rows)],
        "school_name": [f"Maktabi №{i % 500}" for i in range(n_rows)],
        "latitude": np.char.replace(np.round(lat, 6).astype(str), ".", ","),
        "longitude": np.char.replace(np.round(lon, 6).astype(str), ".", ","),
        "num_students": rng.integers(5, 2000, n_rows),
        "electricity_availability": rng.choice(["yes", "no", ""], n_rows),
    })
    frame.to_csv(path, sep=";", index=False)
    return path


def read_and_validate(path: str, boundary: bool) -> str:
    import geopandas as gpd
    import shapely

    from connectmap.io import read_schools
    from connectmap.validate import validate_schools

    outline = gpd.GeoSeries([shapely.box(67.3, 36.6, 75.2, 41.1)], crs=4326) if boundary else None
    result = validate_schools(read_schools(path), boundary=outline)
    return f"{result.summary['rows_clean']} clean, {result.summary['rows_rejected']} rejected"


def baseline() -> str:
    import connectmap.validate  # noqa: F401

    return "imports only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    if KENYA.exists():
        rows.append(measure("read + validate", "37,930 (Kenya)", "connectmap", read_and_validate, str(KENYA), False,
                            repeats=args.repeats))
    else:
        print(f"skipping Kenya: {KENYA} not found", file=sys.stderr)
    for size in args.sizes:
        path = synthetic_register(size)
        row = measure("read + validate", f"{size:,} synthetic", "connectmap", read_and_validate, str(path), True,
                      repeats=args.repeats)
        row.note += f"; {size / row.median_s:,.0f} rows/s"
        rows.append(row)
    print_table(rows, title="Reading and validating school registers")


if __name__ == "__main__":
    main()
