"""`connectmap run` end to end on the Kenya register (37,930 schools) with generated towers.

    python benchmarks/bench_run.py [--repeats 3] [--towers 15000]

The register, outline, population raster and the four OFDS fibre networks are the real files in
``../shared/data/kenya/``; Kenya has no open tower list, so towers of three operators are generated (seeded) near the
schools. Each repeat is a full run in a fresh process: read, validate, enrich, cost, zero-rate, plan, and write every
output (GeoPackage, CSV, map.html, map.png, the national and three operator workbooks, summary and manifest).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table

KENYA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kenya"


def generated_towers(n_sites: int, seed: int = 11) -> Path:
    """An operator tower list: sites scattered around randomly chosen schools, 2G everywhere, 3G/4G on most."""
    import numpy as np
    import pandas as pd
    import pyproj

    path = Path(WORK) / f"kenya_towers_{n_sites}.csv"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    schools = pd.read_csv(KENYA / "kenya_schools_moe2016.csv.gz", usecols=["lon_wgs84", "lat_wgs84"])
    rng = np.random.default_rng(seed)
    anchor = schools.iloc[rng.integers(0, len(schools), n_sites)]
    lon, lat, _ = pyproj.Geod(ellps="WGS84").fwd(
        anchor["lon_wgs84"].to_numpy(), anchor["lat_wgs84"].to_numpy(), rng.uniform(0, 360, n_sites),
        rng.exponential(3000.0, n_sites),
    )
    technologies = rng.choice(["2G", "2G;3G", "2G;3G;4G", "2G;3G;4G"], n_sites)
    pd.DataFrame({
        "site_id": [f"KE-{i:06d}" for i in range(n_sites)],
        "operator": rng.choice(["Safaricom", "Airtel", "Telkom"], n_sites, p=[0.6, 0.3, 0.1]),
        "technologies": technologies, "height_m": rng.choice([20.0, 30.0, 40.0], n_sites),
        "latitude": np.round(lat, 6), "longitude": np.round(lon, 6),
    }).to_csv(path, index=False)
    return path


def run_kenya(towers: str, out: str) -> str:
    from connectmap.config import Config
    from connectmap.parameters.inputs import InputsParams, SchoolInput
    from connectmap.pipeline import run

    fibre = sorted(str(p) for p in (KENYA / "fibre_ofds").rglob("*.geojson"))
    inputs = InputsParams(
        name="kenya", country="Kenya",
        schools=SchoolInput(path=str(KENYA / "kenya_schools_moe2016.csv.gz"),
                            columns={"school_id_govt": "CODE", "admin1": "County"}),
        towers=[towers], fibre=fibre, boundaries=str(KENYA / "ne10m_KEN_admin0.geojson"),
        population=str(KENYA / "derived_afripop2020_KEN_clip.tif"), population_value="density",
    )
    result = run(Config(inputs=inputs), out=out)
    return f"{len(result.schools):,} schools, {len(result.outputs)} files"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--towers", type=int, default=15_000)
    args = parser.parse_args()
    if not (KENYA / "kenya_schools_moe2016.csv.gz").exists():
        sys.exit(f"skipping: {KENYA} not found (see ../shared/data/README.md)")
    towers = generated_towers(args.towers)
    row = measure("connectmap run (all outputs)", "37,930 schools (Kenya)", f"{args.towers:,} generated towers",
                  run_kenya, str(towers), str(Path(WORK) / "kenya_run"), repeats=args.repeats)
    print_table([row], title="connectmap run on the Kenya register")


if __name__ == "__main__":
    main()
