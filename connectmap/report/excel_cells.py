"""Safe cells for the investment-case workbook: text stays text, names and sheet titles are valid, formulas carry
cached values.

Every string that reaches a cell comes from :func:`cell_text`: cleaned by :func:`connectmap.report.text.clean_text`
(NFC, no XML-illegal characters or lone surrogates) and written with the *string* cell type, so a school named
``=HYPERLINK("http://x","y")``, ``+1``, ``-2`` or ``@SUM(A1)`` is shown as typed and never evaluated. Excel also
decodes ``_xHHHH_`` sequences inside strings (``_x0041_`` shows as ``A``); :func:`escape_ooxml` protects them by
escaping the underscore (``_x005F_``), as the OOXML standard prescribes, so they too round-trip as typed.

:class:`CellWriter` is how the small sheets are filled with openpyxl; it remembers the value the Python model gives
every formula, and :func:`add_cached_values` writes those values into the saved sheet XML as the formulas' cached
results. Excel and LibreOffice recalculate anyway; previewers (phones, mail clients) that never calculate show the
right figures instead of blanks.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from connectmap.errors import OutputError
from connectmap.report.text import clean_text

log = logging.getLogger(__name__)

#: Data rows one sheet can hold below its header row.
MAX_DATA_ROWS = 1_048_575
MAX_SHEET_TITLE = 31

_OOXML_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.]")
_CELL_LIKE = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[RrCc][0-9]*|[Rr][0-9]*[Cc][0-9]*)$")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")

#: Number format for each unit used in the workbook.
FORMATS: dict[str, str] = {
    "USD": "#,##0.00",
    "USD/year": "#,##0.00",
    "USD/student/year": "#,##0.00",
    "GB/year": "#,##0.00",
    "Mbps": "#,##0.00",
    "share": "0.0000",
    "%": "0.00",
    "students": "#,##0.0",
    "teachers": "#,##0.0",
    "users": "#,##0.0",
    "people": "#,##0",
    "schools": "#,##0.0",
    "lines": "#,##0.0",
    "sites": "#,##0",
    "count": "#,##0",
    "number": "0",
    "flag": "0",
    "year": "0",
    "km": "#,##0.000",
    "degrees": "0.000000",
    "text": "@",
}


def number_format(unit: str) -> str:
    """Excel number format for a unit (general when the unit is not listed)."""
    return FORMATS.get(unit, "General")


def escape_ooxml(text: str) -> str:
    """Protect ``_xHHHH_`` sequences, which Excel would otherwise decode, by escaping their underscore."""
    return _OOXML_ESCAPE.sub(r"_x005F_\1", text)


@dataclass
class TextLog:
    """Counts text values that had to be cleaned, per place, so the writer can log and report them once."""

    cleaned: dict[str, int] = field(default_factory=dict)

    def note(self, place: str, count: int = 1) -> None:
        if count:
            self.cleaned[place] = self.cleaned.get(place, 0) + count

    def report(self) -> list[str]:
        """One line per place where text was cleaned (also logged as warnings)."""
        lines = [
            f"{place}: {count} text value(s) had control characters or lone surrogates replaced by U+FFFD"
            for place, count in sorted(self.cleaned.items())
        ]
        for line in lines:
            log.warning(line)
        return lines


def cell_text(value: Any, log_to: TextLog | None = None, place: str = "") -> str:
    """``value`` as clean text for a string cell (``_xHHHH_`` escaped); None/NaN become ``""``."""
    text, changed = clean_text(value)
    if changed and log_to is not None:
        log_to.note(place)
    return escape_ooxml(text)


def sheet_title(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique sheet title from any text (operator names are data).

    Removes ``[]:*?/\\``, control characters and leading/trailing apostrophes, shortens to 31 characters, avoids
    the reserved ``History`` and makes it unique (case-insensitively) against ``taken`` with a `` (2)`` suffix.
    """
    text, _ = clean_text(name)
    text = _SHEET_FORBIDDEN.sub(" ", text.replace("\ufffd", " "))
    text = re.sub(r"\s+", " ", text).strip().strip("'").strip()
    if not text or text.lower() == "history":
        text = f"Sheet {text}".strip()
    used = {t.lower() for t in taken}
    base = text[:MAX_SHEET_TITLE].rstrip().rstrip("'")
    candidate = base
    counter = 2
    while candidate.lower() in used:
        suffix = f" ({counter})"
        candidate = base[: MAX_SHEET_TITLE - len(suffix)].rstrip().rstrip("'") + suffix
        counter += 1
    return candidate


