"""Mobile coverage at every school: from coverage rasters, coverage polygons, or modelled from tower positions.

For each technology the answer at a school comes from the best source that knows it, in this order:

1. **raster** (operator or regulator coverage GeoTIFF, binary or dBm with a threshold per technology): the pixel at
   the school. Outside the raster or on nodata the raster does not know (the next source is asked), and a school is
   never called uncovered because a raster does not reach it.
2. **polygon** (operator or GSMA-style coverage shapefiles): inside a polygon of that technology (boundary
   included) is covered, outside is not.
3. **modelled** from the tower table: covered when within the range of a site of that technology. A site's range
   is its reported range (OpenCelliD ``range``) capped per technology, or the technology's default range
   (:class:`connectmap.parameters.enrich.ModelledRanges`). A tower table without sites of a technology models that
   technology as absent; without a tower table nothing is modelled.

Several files for one technology (one per operator) are combined: covered if any says covered, not covered only if
all know and none does, else unknown.

Columns added:

* ``covered_<TECH>`` (nullable boolean) and ``covered_<TECH>_within_<R>m`` (coverage anywhere within R metres:
  any raster pixel the disk reaches, a polygon within R, a site within range + R).
* ``signal_<TECH>_dbm``: best signal at the school among dBm rasters (NaN without one).
* ``cellular_coverage_type``: best technology covered, as Giga labels it (5G/4G/3G/2G), ``no coverage`` when every
  technology is known and none covers, else ``unknown``. Coverage maps (raster, polygon) decide first; where they do
  not know, the register's own value is kept (``keep_register_coverage``), else the modelled coverage completes it.
* ``cellular_coverage_availability``: True for 2G-5G, False for "no coverage", NA for unknown.
* ``coverage_source``: ``raster``/``polygon``/``modelled``/``register`` -- the source of the deciding technology
  (for "no coverage", the weakest source used).
* ``covering_operators``: operators whose coverage of ``covering_operators_min_technology`` or better reaches the
  school (at the school), sorted and joined by ``;``; ``""`` when none does, NA when no operator-level data knows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from connectmap.columns import (
    COVERAGE_AVAILABILITY,
    COVERAGE_NONE,
    COVERAGE_TYPE,
    COVERAGE_UNKNOWN,
    GENERATION,
    TECHNOLOGIES,
    describe,
)
from connectmap.enrich._common import layer_lonlat, nullable_bool, params_or_default, school_lonlat
from connectmap.errors import InputError, SchemaError
from connectmap.geodesy import PointIndex, PolylineIndex
from connectmap.io.rasters import RasterLayer, any_within, sample
from connectmap.parameters.enrich import EnrichParams

log = logging.getLogger(__name__)

COVERAGE_SOURCE = describe("coverage_source", "Where cellular_coverage_type comes from: raster, polygon, modelled "
                           "(tower ranges) or register", "text")
COVERING_OPERATORS = describe("covering_operators", "Operators whose coverage (3G or better by default) reaches the "
                              "school, ';'-separated; empty = none, blank = unknown", "text")
for _tech in TECHNOLOGIES:
    describe(f"covered_{_tech}", f"School is inside {_tech} coverage (True/False, empty = unknown)", "flag")
    describe(f"signal_{_tech}_dbm", f"Best {_tech} signal strength at the school from dBm coverage rasters", "dBm")

#: Order of trust of the sources; "no coverage" reports the weakest one used.
SOURCES = ("raster", "polygon", "register", "modelled")
_GENERATION_LABELS = {GENERATION[t]: t for t in TECHNOLOGIES}
_REGISTER_NONE = {"no coverage", "no service", "none", "no", "no_coverage", "0"}


def covered_within_column(technology: str, radius_m: float) -> str:
    """Name of the 'covered within R m' column."""
    name = f"covered_{technology}_within_{radius_m:g}m".replace(".", "_")
    return describe(name, f"{technology} coverage reaches a point within {radius_m:g} m of the school (True/False, "
                    "empty = unknown)", "flag")


# --- tri-state arrays: 1.0 covered, 0.0 not covered, NaN unknown ---------------------------------------------------
def _or(a: NDArray, b: NDArray) -> NDArray:
    """Tri-state OR: 1 if either is 1; 0 if both are 0; else unknown."""
    return np.where((a == 1) | (b == 1), 1.0, np.where((a == 0) & (b == 0), 0.0, np.nan))


@dataclass
class _State:
    """Coverage known so far, per technology (and per operator and technology)."""

    n: int
    at: dict[str, NDArray] = field(default_factory=dict)
    near: dict[str, NDArray] = field(default_factory=dict)
    source: dict[str, NDArray] = field(default_factory=dict)
    op_at: dict[tuple[str, str], NDArray] = field(default_factory=dict)
    signal: dict[str, NDArray] = field(default_factory=dict)

    def fill(self, tech: str, at: NDArray, near: NDArray | None, source: str) -> None:
        """Take ``at``/``near`` where nothing better is known yet."""
        cur = self.at.setdefault(tech, np.full(self.n, np.nan))
        src = self.source.setdefault(tech, np.full(self.n, None, dtype=object))
        take = np.isnan(cur) & ~np.isnan(at)
        cur[take] = at[take]
        src[take] = source
        if near is not None:
            cur_near = self.near.setdefault(tech, np.full(self.n, np.nan))
            take_near = np.isnan(cur_near) & ~np.isnan(near)
            cur_near[take_near] = near[take_near]

    def fill_operator(self, operator: str, tech: str, at: NDArray) -> None:
        cur = self.op_at.setdefault((operator, tech), np.full(self.n, np.nan))
        take = np.isnan(cur) & ~np.isnan(at)
        cur[take] = at[take]


def _combine(results: Iterable[NDArray], n: int) -> NDArray:
    out: NDArray | None = None
    for r in results:
        out = r if out is None else _or(out, r)
    return out if out is not None else np.full(n, np.nan)


# --- rasters ---------------------------------------------------------------------------------------------------------
def _raster_threshold(layer: RasterLayer, params: EnrichParams) -> float:
    if layer.value == "binary":
        return 0.5
    return float(getattr(params.thresholds, f"{layer.technology}_dbm"))


def _from_rasters(
    state: _State, rasters: Sequence[RasterLayer], lon: NDArray, lat: NDArray, params: EnrichParams
) -> None:
    max_bytes = params.raster_window_mb * 1024 * 1024
    radius = params.coverage_search_radius_m
    by_tech: dict[str, list[tuple[NDArray, NDArray | None]]] = {}
    for layer in rasters:
        if layer.kind != "coverage" or layer.technology is None:
            raise InputError(f"{layer.path}: not a coverage raster with a technology (open it with "
                             "open_raster(path, kind='coverage', technology=...))")
        threshold = _raster_threshold(layer, params)
        values = sample(layer, lon, lat, max_bytes=max_bytes)
        with np.errstate(invalid="ignore"):
            at = np.where(np.isnan(values), np.nan, (values >= threshold).astype(float))
        near = None
        if radius > 0:
            near = at.copy()
            todo = np.flatnonzero(at != 1)  # covered at the school is covered nearby; NaN and 0 need the disk
            if todo.size:
                near[todo] = any_within(layer, lon[todo], lat[todo], radius, threshold, max_bytes=max_bytes)
        if layer.value == "dbm":
            best = state.signal.setdefault(layer.technology, np.full(state.n, np.nan))
            state.signal[layer.technology] = np.fmax(best, values)
        by_tech.setdefault(layer.technology, []).append((at, near))
        if layer.operator:
            state.fill_operator(layer.operator, layer.technology, at)
        log.info("%s: %d schools covered, %d not, %d unknown", layer.label, int((at == 1).sum()),
                 int((at == 0).sum()), int(np.isnan(at).sum()))
    for tech, parts in by_tech.items():
        at = _combine((p[0] for p in parts), state.n)
        near = _combine((p[1] for p in parts), state.n) if radius > 0 else None
        state.fill(tech, at, near, "raster")


# --- polygons --------------------------------------------------------------------------------------------------------
def _inside(polygons: gpd.GeoDataFrame, lon: NDArray, lat: NDArray) -> NDArray:
    """1.0 inside (or on the boundary of) any polygon, 0.0 outside, NaN for NaN points."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.where(ok, 0.0, np.nan)
    geoms = polygons.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not geoms.size or not ok.any():
        return out
    tree = shapely.STRtree(geoms)
    idx = np.flatnonzero(ok)
    pts = shapely.points(lon[idx], lat[idx])
    hit, _ = tree.query(pts, predicate="intersects")
    out[idx[np.unique(hit)]] = 1.0
    return out


