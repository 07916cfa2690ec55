"""Reading administrative boundaries (or a country outline) as polygons with ``admin1`` / ``admin2`` names.

Formats: GeoJSON, GeoPackage (choose the layer when there are several), Shapefile (a CRS is required: a missing
``.prj`` is an error) and TopoJSON (each object is a layer, e.g. ``countries`` and ``land`` in Natural Earth's
world-atlas; TopoJSON has no CRS and is read as WGS84). See :mod:`connectmap.io.vector`.

Name fields: ``admin1_field`` and ``admin2_field`` name the fields holding the region names. Without
``admin1_field``, the reader looks for *candidate name fields*: text fields that are not identifiers (not named
like ``id``, ``code``, ``iso``, ``pcode``, ``gid``...). One candidate is used (and logged); several are refused with
a message listing them with an example value, because picking the wrong level (a province name where a district
was meant) would silently mislabel every school. No candidate leaves ``admin1`` empty (an outline without names).

Geometry: polygons and multipolygons only (anything else is an error naming the features). Invalid polygons
(self-intersections, wrong ring order, common in hand-digitised boundaries) are repaired with shapely's
``make_valid`` and keep only their polygonal parts; the number repaired is logged and recorded in
``attrs["connectmap"]["repaired"]``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap import columns as C
from connectmap.errors import InputError, SchemaError
from connectmap.io.vector import describe_layer, find_field, read_vector, text_values

log = logging.getLogger(__name__)

__all__ = ["polygonal", "read_boundaries", "read_outline"]

_ID_LIKE = re.compile(r"(^|_)(id|fid|gid|uid|code|codes|iso|iso2|iso3|iso_a2|iso_a3|pcode|adm\d_pcode|objectid|"
                      r"shape_leng|shape_area|area|len|length|hasc|cc|zip|postcode)(_|$)|(pcode|_id|id_\d)$",
                      re.IGNORECASE)
_POLYGON_TYPES = (3, 6)  # Polygon, MultiPolygon
_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"], dtype=object)


def read_boundaries(
    path: str | Path,
    *,
    admin1_field: str | None = None,
    admin2_field: str | None = None,
    layer: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read admin boundaries or a country outline.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile or TopoJSON.
    admin1_field, admin2_field
        Fields holding the first- and second-level region names (matched case-insensitively). Without
        ``admin1_field`` the only candidate name field is used; several candidates are refused.
    layer
        Layer (GeoPackage layer, TopoJSON object) when the file has several.
    crs
        CRS of a layer that has none (a shapefile without ``.prj``), e.g. ``"EPSG:32628"``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``admin1`` (text, ``<NA>`` when there is no name field), ``admin2`` (only when ``admin2_field`` is given)
        and (Multi)Polygon geometry in EPSG:4326, one row per feature. ``attrs["connectmap"]`` records the fields
        used and the number of repaired geometries.

    Raises
    ------
    MissingInputError, InputError, SchemaError, CRSError
        Missing file, several layers and none chosen, several candidate name fields, a field that does not exist,
        non-polygon features, or no CRS.
    """
    frame = read_vector(path, layer=layer, crs=crs)
    info = frame.attrs.get("connectmap", {})
    place = describe_layer(path, layer) if layer is not None else str(path)
    if frame.empty:
        raise InputError(f"{place}: the layer has no features; a boundary file needs at least one polygon")
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    field2 = find_field(attributes.columns, (), given=admin2_field, place=place, meaning="admin2")
    if admin1_field is not None:
        field1 = find_field(attributes.columns, (), given=admin1_field, place=place, meaning="admin1")
    else:
        field1 = _only_name_field(attributes, exclude={field2} if field2 else set(), place=place)
    geometry, repaired = polygonal(frame.geometry.to_numpy(), place)
    out = pd.DataFrame({C.ADMIN1: _names(attributes, field1)})
    if field2 is not None:
        out[C.ADMIN2] = _names(attributes, field2)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"), crs="EPSG:4326")
    result.attrs["connectmap"] = {**info, "admin1_field": field1, "admin2_field": field2, "repaired": repaired,
                                  "features": len(result)}
    log.info("%s: %d boundary polygon(s), admin1 from %r%s, %d repaired", place, len(result), field1,
             f", admin2 from {field2!r}" if field2 else "", repaired)
    return result


