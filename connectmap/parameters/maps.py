"""Parameters of the interactive HTML map and the static PNG (:mod:`connectmap.report.maps`).

These are display choices, not model assumptions: they have no published source except where a third party sets
the rule (the OpenStreetMap tile usage policy for the basemap URL and its attribution).
"""

from __future__ import annotations

from typing import Literal

from connectmap.parameters._base import Section, param

#: Columns shown in a school's popup, in order, when present in the table (absent ones are skipped).
DEFAULT_POPUP_COLUMNS: list[str] = [
    "school_id_govt", "school_id_giga", "education_level", "admin1", "admin2", "num_students", "num_teachers",
    "electricity_availability", "connectivity", "connectivity_source", "connectivity_probability",
    "cellular_coverage_type", "covering_operators", "nearest_GSM_distance", "nearest_UMTS_distance",
    "nearest_LTE_distance", "nearest_NR_distance", "fiber_node_distance", "pop_within_1km", "pop_within_5km",
    "technology", "bandwidth_demand_mbps", "capex_usd", "opex_usd_per_year", "npv_usd", "tco_usd",
    "cost_per_student_usd", "infeasible_reasons", "zero_rating_usd_per_year", "quality_flags", "source_row",
]

SchoolColouring = Literal["connectivity", "technology", "cost_per_student_usd", "npv_usd"]
RegionMetric = Literal["pct_connected", "students_unconnected", "cost_per_student_usd"]


class MapParams(Section):
    """Interactive HTML map and static PNG."""

    title: str | None = param(
        None, unit="-", description="Title shown on the map and the PNG; by default built from inputs.country "
        "or the school file's name.",
    )
    colour_schools_by: SchoolColouring = param(
        "connectivity", unit="-",
        description="How schools are coloured when the map opens: connectivity (reported / predicted / unknown), "
        "least-cost technology, or band of cost per student or of NPV. The reader can switch on the map; when "
        "the table lacks the column the first available colouring is used.",
    )
    region_metric: RegionMetric = param(
        "pct_connected", unit="-",
        description="Region choropleth shown when the map opens: % of schools connected, students in unconnected "
        "schools, or cost per student (the reader can switch on the map).",
    )
    basemap: Literal["none", "tiles"] = param(
        "none", unit="-",
        description="Base layer shown when the map opens. 'none' draws country/region outlines only and makes no "
        "network request, so the map works offline with no broken tiles; 'tiles' loads tile_url (needs "
        "internet). The reader can switch between them on the map either way.",
    )
    tile_url: str = param(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png", unit="URL template",
        description="Basemap tile URL template with {z}/{x}/{y}; requested only while the tile base layer is on.",
        source="OpenStreetMap tile usage policy (operations.osmfoundation.org/policies/tiles)",
    )
    tile_attribution: str = param(
        "© OpenStreetMap contributors", unit="-",
        description="Attribution shown while the tile base layer is on (required by the tile provider).",
        source="OpenStreetMap tile usage policy",
    )
    tile_max_zoom: int = param(19, unit="zoom level", ge=1, le=22, description="Highest zoom level of the tiles.")
    school_radius_px: float = param(
        4.0, unit="px", ge=1.0, le=20.0, description="Radius of a school dot on the HTML map.")
    tower_size_px: float = param(
        9.0, unit="px", ge=2.0, le=30.0, description="Height of a tower triangle on the HTML map.")
    towers_shown_max: int = param(
        3000, unit="sites", ge=0,
        description="Tower layers are switched on when the map opens only if the map has at most this many tower "
        "sites (more would hide the schools at national zoom); the reader can switch them on either way.",
    )
    coverage_layers_shown_max: int = param(
        2, unit="layers", ge=0,
        description="Coverage overlays (rasters and polygon layers, one per technology and operator) are switched "
        "on when the map opens only if there are at most this many; more would hide each other. The PNG draws the "
        "same ones.",
    )
    region_opacity: float = param(
        0.5, unit="0-1", ge=0.0, le=1.0, description="Opacity of the region choropleth fill.")
    cost_band_count: int = param(
        5, unit="bands", ge=2, le=9,
        description="Number of cost bands (quantiles of the costed schools) when colouring by cost.",
    )
    predicted_connected_threshold: float = param(
        0.5, unit="probability", ge=0.0, le=1.0,
        description="A school with only connectivity_probability (no connectivity value) is shown as predicted "
        "connected at or above this probability.",
    )
    coverage_opacity: float = param(
        0.35, unit="0-1", ge=0.0, le=1.0, description="Opacity of coverage overlays (rasters and polygons).")
    raster_max_px: int = param(
        2048, unit="px", ge=64, le=8192,
        description="Longest side of a coverage raster overlay after reprojection to Web Mercator; larger rasters "
        "are shown at this size (a raster file is sampled at each output cell's centre, an in-memory array is "
        "averaged). Each overlay is embedded as a PNG, so this bounds the file size.",
    )
    coordinate_decimals: int = param(
        5, unit="decimal places", ge=3, le=7,
        description="Decimals kept for coordinates in the HTML (5 is about 1.1 m; fewer makes a smaller file).",
    )
    outline_simplify_m: float = param(
        200.0, unit="m", ge=0.0,
        description="Tolerance for simplifying outlines, fibre lines and coverage polygons in the HTML "
        "(Douglas-Peucker in Web Mercator, scaled to ground metres at the layer's mean latitude); 0 keeps every "
        "vertex.",
    )
    popup_columns: list[str] = param(
        DEFAULT_POPUP_COLUMNS, unit="columns",
        description="School columns shown in a popup, in order, when present (name is always the popup title).",
    )
    png_width_in: float = param(10.0, unit="in", gt=0, le=40, description="Width of the static PNG.")
    png_height_in: float = param(
        8.0, unit="in", gt=0, le=40,
        description="Largest height of the static PNG; a wide country gets a lower picture, without empty bands.",
    )
    png_dpi: int = param(150, unit="dots/in", ge=50, le=600, description="Resolution of the static PNG.")
