"""The investment-case workbook at scale: a national workbook with live formulas for a synthetic costed country.

    python benchmarks/bench_excel.py [--schools 100000] [--operators 3] [--repeats 3] [--baseline]

Rows (each in a fresh process, benchmarks/harness.py: median seconds of the repeats, peak resident memory of the
process, interpreter and libraries included — see the baseline row):

* ``case``: new sites + zero-rating + investment case (the Python model) from the costed table;
* ``national workbook``: writing ``investment_case.xlsx`` (all sheets; the Schools sheet streamed with formulas and
  cached values) from the computed case;
* ``model + workbook``: both, from the costed table, as ``connectmap casebook`` does after reading;
* ``casebook``: the national workbook and one workbook per operator;
* with ``--baseline``: the same Schools cells written with openpyxl's write-only mode (values and formula text,
  no cached values, no other sheet), once, for comparison with the streamed writer.

Target (issue 5): a 100k-school national workbook with formulas in under 60 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table


def costed_table(n: int, operators: int, seed: int = 1):
    """A costed school table over a Mauritania-sized area with the columns the case reads."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = [f"Operator {chr(65 + k)}" for k in range(operators)]
    combos = ["", "", *names, ";".join(names[:2]), ";".join(names)]
    coverage = np.array(combos, dtype=object)[rng.integers(0, len(combos), n)]
    coverage[rng.random(n) < 0.05] = None
    students = np.where(rng.random(n) < 0.1, np.nan, rng.integers(10, 2_500, n)).astype(float)
    lon, lat = rng.uniform(-17.0, -5.0, n), rng.uniform(15.0, 27.0, n)
    table = {
        "source_row": np.arange(2, n + 2),
        "school_id_govt": pd.array([f"MR{i:07d}" for i in range(n)], dtype="str"),
        "school_name": pd.array([f"Ecole {i} de la commune {i % 977}" for i in range(n)], dtype="str"),
        "admin1": pd.array(rng.choice([f"Region {i}" for i in range(13)], n), dtype="str"),
        "admin2": pd.array(rng.choice([f"District {i}" for i in range(60)], n), dtype="str"),
        "num_students": students,
        "num_teachers": np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 60, n)).astype(float),
        "connectivity": pd.array(np.where(rng.random(n) < 0.5, None, rng.random(n) < 0.2), dtype="boolean"),
        "cellular_coverage_type": pd.array(np.where(pd.isna(coverage), "unknown",
                                                    np.where(coverage == "", "no coverage", "4G")), dtype="str"),
        "covering_operators": pd.array(coverage, dtype="str"),
        "technology": pd.array(rng.choice(["cellular", "satellite", "fibre", "microwave"], n), dtype="str"),
        "cost_status": pd.array(np.full(n, "connectable"), dtype="str"),
        "bandwidth_demand_mbps": np.maximum(20.0, 0.05 * np.nan_to_num(students)),
        "capex_usd": rng.uniform(500.0, 40_000.0, n),
        "opex_usd_per_year": rng.uniform(100.0, 3_000.0, n),
        "npv_usd": rng.uniform(2_000.0, 60_000.0, n),
        "rollout_year": pd.array(np.where(rng.random(n) < 0.4, None, rng.integers(1, 6, n)), dtype="Int64"),
        "quality_flags": pd.array(np.where(np.isnan(students), "students_unknown", ""), dtype="str"),
        "pop_within_5km": rng.uniform(0.0, 20_000.0, n),
    }
    for k, name in enumerate(names):
        table[f"nearest_LTE_distance__{name.lower().replace(' ', '_')}"] = rng.uniform(0.5, 60.0, n) + k
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _case(table):
    from connectmap.operators import add_new_sites, investment_case
    from connectmap.zerorating import add_zero_rating

    return investment_case(add_zero_rating(add_new_sites(table)))


def run_case(table) -> str:
    case = _case(table)
    return f"{len(case.operators)} operators, {int(case.by_operator.loc['All operators', 'new_sites']):,} new sites"