def _polygon_distance_km(polygons: gpd.GeoDataFrame, lon: NDArray, lat: NDArray, spacing_km: float) -> NDArray:
    """Geodesic distance (km) from each point to the nearest polygon boundary."""
    boundaries = shapely.boundary(polygons.geometry.to_numpy())
    return PolylineIndex(boundaries, spacing_km=spacing_km).nearest(lon, lat).distance_km


def _from_polygons(
    state: _State, polygons: gpd.GeoDataFrame | None, lon: NDArray, lat: NDArray, params: EnrichParams
) -> None:
    if polygons is None or polygons.empty:
        return
    if "technology" not in polygons.columns:
        raise SchemaError("coverage polygons: no 'technology' column; read them with "
                          "connectmap.io.read_coverage_polygons(path, technology=...)")
    radius_km = params.coverage_search_radius_m / 1000.0
    for tech, group in polygons.groupby(polygons["technology"].astype("str"), sort=True):
        if tech not in TECHNOLOGIES:
            raise SchemaError(f"coverage polygons, column 'technology': unknown value {tech!r}")
        at = _inside(group, lon, lat)
        near = None
        if radius_km > 0:
            near = at.copy()
            out = np.flatnonzero(at == 0)
            if out.size:
                dist = _polygon_distance_km(group, lon[out], lat[out], min(radius_km, 1.0))
                near[out] = (dist <= radius_km).astype(float)
        state.fill(tech, at, near, "polygon")
        if "operator" in group.columns:
            known = group[group["operator"].notna()]
            for operator, op_group in known.groupby(known["operator"].astype("str"), sort=True):
                state.fill_operator(operator, tech, _inside(op_group, lon, lat))


