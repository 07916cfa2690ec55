"""Reading columns of the school table as numpy arrays, with clear errors for values that cannot be used.

The cost model, zero-rating and the workbook work on whole columns at once. A column may be absent (its values are
then unknown), but a value that is present and cannot be read (``"twelve"`` in ``num_students``) is an error naming
the column, the school's row in the input file and the fix, rather than a silent NaN.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray

from connectmap.columns import SOURCE_ROW
from connectmap.errors import SchemaError, where

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}


def _row_of(table: pd.DataFrame, position: int) -> int | None:
    if SOURCE_ROW in table.columns:
        value = table[SOURCE_ROW].iloc[position]
        if pd.notna(value):
            return int(value)
    return None


def _bad_value(table: pd.DataFrame, name: str, bad: NDArray[np.bool_], expected: str) -> SchemaError:
    position = int(np.flatnonzero(bad)[0])
    value = table[name].iloc[position]
    count = int(bad.sum())
    return SchemaError(
        f"{where(None, row=_row_of(table, position), column=name)}: {value!r} is not {expected} "
        f"({count} such value(s)); correct the input or leave the cell empty for unknown"
    )


def numeric_column(table: pd.DataFrame, name: str) -> NDArray[np.float64]:
    """Column ``name`` as float64 (NaN = unknown); all NaN when the column is absent.

    Raises
    ------
    SchemaError
        When a non-empty value is not a number.
    """
    if name not in table.columns:
        return np.full(len(table), np.nan)
    column = table[name]
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
        # a copy: pandas may hand out a read-only view, and callers fill these arrays in
        return np.array(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, copy=True)
    converted = np.array(pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    text = column.astype("str").str.strip()
    bad = np.isnan(converted) & column.notna().to_numpy() & (text != "").to_numpy() & ~text.str.lower().isin(
        ["nan", "none", "null", "na", "<na>"]
    ).to_numpy()
    if bad.any():
        raise _bad_value(table, name, bad, "a number")
    return converted


def boolean_column(table: pd.DataFrame, name: str) -> NDArray[np.float64]:
    """Column ``name`` as 1.0 (true), 0.0 (false) or NaN (unknown); all NaN when absent.

    Accepts pandas booleans, 0/1 integers (as GeoPackage stores them) and true/false/yes/no/1/0 text.

    Raises
    ------
    SchemaError
        When a non-empty value is none of those.
    """
    if name not in table.columns:
        return np.full(len(table), np.nan)
    column = table[name]
    if pd.api.types.is_bool_dtype(column.dtype):
        return np.array(column.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = np.array(column.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
        bad = ~np.isnan(values) & (values != 0.0) & (values != 1.0)
        if bad.any():
            raise _bad_value(table, name, bad, "true/false (1/0)")
        return values
    text = column.astype("str").str.strip().str.lower()
    missing = column.isna().to_numpy() | text.isin(["", "nan", "none", "null", "na", "<na>"]).to_numpy()
    is_true = text.isin(_TRUE).to_numpy()
    is_false = text.isin(_FALSE).to_numpy()
    bad = ~missing & ~is_true & ~is_false
    if bad.any():
        raise _bad_value(table, name, bad, "true/false")
    return np.where(missing, np.nan, np.where(is_true, 1.0, 0.0))


def text_column(table: pd.DataFrame, name: str) -> NDArray[np.object_]:
    """Column ``name`` as an object array of str, with None for missing; all None when absent."""
    if name not in table.columns:
        return np.full(len(table), None, dtype=object)
    column = table[name]
    values = np.array(column.astype("str").to_numpy(dtype=object), dtype=object, copy=True)
    values[column.isna().to_numpy()] = None
    return values


def coordinates(table: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude and latitude in degrees (NaN where unknown), from the geometry or the coordinate columns."""
    geometry = None
    if isinstance(table, gpd.GeoDataFrame):
        try:
            geometry = table.geometry
        except AttributeError:  # a GeoDataFrame whose active geometry column was dropped
            geometry = None
    if geometry is None:
        return numeric_column(table, "longitude"), numeric_column(table, "latitude")
    if geometry.crs is not None and not geometry.crs.equals("EPSG:4326"):
        geometry = geometry.to_crs("EPSG:4326")
    lon = np.full(len(table), np.nan)
    lat = np.full(len(table), np.nan)
    # one pass in C: missing and empty points give no coordinates, so they stay NaN
    xy, owner = shapely.get_coordinates(np.asarray(geometry.array), return_index=True)
    lon[owner] = xy[:, 0]
    lat[owner] = xy[:, 1]
    return lon, lat


def labels_array(codes: NDArray[np.integer], labels: list[str]) -> pd.api.extensions.ExtensionArray:
    """A pandas text array with ``labels[code]`` for each code and missing where the code is negative.

    Built with pyarrow's ``take`` (no Python string objects per row), so a million rows cost milliseconds.
    """
    dictionary = pa.array(list(labels), type=pa.string())
    codes = np.asarray(codes)
    indices = pa.array(codes.astype(np.int32), mask=codes < 0, type=pa.int32())
    return pd.array(pc.take(dictionary, indices), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def category_codes(table: pd.DataFrame, name: str, labels: list[str]) -> NDArray[np.int64]:
    """Position of each value of column ``name`` in ``labels`` (-1 for missing; all -1 when the column is absent).

    Raises
    ------
    SchemaError
        When a value is not one of ``labels``.
    """
    if name not in table.columns:
        return np.full(len(table), -1, dtype=np.int64)
    column = table[name]
    codes = pd.Index(labels).get_indexer(column).astype(np.int64)  # hashed lookup; -1 for missing or unknown
    bad = (codes < 0) & column.notna().to_numpy()
    if bad.any():
        raise _bad_value(table, name, bad, "one of " + ", ".join(repr(label) for label in labels if label))
    return codes


def replace_columns(table: pd.DataFrame, columns: dict[str, object]) -> pd.DataFrame:
    """``table`` with ``columns`` added at the end (replacing any of the same name), in one concatenation."""
    kept = table.drop(columns=[name for name in columns if name in table.columns])
    new = pd.DataFrame(columns, index=table.index)
    out = pd.concat([kept, new], axis=1)
    if hasattr(table, "crs") and hasattr(out, "set_geometry") and hasattr(table, "geometry"):
        out = out.set_geometry(table.geometry.name, crs=table.crs)
    return out
