"""Writing the school table and its companions: GeoPackage, CSV and JSON, atomically.

* ``schools.gpkg``: layer ``schools``, every column, points in EPSG:4326. GeoPackage has no nullable boolean, so
  yes/no columns with unknowns are stored as integers 1/0 with NULL for unknown.
* ``schools.csv`` and ``rejected.csv``: UTF-8 with a byte-order mark (so Excel shows Cyrillic and Arabic names
  correctly), every column, values exactly as in the table. A CSV is data, not a spreadsheet: a school named
  ``=HYPERLINK(...)`` is written as typed. Open the investment-case workbook, not the CSV, in a spreadsheet program;
  the workbook stores every text as text.
* ``quality.json`` and other JSON: UTF-8, indented, keys in a stable order.
"""

from __future__ import annotations

import json
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from connectmap.report.files import atomic_path

CSV_ENCODING = "utf-8-sig"


def _gpkg_ready(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = table.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.BooleanDtype):
            out[name] = out[name].astype("Int8")
    return out


def write_geopackage(table: gpd.GeoDataFrame, path: str | PathLike[str], layer: str = "schools") -> Path:
    """Write ``table`` as a one-layer GeoPackage, atomically.

    Parameters
    ----------
    table
        A GeoDataFrame with a CRS.
    path
        Output ``.gpkg`` file.
    layer
        Layer name.
    """
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*extension.*", category=RuntimeWarning)
        _gpkg_ready(table).to_file(tmp, driver="GPKG", layer=layer, engine="pyogrio")
    return Path(path)


def write_csv(table: pd.DataFrame, path: str | PathLike[str], *, geometry: bool = False) -> Path:
    """Write a table as UTF-8 CSV (with BOM), atomically; the geometry column is left out unless asked (as WKT)."""
    frame = pd.DataFrame(table)
    if isinstance(table, gpd.GeoDataFrame):
        name = table.geometry.name
        frame = frame.drop(columns=name)
        if geometry:
            frame[name] = table.geometry.to_wkt()
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding=CSV_ENCODING, lineterminator="\n")
    return Path(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA:
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json_text(data: Any) -> str:
    """JSON text as connectmap writes it (indented, UTF-8 characters kept, numpy values converted)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def write_json(data: Any, path: str | PathLike[str]) -> Path:
    """Write ``data`` as JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(to_json_text(data), encoding="utf-8")
    return Path(path)
