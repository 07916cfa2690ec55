"""Reading connectmap's own school tables back (an enriched or costed GeoPackage or CSV), for the next step.

These files were written by :mod:`connectmap.report.tables`, so their columns already have canonical names; what
is lost on the way is the types, and this reader puts them back:

* GeoPackage (and any vector format GDAL reads, through :func:`connectmap.io.vector.read_vector`): yes/no
  columns come back as 0/1 integers, because GeoPackage has no nullable boolean; columns documented as flags
  (``connectivity``, ``electricity_availability``, ``covered_LTE``...) are turned back into nullable booleans.
* CSV: every cell is read as text first (so ``school_id_govt`` keeps its leading zeros), then a column becomes
  numbers only when every non-empty cell is a number and the column is not documented as text, and a nullable
  boolean when every non-empty cell is true/false. Points are built from ``longitude``/``latitude``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from connectmap.columns import COLUMNS, LATITUDE, LONGITUDE, TEXT_SCHOOL_COLUMNS
from connectmap.errors import InputError, MissingInputError, SchemaError, where

_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".fgb", ".shp", ".zip", ".parquet", ".geoparquet"}
_TEXT_UNITS = {"text", "codes", "path"}
_BOOLEAN_TEXT = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}


def _is_flag(name: str) -> bool:
    column = COLUMNS.get(name)
    return (column is not None and column.unit == "flag") or name.startswith("covered_")


def _is_text(name: str) -> bool:
    column = COLUMNS.get(name)
    return name in TEXT_SCHOOL_COLUMNS or (column is not None and column.unit in _TEXT_UNITS)


def _flags_to_boolean(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        if not _is_flag(name) or isinstance(frame[name].dtype, pd.BooleanDtype):
            continue
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isin(numbers[~np.isnan(numbers)], (0.0, 1.0)).all():
                frame[name] = pd.array(np.where(np.isnan(numbers), None, numbers == 1.0), dtype="boolean")
        elif pd.api.types.is_bool_dtype(values.dtype):
            frame[name] = values.astype("boolean")
    return frame


def _typed_csv_column(name: str, values: pd.Series) -> pd.Series | pd.api.extensions.ExtensionArray:
    present = values.notna()
    if not present.any() or _is_text(name):
        return values
    text = values[present]
    if text.isin(list(_BOOLEAN_TEXT)).all():
        return pd.array(values.map(_BOOLEAN_TEXT), dtype="boolean")
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return pd.to_numeric(values, errors="coerce")
    return values


def read_table(path: str | PathLike[str], *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a school table connectmap wrote (GeoPackage, CSV, GeoJSON, GeoParquet) into a GeoDataFrame.

    Parameters
    ----------
    path
        The file.
    layer
        Layer of a multi-layer file (e.g. ``schools`` in a GeoPackage that also holds ``rejected``).

    Raises
    ------
    MissingInputError
        When the file does not exist.
    InputError
        When the format is not one of these, or the file cannot be read.
    SchemaError
        When a CSV has no ``longitude``/``latitude`` columns.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: file not found; give the enriched schools file (GeoPackage or CSV)")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".geoparquet"):
        try:
            frame = gpd.read_parquet(path)
        except Exception as err:
            raise InputError(f"{path}: cannot read it as GeoParquet ({err})") from None
        return _flags_to_boolean(frame.to_crs("EPSG:4326") if frame.crs is not None else frame)
    if suffix in _VECTOR_SUFFIXES:
        from connectmap.io.vector import read_vector

        return _flags_to_boolean(read_vector(path, layer=layer))
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(f"{path}: unknown table format {suffix!r}; give a .gpkg, .csv, .geojson or .parquet file")
    separator = "\t" if suffix == ".tsv" else ","
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                          sep=separator)
    except (UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: cannot read it as UTF-8 CSV ({err})") from None
    missing = [name for name in (LONGITUDE, LATITUDE) if name not in raw.columns]
    if missing:
        raise SchemaError(
            f"{where(path, column=missing[0])}: column not found; a connectmap table has longitude and latitude "
            "(use `connectmap validate` to make one from a register)"
        )
    frame = pd.DataFrame({name: _typed_csv_column(name, raw[name]) for name in raw.columns})
    lon = pd.to_numeric(frame[LONGITUDE], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lat = pd.to_numeric(frame[LATITUDE], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    points = gpd.points_from_xy(lon, lat)
    points[~(np.isfinite(lon) & np.isfinite(lat))] = None
    return gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")