def polygonal(geometries: np.ndarray, place: str) -> tuple[np.ndarray, int]:
    """Check that every geometry is a (multi)polygon and repair invalid ones.

    Parameters
    ----------
    geometries
        Shapely geometries.
    place
        File (and layer) for messages.

    Returns
    -------
    geometries, repaired
        Valid (Multi)Polygons (``make_valid`` output reduced to its polygonal parts), and how many were repaired.

    Raises
    ------
    InputError
        When a feature has no geometry or is not polygonal; the message names the first features.
    """
    geometries = np.asarray(geometries, dtype=object)
    missing = shapely.is_missing(geometries) | shapely.is_empty(geometries)
    kind = shapely.get_type_id(geometries)
    wrong = ~missing & ~np.isin(kind, _POLYGON_TYPES)
    if missing.any() or wrong.any():
        bad = np.flatnonzero(missing | wrong)
        described = [f"feature {i + 1} ({'no geometry' if missing[i] else _TYPE_NAMES[kind[i]]})" for i in bad[:5]]
        more = f" and {bad.size - 5} more" if bad.size > 5 else ""
        raise InputError(
            f"{place}: {bad.size} feature(s) are not polygons: {', '.join(described)}{more}; a boundary file must "
            "hold only polygons (remove the other features or pick the polygon layer)"
        )
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():
        fixed = shapely.make_valid(geometries[invalid])
        geometries = geometries.copy()
        geometries[invalid] = _polygonal_part(fixed)
        log.info("%s: %d invalid polygon(s) repaired with make_valid", place, int(invalid.sum()))
    return geometries, int(invalid.sum())


def _polygonal_part(geometries: np.ndarray) -> np.ndarray:
    """Keep the polygons of each geometry (make_valid may add lines or points where a ring touched itself)."""
    out = np.empty(len(geometries), dtype=object)
    kind = shapely.get_type_id(geometries)
    simple = np.isin(kind, _POLYGON_TYPES)
    out[simple] = geometries[simple]
    for i in np.flatnonzero(~simple):  # only the repaired collections: few, so a loop is clear and cheap
        parts = shapely.get_parts(geometries[i])
        polygons = [p for p in parts if shapely.get_type_id(p) in _POLYGON_TYPES]
        out[i] = shapely.union_all(polygons) if polygons else shapely.Polygon()
    return out


def _only_name_field(attributes: pd.DataFrame, *, exclude: set[str], place: str) -> str | None:
    candidates = [
        column for column in attributes.columns
        if column not in exclude and not _ID_LIKE.search(str(column)) and _is_text(attributes[column])
    ]
    if len(candidates) > 1:
        examples = ", ".join(f"{c!r} (e.g. {_example(attributes[c])!r})" for c in candidates)
        raise SchemaError(
            f"{place}: several fields could hold the region name: {examples}; choose one with "
            "admin1_field=NAME (CLI: --admin1-field NAME; config: inputs.boundary_admin1_field)"
        )
    if candidates:
        log.info("%s: admin1 names read from field %r (the only name field)", place, candidates[0])
        return candidates[0]
    log.info("%s: no name field; admin1 is left empty (an outline)", place)
    return None


def _is_text(values: pd.Series) -> bool:
    present = values.dropna()
    if present.empty:
        return False
    sample = present.head(200)
    if not sample.map(lambda v: isinstance(v, str)).all():
        return False
    # Text that is all numbers ("716", "04") is a code, not a name.
    return not sample.str.fullmatch(r"\s*[-+]?\d+([.,]\d+)?\s*").all()


def _example(values: pd.Series) -> str:
    present = values.dropna()
    return str(present.iloc[0]) if len(present) else ""


def _names(attributes: pd.DataFrame, field: str | None) -> pd.Series:
    if field is None:
        return pd.Series(pd.NA, index=range(len(attributes)), dtype="string")
    return text_values(attributes[field].reset_index(drop=True))


def read_outline(path: str | Path, *, layer: str | None = None, crs: Any = None) -> gpd.GeoSeries:
    """Read a country outline (or any polygons whose union is the area of interest), ignoring name fields.

    Same formats and checks as :func:`read_boundaries` (one layer, a CRS, polygons only, invalid polygons
    repaired); use it where only the shape matters, such as validating that schools fall inside the country.
    """
    frame = read_vector(path, layer=layer, crs=crs)
    place = describe_layer(path, layer) if layer is not None else str(path)
    if frame.empty:
        raise InputError(f"{place}: the layer has no features; an outline needs at least one polygon")
    geometry, _ = polygonal(frame.geometry.to_numpy(), place)
    return gpd.GeoSeries(geometry, crs="EPSG:4326")
