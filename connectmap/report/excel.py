"""The investment-case workbooks: live Excel formulas that follow the assumptions a negotiator changes.

:func:`write_casebook` writes the ministry's national workbook and one workbook per operator (only that operator's
schools); :func:`write_workbook` writes one. Sheets:

* **Summary** — headline figures (formulas) and native charts;
* **Assumptions** — every parameter of the zero-rating model and the investment case: value (yellow cells are
  inputs), unit, low/base/high, source; each value cell is a defined name (``zr_<parameter>``,
  ``case_<parameter>``) and the formulas use those names; the operators with their market shares; parameters of
  earlier steps for reference;
* **Schools** — one row per school: the data as values, and every zero-rating, line and new-site column as a formula
  of the row and the Assumptions names (from :func:`connectmap.operators.full_formulas`, the same table the Python
  model evaluates);
* **Operators** — per operator: sums over the Schools sheet (``SUMPRODUCT`` with the operator's share column,
  ``SUMIFS``/``COUNTIFS`` on operator and region numbers), NPV and payback from the Cash flows sheet, the ministry's
  view; the all-operators row from the Schools columns themselves, and a difference row that shows they reconcile;
* **Cash flows** — per operator, years 0..30 (years past the horizon are 0);
* **Regions** — per admin1 region, ``SUMIFS`` over the Schools sheet, a total and a difference row;
* **Rollout** — the cost model's budget plan per rollout year (when the table has ``rollout_year``);
* **Data quality** — unknown values, quality flags, rejected rows;
* **Method and sources** — every formula in words, every column, every source;
* one sheet per operator (national workbook) — that operator's case on one page.

Safety: every text is a string cell (never a formula), cleaned of XML-illegal characters (logged); sheet and
defined names are sanitised; text from data never appears inside a formula — operators and regions are referred to
by number, and text is compared only with ``EXACT`` against Assumptions cells. Tables larger than one sheet
(1,048,575 schools) are refused with a message. Formulas of every sheet carry the Python model's values as cached
results.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from connectmap.columns import COLUMNS, QUALITY_FLAGS
from connectmap.operators import (
    ALL_OPERATORS,
    CASH_FLOW_ITEMS,
    COST_SUMS,
    LINE,
    LINE_MBPS,
    LINE_USD,
    MAX_YEARS,
    NEW_SITE_CAPEX,
    NEW_SITE_ID,
    NEW_SITE_LEAD,
    NEW_SITE_OPEX,
    NEW_SITE_POPULATION,
    NEW_SITE_REVENUE,
    OPERATOR_METRICS,
    REGION_SUMS,
    STUDENTS_CONNECTED,
    InvestmentCase,
)
from connectmap.parameters import iter_parameters
from connectmap.parameters.zerorating import OperatorCaseParams, ZeroRatingParams
from connectmap.quality import CODES, count_flags
from connectmap.report.excel_cells import (
    BOLD,
    INPUT_FILL,
    TITLE_FONT,
    CellWriter,
    TextLog,
    check_rows,
    number_format,
    quote_sheet,
    sheet_title,
)
from connectmap.report.excel_schools import SchoolColumn, SchoolRows, finish_package, render_texts
from connectmap.report.files import atomic_path
from connectmap.zerorating import (
    COVERING_OPERATORS,
    LEARNING_GB,
    NAMED_OPERATOR_NO,
    NEW_SITE,
    NEW_SITE_NEAREST_NO,
    NEW_SITE_OPERATOR_NO,
    SERVING_COUNT,
    STUDENTS_USED,
    ZERO_RATED_SHARE,
    ZERO_RATING_EXCLUDED_GB,
    ZERO_RATING_GB,
    ZERO_RATING_IN_KIND,
    ZERO_RATING_USD,
    case_name,
    covers_column,
    market_share_name,
    operator_name_name,
    param_name,
    share_column,
)

log = logging.getLogger(__name__)

__all__ = ["SHEETS", "write_casebook", "write_workbook"]

SUMMARY, ASSUMPTIONS, SCHOOLS, OPERATORS = "Summary", "Assumptions", "Schools", "Operators"
CASH, REGIONS, ROLLOUT, QUALITY, METHOD = "Cash flows", "Regions", "Rollout", "Data quality", "Method and sources"
#: The fixed sheets, in order (operator sheets follow).
SHEETS = (SUMMARY, ASSUMPTIONS, SCHOOLS, OPERATORS, CASH, REGIONS, ROLLOUT, QUALITY, METHOD)
ROLLOUT_YEAR = "rollout_year"
FIRST_YEAR_COLUMN = 3  # Cash flows: column C is year 0
#: Parameters applied when the workbook is built; changing them in the workbook changes nothing.
NOT_LIVE = {case_name("lines_for"), case_name("new_site_operator"), case_name("new_site_radius_km")}

_TEXT_COLUMNS = (
    "school_id_giga", "school_id_govt", "school_name", "education_level", "admin1", "admin2",
    "cellular_coverage_type", COVERING_OPERATORS, "technology", "cost_status",
)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _col(key: str) -> str:
    """Defined name of a Schools column's data range."""
    return f"col_{key}"


@dataclass
class _Layout:
    """Where things are in the workbook, for formulas on other sheets."""

    op_rows: dict[int, int] = field(default_factory=dict)  # operator number (0 = all) -> Operators row
    op_cols: dict[str, str] = field(default_factory=dict)  # metric -> Operators column letter
    cf_rows: dict[tuple[int, str], int] = field(default_factory=dict)  # (operator number, item) -> Cash flows row
    operator_titles: dict[int, str] = field(default_factory=dict)


