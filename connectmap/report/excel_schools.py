"""The workbook's Schools sheet, streamed as sheet XML: one row per school, values and live formulas.

Why hand-written: the Schools sheet of a national case holds millions of cells (100,000 schools x ~50 columns).
openpyxl's write-only mode needs about 40 s for that on this machine and cannot store the formulas' results;
XlsxWriter needs over two minutes (it runs some thirty regular expressions over every formula). Here the rows are
built column by column with Python string operations and streamed into the package in chunks, which takes a few
seconds and little memory, and every formula cell carries the Python model's value as its cached result.

The rest of the package (styles, header row, column widths, frozen panes, filter, comments, the other sheets,
charts, defined names) is written by openpyxl first; :func:`finish_package` then copies that package, replacing the
Schools sheet's placeholder data row by the streamed rows and adding cached values to the other sheets' formulas.

Cells: text as inline strings (``t="inlineStr"``, never a formula), numbers, booleans (``t="b"``), formulas
(``<f>``, rendered from :class:`connectmap.formulas.Expr`, with ``<v>`` cached values). Unknown values are left
out (blank cells), which the formulas treat as Excel does.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from openpyxl.utils import get_column_letter

from connectmap.formulas import Expr
from connectmap.report.excel_cells import TextLog, add_cached_values, cell_text

Kind = Literal["text", "number", "bool", "formula"]
_ROW_PLACEHOLDER = "\x00"
_CHUNK_ROWS = 20_000
_SCHOOLS_COMPRESSION = 1
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass
class SchoolColumn:
    """One column of the Schools sheet.

    Attributes
    ----------
    key
        Machine name (the model's column name; the defined name ``col_<key>`` refers to its data range).
    header
        Header text (may name an operator: it is data, written as text).
    unit
        Unit, for the number format.
    kind
        ``text``, ``number``, ``bool`` or ``formula``.
    values
        Text (object array of str/None), numbers (float, NaN = blank) or booleans (float 1/0, NaN = blank); for a
        formula the model's values (cached results).
    formula
        The expression of a formula column.
    note
        Meaning of the column (the header cell's comment).
    width
        Column width in characters.
    """

    key: str
    header: str
    unit: str
    kind: Kind
    values: NDArray | None = None
    formula: Expr | None = None
    note: str = ""
    width: float = 12.0


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_xml(values: NDArray, text_log: TextLog, place: str) -> NDArray[np.object_]:
    """Inline-string XML for each distinct text (``""`` for blanks), indexed like ``values``."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    rendered = []
    for value in uniques:
        text = cell_text(value, text_log, place)
        if text == "":
            rendered.append("")
            continue
        space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
        body = _escape(text).replace("\r", "&#13;")
        rendered.append(f' t="inlineStr"><is><t{space}>{body}</t></is></c>')
    table = np.array([*rendered, ""], dtype=object)  # the last entry serves the NA sentinel (-1)
    return table[codes]


def render_texts(columns: list[SchoolColumn], text_log: TextLog) -> dict[int, NDArray[np.object_]]:
    """Inline-string XML of every text column (by column position), counting cleaned values in ``text_log``."""
    return {
        i: _text_xml(column.values, text_log, f"Schools column {column.key}")
        for i, column in enumerate(columns)
        if column.kind == "text"
    }


def _number_text(values: NDArray) -> list[str]:
    as_float = np.asarray(values, dtype=np.float64)
    out = [repr(v) for v in as_float.tolist()]
    bad = ~np.isfinite(as_float)
    if bad.any():
        for position in np.flatnonzero(bad).tolist():
            out[position] = ""
    return out


class SchoolRows:
    """Renders the data rows of the Schools sheet.

    Parameters
    ----------
    columns
        The sheet's columns in order.
    styles
        Style id (``s`` attribute) of each column's cells, from the placeholder row openpyxl wrote.
    texts
        The inline-string XML of every text column, from :func:`render_texts`.
    cached_values
        Store the model's value with every formula (default); off, formulas carry no result and only a program
        that recalculates shows numbers (used by the tests to prove LibreOffice computes them).
    """

    def __init__(
        self, columns: list[SchoolColumn], styles: list[str], texts: dict[int, NDArray[np.object_]], *,
        cached_values: bool = True,
    ) -> None:
        self.columns = columns
        self.styles = styles
        self.texts = texts
        self.cached_values = cached_values
        letters = {column.key: get_column_letter(i) for i, column in enumerate(columns, start=1)}
        self.letters = [letters[column.key] for column in columns]
        self.pieces: list[list[str] | None] = []
        for column in columns:
            if column.kind == "formula":
                assert column.formula is not None
                template = column.formula.to_excel(lambda key: f"{letters[key]}{_ROW_PLACEHOLDER}")
                self.pieces.append(_escape(template).split(_ROW_PLACEHOLDER))
            else:
                self.pieces.append(None)
        self.n_rows = len(columns[0].values) if columns and columns[0].values is not None else 0

    def _cells(self, index: int, rows: list[str], lo: int, hi: int) -> list[str]:
        column = self.columns[index]
        letter = self.letters[index]
        style = f' s="{self.styles[index]}"' if self.styles[index] else ""
        head = [f'<c r="{letter}{r}"{style}' for r in rows]
        if column.kind == "text":
            bodies = self.texts[index][lo:hi].tolist()
            return [h + b if b else "" for h, b in zip(head, bodies, strict=True)]
        if column.kind == "number":
            numbers = _number_text(column.values[lo:hi])
            return [f"{h}><v>{v}</v></c>" if v else "" for h, v in zip(head, numbers, strict=True)]
        if column.kind == "bool":
            flags = np.asarray(column.values[lo:hi], dtype=np.float64)
            text = np.where(np.isnan(flags), "", np.where(flags > 0, "1", "0")).tolist()
            return [f'{h} t="b"><v>{v}</v></c>' if v else "" for h, v in zip(head, text, strict=True)]
        pieces = self.pieces[index]
        assert pieces is not None
        if self.cached_values and column.values is not None:
            numbers = _number_text(column.values[lo:hi])
            return [
                f"{h}><f>{r.join(pieces)}</f><v>{v}</v></c>" if v else f"{h}><f>{r.join(pieces)}</f></c>"
                for h, r, v in zip(head, rows, numbers, strict=True)
            ]
        return [f"{h}><f>{r.join(pieces)}</f></c>" for h, r in zip(head, rows, strict=True)]

    def write(self, stream: IO[bytes]) -> None:
        """Write rows 2..n+1 as ``<row>`` elements, in chunks."""
        for lo in range(0, self.n_rows, _CHUNK_ROWS):
            hi = min(lo + _CHUNK_ROWS, self.n_rows)
            rows = [str(r) for r in range(lo + 2, hi + 2)]
            cells = [self._cells(i, rows, lo, hi) for i in range(len(self.columns))]
            body = "".join(
                f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(rows, zip(*cells, strict=True), strict=True)
            )
            stream.write(body.encode("utf-8"))


def sheet_paths(package: zipfile.ZipFile) -> dict[str, str]:
    """Path of each sheet's XML in the package, by sheet title."""
    workbook = ElementTree.fromstring(package.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    paths: dict[str, str] = {}
    for sheet in workbook.iterfind("m:sheets/m:sheet", _NS):
        target = targets[sheet.get(_REL)]
        target = target.lstrip("/")
        paths[sheet.get("name", "")] = target if target.startswith("xl/") else f"xl/{target}"
    return paths


_PLACEHOLDER_ROW = re.compile(r'<row r="2"[^>]*>(.*?)</row>', re.S)
_CELL_STYLE = re.compile(r'<c r="([A-Z]+)2"(?: s="(\d+)")?')


def placeholder_styles(sheet_xml: str, n_columns: int) -> list[str]:
    """Style id of each column in the placeholder row 2 that openpyxl wrote ("" when unstyled)."""
    match = _PLACEHOLDER_ROW.search(sheet_xml)
    styles = {letter: style or "" for letter, style in _CELL_STYLE.findall(match.group(1) if match else "")}
    return [styles.get(get_column_letter(i), "") for i in range(1, n_columns + 1)]


def finish_package(
    source: Path,
    target: Path,
    *,
    schools_title: str,
    make_rows: Callable[[list[str]], SchoolRows],
    n_rows: int,
    cached: dict[str, dict[str, float | str]],
) -> None:
    """Copy the openpyxl package ``source`` to ``target`` with the Schools rows streamed in and cached values added.

    Parameters
    ----------
    source, target
        The package openpyxl saved, and the file to write.
    schools_title
        Title of the Schools sheet.
    make_rows
        Builds the row renderer from the placeholder row's style ids.
    n_rows
        Number of data rows.
    cached
        Cached formula values of the other sheets: sheet title -> coordinate -> value.
    """
    with zipfile.ZipFile(source) as package:
        paths = sheet_paths(package)
        schools_path = paths[schools_title]
        by_path = {paths[title]: values for title, values in cached.items() if title in paths}
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
            for info in package.infolist():
                if info.filename == schools_path:
                    xml = package.read(info.filename).decode("utf-8")
                    head, tail = _split_sheet(xml, n_rows)
                    rows = make_rows(placeholder_styles(xml, _count_header_cells(xml)))
                    entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    entry.compress_type = zipfile.ZIP_DEFLATED
                    # The big sheet is mostly repeated markup: fast compression costs ~25 % in size and saves
                    # most of the time (level 6 spends more time compressing than building the rows).
                    entry._compresslevel = _SCHOOLS_COMPRESSION  # (an alias of compress_level from Python 3.13)
                    with out.open(entry, "w", force_zip64=True) as stream:
                        stream.write(head.encode("utf-8"))
                        rows.write(stream)
                        stream.write(tail.encode("utf-8"))
                elif info.filename in by_path:
                    xml = package.read(info.filename).decode("utf-8")
                    out.writestr(info, add_cached_values(xml, by_path[info.filename]))
                else:
                    with package.open(info) as data, out.open(info, "w") as stream:
                        shutil.copyfileobj(data, stream)


def _count_header_cells(sheet_xml: str) -> int:
    match = re.search(r'<row r="1"[^>]*>(.*?)</row>', sheet_xml, re.S)
    return len(re.findall(r"<c ", match.group(1))) if match else 0


def _split_sheet(sheet_xml: str, n_rows: int) -> tuple[str, str]:
    """The sheet XML before and after the data rows, with the dimension covering them."""
    start = _PLACEHOLDER_ROW.search(sheet_xml)
    end = sheet_xml.index("</sheetData>")
    head = sheet_xml[: start.start()] if start else sheet_xml[:end]
    tail = sheet_xml[end:]

    def dimension(match: re.Match[str]) -> str:
        last_column = re.sub(r"\d+$", "", match.group(2))
        return f'<dimension ref="{match.group(1)}:{last_column}{max(n_rows + 1, 1)}"/>'

    head = re.sub(r'<dimension ref="([A-Z]+1):([A-Z]+\d+)"\s*/>', dimension, head, count=1)
    return head, tail
