"""Demoland: a fictional demo country generated deterministically by connectmap's own code.

:func:`generate_demo_country` writes every input a connectmap run can take — a school register, an operator tower
list, coverage rasters, a population raster, a DEM, admin boundaries, towns and a fibre backbone — for a plausible
made-up country at Tajikistan-like latitudes (about 37–41°N, 67–75°E) with high mountains in the east and river
valleys running west, so that geodesic and line-of-sight code is exercised where it matters. No real data is copied:
everything comes from numpy's seeded generator, shapely, scipy and rasterio. The same seed gives byte-identical files
(on the same platform and library versions), whatever the output folder.

How Demoland is made (README.md, section "The demo country", has the full description, every file and its columns):

1. **Outline** — a star-shaped polygon, an ellipse about 600 × 340 km with random harmonics on its radius.
2. **Terrain** — three east–west ranges (Gaussian ridges) on a surface rising to the east, plus fractal noise;
   four rivers between the ranges carve valleys that descend westward. Elevation 300–5,600 m.
3. **Towns** — a capital, four cities, twenty district towns and about 520 villages, drawn by weighted sampling that
   favours low ground near rivers, with a minimum spacing per tier.
4. **Admin regions** — 25 districts (admin2) are the Voronoi cells of the capital, cities and district towns clipped
   to the outline; five regions (admin1) are unions of districts, grouped by the Voronoi cells of the five largest
   towns. They tile the outline exactly.
5. **Towers** — three operators place sites in towns (one per N inhabitants), in larger villages and along the
   valleys; technologies depend on the operator and on urban/rural; 5G only in the capital.
6. **Coverage** — per operator and technology, the best-server signal level in dBm from a terrain-blind
   log-distance path-loss model (:func:`path_loss_db`), at 30 arc-seconds (about 0.9 × 0.7 km).
7. **Population** — each town's inhabitants spread by a Gaussian kernel plus a dispersed rural population that
   follows low valleys, in people per pixel (counts).
8. **Schools** — clustered around towns (a town's share grows with its population), with plausible Latin, Tajik and
   Cyrillic names, enrolment, teachers, electricity, and connectivity that depends on 4G signal and electricity.
   Planted on purpose: hostile names and realistic register defects, listed in ``planted.json`` (:data:`HOSTILE_NAMES`,
   :class:`PlantedRow`).
9. **Fibre** — a backbone over the 25 largest towns: a minimum spanning tree of least-cost routes over the terrain
   (Dijkstra on a 2.5 km grid, costlier uphill and high up, so cables follow the valleys), simplified to waypoints.

Why hand-written: there is no library that generates a synthetic country. Layout happens on a *design plane* (an
equirectangular plane in km around 39°N 71°E): it keeps polygon edges straight in longitude/latitude so regions tile
the outline exactly, and it is used only to place things (spacing, terrain shape). Every distance that is written to
a file or that sets a signal level is measured on the ellipsoid or sphere with :mod:`connectmap.geodesy`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import shapely
import tomlkit
from numpy.typing import NDArray
from rasterio.transform import Affine
from scipy import sparse
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import cKDTree

from connectmap.config import Config
from connectmap.errors import ConfigError, OutputError
from connectmap.geodesy import PointIndex, chord_to_km, geodesic_km, unit_vectors
from connectmap.parameters.inputs import InputsParams, SchoolInput
from connectmap.report.files import atomic_path

log = logging.getLogger(__name__)

__all__ = [
    "DEMO_SEED",
    "HOSTILE_NAMES",
    "OPERATORS",
    "RADIOS",
    "RURAL_POPULATION",
    "DemoCountry",
    "PlantedRow",
    "generate_demo_country",
    "path_loss_db",
    "received_dbm",
]

#: Default seed of the demo country (the date the demo was designed).
DEMO_SEED = 20261124
#: Smallest register the planted rows fit in.
MIN_SCHOOLS = 50
COUNTRY = "Demoland"
COUNTRY_CODE = "DL"

# --- design plane: equirectangular km around the centre; for layout only, never for measured distances ----------
CENTRE_LON_DEG = 71.0
CENTRE_LAT_DEG = 39.0
_KM_PER_DEG_LAT = 111.0
_KM_PER_DEG_LON = 111.32 * float(np.cos(np.radians(CENTRE_LAT_DEG)))
#: Raster pixel size: 30 arc-seconds, the "1 km" grid of WorldPop and SRTM30 (about 0.93 km × 0.72 km here).
PIXEL_DEG = 1.0 / 120.0
_BLOCK = 256
#: Vector coordinates are written with 6 decimals (about 0.1 m); boundaries are snapped to this grid first.
COORDINATE_GRID_DEG = 1e-6

#: Names a register may contain that must stay text in every output (HTML, JavaScript, Jinja, Excel, CSV).
HOSTILE_NAMES: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "`backtick`",
    "</script>",
    "{{ 7*7 }}",
    "{% raw %}",
    "{# c",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+2",
    "@SUM(A1)",
    "School \"No. 5\" O'Brien's \\ back\\slash \\\\",
    "'; DROP TABLE schools; --",
)

#: People spread outside towns over low ground, on top of the towns' populations (people).
RURAL_POPULATION = 2_200_000


def _to_lonlat(x_km: NDArray, y_km: NDArray) -> tuple[NDArray, NDArray]:
    """Design-plane km to degrees (a linear map, so straight edges stay straight)."""
    return CENTRE_LON_DEG + np.asarray(x_km) / _KM_PER_DEG_LON, CENTRE_LAT_DEG + np.asarray(y_km) / _KM_PER_DEG_LAT


def _to_plane(lon_deg: NDArray, lat_deg: NDArray) -> tuple[NDArray, NDArray]:
    """Degrees to design-plane km."""
    x_km = (np.asarray(lon_deg) - CENTRE_LON_DEG) * _KM_PER_DEG_LON
    return x_km, (np.asarray(lat_deg) - CENTRE_LAT_DEG) * _KM_PER_DEG_LAT


def _plane_geometry_to_lonlat(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(_to_lonlat(xy[:, 0], xy[:, 1])))


# --- radio model ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Radio:
    """How a technology's signal level is modelled.

    Attributes
    ----------
    technology
        GSM, UMTS, LTE or NR.
    frequency_mhz
        Carrier frequency (MHz).
    eirp_dbm
        Radiated power of the measured quantity (dBm): the BCCH carrier for GSM (RxLev), the CPICH for UMTS (RSCP),
        one resource element for LTE (RSRP) and NR (SS-RSRP).
    design_edge_dbm
        Signal level the cell edge was designed for (dBm); a typical coverage threshold for the technology.
    """

    technology: str
    frequency_mhz: float
    eirp_dbm: float
    design_edge_dbm: float


#: Radio parameters. EIRP = transmit power + 17 dBi sector antenna − 3 dB feeder loss: GSM 20 W carrier (43 dBm);
#: UMTS CPICH 2 W (33 dBm); LTE 40 W over 600 subcarriers of 10 MHz (18.2 dBm per resource element); NR 80 W over
#: 3,276 subcarriers of 100 MHz (13.8 dBm) with a 24 dBi active antenna. Cell-edge levels are common planning
#: thresholds (GSM RxLev −100, UMTS RSCP −105, LTE RSRP −115, NR SS-RSRP −110 dBm).
RADIOS: dict[str, Radio] = {
    "GSM": Radio("GSM", 900.0, 57.0, -100.0),
    "UMTS": Radio("UMTS", 2100.0, 47.0, -105.0),
    "LTE": Radio("LTE", 800.0, 32.0, -115.0),
    "NR": Radio("NR", 3500.0, 35.0, -110.0),
}
#: Log-distance path-loss exponent: 3.8, inside the 2.7–5 range Rappaport gives for urban and shadowed cellular
#: radio (*Wireless Communications*, 2nd ed., table 4.2); it stands in for the clutter and hills the model ignores.
PATH_LOSS_EXPONENT = 3.8
REFERENCE_DISTANCE_KM = 0.1
#: Mast height at which the height term is zero, and the height assumed when the tower list leaves it blank (m).
REFERENCE_HEIGHT_M = 30.0
#: Levels are clipped to this range (dBm); the floor is far below any coverage threshold ("no signal").
SIGNAL_FLOOR_DBM = -140
SIGNAL_CEILING_DBM = -30
_GENERATION = {"GSM": "2G", "UMTS": "3G", "LTE": "4G", "NR": "5G"}


def path_loss_db(distance_km: NDArray, frequency_mhz: float, height_m: NDArray) -> NDArray[np.float64]:
    """Terrain-blind path loss (dB) of the demo's coverage model.

    ``FSPL(d0) + 10 n log10(d / d0) − 13.82 log10(h / 30 m)`` for ``d ≥ d0`` (``d0`` = 0.1 km, ``n`` = 3.8); within
    ``d0`` the loss is that at ``d0``. ``FSPL(d0) = 32.45 + 20 log10(f / MHz) + 20 log10(d0 / km)`` is free-space
    loss; the height term is the base-station height term of the Okumura–Hata model, so a 50 m mast reaches farther
    than a 15 m rooftop.

    Parameters
    ----------
    distance_km
        Distance from the mast (km).
    frequency_mhz
        Carrier frequency (MHz).
    height_m
        Mast height (m).
    """
    d = np.maximum(np.asarray(distance_km, dtype=np.float64), REFERENCE_DISTANCE_KM)
    fspl_d0 = 32.45 + 20.0 * np.log10(frequency_mhz) + 20.0 * np.log10(REFERENCE_DISTANCE_KM)
    height_gain = 13.82 * np.log10(np.asarray(height_m, dtype=np.float64) / REFERENCE_HEIGHT_M)
    return fspl_d0 + 10.0 * PATH_LOSS_EXPONENT * np.log10(d / REFERENCE_DISTANCE_KM) - height_gain


def received_dbm(radio: Radio, distance_km: NDArray, height_m: NDArray) -> NDArray[np.float64]:
    """Signal level (dBm) from one mast: ``radio.eirp_dbm − path_loss_db(...)``, not clipped."""
    return radio.eirp_dbm - path_loss_db(distance_km, radio.frequency_mhz, height_m)


# --- operators -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operator:
    """How one demo operator builds its network.

    Attributes
    ----------
    name, prefix
        Operator name and site-id prefix.
    people_per_urban_site
        Inhabitants per site in towns of 10,000 people or more.
    village_site_p, valley_site_p
        Chance of a site at a village of 3,000 people (smaller villages less, by the square root of population)
        and at each 11 km step along a valley road.
    p2g, p3g, p4g
        Chance that a site carries the technology, (urban, rural).
    p5g_capital
        Chance that a capital site with 4G also carries 5G.
    lte_mhz
        LTE carrier frequency (MHz): 800 MHz reaches farther than 1,800 MHz.
    share_p
        Chance that a rural site is put on another operator's mast within 4 km (tower sharing).
    """

    name: str
    prefix: str
    people_per_urban_site: float
    village_site_p: float
    valley_site_p: float
    p2g: tuple[float, float]
    p3g: tuple[float, float]
    p4g: tuple[float, float]
    p5g_capital: float
    lte_mhz: float
    share_p: float


OPERATORS: tuple[Operator, ...] = (
    Operator("Alpha Mobile", "AM", 11_000, 0.6, 0.45, (1.0, 1.0), (0.95, 0.55), (0.9, 0.35), 0.45, 800.0, 0.0),
    Operator("Beta Telecom", "BT", 15_000, 0.4, 0.3, (1.0, 1.0), (0.9, 0.45), (0.85, 0.25), 0.3, 800.0, 0.2),
    Operator("Gamma Cell", "GC", 24_000, 0.2, 0.1, (0.3, 0.3), (1.0, 1.0), (0.95, 0.5), 0.0, 1800.0, 0.35),
)
#: The state backbone operator owning the operational fibre; planned links belong to the first mobile operator.
FIBRE_OPERATOR = "Demoland Telecom"


# --- outputs -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlantedRow:
    """A row of the demo register that is odd on purpose.

    Attributes
    ----------
    kind
        ``hostile_name``, ``duplicate_id``, ``near_duplicate_location``, ``swapped_coordinates``,
        ``missing_coordinates``, ``implausible_num_students`` or ``decomposed_unicode``.
    source_row
        Row in ``schools.csv`` (header = row 1).
    school_id_govt, school_name
        As written in the file.
    note
        What is odd and what the validator should do with it.
    """

    kind: str
    source_row: int
    school_id_govt: str
    school_name: str
    note: str


@dataclass(frozen=True)
class DemoCountry:
    """The files of a generated demo country and a configuration that names them.

    Attributes
    ----------
    folder
        Where everything was written.
    schools, towers, towns, outline, admin1, admin2, fibre_nodes, fibre_lines, population, dem
        Paths of the files (README.md, section "The demo country", lists their columns).
    coverage
        Coverage rasters keyed by ``(operator, technology)``.
    config_file
        ``demoland.toml``: the inputs section with paths relative to the folder.
    planted_file
        ``planted.json``: the planted rows.
    planted
        The planted rows.
    config
        A :class:`~connectmap.config.Config` whose ``inputs`` name the files (absolute paths) and the run ``demo``.
    """

    folder: Path
    schools: Path
    towers: Path
    towns: Path
    outline: Path
    admin1: Path
    admin2: Path
    fibre_nodes: Path
    fibre_lines: Path
    population: Path
    dem: Path
    coverage: dict[tuple[str, str], Path]
    config_file: Path
    planted_file: Path
    planted: tuple[PlantedRow, ...]
    config: Config

    @property
    def files(self) -> list[Path]:
        """Every file written, in a stable order."""
        fixed = [
            self.schools, self.towers, self.towns, self.outline, self.admin1, self.admin2, self.fibre_nodes,
            self.fibre_lines, self.population, self.dem,
        ]
        return [*fixed, *(self.coverage[key] for key in sorted(self.coverage)), self.config_file, self.planted_file]


@dataclass(frozen=True)
class _Grid:
    """The raster grid: 30 arc-second pixels covering the outline, north-up."""

    transform: Affine
    width: int
    height: int
    lon: NDArray[np.float64]  # pixel-centre longitudes, shape (width,)
    lat: NDArray[np.float64]  # pixel-centre latitudes, shape (height,)
    inside: NDArray[np.bool_]  # pixel centre inside the outline, shape (height, width)

    def pixel_of(self, lon_deg: NDArray, lat_deg: NDArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Row and column of the pixels holding the points (clipped to the grid)."""
        col = np.floor((np.asarray(lon_deg) - self.transform.c) / PIXEL_DEG).astype(np.int64)
        row = np.floor((self.transform.f - np.asarray(lat_deg)) / PIXEL_DEG).astype(np.int64)
        return np.clip(row, 0, self.height - 1), np.clip(col, 0, self.width - 1)


