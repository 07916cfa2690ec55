"""Reading layers: OpenCelliD cells collapsed into sites (real Ecuador export and synthetic exports of stated
sizes), the site rule against single linkage, fibre and boundary files.

    python benchmarks/bench_layers.py [--sizes 250000 1000000] [--repeats 3] [--quality]

Prints median seconds, peak memory and cells per second. ``--quality`` also prints how well each co-location
radius recovers LTE eNodeBs on the Ecuador export (the eNodeB id, ECI // 256, is the ground truth for LTE).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ECUADOR = DATA / "ecuador" / "740.csv.gz"
COLUMNS = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable", "created",
           "updated", "averageSignal"]


def synthetic_export(n_cells: int, seed: int = 5) -> Path:
    """A headerless gzip OpenCelliD export at constant density: 250,000 cells per Kenya-sized area (7 x 9 degrees,
    25 towns), the area growing with the size, 60% of sites in towns, sectors scattered 300 m around their site.

    Each cell belongs to a random site (4 cells per site on average); LTE cells carry ECI = eNodeB * 256 + sector.
    """
    import numpy as np
    import pandas as pd

    path = Path(WORK) / f"opencellid_v2_{n_cells}.csv.gz"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_sites = n_cells // 4
    scale = (n_cells / 250_000) ** 0.5
    width, height = 7 * scale, 9 * scale
    n_towns = max(1, round(25 * scale**2))
    towns = np.column_stack([rng.uniform(0, width, n_towns), rng.uniform(-height / 2, height / 2, n_towns)])
    in_town = rng.random(n_sites) < 0.6
    town = rng.integers(0, n_towns, n_sites)
    site_lon = np.where(in_town, towns[town, 0] + rng.normal(0, 0.05, n_sites), rng.uniform(0, width, n_sites))
    site_lat = np.where(in_town, towns[town, 1] + rng.normal(0, 0.05, n_sites),
                        rng.uniform(-height / 2, height / 2, n_sites))
    site = rng.integers(0, n_sites, n_cells)
    net = site % 3
    radio = rng.choice(np.array(["GSM", "UMTS", "LTE"]), n_cells, p=[0.3, 0.5, 0.2])
    scatter_deg = rng.normal(0, 300 / 111_000, (n_cells, 2))
    cell = np.where(radio == "LTE", site * 256 + rng.integers(1, 4, n_cells), rng.integers(1, 2**27, n_cells))
    frame = pd.DataFrame({
        "radio": radio, "mcc": 639, "net": net, "area": 1000 + site % 500, "cell": cell, "unit": 0,
        "lon": np.round(site_lon[site] + scatter_deg[:, 0], 6), "lat": np.round(site_lat[site] + scatter_deg[:, 1], 6),
        "range": rng.integers(500, 5000, n_cells), "samples": rng.geometric(0.1, n_cells), "changeable": 1,
        "created": 1_400_000_000, "updated": 1_500_000_000, "averageSignal": 0,
    }).drop_duplicates(["radio", "net", "area", "cell"])
    frame.to_csv(path, header=False, index=False, compression={"method": "gzip", "compresslevel": 1})
    return path


def read_export(path: str) -> str:
    from connectmap.io import read_towers

    towers = read_towers(path)
    cells = int(towers["cell_count"].sum())
    return f"{cells:,} cells -> {towers['site_id'].nunique():,} sites"


def _cells(path: str) -> object:
    """Cells as read_towers hands them to cells_to_sites (numeric identities), without the timed reading."""
    import numpy as np
    import pandas as pd

    from connectmap.columns import RADIO_ALIASES

    table = pd.read_csv(path, header=None, names=COLUMNS)
    tech = table["radio"].str.lower().map(RADIO_ALIASES)
    lte = (tech == "LTE").to_numpy()
    return pd.DataFrame({
        "operator": table["net"].astype(str), "technology": tech, "lon": table["lon"], "lat": table["lat"],
        "range_m": table["range"], "samples": table["samples"], "mcc": table["mcc"], "mnc": table["net"],
        "area": table["area"], "cell": table["cell"],
        "site_hint": pd.Series(np.where(lte, table["cell"] // 256, 0), dtype="Int64").where(lte),
    })


def greedy_sites(cells: object) -> str:
    import numpy as np

    from connectmap.io.towers import cell_sites

    labels = cell_sites(cells, colocation_radius_m=100.0)

    return f"{labels.max() + 1:,} sites, largest {np.bincount(labels).max():,} cells"


greedy_sites.setup = lambda path: (_cells(path),)


def single_linkage_sites(cells: object) -> str:
    """The obvious rule: link same-operator cells within 100 m, sites = connected components."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from connectmap.geodesy import PointIndex

    op = pd.factorize(cells["operator"])[0]
    i, j, _ = PointIndex(cells["lon"], cells["lat"]).pairs_within(0.1)
    same = op[i] == op[j]
    n = len(cells)
    graph = coo_matrix((np.ones(int(same.sum())), (i[same], j[same])), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return f"{count:,} sites, largest {np.bincount(labels).max():,} cells"


single_linkage_sites.setup = lambda path: (_cells(path),)


def read_all_fibre() -> str:
    from connectmap.io import read_fibre

    files = sorted((DATA / "west_africa_fibre").glob("*/*.geojson")) + sorted(DATA.glob("*/fibre_ofds/**/*.geojson"))
    return read_fibre(files).summary()


def read_countries() -> str:
    from connectmap.io import read_boundaries

    return f"{len(read_boundaries(DATA / 'countries-50m.json', layer='countries'))} countries"


def baseline() -> str:
    import connectmap.io  # noqa: F401

    return "imports only"


def quality_table() -> None:
    """How each radius recovers LTE eNodeBs on the Ecuador export (printed, not timed)."""
    import pandas as pd

    from connectmap.io.towers import cell_sites

    cells = _cells(str(ECUADOR))
    lte = (cells["technology"] == "LTE").to_numpy()
    enb = (cells["operator"] + "-" + cells["site_hint"].fillna("")).to_numpy()
    print("\n### Site rule on the Ecuador export (75,068 cells; LTE eNodeB id = ground truth)\n")
    print("| rule | radius m | sites | cells per site | eNodeBs kept whole | LTE sites mixing eNodeBs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, frame in (("position only", cells.drop(columns="site_hint")), ("eNodeB id + position", cells)):
        for radius in (50, 100, 150, 200, 300):
            site = cell_sites(frame, colocation_radius_m=radius)
            table = pd.DataFrame({"enb": enb[lte], "site": site[lte]})
            multi = table.groupby("enb").size() > 1
            whole = (table.groupby("enb")["site"].nunique()[multi] == 1).mean()
            mixing = (table.groupby("site")["enb"].nunique() > 1).mean()
            print(f"| {label} | {radius} | {site.max() + 1:,} | {len(frame) / (site.max() + 1):.2f} | "
                  f"{whole:.1%} | {mixing:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[250_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", action="store_true")
    args = parser.parse_args()
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    if ECUADOR.exists():
        rows.append(measure("read_towers", "75,068 cells (Ecuador)", "OpenCelliD gzip", read_export, str(ECUADOR),
                            repeats=args.repeats))
        rows.append(measure("site rule", "75,068 cells (Ecuador)", "greedy centres 100 m (connectmap)",
                            greedy_sites, str(ECUADOR), repeats=args.repeats))
        rows.append(measure("site rule", "75,068 cells (Ecuador)", "single linkage 100 m", single_linkage_sites,
                            str(ECUADOR), repeats=args.repeats))
    for size in args.sizes:
        path = str(synthetic_export(size))
        rows.append(measure("read_towers", f"{size:,} cells", "OpenCelliD gzip", read_export, path,
                            repeats=args.repeats))
        rows.append(measure("site rule", f"{size:,} cells", "greedy centres 100 m (connectmap)", greedy_sites, path,
                            repeats=args.repeats))
        rows.append(measure("site rule", f"{size:,} cells", "single linkage 100 m", single_linkage_sites, path,
                            repeats=args.repeats))
    if (DATA / "west_africa_fibre").exists():
        rows.append(measure("read_fibre", "32 WATRA + 10 OFDS files", "GeoJSON", read_all_fibre,
                            repeats=args.repeats))
        rows.append(measure("read_boundaries", "countries-50m", "TopoJSON", read_countries, repeats=args.repeats))
    print_table(rows, title="Reading layers")
    if args.quality and ECUADOR.exists():
        quality_table()


if __name__ == "__main__":
    main()
