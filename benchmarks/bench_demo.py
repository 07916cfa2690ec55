"""Generating the demo country (Demoland) at stated register sizes.

    python benchmarks/bench_demo.py [--sizes 3000 40000] [--repeats 3]

Prints median seconds, peak memory and the size of the folder written for
:func:`connectmap.demo.generate_demo_country`. Everything except the school register (outline, terrain, towns,
towers, 11 coverage rasters, population, fibre) is the same at every size, so the time hardly grows with it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table


def generate(n_schools: int) -> str:
    from connectmap.demo import generate_demo_country

    demo = generate_demo_country(Path(WORK) / f"demo_{n_schools}", n_schools=n_schools)
    size_mb = sum(path.stat().st_size for path in demo.files) / 1e6
    return f"{len(demo.files)} files, {size_mb:.1f} MB"


def baseline() -> str:
    import connectmap.demo  # noqa: F401

    return "imports only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[3000, 40_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    for size in args.sizes:
        row = measure("generate demo", f"{size:,} schools", "generate_demo_country", generate, size,
                      repeats=args.repeats)
        rows.append(row)
    print_table(rows, title="Generating the demo country")


if __name__ == "__main__":
    main()