@dataclass(frozen=True)
class _Line:
    """A gently winding east–west line ``y = c + a sin(2πx/λ + φ) + a/3 sin(4πx/λ + 2φ)`` in design-plane km."""

    c_km: float
    amplitude_km: float
    wavelength_km: float
    phase: float
    x_end_km: float = np.inf  # rivers rise at x_end and flow west

    def y(self, x_km: NDArray) -> NDArray:
        t = 2.0 * np.pi * np.asarray(x_km) / self.wavelength_km + self.phase
        return self.c_km + self.amplitude_km * (np.sin(t) + np.sin(2.0 * t) / 3.0)


@dataclass
class _Towns:
    x_km: NDArray
    y_km: NDArray
    lon: NDArray
    lat: NDArray
    kind: NDArray  # capital / city / town / village
    population: NDArray
    name: NDArray
    name_tg: NDArray
    sigma_km: NDArray  # spread of the town's inhabitants and schools


# --- names -----------------------------------------------------------------------------------------------------------
# (Latin, Tajik Cyrillic) pairs; town names are a root and a suffix, optionally behind a qualifier.
_ROOTS = (
    ("Sang", "Санг"), ("Kuh", "Кӯҳ"), ("Ob", "Об"), ("Dasht", "Дашт"), ("Nav", "Нав"), ("Chor", "Чор"),
    ("Zar", "Зар"), ("Gul", "Гул"), ("Sabz", "Сабз"), ("Bog'", "Боғ"), ("Qiz", "Қиз"), ("Shahr", "Шаҳр"),
    ("Yov", "Ёв"), ("Tut", "Тут"), ("Dev", "Дев"), ("Mir", "Мир"), ("Hisor", "Ҳисор"), ("Rog'", "Роғ"),
    ("Jar", "Ҷар"), ("Kalon", "Калон"), ("Sari", "Сари"), ("Dil", "Дил"), ("Ravshan", "Равшан"),
    ("Safed", "Сафед"), ("Siyoh", "Сиёҳ"), ("Yakka", "Якка"), ("Baland", "Баланд"), ("Darvoz", "Дарвоз"),
    ("Nur", "Нур"), ("Ozod", "Озод"), ("Khush", "Хуш"), ("Pakhta", "Пахта"), ("Anjir", "Анҷир"),
    ("Bodom", "Бодом"), ("Tosh", "Тош"), ("Oltin", "Олтин"), ("Sharq", "Шарқ"), ("Gharb", "Ғарб"),
    ("Chashma", "Чашма"), ("Qal'a", "Қалъа"), ("Lola", "Лола"), ("Shirin", "Ширин"),
)
_SUFFIXES = (
    ("obod", "обод"), ("kent", "кент"), ("deh", "деҳ"), ("ob", "об"), ("dara", "дара"), ("sang", "санг"),
    ("kuh", "кӯҳ"), ("zor", "зор"), ("tepa", "тепа"), ("shahr", "шаҳр"), ("on", "он"), ("iston", "истон"),
    ("gon", "гон"), ("rud", "рӯд"),
)
_QUALIFIERS = (("", ""), ("Yangi ", "Янги "), ("Poyoni ", "Поёни "), ("Boloi ", "Болои "))
#: Region names: the capital's region, then west to east (the eastern one is the high mountains).
_REGION_NAMES = ("Markaz", "Dashtiobod", "Vodiyi Sabz", "Bog'iston", "Kuhiston")
_PEOPLE = ("Rudaki", "Firdawsi", "Ayni", "Jami", "Khayyam", "Sino", "Lohuti", "Tursunzoda")
_LEVELS = np.array(["Primary", "Primary, Secondary", "Secondary", "Pre-Primary"])