run_case.setup = lambda n, k: (costed_table(n, k),)


def run_workbook(case, path) -> str:
    from connectmap.report.excel import write_workbook

    write_workbook(case, path)
    return f"{os.path.getsize(path) / 1e6:.1f} MB, {len(case.schools):,} rows x {_columns(case)} columns"


run_workbook.setup = lambda n, k, path: (_case(costed_table(n, k)), path)


def run_model_and_workbook(table, path) -> str:
    from connectmap.report.excel import write_workbook

    case = _case(table)
    write_workbook(case, path)
    return f"{os.path.getsize(path) / 1e6:.1f} MB"


run_model_and_workbook.setup = lambda n, k, path: (costed_table(n, k), path)


def run_casebook(case, folder) -> str:
    from connectmap.report.excel import write_casebook

    written = write_casebook(case, folder)
    return f"{len(written)} workbooks, {sum(os.path.getsize(p) for p in written) / 1e6:.1f} MB"


run_casebook.setup = lambda n, k, folder: (_case(costed_table(n, k)), folder)


def _columns(case) -> int:
    from connectmap.report.excel import _Workbook

    return len(_Workbook(case, shown=[0], rejected=None, config=None, title="", operator_sheets=False).columns)


def run_openpyxl_baseline(case, path) -> str:
    """The same Schools cells with openpyxl write-only (strings as text cells, formulas as text)."""
    import numpy as np
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    from connectmap.report.excel import _Workbook

    columns = _Workbook(case, shown=[0], rejected=None, config=None, title="", operator_sheets=False).columns
    letters = {c.key: get_column_letter(i) for i, c in enumerate(columns, start=1)}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Schools")
    sheet.append([c.header for c in columns])
    templates = [c.formula.to_excel(lambda key: f"{letters[key]}{{row}}") if c.formula else None for c in columns]
    values = [c.values for c in columns]
    for i in range(len(case.schools)):
        row = []
        for column, template, data in zip(columns, templates, values, strict=True):
            if template is not None:
                row.append("=" + template.format(row=i + 2))
            elif column.kind == "text":
                cell = WriteOnlyCell(sheet, value=data[i])
                cell.data_type = "s"
                row.append(cell)
            else:
                value = data[i]
                row.append(None if value is None or np.isnan(value) else float(value))
        sheet.append(row)
    book.save(path)
    return f"{os.path.getsize(path) / 1e6:.1f} MB (Schools sheet only)"


run_openpyxl_baseline.setup = lambda n, k, path: (_case(costed_table(n, k)), path)


def baseline() -> str:
    import connectmap.report.excel  # noqa: F401

    return "imports only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=100_000)
    parser.add_argument("--operators", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also time openpyxl write-only (slow)")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    n, k = args.schools, args.operators
    size = f"{n:,} schools, {k} operators"
    book = os.path.join(WORK, "bench_case.xlsx")
    rows = [
        measure("baseline", "-", "python + connectmap.report.excel", baseline, repeats=1),
        measure("case", size, "new sites + zero-rating + case (numpy)", run_case, n, k, repeats=args.repeats),
        measure("national workbook", size, "openpyxl + streamed Schools sheet", run_workbook, n, k, book,
                repeats=args.repeats),
        measure("model + workbook", size, "as connectmap casebook after reading", run_model_and_workbook, n, k,
                book, repeats=args.repeats),
        measure("casebook", size, "national + one per operator", run_casebook, n, k,
                os.path.join(WORK, "bench_casebook"), repeats=args.repeats),
    ]
    if args.baseline:
        rows.append(measure("Schools sheet only", size, "openpyxl write-only (baseline)", run_openpyxl_baseline, n,
                            k, os.path.join(WORK, "bench_openpyxl.xlsx"), repeats=1))
    print_table(rows, title="Investment-case workbooks (benchmarks/bench_excel.py)")


if __name__ == "__main__":
    main()
