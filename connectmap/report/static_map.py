"""A static PNG of the same map for reports and slides (matplotlib, no network, no basemap tiles).

It draws what the HTML map draws when it opens, from the same data (:mod:`connectmap.report.map_data`): region
choropleth or country outline, coverage polygons and rasters, fibre lines and nodes, towers coloured by operator and
schools coloured by ``params.colour_schools_by``, with a legend, a scale bar and the title. Coordinates are Web
Mercator, like the HTML map and the raster overlays, so the two pictures match.

Text from the data (operator names, the title) is drawn with mathtext off, so a ``$`` in a name stays a ``$``; the
scale bar is hand-drawn (a few lines) rather than adding a dependency for it; its length is ground distance at the
map's centre latitude (Web Mercator stretches distances by ``1/cos(latitude)``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import Transformer

from connectmap.columns import GENERATION
from connectmap.parameters.maps import MapParams
from connectmap.report import map_data as md
from connectmap.report.files import atomic_path
from connectmap.report.map_raster import RasterOverlay
from connectmap.report.text import clean_text

log = logging.getLogger(__name__)

__all__ = ["render_static_map", "write_static_map"]

_TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
_MAX_LAT = 85.0


def _xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _TO_MERCATOR.transform(lon, np.clip(lat, -_MAX_LAT, _MAX_LAT))
    return np.asarray(x), np.asarray(y)


def _text(value: Any) -> str:
    return clean_text(value)[0]


def _mercator(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    frame = md.to_wgs84(frame, what)
    frame = frame.set_geometry(frame.geometry.clip_by_rect(-180, -_MAX_LAT, 180, _MAX_LAT))
    return frame[~(frame.geometry.isna() | frame.geometry.is_empty)].to_crs(3857)


def _nice_length_km(target_km: float) -> float:
    """The largest 1, 2 or 5 x 10^k km not longer than ``target_km``."""
    exponent = math.floor(math.log10(target_km))
    for step in (5, 2, 1):
        if step * 10**exponent <= target_km:
            return step * 10.0**exponent
    return 10.0**exponent


def _scale_bar(ax: Any, extent: tuple[float, float, float, float]) -> None:
    x0, x1, y0, y1 = extent
    centre_lat = math.degrees(2 * math.atan(math.exp((y0 + y1) / 2 / 6378137.0)) - math.pi / 2)
    ground_per_mercator_m = math.cos(math.radians(centre_lat))
    width_km = (x1 - x0) * ground_per_mercator_m / 1000.0
    length_km = _nice_length_km(width_km / 5)
    length_mercator = length_km * 1000.0 / ground_per_mercator_m
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([left, left + length_mercator], [bottom, bottom], color="black", linewidth=3, solid_capstyle="butt",
            zorder=20)
    label = f"{length_km:g} km"
    ax.text(left + length_mercator / 2, bottom + 0.012 * (y1 - y0), label, ha="center", va="bottom", fontsize=8,
            zorder=20, parse_math=False)


def _marker_area(n_points: int) -> float:
    """Scatter marker area (pt^2): large for a few schools, small for 100k so colours stay readable."""
    return float(np.clip(6000.0 / max(n_points, 1), 0.8, 30.0))


def render_static_map(
    schools: pd.DataFrame,
    *,
    towers: gpd.GeoDataFrame | None = None,
    fibre: Any = None,
    boundaries: gpd.GeoDataFrame | None = None,
    coverage_polygons: gpd.GeoDataFrame | None = None,
    rasters: Sequence[RasterOverlay] = (),
    params: MapParams | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the map as a matplotlib figure (same parameters as :func:`connectmap.report.maps.build_map_data`).

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot (no global state); save it with ``fig.savefig``.
    """
    params = params or MapParams()
    schools = md.as_points(schools)
    fig = Figure(figsize=(params.png_width_in, params.png_height_in), dpi=params.png_dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.03, 0.70, 0.88))  # placed for real once the map's extent is known
    ax.set_facecolor("#dce8f0")
    ax.set_xticks([])
    ax.set_yticks([])
    handles: list[Any] = []

    # Regions (choropleth) or outline.
    if boundaries is not None and len(boundaries):
        outline = _mercator(boundaries, "boundaries")
        if md.has_regions(boundaries):
            summary = md.region_summary(schools, md.to_wgs84(boundaries, "boundaries"), params)
            colouring = md.region_colourings(summary, params)[0]
            summary = summary.to_crs(3857)
            colours = np.array(colouring.colours, dtype=object)[colouring.codes]
            outline.plot(ax=ax, color="#f4f1ea", linewidth=0, zorder=0.5)
            summary.plot(ax=ax, color=list(colours), edgecolor="#555555", linewidth=0.6, zorder=1,
                         alpha=params.region_opacity)
            handles.append(Patch(facecolor="none", edgecolor="none", label=f"Regions: {colouring.label}"))
            handles.extend(Patch(facecolor=col, edgecolor="#555555", label=_text(lab))
                           for lab, col, n in zip(colouring.categories, colouring.colours, colouring.counts,
                                                  strict=True) if n)
        else:
            outline.plot(ax=ax, color="#f4f1ea", edgecolor="#555555", linewidth=0.8, zorder=1)

    # Coverage: drawn only when the HTML map switches it on at opening (few enough layers not to hide each other).
    polygons = (_mercator(coverage_polygons, "coverage") if coverage_polygons is not None and len(coverage_polygons)
                else None)
    n_coverage_layers = len(rasters) + (
        len(polygons.groupby([c for c in ("technology", "operator") if c in polygons], dropna=False))
        if polygons is not None and {"technology", "operator"} & set(polygons.columns) else int(polygons is not None))
    if n_coverage_layers > params.coverage_layers_shown_max:
        polygons, rasters = None, ()
    if polygons is not None:
        technology = (polygons["technology"].astype("str").str.upper() if "technology" in polygons
                      else pd.Series("", index=polygons.index))
        for tech, group in polygons.groupby(technology):
            colour = md.TECHNOLOGY_LAYER_COLOURS.get(tech, "#2c7bb6")
            group.plot(ax=ax, color=colour, alpha=params.coverage_opacity, linewidth=0, zorder=2)
            handles.append(Patch(facecolor=colour, alpha=max(params.coverage_opacity, 0.35),
                                 label=_text(f"Coverage {GENERATION.get(tech, tech)}")))
    for raster in rasters:
        south, west, north, east = raster.bounds
        (x0, x1), (y0, y1) = _xy(np.array([west, east]), np.array([south, north]))
        rgba = raster.rgba.copy()
        rgba[..., 3] = np.round(rgba[..., 3] * params.coverage_opacity).astype(np.uint8)
        ax.imshow(rgba, extent=(x0, x1, y0, y1), origin="upper", zorder=2, interpolation="nearest")
        handles.append(Patch(facecolor=raster.colour, alpha=max(params.coverage_opacity, 0.35),
                             label=_text(raster.name)))

    # Fibre.
    nodes, lines = md.split_fibre(fibre)
    if lines is not None and len(lines):
        projected = _mercator(lines, "fibre lines")
        dashed = md.not_operational(projected)
        for part, style, label in ((~dashed, "solid", "Fibre line"),
                                   (dashed, (0, (4, 3)), "Fibre line, not operational (planned, ...)")):
            if part.any():
                projected[part].plot(ax=ax, color=md.FIBRE_COLOUR, linewidth=1.6, linestyle=style, zorder=3)
                handles.append(Line2D([], [], color=md.FIBRE_COLOUR, linewidth=1.6, linestyle=style, label=label))
    if nodes is not None and len(nodes):
        lon, lat, ok = md.point_coordinates(md.to_wgs84(nodes, "fibre nodes"))
        x, y = _xy(lon[ok], lat[ok])
        ax.scatter(x, y, s=16, marker="s", color=md.FIBRE_COLOUR, edgecolors="black", linewidths=0.4, zorder=4)
        handles.append(Line2D([], [], marker="s", linestyle="", color=md.FIBRE_COLOUR, markeredgecolor="black",
                              label="Fibre node"))

    # Towers, coloured by operator.
    if towers is not None and len(towers):
        towers = md.to_wgs84(towers, "towers")
        lon, lat, ok = md.point_coordinates(towers)
        colouring = md.operator_colouring(towers[ok])
        x, y = _xy(lon[ok], lat[ok])
        colours = np.array(colouring.colours, dtype=object)[colouring.codes]
        ax.scatter(x, y, s=_marker_area(len(x)) * 2.5, marker="^", c=list(colours), edgecolors="black",
                   linewidths=0.3, zorder=5)
        handles.extend(Line2D([], [], marker="^", linestyle="", color=col, markeredgecolor="black",
                              label=_text(f"Tower: {name}"))
                       for name, col, n in zip(colouring.categories, colouring.colours, colouring.counts, strict=True)
                       if n)

    # Schools, coloured as chosen, "unknown" underneath.
    lon, lat, ok = md.point_coordinates(schools)
    kept = schools.loc[ok]
    x, y = _xy(lon[ok], lat[ok])
    colouring = md.school_colourings(kept, params)[0]
    size = _marker_area(len(x))
    handles.append(Patch(facecolor="none", edgecolor="none", label=f"Schools: {colouring.label}"))
    for category in colouring.draw_order():
        mask = colouring.codes == category
        if mask.any():
            ax.scatter(x[mask], y[mask], s=size, color=colouring.colours[category],
                       edgecolors="black" if size >= 8 else "none", linewidths=0.3, zorder=6)
    handles.extend(Line2D([], [], marker="o", linestyle="", color=col, markeredgecolor="black",
                          label=_text(f"{label} ({n:,})"))
                   for label, col, n in zip(colouring.categories, colouring.colours, colouring.counts, strict=True)
                   if n)

    # Extent: the outline if any, else everything drawn, with a margin. The picture's height follows the map's
    # shape (up to png_height_in) and the limits are widened to the axes' shape, so one metre east is as long as
    # one metre north.
    if boundaries is not None and len(boundaries):
        minx, miny, maxx, maxy = _mercator(boundaries, "boundaries").total_bounds
    elif len(x):
        minx, miny, maxx, maxy = x.min(), y.min(), x.max(), y.max()
    else:
        ax.autoscale()
        (minx, maxx), (miny, maxy) = ax.get_xlim(), ax.get_ylim()
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w, half_h = max((maxx - minx) * 0.52, 1000.0), max((maxy - miny) * 0.52, 1000.0)
    width_in = params.png_width_in
    legend_in, margin_in, top_in, bottom_in = min(3.2, 0.32 * width_in), 0.2, 0.85, 0.2
    box_w = width_in - legend_in - 2 * margin_in
    needed = max(box_w * half_h / half_w + top_in + bottom_in, 0.19 * len(handles) + top_in + 0.2, 3.0)
    height_in = min(params.png_height_in, needed)
    fig.set_size_inches(width_in, height_in)
    box_h = height_in - top_in - bottom_in
    ax.set_position((margin_in / width_in, bottom_in / height_in, box_w / width_in, box_h / height_in))
    box_ratio = box_h / box_w
    if half_h / half_w > box_ratio:
        half_w = half_h / box_ratio
    else:
        half_h = half_w * box_ratio
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, (cx - half_w, cx + half_w, cy - half_h, cy + half_h))

    legend = fig.legend(handles=handles, loc="upper left", fontsize=7.5, frameon=False, handlelength=1.2,
                        borderaxespad=0,
                        bbox_to_anchor=((width_in - legend_in + 0.1) / width_in, 1 - top_in / height_in))
    for text in legend.get_texts():
        text.set_parse_math(False)
    heading = _text(params.title or title or "Schools")
    fig.text(margin_in / width_in, 1 - 0.32 / height_in, heading, fontsize=14, fontweight="bold", va="center",
             parse_math=False)
    fig.text(margin_in / width_in, 1 - 0.6 / height_in, f"{len(x):,} schools · Web Mercator · connectmap",
             fontsize=8.5, color="#555555", va="center", parse_math=False)
    return fig


def write_static_map(path: str | Path, schools: pd.DataFrame, **layers: Any) -> Path:
    """Write the static map as a PNG to ``path`` atomically (keywords as :func:`render_static_map`)."""
    params = layers.get("params") or MapParams()
    fig = render_static_map(schools, **layers)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=params.png_dpi, facecolor="white")
    log.info("map: wrote %s", path)
    return Path(path)