class _Workbook:
    """Builds one workbook for ``case``; ``shown`` are the operator numbers with rows (0 = all operators)."""

    def __init__(
        self, case: InvestmentCase, *, shown: list[int], rejected: pd.DataFrame | None, config: Any,
        title: str, operator_sheets: bool,
    ) -> None:
        self.case = case
        self.shown = shown
        self.rejected = rejected
        self.config = config
        self.title = title
        self.operator_sheets = operator_sheets
        self.n = len(case.schools)
        self.last_row = max(self.n + 1, 2)
        self.text_log = TextLog()
        self.wb = Workbook()
        self.writers: dict[str, CellWriter] = {}
        self.layout = _Layout()
        self.columns = self._school_columns()
        self.by_operator = case.by_operator

    # -- helpers ---------------------------------------------------------------------------------------------------
    def sheet(self, title: str) -> CellWriter:
        if title not in self.writers:
            ws = self.wb.active if not self.writers else self.wb.create_sheet()
            ws.title = title
            self.writers[title] = CellWriter(ws, self.text_log)
        return self.writers[title]

    def name(self, name: str, sheet: str, reference: str) -> None:
        self.wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheet(sheet)}!{reference}")

    def metric_value(self, k: int, metric: str) -> float | None:
        label = ALL_OPERATORS if k == 0 else self.case.operators[k - 1]
        return _finite(self.by_operator.loc[label, metric])

    def op_cell(self, k: int, metric: str, absolute: bool = True) -> str:
        dollar = "$" if absolute else ""
        return f"{OPERATORS}!{dollar}{self.layout.op_cols[metric]}{dollar}{self.layout.op_rows[k]}"

    # -- Schools ---------------------------------------------------------------------------------------------------
    def _school_columns(self) -> list[SchoolColumn]:
        case = self.case
        table = case.schools
        inputs = case.inputs
        names = case.operators
        columns: list[SchoolColumn] = []

        def meaning(key: str, fallback: str = "") -> tuple[str, str]:
            if key in COLUMNS:
                return COLUMNS[key].meaning, COLUMNS[key].unit
            return fallback, ""

        if "source_row" in table.columns:
            columns.append(SchoolColumn(
                "source_row", "source_row", "number", "number",
                pd.to_numeric(table["source_row"], errors="coerce").to_numpy(dtype=np.float64),
                note=meaning("source_row")[0], width=10,
            ))
        for key in _TEXT_COLUMNS[:6]:
            if key in table.columns:
                columns.append(SchoolColumn(
                    key, key, "text", "text", _object_values(table[key]), note=meaning(key)[0],
                    width=30 if key == "school_name" else 16,
                ))
        columns.append(SchoolColumn(
            "region_no", "region_no", "number", "number", case.region_no.astype(np.float64),
            note="Region number (admin1) in the Regions sheet", width=9,
        ))
        for key in ("num_students", "num_teachers"):
            columns.append(SchoolColumn(
                key, key, "count", "number", inputs[key], note=meaning(key)[0] + " (empty: unknown)", width=11,
            ))
        if "connectivity" in table.columns:
            from connectmap.table import boolean_column

            columns.append(SchoolColumn(
                "connectivity", "connectivity", "flag", "bool", boolean_column(table, "connectivity"),
                note=meaning("connectivity")[0], width=11,
            ))
        for key in ("cellular_coverage_type", COVERING_OPERATORS):
            if key in table.columns:
                values = _object_values(table[key])
                if key == COVERING_OPERATORS:
                    values = np.where(case.coverage_known, np.where(pd.isna(values), "", values), "unknown")
                columns.append(SchoolColumn(
                    key, key, "text", "text", values,
                    note=meaning(key, "Operators covering the school now, joined by ';' (unknown: not known)")[0],
                    width=16,
                ))
        for k, name in enumerate(names, start=1):
            columns.append(SchoolColumn(
                covers_column(k), f"{covers_column(k)} ({name})", "flag", "number", inputs[covers_column(k)],
                note=f"1 when operator {k} ({name}) covers the school now, else 0", width=12,
            ))
        for key in ("technology", "cost_status"):
            if key in table.columns:
                columns.append(SchoolColumn(key, key, "text", "text", _object_values(table[key]),
                                            note=meaning(key)[0], width=12))
        columns.append(SchoolColumn(
            "bandwidth_demand_mbps", "bandwidth_demand_mbps", "Mbps", "number", inputs["bandwidth_demand_mbps"],
            note=meaning("bandwidth_demand_mbps", "Bandwidth the school needs")[0], width=12,
        ))
        for key in COST_SUMS:
            if key in table.columns:
                from connectmap.table import numeric_column

                columns.append(SchoolColumn(
                    key, key, "USD", "number", numeric_column(table, key),
                    note=meaning(key)[0] + " (cost model; value, not a formula)", width=14,
                ))
        for key, unit in ((LINE, "flag"), (NEW_SITE, "flag")):
            columns.append(SchoolColumn(key, key, unit, "number", inputs[key], note=meaning(key)[0], width=9))
        if NEW_SITE_ID in table.columns:
            columns.append(SchoolColumn(NEW_SITE_ID, NEW_SITE_ID, "text", "text", _object_values(table[NEW_SITE_ID]),
                                        note=meaning(NEW_SITE_ID)[0], width=12))
        for key, unit in ((NEW_SITE_LEAD, "flag"), (NEW_SITE_NEAREST_NO, "number"), (NEW_SITE_POPULATION, "people")):
            columns.append(SchoolColumn(key, key, unit, "number", inputs[key], note=meaning(key)[0], width=12))
        if ROLLOUT_YEAR in table.columns:
            from connectmap.table import numeric_column

            columns.append(SchoolColumn(
                ROLLOUT_YEAR, ROLLOUT_YEAR, "year", "number", numeric_column(table, ROLLOUT_YEAR),
                note="Year of the budget rollout plan in which the school is connected (empty: not in the plan)",
                width=10,
            ))
        if QUALITY_FLAGS in table.columns:
            columns.append(SchoolColumn(QUALITY_FLAGS, QUALITY_FLAGS, "text", "text",
                                        _object_values(table[QUALITY_FLAGS]), note=meaning(QUALITY_FLAGS)[0],
                                        width=20))
        for key, expr in case.formulas.formulas:
            unit = case.formulas.units[key]
            header, note = key, meaning(key)[0]
            if key.startswith("share_op"):
                k = int(key.removeprefix("share_op"))
                header = f"{key} ({names[k - 1]})"
                note = f"Part of the school operator {k} ({names[k - 1]}) carries: traffic and line (0..1)"
            columns.append(SchoolColumn(
                key, header, unit, "formula", case.values[key], formula=expr,
                note=f"{note} [{unit}]. Formula: {expr.to_text()}", width=14,
            ))
        return columns

    def write_schools(self) -> None:
        w = self.sheet(SCHOOLS)
        ws = w.sheet
        w.header(1, [column.header for column in self.columns])
        for i, column in enumerate(self.columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = column.width
            placeholder = ws.cell(row=2, column=i)
            placeholder.number_format = number_format(column.unit)
            if column.note:
                ws.cell(row=1, column=i).comment = Comment(_plain(column.note), "connectmap", width=320, height=140)
            self.name(_col(column.key), SCHOOLS, f"${letter}$2:${letter}${self.last_row}")
        keys = [column.key for column in self.columns]
        freeze = keys.index("school_name") + 2 if "school_name" in keys else 1
        ws.freeze_panes = f"{get_column_letter(min(freeze, 6))}2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{max(self.n + 1, 1)}"

    # -- Assumptions -----------------------------------------------------------------------------------------------
    def write_assumptions(self) -> None:
        w = self.sheet(ASSUMPTIONS)
        ws = w.sheet
        case = self.case
        w.text(1, 1, "Assumptions").font = TITLE_FONT
        w.text(2, 1, "Yellow cells are inputs: change them and every formula in the workbook follows. 'Live = no' "
                     "parameters were applied when connectmap built the workbook; rerun connectmap casebook to "
                     "change them.", wrap=True)
        ws.merge_cells("A2:J2")
        ws.row_dimensions[2].height = 32
        headers = ["Parameter", "Value", "Unit", "Low", "Base", "High", "Live", "Description", "Source", "Name"]
        w.header(4, headers)
        row = 5
        defaults = ZeroRatingParams()
        for section, prefix, params, base in (
            ("zerorating", param_name, case.params, defaults),
            ("zerorating.case", case_name, case.params.case, OperatorCaseParams()),
        ):
            infos = {info.path: info for info in iter_parameters(params)}
            for field_name in type(params).model_fields:
                if field_name in ("case", "market_share_pct"):
                    continue
                info = infos[field_name]
                name = prefix(field_name)
                value = case.assumptions.get(name)
                w.text(row, 1, f"{section}.{field_name}")
                description = info.description
                if field_name == "students_if_unknown" and params.students_if_unknown is None:
                    description += " (not set: the median of the known counts is shown)"
                cell = w.text(row, 2, value) if isinstance(value, str) else w.number(row, 2, value, info.unit)
                live = name not in NOT_LIVE
                if live:
                    cell.fill = INPUT_FILL
                w.text(row, 3, info.unit)
                for column, extra in ((4, info.low), (5, getattr(base, field_name)), (6, info.high)):
                    if isinstance(extra, str):
                        w.text(row, column, extra)
                    elif extra is not None:
                        w.number(row, column, extra, info.unit)
                w.text(row, 7, "yes" if live else "no")
                w.text(row, 8, description, wrap=True)
                w.text(row, 9, info.source or "connectmap (a choice, not a measured value)", wrap=True)
                w.text(row, 10, name)
                self.name(name, ASSUMPTIONS, f"$B${row}")
                if field_name == "split":
                    validation = DataValidation(type="list", formula1='"equal,market_share,operator"',
                                                allow_blank=False)
                    ws.add_data_validation(validation)
                    validation.add(cell.coordinate)
                row += 1
        row += 1
        w.text(row, 1, "Operators", bold=True)
        row += 1
        w.header(row, ["No", "Operator", "Market share (%)", "Name of the share cell"])
        row += 1
        first = row
        for k, operator in enumerate(case.operators, start=1):
            w.number(row, 1, k, "number")
            w.text(row, 2, operator)
            share = w.number(row, 3, case.assumptions[market_share_name(k)], "%")
            share.fill = INPUT_FILL
            w.text(row, 4, market_share_name(k))
            self.name(operator_name_name(k), ASSUMPTIONS, f"$B${row}")
            self.name(market_share_name(k), ASSUMPTIONS, f"$C${row}")
            row += 1
        last = row - 1
        if case.operators:
            validation = DataValidation(type="list", formula1=f"$B${first}:$B${last}", allow_blank=True)
            ws.add_data_validation(validation)
            named_row = next(r for r in range(5, first) if ws.cell(r, 10).value == param_name("named_operator"))
            validation.add(f"B{named_row}")
        row += 1
        w.text(row, 1, "Number of the named operator (0: none)")
        formula = (
            f"SUMPRODUCT(EXACT({param_name('named_operator')},$B${first}:$B${last})*$A${first}:$A${last})"
            if case.operators else "0"
        )
        w.formula(row, 2, formula, case.assumptions[NAMED_OPERATOR_NO], "number")
        w.text(row, 10, NAMED_OPERATOR_NO)
        self.name(NAMED_OPERATOR_NO, ASSUMPTIONS, f"$B${row}")
        row += 2
        row = self._reference_parameters(w, row)
        for column, width in zip("ABCDEFGHIJ", (44, 14, 16, 10, 10, 10, 6, 60, 50, 34), strict=True):
            ws.column_dimensions[column].width = width
        ws.freeze_panes = "B5"

    def _reference_parameters(self, w: CellWriter, row: int) -> int:
        if self.config is None:
            return row
        infos = [info for info in iter_parameters(self.config) if not info.path.startswith("zerorating.")]
        if not infos:
            return row
        w.text(row, 1, "Parameters of the earlier steps (for reference: changing them here changes nothing; "
                       "rerun connectmap)", bold=True)
        row += 1
        w.header(row, ["Parameter", "Value", "Unit", "Low", "Base", "High", "", "Description", "Source"])
        row += 1
        for info in infos:
            w.text(row, 1, info.path)
            _reference_value(w, row, 2, info.value, info.unit)
            w.text(row, 3, info.unit)
            for column, extra in ((4, info.low), (6, info.high)):
                _reference_value(w, row, column, extra, info.unit)
            w.text(row, 8, info.description, wrap=False)
            w.text(row, 9, info.source or "")
            row += 1
        return row

    # -- Operators -------------------------------------------------------------------------------------------------
    def operator_rows(self) -> list[int]:
        return self.shown

    def _operator_formula(self, metric: str, k: int, row: int) -> str:
        """Formula of one operator metric (``k = 0``: all operators from the Schools columns)."""
        cell = {m: f"{letter}{row}" for m, letter in self.layout.op_cols.items()}
        off = param_name("off_ministry_share_pct")
        unit_cost = (f"({param_name('network_cost_usd_per_gb')}+{param_name('forgone_revenue_share_pct')}/100*"
                     f"{param_name('retail_price_usd_per_gb')})")
        price = case_name("connection_price_usd_per_mbps_per_year")
        line_cost = case_name("line_cost_usd_per_mbps_per_year")
        share = _col(share_column(k)) if k else _col(ZERO_RATED_SHARE)
        builder = f"$A{row}" if k else '">0"'
        all_ops = k == 0
        formulas = {
            "schools_in_footprint": (f'COUNTIFS({_col(SERVING_COUNT)},">0",{_col(NEW_SITE)},0)' if all_ops
                                     else f"COUNTIF({_col(covers_column(k))},1)"),
            "schools_served": f"SUM({share})",
            "students_served": f"SUMPRODUCT({_col(STUDENTS_USED)},{share})",
            "lines": f"SUMPRODUCT({_col(LINE)},{share})",
            "line_mbps": (f"SUM({_col(LINE_MBPS)})" if all_ops
                          else f"SUMPRODUCT({_col(LINE)},{_col('bandwidth_demand_mbps')},{share})"),
            "students_connected": (f"SUM({_col(STUDENTS_CONNECTED)})" if all_ops
                                   else f"SUMPRODUCT({_col(LINE)},{_col(STUDENTS_USED)},{share})"),
            "line_revenue_usd_per_year": f"SUM({_col(LINE_USD)})" if all_ops else f"{cell['line_mbps']}*{price}",
            "line_cost_usd_per_year": f"{cell['line_mbps']}*{line_cost}",
            "zero_rating_gb_per_year": (f"SUM({_col(ZERO_RATING_GB)})" if all_ops
                                        else f"SUMPRODUCT({_col(LEARNING_GB)},{share})*(1-{off}/100)"),
            "zero_rating_excluded_gb_per_year": (f"SUM({_col(ZERO_RATING_EXCLUDED_GB)})" if all_ops
                                                 else f"SUMPRODUCT({_col(LEARNING_GB)},{share})*{off}/100"),
            "zero_rating_cost_usd_per_year": (f"SUM({_col(ZERO_RATING_USD)})" if all_ops
                                              else f"{cell['zero_rating_gb_per_year']}*{unit_cost}"),
            "zero_rating_in_kind_usd_per_year": (
                f"SUM({_col(ZERO_RATING_IN_KIND)})" if all_ops
                else f"{cell['zero_rating_gb_per_year']}*{param_name('retail_price_usd_per_gb')}"),
            "new_sites": f"COUNTIFS({_col(NEW_SITE_LEAD)},1,{_col(NEW_SITE_OPERATOR_NO)},{builder})",
            "new_site_schools": f"COUNTIFS({_col(NEW_SITE)},1,{_col(NEW_SITE_OPERATOR_NO)},{builder})",
            "new_site_capex_usd": f"SUMIFS({_col(NEW_SITE_CAPEX)},{_col(NEW_SITE_OPERATOR_NO)},{builder})",
            "new_site_opex_usd_per_year": f"SUMIFS({_col(NEW_SITE_OPEX)},{_col(NEW_SITE_OPERATOR_NO)},{builder})",
            "new_site_revenue_usd_per_year": (
                f"SUMIFS({_col(NEW_SITE_REVENUE)},{_col(NEW_SITE_OPERATOR_NO)},{builder})"),
        }
        if metric in formulas:
            return formulas[metric]
        years = self._year_range
        quoted = quote_sheet(CASH)

        def cash_row(item: str) -> str:
            r = self.layout.cf_rows[(k, item)]
            return f"{quoted}!{years(r)}"

        if metric == "operator_npv_usd":
            return f"SUMPRODUCT({cash_row('net')},{quoted}!{years(self._df_rows[0], fixed=True)})"
        if metric == "payback_year":
            cum = cash_row("cumulative")
            year_row = f"{quoted}!{years(1, fixed=True)}"
            in_horizon = f"{quoted}!{years(2, fixed=True)}"
            # The year at the first column where the cumulative flow is >= 0 inside the horizon. INDEX(..., 0)
            # makes MATCH read the product as an array without array entry; MINIFS would say the same more
            # briefly but is #NAME? in Excel before 2019, which many ministries still run.
            return (f'IF(COUNTIFS({cum},">=0",{in_horizon},1)=0,"",'
                    f"INDEX({year_row},MATCH(1,INDEX(({cum}>=0)*{in_horizon},0),0)))")
        if metric == "ministry_package_pv_usd":
            return f"SUMPRODUCT({cash_row('ministry_payments')},{quoted}!{years(self._df_rows[1], fixed=True)})"
        if metric == "ministry_in_kind_pv_usd":
            return f"SUMPRODUCT({cash_row('ministry_in_kind')},{quoted}!{years(self._df_rows[1], fixed=True)})"
        if metric == "ministry_usd_per_student_connected_per_year":
            return (f'IF({cell["students_connected"]}=0,"",'
                    f'{cell["line_revenue_usd_per_year"]}/{cell["students_connected"]})')
        raise KeyError(metric)

    def _year_range(self, row: int, fixed: bool = False) -> str:
        first = get_column_letter(FIRST_YEAR_COLUMN)
        last = get_column_letter(FIRST_YEAR_COLUMN + MAX_YEARS)
        dollar = "$" if fixed else ""
        return f"${first}{dollar}{row}:${last}{dollar}{row}"

    def plan_operators(self) -> None:
        """Fix the rows and columns of the Operators and Cash flows sheets before writing formulas."""
        metrics = list(OPERATOR_METRICS)
        self.layout.op_cols = {m: get_column_letter(3 + i) for i, m in enumerate(metrics)}
        for i, k in enumerate(self.shown):
            self.layout.op_rows[k] = 2 + i
        row = 9
        self._df_rows = (4, 5)
        for k in self.shown:
            row += 1  # the block's title row
            for item in CASH_FLOW_ITEMS:
                self.layout.cf_rows[(k, item)] = row
                row += 1
            row += 1

    def write_operators(self) -> None:
        w = self.sheet(OPERATORS)
        ws = w.sheet
        metrics = list(OPERATOR_METRICS)
        w.header(1, ["No", "Operator", *[f"{m} [{OPERATOR_METRICS[m][0]}]" for m in metrics]])
        for i, metric in enumerate(metrics, start=3):
            ws.cell(row=1, column=i).comment = Comment(OPERATOR_METRICS[metric][1], "connectmap")
            ws.column_dimensions[get_column_letter(i)].width = 16
        ws.column_dimensions["A"].width = 5
        ws.column_dimensions["B"].width = 24
        ws.row_dimensions[1].height = 60
        for k in self.shown:
            row = self.layout.op_rows[k]
            if k:
                w.number(row, 1, k, "number")
                w.text(row, 2, self.case.operators[k - 1], bold=False)
            else:
                w.text(row, 2, ALL_OPERATORS, bold=True)
            for metric in metrics:
                unit = OPERATOR_METRICS[metric][0]
                cached = self.metric_value(k, metric)
                if metric in ("payback_year", "ministry_usd_per_student_connected_per_year") and cached is None:
                    cached = ""
                w.formula(row, 3 + metrics.index(metric), self._operator_formula(metric, k, row), cached, unit)
        operators = [k for k in self.shown if k]
        if 0 in self.shown and operators:
            row = max(self.layout.op_rows.values()) + 1
            w.text(row, 2, "Difference: sum of operators - all operators (0 = reconciled)", wrap=True)
            first, last = self.layout.op_rows[operators[0]], self.layout.op_rows[operators[-1]]
            total = self.layout.op_rows[0]
            for metric in metrics:
                letter = self.layout.op_cols[metric]
                if not OPERATOR_METRICS[metric][2]:
                    continue
                values = [self.metric_value(k, metric) or 0.0 for k in operators]
                diff = sum(values) - (self.metric_value(0, metric) or 0.0)
                w.formula(row, 3 + metrics.index(metric), f"SUM({letter}{first}:{letter}{last})-{letter}{total}",
                          diff, OPERATOR_METRICS[metric][0])
            w.text(row + 2, 2, "Footprint counts overlap (a school covered by two operators counts for both); "
                               "served schools, students and lines are share-weighted and add up.", wrap=False)
        ws.freeze_panes = "C2"

    def write_cash_flows(self) -> None:
        w = self.sheet(CASH)
        ws = w.sheet
        case = self.case
        horizon = case_name("horizon_years")
        growth = param_name("traffic_growth_pct_per_year")
        w.text(1, 1, "Year", bold=True)
        for t in range(MAX_YEARS + 1):
            w.number(1, FIRST_YEAR_COLUMN + t, t, "year").font = BOLD
        t_values = np.arange(MAX_YEARS + 1, dtype=float)
        horizon_value = float(case.assumptions[horizon])
        growth_value = float(case.assumptions[growth])
        rate_op = float(case.assumptions[case_name("operator_discount_rate_pct")])
        rate_min = float(case.assumptions[case_name("ministry_discount_rate_pct")])
        helpers = [
            (2, "In the horizon (1/0)", lambda c: f"IF(AND({c}$1>=1,{c}$1<={horizon}),1,0)",
             ((t_values >= 1) & (t_values <= horizon_value)).astype(float), "flag"),
            (3, "Traffic growth factor", lambda c: f"IF({c}$1>=1,(1+{growth}/100)^({c}$1-1),0)",
             np.where(t_values >= 1, (1 + growth_value / 100) ** (t_values - 1), 0.0), "share"),
            (4, "Operator discount factor",
             lambda c: f"1/(1+{case_name('operator_discount_rate_pct')}/100)^{c}$1",
             1 / (1 + rate_op / 100) ** t_values, "share"),
            (5, "Ministry discount factor",
             lambda c: f"1/(1+{case_name('ministry_discount_rate_pct')}/100)^{c}$1",
             1 / (1 + rate_min / 100) ** t_values, "share"),
            (6, "Year 0 (1/0)", lambda c: f"IF({c}$1=0,1,0)", (t_values == 0).astype(float), "flag"),
        ]
        for row, label, make, values, unit in helpers:
            w.text(row, 1, label)
            for t in range(MAX_YEARS + 1):
                column = FIRST_YEAR_COLUMN + t
                w.formula(row, column, make(get_column_letter(column)), float(values[t]), unit)
        subsidy = case_name("ministry_new_site_subsidy_pct")
        for k in self.shown:
            label = ALL_OPERATORS if k == 0 else case.operators[k - 1]
            flow = case.cash_flows[label]
            title_row = self.layout.cf_rows[(k, "new_site_capex")] - 1
            w.text(title_row, 1, label, bold=True)
            if k:
                w.text(title_row, 2, f"operator {k}")
            rows = {item: self.layout.cf_rows[(k, item)] for item in CASH_FLOW_ITEMS}
            for item, meaning in CASH_FLOW_ITEMS.items():
                w.text(rows[item], 1, meaning)
                w.text(rows[item], 2, item)
            for t in range(MAX_YEARS + 1):
                column = FIRST_YEAR_COLUMN + t
                c = get_column_letter(column)
                prev = get_column_letter(column - 1)
                formulas = {
                    "new_site_capex": f"-{c}$6*({self.op_cell(k, 'new_site_capex_usd')}*(1-{subsidy}/100))",
                    "lines_net": f"{c}$2*({self.op_cell(k, 'line_revenue_usd_per_year')}-"
                                 f"{self.op_cell(k, 'line_cost_usd_per_year')})",
                    "new_sites_net": f"{c}$2*({self.op_cell(k, 'new_site_revenue_usd_per_year')}-"
                                     f"{self.op_cell(k, 'new_site_opex_usd_per_year')})",
                    "zero_rating": f"-{c}$2*{self.op_cell(k, 'zero_rating_cost_usd_per_year')}*{c}$3",
                    "net": f"SUM({c}{rows['new_site_capex']}:{c}{rows['zero_rating']})",
                    "cumulative": (f"{c}{rows['net']}" if t == 0
                                   else f"{prev}{rows['cumulative']}+{c}{rows['net']}"),
                    "ministry_payments": f"{c}$6*({self.op_cell(k, 'new_site_capex_usd')}*{subsidy}/100)+"
                                         f"{c}$2*{self.op_cell(k, 'line_revenue_usd_per_year')}",
                    "ministry_in_kind": f"{c}$2*{self.op_cell(k, 'zero_rating_in_kind_usd_per_year')}*{c}$3",
                }
                for item, formula in formulas.items():
                    w.formula(rows[item], column, formula, float(flow.loc[item, t]), "USD")
        ws.column_dimensions["A"].width = 52
        ws.column_dimensions["B"].width = 18
        for t in range(MAX_YEARS + 1):
            ws.column_dimensions[get_column_letter(FIRST_YEAR_COLUMN + t)].width = 13
        ws.freeze_panes = "C2"

    # -- Regions ---------------------------------------------------------------------------------------------------
    def region_columns(self) -> list[tuple[str, str]]:
        columns = [("schools", "schools"), *[(name, _unit_of(source)) for name, source in REGION_SUMS.items()]]
        columns.insert(REGION_SUMS_INDEX_NEW_SITES, ("new_sites", "sites"))
        columns += [(c, "USD" if c != "opex_usd_per_year" else "USD/year") for c in COST_SUMS
                    if c in self.case.by_region.columns]
        return columns

    def write_regions(self) -> None:
        w = self.sheet(REGIONS)
        ws = w.sheet
        case = self.case
        columns = self.region_columns()
        w.header(1, ["No", "Region", *[f"{name} [{unit}]" for name, unit in columns]])
        ws.row_dimensions[1].height = 45
        sources = dict(REGION_SUMS)
        first = 2
        for i, label in enumerate(case.region_labels, start=1):
            row = first + i - 1
            w.number(row, 1, i, "number")
            w.text(row, 2, label)
            for j, (name, unit) in enumerate(columns, start=3):
                criteria = f"{_col('region_no')},$A{row}"
                if name == "schools":
                    formula = f"COUNTIF({criteria})"
                elif name == "new_sites":
                    formula = f'COUNTIFS({_col(NEW_SITE_LEAD)},1,{_col(NEW_SITE_OPERATOR_NO)},">0",{criteria})'
                else:
                    formula = f"SUMIFS({_col(sources.get(name, name))},{criteria})"
                w.formula(row, j, formula, _finite(case.by_region.loc[label, name]), unit)
        last = first + len(case.region_labels) - 1
        total = last + 1
        w.text(total, 2, "All schools (from the Schools sheet)", bold=True)
        diff = total + 1
        w.text(diff, 2, "Difference: sum of regions - all schools (0 = reconciled)")
        for j, (name, unit) in enumerate(columns, start=3):
            letter = get_column_letter(j)
            if name == "schools":
                formula, value = f"ROWS({_col('region_no')})-COUNTBLANK({_col('region_no')})", float(self.n)
            elif name == "new_sites":
                formula = f'COUNTIFS({_col(NEW_SITE_LEAD)},1,{_col(NEW_SITE_OPERATOR_NO)},">0")'
                value = float(case.by_region[name].sum())
            else:
                formula = f"SUM({_col(sources.get(name, name))})"
                value = float(case.by_region[name].sum())
            w.formula(total, j, formula, value, unit)
            w.formula(diff, j, f"SUM({letter}{first}:{letter}{last})-{letter}{total}" if last >= first
                      else f"0-{letter}{total}", 0.0, unit)
            ws.column_dimensions[letter].width = 16
        ws.column_dimensions["A"].width = 5
        ws.column_dimensions["B"].width = 28
        ws.freeze_panes = "C2"
        ws.auto_filter.ref = f"A1:{get_column_letter(2 + len(columns))}{max(last, 1)}"

    # -- Rollout ---------------------------------------------------------------------------------------------------
    def write_rollout(self) -> None:
        w = self.sheet(ROLLOUT)
        ws = w.sheet
        table = self.case.schools
        if ROLLOUT_YEAR not in table.columns:
            w.text(1, 1, "No budget rollout plan in the input: run `connectmap cost` with a budget "
                         "(cost.plan.budget_usd or budget_usd_per_year) to add rollout_year to the table.")
            ws.column_dimensions["A"].width = 110
            return
        from connectmap.table import numeric_column

        years = numeric_column(table, ROLLOUT_YEAR)
        students = self.case.values[STUDENTS_USED]
        cost = {c: np.nan_to_num(numeric_column(table, c), nan=0.0) for c in ("capex_usd", "opex_usd_per_year")
                if c in table.columns}
        headers = ["Year", "schools", "students", *[f"{c} [USD]" for c in cost],
                   "cumulative schools", "cumulative students", *[f"cumulative {c} [USD]" for c in cost]]
        w.header(1, headers)
        distinct = sorted({int(y) for y in years[np.isfinite(years)]})
        running = {"schools": 0.0, "students": 0.0, **dict.fromkeys(cost, 0.0)}
        for i, year in enumerate(distinct, start=2):
            mask = years == year
            w.number(i, 1, year, "year")
            criteria = f"{_col(ROLLOUT_YEAR)},$A{i}"
            values = {"schools": float(mask.sum()), "students": float(students[mask].sum()),
                      **{c: float(v[mask].sum()) for c, v in cost.items()}}
            entries = [("schools", f"COUNTIF({criteria})", "count"),
                       ("students", f"SUMIFS({_col(STUDENTS_USED)},{criteria})", "students"),
                       *[(c, f"SUMIFS({_col(c)},{criteria})", "USD") for c in cost]]
            for j, (key, formula, unit) in enumerate(entries, start=2):
                w.formula(i, j, formula, values[key], unit)
                running[key] += values[key]
                letter = get_column_letter(j)
                w.formula(i, j + len(entries), f"SUM({letter}$2:{letter}{i})", running[key], unit)
        for j in range(1, len(headers) + 1):
            ws.column_dimensions[get_column_letter(j)].width = 18
        row = len(distinct) + 3
        w.text(row, 1, "Schools with no rollout year are not in the plan (not connectable within the budget, or "
                       "already connected).")
        ws.freeze_panes = "B2"

    # -- Data quality ----------------------------------------------------------------------------------------------
    def write_quality(self) -> None:
        w = self.sheet(QUALITY)
        ws = w.sheet
        case = self.case
        w.text(1, 1, "Data quality").font = TITLE_FONT
        inputs = case.inputs
        facts = [
            ("Schools in this workbook", self.n),
            ("Schools with unknown student count (counted as zerorating.students_if_unknown)",
             int(np.isnan(inputs["num_students"]).sum())),
            ("Schools with unknown teacher count (estimated from the pupil-teacher ratio)",
             int(np.isnan(inputs["num_teachers"]).sum())),
            ("Schools with unknown mobile coverage (zero-rating not priced)", int((~case.coverage_known).sum())),
            ("Schools no operator covers now", int((case.coverage_known & (inputs[NEW_SITE] == 0)
                                                   & (case.values[SERVING_COUNT] == 0)).sum())),
            ("Schools a planned new site will cover", int((inputs[NEW_SITE] > 0).sum())),
        ]
        row = 3
        w.header(row, ["Check", "Schools"])
        for label, value in facts:
            row += 1
            w.text(row, 1, label)
            w.number(row, 2, value, "count")
        flags = count_flags(case.schools)
        row += 2
        w.header(row, ["Quality flag", "Schools", "Meaning"])
        for code, count in flags.items():
            row += 1
            w.text(row, 1, code)
            w.number(row, 2, count, "count")
            w.text(row, 3, CODES.get(code, ""))
        if not flags:
            row += 1
            w.text(row, 1, "(no quality flags in the table)")
        for line in self.text_log.report():
            row += 1
            w.text(row, 1, line)
        row += 2
        rejected = self.rejected
        if rejected is None:
            w.text(row, 1, "Rejected rows: not given (pass --rejected rejected.csv to list them here).")
        else:
            w.text(row, 1, f"Rejected rows: {len(rejected)} (rows of the register that could not be used)",
                   bold=True)
            row += 1
            reason = next((c for c in rejected.columns if str(c).lower() == "reason"), None)
            if reason is not None and len(rejected):
                w.header(row, ["Reason", "Rows"])
                for value, count in rejected[reason].fillna("").value_counts().sort_index().items():
                    row += 1
                    w.text(row, 1, value)
                    w.number(row, 2, int(count), "count")
                row += 2
            if len(rejected):
                check_rows(len(rejected), "rejected rows")
                w.header(row, [str(c) for c in rejected.columns])
                values = rejected.astype(object).to_numpy()
                for i in range(values.shape[0]):
                    for j in range(values.shape[1]):
                        w.text(row + 1 + i, 1 + j, values[i, j])
                row += values.shape[0]
        ws.column_dimensions["A"].width = 70
        ws.column_dimensions["B"].width = 14
        ws.column_dimensions["C"].width = 80

    # -- Method ----------------------------------------------------------------------------------------------------
    def write_method(self) -> None:
        w = self.sheet(METHOD)
        ws = w.sheet
        case = self.case
        w.text(1, 1, "Method and sources").font = TITLE_FONT
        paragraphs = [
            "This workbook is live: the Schools sheet's zero-rating, line and new-site columns, and every total on "
            "the Operators, Cash flows, Regions, Rollout and Summary sheets, are formulas of the yellow input cells "
            "on the Assumptions sheet. The same formulas, evaluated in Python, give the figures connectmap reports; "
            "its tests recalculate the workbook in LibreOffice and check every total to the cent.",
            "Operators and regions are referred to by number (Assumptions lists the operators, Regions the "
            "regions), so no text from the data is ever part of a formula.",
            "Operator k serves a school when it covers it now (covers_op<k>) or builds the new site that will "
            "cover it. Its share (share_op<k>) follows zerorating.split: equal shares, market shares, or only the "
            "named operator. Shares of a school add up to zero_rated_share (1 when served, 0 when not), so sums "
            "over operators equal the national totals.",
            "New sites are placed at uncovered schools, biggest first, so that every uncovered school is within "
            "zerorating.case.new_site_radius_km of one; the operator with the nearest existing site builds it.",
            "Cash flows: year 0 new-site capital (net of the ministry's subsidy); years 1..horizon: line revenue "
            "minus line cost, new-site subscriber revenue minus operating cost, minus the zero-rating cost growing "
            "with traffic. NPV at the operator's discount rate; payback is the first year the cumulative flow is "
            ">= 0. The ministry pays the lines and the subsidy and receives the zero-rating in kind (retail value).",
        ]
        row = 3
        for text in paragraphs:
            w.text(row, 1, text, wrap=True)
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
            ws.row_dimensions[row].height = 48
            row += 1
        row += 1
        w.header(row, ["Per-school formula", "Unit", "Meaning", "Formula"])
        for key, expr in case.formulas.formulas:
            row += 1
            w.text(row, 1, key)
            w.text(row, 2, case.formulas.units[key])
            w.text(row, 3, COLUMNS[key].meaning if key in COLUMNS else _share_meaning(key))
            w.text(row, 4, f"{key} = {expr.to_text()}")
        row += 2
        w.header(row, ["Operator figure", "Unit", "Meaning", "Adds up over operators"])
        for metric, (unit, meaning, additive) in OPERATOR_METRICS.items():
            row += 1
            w.text(row, 1, metric)
            w.text(row, 2, unit)
            w.text(row, 3, meaning)
            w.text(row, 4, "yes" if additive else "no")
        row += 2
        w.header(row, ["Cash-flow row", "Meaning"])
        for item, meaning in CASH_FLOW_ITEMS.items():
            row += 1
            w.text(row, 1, item)
            w.text(row, 2, meaning)
        row += 2
        w.header(row, ["Schools column", "Unit", "Meaning"])
        for column in self.columns:
            row += 1
            w.text(row, 1, column.key)
            w.text(row, 2, column.unit)
            w.text(row, 3, column.note.split(" Formula: ")[0])
        row += 2
        w.header(row, ["Source", "Parameters"])
        sources: dict[str, list[str]] = {}
        for info in iter_parameters(case.params):
            if info.source:
                sources.setdefault(info.source, []).append(info.path)
        for source, paths in sources.items():
            row += 1
            w.text(row, 1, source, wrap=True)
            w.text(row, 2, ", ".join(paths), wrap=True)
        ws.column_dimensions["A"].width = 60
        ws.column_dimensions["B"].width = 40
        ws.column_dimensions["C"].width = 70
        ws.column_dimensions["D"].width = 120

    # -- Summary and operator pages --------------------------------------------------------------------------------
    def summary_items(self) -> list[tuple[str, str, str]]:
        """(label, metric or special key, unit) of the headline figures."""
        return [
            ("Schools covered now by the operator(s)", "schools_in_footprint", "schools"),
            ("Schools served (share-weighted)", "schools_served", "schools"),
            ("Zero-rated learning traffic, first year", "zero_rating_gb_per_year", "GB/year"),
            ("Learning traffic from third-party hosts (cannot be zero-rated)", "zero_rating_excluded_gb_per_year",
             "GB/year"),
            ("Zero-rating cost to the operator(s), first year", "zero_rating_cost_usd_per_year", "USD/year"),
            ("Zero-rating value in kind (retail price), first year", "zero_rating_in_kind_usd_per_year",
             "USD/year"),
            ("School lines in the package (share-weighted)", "lines", "lines"),
            ("Line bandwidth", "line_mbps", "Mbps"),
            ("Line payments from the ministry", "line_revenue_usd_per_year", "USD/year"),
            ("Students at schools getting a line", "students_connected", "students"),
            ("New sites", "new_sites", "sites"),
            ("New-site capital cost", "new_site_capex_usd", "USD"),
            ("Operator NPV at its discount rate", "operator_npv_usd", "USD"),
            ("Payback year (empty: not within the horizon)", "payback_year", "year"),
            ("Ministry: present cost of the package", "ministry_package_pv_usd", "USD"),
            ("Ministry: present value of the zero-rating received in kind", "ministry_in_kind_pv_usd", "USD"),
            ("Ministry: line payments per student connected per year", "ministry_usd_per_student_connected_per_year",
             "USD/student/year"),
        ]

    def write_summary(self, focus: int) -> None:
        w = self.sheet(SUMMARY)
        ws = w.sheet
        case = self.case
        w.text(1, 1, self.title).font = TITLE_FONT
        w.text(2, 1, "All figures are formulas of the Assumptions sheet: change a yellow cell there and they follow.")
        row = 4
        w.header(row, ["Figure", "Value", "Unit"])
        row += 1
        w.text(row, 1, "Schools in this workbook")
        w.formula(row, 2, f"ROWS({_col('region_no')})-COUNTBLANK({_col('region_no')})", float(self.n), "count")
        w.text(row, 3, "schools")
        row += 1
        w.text(row, 1, "Students counted (enrolment; unknown counts as zerorating.students_if_unknown)")
        w.formula(row, 2, f"SUM({_col(STUDENTS_USED)})", float(case.values[STUDENTS_USED].sum()), "students")
        w.text(row, 3, "students")
        for label, metric, unit in self.summary_items():
            row += 1
            w.text(row, 1, label)
            cached = self.metric_value(focus, metric)
            if metric in ("payback_year", "ministry_usd_per_student_connected_per_year") and cached is None:
                cached = ""
            w.formula(row, 2, self.op_cell(focus, metric), cached, unit)
            w.text(row, 3, unit)
        row += 1
        w.text(row, 1, "Schools with unknown coverage (not priced)")
        w.number(row, 2, int((~case.coverage_known).sum()), "count")
        w.text(row, 3, "schools")
        ws.column_dimensions["A"].width = 66
        ws.column_dimensions["B"].width = 20
        ws.column_dimensions["C"].width = 18
        self._charts(ws, row + 2)

    def _charts(self, ws: Any, row: int) -> None:
        operators = [k for k in self.shown if k]
        if not operators:
            return
        sheet = self.writers[OPERATORS].sheet
        first, last = self.layout.op_rows[operators[0]], self.layout.op_rows[operators[-1]]
        labels = Reference(sheet, min_col=2, min_row=first, max_row=last)

        def column_of(metric: str) -> int:
            return list(OPERATOR_METRICS).index(metric) + 3

        bars = BarChart()
        bars.title = "Zero-rating per operator, first year (USD)"
        bars.y_axis.title = "USD/year"
        for metric in ("zero_rating_cost_usd_per_year", "zero_rating_in_kind_usd_per_year"):
            bars.add_data(Reference(sheet, min_col=column_of(metric), min_row=first, max_row=last),
                          titles_from_data=False)
        bars.set_categories(labels)
        _series_titles(bars, ["Cost to the operator", "Value in kind"])
        bars.width, bars.height = 18, 8
        ws.add_chart(bars, "E4")
        npv = BarChart()
        npv.title = "Operator NPV of the package (USD)"
        npv.add_data(Reference(sheet, min_col=column_of("operator_npv_usd"), min_row=first, max_row=last),
                     titles_from_data=False)
        npv.set_categories(labels)
        _series_titles(npv, ["NPV"])
        npv.legend = None
        npv.width, npv.height = 18, 8
        ws.add_chart(npv, "E21")
        cash = self.writers[CASH].sheet
        lines = LineChart()
        lines.title = "Cumulative cash flow per operator (USD)"
        lines.x_axis.title = "Year"
        names = []
        for k in operators:
            r = self.layout.cf_rows[(k, "cumulative")]
            lines.add_data(Reference(cash, min_col=FIRST_YEAR_COLUMN, max_col=FIRST_YEAR_COLUMN + MAX_YEARS,
                                     min_row=r, max_row=r), from_rows=True, titles_from_data=False)
            names.append(self.case.operators[k - 1])
        lines.set_categories(Reference(cash, min_col=FIRST_YEAR_COLUMN, max_col=FIRST_YEAR_COLUMN + MAX_YEARS,
                                       min_row=1, max_row=1))
        _series_titles(lines, names)
        lines.width, lines.height = 18, 8
        ws.add_chart(lines, "E38")

    def write_operator_pages(self) -> None:
        taken = list(SHEETS)
        for k in [k for k in self.shown if k]:
            title = sheet_title(self.case.operators[k - 1], taken)
            taken.append(title)
            self.layout.operator_titles[k] = title
            w = self.sheet(title)
            ws = w.sheet
            w.text(1, 1, f"Investment case: {self.case.operators[k - 1]}").font = TITLE_FONT
            w.text(2, 1, "Figures from the Operators and Cash flows sheets (formulas of the Assumptions).")
            w.header(4, ["Figure", "Value", "Unit"])
            row = 4
            for label, metric, unit in self.summary_items():
                row += 1
                w.text(row, 1, label)
                cached = self.metric_value(k, metric)
                if metric in ("payback_year", "ministry_usd_per_student_connected_per_year") and cached is None:
                    cached = ""
                w.formula(row, 2, self.op_cell(k, metric), cached, unit)
                w.text(row, 3, unit)
            row += 2
            w.header(row, ["Cash flow (USD)", *[str(t) for t in range(MAX_YEARS + 1)]])
            flow = self.case.cash_flows[self.case.operators[k - 1]]
            for item, meaning in CASH_FLOW_ITEMS.items():
                row += 1
                w.text(row, 1, meaning)
                source_row = self.layout.cf_rows[(k, item)]
                for t in range(MAX_YEARS + 1):
                    letter = get_column_letter(FIRST_YEAR_COLUMN + t)
                    w.formula(row, 2 + t, f"{quote_sheet(CASH)}!{letter}{source_row}", float(flow.loc[item, t]),
                              "USD")
            ws.column_dimensions["A"].width = 62
            for t in range(MAX_YEARS + 2):
                ws.column_dimensions[get_column_letter(2 + t)].width = 13

    # -- build -----------------------------------------------------------------------------------------------------
    def build(self, focus: int) -> Workbook:
        self.plan_operators()
        for title in SHEETS:
            self.sheet(title)
        self.write_assumptions()
        self.write_schools()
        self.write_operators()
        self.write_cash_flows()
        self.write_regions()
        self.write_rollout()
        self.write_method()
        if self.operator_sheets:
            self.write_operator_pages()
        self.write_summary(focus)
        # The Schools texts are rendered now so the Data quality sheet can report those that had to be cleaned.
        self.texts = render_texts(self.columns, self.text_log)
        self.write_quality()  # last: it lists the text values cleaned while writing the other sheets
        return self.wb


REGION_SUMS_INDEX_NEW_SITES = 1 + list(REGION_SUMS).index("new_site_capex_usd")


def _unit_of(source: str) -> str:
    return COLUMNS[source].unit if source in COLUMNS else ""


def _share_meaning(key: str) -> str:
    return "Part of the school the operator carries (0..1)" if key.startswith("share_op") else ""


def _series_titles(chart: Any, titles: Sequence[str]) -> None:
    from openpyxl.chart.series import SeriesLabel

    for series, title in zip(chart.series, titles, strict=False):
        series.tx = SeriesLabel(v=_plain(title))


def _plain(text: str) -> str:
    from connectmap.report.text import clean_text

    return clean_text(text)[0]


def _object_values(series: pd.Series) -> np.ndarray:
    values = series.astype(object).to_numpy(dtype=object, copy=True)
    values[pd.isna(series).to_numpy()] = None
    return values


def _reference_value(w: CellWriter, row: int, column: int, value: Any, unit: str) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        w.text(row, column, "true" if value else "false")
    elif isinstance(value, int | float):
        w.number(row, column, value, unit)
    else:
        w.text(row, column, value if isinstance(value, str) else str(value))


def write_workbook(
    case: InvestmentCase,
    path: str | Path,
    *,
    rejected: pd.DataFrame | None = None,
    config: Any = None,
    operator: str | None = None,
    title: str | None = None,
    cached_values: bool = True,
) -> Path:
    """Write one investment-case workbook, atomically.

    Parameters
    ----------
    case
        The computed case (:func:`connectmap.operators.investment_case`); for an operator's workbook, the case
        restricted to its schools (:meth:`~connectmap.operators.InvestmentCase.for_operator`).
    path
        The ``.xlsx`` file to write.
    rejected
        Rejected register rows for the Data quality sheet.
    config
        The run's :class:`~connectmap.config.Config`, to list the earlier steps' parameters.
    operator
        Write the workbook of this operator: its row, cash flow and summary only.
    title
        Title on the Summary sheet.
    cached_values
        Store the model's value with every formula (default). Off only for tests that prove a program recalculates.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        When the table has more schools than one sheet holds, or ``path`` is an input file.
    """
    check_rows(len(case.schools))
    if operator is not None:
        if operator not in case.operators:
            raise KeyError(f"operator {operator!r} is not in the case")
        focus = case.operators.index(operator) + 1
        shown = [focus]
    else:
        focus = 0
        shown = [*range(1, len(case.operators) + 1), 0]
    book = _Workbook(
        case, shown=shown, rejected=rejected, config=config,
        title=title or (f"Investment case: {operator}" if operator else "Investment case: all operators"),
        operator_sheets=operator is None,
    )
    workbook = book.build(focus)
    path = Path(path)
    with atomic_path(path) as tmp:
        staging = tmp.with_name(tmp.name + ".openpyxl")
        try:
            workbook.save(staging)
            finish_package(
                staging, tmp, schools_title=SCHOOLS,
                make_rows=lambda styles: SchoolRows(
                    book.columns, styles, book.texts, cached_values=cached_values
                ),
                n_rows=book.n,
                cached={title: writer.cached for title, writer in book.writers.items()} if cached_values else {},
            )
        finally:
            staging.unlink(missing_ok=True)
    return path


def operator_file_name(operator: str, taken: set[str]) -> str:
    """A safe, unique file name for an operator's workbook (operator names are data)."""
    import re

    from connectmap.report.text import clean_text

    slug = re.sub(r"[^0-9A-Za-z]+", "_", clean_text(operator)[0]).strip("_").lower()[:40] or "operator"
    name = f"investment_case_{slug}.xlsx"
    counter = 2
    while name in taken:
        name = f"investment_case_{slug}_{counter}.xlsx"
        counter += 1
    taken.add(name)
    return name


def write_casebook(
    case: InvestmentCase,
    folder: str | Path,
    *,
    rejected: pd.DataFrame | None = None,
    config: Any = None,
    per_operator: bool = True,
) -> list[Path]:
    """Write the national workbook ``investment_case.xlsx`` and one ``investment_case_<operator>.xlsx`` each.

    Returns
    -------
    list of Path
        The files written, national first.
    """
    folder = Path(folder)
    written = [write_workbook(case, folder / "investment_case.xlsx", rejected=rejected, config=config)]
    if per_operator:
        taken: set[str] = set()
        for operator in case.operators:
            subset = case.for_operator(operator)
            written.append(write_workbook(
                subset, folder / operator_file_name(operator, taken), config=config, operator=operator,
            ))
    return written