def _town_names(rng: np.random.Generator, count: int) -> tuple[NDArray, NDArray]:
    combos = [
        (q + r + s, qc + rc + sc)
        for q, qc in _QUALIFIERS
        for r, rc in _ROOTS
        for s, sc in _SUFFIXES
        if r.lower() != s
    ]
    if count > len(combos):  # pragma: no cover - the tiers ask for about 550 names
        raise ValueError(f"only {len(combos)} distinct town names available")
    # Unqualified names first, so big towns get short names; then draw without replacement.
    plain = len(_ROOTS) * len(_SUFFIXES)
    order = np.r_[rng.permutation(plain), plain + rng.permutation(len(combos) - plain)][:count]
    latin = np.array([combos[i][0] for i in order], dtype=object)
    cyrillic = np.array([combos[i][1] for i in order], dtype=object)
    return latin, cyrillic


# --- generation steps ------------------------------------------------------------------------------------------------
def _outline(rng: np.random.Generator) -> shapely.Polygon:
    """Country outline in design-plane km: an ellipse 2 × 300 by 2 × 170 km with random harmonics on its radius."""
    theta = np.linspace(0.0, 2.0 * np.pi, 480, endpoint=False)
    k = np.arange(2, 40)
    amplitude = k**-1.1 * rng.uniform(0.3, 1.0, k.size)
    amplitude *= 0.5 / amplitude.sum()
    phase = rng.uniform(0.0, 2.0 * np.pi, k.size)
    radius = 1.0 + (amplitude[:, None] * np.cos(k[:, None] * theta + phase[:, None])).sum(axis=0)
    # The harmonics sum to at most 0.5 in absolute value, so the radius stays positive: star-shaped and simple.
    return shapely.Polygon(np.column_stack((300.0 * radius * np.cos(theta), 170.0 * radius * np.sin(theta))))


def _grid(outline_deg: shapely.Polygon) -> _Grid:
    """The grid over the outline's bounds (with a margin), with the inside mask of ``outline_deg``."""
    west, south, east, north = outline_deg.bounds
    west = np.floor((west - 0.05) / PIXEL_DEG) * PIXEL_DEG
    north = np.ceil((north + 0.05) / PIXEL_DEG) * PIXEL_DEG
    width = int(np.ceil((east + 0.05 - west) / PIXEL_DEG))
    height = int(np.ceil((north - (south - 0.05)) / PIXEL_DEG))
    transform = Affine(PIXEL_DEG, 0.0, float(west), 0.0, -PIXEL_DEG, float(north))
    lon = west + (np.arange(width) + 0.5) * PIXEL_DEG
    lat = north - (np.arange(height) + 0.5) * PIXEL_DEG
    grid = _Grid(transform, width, height, lon, lat, np.zeros((height, width), dtype=bool))
    return dataclasses.replace(grid, inside=_inside(outline_deg, grid))


def _inside(outline_deg: shapely.Geometry, grid: _Grid) -> NDArray[np.bool_]:
    """Pixels whose centre is inside the outline."""
    return shapely.contains_xy(outline_deg, grid.lon[None, :], grid.lat[:, None])


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], corner_px: float) -> NDArray[np.float64]:
    """Fractal noise with unit standard deviation: white noise filtered to amplitude ∝ (1 + (f/f0)^2)^-1.5."""
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    freq = np.hypot(fy, fx)
    field = np.fft.irfft2(np.fft.rfft2(white) / (1.0 + (freq * corner_px) ** 2) ** 1.5, s=shape)
    return (field - field.mean()) / field.std()


def _terrain(rng: np.random.Generator, grid: _Grid) -> tuple[NDArray[np.float64], list[_Line]]:
    """Elevation (m) on the grid and the rivers: ranges run east–west, rivers between them flow west."""
    x = _to_plane(grid.lon, CENTRE_LAT_DEG)[0][None, :]
    y = _to_plane(CENTRE_LON_DEG, grid.lat)[1][:, None]
    east = 1.0 / (1.0 + np.exp(-(x - 60.0) / 70.0))  # 0 in the west, 1 in the east
    elevation = 450.0 + 150.0 * (x + 300.0) / 600.0 + 2000.0 * east + 0.0 * y
    ridges = [
        _Line(c + rng.uniform(-12, 12), rng.uniform(8, 20), rng.uniform(180, 320), rng.uniform(0, 2 * np.pi))
        for c in (-95.0, 5.0, 100.0)
    ]
    for ridge in ridges:
        height = rng.uniform(1100.0, 1800.0)
        elevation = elevation + height * (0.45 + 0.8 * east) * np.exp(-(((y - ridge.y(x)) / 24.0) ** 2))
    noise = _smooth_noise(rng, (grid.height, grid.width), corner_px=25.0)
    elevation = elevation + noise * (200.0 + 350.0 * east)
    rivers = [
        _Line(c + rng.uniform(-10, 10), rng.uniform(6, 15), rng.uniform(150, 300), rng.uniform(0, 2 * np.pi),
              x_end_km=rng.uniform(120.0, 260.0))
        for c in (-145.0, -45.0, 55.0, 140.0)
    ]
    for river in rivers:
        distance = np.abs(y - river.y(x))
        taper = np.clip((river.x_end_km - x) / 40.0, 0.0, 1.0)
        weight = 0.85 * np.exp(-((distance / 14.0) ** 2)) * taper
        floor = 350.0 + 1400.0 * east
        elevation = elevation * (1.0 - weight) + floor * weight
    return np.clip(elevation, 300.0, 5600.0), rivers


def _river_distance_km(rivers: list[_Line], x_km: NDArray, y_km: NDArray) -> NDArray[np.float64]:
    """Cross-valley distance (km, design plane) to the nearest river downstream of its source."""
    best = np.full(np.broadcast(x_km, y_km).shape, np.inf)
    for river in rivers:
        d = np.abs(y_km - river.y(x_km)) + np.maximum(x_km - river.x_end_km, 0.0)
        best = np.minimum(best, d)
    return best


