"""Reading mobile towers: OpenCelliD exports (cells, with or without header) and operator tower lists.

Both become one long table, one row per **site and technology** (:data:`TOWER_COLUMNS`): ``site_id``,
``operator``, ``technology`` (GSM/UMTS/LTE/NR), ``range_m``, ``cell_count``, ``height_m``, ``mcc``, ``mnc`` and a
WGS84 point.

OpenCelliD rows are cell observations, not towers, and their positions are averages of crowd-sourced
measurements: on the Ecuador export the LTE cells of one eNodeB lie a median 391 m from their mean position. They are
collapsed into sites by this rule (:func:`cell_sites`, :func:`cells_to_sites`), per operator:

1. **Identity**: LTE cells of one network with the same eNodeB id (``cell // 256``; the 28-bit ECI is the eNodeB
   id and an 8-bit cell number, 3GPP TS 36.300) are one base station, as long as they lie within
   ``enodeb_radius_m`` (default 5 km) of the eNodeB's most-sampled cell; farther ones are stale or misplaced
   records (Ecuador has eNodeB ids whose cells are 50-160 km apart) and are placed by position. GSM, UMTS and NR
   cell ids have no standard site part, so they are placed by position only.
2. **Position**: each eNodeB (at the mean of its cells) and each other distinct cell position is a point. Points are
   taken in order of confidence (most OpenCelliD ``samples`` first, then the smallest cell identity); a point with
   no site centre within ``colocation_radius_m`` (default 100 m, ellipsoidal geodesic) becomes a centre, and every
   other point joins the most confident centre within that radius. Centres are more than the radius apart and every
   point is within it of its centre, so groups cannot chain across a city. (Single linkage, the obvious rule, merged
   1,800 cells of Guayaquil into one "site" at 100 m.) The greedy order is computed in vectorised rounds over the
   pairs :class:`~connectmap.geodesy.PointIndex` finds: no O(n²) step and no Python loop per cell.
3. **Output**: one row per site and technology. The site's position is the normalised mean of its cells' 3-D unit
   vectors (right across the antimeridian and near the poles); ``cell_count`` = its cells of that technology;
   ``range_m`` = the largest OpenCelliD ``range`` among them (OpenCelliD's estimate of the area the cell was seen
   in, not a designed coverage radius); ``site_id`` = ``MCC-MNC-TECH-AREA-CELL`` of the site's representative
   cell (the most-sampled cell of its centre, ties broken by the smallest cell identity), so it does not depend on
   row order or on how a large file is split into chunks.

GSM/UMTS sectors of one mast often stay separate sites (their positions scatter more than any safe radius), so
site counts for those technologies are upper bounds; README.md (Towers) has the figures.

Bad rows never vanish: a row with unusable coordinates, an unknown radio label or technology, a malformed MCC/MNC,
or a duplicate site is an error listing the values and rows (the default), or, with ``return_rejected=True``, goes
to a rejected table with ``source_row`` and ``reason``. Unknown radio labels are refused rather than guessed
because a label we do not know may be a technology the user cares about (``5G-SA``, ``LTE-M``); add it to the file
as one of the known labels.

Why the OpenCelliD parse is not :func:`connectmap.io._text.read_delimited`: OpenCelliD exports are large, ASCII
and regular, so pandas parses them with typed columns at about twice the speed of an all-text read; only when that
fails (a malformed line) does the reader fall back to the all-text parser to report the row.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap import columns as C
from connectmap.errors import InputError, MissingInputError, SchemaError
from connectmap.geodesy import PointIndex, geodesic_km, unit_vectors
from connectmap.io._text import EXTRA_FIELDS, read_delimited
from connectmap.io.schools import read_excel_table
from connectmap.io.vector import find_field, read_vector, text_values
from connectmap.parameters.towers import TowerSiteParams

log = logging.getLogger(__name__)

__all__ = [
    "OPENCELLID_COLUMNS",
    "TOWER_COLUMNS",
    "cell_sites",
    "cells_to_sites",
    "normalise_operator_names",
    "parse_technologies",
    "read_towers",
]

#: Columns of an OpenCelliD export, in file order (older exports lack ``averageSignal``).
OPENCELLID_COLUMNS: tuple[str, ...] = (
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable", "created",
    "updated", "averageSignal",
)
#: Columns of the tower table, in order.
TOWER_COLUMNS: tuple[str, ...] = (
    C.TOWER_SITE_ID, C.TOWER_OPERATOR, C.TOWER_TECHNOLOGY, C.TOWER_RANGE_M, C.TOWER_CELL_COUNT, C.TOWER_HEIGHT_M,
    "mcc", "mnc",
)
MCC = C.describe("mcc", "Mobile country code of the network (OpenCelliD mcc)", "code")
MNC = C.describe("mnc", "Mobile network code within the country (OpenCelliD net)", "code")

#: Column names recognised in operator tower lists (matched case-insensitively, spaces/hyphens as underscores).
LIST_ALIASES: dict[str, tuple[str, ...]] = {
    C.TOWER_SITE_ID: ("site_id", "tower_id", "id", "siteid", "towerid", "site_code", "tower_code", "site", "tower"),
    C.TOWER_OPERATOR: ("operator", "mno", "operator_name", "carrier", "provider", "network_operator", "operateur"),
    C.TOWER_TECHNOLOGY: (
        "technology", "technologies", "radio", "tech", "techs", "technologie", "tecnologia", "network_type", "rat",
    ),
    C.TOWER_HEIGHT_M: ("height_m", "height", "antenna_height", "mast_height", "tower_height", "hauteur", "altura"),
    C.TOWER_RANGE_M: ("range_m", "range", "radius_m", "cell_range"),
    C.TOWER_CELL_COUNT: ("cell_count", "cells", "num_cells"),
    C.LATITUDE: ("latitude", "lat", "lat_wgs84", "y_wgs84"),
    C.LONGITUDE: ("longitude", "lon", "long", "lng", "lon_wgs84", "x_wgs84"),
    MCC: ("mcc",),
    MNC: ("mnc", "net"),
}
_OPENCELLID_ALIASES = {"mnc": "net", "lac": "area", "tac": "area", "cid": "cell", "cellid": "cell", "lng": "lon"}
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".tab"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
# Separators between technologies in one cell: "2G;3G;4G", "GSM/LTE", "2G, 3G", "2G+3G", "LTE | NR", "2G 3G".
_TECH_SPLIT = re.compile(r"[;,/|+&\s]+")
_IGNORED_TOKENS = {"", "and", "et", "y"}
_TECH_ORDER = {tech: i for i, tech in enumerate(C.TECHNOLOGIES)}
_SHOWN = 5

TowerKind = Literal["auto", "opencellid", "list"]


# --- public ----------------------------------------------------------------------------------------------------------
def read_towers(
    path: str | Path,
    *,
    operator_names: Mapping[str, str] | None = None,
    kind: TowerKind = "auto",
    columns: Mapping[str, str] | None = None,
    technology: str | None = None,
    layer: str | None = None,
    params: TowerSiteParams | None = None,
    return_rejected: bool = False,
) -> gpd.GeoDataFrame | tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read an OpenCelliD export or an operator tower list into the long tower table.

    Parameters
    ----------
    path
        OpenCelliD CSV (with or without its header, plain or gzip), or an operator tower list: CSV/TSV/TXT,
        Excel ``.xlsx``, GeoJSON, GeoPackage or Shapefile.
    operator_names
        Operator name per network, keyed ``"MCC-MNC"`` (``{"740-1": "Claro"}``; ``"740-01"`` works too). For a
        tower list, a key equal to a value of its operator column renames that operator (``{"MA": "Mauritel"}``).
        Networks without a name keep ``"MCC-MNC"`` as operator and are listed in a log warning and in
        ``attrs["connectmap"]["unmapped_networks"]``.
    kind
        ``"opencellid"``, ``"list"``, or ``"auto"`` (an OpenCelliD header, or a headerless first line shaped like
        ``radio,mcc,net,area,cell,unit,lon,lat,...``, means OpenCelliD; anything else is a list).
    columns
        For lists: explicit ``{canonical name: column in the file}`` for ``site_id``, ``operator``,
        ``technology``, ``height_m``, ``range_m``, ``cell_count``, ``latitude``, ``longitude``, ``mcc``, ``mnc``;
        otherwise common names are recognised (``tower_id``/``site_id``/``id``, ``operator``/``mno``,
        ``technology``/``technologies``/``radio``/``tech``, ``height``/``height_m``, ``latitude``/``lat``,
        ``longitude``/``lon``).
    technology
        For lists without a technology column (or with empty cells): the technology of every such tower, e.g.
        ``"LTE"`` or ``"2G;3G"``.
    layer
        GeoPackage layer or Excel sheet of a list, when the file has several.
    params
        :class:`~connectmap.parameters.towers.TowerSiteParams` (co-location radius for OpenCelliD).
    return_rejected
        Return ``(towers, rejected)`` and set bad rows aside instead of raising.

    Returns
    -------
    geopandas.GeoDataFrame or (geopandas.GeoDataFrame, pandas.DataFrame)
        The tower table (:data:`TOWER_COLUMNS` + geometry, EPSG:4326), and with ``return_rejected`` the rejected
        rows: ``source_row`` (line of the file, header = 1; feature number for vector files), ``reason`` and the
        row's original values as text. For OpenCelliD, cells read = ``cell_count.sum()`` + rejected rows.
        ``attrs["connectmap"]`` summarises what was read.

    Raises
    ------
    MissingInputError, InputError, SchemaError
        For a missing file, an unreadable one, missing columns, or (without ``return_rejected``) bad rows; the
        message names the file, rows, columns and the fix.

    Examples
    --------
    >>> towers = read_towers("740.csv.gz", operator_names={"740-0": "Movistar", "740-1": "Claro"})  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: tower file not found")
    if kind not in ("auto", "opencellid", "list"):
        raise InputError(f"kind must be 'auto', 'opencellid' or 'list', not {kind!r}")
    params = params or TowerSiteParams()
    names = normalise_operator_names(operator_names or {})
    layout = _opencellid_layout(path) if kind != "list" else None
    if kind == "opencellid" and layout is None:
        raise InputError(
            f"{path}: not an OpenCelliD export: the first line is neither the OpenCelliD header "
            f"({','.join(OPENCELLID_COLUMNS)}) nor a row shaped like it (radio,mcc,net,area,cell,unit,lon,lat,...); "
            "use kind='list' for an operator tower list"
        )
    if layout is not None:
        cells, rejected, info = _read_opencellid(path, layout, names)
        _raise_or_keep(rejected, path, return_rejected)
        towers = cells_to_sites(cells, colocation_radius_m=params.colocation_radius_m,
                                identity_radius_m=params.enodeb_radius_m)
        info.update(sites=int(towers[C.TOWER_SITE_ID].nunique()), rows=len(towers),
                    colocation_radius_m=params.colocation_radius_m)
        log.info(
            "%s: %d cells (%s) collapsed into %d sites within %.0f m, %d rejected",
            path, info["cells"], ", ".join(f"{k} {v}" for k, v in info["cells_per_technology"].items()),
            info["sites"], params.colocation_radius_m, len(rejected),
        )
    else:
        towers, rejected, info = _read_list(path, names, columns or {}, technology, layer)
        _raise_or_keep(rejected, path, return_rejected)
        log.info("%s: %d tower rows (%d sites) read, %d rejected", path, len(towers),
                 towers[C.TOWER_SITE_ID].nunique(), len(rejected))
    info["rejected"] = len(rejected)
    towers.attrs["connectmap"] = info
    return (towers, rejected) if return_rejected else towers


def normalise_operator_names(mapping: Mapping[str, str]) -> dict[str, str]:
    """Normalise ``{"MCC-MNC": name}`` keys to ``"740-1"`` form (no leading zeros); other keys are kept as given.

    Keys that are not ``MCC-MNC`` pairs are operator codes of tower lists (``{"MA": "Mauritel"}``).
    """
    result: dict[str, str] = {}
    for key, name in mapping.items():
        text = str(key).strip()
        match = re.fullmatch(r"(\d{1,3})\s*[-_ ]\s*(\d{1,3})", text)
        result[f"{int(match[1])}-{int(match[2])}" if match else text] = str(name).strip()
    return result


def parse_technologies(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split technology labels into one canonical technology per entry.

    Parameters
    ----------
    values
        Text such as ``"2G;3G;4G"``, ``"GSM/LTE"``, ``"lte"``, ``"5G NR"``; missing allowed.

    Returns
    -------
    technologies, unknown
        ``technologies``: canonical names (GSM/UMTS/LTE/NR) indexed by the original index, one entry per
        technology (an index label repeats when a cell lists several; duplicates removed). ``unknown``: for each
        original index whose text holds a label not in :data:`connectmap.columns.RADIO_ALIASES`, the unknown
        labels joined by ``", "``.
    """
    text = values.astype("string").str.strip().str.lower()
    # Multi-word aliases first ("5g nr"), so splitting on spaces does not break them.
    for alias in sorted((a for a in C.RADIO_ALIASES if " " in a), key=len, reverse=True):
        text = text.str.replace(alias, alias.replace(" ", "_"), regex=False)
    tokens = text.str.split(_TECH_SPLIT.pattern, regex=True).explode()
    tokens = tokens[tokens.notna() & ~tokens.isin(_IGNORED_TOKENS)]
    mapped = tokens.map(C.RADIO_ALIASES)
    unknown_tokens = tokens[mapped.isna()]
    unknown = unknown_tokens.groupby(level=0, sort=False).agg(lambda s: ", ".join(dict.fromkeys(s)))
    known = mapped.dropna()
    frame = pd.DataFrame({"i": known.index, "t": known.to_numpy()}).drop_duplicates()
    return pd.Series(frame["t"].to_numpy(), index=frame["i"].to_numpy(), dtype="string"), unknown.astype("string")


