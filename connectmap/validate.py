"""Validation of the school table: a clean table, a rejected table with reasons, and a quality summary.

Rows that cannot be placed on a map (no coordinates, coordinates that cannot be WGS84 degrees, (0, 0)) are rejected
with a reason code and a sentence naming the values. Everything else is kept, and what looks wrong is flagged in
``quality_flags``: duplicates, near-duplicates, points outside the country, impossible counts. Swapped latitude and
longitude are fixed only when a country outline shows that the swapped point is the right one. Rows in = clean rows
+ rejected rows, always.

All checks are vectorised; near-duplicates use the exact geodesic index in :mod:`connectmap.geodesy`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap import columns as C
from connectmap.geodesy import PointIndex
from connectmap.io._text import EXTRA_FIELDS
from connectmap.io.schools import PARSE_PROBLEMS
from connectmap.parameters.validation import ValidationParams
from connectmap.quality import append_flag, count_flags, flag_code

log = logging.getLogger(__name__)

REASON = "reason"
REASON_DETAIL = "reason_detail"

# --- rejection reasons ---------------------------------------------------------------------------------------------
EMPTY_ROW = flag_code("empty_row", "The row is empty.")
EXTRA_FIELDS_REASON = flag_code("extra_fields", "The line has more fields than the header (a stray separator?).")
MISSING_COORDINATES = flag_code(
    "missing_coordinates", "Latitude or longitude is empty (footer lines and notes end up here)."
)
UNPARSEABLE_COORDINATES = flag_code("unparseable_coordinates", "Latitude or longitude is not a number.")
PROJECTED_COORDINATES = flag_code(
    "projected_coordinates", "Coordinates look like projected metres (e.g. UTM), not degrees; give the CRS."
)
OUT_OF_RANGE = flag_code("coordinates_out_of_range", "Latitude beyond ±90° or longitude beyond ±180°.")
NULL_ISLAND = flag_code("null_island", "Coordinates are (0, 0), a placeholder for 'unknown'.")
# --- flags on kept rows --------------------------------------------------------------------------------------------
SWAPPED = flag_code(
    "swapped_coordinates_fixed",
    "Latitude and longitude were swapped in the input; fixed because only the swapped point is in the country.",
)
OUTSIDE = flag_code("outside_boundary", "The school lies outside the country outline given (kept).")
DUPLICATE_ID = flag_code("duplicate_id", "Another school has the same school_id_govt.")
DUPLICATE_GIGA_ID = flag_code("duplicate_giga_id", "Another school has the same school_id_giga.")
NEAR_DUPLICATE_NAME = flag_code("near_duplicate_name", "Another school with the same name is within 110 m.")
NEAR_DUPLICATE_LOCATION = flag_code("near_duplicate_location", "Another school is within 50 m.")
NEGATIVE_STUDENTS = flag_code("negative_num_students", "num_students was negative; set to unknown.")
IMPLAUSIBLE_STUDENTS = flag_code("num_students_implausible", "num_students above the plausible maximum (kept).")
NEGATIVE_TEACHERS = flag_code("negative_num_teachers", "num_teachers was negative; set to unknown.")
IMPLAUSIBLE_TEACHERS = flag_code("num_teachers_implausible", "num_teachers above the plausible maximum (kept).")
UNPARSEABLE_VALUE = flag_code("unparseable_value", "A numeric or yes/no field could not be read; set to unknown.")


@dataclass
class ValidationResult:
    """What :func:`validate_schools` returns.

    Attributes
    ----------
    clean
        The usable schools (EPSG:4326 points) with ``quality_flags``.
    rejected
        Rejected rows: ``source_row``, ``reason`` (code), ``reason_detail`` (a sentence), then the row's values
        under the file's own column names.
    summary
        Counts per check and what was read (JSON-serialisable), written as ``quality.json``.
    """

    clean: gpd.GeoDataFrame
    rejected: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def validate_schools(
    schools: gpd.GeoDataFrame,
    *,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
    params: ValidationParams | None = None,
) -> ValidationResult:
    """Check a school table read by :func:`connectmap.io.read_schools`.

    Parameters
    ----------
    schools
        The table as read (rows with unusable coordinates have empty geometry).
    boundary
        Country outline (any polygons in EPSG:4326). Enables the swapped-coordinate fix and the outside check.
    params
        Thresholds; defaults from :class:`~connectmap.parameters.validation.ValidationParams`.

    Returns
    -------
    ValidationResult
    """
    params = params or ValidationParams()
    table = pd.DataFrame(schools.drop(columns=schools.geometry.name)).copy()
    n_in = len(table)
    checks: dict[str, int] = {}
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    detail = pd.Series(pd.NA, index=table.index, dtype="string")

    def reject(mask: np.ndarray | pd.Series, code: str, sentence: Callable[[np.ndarray], pd.Series] | str) -> None:
        """Reject rows not rejected yet; ``sentence`` is text or builds the sentences for the masked rows."""
        mask = np.asarray(mask, dtype=bool) & reason.isna().to_numpy()
        checks[code] = checks.get(code, 0) + int(mask.sum())
        if mask.any():
            reason[mask] = code
            detail[mask] = sentence if isinstance(sentence, str) else sentence(mask).to_numpy()

    normalised = _normalise_text(table)
    lon = table[C.LONGITUDE].to_numpy(dtype=float).copy()
    lat = table[C.LATITUDE].to_numpy(dtype=float).copy()
    problems = table.get(PARSE_PROBLEMS, pd.Series(pd.NA, index=table.index, dtype="string")).fillna("")

    value_columns = [c for c in table.columns if c not in (C.SOURCE_ROW, PARSE_PROBLEMS, EXTRA_FIELDS)]
    empty = table[value_columns].isna().all(axis=1).to_numpy() & (problems == "").to_numpy()
    reject(empty, EMPTY_ROW, "the row is empty")
    if EXTRA_FIELDS in table.columns:
        extra = table[EXTRA_FIELDS].notna().to_numpy()
        surplus = table[EXTRA_FIELDS]
        reject(extra, EXTRA_FIELDS_REASON, lambda m: "more fields than the header; surplus: " + surplus[m])

    coordinate_problem = problems.str.contains(r"(?:^|; )(?:latitude|longitude)=", regex=True).to_numpy()
    reject(coordinate_problem, UNPARSEABLE_COORDINATES, lambda m: "coordinates are not numbers: " + problems[m])
    missing = ~np.isfinite(lon) | ~np.isfinite(lat)
    reject(missing, MISSING_COORDINATES, lambda m: _missing_sentence(table.loc[m, value_columns]))

    finite = np.isfinite(lon) & np.isfinite(lat)
    projected = finite & ((np.abs(lon) > 1000) | (np.abs(lat) > 1000))
    reject(
        projected, PROJECTED_COORDINATES,
        lambda m: _pair_sentence(lon[m], lat[m], "look like projected metres, not degrees; give --crs EPSG:XXXX"),
    )
    null_island = finite & (lon == 0) & (lat == 0)
    reject(null_island, NULL_ISLAND, "coordinates are (0, 0), a placeholder")

    # Swapped coordinates: decide with the outline; without one, only impossible latitudes are caught (rejected).
    outline = _outline(boundary)
    swappable = finite & ~projected & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    inside = np.zeros(n_in, dtype=bool)
    swapped = np.zeros(n_in, dtype=bool)
    if outline is not None:
        valid = finite & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        inside[valid] = shapely.contains_xy(outline, lon[valid], lat[valid])
        if params.fix_swapped_coordinates and swappable.any():
            candidates = swappable & ~inside & reason.isna().to_numpy()
            swapped[candidates] = shapely.contains_xy(outline, lat[candidates], lon[candidates])
            lon[swapped], lat[swapped] = lat[swapped].copy(), lon[swapped].copy()
            inside |= swapped
    checks[SWAPPED] = int(swapped.sum())
    out_of_range = finite & ~projected & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    hint = (
        "; latitude and longitude may be swapped: pass the country outline with --boundary to fix such rows"
        if outline is None else ""
    )
    reject(out_of_range, OUT_OF_RANGE, lambda m: _pair_sentence(lon[m], lat[m], "are out of range" + hint))

    table[C.LONGITUDE], table[C.LATITUDE] = lon, lat
    keep = reason.isna().to_numpy()
    rejected = _rejected_table(table[~keep], reason[~keep], detail[~keep], schools.attrs)
    clean = table[keep].copy()
    if C.QUALITY_FLAGS not in clean.columns:
        clean[C.QUALITY_FLAGS] = pd.Series("", index=clean.index, dtype="string")
    append_flag(clean, swapped[keep], SWAPPED)
    if outline is not None:
        append_flag(clean, ~inside[keep], OUTSIDE)
        checks[OUTSIDE] = int((~inside[keep]).sum())
    _flag_numbers(clean, params, checks)
    _flag_parse_problems(clean, checks)
    _flag_duplicates(clean, params, checks)
    clean = clean.drop(columns=[c for c in (PARSE_PROBLEMS, EXTRA_FIELDS) if c in clean.columns])
    # Keep the reader's points; only fixed (swapped) rows need new ones.
    geometry = schools.geometry.to_numpy()[keep].copy()
    fixed = swapped[keep]
    if fixed.any():
        geometry[fixed] = shapely.points(lon[keep][fixed], lat[keep][fixed])
    # A fresh 0..n-1 index: source_row identifies the rows; later steps need not carry the gaps of rejected rows.
    clean_gdf = gpd.GeoDataFrame(clean.reset_index(drop=True), geometry=geometry, crs=4326)
    clean_gdf.attrs = dict(schools.attrs)

    summary = _summary(schools.attrs, n_in, clean_gdf, rejected, checks, normalised)
    assert summary["rows_in"] == summary["rows_clean"] + summary["rows_rejected"]
    log.info(
        "%d rows: %d clean, %d rejected, %d fixed, %d flagged",
        n_in, len(clean_gdf), len(rejected), checks[SWAPPED], int((clean_gdf[C.QUALITY_FLAGS] != "").sum()),
    )
    return ValidationResult(clean_gdf, rejected, summary)


# --- pieces ---------------------------------------------------------------------------------------------------------
def _normalise_text(table: pd.DataFrame) -> int:
    """Unicode NFC for every text column, in place; returns how many values changed (ASCII is always NFC)."""
    changed = 0
    for name in table.columns:
        column = table[name]
        if not (pd.api.types.is_string_dtype(column) or column.dtype == object) or name == PARSE_PROBLEMS:
            continue
        text = column.astype("string")
        wide = (~text.str.isascii()).fillna(False).to_numpy()
        if not wide.any():
            continue
        nfc = text[wide].str.normalize("NFC")
        diff = (nfc != text[wide]).fillna(False)
        if diff.any():
            changed += int(diff.sum())
            text[wide] = nfc
            table[name] = text
    return changed


def _outline(boundary: Any) -> shapely.Geometry | None:
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        crs = boundary.crs
        if crs is not None and crs.to_epsg() != 4326:
            boundary = boundary.to_crs(4326)
        geoms = np.asarray(boundary.geometry if isinstance(boundary, gpd.GeoDataFrame) else boundary)
        outline = shapely.union_all(shapely.make_valid(geoms))
    else:
        outline = shapely.make_valid(boundary)
    shapely.prepare(outline)
    return outline


def _pair_sentence(lon: np.ndarray, lat: np.ndarray, text: str) -> pd.Series:
    pairs = zip(lat.tolist(), lon.tolist(), strict=True)
    return pd.Series([f"latitude {a!r} and longitude {o!r} {text}" for a, o in pairs])


def _missing_sentence(cells: pd.DataFrame) -> pd.Series:
    """Say that a coordinate is empty, quoting the row when it looks like a footer or note."""
    cells = cells.astype("string")
    quoted = cells.fillna("").agg(lambda row: ", ".join(repr(v) for v in row if v), axis=1)
    footer = cells.notna().sum(axis=1) <= 3
    return ("no coordinates; the row holds only " + quoted + " (a footer or note?)").where(
        footer, "latitude or longitude is empty"
    )


def _flag_numbers(clean: pd.DataFrame, params: ValidationParams, checks: dict[str, int]) -> None:
    for column, negative, implausible, limit in (
        (C.NUM_STUDENTS, NEGATIVE_STUDENTS, IMPLAUSIBLE_STUDENTS, params.max_num_students),
        (C.NUM_TEACHERS, NEGATIVE_TEACHERS, IMPLAUSIBLE_TEACHERS, params.max_num_teachers),
    ):
        if column not in clean.columns:
            continue
        values = clean[column].to_numpy(dtype=float)
        below = values < 0
        above = values > limit
        append_flag(clean, below, negative)
        append_flag(clean, above, implausible)
        checks[negative] = int(below.sum())
        checks[implausible] = int(above.sum())
        if below.any():
            clean.loc[below, column] = np.nan


def _flag_parse_problems(clean: pd.DataFrame, checks: dict[str, int]) -> None:
    if PARSE_PROBLEMS not in clean.columns:
        return
    mask = clean[PARSE_PROBLEMS].notna().to_numpy()
    append_flag(clean, mask, UNPARSEABLE_VALUE)
    checks[UNPARSEABLE_VALUE] = int(mask.sum())
    if mask.any():
        examples = clean.loc[mask, PARSE_PROBLEMS].head(3).tolist()
        log.warning("%d row(s) have values that could not be read, e.g. %s", int(mask.sum()), "; ".join(examples))


def _name_key(names: pd.Series) -> np.ndarray:
    """Names compared case- and space-insensitively; empty names never match."""
    key = names.astype("string").str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()
    return key.fillna("").to_numpy(dtype=object)


def _flag_duplicates(clean: pd.DataFrame, params: ValidationParams, checks: dict[str, int]) -> None:
    for column, code in ((C.SCHOOL_ID_GOVT, DUPLICATE_ID), (C.SCHOOL_ID_GIGA, DUPLICATE_GIGA_ID)):
        if column in clean.columns:
            ids = clean[column]
            mask = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
            append_flag(clean, mask, code)
            checks[code] = int(mask.sum())
    index = PointIndex(clean[C.LONGITUDE].to_numpy(float), clean[C.LATITUDE].to_numpy(float))
    radius_km = max(params.near_duplicate_same_name_m, params.near_duplicate_any_m) / 1000.0
    i, j, distance_km = index.pairs_within(radius_km)
    near_any = np.zeros(len(clean), dtype=bool)
    close = distance_km <= params.near_duplicate_any_m / 1000.0
    near_any[i[close]] = near_any[j[close]] = True
    near_name = np.zeros(len(clean), dtype=bool)
    if C.SCHOOL_NAME in clean.columns and i.size:
        involved = np.unique(np.concatenate([i, j]))  # compare names only of schools that have a close neighbour
        names = np.empty(len(clean), dtype=object)
        names[involved] = _name_key(clean[C.SCHOOL_NAME].iloc[involved])
        same = (names[i] == names[j]) & (names[i] != "") & (distance_km <= params.near_duplicate_same_name_m / 1000)
        near_name[i[same]] = near_name[j[same]] = True
    append_flag(clean, near_name, NEAR_DUPLICATE_NAME)
    append_flag(clean, near_any, NEAR_DUPLICATE_LOCATION)
    checks[NEAR_DUPLICATE_NAME] = int(near_name.sum())
    checks[NEAR_DUPLICATE_LOCATION] = int(near_any.sum())


def _rejected_table(rows: pd.DataFrame, reason: pd.Series, detail: pd.Series, attrs: dict) -> pd.DataFrame:
    """Rejected rows under the file's own column names, with the reason first."""
    original = dict(attrs.get("connectmap", {}).get("column_mapping", {}))
    values = rows.drop(columns=[c for c in (PARSE_PROBLEMS, C.QUALITY_FLAGS) if c in rows.columns])
    values = values.rename(columns={c: original.get(c, c) for c in values.columns if c != C.SOURCE_ROW})
    head = [values[[C.SOURCE_ROW]], reason.rename(REASON), detail.rename(REASON_DETAIL)]
    rejected = pd.concat([*head, values.drop(columns=C.SOURCE_ROW)], axis=1)
    return rejected.reset_index(drop=True)


def _summary(
    attrs: dict, n_in: int, clean: gpd.GeoDataFrame, rejected: pd.DataFrame, checks: dict[str, int], normalised: int
) -> dict[str, Any]:
    read = attrs.get("connectmap", {})
    by_reason = rejected[REASON].value_counts() if len(rejected) else pd.Series(dtype=int)
    return {
        "input": {k: v for k, v in read.items() if k != "notes"},
        "notes": list(read.get("notes", [])),
        "rows_in": n_in,
        "rows_clean": len(clean),
        "rows_rejected": len(rejected),
        "rejected_by_reason": {str(k): int(v) for k, v in sorted(by_reason.items())},
        "flags": count_flags(clean),
        "checks": dict(sorted(checks.items())),
        "text_values_normalised_nfc": normalised,
    }