def _towns(rng: np.random.Generator, outline: shapely.Polygon, grid: _Grid, elevation: NDArray,
           rivers: list[_Line]) -> _Towns:
    """Capital, 4 cities, 20 district towns and ~520 villages on low ground near rivers, 2+ km inside the border."""
    core = outline.buffer(-3.0)
    xmin, ymin, xmax, ymax = core.bounds
    cx = rng.uniform(xmin, xmax, 40_000)
    cy = rng.uniform(ymin, ymax, 40_000)
    keep = shapely.contains_xy(core, cx, cy)
    cx, cy = cx[keep], cy[keep]
    row, col = grid.pixel_of(*_to_lonlat(cx, cy))
    z = elevation[row, col]
    weight = np.exp(-(z - 400.0) / 700.0) * (0.25 + np.exp(-((_river_distance_km(rivers, cx, cy) / 7.0) ** 2)))
    # Weighted random order without replacement (Efraimidis–Spirakis keys: larger u^(1/w) first).
    order = np.argsort(-np.log(rng.uniform(size=cx.size)) / weight, kind="stable")
    west_valley = np.flatnonzero((cx > -190) & (cx < -60) & (np.abs(cy) < 110))
    capital = west_valley[np.argmax(weight[west_valley])]

    # Greedy spacing needs a loop over candidates (each acceptance changes the next test); it stops after the
    # ~545 towns are found, a few thousand candidates at most.
    chosen = [capital]
    kinds = ["capital"]
    for kind, count, spacing_km in (("city", 4, 95.0), ("town", 20, 30.0), ("village", 520, 3.5)):
        accepted = 0
        px, py = cx[chosen], cy[chosen]
        for i in order:
            if accepted == count:
                break
            if np.min((px - cx[i]) ** 2 + (py - cy[i]) ** 2) < spacing_km**2:
                continue
            chosen.append(int(i))
            kinds.append(kind)
            px, py = np.append(px, cx[i]), np.append(py, cy[i])
            accepted += 1
    index = np.asarray(chosen)
    kind = np.asarray(kinds, dtype=object)
    n_city = int((kind == "city").sum())
    n_town = int((kind == "town").sum())
    n_village = int((kind == "village").sum())
    population = np.concatenate([
        [rng.uniform(780_000, 920_000)],
        np.sort(np.exp(rng.normal(np.log(190_000), 0.3, n_city)))[::-1],
        np.sort(np.exp(rng.uniform(np.log(12_000), np.log(75_000), n_town)))[::-1],
        np.clip(np.exp(rng.normal(np.log(1_500), 0.8, n_village)), 250, 9_000),
    ]).round()
    name, name_tg = _town_names(rng, index.size)
    x, y = cx[index], cy[index]
    lon, lat = _to_lonlat(x, y)
    return _Towns(x, y, lon, lat, kind, population, name, name_tg, 0.35 * (population / 1000.0) ** 0.4)


def _admin_regions(
    towns: _Towns, outline: shapely.Polygon
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, shapely.Polygon]:
    """Districts = Voronoi cells of the 25 largest towns clipped to the outline; regions = unions of districts.

    Returns admin1, admin2 and the outline in degrees as their union, all on the 1e-6 degree grid.
    """
    seats = np.flatnonzero(towns.kind != "village")
    points = shapely.points(towns.x_km[seats], towns.y_km[seats])
    frame = outline.envelope.buffer(100.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame, ordered=True))
    districts = shapely.intersection(cells, outline)
    capitals = seats[:5]  # capital and the four cities come first
    if list(towns.kind[capitals]) != ["capital", "city", "city", "city", "city"]:  # pragma: no cover
        raise RuntimeError("the outline is too small for a capital and four cities 95 km apart")
    region_cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points[:5]), extend_to=frame, ordered=True)
    )
    region_of_seat = np.array([int(np.flatnonzero(shapely.contains(region_cells, p))[0]) for p in points])
    # Regions numbered capital first, then west to east; districts west to east within their region.
    region_rank = np.r_[0, 1 + np.argsort(np.argsort(towns.x_km[capitals[1:]]))]
    district_order = np.lexsort((towns.x_km[seats], region_rank[region_of_seat]))
    region_names = _REGION_NAMES

    admin2_rows = []
    count_in_region = np.zeros(5, dtype=int)
    for seat in district_order:
        r = region_rank[region_of_seat[seat]]
        count_in_region[r] += 1
        admin2_rows.append({
            "ADM0_EN": COUNTRY,
            "ADM0_PCODE": COUNTRY_CODE,
            "ADM1_EN": str(region_names[r]),
            "ADM1_PCODE": f"{COUNTRY_CODE}{r + 1:02d}",
            "ADM2_EN": str(towns.name[seats[seat]]),
            "ADM2_PCODE": f"{COUNTRY_CODE}{r + 1:02d}{count_in_region[r]:02d}",
            # Snapped to the 1e-6 degree grid the GeoJSON files are written at, so that the written districts,
            # regions and outline share every vertex and tile exactly (no slivers from rounding).
            "geometry": shapely.set_precision(_plane_geometry_to_lonlat(districts[seat]), COORDINATE_GRID_DEG),
        })
    admin2 = gpd.GeoDataFrame(admin2_rows, geometry="geometry", crs="EPSG:4326")
    regions = admin2.groupby("ADM1_PCODE", sort=True)
    admin1 = gpd.GeoDataFrame(
        {
            "ADM0_EN": COUNTRY,
            "ADM0_PCODE": COUNTRY_CODE,
            "ADM1_EN": regions["ADM1_EN"].first().to_numpy(),
            "ADM1_PCODE": list(regions.groups),
        },
        geometry=[shapely.union_all(part.geometry.to_numpy(), grid_size=COORDINATE_GRID_DEG) for _, part in regions],
        crs="EPSG:4326",
    )
    outline_deg = shapely.union_all(admin2.geometry.to_numpy(), grid_size=COORDINATE_GRID_DEG)
    return admin1, admin2, outline_deg


