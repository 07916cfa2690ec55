"""Reading fibre networks: nodes (points) and lines (spans) from plain layers and Open Fibre Data Standard files.

One reader for both kinds of file. Every feature is sorted by its geometry: points (and single-point multipoints)
are **nodes**, lines and multilines are **lines**; a file may hold either or both. Fields are found by name:

============  =====================================================================  ===========================
column        Open Fibre Data Standard (v0.2-0.4 GeoJSON, nested properties)         plain files (e.g. ITU WATRA)
============  =====================================================================  ===========================
node_id /     ``id``                                                                 ``node_id`` / ``line_id``,
line_id                                                                              ``id``, ``fid``, ``objectid``
name          ``name``                                                               ``name``, ``node_name``
operator      ``networkProviders[0].name``, else ``physicalInfrastructureProvider``   ``operator_name``,
              ``.name``, else ``network.name``                                        ``operator``, ``owner``...
status        ``status`` (OFDS codes)                                                ``status``, ``node_status``,
                                                                                     ``type_infr``
medium        ``transmissionMedium`` (spans)                                         ``type_infr``,
                                                                                     ``infrastructure_type``
============  =====================================================================  ===========================

Status is normalised to the OFDS codes ``operational``, ``planned``, ``underConstruction``, ``proposed``,
``decommissioned``, ``inactive`` (missing or "unknown" = ``<NA>``; any other label is kept in lower case).
``medium`` is ``fibre``, ``microwave`` or another lower-case label, ``<NA>`` when the file does not say: WATRA node
files mix fibre and microwave sites, and enrichment should not measure "distance to fibre" to a microwave hop.
WATRA's per-node ``type_infr`` ("Microwave Operational") wins over its ``infrastructure_type``, which is a
file-wide default in places (Togo: 332 microwave sites are labelled "Fibre" there).

Ids are text (``12``, not ``12.0``). A feature without an id gets ``<file stem>:<feature number>``; repeated ids
within a file get ``#2``, ``#3``... When several files are merged and their ids clash, every id of each file
involved is prefixed with the file's stem (``BEN_nodes:…``), so ids stay unique and traceable. Features that are
neither nodes nor lines (polygons, empty geometries) go to :attr:`FibreNetwork.rejected` with a reason.

With lines only (no nodes), enrichment can still measure the distance from each school to the nearest line
(``fiber_line_distance_km``); ``fiber_node_distance`` stays unknown, because a line's vertices are not access
points.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from connectmap import columns as C
from connectmap.errors import InputError
from connectmap.geodesy import geodesic_km
from connectmap.io.vector import describe_layer, find_field, list_layers, read_vector, text_values

log = logging.getLogger(__name__)

__all__ = ["FibreNetwork", "in_service", "read_fibre", "status_in"]

FIBRE_NAME = C.describe("name", "Name of the fibre node or line as given in the source", "text")
FIBRE_STATUS = C.describe(
    "status", "Status of the fibre asset: operational, planned, underConstruction, proposed, decommissioned, "
    "inactive (Open Fibre Data Standard codes), empty = unknown", "code")
FIBRE_MEDIUM = C.describe("medium", "Transmission medium of the fibre asset: fibre, microwave, ... (empty = unknown)",
                          "text")
FIBRE_LENGTH_KM = C.describe("length_km", "Geodesic length of the fibre line on the WGS84 ellipsoid", "km")
FIBRE_SOURCE = C.describe("source", "File (and layer) the fibre feature was read from", "text")

NODE_COLUMNS = (C.FIBRE_NODE_ID, FIBRE_NAME, C.TOWER_OPERATOR, FIBRE_STATUS, FIBRE_MEDIUM, FIBRE_SOURCE)
LINE_COLUMNS = (C.FIBRE_LINE_ID, FIBRE_NAME, C.TOWER_OPERATOR, FIBRE_STATUS, FIBRE_MEDIUM, FIBRE_LENGTH_KM,
                FIBRE_SOURCE)

_ID_FIELDS = ("id", "fid", "objectid", "gid", "uid")
_NODE_ID_FIELDS = ("node_id", "nodeid", "site_id", *_ID_FIELDS)
_LINE_ID_FIELDS = ("line_id", "lineid", "span_id", "link_id", "segment_id", *_ID_FIELDS)
_NAME_FIELDS = ("name", "node_name", "line_name", "span_name", "site_name", "label")
_OPERATOR_FIELDS = ("operator_name", "operator", "network_operator", "owner", "provider", "company", "isp")
_STATUS_FIELDS = ("status", "node_status", "line_status", "state")
_MEDIUM_FIELDS = ("medium", "transmission_medium", "infrastructure_type", "technology")
# WATRA's `type_infr` says both: "Fibre Operational", "Microwave Planned", "Fibre Under Construction".
_TYPE_AND_STATUS_FIELDS = ("type_infr",)
_MEDIUM_PREFIX = re.compile(r"^(fibre|fiber|microwave)\b\s*")

_STATUS_CODES = {
    "operational": "operational", "active": "operational", "in service": "operational", "existing": "operational",
    "live": "operational", "lit": "operational", "built": "operational",
    "planned": "planned", "planning": "planned", "future": "planned",
    "underconstruction": "underConstruction", "under construction": "underConstruction",
    "construction": "underConstruction", "in construction": "underConstruction",
    "proposed": "proposed", "decommissioned": "decommissioned", "inactive": "inactive",
}
# Words that mean "not known" (WATRA writes the text "<NA>"; OFDS samples write "No data").
_UNKNOWN = {"", "unknown", "no data", "nodata", "n/a", "na", "<na>", "nan", "null", "none", "-", "?"}
_MEDIUM_CODES = {"fibre": "fibre", "fiber": "fibre", "optical fibre": "fibre", "optical fiber": "fibre",
                 "ofc": "fibre", "microwave": "microwave", "mw": "microwave", "radio": "microwave",
                 "copper": "copper", "satellite": "satellite"}


@dataclass
class FibreNetwork:
    """A fibre network: access nodes and the lines between them.

    Attributes
    ----------
    nodes
        ``node_id``, ``name``, ``operator``, ``status``, ``medium``, ``source`` and Point geometry, EPSG:4326.
    lines
        ``line_id``, ``name``, ``operator``, ``status``, ``medium``, ``length_km``, ``source`` and
        (Multi)LineString geometry, EPSG:4326.
    rejected
        Features that are neither nodes nor lines: ``source``, ``feature`` (1-based position in its layer),
        ``reason``.
    """

    nodes: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"source": pd.array([], dtype="string"), "feature": np.array([], dtype=np.int64),
         "reason": pd.array([], dtype="string")}))

    def in_service(self, statuses: Sequence[str]) -> FibreNetwork:
        """The nodes and lines that can carry traffic: see :func:`in_service`."""
        return FibreNetwork(nodes=self.nodes[in_service(self.nodes, statuses)],
                            lines=self.lines[in_service(self.lines, statuses)], rejected=self.rejected)

    def summary(self) -> str:
        """One line: counts of nodes and lines (by status) and total line length."""
        km = float(self.lines[FIBRE_LENGTH_KM].sum()) if len(self.lines) else 0.0
        return (f"{len(self.nodes)} nodes, {len(self.lines)} lines ({km:,.0f} km), "
                f"{len(self.rejected)} features rejected")


def in_service(frame: pd.DataFrame, statuses: Sequence[str]) -> NDArray[np.bool_]:
    """Which features of a fibre layer count as fibre that can carry traffic.

    A feature counts when its ``status`` is one of ``statuses`` (OFDS codes, any case) and its ``medium`` is
    fibre. A missing status or medium counts too: most files say neither, and leaving them out would leave no
    network at all. Microwave sites (WATRA node files mix them in), decommissioned or planned routes do not.

    Parameters
    ----------
    frame
        Fibre nodes or lines with optional ``status`` and ``medium`` columns.
    statuses
        Statuses that count, e.g. ``["operational"]``.

    Returns
    -------
    numpy.ndarray
        One bool per row of ``frame``.
    """
    keep = status_in(frame, statuses)
    if FIBRE_MEDIUM in frame.columns:
        medium = frame[FIBRE_MEDIUM]
        keep &= (medium.isna() | (medium.astype("str").str.lower() == "fibre")).to_numpy()
    return keep


def status_in(frame: pd.DataFrame, statuses: Sequence[str]) -> NDArray[np.bool_]:
    """Rows whose ``status`` is one of ``statuses`` (any case, surrounding spaces ignored) or is missing.

    Parameters
    ----------
    frame
        Fibre nodes or lines, with or without a ``status`` column (without one, every row is kept).
    statuses
        Statuses that count, e.g. ``["operational"]``.

    Returns
    -------
    numpy.ndarray
        One bool per row of ``frame``.
    """
    if FIBRE_STATUS not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    wanted = {status.strip().lower() for status in statuses}
    status = frame[FIBRE_STATUS].astype("string").str.strip().str.lower()
    return np.array(status.isna() | status.isin(wanted), dtype=bool)  # a writable copy: callers combine masks


def read_fibre(
    path_or_paths: str | Path | Iterable[str | Path],
    *,
    layer: str | None = None,
) -> FibreNetwork:
    """Read fibre nodes and lines from one or several files and merge them into one network.

    Parameters
    ----------
    path_or_paths
        One file or several: GeoJSON (plain or Open Fibre Data Standard), GeoPackage, Shapefile, TopoJSON.
    layer
        Layer to read from a multi-layer file. When not given, **every** layer of a GeoPackage is read (a fibre
        GeoPackage usually has a nodes and a lines layer); a layer holding neither points nor lines is an error.

    Returns
    -------
    FibreNetwork
        Nodes, lines and rejected features (see the module docstring for the fields and rules).

    Raises
    ------
    MissingInputError, InputError, CRSError
        For missing or unreadable files, layers without CRS, or a layer with no node or line at all.
    """
    paths = [Path(path_or_paths)] if isinstance(path_or_paths, str | Path) else [Path(p) for p in path_or_paths]
    if not paths:
        raise InputError("read_fibre: no fibre file given")
    labels = _file_labels(paths)
    parts: list[tuple[str, str, gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]] = []
    for path, label in zip(paths, labels, strict=True):
        layers = [layer] if layer is not None else [name for name, _ in list_layers(path)]
        for name in layers:
            frame = read_vector(path, layer=name)
            place = describe_layer(path, name) if len(layers) > 1 else str(path)
            nodes, lines, rejected = _split_layer(frame, place, label)
            if nodes.empty and lines.empty:
                raise InputError(
                    f"{place}: no fibre nodes (points) or lines found among {len(frame)} feature(s)"
                    + ("; choose the fibre layer with layer=NAME" if len(layers) > 1 else "")
                )
            parts.append((label, place, nodes, lines, rejected))
    nodes = _merge([(x[0], x[2]) for x in parts], C.FIBRE_NODE_ID, NODE_COLUMNS)
    lines = _merge([(x[0], x[3]) for x in parts], C.FIBRE_LINE_ID, LINE_COLUMNS)
    rejected = pd.concat([x[4] for x in parts], ignore_index=True)
    network = FibreNetwork(nodes, lines, rejected)
    log.info("fibre: %s from %d file(s)", network.summary(), len(paths))
    if len(rejected):
        log.warning("fibre: %d feature(s) are neither nodes nor lines and were set aside: %s", len(rejected),
                    "; ".join(f"{r.source} feature {r.feature}: {r.reason}" for r in rejected.head(5).itertuples()))
    return network


# --- one layer -------------------------------------------------------------------------------------------------------
def _split_layer(
    frame: gpd.GeoDataFrame, place: str, label: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    frame = frame.reset_index(drop=True)
    geoms = frame.geometry.to_numpy()
    kind = shapely.get_type_id(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    single = (kind == 4) & (shapely.get_num_geometries(geoms) == 1)
    geoms = np.where(single, shapely.get_geometry(geoms, 0), geoms)
    kind = np.where(single, 0, kind)
    is_node = ~missing & (kind == 0)
    is_line = ~missing & np.isin(kind, (1, 5))
    other = ~(is_node | is_line)
    type_names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                           "MultiPolygon", "GeometryCollection"], dtype=object)
    reasons = np.where(shapely.is_missing(geoms), "no geometry", np.where(
        missing, "empty geometry",
        "geometry is a " + type_names[np.clip(kind, 0, 7)] + ", neither a node (point) nor a line"))
    rejected = pd.DataFrame({
        "source": pd.array([place] * int(other.sum()), dtype="string"),
        "feature": np.flatnonzero(other).astype(np.int64) + 1,
        "reason": pd.array(reasons[other], dtype="string"),
    })
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    fields = _Fields(attributes, place)
    nodes = _features(fields, geoms, is_node, place, label, _NODE_ID_FIELDS, C.FIBRE_NODE_ID, NODE_COLUMNS)
    lines = _features(fields, geoms, is_line, place, label, _LINE_ID_FIELDS, C.FIBRE_LINE_ID, LINE_COLUMNS)
    if len(lines):
        lines[FIBRE_LENGTH_KM] = line_length_km(lines.geometry.to_numpy())
        lines = lines[[*LINE_COLUMNS, "geometry"]]
    return nodes, lines, rejected


class _Fields:
    """Text values of the fields we use, from OFDS nested properties or plain columns."""

    def __init__(self, attributes: pd.DataFrame, place: str) -> None:
        self.table = attributes
        self.place = place

    def column(self, aliases: Sequence[str]) -> pd.Series | None:
        name = find_field(self.table.columns, aliases, place=self.place)
        return None if name is None else self.table[name]

    def nested(self, column: str, *path: str | int) -> pd.Series | None:
        """Values at ``column.path`` (OFDS objects and arrays arrive from GDAL as dicts and lists)."""
        name = find_field(self.table.columns, (column,), place=self.place)
        if name is None:
            return None

        def dig(value: Any) -> Any:
            for step in path:
                if isinstance(step, int):
                    value = value[step] if isinstance(value, list | tuple | np.ndarray) and len(value) > step \
                        else None
                else:
                    value = value.get(step) if isinstance(value, dict) else None
                if value is None:
                    return None
            return value

        return self.table[name].map(dig)

    def text(self, candidates: Sequence[pd.Series | None]) -> pd.Series:
        """First non-missing text among the candidate series, row by row."""
        result = pd.Series(pd.NA, index=self.table.index, dtype="string")
        for values in candidates:
            if values is None:
                continue
            result = result.fillna(text_values(values))
        return result


def _features(
    fields: _Fields, geoms: np.ndarray, mask: np.ndarray, place: str, label: str, id_fields: Sequence[str],
    id_column: str, columns: Sequence[str],
) -> gpd.GeoDataFrame:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return _empty(columns)
    # OFDS keeps some fields as objects; `_plain` keeps nested objects out of ids and names.
    ident = fields.text([_plain(fields.column(id_fields))])
    name = fields.text([_plain(fields.column(_NAME_FIELDS))])
    operator = fields.text([
        fields.nested("networkProviders", 0, "name"),
        fields.nested("physicalInfrastructureProvider", "name"),
        _plain(fields.column(_OPERATOR_FIELDS)),
        fields.nested("network", "name"),
    ])
    type_and_status = fields.text([fields.column(_TYPE_AND_STATUS_FIELDS)])
    status = _status(fields.text([_plain(fields.column(_STATUS_FIELDS))]).fillna(type_and_status))
    # WATRA's per-feature type_infr wins over its infrastructure_type, which is a file-wide default in places
    # (Togo: 332 nodes are "Fibre" in infrastructure_type and "Microwave Operational" in type_infr).
    declared = _medium(fields.text([fields.nested("transmissionMedium", 0), _plain(fields.column(_MEDIUM_FIELDS))]))
    names_medium = type_and_status.str.lower().str.match(_MEDIUM_PREFIX.pattern).fillna(False)
    from_type = _medium(type_and_status.where(names_medium))
    disagree = int((from_type.notna() & declared.notna() & (from_type != declared)).iloc[rows].sum())
    if disagree:
        log.info("%s: %d feature(s) have a medium in type_infr that differs from infrastructure_type; "
                 "type_infr is used", place, disagree)
    medium = from_type.fillna(declared)

    ident = ident.iloc[rows].reset_index(drop=True)
    missing = ident.isna().to_numpy()
    if missing.any():
        ident[missing] = [f"{label}:{r + 1}" for r in rows[missing]]
        log.info("%s: %d feature(s) without an id get '%s:<feature number>'", place, int(missing.sum()), label)
    ident = _dedupe(ident, place)
    out = pd.DataFrame({
        id_column: ident.astype("string"),
        FIBRE_NAME: name.iloc[rows].reset_index(drop=True),
        C.TOWER_OPERATOR: operator.iloc[rows].reset_index(drop=True),
        FIBRE_STATUS: status.iloc[rows].reset_index(drop=True),
        FIBRE_MEDIUM: medium.iloc[rows].reset_index(drop=True),
        FIBRE_SOURCE: pd.array([place] * rows.size, dtype="string"),
    })
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms[rows], crs="EPSG:4326"), crs="EPSG:4326")


def _plain(values: pd.Series | None) -> pd.Series | None:
    """Drop nested objects (dicts/lists) from a column we read as plain text."""
    if values is None:
        return None
    return values.map(lambda v: None if isinstance(v, dict | list | tuple | np.ndarray) else v)


def _status(text: pd.Series) -> pd.Series:
    """Normalise status labels to OFDS codes; WATRA's "Fibre Operational" gives "operational"."""

    def one(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        label = _MEDIUM_PREFIX.sub("", value.strip().lower())
        if label in _UNKNOWN:
            return None
        for key in (label, label.replace(" ", "")):
            if key in _STATUS_CODES:
                return _STATUS_CODES[key]
        return label

    return text.map(one).astype("string")


def _medium(text: pd.Series) -> pd.Series:
    """Normalise medium labels; WATRA's "Microwave Planned" gives "microwave"."""

    def one(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        label = value.strip().lower()
        if label in _UNKNOWN:
            return None
        prefix = _MEDIUM_PREFIX.match(label)
        if prefix:
            return _MEDIUM_CODES[prefix[1]]
        return _MEDIUM_CODES.get(label, label)

    return text.map(one).astype("string")


def _dedupe(ids: pd.Series, place: str) -> pd.Series:
    rank = ids.groupby(ids, sort=False).cumcount()
    repeated = rank > 0
    if repeated.any():
        log.warning("%s: %d id(s) repeat within the file; the repeats are suffixed #2, #3...", place,
                    int(repeated.sum()))
        ids = ids.where(~repeated, ids + "#" + (rank + 1).astype("string"))
    return ids


# --- merging files ---------------------------------------------------------------------------------------------------
def _file_labels(paths: Sequence[Path]) -> list[str]:
    """A short label per file: its stem, or parent/stem when two files share a stem."""
    stems = [p.stem for p in paths]
    labels = []
    for path, stem in zip(paths, stems, strict=True):
        labels.append(f"{path.parent.name}/{stem}" if stems.count(stem) > 1 else stem)
    if len(set(labels)) < len(labels):  # same parent and stem: fall back to numbering
        labels = [f"{label}#{i + 1}" for i, label in enumerate(labels)]
    return labels


def _merge(parts: Sequence[tuple[str, gpd.GeoDataFrame]], id_column: str, columns: Sequence[str]) -> gpd.GeoDataFrame:
    frames = [(label, frame) for label, frame in parts if len(frame)]
    if not frames:
        return _empty(columns)
    if len(frames) > 1:
        owners = pd.concat([pd.DataFrame({"id": f[id_column], "part": i}) for i, (_, f) in enumerate(frames)])
        clash = owners.drop_duplicates().groupby("id")["part"].transform("size") > 1
        involved = set(owners.loc[clash.to_numpy(), "part"])
        if involved:
            log.info("fibre: %s ids clash across files; ids of %s are prefixed with the file name",
                     id_column, ", ".join(frames[i][0] for i in sorted(involved)))
            frames = [
                (label, frame.assign(**{id_column: label + ":" + frame[id_column]}) if i in involved else frame)
                for i, (label, frame) in enumerate(frames)
            ]
    merged = pd.concat([f for _, f in frames], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def _empty(columns: Sequence[str]) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {c: pd.array([], dtype="string") for c in columns}
    if FIBRE_LENGTH_KM in data:
        data[FIBRE_LENGTH_KM] = np.array([], dtype=np.float64)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def line_length_km(geometries: np.ndarray) -> np.ndarray:
    """Ellipsoidal geodesic length (km) of each (Multi)LineString in degrees, vectorised over all vertices."""
    geometries = np.asarray(geometries, dtype=object)
    parts, owner = shapely.get_parts(geometries, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    segment = geodesic_km(coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same])
    per_part = np.bincount(part[:-1][same], weights=segment, minlength=len(parts))
    return np.bincount(owner, weights=per_part, minlength=len(geometries))
