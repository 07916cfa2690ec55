"""Reading vector layers (GeoJSON, GeoPackage, Shapefile, TopoJSON, FlatGeobuf...) through pyogrio, safely.

The layer readers for towers, fibre, boundaries and coverage polygons all go through :func:`read_vector`, which
makes the choices that are easy to get silently wrong:

* **Layer choice**: a file with several layers (a GeoPackage, a TopoJSON file with several objects) is refused
  unless a layer is named; the message lists the layers. We never pick the first one.
* **CRS required**: a layer without a coordinate reference system (a shapefile without ``.prj``) is refused unless
  the caller says what it is (``crs=``). GeoJSON is WGS84 by its specification (RFC 7946) and TopoJSON files carry
  no CRS and are WGS84 in practice (world-atlas, Natural Earth); both are read as EPSG:4326. Everything is
  reprojected to EPSG:4326, and coordinates that cannot be degrees (projected metres in a file that claims WGS84)
  are refused.
* **Text encoding**: GDAL honours a shapefile's ``.cpg`` (e.g. ``CP1251`` for Cyrillic); without one it reads
  text as ISO-8859-1, which turns non-Latin names into mojibake, so we warn when a shapefile has no ``.cpg`` and
  its text is not plain ASCII. ``encoding=`` overrides.

Attribute values come back as GDAL gives them (numbers as numbers, OFDS nested JSON objects as dicts); the
readers turn the fields they use into text with :func:`text_values`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from connectmap.errors import CRSError, InputError, MissingInputError, SchemaError
from connectmap.io.schools import cell_text, normalise_header
from connectmap.report.text import clean_text

log = logging.getLogger(__name__)

__all__ = ["choose_layer", "describe_layer", "find_field", "list_layers", "read_vector", "text_values"]

WGS84 = "EPSG:4326"
# Drivers whose files are WGS84 by specification or convention when they carry no CRS.
_WGS84_BY_DEFAULT = {"GeoJSON", "GeoJSONSeq", "TopoJSON"}
# Degrees must lie within these bounds; a hair of slack for rounding at the antimeridian and poles.
_DEGREE_SLACK = 1e-6


def describe_layer(path: str | Path, layer: str | int | None = None) -> str:
    """``"file.gpkg, layer 'roads'"`` for messages (just the file when there is no layer name)."""
    return f"{path}, layer {layer!r}" if layer is not None else str(path)


def _is_gdal_virtual(path: str | Path) -> bool:
    text = str(path)
    return text.startswith(("/vsi", "zip://", "http://", "https://", "s3://"))


def list_layers(path: str | Path) -> list[tuple[str, str]]:
    """The layers of a vector file as ``(name, geometry type)`` pairs.

    Raises
    ------
    MissingInputError
        When the file does not exist.
    InputError
        When GDAL cannot open it as a vector dataset.
    """
    import pyogrio

    if not _is_gdal_virtual(path) and not Path(path).exists():
        raise MissingInputError(f"{path}: file not found")
    try:
        layers = pyogrio.list_layers(path)
    except Exception as err:  # pyogrio raises DataSourceError and friends; all mean "not a readable file"
        raise InputError(
            f"{path}: cannot be read as a vector file ({err}); use GeoJSON, GeoPackage, Shapefile (.shp with its "
            ".shx, .dbf and .prj), TopoJSON or FlatGeobuf"
        ) from None
    return [(str(name), str(kind)) for name, kind in layers]


def choose_layer(path: str | Path, layer: str | int | None) -> tuple[str, int]:
    """Return the layer to read (the named one, or the only one) and how many layers the file has.

    Refuses to guess between several layers: the message lists them and says how to choose.
    """
    layers = list_layers(path)
    names = [name for name, _ in layers]
    if not names:
        raise InputError(f"{path}: the file has no layers")
    if layer is None:
        if len(names) > 1:
            listing = ", ".join(f"{name!r} ({kind})" for name, kind in layers)
            raise InputError(
                f"{path}: the file has {len(names)} layers: {listing}; choose one by name (layer=NAME; on the "
                "command line the --layer or --boundary-layer option)"
            )
        return names[0], 1
    if isinstance(layer, int) and not isinstance(layer, bool):
        if not 0 <= layer < len(names):
            raise InputError(f"{path}: no layer number {layer}; the layers are {', '.join(map(repr, names))}")
        return names[layer], len(names)
    if layer in names:
        return str(layer), len(names)
    folded = [name for name in names if name.casefold() == str(layer).casefold()]
    if len(folded) == 1:
        return folded[0], len(names)
    raise InputError(f"{path}: no layer {layer!r}; the layers are {', '.join(map(repr, names))}")


def read_vector(
    path: str | Path,
    *,
    layer: str | int | None = None,
    crs: Any = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer of a vector file into a GeoDataFrame in EPSG:4326 (2-D geometries).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (``.shp``, or a ``.zip`` holding one), TopoJSON, FlatGeobuf or any other
        format GDAL reads.
    layer
        Layer name (or position); required when the file has several layers.
    crs
        CRS of a layer that has none (e.g. ``"EPSG:32628"`` for a shapefile without ``.prj``). Refused when the
        layer has its own, to avoid two answers to one question.
    encoding
        Text encoding of the attributes, overriding the file's (``.cpg``) or GDAL's default.

    Returns
    -------
    geopandas.GeoDataFrame
        Attributes as GDAL reads them (nested JSON as dicts), geometry in EPSG:4326; null geometries stay as
        ``None`` so the caller can report them. ``attrs["connectmap"]`` holds the path, layer, driver and the
        file's own CRS.

    Raises
    ------
    MissingInputError, InputError, CRSError
        With the file, the layer and what to do.
    """
    import pyogrio

    name, count = choose_layer(path, layer)
    place = describe_layer(path, name) if count > 1 else str(path)
    try:
        info = pyogrio.read_info(path, layer=name, encoding=encoding)
        frame = pyogrio.read_dataframe(path, layer=name, encoding=encoding)
    except Exception as err:
        raise InputError(f"{place}: cannot read the layer ({err}); is the file complete and valid?") from None
    driver = str(info.get("driver") or "")
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{place}: the layer has no geometry; a spatial layer is needed here")
    source_crs = frame.crs
    if source_crs is None:
        if crs is not None:
            frame = frame.set_crs(_parse_crs(crs, place))
        elif driver in _WGS84_BY_DEFAULT:
            frame = frame.set_crs(WGS84)
        else:
            hint = " (the .prj file is missing)" if driver == "ESRI Shapefile" else ""
            raise CRSError(
                f"{place}: the layer has no coordinate reference system{hint}, so its coordinates cannot be "
                "placed; add the .prj file that came with the data, or say which CRS it is with crs=... "
                "(e.g. crs='EPSG:4326' for degrees)"
            )
    elif crs is not None and pyproj.CRS.from_user_input(_parse_crs(crs, place)) != pyproj.CRS(source_crs):
        raise CRSError(
            f"{place}: the file says its CRS is {_crs_name(source_crs)} but crs={crs!r} was given; "
            "remove crs= (it is only for layers without a CRS) or fix the file"
        )
    if driver == "ESRI Shapefile" and encoding is None:
        _warn_missing_cpg(path, frame, place)
    frame = _to_wgs84(frame, place)
    frame.attrs["connectmap"] = {
        "path": str(path), "layer": name, "driver": driver,
        "source_crs": None if source_crs is None else _crs_name(source_crs),
        "crs_assumed": None if source_crs is not None else ("given" if crs is not None else "WGS84 by format"),
    }
    return frame