def _locate(admin2: gpd.GeoDataFrame, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    """admin1 and admin2 names of the district containing each point ("" when none)."""
    admin1 = np.full(lon.shape, "", dtype=object)
    admin2_names = np.full(lon.shape, "", dtype=object)
    for district in admin2.itertuples():
        inside = shapely.intersects_xy(district.geometry, lon, lat)
        admin1[inside] = district.ADM1_EN
        admin2_names[inside] = district.ADM2_EN
    return admin1, admin2_names


def _towers(rng: np.random.Generator, towns: _Towns, rivers: list[_Line], outline: shapely.Polygon) -> pd.DataFrame:
    """Sites of the three operators: in towns, at larger villages and along the valleys."""
    inner = outline.buffer(-1.0)
    frames = []
    first_rural: tuple[NDArray, NDArray] | None = None
    for op in OPERATORS:
        # Urban sites: one per N inhabitants, spread like the town.
        urban = np.flatnonzero(towns.population >= 10_000)
        per_town = np.ceil(towns.population[urban] / op.people_per_urban_site).astype(int)
        town_of = np.repeat(urban, per_town)
        ux = towns.x_km[town_of] + rng.normal(0.0, 1.0, town_of.size) * towns.sigma_km[town_of] * 1.1
        uy = towns.y_km[town_of] + rng.normal(0.0, 1.0, town_of.size) * towns.sigma_km[town_of] * 1.1
        # Villages: a site near the village, more likely for bigger villages.
        villages = np.flatnonzero(towns.kind == "village")
        p_village = np.minimum(1.0, op.village_site_p * np.sqrt(towns.population[villages] / 3000.0))
        vil = villages[rng.uniform(size=villages.size) < p_village]
        vx = towns.x_km[vil] + rng.normal(0.0, 0.8, vil.size)
        vy = towns.y_km[vil] + rng.normal(0.0, 0.8, vil.size)
        # Valleys: a site every 11 km along each river road, with gaps.
        rx, ry = [], []
        for river in rivers:
            steps = np.arange(river.x_end_km, -400.0, -11.0)
            take = rng.uniform(size=steps.size) < op.valley_site_p
            sx = steps[take] + rng.uniform(-2.0, 2.0, take.sum())
            rx.append(sx)
            ry.append(river.y(sx) + rng.normal(0.0, 1.5, sx.size))
        rx_all, ry_all = np.concatenate(rx), np.concatenate(ry)
        rural_x, rural_y = np.r_[vx, rx_all], np.r_[vy, ry_all]
        if first_rural is not None and op.share_p > 0:
            # Tower sharing: some rural sites go on the first operator's mast when one stands within 4 km.
            dist, nearest = cKDTree(np.column_stack(first_rural)).query(np.column_stack((rural_x, rural_y)))
            share = (rng.uniform(size=rural_x.size) < op.share_p) & (dist < 4.0)
            rural_x = np.where(share, first_rural[0][nearest], rural_x)
            rural_y = np.where(share, first_rural[1][nearest], rural_y)
        x = np.r_[ux, rural_x]
        y = np.r_[uy, rural_y]
        is_urban = np.r_[np.ones(ux.size, bool), np.zeros(rural_x.size, bool)]
        in_capital = np.r_[towns.kind[town_of] == "capital", np.zeros(rural_x.size, bool)]
        keep = shapely.contains_xy(inner, x, y)
        x, y, is_urban, in_capital = x[keep], y[keep], is_urban[keep], in_capital[keep]
        if first_rural is None:
            first_rural = (x[~is_urban], y[~is_urban])
        u = rng.uniform(size=(4, x.size))
        has_2g = u[0] < np.where(is_urban, op.p2g[0], op.p2g[1])
        has_3g = u[1] < np.where(is_urban, op.p3g[0], op.p3g[1])
        has_4g = u[2] < np.where(is_urban, op.p4g[0], op.p4g[1])
        has_5g = in_capital & has_4g & (u[3] < op.p5g_capital)
        has_3g |= ~(has_2g | has_3g | has_4g)  # every site carries something
        height = np.where(is_urban, rng.uniform(15.0, 30.0, x.size), rng.uniform(25.0, 50.0, x.size)).round()
        lon, lat = _to_lonlat(x, y)
        frames.append(pd.DataFrame({
            "operator": op.name, "prefix": op.prefix, "lon": lon, "lat": lat, "height_m": height,
            "GSM": has_2g, "UMTS": has_3g, "LTE": has_4g, "NR": has_5g,
        }))
    towers = pd.concat(frames, ignore_index=True)
    # Operators' lists are incomplete: every 33rd mast has no height (modelled at REFERENCE_HEIGHT_M).
    towers.loc[towers.index % 33 == 7, "height_m"] = np.nan
    towers["site_id"] = towers["prefix"] + "-" + (towers.groupby("prefix").cumcount() + 1).map("{:05d}".format)
    return towers.drop(columns="prefix")


def _best_server_dbm(radio: Radio, site_lon: NDArray, site_lat: NDArray, height_m: NDArray,
                     xyz: NDArray) -> NDArray[np.float64]:
    """Best-server signal level (dBm) at points given as unit vectors: exact maximum over all sites.

    The k nearest sites are evaluated; a site farther than the k-th cannot beat the best found when even with the
    tallest mast its level at the k-th distance is lower. Points where that bound is not met are redone with more
    neighbours, so the result equals a brute-force maximum over every site.
    """
    tree = cKDTree(unit_vectors(site_lon, site_lat))
    best = np.full(len(xyz), -np.inf)
    todo = np.arange(len(xyz))
    k = 4
    tallest = np.nanmax(height_m)
    while todo.size:
        kk = min(k, len(site_lon))
        chord, idx = tree.query(xyz[todo], k=list(range(1, kk + 1)))
        # Great-circle distance on the mean sphere: within 0.5 % of the ellipsoidal geodesic, i.e. within
        # 35 log10(1.005) = 0.08 dB here, well inside the model's own uncertainty.
        level = received_dbm(radio, chord_to_km(chord), height_m[idx])
        best[todo] = level.max(axis=1)
        if kk == len(site_lon):
            break
        bound = received_dbm(radio, chord_to_km(chord[:, -1]), tallest)
        todo = todo[best[todo] < bound]
        k *= 4
    return best


def _coverage(towers: pd.DataFrame, grid: _Grid) -> dict[tuple[str, str], NDArray[np.int16]]:
    """Signal level rasters (whole dBm, int16, nodata outside the country) per operator and technology."""
    rows, cols = np.nonzero(grid.inside)
    xyz = unit_vectors(grid.lon[cols], grid.lat[rows])
    height = towers["height_m"].to_numpy(float)
    out = {}
    for op in OPERATORS:
        mine = towers["operator"].to_numpy() == op.name
        for technology in ("GSM", "UMTS", "LTE", "NR"):
            sites = mine & towers[technology].to_numpy()
            if not sites.any():
                continue
            radio = RADIOS[technology]
            if technology == "LTE":
                radio = Radio("LTE", op.lte_mhz, radio.eirp_dbm, radio.design_edge_dbm)
            level = _best_server_dbm(
                radio, towers["lon"].to_numpy()[sites], towers["lat"].to_numpy()[sites],
                np.where(np.isnan(height[sites]), REFERENCE_HEIGHT_M, height[sites]), xyz,
            )
            array = np.full((grid.height, grid.width), np.iinfo(np.int16).min, dtype=np.int16)
            array[rows, cols] = np.clip(np.round(level), SIGNAL_FLOOR_DBM, SIGNAL_CEILING_DBM).astype(np.int16)
            out[(op.name, technology)] = array
    return out


def _population(rng: np.random.Generator, towns: _Towns, grid: _Grid, elevation: NDArray,
                rivers: list[_Line]) -> NDArray[np.float64]:
    """People per pixel: each town spread by a Gaussian kernel, plus RURAL_POPULATION over low valleys."""
    pop = np.zeros((grid.height, grid.width))
    x_col = _to_plane(grid.lon, CENTRE_LAT_DEG)[0]
    y_row = _to_plane(CENTRE_LON_DEG, grid.lat)[1]
    row, col = grid.pixel_of(towns.lon, towns.lat)
    half_rows = np.ceil(4.0 * towns.sigma_km / (PIXEL_DEG * _KM_PER_DEG_LAT)).astype(int) + 1
    half_cols = np.ceil(4.0 * towns.sigma_km / (PIXEL_DEG * _KM_PER_DEG_LON)).astype(int) + 1
    for i in range(towns.population.size):  # ~550 towns, each a small window
        r0, r1 = max(row[i] - half_rows[i], 0), min(row[i] + half_rows[i] + 1, grid.height)
        c0, c1 = max(col[i] - half_cols[i], 0), min(col[i] + half_cols[i] + 1, grid.width)
        dx = x_col[c0:c1][None, :] - towns.x_km[i]
        dy = y_row[r0:r1][:, None] - towns.y_km[i]
        kernel = np.exp(-(dx**2 + dy**2) / (2.0 * towns.sigma_km[i] ** 2)) * grid.inside[r0:r1, c0:c1]
        if kernel.sum() == 0.0:  # a village narrower than a pixel: all in its own pixel (inside: 3 km from border)
            kernel[row[i] - r0, col[i] - c0] = 1.0
        pop[r0:r1, c0:c1] += towns.population[i] * kernel / kernel.sum()
    river_km = _river_distance_km(rivers, x_col[None, :], y_row[:, None])
    texture = np.exp(0.5 * _smooth_noise(rng, pop.shape, corner_px=6.0))
    rural = np.exp(-(elevation - 400.0) / 700.0) * (0.15 + np.exp(-((river_km / 15.0) ** 2))) * texture
    rural = np.where(grid.inside, rural, 0.0)
    return pop + RURAL_POPULATION * rural / rural.sum()


def _place_schools(rng: np.random.Generator, towns: _Towns, n_schools: int,
                   outline_deg: shapely.Polygon) -> tuple[NDArray, NDArray, NDArray]:
    """Town of each school and its position: a town's share ∝ population^0.7, scattered like its people."""
    weight = towns.population**0.7
    exact = n_schools * weight / weight.sum()
    count = np.floor(exact).astype(int)
    remainder = n_schools - count.sum()
    count[np.argsort(-(exact - count), kind="stable")[:remainder]] += 1
    town = np.repeat(np.arange(towns.population.size), count)
    sigma = towns.sigma_km[town].copy()
    x = np.empty(n_schools)
    y = np.empty(n_schools)
    redo = np.arange(n_schools)
    for _attempt in range(60):
        x[redo] = towns.x_km[town[redo]] + rng.normal(0.0, 1.0, redo.size) * sigma[redo]
        y[redo] = towns.y_km[town[redo]] + rng.normal(0.0, 1.0, redo.size) * sigma[redo]
        lon, lat = _to_lonlat(x, y)
        outside = ~shapely.contains_xy(outline_deg, lon, lat)
        # No two schools closer than 150 m by accident: only the planted pair may trip the 50 m check.
        _, j, _ = PointIndex(lon, lat).pairs_within(0.15)
        close = np.zeros(n_schools, dtype=bool)
        close[j] = True
        redo = np.flatnonzero(outside | close)
        if redo.size == 0:
            return town, lon, lat
        sigma[redo] *= 1.25  # a crowded village spreads out until its schools fit
    raise RuntimeError(f"could not place {redo.size} schools after 60 attempts")  # pragma: no cover


def _schools(rng: np.random.Generator, towns: _Towns, n_schools: int, outline_deg: shapely.Polygon,
             admin2: gpd.GeoDataFrame, grid: _Grid, elevation: NDArray,
             coverage: dict[tuple[str, str], NDArray]) -> tuple[pd.DataFrame, list[PlantedRow]]:
    """The school register as text columns (what a ministry would export), and the planted rows."""
    town, lon, lat = _place_schools(rng, towns, n_schools, outline_deg)
    admin1, admin2_names = _locate(admin2, lon, lat)
    if (admin2_names == "").any():  # pragma: no cover - schools are placed inside the union of the districts
        raise RuntimeError("a demo school fell outside every district")
    district_code = pd.Series(admin2_names).map(dict(zip(admin2["ADM2_EN"], admin2["ADM2_PCODE"], strict=True)))
    # Register order: by district, then town (largest first), then at random.
    order = np.lexsort((rng.uniform(size=n_schools), town, district_code.to_numpy(dtype=str)))
    town, lon, lat = town[order], lon[order], lat[order]
    admin1, admin2_names = admin1[order], admin2_names[order]
    district = district_code.to_numpy(dtype=str)[order]
    number_in_town = pd.Series(town).groupby(town).cumcount().to_numpy() + 1
    number_in_district = pd.Series(district).groupby(district).cumcount().to_numpy() + 1
    # IDs: region (2 digits), district (2), sequence (4): "01030042" — the leading zero must survive.
    school_id = pd.Series(district).str.slice(2) + pd.Series(number_in_district).map("{:04d}".format)

    kind = towns.kind[town]
    urban = np.isin(kind, ["capital", "city", "town"])
    u = rng.uniform(size=(8, n_schools))
    level = np.where(
        urban,
        np.select([u[0] < 0.22, u[0] < 0.72, u[0] < 0.97], _LEVELS[:3], _LEVELS[3]),
        np.select([u[0] < 0.55, u[0] < 0.93, u[0] < 0.98], _LEVELS[:3], _LEVELS[3]),
    )
    primary = (level == "Primary") | (level == "Pre-Primary")
    number = pd.Series(number_in_town).astype(str)
    town_latin = pd.Series(towns.name[town])
    town_cyrillic = pd.Series(towns.name_tg[town])
    person = pd.Series(np.array(_PEOPLE)[rng.integers(0, len(_PEOPLE), n_schools)])
    english = np.where(primary, "Primary School No. ", "School No. ") + number + ", " + town_latin
    tajik = np.where(primary, "Maktabi ibtidoii № ", "Maktabi miyonai № ") + number + ", " + town_latin
    cyrillic = np.where(primary, "Мактаби ибтидоӣ № ", "Мактаби миёнаи № ") + number + ", " + town_cyrillic
    named = "School No. " + number + " named after " + person + ", " + town_latin
    choices = [np.asarray(pd.Series(v).to_numpy(dtype=object)) for v in (english, tajik, cyrillic, named)]
    name = np.select([u[1] < 0.5, u[1] < 0.68, u[1] < 0.88], choices[:3], choices[3])

    median_students = np.select([kind == "capital", kind == "city", kind == "town"], [950.0, 800.0, 520.0], 150.0)
    students = np.clip(np.exp(rng.normal(np.log(median_students), 0.5)), 8, 3_500).round()
    teachers = np.maximum(1.0, (students / rng.uniform(14.0, 26.0, n_schools)).round())
    row, col = grid.pixel_of(lon, lat)
    z = elevation[row, col]
    p_power = np.select([kind == "capital", kind == "city", kind == "town"], [0.995, 0.98, 0.93], 0.8)
    p_power = p_power - 0.25 * (z > 2500.0)
    electricity = u[2] < p_power
    lte = np.max([a[row, col] for (_, t), a in coverage.items() if t == "LTE"], axis=0).astype(float)
    lte = np.maximum(lte, SIGNAL_FLOOR_DBM)  # a school in a border pixel whose centre is abroad: no signal known
    logit = -3.0 + 0.9 * (lte + 105.0) / 10.0 + 1.0 * urban + 1.5 * electricity - 2.5 * ~electricity
    connected = u[3] < 1.0 / (1.0 + np.exp(-logit))
    connectivity = np.where(u[4] < 0.22, "", np.where(connected, "Yes", "No"))

    table = pd.DataFrame({
        "school_id_govt": school_id.to_numpy(dtype=object),
        "school_name": name,
        "latitude": np.char.mod("%.6f", lat).astype(object),
        "longitude": np.char.mod("%.6f", lon).astype(object),
        "education_level": level.astype(object),
        "admin1": admin1,
        "admin2": admin2_names,
        "num_students": np.char.mod("%d", students).astype(object),
        "num_teachers": np.char.mod("%d", teachers).astype(object),
        "electricity_availability": np.where(electricity, "Yes", "No").astype(object),
        "connectivity": connectivity.astype(object),
    })
    table.loc[u[5] < 0.015, "num_students"] = ""
    table.loc[u[6] < 0.02, "num_teachers"] = ""
    planted = _plant(rng, table, lon, lat, outline_deg)
    return table, planted


def _plant(rng: np.random.Generator, table: pd.DataFrame, lon: NDArray, lat: NDArray,
           outline_deg: shapely.Polygon) -> list[PlantedRow]:
    """Put the hostile names and the register defects into the table (in place) and describe them."""
    # Rows well inside the country (about 2 km), so moving one 20 m keeps it inside.
    inner = np.flatnonzero(shapely.contains_xy(outline_deg.buffer(-0.02), lon, lat))
    picks = rng.choice(inner, size=len(HOSTILE_NAMES) + 6, replace=False)
    hostile_rows, defect_rows = picks[: len(HOSTILE_NAMES)], picks[len(HOSTILE_NAMES):]
    planted: list[PlantedRow] = []

    def note(kind: str, i: int, text: str) -> None:
        planted.append(PlantedRow(kind, int(i) + 2, table.at[i, "school_id_govt"], table.at[i, "school_name"], text))

    for i, hostile in zip(hostile_rows, HOSTILE_NAMES, strict=True):
        table.at[i, "school_name"] = hostile
        note("hostile_name", i, "name must stay text in every output (HTML, JavaScript, templates, Excel, CSV)")

    original, copy = sorted(defect_rows[:2])
    table.at[copy, "school_id_govt"] = table.at[original, "school_id_govt"]
    note("duplicate_id", copy, f"same school_id_govt as row {original + 2}, another school: flag duplicate_id")

    # The school moved next to the anchor is the anchor's geographic neighbour (same town), as when a register
    # lists one school twice under two names.
    anchor = defect_rows[2]
    free = np.ones(len(table), dtype=bool)
    free[picks] = False
    free &= np.isfinite(lon)
    candidates = np.flatnonzero(free)
    moved = int(candidates[PointIndex(lon[candidates], lat[candidates]).nearest([lon[anchor]], [lat[anchor]]).index[0]])
    new_lon, new_lat, _ = pyproj.Geod(ellps="WGS84").fwd(lon[anchor], lat[anchor], 60.0, 20.0)
    table.loc[moved, ["latitude", "longitude"]] = [f"{new_lat:.6f}", f"{new_lon:.6f}"]
    table.loc[moved, ["admin1", "admin2"]] = table.loc[anchor, ["admin1", "admin2"]].to_list()
    note("near_duplicate_location", moved,
         f"20 m from the school in row {anchor + 2} (another name): flag near_duplicate_location")

    swapped = defect_rows[3]
    table.loc[swapped, ["latitude", "longitude"]] = table.loc[swapped, ["longitude", "latitude"]].to_list()
    note("swapped_coordinates", swapped, "latitude and longitude exchanged: the validator swaps them back")

    missing = defect_rows[4]
    table.loc[missing, ["latitude", "longitude"]] = ["", ""]
    note("missing_coordinates", missing, "latitude and longitude empty: rejected with missing_coordinates")

    typo = defect_rows[5]
    students = int(table.at[typo, "num_students"] or 1240)
    while students <= 10_000:  # digits typed twice
        students *= 10
    table.at[typo, "num_students"] = str(students)
    note("implausible_num_students", typo, "enrolment typed with extra digits: flag num_students_implausible")

    # A Cyrillic name in decomposed Unicode (NFD), as some Mac exports write it.
    names = table["school_name"].astype(str)
    used = np.zeros(len(table), dtype=bool)
    used[picks] = True
    used[moved] = True
    decomposable = np.flatnonzero(~used & (names.str.normalize("NFD") != names).to_numpy())
    nfd = int(decomposable[0]) if decomposable.size else int(np.flatnonzero(~used)[0])
    if not decomposable.size:  # pragma: no cover - about a fifth of the names are Cyrillic
        table.at[nfd, "school_name"] = "Мактаби ибтидоӣ № 1, Кӯҳистон"
    table.at[nfd, "school_name"] = unicodedata.normalize("NFD", table.at[nfd, "school_name"])
    note("decomposed_unicode", nfd, "name in Unicode NFD: read back as NFC (the validator normalises text)")
    planted.sort(key=lambda row: row.source_row)
    return planted


def _fibre(towns: _Towns, grid: _Grid, elevation: NDArray) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Backbone over the capital, cities and district towns: MST of least-cost routes that follow the valleys."""
    step = 3  # coarse grid of 3 × 3 pixels, about 2.8 × 2.2 km
    z = elevation[::step, ::step]
    inside = grid.inside[::step, ::step]
    lon = grid.lon[::step]
    lat = grid.lat[::step]
    h, w = z.shape
    node = np.arange(h * w).reshape(h, w)
    src, dst = [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = node[: h - dr, max(0, -dc): w - max(0, dc)]
        b = node[dr:, max(0, dc): w - max(0, -dc)]
        a, b = a.ravel(), b.ravel()
        ok = inside.ravel()[a] & inside.ravel()[b]
        src.append(a[ok])
        dst.append(b[ok])
    src, dst = np.concatenate(src), np.concatenate(dst)
    r_s, c_s = np.divmod(src, w)
    r_d, c_d = np.divmod(dst, w)
    length_km = geodesic_km(lon[c_s], lat[r_s], lon[c_d], lat[r_d])
    z_s, z_d = z.ravel()[src], z.ravel()[dst]
    slope = np.abs(z_d - z_s) / (length_km * 1000.0)
    cost = length_km * (1.0 + 40.0 * slope + (z_s + z_d) / 2.0 / 1500.0)
    graph = sparse.coo_matrix((cost, (src, dst)), shape=(h * w, h * w)).tocsr()

    seats = np.flatnonzero(towns.kind != "village")
    inside_nodes = np.flatnonzero(inside.ravel())
    r_in, c_in = np.divmod(inside_nodes, w)
    tree = cKDTree(unit_vectors(lon[c_in], lat[r_in]))
    seat_node = inside_nodes[tree.query(unit_vectors(towns.lon[seats], towns.lat[seats]))[1]]
    route_cost, predecessors = dijkstra(graph, directed=False, indices=seat_node, return_predecessors=True)
    between = route_cost[:, seat_node]
    if not np.isfinite(between).all():  # pragma: no cover - the outline is one piece
        raise RuntimeError("fibre routing graph is not connected")
    tree_edges = minimum_spanning_tree(sparse.csr_matrix(np.triu(between))).tocoo()
    links = [(int(a), int(b), "operational", FIBRE_OPERATOR) for a, b in zip(tree_edges.row, tree_edges.col,
                                                                                strict=True)]
    # Two planned links close loops between the capital and the cities (redundancy), cheapest first.
    in_tree = {(min(a, b), max(a, b)) for a, b, _, _ in links}
    extra = sorted((between[a, b], a, b) for a in range(5) for b in range(a + 1, 5) if (a, b) not in in_tree)
    links += [(a, b, "planned", OPERATORS[0].name) for _, a, b in extra[:2]]

    line_rows = []
    for number, (a, b, status, operator) in enumerate(links, start=1):
        path = [seat_node[b]]
        while path[-1] != seat_node[a]:
            path.append(predecessors[a, path[-1]])
        r, c = np.divmod(np.asarray(path[::-1]), w)
        coords = np.column_stack((lon[c], lat[r]))
        coords[0] = towns.lon[seats[a]], towns.lat[seats[a]]
        coords[-1] = towns.lon[seats[b]], towns.lat[seats[b]]
        line = shapely.simplify(shapely.LineString(coords), 0.01)
        xy = shapely.get_coordinates(line)
        line_rows.append({
            "line_id": f"DT-L{number:03d}",
            "name": f"{towns.name[seats[a]]} – {towns.name[seats[b]]}",
            "operator": operator,
            "status": status,
            "from_node": f"DT-N{a + 1:03d}",
            "to_node": f"DT-N{b + 1:03d}",
            "length_km": round(float(geodesic_km(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]).sum()), 3),
            "geometry": line,
        })
    lines = gpd.GeoDataFrame(line_rows, geometry="geometry", crs="EPSG:4326")
    nodes = gpd.GeoDataFrame(
        {
            "node_id": [f"DT-N{i + 1:03d}" for i in range(seats.size)],
            "name": towns.name[seats].astype(str),
            "operator": FIBRE_OPERATOR,
            "status": "operational",
        },
        geometry=shapely.points(towns.lon[seats], towns.lat[seats]),
        crs="EPSG:4326",
    )
    return nodes, lines


# --- writers ---------------------------------------------------------------------------------------------------------
def _write_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")


def _write_geojson(path: Path, frame: gpd.GeoDataFrame, layer: str) -> None:
    # The layer name is written into the file: give it explicitly, or GDAL takes it from the random temp name.
    with atomic_path(path) as tmp:
        frame.to_file(tmp, driver="GeoJSON", layer=layer, engine="pyogrio",
                      layer_options={"COORDINATE_PRECISION": "6", "WRITE_BBOX": "NO"})


def _write_geotiff(path: Path, array: NDArray, grid: _Grid, *, nodata: float, tags: dict[str, str], unit: str,
                   description: str) -> None:
    predictor = 3 if np.issubdtype(array.dtype, np.floating) else 2
    profile = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": array.dtype.name,
        "crs": "EPSG:4326", "transform": grid.transform, "nodata": nodata, "tiled": True,
        "blockxsize": _BLOCK, "blockysize": _BLOCK, "compress": "deflate", "predictor": predictor,
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array, 1)
        dst.update_tags(**tags)
        dst.set_band_unit(1, unit)
        dst.set_band_description(1, description)


def _slug(name: str) -> str:
    return "_".join(name.lower().split())


def generate_demo_country(
    folder: str | Path, *, seed: int = DEMO_SEED, n_schools: int = 3000
) -> DemoCountry:
    """Generate the demo country Demoland into ``folder``.

    Parameters
    ----------
    folder
        Output folder (created if needed). Files already there with the same names are replaced atomically.
    seed
        Seed of numpy's generator; the same seed gives byte-identical files.
    n_schools
        Number of rows of the school register (at least 50, for the planted rows). Everything else (towns,
        towers, rasters, fibre) does not depend on it.

    Returns
    -------
    DemoCountry
        The paths written and a :class:`~connectmap.config.Config` naming them.

    Raises
    ------
    ConfigError
        When ``n_schools`` is below 50.
    OutputError
        When ``folder`` is an existing file.

    Examples
    --------
    >>> import tempfile
    >>> demo = generate_demo_country(tempfile.mkdtemp(), n_schools=200)  # doctest: +SKIP
    >>> demo.config.inputs.schools.path  # doctest: +SKIP
    '/tmp/.../schools.csv'
    """
    if int(n_schools) < MIN_SCHOOLS:
        raise ConfigError(f"n_schools={n_schools}: the demo needs at least {MIN_SCHOOLS} schools for its planted rows")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another output folder for the demo")

    def rng(part: int) -> np.random.Generator:
        # One independent stream per part, so changing n_schools leaves towns, towers and rasters unchanged.
        return np.random.default_rng([int(seed), part])

    outline = _outline(rng(1))
    grid = _grid(_plane_geometry_to_lonlat(outline))
    elevation, rivers = _terrain(rng(2), grid)
    towns = _towns(rng(3), outline, grid, elevation, rivers)
    admin1, admin2, outline_deg = _admin_regions(towns, outline)
    # The mask again from the outline as written (snapped), so nodata is exactly outside the written outline.
    grid = dataclasses.replace(grid, inside=_inside(outline_deg, grid))
    towers = _towers(rng(4), towns, rivers, outline)
    coverage = _coverage(towers, grid)
    population = _population(rng(5), towns, grid, elevation, rivers)
    schools, planted = _schools(rng(6), towns, int(n_schools), outline_deg, admin2, grid, elevation, coverage)
    nodes, lines = _fibre(towns, grid, elevation)

    paths = _write_all(folder, outline_deg, admin1, admin2, towns, towers, schools, planted, grid, elevation,
                       population, coverage, nodes, lines, seed=int(seed), n_schools=int(n_schools))
    log.info(
        "Demoland (seed %d): %d schools, %d towns, %d tower sites, %d coverage rasters, %d fibre links -> %s",
        seed, len(schools), towns.population.size, len(towers), len(coverage), len(lines), folder,
    )
    return paths


def _write_all(folder: Path, outline_deg: shapely.Polygon, admin1: gpd.GeoDataFrame, admin2: gpd.GeoDataFrame,
               towns: _Towns, towers: pd.DataFrame, schools: pd.DataFrame, planted: list[PlantedRow], grid: _Grid,
               elevation: NDArray, population: NDArray, coverage: dict[tuple[str, str], NDArray],
               nodes: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, *, seed: int, n_schools: int) -> DemoCountry:
    p = {name: folder / name for name in (
        "schools.csv", "towers.csv", "towns.geojson", "outline.geojson", "admin1.geojson", "admin2.geojson",
        "fibre_nodes.geojson", "fibre_lines.geojson", "population.tif", "dem.tif", "demoland.toml", "planted.json",
    )}
    _write_csv(p["schools.csv"], schools)

    technologies = pd.Series("", index=towers.index)
    for technology in ("GSM", "UMTS", "LTE", "NR"):
        technologies = technologies + np.where(towers[technology], _GENERATION[technology] + ";", "")
    tower_list = pd.DataFrame({
        "site_id": towers["site_id"],
        "operator": towers["operator"],
        "technologies": technologies.str.rstrip(";"),
        "height_m": np.where(towers["height_m"].isna(), "", towers["height_m"].map("{:.0f}".format)),
        "latitude": np.char.mod("%.6f", towers["lat"].to_numpy()),
        "longitude": np.char.mod("%.6f", towers["lon"].to_numpy()),
    })
    _write_csv(p["towers.csv"], tower_list)

    row, col = grid.pixel_of(towns.lon, towns.lat)
    town_admin1, town_admin2 = _locate(admin2, towns.lon, towns.lat)
    town_frame = gpd.GeoDataFrame(
        {
            "town_id": [f"T{i + 1:04d}" for i in range(towns.population.size)],
            "name": towns.name.astype(str),
            "name_tg": towns.name_tg.astype(str),
            "kind": towns.kind.astype(str),
            "population": towns.population.astype(np.int64),
            "admin1": town_admin1.astype(str),
            "admin2": town_admin2.astype(str),
            "elevation_m": elevation[row, col].round().astype(np.int64),
        },
        geometry=shapely.points(towns.lon, towns.lat),
        crs="EPSG:4326",
    )
    _write_geojson(p["towns.geojson"], town_frame, "towns")
    outline_frame = gpd.GeoDataFrame({"ADM0_EN": [COUNTRY], "ADM0_PCODE": [COUNTRY_CODE]},
                                     geometry=[outline_deg], crs="EPSG:4326")
    _write_geojson(p["outline.geojson"], outline_frame, "outline")
    _write_geojson(p["admin1.geojson"], admin1, "admin1")
    _write_geojson(p["admin2.geojson"], admin2, "admin2")
    _write_geojson(p["fibre_nodes.geojson"], nodes, "fibre_nodes")
    _write_geojson(p["fibre_lines.geojson"], lines, "fibre_lines")

    pop = np.where(grid.inside, population, -99999.0).astype(np.float32)
    _write_geotiff(p["population.tif"], pop, grid, nodata=-99999.0, unit="people",
                   tags={"value": "count", "units": "people per pixel", "source": "connectmap demo (synthetic)"},
                   description="Population (people per pixel)")
    _write_geotiff(p["dem.tif"], elevation.round().astype(np.int16), grid, nodata=-32768, unit="m",
                   tags={"value": "elevation", "units": "m above sea level", "source": "connectmap demo (synthetic)"},
                   description="Elevation (m)")
    coverage_paths: dict[tuple[str, str], Path] = {}
    for (operator, technology), array in coverage.items():
        path = folder / "coverage" / f"{_slug(operator)}_{technology.lower()}.tif"
        _write_geotiff(
            path, array, grid, nodata=float(np.iinfo(np.int16).min), unit="dBm",
            tags={"technology": technology, "operator": operator, "value": "dbm", "units": "dBm",
                  "model": "best-server log-distance path loss, terrain-blind (connectmap.demo.path_loss_db)",
                  "source": "connectmap demo (synthetic)"},
            description=f"{operator} {_GENERATION[technology]} ({technology}) signal level (dBm)",
        )
        coverage_paths[(operator, technology)] = path

    relative = {key: path.relative_to(folder).as_posix() for key, path in
                {**p, **{f"cov{i}": c for i, c in enumerate(coverage_paths.values())}}.items()}
    inputs = {
        "name": "demo",
        "country": COUNTRY,
        "schools": {"path": relative["schools.csv"]},
        "towers": [relative["towers.csv"]],
        "coverage": [relative[f"cov{i}"] for i in range(len(coverage_paths))],
        "fibre": [relative["fibre_nodes.geojson"], relative["fibre_lines.geojson"]],
        "population": relative["population.tif"],
        "boundaries": relative["admin2.geojson"],
        "boundary_admin1_field": "ADM1_EN",
        "boundary_admin2_field": "ADM2_EN",
        "dem": relative["dem.tif"],
    }
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Demoland, the connectmap demo country (seed {seed}, {n_schools} schools)."))
    doc.add(tomlkit.comment("Generated by connectmap.demo.generate_demo_country; paths are relative to this file."))
    doc.add("inputs", inputs)
    with atomic_path(p["demoland.toml"]) as tmp:
        tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    planted_doc = {
        "country": COUNTRY, "seed": seed, "n_schools": n_schools,
        "planted": [vars(row) for row in planted],
    }
    with atomic_path(p["planted.json"]) as tmp:
        tmp.write_text(json.dumps(planted_doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    absolute = {key: str(path.resolve()) for key, path in p.items()}
    config = Config(inputs=InputsParams(
        name="demo",
        country=COUNTRY,
        schools=SchoolInput(path=absolute["schools.csv"]),
        towers=[absolute["towers.csv"]],
        coverage=[str(path.resolve()) for path in coverage_paths.values()],
        fibre=[absolute["fibre_nodes.geojson"], absolute["fibre_lines.geojson"]],
        population=absolute["population.tif"],
        boundaries=absolute["admin2.geojson"],
        boundary_admin1_field="ADM1_EN",
        boundary_admin2_field="ADM2_EN",
        dem=absolute["dem.tif"],
    ))
    return DemoCountry(
        folder=folder, schools=p["schools.csv"], towers=p["towers.csv"], towns=p["towns.geojson"],
        outline=p["outline.geojson"], admin1=p["admin1.geojson"], admin2=p["admin2.geojson"],
        fibre_nodes=p["fibre_nodes.geojson"], fibre_lines=p["fibre_lines.geojson"], population=p["population.tif"],
        dem=p["dem.tif"], coverage=coverage_paths, config_file=p["demoland.toml"], planted_file=p["planted.json"],
        planted=tuple(planted), config=config,
    )