def cell_sites(
    cells: pd.DataFrame, *, colocation_radius_m: float = 100.0, identity_radius_m: float = 5000.0
) -> np.ndarray:
    """Site label of each cell (0, 1, 2, ... in order of first appearance); the rule is in the module docstring.

    Parameters
    ----------
    cells
        One row per cell with ``operator`` (text; missing = one unknown operator), ``lon``, ``lat`` (degrees,
        finite), and optionally: ``samples`` (OpenCelliD measurement count; priority); ``site_hint`` (cells of one
        operator with the same non-missing hint are one site, e.g. an LTE eNodeB id); and what names a cell, to
        break ties independently of row order: ``cell_key`` (unique text or number), or whole-number ``area`` and
        ``cell`` columns (with ``technology``), as OpenCelliD has.
    colocation_radius_m
        Largest geodesic distance (m) from a site's centre point to the points that join it.
    identity_radius_m
        A cell keeps its ``site_hint`` only within this distance (m) of the hint group's most-sampled cell; farther
        cells (stale or misplaced records sharing an id) are placed by position alone.

    Returns
    -------
    numpy.ndarray
        ``int64`` site label per cell.
    """
    return _assign_sites(cells, colocation_radius_m, identity_radius_m)[0]


def _assign_sites(
    cells: pd.DataFrame, colocation_radius_m: float, identity_radius_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Site label per cell; per site, the row of its representative cell (best cell of the centre point); and the
    cells' identity codes (see :func:`_tiebreak_codes`)."""
    n = len(cells)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lon = cells["lon"].to_numpy(dtype=np.float64)
    lat = cells["lat"].to_numpy(dtype=np.float64)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise InputError("cells_to_sites: every cell needs finite lon/lat; reject the others first")
    op_code = pd.factorize(cells["operator"], use_na_sentinel=False)[0]
    samples = (pd.to_numeric(cells["samples"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
               if "samples" in cells else np.ones(n))
    # Cell priority, larger first: most samples, then the smallest cell identity (not the row order).
    identity = _tiebreak_codes(cells)
    cell_rank = np.empty(n, dtype=np.int64)
    cell_rank[np.lexsort((identity, -samples))] = np.arange(n, 0, -1)

    # "Points" are what the position rule clusters: cells with the same trusted site hint (an LTE eNodeB) are one
    # point at their mean position; other cells of one operator at exactly the same position are one point (this
    # also keeps the pair search small in dense cities, where OpenCelliD rounds positions).
    hint = (pd.factorize(cells["site_hint"])[0] if "site_hint" in cells else np.full(n, -1, dtype=np.int64))
    hinted = hint >= 0
    if hinted.any():
        hinted = _trusted_hints(op_code, hint, hinted, cell_rank, lon, lat, identity_radius_m)
    group = pd.DataFrame({
        "op": op_code, "hint": np.where(hinted, hint, -1),
        "lon": np.where(hinted, 0.0, lon), "lat": np.where(hinted, 0.0, lat),
    })
    point_of_cell = group.groupby(["op", "hint", "lon", "lat"], sort=False).ngroup().to_numpy()
    n_points = int(point_of_cell.max()) + 1
    p_op = np.empty(n_points, dtype=np.int64)
    p_op[point_of_cell] = op_code
    p_lon, p_lat = _mean_positions(lon, lat, point_of_cell, n_points)
    p_samples = np.bincount(point_of_cell, weights=samples, minlength=n_points)
    p_best_rank = np.zeros(n_points, dtype=np.int64)
    np.maximum.at(p_best_rank, point_of_cell, cell_rank)
    cell_of_rank = np.empty(n + 1, dtype=np.int64)
    cell_of_rank[cell_rank] = np.arange(n)
    # Point priority, larger first: most samples in total, then its best cell.
    rank = np.empty(n_points, dtype=np.int64)
    rank[np.lexsort((p_best_rank, p_samples))] = np.arange(1, n_points + 1)
    i, j, _ = PointIndex(p_lon, p_lat).pairs_within(colocation_radius_m / 1000.0)
    same = p_op[i] == p_op[j]
    centre = _greedy_centres(n_points, i[same], j[same], rank)
    site, centres = pd.factorize(centre[point_of_cell])
    return site.astype(np.int64), cell_of_rank[p_best_rank[np.asarray(centres)]], identity


def _lookup_codes(values: pd.Series, mapping: Mapping[Any, int]) -> np.ndarray:
    """``mapping[value]`` for every value (-1 when absent), looked up once per distinct value."""
    codes, uniques = pd.factorize(values)
    table = np.array([mapping.get(u, -1) for u in uniques] + [-1], dtype=np.int64)
    return table[codes]  # code -1 (missing) takes the last entry, -1


def _tiebreak_codes(cells: pd.DataFrame) -> np.ndarray:
    """Integer codes ordering the cells by their identity (smaller first), independent of row order."""
    n = len(cells)
    codes = np.empty(n, dtype=np.int64)
    if "cell_key" in cells:
        key = cells["cell_key"]
        if pd.api.types.is_numeric_dtype(key):
            codes[np.argsort(key.to_numpy(dtype=np.float64), kind="stable")] = np.arange(n)
            return codes
        return pd.factorize(key.astype("string"), sort=True)[0].astype(np.int64)  # sorted text: slower
    if "area" in cells and "cell" in cells:
        tech = (_lookup_codes(cells["technology"], _TECH_ORDER) if "technology" in cells
                else np.zeros(n, dtype=np.int64))
        area = cells["area"].to_numpy(dtype=np.float64)
        cell = cells["cell"].to_numpy(dtype=np.float64)
        codes[np.lexsort((cell, area, tech))] = np.arange(n)
        return codes
    return np.arange(n, dtype=np.int64)


def cells_to_sites(
    cells: pd.DataFrame, *, colocation_radius_m: float = 100.0, identity_radius_m: float = 5000.0
) -> gpd.GeoDataFrame:
    """Collapse cell observations into tower sites (the rule is in the module docstring).

    Parameters
    ----------
    cells
        One row per cell: the columns :func:`cell_sites` reads, plus ``technology`` (GSM/UMTS/LTE/NR) and
        optionally ``range_m`` (m), ``mcc`` and ``mnc``.
    colocation_radius_m, identity_radius_m
        See :func:`cell_sites`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per site and technology, :data:`TOWER_COLUMNS` + geometry (EPSG:4326), sorted by operator, site
        and technology. ``site_id`` names the site's representative cell (the most-sampled cell of its centre):
        its ``cell_key``, or ``MCC-MNC-TECH-AREA-CELL`` for OpenCelliD cells. ``cell_count`` sums to
        ``len(cells)``.
    """
    n = len(cells)
    if n == 0:
        return _empty_towers()
    tech_code = _lookup_codes(cells["technology"], _TECH_ORDER)
    if (tech_code < 0).any():
        bad = sorted(set(cells["technology"][tech_code < 0].astype(str)))
        raise InputError(f"cells_to_sites: technology must be one of {', '.join(C.TECHNOLOGIES)}; got {bad}")
    site, rep, identity = _assign_sites(cells, colocation_radius_m, identity_radius_m)
    site_lon, site_lat = _mean_positions(cells["lon"].to_numpy(dtype=np.float64),
                                         cells["lat"].to_numpy(dtype=np.float64), site, len(rep))
    site_id = _unique_ids(_site_ids(cells, rep))

    range_m = cells["range_m"].to_numpy(dtype=np.float64) if "range_m" in cells else np.full(n, np.nan)
    groups = pd.DataFrame({"site": site, "tech": tech_code, "range": range_m})
    agg = groups.groupby(["site", "tech"], sort=True).agg(cell_count=("range", "size"), range_m=("range", "max"))
    s = agg.index.get_level_values("site").to_numpy()
    t = agg.index.get_level_values("tech").to_numpy()

    def per_site(column: str) -> pd.Series:
        if column not in cells:
            return pd.Series(pd.NA, index=range(len(s)), dtype="Int64")
        return pd.Series(cells[column].to_numpy()[rep[s]]).astype("Int64")

    operator = cells["operator"].iloc[rep[s]].astype("string").to_numpy()
    out = pd.DataFrame({
        C.TOWER_SITE_ID: pd.array(site_id[s], dtype="string"),
        C.TOWER_OPERATOR: pd.array(operator, dtype="string"),
        C.TOWER_TECHNOLOGY: pd.array(np.asarray(C.TECHNOLOGIES, dtype=object)[t], dtype="string"),
        C.TOWER_RANGE_M: agg["range_m"].to_numpy(dtype=np.float64),
        C.TOWER_CELL_COUNT: pd.array(agg["cell_count"].to_numpy(), dtype="Int64"),
        C.TOWER_HEIGHT_M: np.full(len(s), np.nan),
        MCC: per_site("mcc"),
        MNC: per_site("mnc"),
    })
    geometry = gpd.GeoSeries(shapely.points(site_lon[s], site_lat[s]), crs="EPSG:4326")
    result = gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")
    # Order by operator, then by the representative cell's identity, then technology: stable across row orders
    # without sorting a million strings.
    op_code = pd.factorize(cells["operator"].iloc[rep].astype("string"), sort=True, use_na_sentinel=False)[0]
    order = np.lexsort((t, identity[rep[s]], op_code[s]))
    return result.iloc[order].reset_index(drop=True)


def _site_ids(cells: pd.DataFrame, rep: np.ndarray) -> np.ndarray:
    """Text id of each site from its representative cell (built for the sites only, not for every cell)."""
    if "cell_key" in cells:
        return pd.Series(cells["cell_key"].to_numpy()[rep]).map(str).to_numpy(dtype=object)
    if {"mcc", "mnc", "area", "cell"} <= set(cells.columns):
        part = {c: pd.Series(cells[c].to_numpy()[rep]).astype("Int64").astype("string") for c in
                ("mcc", "mnc", "area", "cell")}
        tech = cells["technology"].iloc[rep].astype("string").reset_index(drop=True)
        ids = part["mcc"] + "-" + part["mnc"] + "-" + tech + "-" + part["area"] + "-" + part["cell"]
        return ids.to_numpy(dtype=object)
    return np.array([f"cell-{r}" for r in rep], dtype=object)


def _trusted_hints(
    op_code: np.ndarray, hint: np.ndarray, hinted: np.ndarray, cell_rank: np.ndarray,
    lon: np.ndarray, lat: np.ndarray, identity_radius_m: float,
) -> np.ndarray:
    """Drop the hint of cells farther than ``identity_radius_m`` from their group's anchor (its best cell)."""
    rows = np.flatnonzero(hinted)
    group_id = pd.DataFrame({"op": op_code[rows], "hint": hint[rows]}).groupby(
        ["op", "hint"], sort=False).ngroup().to_numpy()
    order = np.lexsort((-cell_rank[rows], group_id))
    first = np.r_[True, group_id[order][1:] != group_id[order][:-1]]
    anchor = np.empty(int(group_id.max()) + 1, dtype=np.int64)
    anchor[group_id[order][first]] = rows[order][first]
    target = anchor[group_id]
    distance_m = geodesic_km(lon[rows], lat[rows], lon[target], lat[target]) * 1000.0
    far = distance_m > identity_radius_m
    if far.any():
        log.info("%d cell(s) lie more than %.0f m from the other cells with the same id (e.g. eNodeB) and are "
                 "placed by position alone", int(far.sum()), identity_radius_m)
    trusted = hinted.copy()
    trusted[rows[far]] = False
    return trusted


def _mean_positions(
    lon: np.ndarray, lat: np.ndarray, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Position of each group: the normalised mean of its members' 3-D unit vectors, in degrees."""
    xyz = unit_vectors(lon, lat)
    sums = np.column_stack([np.bincount(group, weights=xyz[:, k], minlength=n_groups) for k in range(3)])
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    return np.degrees(np.arctan2(sums[:, 1], sums[:, 0])), np.degrees(np.arcsin(np.clip(sums[:, 2], -1.0, 1.0)))


def _greedy_centres(n_points: int, i: np.ndarray, j: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Site centre of each point: greedy centres in priority order, computed in vectorised rounds.

    Sequentially this is: take points from the highest rank down; a point with no centre within the radius
    becomes a centre; every other point joins the highest-ranked centre within the radius. Centres are therefore
    more than the radius apart and every point is within the radius of its centre (no chaining). The rounds give
    the same answer without a Python loop per point: in each round, every remaining point that outranks all its
    remaining neighbours becomes a centre, and it and its neighbours leave (the parallel greedy maximal
    independent set of Blelloch, Fineman and Shun, 2012, which equals the sequential one).

    Parameters
    ----------
    n_points
        Number of points.
    i, j
        Pairs of points within the radius (each pair once).
    rank
        Unique priority per point; larger goes first.
    """
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    active = np.ones(n_points, dtype=bool)
    is_centre = np.zeros(n_points, dtype=bool)
    e_src, e_dst = src, dst
    while active.any():
        live = active[e_src] & active[e_dst]
        e_src, e_dst = e_src[live], e_dst[live]
        best_neighbour = np.zeros(n_points, dtype=np.int64)
        np.maximum.at(best_neighbour, e_src, rank[e_dst])
        new = active & (rank > best_neighbour)
        is_centre |= new
        covered = np.zeros(n_points, dtype=bool)
        covered[e_src[new[e_dst]]] = True
        active &= ~(new | covered)
    centre = np.arange(n_points)
    join = is_centre[dst] & ~is_centre[src]
    js, jd = src[join], dst[join]
    order = np.lexsort((-rank[jd], js))
    first = np.r_[True, js[order][1:] != js[order][:-1]] if order.size else np.zeros(0, dtype=bool)
    centre[js[order][first]] = jd[order][first]
    return centre


# --- OpenCelliD ------------------------------------------------------------------------------------------------------
def _open_text(path: Path) -> Any:
    with path.open("rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return path.open("rt", encoding="utf-8-sig", errors="replace")


def _opencellid_layout(path: Path) -> tuple[bool, list[str]] | None:
    """``(has_header, column names)`` when the file is an OpenCelliD export, else ``None``."""
    try:
        with _open_text(path) as handle:
            first = ""
            for line in handle:
                if line.strip():
                    first = line.strip()
                    break
    except (OSError, EOFError, UnicodeDecodeError):
        return None
    fields = [f.strip().strip('"') for f in first.split(",")]
    lowered = [_OPENCELLID_ALIASES.get(f.lower(), f.lower()) for f in fields]
    if {"radio", "mcc", "net", "area", "cell", "lon", "lat"} <= set(lowered):
        return True, lowered
    # Headerless: 13 or 14 fields; mcc, net, area, cell and unit whole numbers; lon and lat decimals.
    shaped = len(fields) in (13, 14) and bool(fields[0]) and not _is_number(fields[0])
    if shaped and all(re.fullmatch(r"-?\d+", f) for f in fields[1:6]) and all(_is_number(f) for f in fields[6:8]):
        return False, list(OPENCELLID_COLUMNS[: len(fields)])
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_opencellid(
    path: Path, layout: tuple[bool, list[str]], names: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    has_header, file_columns = layout
    wanted = [c for c in ("radio", "mcc", "net", "area", "cell", "lon", "lat", "range", "samples")
              if c in file_columns]
    first_row = 2 if has_header else 1
    options: dict[str, Any] = dict(
        header=0 if has_header else None, names=file_columns, usecols=wanted, skip_blank_lines=False,
        keep_default_na=False, na_values=[""], compression="gzip" if _is_gzip(path) else None, engine="c",
        encoding="utf-8-sig",
    )
    numeric = {c: "float64" for c in ("mcc", "net", "area", "cell", "lon", "lat", "range", "samples")}
    try:
        table = pd.read_csv(path, dtype={**{c: "string" for c in wanted}, **numeric}, **options)
        extra = None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        # A malformed line somewhere: parse everything as text to name the rows that are wrong.
        text = read_delimited(path, delimiter=",", header=False, names=file_columns).frame
        if has_header:
            text = text.iloc[1:].reset_index(drop=True)
        extra = text.get(EXTRA_FIELDS)
        table = text[wanted]
    except (OSError, EOFError) as err:
        raise InputError(f"{path}: cannot read the file ({err}); is it a complete CSV or .csv.gz?") from None
    for column in ("radio", "mcc", "net", "area", "cell", "lon", "lat"):
        if column not in table:
            raise SchemaError(f"{path}: OpenCelliD column {column!r} is missing from the header")
    source_row = np.arange(first_row, first_row + len(table), dtype=np.int64)
    blank = table.isna().all(axis=1).to_numpy()
    if blank.any():
        log.debug("%s: %d blank lines skipped", path, int(blank.sum()))

    problems = _Problems(len(table))
    if extra is not None:
        problems.add(extra.notna().to_numpy(), None, "the line has more fields than the OpenCelliD layout")
    radio_code, radios = pd.factorize(table["radio"])
    tech_of_radio = [C.RADIO_ALIASES.get(str(r).strip().lower()) for r in radios]
    tech_code = np.array([_TECH_ORDER[t] if t else -1 for t in tech_of_radio] + [-1], dtype=np.int64)[radio_code]
    unknown_radio = (tech_code < 0) & ~blank
    if unknown_radio.any():
        labels = np.array([repr(str(r).strip()) for r in radios] + ["''"], dtype=object)[radio_code]
        problems.add(unknown_radio, "radio", "radio label " + labels
                     + " is not one of the known labels (GSM, UMTS, LTE, NR, CDMA, 2G-5G, ...)")
    values: dict[str, np.ndarray] = {}
    for column in ("mcc", "net", "area", "cell", "lon", "lat", "range", "samples"):
        if column not in table:
            continue
        raw = table[column]
        number = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        values[column] = number
        if column in ("range", "samples"):  # optional: unknown when missing
            continue
        bad = ~np.isfinite(number)
        problems.add(bad & ~blank, column, f"{column} is missing or not a number")
    for column in ("mcc", "net", "area", "cell"):
        number = values[column]
        # No upper bound: OpenCelliD stores a CDMA network's SID (up to 32767) in `net`, NR cell ids reach 2**36.
        bad = np.isfinite(number) & ((number < 0) | (number != np.round(number)) | (number >= 2**53))
        problems.add(bad, column, f"{column} must be a whole number, 0 or more")
    lon, lat = values["lon"], values["lat"]
    problems.add(np.isfinite(lat) & (np.abs(lat) > 90), "lat", "latitude outside -90..90")
    problems.add(np.isfinite(lon) & (np.abs(lon) > 180), "lon", "longitude outside -180..180")
    problems.add((lon == 0) & (lat == 0), "lon", "position is (0, 0), a missing value")

    bad = problems.any() & ~blank
    rejected = _rejected_table(table, source_row, problems, bad)
    keep = ~bad & ~blank
    mcc = values["mcc"][keep].astype(np.int64)
    mnc = values["net"][keep].astype(np.int64)
    tech = pd.Categorical.from_codes(tech_code[keep], categories=list(C.TECHNOLOGIES))
    cell = values["cell"][keep].astype(np.int64)
    # Operator names are looked up once per network (MCC-MNC pair), not once per cell.
    network_code, networks = pd.factorize(mcc * 1_000_000 + mnc)
    network_keys = [f"{code // 1_000_000}-{code % 1_000_000}" for code in networks]
    name_code, operator_names = pd.factorize(pd.Index([names.get(key, key) for key in network_keys], dtype=object))
    range_m = values["range"][keep] if "range" in values else np.full(int(keep.sum()), np.nan)
    range_m = np.where(range_m >= 0, range_m, np.nan)  # negative ranges are unknown, not zero
    # An LTE cell id (ECI, 28 bits) is the eNodeB id times 256 plus the cell's number within it (3GPP TS 36.300),
    # so LTE cells of one network with the same ECI // 256 belong to one base station whatever their positions.
    is_eci = (tech_code[keep] == _TECH_ORDER["LTE"]) & (cell < 2**28)
    cells = pd.DataFrame({
        "operator": pd.Categorical.from_codes(name_code[network_code], categories=operator_names),
        "technology": tech,
        "lon": lon[keep], "lat": lat[keep], "range_m": range_m, "mcc": mcc, "mnc": mnc,
        "area": values["area"][keep].astype(np.int64), "cell": cell,
        "site_hint": pd.array(np.where(is_eci, cell // 256, 0), dtype="Int64"),
    })
    cells.loc[~is_eci, "site_hint"] = pd.NA
    if "samples" in values:
        cells["samples"] = values["samples"][keep]
    counts = np.bincount(network_code, minlength=len(network_keys))
    unmapped = {key: int(count) for key, count in zip(network_keys, counts, strict=True) if key not in names}
    unmapped = dict(sorted(unmapped.items(), key=lambda item: -item[1]))
    if unmapped:
        log.warning(
            "%s: %d network(s) have no operator name and keep their MCC-MNC as operator: %s; name them with "
            "operator_names={'MCC-MNC': 'Name'} (config: inputs.operator_names)",
            path, len(unmapped), ", ".join(f"{k} ({v} cells)" for k, v in unmapped.items()),
        )
    info: dict[str, Any] = {
        "path": str(path), "format": "opencellid", "header": has_header, "cells": int(keep.sum()),
        "cells_per_technology": {t: int(c) for t, c in zip(C.TECHNOLOGIES, np.bincount(tech_code[keep], minlength=4),
                                                           strict=True) if c},
        "unmapped_networks": unmapped,
        "blank_lines": int(blank.sum()),
    }
    return cells, rejected, info


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


# --- operator tower lists --------------------------------------------------------------------------------------------
def _read_list(
    path: Path, names: dict[str, str], explicit: Mapping[str, str], technology: str | None, layer: str | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any]]:
    suffix = _suffix(path)
    geometry: gpd.GeoSeries | None = None
    if suffix in _TEXT_SUFFIXES:
        table = read_delimited(path).frame
        first_row = 2
    elif suffix in _EXCEL_SUFFIXES:
        table, _, _ = read_excel_table(path, layer)
        first_row = 2
    else:
        frame = read_vector(path, layer=layer)
        geometry = frame.geometry.reset_index(drop=True)
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
        table = table.apply(text_values) if len(table.columns) else table
        first_row = 1
    table = table.reset_index(drop=True)
    if geometry is None:
        # Lines with no value at all (trailing ",,,," rows of spreadsheet exports) carry nothing to reject.
        blank = table.drop(columns=[EXTRA_FIELDS], errors="ignore").isna().all(axis=1).to_numpy()
        if blank.any():
            log.debug("%s: %d empty row(s) skipped", path, int(blank.sum()))
            source_rows = np.flatnonzero(~blank)
            table = table.loc[~blank].reset_index(drop=True)
        else:
            source_rows = np.arange(len(table))
    else:
        source_rows = np.arange(len(table))
    if table.empty and geometry is None:
        raise InputError(f"{path}: the tower list has no rows")
    unknown_keys = sorted(set(explicit) - set(LIST_ALIASES))
    if unknown_keys:
        raise SchemaError(
            f"{path}: columns= names {', '.join(map(repr, unknown_keys))} are not tower fields; use "
            + ", ".join(LIST_ALIASES)
        )
    field = {
        canonical: find_field(table.columns, aliases, given=explicit.get(canonical), place=str(path), meaning=canonical)
        for canonical, aliases in LIST_ALIASES.items()
    }
    if geometry is None and (field[C.LATITUDE] is None or field[C.LONGITUDE] is None):
        raise SchemaError(
            f"{path}: no coordinate columns found (looked for latitude/lat and longitude/lon/lng); the columns "
            f"are: {', '.join(map(repr, table.columns))}. Name them with columns={{'latitude': ..., 'longitude': ...}}"
        )
    if field[C.TOWER_TECHNOLOGY] is None and technology is None:
        raise SchemaError(
            f"{path}: no technology column found (looked for technology, technologies, radio, tech); the columns "
            f"are: {', '.join(map(repr, table.columns))}. Name it with columns={{'technology': COLUMN}}, or give "
            "technology='LTE' (or '2G;3G') when every tower has the same technologies"
        )
    n = len(table)
    source_row = (first_row + source_rows).astype(np.int64)
    problems = _Problems(n)
    if EXTRA_FIELDS in table:
        problems.add(table[EXTRA_FIELDS].notna().to_numpy(), None, "the line has more fields than the header")

    def text(canonical: str) -> pd.Series:
        column = field[canonical]
        if column is None:
            return pd.Series(pd.NA, index=table.index, dtype="string")
        return text_values(table[column])

    # Coordinates: the file's point geometry, else the latitude/longitude columns (decimal commas understood).
    if geometry is not None and field[C.LATITUDE] is None:
        lon, lat = _points_of(geometry, problems)
    else:
        lat, lat_bad = _numbers(text(C.LATITUDE))
        lon, lon_bad = _numbers(text(C.LONGITUDE))
        problems.add(lat_bad, field[C.LATITUDE], "latitude is not a number")
        problems.add(lon_bad, field[C.LONGITUDE], "longitude is not a number")
        problems.add(~np.isfinite(lat) & ~lat_bad, field[C.LATITUDE], "latitude is missing")
        problems.add(~np.isfinite(lon) & ~lon_bad, field[C.LONGITUDE], "longitude is missing")
    problems.add(np.isfinite(lat) & (np.abs(lat) > 90), field[C.LATITUDE],
                 "latitude outside -90..90 (projected coordinates? give WGS84 degrees)")
    problems.add(np.isfinite(lon) & (np.abs(lon) > 180), field[C.LONGITUDE],
                 "longitude outside -180..180 (projected coordinates? give WGS84 degrees)")
    problems.add((lon == 0) & (lat == 0), field[C.LONGITUDE], "position is (0, 0), a missing value")

    # Technologies: one or several per row; empty cells take the `technology` argument.
    tech_text = text(C.TOWER_TECHNOLOGY)
    if technology is not None:
        tech_text = tech_text.fillna(technology)
    techs, unknown = parse_technologies(tech_text)
    has_unknown = np.zeros(n, dtype=bool)
    has_unknown[unknown.index.to_numpy(dtype=np.int64)] = True
    problems.add(has_unknown, field[C.TOWER_TECHNOLOGY],
                 ("unknown technology " + unknown.reindex(range(n)).fillna("").map(repr)).to_numpy(dtype=object)
                 + " (known: GSM, UMTS, LTE, NR, 2G, 3G, 4G, 5G, ...)")
    no_tech = np.ones(n, dtype=bool)
    no_tech[techs.index.to_numpy(dtype=np.int64)] = False
    problems.add(no_tech & ~has_unknown, field[C.TOWER_TECHNOLOGY] or "technology",
                 "technology is empty; fill it or pass technology=")

    site_id = text(C.TOWER_SITE_ID)
    missing_id = site_id.isna().to_numpy()
    if missing_id.any():
        generated = pd.Series([f"{path.stem}-{r}" for r in source_row[missing_id]], dtype="string")
        site_id.loc[missing_id] = generated.to_numpy()
        log.info("%s: %d tower(s) without id get '%s-<row>'", path, int(missing_id.sum()), path.stem)
    operator = text(C.TOWER_OPERATOR)
    mcc = _whole_numbers(text(MCC))
    mnc = _whole_numbers(text(MNC))
    network = (mcc.astype("string") + "-" + mnc.astype("string"))
    operator = operator.fillna(network)
    unmapped = sorted(set(operator.dropna()) - set(names)) if names else []
    operator = operator.map(lambda value: names.get(value, value) if isinstance(value, str) else value)
    operator = operator.astype("string")
    if names and unmapped:
        log.info("%s: operators without a name in operator_names, kept as they are: %s", path, ", ".join(unmapped))

    height, height_bad = _numbers(text(C.TOWER_HEIGHT_M).str.replace(r"\s*m$", "", regex=True))
    height = np.where(height >= 0, height, np.nan)
    range_m, _ = _numbers(text(C.TOWER_RANGE_M))
    range_m = np.where(range_m >= 0, range_m, np.nan)
    cell_count = _whole_numbers(text(C.TOWER_CELL_COUNT))
    if height_bad.any():
        log.warning("%s: %d height value(s) are not numbers and are read as unknown", path, int(height_bad.sum()))

    # Expand to one row per technology, then refuse repeated (operator, site, technology) rows.
    row = techs.index.to_numpy(dtype=np.int64)
    long = pd.DataFrame({
        C.TOWER_SITE_ID: site_id.to_numpy()[row],
        C.TOWER_OPERATOR: operator.to_numpy()[row],
        C.TOWER_TECHNOLOGY: techs.to_numpy(),
        "row": row,
    })
    long = long[~problems.any()[row]]
    duplicate = long.duplicated([C.TOWER_OPERATOR, C.TOWER_SITE_ID, C.TOWER_TECHNOLOGY], keep="first")
    if duplicate.any():
        first = long.groupby([C.TOWER_OPERATOR, C.TOWER_SITE_ID, C.TOWER_TECHNOLOGY], dropna=False)["row"]
        first_row_of = first.transform("min").to_numpy()
        dup_rows = long["row"].to_numpy()[duplicate.to_numpy()]
        mask = np.zeros(n, dtype=bool)
        mask[dup_rows] = True
        reason = np.full(n, "", dtype=object)
        reason[dup_rows] = [
            f"duplicate: site {s!r} ({t}) already given on row {source_row[f]}"
            for s, t, f in zip(long[C.TOWER_SITE_ID].to_numpy()[duplicate.to_numpy()],
                               long[C.TOWER_TECHNOLOGY].to_numpy()[duplicate.to_numpy()],
                               first_row_of[duplicate.to_numpy()], strict=True)
        ]
        problems.add(mask, field[C.TOWER_SITE_ID] or "site_id", reason)
        long = long[~problems.any()[long["row"].to_numpy()]]
    bad = problems.any()
    rejected = _rejected_table(table, source_row, problems, bad)

    r = long["row"].to_numpy()
    out = pd.DataFrame({
        C.TOWER_SITE_ID: pd.array(long[C.TOWER_SITE_ID].to_numpy(), dtype="string"),
        C.TOWER_OPERATOR: pd.array(long[C.TOWER_OPERATOR].to_numpy(), dtype="string"),
        C.TOWER_TECHNOLOGY: pd.array(long[C.TOWER_TECHNOLOGY].to_numpy(), dtype="string"),
        C.TOWER_RANGE_M: range_m[r],
        C.TOWER_CELL_COUNT: pd.array(cell_count.to_numpy()[r], dtype="Int64"),
        C.TOWER_HEIGHT_M: height[r],
        MCC: pd.array(mcc.to_numpy()[r], dtype="Int64"),
        MNC: pd.array(mnc.to_numpy()[r], dtype="Int64"),
    })
    towers = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(shapely.points(lon[r], lat[r]), crs="EPSG:4326"))
    info = {
        "path": str(path), "format": "list", "rows": n, "towers": int(out[C.TOWER_SITE_ID].nunique()),
        "column_mapping": {k: v for k, v in field.items() if v is not None},
        "rows_per_technology": {k: int(v) for k, v in
                                out[C.TOWER_TECHNOLOGY].value_counts().reindex(C.TECHNOLOGIES).dropna().items()},
    }
    return towers, rejected, info


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return suffixes[-2] if len(suffixes) > 1 else ".csv"
    return suffixes[-1] if suffixes else ""


def _numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text to float (decimal commas understood); the mask marks non-empty text that is not a number."""
    cleaned = text.astype("string").str.strip()
    cleaned = cleaned.where(~cleaned.str.fullmatch(r"[+-]?\d+,\d+").fillna(False), cleaned.str.replace(",", "."))
    number = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)
    bad = cleaned.notna().to_numpy() & ~np.isfinite(number)
    return number, bad


def _whole_numbers(text: pd.Series) -> pd.Series:
    number, _ = _numbers(text)
    whole = np.isfinite(number) & (number == np.round(number)) & (number >= 0)
    return pd.Series(np.where(whole, number, np.nan)).astype("Int64")


def _points_of(geometry: gpd.GeoSeries, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    geoms = geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    kind = shapely.get_type_id(geoms)
    single_multipoint = (kind == 4) & (shapely.get_num_geometries(geoms) == 1)
    points = np.where(single_multipoint, shapely.get_geometry(geoms, 0), geoms)
    not_point = ~missing & (shapely.get_type_id(points) != 0)
    problems.add(missing, "geometry", "the feature has no geometry")
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"], dtype=object)
    problems.add(not_point, "geometry",
                 "the geometry is a " + names[np.clip(types, 0, 7)] + ", not a point")
    ok = ~missing & ~not_point
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    lon[ok] = shapely.get_x(points[ok])
    lat[ok] = shapely.get_y(points[ok])
    return lon, lat


# --- problems and the rejected table ---------------------------------------------------------------------------------
class _Problems:
    """Reasons per row, collected from vectorised checks (several checks may hit one row)."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, "", dtype=object)
        self.column = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, column: str | None, reason: str | np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        text = np.broadcast_to(np.asarray(reason, dtype=object), mask.shape)[mask]
        current = self.reason[mask]
        self.reason[mask] = np.where(current == "", text, current + "; " + text)
        if column:
            col = self.column[mask]
            self.column[mask] = np.where(col == "", column, col)

    def any(self) -> np.ndarray:
        return self.reason != ""


def _rejected_table(table: pd.DataFrame, source_row: np.ndarray, problems: _Problems, bad: np.ndarray) -> pd.DataFrame:
    original = table.loc[bad].reset_index(drop=True)
    original = original.apply(text_values) if len(original.columns) else original
    front = pd.DataFrame({
        C.SOURCE_ROW: source_row[bad],
        "column": pd.array(problems.column[bad], dtype="string"),
        "reason": pd.array(problems.reason[bad], dtype="string"),
    })
    original = original.rename(columns={c: f"{c}_original" for c in original.columns if c in front.columns})
    return pd.concat([front, original], axis=1)


def _raise_or_keep(rejected: pd.DataFrame, path: Path, return_rejected: bool) -> None:
    if rejected.empty or return_rejected:
        if not rejected.empty:
            log.warning("%s: %d row(s) set aside (rejected table): %s", path, len(rejected),
                        _summary(rejected))
        return
    raise InputError(
        f"{path}: {len(rejected)} row(s) cannot be used: {_summary(rejected)}. Fix these rows, or set them aside "
        "with read_towers(..., return_rejected=True)"
    )


def _summary(rejected: pd.DataFrame) -> str:
    parts = []
    reasons = rejected["reason"].str.split("; ").explode()
    rows = rejected[C.SOURCE_ROW].repeat(rejected["reason"].str.count("; ") + 1).to_numpy()
    frame = pd.DataFrame({"reason": reasons.to_numpy(), "row": rows})
    for reason, group in frame.groupby("reason", sort=False):
        shown = ", ".join(str(r) for r in group["row"].head(_SHOWN))
        more = f" and {len(group) - _SHOWN} more" if len(group) > _SHOWN else ""
        parts.append(f"{reason} (row{'s' if len(group) > 1 else ''} {shown}{more})")
    return "; ".join(parts[:10]) + (f"; and {len(parts) - 10} other problem(s)" if len(parts) > 10 else "")


def _unique_ids(ids: np.ndarray) -> np.ndarray:
    """Make ids unique by suffixing repeats with ``#2``, ``#3``... (only when the input repeated a cell key)."""
    series = pd.Series(ids, dtype="string")
    rank = series.groupby(series, sort=False).cumcount()
    if (rank > 0).any():
        log.warning("%d site id(s) repeat (the input repeats cell keys); suffixed #2, #3...", int((rank > 0).sum()))
        series = series.where(rank == 0, series + "#" + (rank + 1).astype("string"))
    return series.to_numpy(dtype=object)


def _empty_towers() -> gpd.GeoDataFrame:
    out = pd.DataFrame({
        C.TOWER_SITE_ID: pd.array([], dtype="string"), C.TOWER_OPERATOR: pd.array([], dtype="string"),
        C.TOWER_TECHNOLOGY: pd.array([], dtype="string"), C.TOWER_RANGE_M: np.array([], dtype=np.float64),
        C.TOWER_CELL_COUNT: pd.array([], dtype="Int64"), C.TOWER_HEIGHT_M: np.array([], dtype=np.float64),
        MCC: pd.array([], dtype="Int64"), MNC: pd.array([], dtype="Int64"),
    })
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
