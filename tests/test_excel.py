"""The investment-case workbook without LibreOffice: structure, text safety, names, limits.

Recalculation by LibreOffice is in ``test_excel_libreoffice.py``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import unescape

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from connectmap.errors import OutputError
from connectmap.operators import add_new_sites, investment_case
from connectmap.report.excel import SHEETS, write_casebook, write_workbook
from connectmap.report.excel_cells import check_rows, defined_name, escape_ooxml, sheet_title
from connectmap.zerorating import add_zero_rating

#: Names a register may hold that a spreadsheet must never evaluate or decode.
HOSTILE = [
    '=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "=1+1", "<script>alert(1)</script>", "${jndi:ldap://x/a}",
    "{{7*7}}", "{% if x %}y{% endif %}", "a_x0041_b", "  padded  ", "tab\tand\nnewline", "=cmd|' /C calc'!A0",
]
#: Operator and region names are data too (wildcards, quotes, formulas, characters sheet names forbid).
OPERATORS = ['=HYPERLINK("x")', "Op*", "O'Brien [Mobile]/Net:?"]
REGIONS = ["=SUM(1,2)", "Nord*", None]


def hostile_schools(n: int = 36, seed: int = 7) -> gpd.GeoDataFrame:
    """A small costed table whose texts are hostile, with every kind of coverage and new sites."""
    rng = np.random.default_rng(seed)
    names = [HOSTILE[i % len(HOSTILE)] if i < 2 * len(HOSTILE) else f"School {i}" for i in range(n)]
    names[3] = "bell\x07 and lone \ud800 surrogate"
    choices = [OPERATORS[0], OPERATORS[1], f"{OPERATORS[1]};{OPERATORS[2]}", ";".join(OPERATORS), "", "", None]
    coverage = [choices[i % len(choices)] for i in range(n)]
    lon = 10.0 + rng.uniform(0, 0.3, n)
    lat = 5.0 + rng.uniform(0, 0.3, n)
    students = rng.integers(20, 800, n).astype(float)
    students[::9] = np.nan
    return gpd.GeoDataFrame({
        "source_row": np.arange(2, n + 2),
        "school_id_govt": [f"00{i}" for i in range(n)],
        # object dtype: the default string dtype cannot even hold a lone surrogate, a Python str can
        "school_name": pd.Series(names, dtype=object),
        "admin1": [REGIONS[i % len(REGIONS)] for i in range(n)],
        "num_students": students,
        "num_teachers": np.where(np.arange(n) % 5 == 0, np.nan, rng.integers(1, 30, n)),
        "connectivity": pd.array([[True, False, None][i % 3] for i in range(n)], dtype="boolean"),
        "covering_operators": pd.array(coverage, dtype="string"),
        "technology": [["cellular", "satellite", "fibre"][i % 3] for i in range(n)],
        "bandwidth_demand_mbps": np.maximum(20.0, 0.05 * np.nan_to_num(students)),
        "capex_usd": rng.uniform(500, 6000, n),
        "opex_usd_per_year": rng.uniform(100, 900, n),
        "npv_usd": rng.uniform(2000, 9000, n),
        "rollout_year": pd.array([[1, 2, None][i % 3] for i in range(n)], dtype="Int64"),
        "quality_flags": ["students_unknown" if np.isnan(s) else "" for s in students],
        "pop_within_5km": rng.uniform(100, 8000, n),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def hostile_case(**params):
    from connectmap.parameters.zerorating import ZeroRatingParams

    settings = ZeroRatingParams(**params)
    schools = add_zero_rating(add_new_sites(hostile_schools(), settings), settings)
    return investment_case(schools, settings)


def _formulas(path: Path) -> dict[str, list[str]]:
    """Every formula text in the package, by part name."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                texts = re.findall(r"<f>(.*?)</f>", package.read(name).decode("utf-8"), re.S)
                found[name] = [unescape(text) for text in texts]
    return found


_FUNCTIONS = {
    "IF", "ISNUMBER", "EXACT", "SUM", "SUMPRODUCT", "SUMIFS", "COUNTIF", "COUNTIFS", "ROWS", "COUNTBLANK", "AND",
    "INDEX", "MATCH",
}
_LITERALS = {'"equal"', '"market_share"', '"operator"', '">0"', '">=0"', '""'}