def defined_name(text: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique Excel defined name from any text (letters, digits, ``_`` and ``.``; not a cell reference)."""
    name = _NAME_BAD.sub("_", clean_text(text)[0])
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = f"_{name}"
    if _CELL_LIKE.match(name):
        name = f"_{name}"
    name = name[:255]
    used = {t.lower() for t in taken}
    candidate, counter = name, 2
    while candidate.lower() in used:
        candidate = f"{name[:250]}_{counter}"
        counter += 1
    return candidate


def quote_sheet(title: str) -> str:
    """Sheet title as used in a reference: quoted (with doubled apostrophes) when needed."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not _CELL_LIKE.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def check_rows(n_rows: int, what: str = "schools") -> None:
    """Refuse a table that does not fit one sheet.

    Raises
    ------
    OutputError
        When ``n_rows`` exceeds Excel's 1,048,575 data rows.
    """
    if n_rows > MAX_DATA_ROWS:
        raise OutputError(
            f"{n_rows:,} {what} do not fit one Excel sheet (at most {MAX_DATA_ROWS:,} rows below the header); "
            "build one workbook per region (filter the table by admin1) or use schools.csv / schools.gpkg"
        )


class CellWriter:
    """Writes cells of one openpyxl sheet: text as text, numbers with formats, formulas with their cached value.

    Parameters
    ----------
    sheet
        The openpyxl worksheet.
    text_log
        Where cleaned text values are counted.
    """

    def __init__(self, sheet: Worksheet, text_log: TextLog) -> None:
        self.sheet = sheet
        self.text_log = text_log
        #: Cached value of each formula cell, by coordinate (``"B5"``).
        self.cached: dict[str, float | str] = {}

    def text(self, row: int, column: int, value: Any, *, bold: bool = False, wrap: bool = False) -> Cell:
        """A string cell, never a formula, whatever the text starts with."""
        cell = self.sheet.cell(row=row, column=column)
        cell.value = cell_text(value, self.text_log, self.sheet.title)
        cell.data_type = "s"  # openpyxl would turn a string starting with "=" into a formula
        if bold:
            cell.font = BOLD
        if wrap:
            cell.alignment = WRAP
        return cell

    def number(self, row: int, column: int, value: float | None, unit: str = "") -> Cell:
        """A number cell (blank for None/NaN)."""
        cell = self.sheet.cell(row=row, column=column)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            cell.value = float(value) if not isinstance(value, bool | int) else value
        if unit:
            cell.number_format = number_format(unit)
        return cell

    def formula(self, row: int, column: int, formula: str, cached: float | str | None, unit: str = "") -> Cell:
        """A formula cell (``formula`` without ``=``), remembering the model's value for it."""
        cell = self.sheet.cell(row=row, column=column)
        cell.value = f"={formula}"
        if unit:
            cell.number_format = number_format(unit)
        if cached is not None and not (isinstance(cached, float) and not math.isfinite(cached)):
            self.cached[cell.coordinate] = cached
        return cell

    def header(self, row: int, titles: list[str], start: int = 1) -> None:
        """A styled header row of text cells."""
        for offset, title in enumerate(titles):
            cell = self.text(row, start + offset, title)
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center")


_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f>(?:<v\s*/>|<v></v>)?</c>', re.S)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def add_cached_values(sheet_xml: str, cached: dict[str, float | str]) -> str:
    """Write cached results into an openpyxl sheet's formula cells (``<f>..</f><v>value</v>``)."""
    if not cached:
        return sheet_xml

    def replace(match: re.Match[str]) -> str:
        coordinate, attributes, formula = match.group(1), match.group(2), match.group(3)
        value = cached.get(coordinate)
        if value is None:
            return match.group(0)
        if isinstance(value, str):
            attributes = re.sub(r'\s+t="[^"]*"', "", attributes) + ' t="str"'
            shown = _xml_escape(cell_text(value))
        else:
            shown = repr(float(value))
        return f'<c r="{coordinate}"{attributes}><f>{formula}</f><v>{shown}</v></c>'

    return _FORMULA_CELL.sub(replace, sheet_xml)
