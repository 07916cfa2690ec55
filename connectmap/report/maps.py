"""Interactive HTML maps that work offline, stay fast at 100k schools, and never run text from the data.

One self-contained HTML file (to email): Leaflet's JavaScript and CSS from the ``xstatic-leaflet`` package, the
map's own script and style from ``connectmap/report/templates/``, and all the data, are embedded in the page. The
page makes no network request unless the reader switches on the basemap tiles (``params.basemap`` decides which base
layer is on when the map opens; the default, ``"none"``, draws country and region outlines instead, so the map works
offline with no broken tiles).

Why not folium: folium's default assets are ten CDN links (a blank page offline), it renders text through Jinja a
second time (a school name containing ``{{ ... }}`` runs Python on the machine that builds the map) and it creates
one JavaScript marker object per point, which stops being usable past ~10k schools. Here:

* **Safe text**: every string that reaches the page (names, field names, labels, layer names, legend text) goes
  through :func:`connectmap.report.safe_html.page_json` into one ``<script type="application/json">`` element; the
  page script reads it with ``JSON.parse`` and writes text only with ``textContent``. No template engine is involved:
  the page shell is filled by a single pass of fixed placeholders, so data can never be re-rendered. A
  Content-Security-Policy with the SHA-256 of each embedded script blocks any inline handler or foreign script even
  if markup were ever injected.
* **Scale**: schools, towers and fibre nodes are drawn by a small canvas layer (``templates/map.js``, hand-written
  because no maintained package draws 100k coloured points in one canvas with click hit-testing): columnar JSON,
  typed arrays, one draw per category. ``benchmarks/bench_map.py`` measures it against Leaflet's own canvas
  ``circleMarker`` layer.
* **Layers**: schools coloured by connectivity (reported / predicted / unknown), least-cost technology or cost band
  (switchable in the legend); towers by technology (one layer each) and operator (colour); fibre nodes and lines;
  coverage polygons and rasters as semi-transparent overlays; a region choropleth (% connected, students
  unconnected, cost per student); popups with each school's facts and costs; legend; layer control; search by name
  or ID; scale bar.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap.columns import GENERATION, TECHNOLOGIES
from connectmap.errors import ConfigError, SchemaError
from connectmap.parameters.maps import MapParams
from connectmap.report import map_data as md
from connectmap.report.files import write_text
from connectmap.report.map_raster import RasterOverlay, raster_layer_overlay
from connectmap.report.safe_html import page_json

log = logging.getLogger(__name__)

__all__ = ["build_map", "build_map_data", "coverage_overlays", "map_layers", "render_map_html", "write_map"]

_TEMPLATES = Path(__file__).with_name("templates")
_PLACEHOLDER = re.compile(r"/\*@(LEAFLET_CSS|MAP_CSS|DATA|LEAFLET_JS|MAP_JS|CSP)@\*/")
_TITLE_COLUMNS = ("school_name", "school_id_govt", "school_id_giga", "source_row")
_SEARCH_COLUMNS = ("school_name", "school_id_govt", "school_id_giga")
_TOWER_POPUP = ("site_id", "operator", "technology", "range_m", "cell_count", "height_m", "mcc", "mnc")
_FIBRE_POPUP = ("node_id", "line_id", "name", "operator", "status", "medium", "length_km", "source")


# --- layers ---------------------------------------------------------------------------------------------------------
def _round_coords(values: np.ndarray, decimals: int) -> list[float]:
    return np.round(values, decimals).tolist()


def _point_layer(
    frame: gpd.GeoDataFrame,
    *,
    layer_id: str,
    name: str,
    symbol: str,
    size_px: float,
    colourings: Callable[[gpd.GeoDataFrame], list[md.Colouring]],
    popup_columns: Sequence[str],
    title_columns: Sequence[str],
    params: MapParams,
    search_columns: Sequence[str] = (),
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A canvas point layer: coordinates, popup columns and colourings of the rows that have a point."""
    lon, lat, ok = md.point_coordinates(frame)
    if not ok.all():
        log.warning("map: %d of %d rows of %s have no usable point and are not drawn", int((~ok).sum()), len(ok),
                    name)
    kept = frame.loc[ok]
    wanted = list(dict.fromkeys([*title_columns, *popup_columns, *search_columns]))
    columns, fields = md.encode_fields(kept, wanted, labels)
    return {
        "id": layer_id, "name": name, "symbol": symbol, "size": size_px, "visible": True,
        "lat": _round_coords(lat[ok], params.coordinate_decimals),
        "lon": _round_coords(lon[ok], params.coordinate_decimals),
        "title": [c for c in title_columns if c in columns],
        "search": [c for c in search_columns if c in columns],
        "columns": columns,
        "fields": [f for f in fields if f["key"] in popup_columns],
        "colourings": [c.as_json() for c in colourings(kept)],
    }


