"""Reading a school register from any format a ministry has, into the canonical school table.

Every format is first read into an all-text attribute table (plus point geometry where the format has one), so one
routine maps column names and parses values the same way for all of them:

1. column names: an explicit mapping first (``columns={"school_name": "Nom"}``), then Giga master, legacy Giga and
   Project Connect names and a few common headings (:data:`connectmap.columns.SCHOOL_ALIASES`), matched
   case-insensitively; every match is recorded in ``attrs["connectmap"]["column_mapping"]``;
2. values: IDs and names stay text (leading zeros kept); counts and coordinates become numbers (decimal commas
   understood); yes/no fields become nullable booleans. A value that cannot be parsed becomes missing and is noted
   in the private column ``_parse_problems`` for :mod:`connectmap.validate` to report;
3. geometry: points in EPSG:4326 from the coordinate columns (reprojected from ``crs`` when given) or from the file's
   own geometry. Rows without usable coordinates keep their place with an empty geometry; validation rejects them
   with a reason, so rows in = clean rows + rejected rows.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from connectmap import columns as C
from connectmap.errors import CRSError, InputError, MissingInputError, SchemaError
from connectmap.io._text import EXTRA_FIELDS, read_delimited

log = logging.getLogger(__name__)

#: Private column listing values that could not be parsed, e.g. ``latitude='15°N'``; consumed by validation.
PARSE_PROBLEMS = "_parse_problems"

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml", ".zip"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet"}

_TRUE = {"1", "yes", "y", "true", "t", "oui", "si", "sí", "sim", "да", "ha", "connected", "available"}
_FALSE = {"0", "no", "n", "false", "f", "non", "nao", "não", "нет", "yo'q", "not connected", "unavailable", "none"}
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return suffixes[-2] if len(suffixes) > 1 else ".csv"
    return suffixes[-1] if suffixes else ""


def normalise_header(name: str) -> str:
    """Header key used for alias matching: lower case, trimmed, spaces and hyphens as underscores."""
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    return re.sub(r"_+", "_", key).strip("_")


def read_schools(
    path: str | Path,
    *,
    columns: dict[str, str] | None = None,
    layer: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a school register into the canonical school table.

    Parameters
    ----------
    path
        CSV/TSV/TXT (optionally ``.gz``), Excel ``.xlsx``, GeoJSON, GeoPackage, Shapefile or GeoParquet.
    columns
        Explicit mapping ``{canonical name: column in the file}``, applied before the built-in aliases.
    layer
        GeoPackage (or other multi-layer) layer; required when the file has several.
    sheet
        Excel sheet; required when the workbook has several sheets with data.
    encoding, delimiter
        For text files; detected when not given.
    decimal
        ``"."`` or ``","``; detected per file when not given (a decimal comma is assumed only when coordinate
        values use a comma and no point).
    crs
        CRS of the coordinate columns of a text or Excel register (e.g. ``"EPSG:32637"``); WGS84 degrees when not
        given. Files with their own geometry use their own CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per input row (in file order), with ``source_row``, canonical columns, every other
        column of the file as text, and ``attrs["connectmap"]`` describing what was read (format, encoding,
        delimiter, column mapping, notes).

    Raises
    ------
    MissingInputError, InputError, SchemaError, CRSError
        With the file, column or layer and what to do.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: school register not found")
    suffix = _suffix(path)
    info: dict[str, Any] = {"path": str(path), "format": suffix.lstrip(".")}
    geometry: gpd.GeoSeries | None = None
    if suffix in TEXT_SUFFIXES or path.suffix.lower() == ".gz":
        text = read_delimited(path, encoding=encoding, delimiter=delimiter)
        table = text.frame
        first_row = 2
        info.update(encoding=text.encoding, delimiter=text.delimiter, notes=list(text.notes))
    elif suffix in EXCEL_SUFFIXES:
        table, sheet_name, notes = read_excel_table(path, sheet)
        first_row = 2
        info.update(sheet=sheet_name, notes=notes)
    elif suffix in VECTOR_SUFFIXES or suffix in PARQUET_SUFFIXES:
        table, geometry, layer_name = _read_geo(path, layer, suffix)
        first_row = 1
        info.update(layer=layer_name, notes=[])
    elif suffix == ".xls":
        raise InputError(f"{path}: old .xls workbooks are not supported; save the sheet as .xlsx or CSV")
    else:
        raise InputError(
            f"{path}: unknown file type {suffix!r}; use CSV/TSV/TXT, XLSX, GeoJSON, GPKG, Shapefile or GeoParquet"
        )
    return _canonical(table, geometry, path, info, first_row, columns or {}, decimal, crs)


# --- format readers: each returns an all-text attribute table --------------------------------------------------------
def cell_text(value: Any) -> str | None:
    """A cell value as text the way every reader stores it: whole floats without ``.0``, dates ISO, empty as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not np.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def read_excel_table(path: Path, sheet: str | None) -> tuple[pd.DataFrame, str, list[str]]:
    """One sheet of a workbook as an all-text table (formula cells as their saved values).

    Returns the table, the sheet's name and notes (e.g. formulas saved without values). Refuses to guess between
    several sheets with data.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for damaged files
        raise InputError(f"{path}: cannot open the workbook ({err}); is it a valid .xlsx file?") from None
    try:
        names = book.sheetnames
        if sheet is None:
            with_data = [n for n in names if book[n].max_row and book[n].max_row > 1]
            if len(with_data) > 1:
                raise InputError(
                    f"{path}: the workbook has {len(with_data)} sheets with data ({', '.join(with_data)}); "
                    "choose one with --sheet NAME"
                )
            sheet = with_data[0] if with_data else names[0]
        elif sheet not in names:
            raise InputError(f"{path}: no sheet {sheet!r}; the sheets are {', '.join(names)}")
        rows = book[sheet].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path}, sheet {sheet!r}: the sheet is empty")
        names_ = [cell_text(h) or f"column_{i + 1}" for i, h in enumerate(header)]
        body = [[cell_text(v) for v in row[: len(names_)]] for row in rows]
    finally:
        book.close()
    # Drop trailing all-empty rows that Excel reports as "used" (formatting only), not data rows in between.
    while body and all(v is None for v in body[-1]):
        body.pop()
    table = pd.DataFrame(body, columns=names_, dtype=object)
    notes = _uncached_formula_notes(path, sheet, body)
    return table, sheet, notes


def _uncached_formula_notes(path: Path, sheet: str, body: list[list[str | None]]) -> list[str]:
    """Formula cells are read as their cached values; warn when a program saved formulas without values."""
    if not any(v is None for row in body for v in row):
        return []
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        formulas = 0
        for r, row in enumerate(book[sheet].iter_rows(min_row=2, values_only=True)):
            if r >= len(body):
                break
            for c, value in enumerate(row[: len(body[r])]):
                if body[r][c] is None and isinstance(value, str) and value.startswith("="):
                    formulas += 1
    finally:
        book.close()
    if not formulas:
        return []
    note = (
        f"{formulas} formula cell(s) have no saved value (the file was written by a program that did not "
        "calculate it); open and save it in Excel or LibreOffice to read them"
    )
    log.warning("%s: %s", path, note)
    return [note]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda s: s.map(cell_text)).astype(object) if len(frame.columns) else frame


def _read_geo(path: Path, layer: str | None, suffix: str) -> tuple[pd.DataFrame, gpd.GeoSeries | None, str | None]:
    if suffix in PARQUET_SUFFIXES:
        try:
            frame = gpd.read_parquet(path)
        except ValueError:  # a plain Parquet table with coordinate columns, no GeoParquet metadata
            return _as_text(pd.read_parquet(path)), None, None
        except Exception as err:
            raise InputError(f"{path}: cannot read GeoParquet ({err})") from None
        if frame.crs is None:
            raise CRSError(f"{path}: the GeoParquet file has no coordinate reference system; set one (e.g. EPSG:4326)")
        frame = frame.to_crs(4326)
        layer_name = None
    else:
        from connectmap.io.vector import read_vector

        frame = read_vector(path, layer=layer)  # refuses to guess a layer, requires a CRS, respects .cpg
        layer_name = frame.attrs["connectmap"]["layer"]
    return _as_text(pd.DataFrame(frame.drop(columns=frame.geometry.name))), frame.geometry, layer_name


# --- one routine for all formats ----------------------------------------------------------------------------------
def _resolve_columns(table: pd.DataFrame, explicit: dict[str, str], path: Path) -> dict[str, str]:
    """Return ``{source column: canonical name}``; refuse when two columns claim the same meaning."""
    available = list(table.columns)
    mapping: dict[str, str] = {}
    for canonical, source in explicit.items():
        if source not in available:
            raise SchemaError(
                f"{path}: column {source!r} (given for {canonical}) is not in the file; the columns are: "
                + ", ".join(repr(c) for c in available)
            )
        mapping[source] = canonical
    claimed = {canonical: source for source, canonical in mapping.items()}
    for source in available:
        if source in mapping or source == EXTRA_FIELDS:
            continue
        canonical = C.SCHOOL_ALIASES.get(normalise_header(source))
        if canonical is None or (canonical in claimed and claimed[canonical] in explicit.values()):
            continue
        if canonical in claimed:
            raise SchemaError(
                f"{path}: columns {claimed[canonical]!r} and {source!r} both look like {canonical}; choose one "
                f"with --columns {canonical}=COLUMN"
            )
        mapping[source] = canonical
        claimed[canonical] = source
    return mapping


def _parse_numbers(values: pd.Series, decimal: str) -> tuple[pd.Series, pd.Series]:
    """Parse text to float; return the numbers and a mask of non-empty values that failed to parse."""
    text = values.astype("string").str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    failed = text.notna() & numbers.isna()
    return numbers, failed


def _detect_decimal(table: pd.DataFrame) -> str:
    """Decimal comma when coordinate values (after renaming) look like ``12,5`` and none like ``12.5``."""
    comma = point = 0
    for name in (C.LATITUDE, C.LONGITUDE):
        if name not in table.columns:
            continue
        sample = table[name].dropna().astype(str).head(5000)
        comma += int(sample.str.fullmatch(_DECIMAL_COMMA.pattern).sum())
        point += int(sample.str.fullmatch(r"[+-]?\d+\.\d+").sum())
    return "," if comma > 0 and point == 0 else "."


def _parse_booleans(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string").str.strip().str.lower()
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE).fillna(False)] = True
    result[text.isin(_FALSE).fillna(False)] = False
    number = pd.to_numeric(text, errors="coerce")  # "1.0" / "0.0" as written by pandas exports
    result[(number == 1).fillna(False)] = True
    result[(number == 0).fillna(False)] = False
    failed = text.notna() & result.isna()
    return result, failed


def _canonical(
    table: pd.DataFrame,
    geometry: gpd.GeoSeries | None,
    path: Path,
    info: dict[str, Any],
    first_row: int,
    explicit: dict[str, str],
    decimal: str | None,
    crs: str | None,
) -> gpd.GeoDataFrame:
    table = table.reset_index(drop=True)
    mapping = _resolve_columns(table, explicit, path)
    # Columns whose original name collides with a canonical name taken by another column keep their data.
    renames = dict(mapping)
    for source in table.columns:
        if source not in mapping and source in mapping.values():
            renames[source] = f"{source}_original"
    table = table.rename(columns=renames)
    info["column_mapping"] = {canonical: source for source, canonical in mapping.items()}

    has_coordinates = C.LATITUDE in table.columns and C.LONGITUDE in table.columns
    if not has_coordinates and geometry is None:
        raise SchemaError(
            f"{path}: no coordinate columns found (looked for latitude/longitude, lat/lon, ...); the columns are: "
            + ", ".join(repr(c) for c in table.columns)
            + ". Name them with --columns latitude=COLUMN --columns longitude=COLUMN"
        )
    decimal = decimal or _detect_decimal(table)
    info["decimal"] = decimal

    problems = pd.Series("", index=table.index, dtype=object)
    out = pd.DataFrame(index=table.index)
    out[C.SOURCE_ROW] = np.arange(first_row, first_row + len(table), dtype=np.int64)
    for name in table.columns:
        values = table[name]
        if name in C.NUMERIC_SCHOOL_COLUMNS:
            parsed, failed = _parse_numbers(values, decimal)
        elif name in C.BOOLEAN_SCHOOL_COLUMNS:
            parsed, failed = _parse_booleans(values)
        else:
            out[name] = values.astype("string")
            continue
        out[name] = parsed
        if failed.any():
            note = name + "=" + values[failed].astype(str).map(repr)
            problems[failed] = problems[failed] + np.where(problems[failed] == "", "", "; ") + note
    out[PARSE_PROBLEMS] = problems.replace("", None).astype("string")

    if geometry is not None:
        geometry = geometry.reset_index(drop=True)
        points = _points_from_geometry(geometry, out)
    else:
        x, y = out[C.LONGITUDE].to_numpy(float), out[C.LATITUDE].to_numpy(float)
        if crs is not None:
            x, y = _to_wgs84(x, y, crs, path)
            out[C.LONGITUDE], out[C.LATITUDE] = x, y
        ok = np.isfinite(x) & np.isfinite(y)
        points = np.full(len(out), None, dtype=object)
        points[ok] = shapely.points(x[ok], y[ok])
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(points, index=out.index, crs=4326), crs=4326)
    result.attrs["connectmap"] = info
    for note in info.get("notes", []):
        log.info("%s: %s", path, note)
    for canonical, source in info["column_mapping"].items():
        if canonical != source:
            log.info("%s: column %r read as %s", path, source, canonical)
    return result


def _points_from_geometry(geometry: gpd.GeoSeries, out: pd.DataFrame) -> np.ndarray:
    """Use the file's geometry; polygons (school grounds) become a point on their surface."""
    geoms = geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    not_point = ~empty & (shapely.get_type_id(geoms) != 0)
    points = geoms.copy()
    if not_point.any():
        points[not_point] = shapely.point_on_surface(geoms[not_point])
        log.info("%d school geometries are not points; a point on each surface is used", int(not_point.sum()))
    points[empty] = None
    ok = ~empty
    lon = np.full(len(points), np.nan)
    lat = np.full(len(points), np.nan)
    lon[ok] = shapely.get_x(points[ok])
    lat[ok] = shapely.get_y(points[ok])
    out[C.LONGITUDE], out[C.LATITUDE] = lon, lat
    return points


def _to_wgs84(x: np.ndarray, y: np.ndarray, crs: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    except pyproj.exceptions.CRSError as err:
        raise CRSError(f"{path}: cannot use --crs {crs!r} ({err}); give an EPSG code such as EPSG:32637") from None
    lon, lat = transformer.transform(x, y)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat
