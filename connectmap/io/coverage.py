"""Reading mobile coverage polygons (operator or GSMA-style coverage shapefiles, GeoJSON, GeoPackage).

A coverage layer becomes ``technology`` (GSM/UMTS/LTE/NR), ``operator`` (text, ``<NA>`` when unknown) and
(Multi)Polygon geometry in EPSG:4326, one row per polygon and technology.

Technology comes from ``technology=`` (every polygon of the file, e.g. ``"LTE"``), else from a field
(``technology_field=``, or one named ``technology``/``tech``/``radio``/``network_type``/``generation``...).
Labels go through :data:`connectmap.columns.RADIO_ALIASES` (``4G`` → LTE); a polygon labelled ``"2G/3G"`` stands
for both technologies and becomes two rows. An unknown label is an error listing the labels and features: coverage
of a technology we cannot name must not be dropped or guessed. Operator comes from ``operator=``, else from a field
(``operator_field=``, or ``operator``/``operator_name``/``mno``/``carrier``/``network``/``provider``), else is
unknown. Geometry rules are those of :mod:`connectmap.io.boundaries` (polygons only, invalid ones repaired).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from connectmap import columns as C
from connectmap.errors import InputError, SchemaError
from connectmap.io.boundaries import polygonal
from connectmap.io.towers import parse_technologies
from connectmap.io.vector import describe_layer, find_field, read_vector, text_values

log = logging.getLogger(__name__)

__all__ = ["read_coverage_polygons"]

_TECHNOLOGY_FIELDS = ("technology", "tech", "radio", "network_type", "generation", "rat", "technologie",
                      "tecnologia", "coverage_type")
_OPERATOR_FIELDS = ("operator", "operator_name", "mno", "carrier", "network", "provider", "operateur")


def read_coverage_polygons(
    path: str | Path,
    *,
    technology: str | None = None,
    operator: str | None = None,
    technology_field: str | None = None,
    operator_field: str | None = None,
    layer: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read coverage polygons with their technology and operator.

    Parameters
    ----------
    path
        Shapefile, GeoJSON, GeoPackage or any polygon layer GDAL reads.
    technology
        Technology of every polygon (``"LTE"``, ``"4G"``, ``"2G;3G"``...), when the file is for one technology.
    operator
        Operator of every polygon, when the file is one operator's.
    technology_field, operator_field
        Fields holding them, when their names are not among the recognised ones.
    layer
        Layer to read when the file has several.
    crs
        CRS of a layer that has none (shapefile without ``.prj``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``technology``, ``operator``, geometry (EPSG:4326); one row per polygon and technology.

    Raises
    ------
    MissingInputError, InputError, SchemaError, CRSError
        Missing file, no technology given or found, unknown technology labels, non-polygon features, no CRS.
    """
    frame = read_vector(path, layer=layer, crs=crs).reset_index(drop=True)
    place = describe_layer(path, layer) if layer is not None else str(path)
    if frame.empty:
        raise InputError(f"{place}: the layer has no features")
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geometry, repaired = polygonal(frame.geometry.to_numpy(), place)
    n = len(frame)

    if technology is not None and technology_field is not None:
        raise InputError(f"{place}: give technology= or technology_field=, not both")
    if technology is not None:
        labels = pd.Series([technology] * n, dtype="string")
        tech_source = f"technology={technology!r}"
    else:
        field = find_field(attributes.columns, _TECHNOLOGY_FIELDS, given=technology_field, place=place,
                           meaning="technology")
        if field is None:
            raise SchemaError(
                f"{place}: no technology field found (looked for {', '.join(_TECHNOLOGY_FIELDS[:6])}...); the "
                f"fields are: {', '.join(map(repr, attributes.columns)) or '(none)'}. Say which technology the "
                "file covers with technology='LTE' (CLI: LTE=path), or name the field with technology_field="
            )
        labels = text_values(attributes[field])
        tech_source = f"field {field!r}"
    techs, unknown = parse_technologies(labels)
    missing = np.ones(n, dtype=bool)
    missing[techs.index.to_numpy(dtype=np.int64)] = False
    missing[unknown.index.to_numpy(dtype=np.int64)] = False
    if len(unknown) or missing.any():
        problems = [f"feature {i + 1}: unknown technology {labels.iloc[i]!r}" for i in unknown.index[:5]]
        problems += [f"feature {i + 1}: no technology" for i in np.flatnonzero(missing)[:5]]
        total = len(unknown) + int(missing.sum())
        raise InputError(
            f"{place}: {total} feature(s) have no usable technology ({tech_source}): {'; '.join(problems)}"
            f"{' ...' if total > len(problems) else ''}. Use GSM, UMTS, LTE, NR or 2G, 3G, 4G, 5G, or give "
            "technology= for the whole file"
        )

    if operator is not None and operator_field is not None:
        raise InputError(f"{place}: give operator= or operator_field=, not both")
    if operator is not None:
        operators = pd.Series([operator] * n, dtype="string")
    else:
        field = find_field(attributes.columns, _OPERATOR_FIELDS, given=operator_field, place=place,
                           meaning="operator")
        operators = (text_values(attributes[field]) if field is not None
                     else pd.Series(pd.NA, index=range(n), dtype="string"))

    row = techs.index.to_numpy(dtype=np.int64)
    out = pd.DataFrame({
        C.TOWER_TECHNOLOGY: pd.array(techs.to_numpy(), dtype="string"),
        C.TOWER_OPERATOR: pd.array(operators.to_numpy()[row], dtype="string"),
    })
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry[row], crs="EPSG:4326"), crs="EPSG:4326")
    result.attrs["connectmap"] = {**frame.attrs.get("connectmap", {}), "features": n, "repaired": repaired,
                                  "technology_from": tech_source}
    log.info("%s: %d coverage polygon(s) (%s), %d repaired", place, len(result),
             ", ".join(f"{k} {v}" for k, v in out[C.TOWER_TECHNOLOGY].value_counts().items()), repaired)
    return result
