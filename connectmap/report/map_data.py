"""What the maps show, computed once for the HTML map and the static PNG: categories, colours, bands, regions.

Everything here is vectorised pandas/numpy/shapely and returns plain data (arrays, lists, dicts of lists); the HTML
builder (:mod:`connectmap.report.maps`) serialises it with :func:`connectmap.report.safe_html.page_json`, and the
static map (:mod:`connectmap.report.static_map`) draws it with matplotlib, so the two always agree.

Colour choices: connectivity uses a blue/red diverging scheme (ColorBrewer RdBu, readable with the common
colour-vision deficiencies), cost bands and choropleths ColorBrewer sequential schemes, operators Tableau 10.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from connectmap.columns import COLUMNS, GENERATION, TECHNOLOGIES, describe
from connectmap.errors import CRSError, SchemaError
from connectmap.io.fibre import status_in
from connectmap.parameters.maps import MapParams
from connectmap.report.text import clean_text

log = logging.getLogger(__name__)

# --- columns the maps read that other steps add (registered here too so the popups can name their units) -----------
CONNECTIVITY_PROBABILITY = "connectivity_probability"
CONNECTIVITY_SOURCE = "connectivity_source"
if CONNECTIVITY_PROBABILITY not in COLUMNS:
    describe(CONNECTIVITY_PROBABILITY, "Modelled probability that the school is connected", "probability")
if CONNECTIVITY_SOURCE not in COLUMNS:
    describe(CONNECTIVITY_SOURCE, "Where the connectivity value comes from: reported or predicted", "text")

#: Region summary columns (one row per region polygon of the choropleth).
REGION_SCHOOLS = describe("region_schools", "Schools inside the region", "count")
REGION_PCT_CONNECTED = describe(
    "pct_connected", "Share of the region's schools with known status (reported or predicted) that are connected", "%"
)
REGION_STUDENTS_UNCONNECTED = describe(
    "students_unconnected", "Students enrolled in the region's schools that are not connected (reported or "
    "predicted); schools with unknown enrolment add nothing", "students",
)
REGION_COST_PER_STUDENT = describe(
    "region_cost_per_student_usd", "Student-weighted mean of the schools' cost_per_student_usd (total cost of the "
    "costed schools divided by their students)", "USD/student",
)

# --- categories -------------------------------------------------------------------------------------------------
CONNECTED_REPORTED = "Connected (reported)"
CONNECTED_PREDICTED = "Connected (predicted)"
NOT_CONNECTED_PREDICTED = "Not connected (predicted)"
NOT_CONNECTED_REPORTED = "Not connected (reported)"
UNKNOWN = "Unknown"
CONNECTIVITY_CATEGORIES: tuple[str, ...] = (
    CONNECTED_REPORTED, CONNECTED_PREDICTED, NOT_CONNECTED_PREDICTED, NOT_CONNECTED_REPORTED, UNKNOWN,
)
CONNECTIVITY_COLOURS: tuple[str, ...] = ("#2166ac", "#92c5de", "#f4a582", "#b2182b", "#9e9e9e")
_PREDICTED_WORDS = {"predicted", "prediction", "model", "modelled", "modeled"}

TECHNOLOGY_CATEGORIES: tuple[str, ...] = ("fibre", "cellular", "microwave", "satellite", "none feasible")
TECHNOLOGY_COLOURS: tuple[str, ...] = ("#6a3d9a", "#1f78b4", "#33a02c", "#ff7f00", "#9e9e9e")

#: ColorBrewer YlOrRd, 3 to 9 classes (light = cheap/few, dark = expensive/many).
_YLORRD = {
    3: ["#ffeda0", "#feb24c", "#f03b20"],
    4: ["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"],
    5: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    6: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"],
    7: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    8: ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    9: ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"],
}
#: ColorBrewer RdBu, 5 classes, red (few connected) to blue (all connected).
_PCT_COLOURS = ["#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"]
NO_DATA_COLOUR = "#d9d9d9"
#: Tableau 10 for operators, reordered so the first ones differ from the blue/red of school connectivity.
OPERATOR_COLOURS: tuple[str, ...] = (
    "#59a14f", "#edc948", "#b07aa1", "#f28e2b", "#76b7b2", "#ff9da7", "#9c755f", "#4e79a7", "#e15759", "#bab0ac",
)
UNKNOWN_OPERATOR = "Operator unknown"
FIBRE_COLOUR = "#c51b7d"
MICROWAVE_COLOUR = "#1b9e77"
TECHNOLOGY_LAYER_COLOURS = {"GSM": "#fdae61", "UMTS": "#abd9e9", "LTE": "#2c7bb6", "NR": "#7b3294"}

#: Categories drawn underneath the others, so grey "unknown" dots never hide the ones that say something.
_DRAWN_FIRST = frozenset({UNKNOWN, "Not costed", "none feasible", UNKNOWN_OPERATOR, "No data"})

# --- how popup values are formatted ---------------------------------------------------------------------------------
_LABELS = {
    "school_name": "Name", "school_id_govt": "Government ID", "school_id_giga": "Giga ID",
    "education_level": "Level", "admin1": "Region", "admin2": "District", "num_students": "Students",
    "num_teachers": "Teachers", "num_classrooms": "Classrooms", "electricity_availability": "Electricity",
    "connectivity": "Connected", CONNECTIVITY_SOURCE: "Connectivity from", CONNECTIVITY_PROBABILITY: "P(connected)",
    "cellular_coverage_type": "Mobile coverage", "cellular_coverage_availability": "Within mobile coverage",
    "covering_operators": "Operators covering", "fiber_node_distance": "Nearest fibre node",
    "fiber_line_distance_km": "Nearest fibre line", "nearest_school_distance": "Nearest other school",
    "technology": "Least-cost technology", "bandwidth_demand_mbps": "Bandwidth demand", "capex_usd": "Capex",
    "opex_usd_per_year": "Opex", "npv_usd": "NPV of cost", "tco_usd": "Total cost of ownership",
    "cost_per_student_usd": "Cost per student", "infeasible_reasons": "Not feasible",
    "zero_rating_usd_per_year": "Zero-rating cost", "zero_rating_gb_per_year": "Zero-rated traffic",
    "zero_rating_operators": "Zero-rating operators", "quality_flags": "Data quality flags",
    "site_id": "Site", "operator": "Operator", "range_m": "Range", "cell_count": "Cells", "height_m": "Height",
    "node_id": "Node", "line_id": "Line", "name": "Name", "status": "Status", "medium": "Medium",
    "length_km": "Length", "source": "Source file",
    REGION_SCHOOLS: "Schools", REGION_PCT_CONNECTED: "Connected", REGION_STUDENTS_UNCONNECTED: "Students unconnected",
    REGION_COST_PER_STUDENT: "Cost per student",
}
for _tech in TECHNOLOGIES:
    _LABELS[f"nearest_{_tech}_distance"] = f"Nearest {GENERATION[_tech]} tower"
    _LABELS[f"covered_{_tech}"] = f"{GENERATION[_tech]} coverage"


def label_for(column: str) -> str:
    """Short human label of a column for popups and legends (the column name when none is known)."""
    if column in _LABELS:
        return _LABELS[column]
    for prefix, text in (("pop_within_", "People within "), ("schools_within_", "Schools within "),
                         ("towers_within_", "Towers within ")):
        if column.startswith(prefix):
            return text + column.removeprefix(prefix).replace("km", " km")
    return column


def value_format(column: str, series: pd.Series) -> tuple[str, str, int]:
    """How a column's values are shown: (format, unit, decimals kept in the HTML).

    Formats are ``text``, ``bool``, ``int``, ``number``, ``usd``, ``km`` and ``percent`` (a probability shown in %).
    """
    if _is_bool(series):
        return "bool", "", 0
    if not pd.api.types.is_numeric_dtype(series.dtype):
        return "text", "", 0
    unit = COLUMNS[column].unit if column in COLUMNS else ""
    if column == CONNECTIVITY_PROBABILITY or unit == "probability":
        return "percent", "%", 3
    if column == REGION_PCT_CONNECTED:
        return "number", "%", 1
    if "_usd" in column:
        per = column.split("_usd", 1)[1].lstrip("_").replace("_", " ")
        return "usd", f"USD {per}".strip() if per else "USD", 0
    if "distance" in column or column.endswith("_km"):
        return "km", "km", 2
    if column.endswith("_m"):
        return "number", "m", 0
    if column.endswith("_mbps"):
        return "number", "Mbps", 2
    if column.endswith("_gb_per_year"):
        return "number", "GB/year", 1
    if (column.startswith(("num_", "pop_within_", "schools_within_", "towers_within_"))
            or unit in ("count", "people", "students") or column in (REGION_SCHOOLS, REGION_STUDENTS_UNCONNECTED)):
        return "int", "", 0
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int", "", 0
    return "number", "" if unit in ("", "-") else unit, 3


def _is_bool(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series.dtype) or str(series.dtype) == "boolean"


# --- geometry helpers ---------------------------------------------------------------------------------------------
def to_wgs84(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Return ``frame`` in EPSG:4326; a frame without a CRS is an error naming ``what``."""
    if frame.crs is None:
        raise CRSError(f"<{what} table>: no coordinate reference system; set one, e.g. "
                       f"{what}.set_crs('EPSG:4326') for longitude/latitude degrees")
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def as_points(schools: pd.DataFrame, what: str = "schools") -> gpd.GeoDataFrame:
    """The table as a GeoDataFrame of points in EPSG:4326 (a plain table needs ``longitude`` and ``latitude``)."""
    if isinstance(schools, gpd.GeoDataFrame) and schools.geometry.name in schools.columns:
        return to_wgs84(schools, what)
    missing = [name for name in ("longitude", "latitude") if name not in schools.columns]
    if missing:
        raise SchemaError(f"<{what} table>: no geometry and no column {missing[0]!r}; pass a GeoDataFrame of points "
                          "or a table with longitude and latitude in WGS84 degrees")
    lon = pd.to_numeric(schools["longitude"], errors="coerce")
    lat = pd.to_numeric(schools["latitude"], errors="coerce")
    return gpd.GeoDataFrame(schools, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def point_coordinates(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitudes, latitudes (degrees) and a mask of rows with a usable point geometry."""
    geoms = frame.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    lon = np.where(is_point, shapely.get_x(geoms), np.nan)
    lat = np.where(is_point, shapely.get_y(geoms), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    return lon, lat, ok


def simplify_for_display(geoms: gpd.GeoSeries, tolerance_m: float) -> gpd.GeoSeries:
    """Douglas-Peucker simplification in Web Mercator (what the map draws), in ground metres at the mean latitude."""
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if tolerance_m <= 0 or geoms.empty:
        return geoms
    _, miny, _, maxy = geoms.total_bounds
    mean_lat = math.radians(max(min((miny + maxy) / 2, 85.0), -85.0))
    mercator = geoms.to_crs(3857)
    # Web Mercator stretches ground distance by 1/cos(latitude).
    simplified = mercator.simplify(tolerance_m / math.cos(mean_lat), preserve_topology=True)
    return simplified.to_crs(4326)


def split_fibre(fibre: Any) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """Nodes and lines of a :class:`connectmap.io.FibreNetwork` or of one GeoDataFrame with both geometry kinds."""
    if fibre is None:
        return None, None
    if hasattr(fibre, "nodes") and hasattr(fibre, "lines"):
        return fibre.nodes, fibre.lines
    if isinstance(fibre, gpd.GeoDataFrame):
        kind = shapely.get_type_id(fibre.geometry.to_numpy())
        nodes = fibre[np.isin(kind, [0, 4])]
        lines = fibre[np.isin(kind, [1, 5])]
        return (nodes if len(nodes) else None), (lines if len(lines) else None)
    raise SchemaError("fibre: expected a FibreNetwork (connectmap.io.read_fibre) or a GeoDataFrame")


# --- school categories --------------------------------------------------------------------------------------------
@dataclass
class Colouring:
    """A way of colouring a point layer: one legend entry per category and a category code per feature.

    Attributes
    ----------
    key, label
        Identifier and human title ("Connectivity").
    categories, colours
        Legend labels and their ``#rrggbb`` colours, in drawing order (later ones are drawn on top).
    codes
        Index into ``categories`` per feature (int8/int16 array).
    """

    key: str
    label: str
    categories: list[str]
    colours: list[str]
    codes: np.ndarray
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = np.bincount(self.codes.astype(np.int64), minlength=len(self.categories)).tolist()

    def draw_order(self) -> list[int]:
        """Category indices in drawing order: "unknown"-like categories first (underneath), then legend order."""
        behind = [i for i, name in enumerate(self.categories) if name in _DRAWN_FIRST]
        return behind + [i for i in range(len(self.categories)) if i not in behind]

    def as_json(self) -> dict[str, Any]:
        """The colouring as JSON-ready data."""
        return {
            "key": self.key, "label": self.label, "codes": self.codes.tolist(), "order": self.draw_order(),
            "legend": [{"label": c, "colour": col, "count": n}
                       for c, col, n in zip(self.categories, self.colours, self.counts, strict=True)],
        }


def _as_boolean(schools: pd.DataFrame, column: str) -> pd.Series:
    series = schools[column]
    try:
        return series.astype("boolean")
    except (TypeError, ValueError):
        raise SchemaError(f"<schools table>, column {column!r}: expected True/False/empty; validate the table with "
                          "connectmap.validate.validate_schools first") from None


def connectivity_codes(schools: pd.DataFrame, params: MapParams) -> np.ndarray:
    """Index into :data:`CONNECTIVITY_CATEGORIES` per school.

    A value in ``connectivity`` is *reported* unless ``connectivity_source`` says it is predicted; a school with no
    value but a ``connectivity_probability`` is predicted connected at or above
    ``params.predicted_connected_threshold``; anything else is unknown.
    """
    n = len(schools)
    codes = np.full(n, CONNECTIVITY_CATEGORIES.index(UNKNOWN), dtype=np.int8)
    value = _as_boolean(schools, "connectivity") if "connectivity" in schools else pd.Series(pd.NA, index=schools.index,
                                                                                               dtype="boolean")
    known = value.notna().to_numpy()
    connected = value.fillna(False).to_numpy(dtype=bool)
    predicted = np.zeros(n, dtype=bool)
    if CONNECTIVITY_SOURCE in schools:
        source = schools[CONNECTIVITY_SOURCE].astype("str").str.strip().str.lower()
        predicted = source.isin(_PREDICTED_WORDS).to_numpy()
    if CONNECTIVITY_PROBABILITY in schools:
        probability = pd.to_numeric(schools[CONNECTIVITY_PROBABILITY], errors="coerce").to_numpy(dtype=float)
        from_probability = ~known & np.isfinite(probability)
        connected = np.where(from_probability, probability >= params.predicted_connected_threshold, connected)
        predicted = predicted | from_probability  # not in place: pandas may hand out read-only arrays
        known = known | from_probability
    codes[known & connected & ~predicted] = CONNECTIVITY_CATEGORIES.index(CONNECTED_REPORTED)
    codes[known & connected & predicted] = CONNECTIVITY_CATEGORIES.index(CONNECTED_PREDICTED)
    codes[known & ~connected & predicted] = CONNECTIVITY_CATEGORIES.index(NOT_CONNECTED_PREDICTED)
    codes[known & ~connected & ~predicted] = CONNECTIVITY_CATEGORIES.index(NOT_CONNECTED_REPORTED)
    return codes


def technology_codes(schools: pd.DataFrame) -> np.ndarray:
    """Index into :data:`TECHNOLOGY_CATEGORIES` per school (NA or unrecognised = none feasible)."""
    tech = schools["technology"].astype("str").str.strip().str.lower()
    tech = tech.replace({"fiber": "fibre"})
    lookup = {name: i for i, name in enumerate(TECHNOLOGY_CATEGORIES[:-1])}
    codes = tech.map(lookup).fillna(len(TECHNOLOGY_CATEGORIES) - 1)
    return codes.to_numpy(dtype=np.int8)


def _nice(value: float, rounding: str = "nearest") -> float:
    """Round to 2 significant figures (for band edges people read): to the nearest, or ``"down"``/``"up"``."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 1)
    scaled = value / step
    whole = math.floor(scaled) if rounding == "down" else math.ceil(scaled) if rounding == "up" else round(scaled)
    return float(f"{whole * step:.12g}")


def format_amount(value: float, unit: str) -> str:
    """``12,000 USD``-style text for legends (2 significant figures, thousands separators)."""
    if value == int(value):
        return f"{int(value):,} {unit}".strip()
    decimals = max(0, 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f} {unit}".strip()


def quantile_bands(values: np.ndarray, count: int) -> np.ndarray:
    """Band edges (ascending, unique, rounded to 2 significant figures) splitting finite ``values`` into quantiles."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([], dtype=float)
    edges = np.quantile(finite, np.linspace(0, 1, count + 1))
    # Rounding must not push the extremes inside the data: the first edge goes down, the last up.
    nice = np.array([_nice(float(e), "down" if i == 0 else "up" if i == len(edges) - 1 else "nearest")
                     for i, e in enumerate(edges)])
    return np.unique(nice)


def band_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of each value for ``edges`` (last band closed); ``len(edges) - 1`` (no data) for NaN."""
    n_bands = max(len(edges) - 1, 1)
    codes = np.full(values.shape, n_bands, dtype=np.int16)
    finite = np.isfinite(values)
    if len(edges) >= 2:
        codes[finite] = np.clip(np.searchsorted(edges, values[finite], side="right") - 1, 0, n_bands - 1)
    elif len(edges) == 1:
        codes[finite] = 0
    return codes


def band_labels(edges: np.ndarray, unit: str) -> list[str]:
    """Legend labels for the bands between ``edges``."""
    if len(edges) == 1:
        return [format_amount(float(edges[0]), unit)]
    return [f"{format_amount(float(a), '')} – {format_amount(float(b), unit)}" for a, b in itertools.pairwise(edges)]


def cost_colouring(schools: pd.DataFrame, column: str, params: MapParams) -> Colouring:
    """Colour schools by quantile band of ``column`` (USD); schools without a cost are "not costed"."""
    values = pd.to_numeric(schools[column], errors="coerce").to_numpy(dtype=float)
    edges = quantile_bands(values, params.cost_band_count)
    codes = band_codes(values, edges)
    n_bands = max(len(edges) - 1, 1)
    unit = "USD/student" if column == "cost_per_student_usd" else "USD"
    labels = band_labels(edges, unit) if len(edges) else []
    palette = _YLORRD[max(3, n_bands)][:n_bands] if n_bands >= 3 else _YLORRD[3][: n_bands]
    categories = [*labels[:n_bands], "Not costed"] if labels else ["Not costed"]
    colours = [*palette[: len(labels)], NO_DATA_COLOUR] if labels else [NO_DATA_COLOUR]
    if not labels:
        codes = np.zeros(len(values), dtype=np.int16)
    title = "Cost per student" if column == "cost_per_student_usd" else "NPV of cost"
    return Colouring(column, title, categories, colours, codes)


def school_colourings(schools: pd.DataFrame, params: MapParams) -> list[Colouring]:
    """Every colouring the table supports, the one chosen in ``params`` first."""
    options: list[Colouring] = [
        Colouring("connectivity", "Connectivity", list(CONNECTIVITY_CATEGORIES), list(CONNECTIVITY_COLOURS),
                  connectivity_codes(schools, params)),
    ]
    if "technology" in schools:
        options.append(Colouring("technology", "Least-cost technology", list(TECHNOLOGY_CATEGORIES),
                                 list(TECHNOLOGY_COLOURS), technology_codes(schools)))
    for column in ("cost_per_student_usd", "npv_usd"):
        if column in schools:
            options.append(cost_colouring(schools, column, params))
    chosen = [c for c in options if c.key == params.colour_schools_by]
    if not chosen:
        log.info("map: the table has no %r column; schools are coloured by %s", params.colour_schools_by,
                 options[0].key)
    return chosen + [c for c in options if c.key != params.colour_schools_by]


def operator_colouring(frame: pd.DataFrame) -> Colouring:
    """Colour towers (or anything with an ``operator`` column) by operator, Tableau 10 cycling."""
    if "operator" in frame:
        names = frame["operator"].astype("str").where(frame["operator"].notna(), UNKNOWN_OPERATOR)
        names = names.map(lambda v: clean_text(v)[0].strip() or UNKNOWN_OPERATOR)
    else:
        names = pd.Series(UNKNOWN_OPERATOR, index=frame.index)
    categories = sorted(set(names) - {UNKNOWN_OPERATOR})
    if (names == UNKNOWN_OPERATOR).any():
        categories.append(UNKNOWN_OPERATOR)
    lookup = {name: i for i, name in enumerate(categories)}
    colours = [OPERATOR_COLOURS[i % len(OPERATOR_COLOURS)] for i in range(len(categories))]
    if categories and categories[-1] == UNKNOWN_OPERATOR:
        colours[-1] = "#7f7f7f"
    return Colouring("operator", "Operator", categories, colours, names.map(lookup).to_numpy(dtype=np.int16))


def medium_colouring(frame: pd.DataFrame) -> Colouring:
    """Colour fibre nodes or lines by ``medium``: fibre, microwave, or not stated (drawn as fibre, in grey)."""
    medium = (frame["medium"].astype("str").str.strip().str.lower() if "medium" in frame
              else pd.Series("", index=frame.index))
    categories = ["fibre", "microwave", "other or not stated"]
    codes = np.where(medium == "fibre", 0, np.where(medium == "microwave", 1, 2)).astype(np.int8)
    if not (medium.isin(["fibre", "microwave"])).any():
        # A plain fibre file that does not state the medium: it is a fibre network.
        codes[:] = 0
    return Colouring("medium", "Medium", categories, [FIBRE_COLOUR, MICROWAVE_COLOUR, "#8c6d8c"], codes)


def not_operational(frame: pd.DataFrame) -> np.ndarray:
    """Fibre features whose status says they carry no traffic (planned, under construction, decommissioned, ...).

    The maps draw them dashed: enrichment and costing do not measure to them by default (``enrich.fibre_statuses``).
    A missing status is not known to be out of service, so it is drawn solid.
    """
    return ~status_in(frame, ["operational"])


# --- columns as compact JSON arrays -------------------------------------------------------------------------------
def _clean_strings(values: np.ndarray) -> list[Any]:
    return [clean_text(v)[0] if v is not None else None for v in values]


def encode_column(series: pd.Series, fmt: str, decimals: int) -> dict[str, Any]:
    """A column as JSON-ready data: numbers rounded (``null`` = unknown), text dictionary-coded when repetitive.

    Returns ``{"v": [...]}`` (values) or ``{"d": [distinct texts], "c": [codes, -1 = empty]}``.
    """
    if fmt == "bool":
        values = series.astype("boolean").to_numpy(dtype=object, na_value=None)
        return {"v": [None if v is None else int(v) for v in values]}
    if fmt != "text":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(numbers)
        if fmt == "percent":
            numbers = numbers * 100.0
            decimals = max(decimals - 2, 0)
        out = np.empty(len(numbers), dtype=object)
        if decimals == 0:
            out[ok] = np.round(numbers[ok]).astype(np.int64)
        else:
            out[ok] = np.round(numbers[ok], decimals)
        out[~ok] = None
        return {"v": out.tolist()}
    text = series.astype("str").where(series.notna(), None)
    text = text.where(text.str.len() > 0, None) if len(text) else text
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    if len(uniques) <= max(len(series) // 4, 16):
        return {"d": _clean_strings(np.asarray(uniques, dtype=object)), "c": codes.tolist()}
    return {"v": _clean_strings(text.to_numpy(dtype=object, na_value=None))}


_NUMERIC_NAME = re.compile(
    r"(_usd|_usd_per_year|_km|_m|_mbps|_gb_per_year|_probability|_distance)$|^(num_|pop_within_|schools_within_|"
    r"towers_within_)"
)


def _numbers_if_numeric_column(column: str, series: pd.Series) -> pd.Series:
    """Numbers for a numeric column that arrived as text (a GeoPackage or CSV read back as text), else as is."""
    if pd.api.types.is_numeric_dtype(series.dtype) or _is_bool(series) or not _NUMERIC_NAME.search(column):
        return series
    text = series.astype("str").str.strip()
    present = series.notna() & (text != "")
    parsed = pd.to_numeric(text.where(present), errors="coerce")
    return parsed if parsed.notna().sum() == present.sum() else series


def encode_fields(
    table: pd.DataFrame, columns: Sequence[str], labels: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Encode the ``columns`` present in ``table`` for popups: (column data by key, field descriptions in order).

    ``labels`` overrides :func:`label_for` for this table (a tower's ``technology`` is not a least-cost choice).
    """
    data: dict[str, Any] = {}
    fields: list[dict[str, Any]] = []
    seen: set[str] = set()
    for column in columns:
        if column not in table.columns or column in seen or column == table.geometry.name:
            continue
        seen.add(column)
        series = _numbers_if_numeric_column(column, table[column])
        fmt, unit, decimals = value_format(column, series)
        data[column] = encode_column(series, fmt, decimals)
        label = (labels or {}).get(column) or label_for(column)
        fields.append({"key": column, "label": label, "format": fmt, "unit": unit})
    return data, fields


# --- regions -------------------------------------------------------------------------------------------------------
def region_summary(schools: gpd.GeoDataFrame, regions: gpd.GeoDataFrame, params: MapParams) -> gpd.GeoDataFrame:
    """One row per region polygon with the choropleth metrics of the schools inside it.

    Schools are assigned to the polygon that contains them (the first one when polygons overlap), so the summary
    does not depend on how registers spell region names.

    Returns
    -------
    GeoDataFrame
        ``regions`` with :data:`REGION_SCHOOLS`, :data:`REGION_PCT_CONNECTED` (%),
        :data:`REGION_STUDENTS_UNCONNECTED` (students) and, when the schools are costed,
        :data:`REGION_COST_PER_STUDENT` (USD/student) added.
    """
    regions = to_wgs84(regions, "boundaries").reset_index(drop=True)
    lon, lat, ok = point_coordinates(schools)
    points = gpd.GeoDataFrame(
        {"_school": np.flatnonzero(ok)}, geometry=gpd.points_from_xy(lon[ok], lat[ok]), crs=4326
    )
    joined = gpd.sjoin(points, regions[[regions.geometry.name]], how="inner", predicate="intersects")
    joined = joined[~joined["_school"].duplicated(keep="first")]
    school_rows = joined["_school"].to_numpy()
    region_of = joined["index_right"].to_numpy()
    n_regions = len(regions)

    status = connectivity_codes(schools, params)[school_rows]
    connected = np.isin(status, [0, 1])
    known = status != CONNECTIVITY_CATEGORIES.index(UNKNOWN)
    students = (pd.to_numeric(schools["num_students"], errors="coerce").to_numpy(dtype=float)[school_rows]
                if "num_students" in schools else np.full(len(school_rows), np.nan))

    def per_region(weights: np.ndarray) -> np.ndarray:
        return np.bincount(region_of, weights=weights, minlength=n_regions)

    out = regions.copy()
    out[REGION_SCHOOLS] = per_region(np.ones(len(school_rows))).astype(np.int64)
    n_known = per_region(known.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[REGION_PCT_CONNECTED] = np.where(n_known > 0, 100.0 * per_region(connected.astype(float)) / n_known,
                                             np.nan)
        unconnected = known & ~connected
        out[REGION_STUDENTS_UNCONNECTED] = per_region(np.where(unconnected, np.nan_to_num(students), 0.0))
        if "cost_per_student_usd" in schools:
            cps = pd.to_numeric(schools["cost_per_student_usd"], errors="coerce").to_numpy(dtype=float)[school_rows]
            usable = np.isfinite(cps) & np.isfinite(students) & (students > 0)
            total_students = per_region(np.where(usable, students, 0.0))
            total_cost = per_region(np.where(usable, cps * students, 0.0))
            out[REGION_COST_PER_STUDENT] = np.where(total_students > 0, total_cost / total_students, np.nan)
    return out


#: The choropleth metrics: key used in params.region_metric -> (summary column, legend title, unit).
REGION_METRICS: dict[str, tuple[str, str, str]] = {
    "pct_connected": (REGION_PCT_CONNECTED, "Schools connected", "%"),
    "students_unconnected": (REGION_STUDENTS_UNCONNECTED, "Students in unconnected schools", "students"),
    "cost_per_student_usd": (REGION_COST_PER_STUDENT, "Cost per student", "USD/student"),
}


def region_colourings(summary: pd.DataFrame, params: MapParams) -> list[Colouring]:
    """Choropleth colourings of the region summary, the one chosen in ``params`` first."""
    options: list[Colouring] = []
    for key, (column, title, unit) in REGION_METRICS.items():
        if column not in summary:
            continue
        values = summary[column].to_numpy(dtype=float)
        if key == "pct_connected":
            edges = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 100.0])
            colours = list(_PCT_COLOURS)
        else:
            if key == "students_unconnected":
                values = np.where(values > 0, values, np.nan)  # regions with none are "no data", not a band
            edges = quantile_bands(values, 5)
            n = max(len(edges) - 1, 1)
            colours = _YLORRD[max(3, n)][:n]
        codes = band_codes(values, edges)
        labels = band_labels(edges, unit) if len(edges) else []
        n_bands = max(len(edges) - 1, 1) if len(edges) else 0
        categories = [*labels[:n_bands], "No data"]
        colours = [*colours[:n_bands], NO_DATA_COLOUR]
        if not n_bands:
            codes = np.zeros(len(values), dtype=np.int16)
        options.append(Colouring(key, title, categories, colours, codes))
    chosen = [c for c in options if c.key == params.region_metric]
    return chosen + [c for c in options if c.key != params.region_metric]


def has_regions(boundaries: pd.DataFrame | None) -> bool:
    """Whether boundaries are regions (a choropleth makes sense): two or more named areas, not one outline."""
    if boundaries is None or not len(boundaries):
        return False
    names = [boundaries[c] for c in ("admin1", "admin2") if c in boundaries]
    if not names:
        return False
    named = pd.concat(names, axis=1).dropna(how="all")
    return len(named.drop_duplicates()) >= 2


def region_names(regions: pd.DataFrame) -> pd.Series:
    """``admin1 / admin2`` (or whichever is present) per region, for popups and legends."""
    parts = [regions[c].astype("str").where(regions[c].notna(), "") for c in ("admin1", "admin2") if c in regions]
    if not parts:
        return pd.Series([f"Region {i + 1}" for i in range(len(regions))], index=regions.index)
    name = parts[0]
    for part in parts[1:]:
        name = name.where(part == "", name + " / " + part)
    return name