def _geojson(geoms: gpd.GeoSeries, decimals: int) -> list[dict[str, Any]]:
    """GeoJSON geometries with coordinates rounded for the page (one dict per geometry, None for empty)."""
    import json

    values = geoms.to_numpy()
    rounded = shapely.transform(values, lambda xy: np.round(xy, decimals))
    return [json.loads(shapely.to_geojson(g)) if g is not None and not g.is_empty else None for g in rounded]


def _lines_layer(lines: gpd.GeoDataFrame, params: MapParams, *, layer_id: str, name: str) -> dict[str, Any] | None:
    lines = md.to_wgs84(lines, "fibre lines")
    geoms = md.simplify_for_display(lines.geometry, params.outline_simplify_m)
    lines = lines.loc[geoms.index]
    parts, feature = shapely.get_parts(geoms.to_numpy(), return_index=True)
    is_line = shapely.get_type_id(parts) == 1
    parts, feature = parts[is_line], feature[is_line]
    if len(parts) == 0:
        return None
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    coords = np.round(coords, params.coordinate_decimals)
    splits = np.flatnonzero(np.diff(part_of)) + 1
    # Each path as a flat [lat, lon, lat, lon, ...] list: half the brackets of nested pairs.
    paths = [chunk[:, ::-1].ravel().tolist() for chunk in np.split(coords, splits)]
    columns, fields = md.encode_fields(lines, [*_FIBRE_POPUP])
    colouring = md.medium_colouring(lines)
    dashed = md.not_operational(lines)
    return {"id": layer_id, "name": name, "colour": md.FIBRE_COLOUR, "weight": 3, "visible": True,
            "paths": paths, "feature": feature.tolist(), "title": [c for c in ("name", "line_id") if c in columns],
            "columns": columns, "fields": fields, "colouring": colouring.as_json(),
            "dashed": dashed.astype(int).tolist(), "dashedCount": int(dashed.sum())}


def _tower_layers(towers: gpd.GeoDataFrame, params: MapParams) -> list[dict[str, Any]]:
    towers = md.to_wgs84(towers, "towers")
    if "technology" not in towers:
        raise SchemaError("<towers table>: no 'technology' column; read towers with connectmap.io.read_towers")
    technology = towers["technology"].astype("str").str.upper()
    layers = []
    shown = len(towers) <= params.towers_shown_max
    if not shown:
        log.info("map: %d tower sites (> maps.towers_shown_max = %d): tower layers start switched off", len(towers),
                 params.towers_shown_max)
    for tech in [*TECHNOLOGIES, None]:
        subset = towers[technology == tech] if tech else towers[~technology.isin(TECHNOLOGIES)]
        if subset.empty:
            continue
        name = f"Towers {GENERATION[tech]} ({tech})" if tech else "Towers (technology unknown)"
        layers.append(_point_layer(
            subset, layer_id=f"towers_{tech or 'unknown'}", name=name, symbol="triangle",
            size_px=params.tower_size_px, colourings=lambda kept: [md.operator_colouring(kept)],
            popup_columns=_TOWER_POPUP, title_columns=("site_id",), params=params,
            labels={"technology": "Technology"},
        ) | {"visible": shown})
    return layers