# --- modelled from towers --------------------------------------------------------------------------------------------
def site_ranges_km(sites: pd.DataFrame, technology: str, params: EnrichParams) -> NDArray:
    """Modelled range (km) of each site of one technology: reported range capped, or the default."""
    default_m, cap_m = params.modelled.range_m(technology)
    rng = np.full(len(sites), default_m)
    if params.modelled.use_reported_range and "range_m" in sites.columns:
        reported = pd.to_numeric(sites["range_m"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(reported) & (reported > 0)
        rng[ok] = np.minimum(reported[ok], cap_m)
    return rng / 1000.0


def within_site_range(
    lon: NDArray, lat: NDArray, slon: NDArray, slat: NDArray, range_km: NDArray, batch: int = 50_000
) -> NDArray:
    """1.0 where some site is within its own range of the point (geodesic), 0.0 where none is, NaN for NaN points.

    The nearest site settles most points (inside its range, or farther than the largest range); the rest are
    checked against every site within the largest range, in batches.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.where(ok, 0.0, np.nan)
    good = np.isfinite(slon) & np.isfinite(slat) & np.isfinite(range_km)
    if not good.any() or not ok.any():
        return out
    slon, slat, range_km = slon[good], slat[good], range_km[good]
    rmax = float(range_km.max())
    index = PointIndex(slon, slat)
    # Points with no site within the largest range are uncovered without finding their (far) nearest site.
    hit = index.nearest(lon, lat, max_km=rmax)
    found = hit.index >= 0
    near_range = np.where(found, range_km[np.maximum(hit.index, 0)], -np.inf)
    covered = found & (hit.distance_km <= near_range)
    out[covered] = 1.0
    unsure = np.flatnonzero(found & ~covered & (hit.distance_km <= rmax))
    for start in range(0, unsure.size, batch):
        part = unsure[start:start + batch]
        q, ref, dist = index.within(lon[part], lat[part], rmax)
        inside = dist <= range_km[ref]
        out[part[np.unique(q[inside])]] = 1.0
    return out


def _from_towers(
    state: _State, towers: pd.DataFrame | None, lon: NDArray, lat: NDArray, params: EnrichParams
) -> None:
    if towers is None or len(towers) == 0:
        return
    extra_km = params.coverage_search_radius_m / 1000.0
    tlon, tlat = layer_lonlat(towers)
    tech_col = towers["technology"].astype("str").to_numpy()
    for tech in TECHNOLOGIES:
        sel = tech_col == tech
        if not sel.any():
            absent = np.where(np.isfinite(lon) & np.isfinite(lat), 0.0, np.nan)
            state.fill(tech, absent, absent if extra_km > 0 else None, "modelled")
            continue
        sites = towers[sel]
        rng = site_ranges_km(sites, tech, params)
        at = within_site_range(lon, lat, tlon[sel], tlat[sel], rng)
        near = within_site_range(lon, lat, tlon[sel], tlat[sel], rng + extra_km) if extra_km > 0 else None
        state.fill(tech, at, near, "modelled")
        if "operator" in sites.columns:
            ops = sites["operator"]
            known = ops.notna().to_numpy()
            op_names = ops.astype("str").to_numpy()
            for operator in sorted(set(op_names[known])):
                m = known & (op_names == operator)
                state.fill_operator(operator, tech, within_site_range(
                    lon, lat, tlon[sel][m], tlat[sel][m], rng[m]))


# --- assembling the Giga columns -------------------------------------------------------------------------------------
def _register_type(schools: pd.DataFrame) -> NDArray:
    """The register's own coverage type as Giga labels (object array; None where unknown)."""
    n = len(schools)
    if COVERAGE_TYPE not in schools.columns:
        return np.full(n, None, dtype=object)
    text = schools[COVERAGE_TYPE].astype("str").str.strip().str.lower().fillna("")
    out = np.full(n, None, dtype=object)
    values = text.to_numpy(dtype=object)
    for label in _GENERATION_LABELS:
        out[values == label.lower()] = label
    out[np.isin(values, list(_REGISTER_NONE))] = COVERAGE_NONE
    return out


def _best(states: dict[str, NDArray], sources: dict[str, NDArray], n: int) -> tuple[NDArray, NDArray]:
    """Best technology label and its source from per-technology states."""
    label = np.full(n, COVERAGE_UNKNOWN, dtype=object)
    source = np.full(n, None, dtype=object)
    decided = np.zeros(n, dtype=bool)
    for tech in reversed(TECHNOLOGIES):
        st = states.get(tech)
        if st is None:
            continue
        yes = ~decided & (st == 1)
        label[yes] = GENERATION[tech]
        source[yes] = sources[tech][yes]
        decided |= yes
    # "no coverage" needs every technology known and none covered.
    all_known = np.ones(n, dtype=bool)
    for tech in TECHNOLOGIES:
        st = states.get(tech)
        all_known &= np.zeros(n, dtype=bool) if st is None else st == 0
    none = ~decided & all_known
    label[none] = COVERAGE_NONE
    # The weakest source among the technologies that said "not covered".
    weakest = np.full(n, -1)
    for tech in TECHNOLOGIES:
        src = sources.get(tech)
        if src is None:
            continue
        for rank, name in enumerate(SOURCES):
            weakest = np.where(src == name, np.maximum(weakest, rank), weakest)
    source[none] = np.array((*SOURCES, None), dtype=object)[weakest[none]]
    return label, source


def _covering_operators(state: _State, min_tech: str, n: int) -> pd.array:
    operators = sorted({op for op, _ in state.op_at}, key=str.casefold)
    if not operators:
        return pd.array([pd.NA] * n, dtype="str")
    techs = TECHNOLOGIES[TECHNOLOGIES.index(min_tech):]
    parts = np.full(n, "", dtype=object)
    any_known = np.zeros(n, dtype=bool)
    for op in operators:
        st = _combine((state.op_at[(op, t)] for t in techs if (op, t) in state.op_at), n)
        yes = st == 1
        any_known |= ~np.isnan(st)
        parts[yes] = np.where(parts[yes] == "", op, parts[yes] + ";" + op)
    out = pd.array(parts, dtype="str")
    out[~any_known] = pd.NA
    return out


def add_coverage(
    schools: pd.DataFrame,
    *,
    rasters: Sequence[RasterLayer] = (),
    polygons: gpd.GeoDataFrame | None = None,
    towers: pd.DataFrame | None = None,
    params: EnrichParams | None = None,
) -> pd.DataFrame:
    """Add coverage per technology, the best technology, its source and the covering operators.

    Parameters
    ----------
    schools
        School table (EPSG:4326 points).
    rasters
        Coverage rasters from :func:`connectmap.io.rasters.open_raster` (kind ``coverage``).
    polygons
        Coverage polygons from :func:`connectmap.io.read_coverage_polygons` (several files concatenated).
    towers
        Tower table from :func:`connectmap.io.read_towers`, used to model coverage where no map knows.
    params
        Thresholds, modelled ranges, ``coverage_search_radius_m``, ``covering_operators_min_technology``,
        ``keep_register_coverage``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``schools`` with the coverage columns (see the module docstring).
    """
    params = params_or_default(params)
    schools = schools.copy()
    lon, lat = school_lonlat(schools)
    n = len(schools)
    state = _State(n)
    _from_rasters(state, list(rasters), lon, lat, params)
    _from_polygons(state, polygons, lon, lat, params)
    measured = {t: s.copy() for t, s in state.at.items()}
    measured_src = {t: s.copy() for t, s in state.source.items()}
    _from_towers(state, towers, lon, lat, params)

    label, source = _best(measured, measured_src, n)
    open_ = label == COVERAGE_UNKNOWN
    if params.keep_register_coverage:
        register = _register_type(schools)
        use = open_ & (register != None)  # noqa: E711 - elementwise on an object array
        label[use] = register[use]
        source[use] = "register"
        open_ &= ~use
    full_label, full_source = _best(state.at, state.source, n)
    label[open_] = full_label[open_]
    source[open_] = full_source[open_]

    radius = params.coverage_search_radius_m
    for tech in TECHNOLOGIES:
        schools[f"covered_{tech}"] = nullable_bool(state.at.get(tech, np.full(n, np.nan)))
        if radius > 0:
            schools[covered_within_column(tech, radius)] = nullable_bool(state.near.get(tech, np.full(n, np.nan)))
        if tech in state.signal:
            schools[f"signal_{tech}_dbm"] = state.signal[tech]
    schools[COVERAGE_TYPE] = pd.array(label, dtype="str")
    availability = np.where(np.isin(label, list(_GENERATION_LABELS)), 1.0,
                            np.where(label == COVERAGE_NONE, 0.0, np.nan))
    if COVERAGE_AVAILABILITY in schools.columns:
        # Keep a register's True/False where nothing here knows.
        reg = pd.array(schools[COVERAGE_AVAILABILITY], dtype="boolean")
        reg_f = np.where(reg.isna(), np.nan, reg.fillna(False).to_numpy(dtype=float))
        availability = np.where(np.isnan(availability), reg_f, availability)
    schools[COVERAGE_AVAILABILITY] = nullable_bool(availability)
    schools[COVERAGE_SOURCE] = pd.array(source, dtype="str")
    schools[COVERING_OPERATORS] = _covering_operators(state, params.covering_operators_min_technology, n)
    counts = pd.Series(label).value_counts().to_dict()
    log.info("coverage: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return schools


# --- modelled coverage as a grid (for the map) --------------------------------------------------------------------
_MAX_GRID_PIXELS = 25_000_000


def modelled_coverage_grid(
    towers: pd.DataFrame, technology: str, params: EnrichParams | None = None
) -> tuple[NDArray[np.uint8], tuple[float, float, float, float]] | None:
    """Coverage modelled from the towers of one technology on a regular lon/lat grid.

    Returns
    -------
    (array, (west, north, pixel_width_deg, pixel_height_deg)) or None
        ``uint8`` array, 1 where a pixel centre is within range of a site, 0 elsewhere; ``None`` when the table
        has no site of that technology. The grid spans the sites plus their largest range; its pixel size is
        ``modelled_raster_resolution_m`` (coarsened so the grid stays under 25 million pixels).
    """
    params = params_or_default(params)
    sites = towers[towers["technology"].astype("str") == technology]
    if sites.empty:
        return None
    slon, slat = layer_lonlat(sites)
    rng = site_ranges_km(sites, technology, params)
    ok = np.isfinite(slon) & np.isfinite(slat)
    if not ok.any():
        return None
    margin_lat = float(rng.max()) / 110.5
    south, north = max(float(slat[ok].min()) - margin_lat, -90.0), min(float(slat[ok].max()) + margin_lat, 90.0)
    widest = max(abs(south), abs(north))
    margin_lon = min(margin_lat / max(np.cos(np.radians(min(widest, 89.0))), 1e-6), 180.0)
    west, east = max(float(slon[ok].min()) - margin_lon, -180.0), min(float(slon[ok].max()) + margin_lon, 180.0)
    step = params.modelled_raster_resolution_m / 110_574.0
    while ((east - west) / step) * ((north - south) / step) > _MAX_GRID_PIXELS:
        step *= 1.5
    width = max(int(np.ceil((east - west) / step)), 1)
    height = max(int(np.ceil((north - south) / step)), 1)
    lons = west + (np.arange(width) + 0.5) * step
    out = np.zeros((height, width), dtype=np.uint8)
    for row in range(0, height, max(1, 2_000_000 // width)):
        rows = np.arange(row, min(row + max(1, 2_000_000 // width), height))
        lats = north - (rows + 0.5) * step
        glon, glat = np.meshgrid(lons, lats)
        covered = within_site_range(glon.ravel(), glat.ravel(), slon, slat, rng)
        out[rows[0]:rows[-1] + 1] = (covered == 1).reshape(rows.size, width)
    return out, (west, north, step, step)