def test_no_formula_holds_data(tmp_path):
    case = hostile_case()
    path = write_workbook(case, tmp_path / "case.xlsx", rejected=pd.DataFrame({"reason": ["empty_row"],
                                                                               "Name": ["=EVIL()"]}))
    names = set(load_workbook(path).defined_names)
    formulas = [f for texts in _formulas(path).values() for f in texts]
    assert len(formulas) > 36 * 20
    token = re.compile(
        r'(?P<text>"[^"]*")|(?P<sheet>\'Cash flows\'!|Schools!|Operators!|Assumptions!)'
        r"|(?P<cell>\$?[A-Z]{1,3}\$?[0-9]+)|(?P<word>_xlfn\.[A-Z]+|[A-Za-z_][A-Za-z0-9_]*)"
        r"|(?P<number>[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?)|(?P<op>[-+*/^=(),:&<>])"
    )
    for formula in formulas:
        position = 0
        for match in token.finditer(formula):
            assert match.start() == position, f"unexpected text {formula[position:match.start()]!r} in {formula!r}"
            position = match.end()
            if match.lastgroup == "text":
                assert match.group() in _LITERALS, (match.group(), formula)
            elif match.lastgroup == "word":
                assert match.group() in _FUNCTIONS or match.group() in names, (match.group(), formula)
        assert position == len(formula), f"unexpected text {formula[position:]!r} in {formula!r}"
    for text in [*HOSTILE, *OPERATORS, *[r for r in REGIONS if r], "EVIL"]:
        assert all(text not in f for f in formulas), text


def test_texts_are_text_cells(tmp_path):
    case = hostile_case()
    path = write_workbook(case, tmp_path / "case.xlsx")
    with zipfile.ZipFile(path) as package:
        schools_xml = package.read("xl/worksheets/sheet3.xml").decode("utf-8")
    # every school name is an inline string, the OOXML escape protects _x0041_, nothing was turned into a formula
    assert '<is><t>=HYPERLINK("http://x","y")</t></is>' in schools_xml
    assert "a_x005F_x0041_b" in schools_xml
    assert '<t xml:space="preserve">  padded  </t>' in schools_xml
    book = load_workbook(path)
    sheet = book["Schools"]
    header = [c.value for c in sheet[1]]
    column = header.index("school_name") + 1
    names = [sheet.cell(row=r, column=column) for r in range(2, len(case.schools) + 2)]
    assert all(cell.data_type == "s" for cell in names if cell.value is not None)
    expected = [escape_ooxml(str(v)) for v in case.schools["school_name"]]
    expected[3] = "bell\ufffd and lone \ufffd surrogate"
    assert [cell.value for cell in names] == expected
    # operator names on the Operators sheet and region names on Regions are text too
    operators = [book["Operators"].cell(row=r, column=2) for r in range(2, 5)]
    assert [c.value for c in operators] == sorted(OPERATORS)
    assert all(c.data_type == "s" for c in operators)
    regions = [book["Regions"].cell(row=r, column=2).value for r in range(2, 5)]
    assert regions == ["=SUM(1,2)", "Nord*", "(no region)"]


def test_workbook_structure(tmp_path):
    case = hostile_case()
    written = write_casebook(case, tmp_path)
    assert [p.name for p in written] == [
        "investment_case.xlsx", "investment_case_hyperlink_x.xlsx", "investment_case_o_brien_mobile_net.xlsx",
        "investment_case_op.xlsx",
    ]
    book = load_workbook(written[0])
    # fixed sheets, then one per operator with a sanitised, unique title
    assert book.sheetnames[: len(SHEETS)] == list(SHEETS)
    operator_sheets = book.sheetnames[len(SHEETS):]
    assert operator_sheets == ['=HYPERLINK("x")', "O'Brien Mobile Net", "Op"]
    schools = book["Schools"]
    assert schools.freeze_panes == "D2"  # source_row, school_id_govt and school_name stay in view
    assert schools.auto_filter.ref == f"A1:{schools.cell(1, schools.max_column).column_letter}{len(case.schools) + 1}"
    assert schools.max_row == len(case.schools) + 1
    # every Assumptions parameter is a defined name pointing at its value cell
    names = book.defined_names
    for name in ("zr_network_cost_usd_per_gb", "zr_split", "case_horizon_years", "market_share_op1",
                 "operator_name_op3", "zr_named_operator_no", "col_zero_rating_usd_per_year"):
        assert name in names, name
    sheet, cell = next(iter(names["zr_network_cost_usd_per_gb"].destinations))
    assert sheet == "Assumptions" and book[sheet][cell].value == 0.5
    # formula columns hold formulas on every row, value columns hold values
    header = [c.value for c in schools[1]]
    zr = header.index("zero_rating_usd_per_year") + 1
    assert all(str(schools.cell(r, zr).value).startswith("=") for r in range(2, len(case.schools) + 2))
    assert schools.cell(2, zr).number_format == "#,##0.00"
    assert isinstance(schools.cell(3, header.index("num_students") + 1).value, float)
    assert schools.cell(2, header.index("num_students") + 1).value is None  # unknown stays blank
    # charts on the Summary sheet
    assert len(book["Summary"]._charts) == 3
    # the operator workbook holds only its schools
    op_book = load_workbook(written[3])
    assert op_book.sheetnames == list(SHEETS)
    k = case.operators.index("Op*") + 1
    assert op_book["Schools"].max_row == int(case.schools_of("Op*").sum()) + 1 < len(case.schools) + 1
    assert op_book["Operators"].cell(2, 1).value == k
    assert op_book["Operators"].max_row == 2