def _coverage_areas(polygons: gpd.GeoDataFrame, params: MapParams) -> list[dict[str, Any]]:
    polygons = md.to_wgs84(polygons, "coverage")
    technology = (polygons["technology"].astype("str").str.upper() if "technology" in polygons
                  else pd.Series("", index=polygons.index))
    operator = (polygons["operator"].astype("str").where(polygons["operator"].notna(), "") if "operator" in polygons
                else pd.Series("", index=polygons.index))
    areas = []
    for (tech, op), group in polygons.groupby([technology, operator], sort=True):
        geoms = md.simplify_for_display(group.geometry, params.outline_simplify_m)
        label = f"{GENERATION.get(tech, tech)} ({tech})" if tech in GENERATION else (tech or "any technology")
        areas.append({
            "name": f"Coverage {label}" + (f" — {op}" if op else ""),
            "colour": md.TECHNOLOGY_LAYER_COLOURS.get(tech, "#2c7bb6"), "opacity": params.coverage_opacity,
            "geometries": [g for g in _geojson(geoms, params.coordinate_decimals) if g is not None],
        })
    return areas


def _regions(schools: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, params: MapParams) -> dict[str, Any] | None:
    if not md.has_regions(boundaries):
        return None
    summary = md.region_summary(schools, boundaries, params)
    geoms = md.simplify_for_display(summary.geometry, params.outline_simplify_m)
    summary = summary.loc[geoms.index]
    summary["region"] = md.region_names(summary)
    colourings = md.region_colourings(summary, params)
    metric_columns = [md.REGION_METRICS[c.key][0] for c in colourings]
    columns, fields = md.encode_fields(summary, ["region", md.REGION_SCHOOLS, *metric_columns])
    return {"name": "Regions (choropleth)", "visible": True, "opacity": params.region_opacity,
            "geometries": _geojson(geoms, params.coordinate_decimals), "title": ["region"],
            "columns": columns, "fields": [f for f in fields if f["key"] != "region"],
            "colourings": [c.as_json() for c in colourings]}


def _outline(boundaries: gpd.GeoDataFrame, params: MapParams) -> list[dict[str, Any]]:
    boundaries = md.to_wgs84(boundaries, "boundaries")
    geoms = md.simplify_for_display(boundaries.geometry, params.outline_simplify_m)
    return [g for g in _geojson(geoms, params.coordinate_decimals) if g is not None]


