"""LibreOffice (headless) recalculates the investment-case workbooks: every total equals the Python model to the
cent, before and after an assumption is changed in the file; sums over operators and regions reconcile; hostile
texts survive as typed.

LibreOffice runs with a profile of its own in ``tmp_path`` whose settings say "always recalculate" for Excel files,
so it computes every formula itself instead of trusting cached results. The workbooks are written without cached
results first, and after the assumption change openpyxl drops them all, so numbers can only come from LibreOffice.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from connectmap.operators import ALL_OPERATORS, CASH_FLOW_ITEMS, OPERATOR_METRICS, investment_case
from connectmap.parameters.zerorating import OperatorCaseParams, ZeroRatingParams
from connectmap.report.excel import write_casebook, write_workbook
from tests.conftest import shared_file
from tests.test_excel import HOSTILE, OPERATORS, hostile_case

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(
        SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc"
    ),
]

_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""
CENT = 0.005


def soffice(work: Path, source: Path, convert_to: str, outdir: Path) -> Path:
    """Run LibreOffice headless with a private always-recalculate profile; returns the converted file."""
    profile = work / "lo_profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")
    outdir.mkdir(parents=True, exist_ok=True)
    command = [
        SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--nolockcheck",
        "--convert-to", convert_to, "--outdir", str(outdir), str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    extension = convert_to.split(":")[0]
    # one sheet exported to CSV is named <stem>-<sheet>.csv
    found = sorted(outdir.glob(f"{source.stem}.{extension}")) or sorted(outdir.glob(f"{source.stem}-*.{extension}"))
    assert found, f"LibreOffice failed ({done.returncode}): {done.stdout} {done.stderr}"
    return found[0]


def recalculate(path: Path, work: Path) -> Path:
    """The workbook as LibreOffice recalculated and saved it."""
    return soffice(work, path, "xlsx:Calc MS Excel 2007 XML", work / f"recalculated_{path.stem}")


def _number(value):
    if value is None or value == "":
        return math.nan
    return float(value)


def _close(actual, expected, what: str) -> None:
    actual, expected = _number(actual), float(expected)
    if math.isnan(expected):
        assert math.isnan(actual), f"{what}: expected empty, LibreOffice gives {actual}"
        return
    assert abs(actual - expected) <= CENT, f"{what}: LibreOffice {actual!r} != Python {expected!r}"


def operators_sheet(book) -> dict[str, dict[str, float]]:
    """Operators sheet values: operator label -> metric -> value."""
    sheet = book["Operators"]
    header = [str(c.value).split(" [")[0] for c in sheet[1]]
    rows = {}
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if not isinstance(row[0], int | float) and row[1] != ALL_OPERATORS:
            continue  # the difference row and the note
        rows[str(row[1])] = {h: v for h, v in zip(header[2:], row[2:], strict=False)}
    return rows


def check_against_model(book, case, operators: list[str]) -> None:
    """Every formula total of a recalculated workbook equals the Python model to the cent."""
    values = operators_sheet(book)
    assert sorted(values) == sorted(operators)
    for label in operators:
        for metric in OPERATOR_METRICS:
            _close(values[label][metric], case.by_operator.loc[label, metric], f"Operators {label} {metric}")
    # per school: every formula column
    sheet = book["Schools"]
    header = [str(c.value).split(" (")[0] for c in sheet[1]]
    columns = {key: [row[i] for row in sheet.iter_rows(min_row=2, values_only=True)] for i, key in enumerate(header)}
    for key, _ in case.formulas.formulas:
        got = np.array([_number(v) for v in columns[key]])
        np.testing.assert_allclose(got, case.values[key], atol=CENT, rtol=0, err_msg=f"Schools {key}")
    # cash flows of each operator shown
    cash = list(book["Cash flows"].iter_rows(values_only=True))
    blocks = {str(row[0]): i for i, row in enumerate(cash) if row[0] in operators}
    for label, start in blocks.items():
        for offset, item in enumerate(CASH_FLOW_ITEMS, start=1):
            row = cash[start + offset]
            assert row[1] == item
            np.testing.assert_allclose([_number(v) for v in row[2:33]], case.cash_flows[label].loc[item].to_numpy(),
                                       atol=CENT, rtol=0, err_msg=f"Cash flows {label} {item}")


@pytest.fixture(scope="module")
def hostile():
    return hostile_case()


def test_libreoffice_totals_equal_the_model_to_the_cent(hostile, tmp_path):
    path = write_workbook(hostile, tmp_path / "case.xlsx", cached_values=False)
    book = load_workbook(recalculate(path, tmp_path), data_only=True)
    check_against_model(book, hostile, [*hostile.operators, ALL_OPERATORS])
    # reconciliation in the recalculated file: operators add up to the nation, regions too
    values = operators_sheet(book)
    for metric, (_, _, additive) in OPERATOR_METRICS.items():
        if additive:
            total = sum(_number(values[o][metric]) for o in hostile.operators)
            assert abs(total - _number(values[ALL_OPERATORS][metric])) <= CENT, metric
    regions = list(book["Regions"].iter_rows(values_only=True))
    header = [str(h).split(" [")[0] for h in regions[0]]
    region_rows = [r for r in regions[1:] if isinstance(r[0], int | float)]
    total_row = next(r for r in regions if r[1] == "All schools (from the Schools sheet)")
    assert [r[1] for r in region_rows] == hostile.region_labels
    for name in ("zero_rating_usd_per_year", "zero_rating_in_kind_usd_per_year", "line_usd_per_year",
                 "new_site_capex_usd", "students", "capex_usd"):
        j = header.index(name)
        region_sum = sum(_number(r[j]) for r in region_rows)
        assert abs(region_sum - _number(total_row[j])) <= CENT, name
        _close(region_sum, hostile.by_region[name].sum(), f"Regions {name}")
    for name, metric in (("zero_rating_usd_per_year", "zero_rating_cost_usd_per_year"),
                         ("line_usd_per_year", "line_revenue_usd_per_year"), ("new_sites", "new_sites")):
        _close(total_row[header.index(name)], values[ALL_OPERATORS][metric], f"Regions total {name}")
    # rollout per year from the plan column
    rollout = list(book["Rollout"].iter_rows(values_only=True))
    years = np.array(hostile.schools["rollout_year"].astype("Float64").fillna(np.nan).to_numpy(dtype=float))
    for row in rollout[1:3]:
        mask = years == row[0]
        assert row[1] == mask.sum()
        _close(row[3], hostile.schools["capex_usd"].to_numpy()[mask].sum(), f"Rollout {row[0]} capex")


def test_changing_an_assumption_in_the_file_follows_the_model(hostile, tmp_path):
    path = write_workbook(hostile, tmp_path / "case.xlsx")
    book = load_workbook(path)  # keeps formulas; every cached result is dropped on save
    names = book.defined_names

    def set_value(name: str, value) -> None:
        sheet, cell = next(iter(names[name].destinations))
        book[sheet][cell.replace("$", "")].value = value

    set_value("zr_network_cost_usd_per_gb", 1.25)
    set_value("case_connection_price_usd_per_mbps_per_year", 12.0)
    set_value("zr_split", "market_share")
    for k, share in enumerate((50.0, 30.0, 20.0), start=1):
        set_value(f"market_share_op{k}", share)
    set_value("case_horizon_years", 7)
    changed = tmp_path / "changed.xlsx"
    book.save(changed)
    recalculated = load_workbook(recalculate(changed, tmp_path), data_only=True)

    params = ZeroRatingParams(
        network_cost_usd_per_gb=1.25, split="market_share",
        market_share_pct=dict(zip(hostile.operators, (50.0, 30.0, 20.0), strict=True)),
        case=OperatorCaseParams(connection_price_usd_per_mbps_per_year=12.0, horizon_years=7),
    )
    model = investment_case(hostile.schools, params)
    check_against_model(recalculated, model, [*model.operators, ALL_OPERATORS])
    before = hostile.by_operator.loc[ALL_OPERATORS, "zero_rating_cost_usd_per_year"]
    after = operators_sheet(recalculated)[ALL_OPERATORS]["zero_rating_cost_usd_per_year"]
    assert after > before * 1.5  # the change did reach the totals


def test_named_operator_rule_switched_in_the_file(hostile, tmp_path):
    path = write_workbook(hostile, tmp_path / "case.xlsx")
    book = load_workbook(path)
    names = book.defined_names
    for name, value in (("zr_split", "operator"), ("zr_named_operator", "Op*")):
        sheet, cell = next(iter(names[name].destinations))
        book[sheet][cell.replace("$", "")].value = value
        book[sheet][cell.replace("$", "")].data_type = "s"
    book.save(tmp_path / "named.xlsx")
    recalculated = load_workbook(recalculate(tmp_path / "named.xlsx", tmp_path), data_only=True)
    model = investment_case(hostile.schools, ZeroRatingParams(split="operator", named_operator="Op*"))
    check_against_model(recalculated, model, [*model.operators, ALL_OPERATORS])
    values = operators_sheet(recalculated)
    # "Op*" is compared exactly, never as a wildcard: "Op*" is not "O'Brien..." or "=HYPERLINK..."
    assert values["O'Brien [Mobile]/Net:?"]["zero_rating_gb_per_year"] == 0
    assert values['=HYPERLINK("x")']["schools_served"] == 0


def test_operator_workbooks_hold_the_national_figures(hostile, tmp_path):
    written = write_casebook(hostile, tmp_path / "out")
    national = load_workbook(recalculate(written[0], tmp_path), data_only=True)
    national_values = operators_sheet(national)
    for path in written[1:]:
        book = load_workbook(recalculate(path, tmp_path), data_only=True)
        values = operators_sheet(book)
        (operator,) = values
        for metric in OPERATOR_METRICS:
            _close(values[operator][metric], _number(national_values[operator][metric]), f"{path.name} {metric}")
        summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
        _close(summary["Operator NPV at its discount rate"], hostile.by_operator.loc[operator, "operator_npv_usd"],
               "Summary NPV")


def test_hostile_texts_survive_libreoffice(hostile, tmp_path):
    path = write_workbook(hostile, tmp_path / "case.xlsx")
    # LibreOffice's own reading of the Schools sheet (sheet 3), exported as CSV: every name as typed
    exported = soffice(tmp_path, path, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,3",
                       tmp_path / "csv")
    with exported.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("school_name")
    names = [row[column] for row in rows[1:]]
    expected = [str(v) for v in hostile.schools["school_name"]]
    expected[3] = "bell\ufffd and lone \ufffd surrogate"
    assert names == expected
    assert set(HOSTILE) <= set(names)
    # and after LibreOffice saved it as xlsx again, still text, never a formula
    book = load_workbook(recalculate(path, tmp_path))
    sheet = book["Schools"]
    header = [c.value for c in sheet[1]]
    cells = [sheet.cell(row=r, column=header.index("school_name") + 1) for r in range(2, len(names) + 2)]
    assert all(c.data_type == "s" for c in cells)
    # (LibreOffice writes _x0041_ back unescaped, so compare the stored text itself)
    assert [c.value for c in cells] == expected
    operators = [book["Operators"].cell(row=r, column=2).value for r in range(2, 2 + len(OPERATORS))]
    assert operators == sorted(OPERATORS)


@pytest.mark.slow
def test_mauritania_end_to_end(tmp_path):
    """The real register, towers, fibre and population: enrich, cost, case, workbook, recalculated."""
    from connectmap.cost import add_costs
    from connectmap.enrich import enrich
    from connectmap.io import open_raster, read_fibre, read_schools, read_towers
    from connectmap.io.boundaries import read_outline
    from connectmap.operators import add_new_sites
    from connectmap.validate import validate_schools
    from connectmap.zerorating import add_zero_rating

    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    folder = register.parent
    schools = read_schools(register, columns={"admin1": "Wilaya"})
    result = validate_schools(schools, boundary=read_outline(folder / "ne10m_MRT_admin0.geojson"))
    table = enrich(
        result.clean,
        towers=read_towers(folder / "mauritania_towers_from_register.csv"),
        fibre=read_fibre([folder / "MRT_nodes.geojson", folder / "MRT_lines.geojson"]),
        population=open_raster(folder / "derived_afripop2020_MRT_clip.tif", kind="population", value="density"),
    )
    table = add_costs(table)
    table = add_zero_rating(add_new_sites(table))
    case = investment_case(table)
    assert case.operators == ["MA", "MC", "MR"]
    assert len(case.schools) == 2939
    path = write_workbook(case, tmp_path / "mauritania.xlsx", rejected=result.rejected, cached_values=False)
    book = load_workbook(recalculate(path, tmp_path), data_only=True)
    check_against_model(book, case, [*case.operators, ALL_OPERATORS])
    # totals by wilaya add up to the national figures, and match a pandas group-by of the per-school values
    regions = list(book["Regions"].iter_rows(values_only=True))
    header = [str(h).split(" [")[0] for h in regions[0]]
    by_wilaya = pd.Series(case.values["zero_rating_usd_per_year"]).groupby(
        case.schools["admin1"].fillna("(no region)").to_numpy()).sum()
    j = header.index("zero_rating_usd_per_year")
    for row in regions[1:]:
        if isinstance(row[0], int | float):
            _close(row[j], by_wilaya[row[1]], f"wilaya {row[1]}")
    quality = [row[0] for row in book["Data quality"].iter_rows(values_only=True) if row[0]]
    assert any(str(text).startswith("Rejected rows: 3") for text in quality)