def _parse_crs(crs: Any, place: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as err:
        raise CRSError(f"{place}: crs={crs!r} is not a CRS pyproj knows ({err}); use e.g. 'EPSG:32628'") from None


def _crs_name(crs: Any) -> str:
    crs = pyproj.CRS(crs)
    code = crs.to_authority()
    return f"{code[0]}:{code[1]}" if code else crs.name


def _to_wgs84(frame: gpd.GeoDataFrame, place: str) -> gpd.GeoDataFrame:
    geoms = frame.geometry.to_numpy()
    if shapely.has_z(geoms).any():
        frame = frame.set_geometry(gpd.GeoSeries(shapely.force_2d(geoms), index=frame.index, crs=frame.crs))
    crs = pyproj.CRS(frame.crs)
    if crs != pyproj.CRS(WGS84):
        try:
            frame = frame.to_crs(WGS84)
        except Exception as err:
            raise CRSError(f"{place}: cannot reproject from {_crs_name(crs)} to WGS84 ({err})") from None
    # Coordinates outside degree range mean the CRS label and the numbers disagree (metres labelled as WGS84, or
    # a wrong .prj). Reprojection turns impossible inputs into inf, which is caught here too.
    present = ~(frame.geometry.isna() | frame.geometry.is_empty)
    if present.any():
        bounds = shapely.bounds(frame.geometry.to_numpy()[present.to_numpy()])
        bad = ~np.isfinite(bounds).all(axis=1)
        bad |= (bounds[:, 0] < -180 - _DEGREE_SLACK) | (bounds[:, 2] > 180 + _DEGREE_SLACK)
        bad |= (bounds[:, 1] < -90 - _DEGREE_SLACK) | (bounds[:, 3] > 90 + _DEGREE_SLACK)
        if bad.any():
            first = int(np.flatnonzero(present.to_numpy())[np.flatnonzero(bad)[0]]) + 1
            raise CRSError(
                f"{place}: {int(bad.sum())} feature(s) (first: feature {first}) have coordinates that are not "
                f"degrees after reading them as {_crs_name(crs)}; the file's CRS does not match its numbers "
                "(projected metres labelled as WGS84?). Fix the CRS in the file (or its .prj)"
            )
    return frame


def _warn_missing_cpg(path: str | Path, frame: gpd.GeoDataFrame, place: str) -> None:
    if _is_gdal_virtual(path) or Path(path).with_suffix(".cpg").exists():
        return
    for column in frame.columns:
        if column == frame.geometry.name or frame[column].dtype.kind not in "OUT":
            continue
        values = frame[column].dropna().astype(str)
        if len(values) and not values.map(str.isascii).all():
            log.warning(
                "%s: the shapefile has no .cpg file, so its text was read as ISO-8859-1 (column %r has non-ASCII "
                "text); if names look garbled, add a .cpg file naming the encoding (e.g. CP1251) or pass encoding=",
                place, column,
            )
            return


def find_field(
    available: Iterable[str], aliases: Sequence[str], *, given: str | None = None, place: str = "<table>",
    meaning: str = "",
) -> str | None:
    """Find the column holding a value, by an explicit name or by the first alias present.

    Matching is case-insensitive and treats spaces and hyphens as underscores (``"Tower ID"`` matches
    ``tower_id``).

    Parameters
    ----------
    available
        Column names in the file.
    aliases
        Accepted names, most specific first.
    given
        A name the user gave; must exist (case-insensitive match allowed when unambiguous).
    place
        File (and layer) for messages.
    meaning
        What the column holds, for messages (``"operator"``).

    Returns
    -------
    str or None
        The column name as it is in the file, or ``None`` when no alias is present and none was given.

    Raises
    ------
    SchemaError
        When ``given`` is not a column of the file.
    """
    columns = [str(c) for c in available]
    if given is not None:
        if given in columns:
            return given
        folded = [c for c in columns if normalise_header(c) == normalise_header(given)]
        if len(folded) == 1:
            return folded[0]
        raise SchemaError(
            f"{place}, column {given!r}: not in the file (given for {meaning or 'a field'}); the columns are: "
            + ", ".join(repr(c) for c in columns)
        )
    keys = {}
    for column in columns:
        keys.setdefault(normalise_header(column), column)
    for alias in aliases:
        if normalise_header(alias) in keys:
            return keys[normalise_header(alias)]
    return None


def text_values(values: pd.Series | Sequence[Any]) -> pd.Series:
    """Values as clean text for ids and names (pandas ``string`` dtype; empty and missing become ``<NA>``).

    Whole numbers (``12.0``) become ``"12"``, so an id read from a shapefile's numeric field or a JSON number matches
    the same id written as text elsewhere. Text is NFC-normalised with XML-illegal characters replaced
    (:func:`connectmap.report.text.clean_text`); it is never interpreted.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)

    def one(value: Any) -> str | None:
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, dict | list | tuple | np.ndarray) and pd.isna(value):
            return None
        text = cell_text(value)
        return None if text is None else clean_text(text)[0]

    return series.map(one).astype("string")