def _bounds(frames: Sequence[gpd.GeoDataFrame | None]) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of the first non-empty frame (the outline, else schools, else the rest)."""
    for frame in frames:
        if frame is None or not len(frame):
            continue
        minx, miny, maxx, maxy = md.to_wgs84(frame, "layer").total_bounds
        if np.isfinite([minx, miny, maxx, maxy]).all():
            return [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    return [[-60.0, -180.0], [75.0, 180.0]]


def coverage_overlays(
    layers: Sequence[Any], params: MapParams | None = None, dbm_thresholds: Mapping[str, float] | None = None
) -> list[RasterOverlay]:
    """Coverage rasters (``RasterLayer`` from :func:`connectmap.io.open_raster`) as map overlays.

    Parameters
    ----------
    layers
        Coverage raster layers, each with its technology (and operator when it is one operator's map).
    params
        Map parameters (``raster_max_px``).
    dbm_thresholds
        Signal strength at or above which a pixel of a dBm raster is covered, by technology (``{"LTE": -110}``);
        defaults to the enrichment parameters' thresholds, so the map shows what enrichment counts as covered.
    """
    params = params or MapParams()
    overlays = []
    for layer in layers:
        tech = layer.technology
        if layer.value == "binary":
            threshold = 0.5
        else:
            thresholds = dict(dbm_thresholds) if dbm_thresholds is not None else _default_dbm_thresholds()
            if tech not in thresholds:
                raise ConfigError(f"{layer.path}: no dBm threshold for {tech}; set enrich.thresholds.{tech}_dbm")
            threshold = float(thresholds[tech])
        label = f"Coverage {GENERATION.get(tech, tech)} ({tech})" + (f" — {layer.operator}" if layer.operator else "")
        overlays.append(raster_layer_overlay(layer, name=label, colour=md.TECHNOLOGY_LAYER_COLOURS.get(tech, "#2c7bb6"),
                                             threshold=threshold, max_px=params.raster_max_px))
    return overlays


def _default_dbm_thresholds() -> dict[str, float]:
    from connectmap.parameters.enrich import CoverageThresholds

    thresholds = CoverageThresholds()
    return {tech: float(getattr(thresholds, f"{tech}_dbm")) for tech in TECHNOLOGIES}


def map_layers(
    schools: pd.DataFrame,
    *,
    towers: gpd.GeoDataFrame | None = None,
    fibre: Any = None,
    boundaries: gpd.GeoDataFrame | None = None,
    coverage_polygons: gpd.GeoDataFrame | None = None,
    params: MapParams | None = None,
) -> dict[str, Any]:
    """The layers of the map as plain data (before serialisation).

    See :func:`build_map_data` for the parameters; this is that without the title, tiles and rasters.
    """
    params = params or MapParams()
    schools = md.as_points(schools)
    nodes, lines = md.split_fibre(fibre)
    points: list[dict[str, Any]] = []
    line_layers: list[dict[str, Any]] = []
    if lines is not None and len(lines):
        layer = _lines_layer(lines, params, layer_id="fibre_lines", name="Fibre lines")
        if layer:
            line_layers.append(layer)
    if nodes is not None and len(nodes):
        nodes = md.to_wgs84(nodes, "fibre nodes")
        points.append(_point_layer(
            nodes, layer_id="fibre_nodes", name="Fibre nodes", symbol="square", size_px=params.tower_size_px - 2,
            colourings=lambda kept: [md.medium_colouring(kept)],
            popup_columns=_FIBRE_POPUP, title_columns=("name", "node_id"), params=params,
        ))
    if towers is not None and len(towers):
        points.extend(_tower_layers(towers, params))
    points.append(_point_layer(
        schools, layer_id="schools", name="Schools", symbol="circle", size_px=params.school_radius_px,
        colourings=lambda kept: md.school_colourings(kept, params), popup_columns=params.popup_columns,
        title_columns=_TITLE_COLUMNS, params=params, search_columns=_SEARCH_COLUMNS,
    ))
    return {
        "outline": _outline(boundaries, params) if boundaries is not None and len(boundaries) else [],
        "regions": _regions(schools, md.to_wgs84(boundaries, "boundaries"), params)
        if boundaries is not None and len(boundaries) else None,
        "areas": _coverage_areas(coverage_polygons, params)
        if coverage_polygons is not None and len(coverage_polygons) else [],
        "lines": line_layers,
        "points": points,
        "bounds": _bounds([boundaries, schools[md.point_coordinates(schools)[2]], towers, nodes]),
    }


def build_map_data(
    schools: pd.DataFrame,
    *,
    towers: gpd.GeoDataFrame | None = None,
    fibre: Any = None,
    boundaries: gpd.GeoDataFrame | None = None,
    coverage_polygons: gpd.GeoDataFrame | None = None,
    rasters: Sequence[RasterOverlay] = (),
    params: MapParams | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data.

    Parameters
    ----------
    schools
        The school table (GeoDataFrame of points, or a table with ``longitude``/``latitude`` in WGS84 degrees).
        Every contract column is optional; popups show the ``params.popup_columns`` that are present.
    towers
        Towers in long format (:func:`connectmap.io.read_towers`): one layer per technology, coloured by operator.
    fibre
        A :class:`connectmap.io.FibreNetwork` or a GeoDataFrame of nodes and/or lines.
    boundaries
        Country outline or admin regions (:func:`connectmap.io.read_boundaries`); regions with ``admin1`` or
        ``admin2`` also make the choropleth.
    coverage_polygons
        Coverage polygons with ``technology`` and ``operator`` (:func:`connectmap.io.read_coverage_polygons`).
    rasters
        Coverage rasters ready as overlays (:func:`connectmap.report.map_raster.coverage_overlay`).
    params
        Map parameters; defaults when ``None``.
    title
        Title; ``params.title`` wins when set.
    """
    params = params or MapParams()
    layers = map_layers(schools, towers=towers, fibre=fibre, boundaries=boundaries,
                        coverage_polygons=coverage_polygons, params=params)
    raster_layers = [r.as_json(params.coverage_opacity) for r in rasters]
    # Many coverage layers on at once hide each other: above the limit they start switched off.
    coverage_shown = len(layers["areas"]) + len(raster_layers) <= params.coverage_layers_shown_max
    for layer in [*layers["areas"], *raster_layers]:
        layer["visible"] = coverage_shown
    schools_layer = layers["points"][-1]
    n_schools = len(schools_layer["lat"])
    return {
        "version": 1,
        "title": params.title or title or "Schools",
        "subtitle": f"{n_schools:,} schools · built {dt.date.today().isoformat()} with connectmap",
        "tiles": {"url": params.tile_url, "attribution": params.tile_attribution, "maxZoom": params.tile_max_zoom,
                  "on": params.basemap == "tiles"},
        "rasters": raster_layers,
        **layers,
    }


# --- the page -----------------------------------------------------------------------------------------------------
def _template(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS from the xstatic-leaflet package; the CSS's images become data URIs."""
    from xstatic.pkg import leaflet

    base = Path(leaflet.BASE_DIR)
    script = (base / "leaflet.js").read_text(encoding="utf-8")
    # The source map comment would make developer tools request leaflet.js.map.
    script = re.sub(r"//# sourceMappingURL=\S+\s*$", "", script)

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / "images" / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, (base / "leaflet.css").read_text(encoding="utf-8"))
    return script, css


def _check_embeddable(text: str, element: str) -> str:
    # Our own and vendored assets only (data never comes here): they must not be able to close their element.
    lowered = text.lower()
    if f"</{element}" in lowered or "<!--" in lowered:
        raise RuntimeError(f"asset cannot be embedded in <{element}>: it contains '</{element}' or '<!--'")
    return text


def _tile_origin(url: str) -> str:
    """Scheme and host of the tile URL for the page's Content-Security-Policy (validated: no quoting needed)."""
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.-]+", host):
        raise ConfigError(f"maps.tile_url {url!r}: expected an http(s) URL template like "
                          "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def render_map_html(data: dict[str, Any], params: MapParams | None = None) -> str:
    """The self-contained HTML page for map data from :func:`build_map_data`.

    The page shell (``templates/map.html``) is filled in one pass of fixed placeholders, so nothing inserted is
    ever scanned again; the data goes in only as :func:`page_json` text.
    """
    params = params or MapParams()
    leaflet_js, leaflet_css = _leaflet_assets()
    map_js = _template("map.js")
    scripts = [_check_embeddable(leaflet_js, "script"), _check_embeddable(map_js, "script")]
    csp = "; ".join([
        "default-src 'none'",
        f"script-src {' '.join(_csp_hash(s) for s in scripts)}",
        "style-src 'unsafe-inline'",
        f"img-src data: {_tile_origin(params.tile_url)}",
        "base-uri 'none'",
        "form-action 'none'",
    ])
    values = {
        "LEAFLET_CSS": _check_embeddable(leaflet_css, "style"),
        "MAP_CSS": _check_embeddable(_template("map.css"), "style"),
        "DATA": page_json(data),
        "LEAFLET_JS": scripts[0],
        "MAP_JS": scripts[1],
        "CSP": csp,
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _template("map.html"))


def build_map(schools: pd.DataFrame, **layers: Any) -> str:
    """Build the HTML page for ``schools`` and the layers (same keywords as :func:`build_map_data`)."""
    params = layers.get("params") or MapParams()
    return render_map_html(build_map_data(schools, **layers), params)


def write_map(path: str | Path, schools: pd.DataFrame, **layers: Any) -> Path:
    """Write the HTML map to ``path`` atomically (same keywords as :func:`build_map_data`); returns the path."""
    html = build_map(schools, **layers)
    out = write_text(path, html)
    log.info("map: wrote %s (%.1f MB)", out, len(html.encode("utf-8")) / 1e6)
    return out