def test_cached_values_are_the_model(tmp_path):
    case = hostile_case()
    path = write_workbook(case, tmp_path / "case.xlsx")
    book = load_workbook(path, data_only=True)
    sheet = book["Schools"]
    header = [c.value for c in sheet[1]]
    for key in ("zero_rating_usd_per_year", "share_op2", "line_usd_per_year", "new_site_capex_usd"):
        column = header.index(key) + 1 if key in header else next(
            i for i, h in enumerate(header, 1) if str(h).startswith(key))
        cached = [sheet.cell(r, column).value for r in range(2, len(case.schools) + 2)]
        np.testing.assert_allclose(np.array(cached, dtype=float), case.values[key])
    operators = book["Operators"]
    metrics = [str(c.value).split(" [")[0] for c in operators[1]]
    total_row = 2 + len(case.operators)
    column = metrics.index("operator_npv_usd") + 1
    assert operators.cell(total_row, column).value == pytest.approx(case.by_operator.loc["All operators",
                                                                                        "operator_npv_usd"])
    off = write_workbook(case, tmp_path / "bare.xlsx", cached_values=False)
    bare = load_workbook(off, data_only=True)["Operators"]
    assert bare.cell(total_row, column).value is None


def test_sheet_titles_and_names_are_sanitised():
    assert sheet_title("O'Brien [Mobile]/Net:?") == "O'Brien Mobile Net"
    assert sheet_title("'quoted'") == "quoted"
    assert sheet_title("History") == "Sheet History"
    assert sheet_title("x" * 40) == "x" * 31
    assert sheet_title("Summary", ["summary"]) == "Summary (2)"
    assert sheet_title("x" * 40, ["x" * 31]) == "x" * 27 + " (2)"
    assert sheet_title("\x00\ud800") == "Sheet"
    assert defined_name("A1") == "_A1"
    assert defined_name("R1C1") == "_R1C1"
    assert defined_name("9 lives") == "_9_lives"
    assert defined_name("ok", ["OK"]) == "ok_2"
    assert escape_ooxml("a_x0041_b_x12_") == "a_x005F_x0041_b_x12_"


def test_too_many_schools_for_one_sheet_is_refused():
    check_rows(1_048_575)
    with pytest.raises(OutputError, match=r"1,048,576 schools do not fit one Excel sheet.*region"):
        check_rows(1_048_576)


def test_never_writes_over_an_input(tmp_path):
    from connectmap.report.files import protect_inputs

    target = tmp_path / "investment_case.xlsx"
    target.write_bytes(b"input")
    protect_inputs([target])
    with pytest.raises(OutputError, match="input"):
        write_workbook(hostile_case(), target)
    assert target.read_bytes() == b"input"


def test_casebook_command(run_cli, tmp_path):
    from connectmap.io.tables import read_table
    from connectmap.operators import ALL_OPERATORS
    from connectmap.report.tables import write_csv, write_geopackage

    table = hostile_schools()
    table["school_name"] = table["school_name"].str.replace("\ud800", "", regex=False)  # files hold no lone surrogates
    table["longitude"], table["latitude"] = table.geometry.x, table.geometry.y
    costed = write_geopackage(table, tmp_path / "costed.gpkg")
    rejected = write_csv(pd.DataFrame({"source_row": [40], "reason": ["missing_coordinates"],
                                       "Name": ["=HYPERLINK(1)"]}), tmp_path / "rejected.csv")
    code, out, err = run_cli("casebook", costed, "--rejected", rejected, "--out", tmp_path / "out")
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["investment_case.xlsx", "investment_case_hyperlink_x.xlsx",
                       "investment_case_o_brien_mobile_net.xlsx", "investment_case_op.xlsx"]
    # the workbook's figures are the model's, computed here from the same file
    expected = investment_case(add_zero_rating(add_new_sites(read_table(costed)))).by_operator
    book = load_workbook(tmp_path / "out" / "investment_case.xlsx", data_only=True)
    sheet = book["Operators"]
    header = [str(c.value).split(" [")[0] for c in sheet[1]]
    total = next(row for row in sheet.iter_rows(values_only=True) if row[1] == ALL_OPERATORS)
    for metric in ("zero_rating_cost_usd_per_year", "line_revenue_usd_per_year", "operator_npv_usd"):
        assert total[header.index(metric)] == pytest.approx(expected.loc[ALL_OPERATORS, metric], abs=0.005)
    assert f"{expected.loc[ALL_OPERATORS, 'zero_rating_gb_per_year']:,.0f} GB/year" in out
    quality = [row for row in book["Data quality"].iter_rows(values_only=True) if row[0]]
    assert ("=HYPERLINK(1)" in [cell for row in quality for cell in row])
    assert any(str(row[0]).startswith("Rejected rows: 1") for row in quality)
    # a table that was never enriched: one line naming the column and the fix, exit status 2
    write_geopackage(table.drop(columns=["covering_operators"]), tmp_path / "bare.gpkg")
    code, out, err = run_cli("casebook", tmp_path / "bare.gpkg", "--out", tmp_path / "out2")
    assert code == 2
    assert "covering_operators" in err and "connectmap enrich" in err and "Traceback" not in err
