"""The map's data, page and PNG without a browser: escaping, self-contained page, categories, regions, rasters.

Browser behaviour (offline loading, popups, search, pixels) is in ``test_maps_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from connectmap.config import config_from_dict
from connectmap.errors import ConfigError, CRSError, SchemaError
from connectmap.parameters.maps import MapParams
from connectmap.report import map_data as md
from connectmap.report.map_raster import coverage_overlay
from connectmap.report.maps import build_map, build_map_data, render_map_html
from connectmap.report.safe_html import page_json
from connectmap.report.static_map import render_static_map, write_static_map
from connectmap.report.text import clean_text

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "</script><script>window.__pwned=3</script>",
    "${window.__pwned=4}",
    "`;window.__pwned=5;`",
    "{{ 7*7 }} {% for x in y %}{% endfor %} {# note #}",
    'back\\slash "double" \'single\'',
    "ctrl\x00\x07\x1b line\u2028para\u2029end",
    "<!-- --> & &amp; &lt;",
]


def schools_table(n: int = 40, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    connectivity = pd.array(rng.choice(np.array([True, False, None], dtype=object), n), dtype="boolean")
    return gpd.GeoDataFrame({
        "source_row": np.arange(2, n + 2),
        "school_id_govt": [f"{i:05d}" for i in range(n)],
        "school_name": [f"School {i}" for i in range(n)],
        "admin1": rng.choice(["North", "South"], n),
        "num_students": rng.integers(20, 800, n).astype(float),
        "connectivity": connectivity,
        "technology": rng.choice(np.array(["fibre", "cellular", "satellite", "microwave", None], dtype=object), n),
        "cost_per_student_usd": rng.gamma(2.0, 40.0, n),
        "npv_usd": rng.gamma(2.0, 4000.0, n),
    }, geometry=gpd.points_from_xy(rng.uniform(-12, -6, n), rng.uniform(15, 20, n)), crs=4326)


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of script and style elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, dict[str, str | None], str]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))

    def handle_data(self, data):
        if self._open:
            self.texts.append((*self._open, data))
            self._open = None


def parse_page(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def page_data(html: str) -> dict:
    found = [text for tag, attrs, text in parse_page(html).texts if attrs.get("type") == "application/json"]
    assert len(found) == 1
    return json.loads(found[0])


# --- escaping -----------------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_page_json_never_contains_markup_and_round_trips(text):
    out = page_json({"name": text, text: [text, 1.5]})
    assert not set(out) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(out) == {"name": clean_text(text)[0], clean_text(text)[0]: [clean_text(text)[0], 1.5]}


def test_page_json_numbers_and_missing_values():
    out = json.loads(page_json({"a": [1.0, float("nan"), float("inf"), 2], "b": np.array([1, 2], dtype=np.int64),
                                "c": pd.NA, "d": np.float32(0.5), "e": (True, None)}))
    assert out == {"a": [1.0, None, None, 2], "b": [1, 2], "c": None, "d": 0.5, "e": [True, None]}


# --- the page -------------------------------------------------------------------------------------------------------
def test_page_is_self_contained_with_a_strict_content_security_policy():
    html = build_map(schools_table())
    page = parse_page(html)
    # No element loads anything: no src/href at all, no <link>, no <iframe>.
    for tag, attrs in page.tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed")
    scripts = [(attrs, text) for tag, attrs, text in page.texts if tag == "script"]
    assert [attrs.get("type") for attrs, _ in scripts] == ["application/json", None, None]
    assert html.lower().count("</script") == 3  # only the three elements' own end tags
    # Every url() in the CSS is a data: URI (leaflet.css's images are inlined), except IE's VML behaviour fragment.
    for _, _, css in (t for t in page.texts if t[0] == "style"):
        for url in re.findall(r"url\(([^)]*)\)", css):
            assert url.startswith("data:image/png;base64,") or url == "#default#VML", url
    # The CSP allows exactly the two embedded scripts, by hash, and images from data: and the tile server only.
    csp = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
              for attrs, text in scripts[1:]}
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    assert set(script_src) == hashes and len(hashes) == 2
    assert "default-src 'none'" in csp and "img-src data: https://tile.openstreetmap.org" in csp
    assert "unsafe-inline" not in re.search(r"script-src[^;]*", csp).group(0)


def test_hostile_text_reaches_the_page_only_inside_the_json(tmp_path):
    marker = tmp_path / "jinja_ran"
    names = [*HOSTILE, "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"]
    schools = schools_table(len(names))
    schools["school_name"] = names
    schools["admin1"] = names
    hostile_column = '<img src=x onerror="window.__pwned=9">'
    schools[hostile_column] = names
    towers = gpd.GeoDataFrame({"site_id": names[:3], "operator": names[:3], "technology": ["GSM", "UMTS", "LTE"]},
                              geometry=gpd.points_from_xy([-10, -9, -8], [16, 17, 18]), crs=4326)
    params = MapParams(title=HOSTILE[1], popup_columns=["admin1", hostile_column])
    html = build_map(schools, towers=towers, params=params)
    assert not marker.exists()
    # Outside our own code (Leaflet and map.js, which are not data), no payload appears as written.
    shell = html
    for _, attrs, text in parse_page(html).texts:
        if attrs.get("type") != "application/json":
            shell = shell.replace(text, "")
    # (``onerror=``, ``${`` and backticks do stay, as text inside JSON strings, which nothing evaluates.)
    for payload in ("<img", "<svg", "<script>window", "&amp;", "<!-- -->"):
        assert payload not in shell, payload
    data = page_data(html)
    school_layer = data["points"][-1]
    assert [md_value(school_layer["columns"]["school_name"], i) for i in range(len(names))] == [
        clean_text(n)[0] for n in names]
    assert data["title"] == HOSTILE[1]
    assert [f["label"] for f in school_layer["fields"]] == ["Region", hostile_column]
    tower_operators = [layer["colourings"][0]["legend"][0]["label"] for layer in data["points"][:3]]
    assert sorted(tower_operators) == sorted(clean_text(n)[0] for n in names[:3])


def md_value(column: dict, i: int):
    """Value ``i`` of an encoded column (the same decoding the page's script does)."""
    if "d" in column:
        return None if column["c"][i] < 0 else column["d"][column["c"][i]]
    return column["v"][i]


# --- what is drawn --------------------------------------------------------------------------------------------------
def test_categories_match_an_independent_count():
    schools = schools_table(300, seed=3)
    schools.loc[schools.index[:5], "geometry"] = None  # rows without a point are not drawn
    schools["connectivity_probability"] = np.where(np.arange(300) % 7 == 0, 0.8, np.nan)
    schools["connectivity_source"] = np.where(np.arange(300) % 11 == 0, "predicted", "reported")
    data = build_map_data(schools)
    layer = data["points"][-1]
    kept = schools.iloc[5:]
    assert len(layer["lat"]) == len(layer["lon"]) == 295
    assert layer["lat"] == [round(y, 5) for y in kept.geometry.y]

    # Independent classification, row by row.
    expected = []
    for value, p, source in zip(kept["connectivity"], kept["connectivity_probability"], kept["connectivity_source"],
                                strict=True):
        if value is pd.NA and np.isfinite(p):
            expected.append("Connected (predicted)" if p >= 0.5 else "Not connected (predicted)")
        elif value is pd.NA:
            expected.append("Unknown")
        else:
            state = "Connected" if value else "Not connected"
            expected.append(f"{state} ({'predicted' if source == 'predicted' else 'reported'})")
    colouring = next(c for c in layer["colourings"] if c["key"] == "connectivity")
    labels = [entry["label"] for entry in colouring["legend"]]
    assert [labels[c] for c in colouring["codes"]] == expected
    assert [e["count"] for e in colouring["legend"]] == [expected.count(label) for label in labels]

    technology = next(c for c in layer["colourings"] if c["key"] == "technology")
    tech_labels = [e["label"] for e in technology["legend"]]
    assert [tech_labels[c] for c in technology["codes"]] == [
        t if isinstance(t, str) else "none feasible" for t in kept["technology"]]


def test_cost_bands_are_ordered_quantiles():
    schools = schools_table(500, seed=5)
    schools.loc[schools.index[::10], "cost_per_student_usd"] = np.nan
    params = MapParams(colour_schools_by="cost_per_student_usd", cost_band_count=5)
    colouring = build_map_data(schools, params=params)["points"][-1]["colourings"][0]
    assert colouring["key"] == "cost_per_student_usd"
    codes = np.array(colouring["codes"])
    values = schools["cost_per_student_usd"].to_numpy()
    assert colouring["legend"][-1]["label"] == "Not costed"
    assert (codes == len(colouring["legend"]) - 1).sum() == np.isnan(values).sum() == 50
    bands = [values[codes == b] for b in range(len(colouring["legend"]) - 1)]
    assert len(bands) == 5
    for lower, upper in itertools.pairwise(bands):
        assert lower.max() <= upper.min()
    # Quantile bands: each holds about a fifth of the 450 costed schools (edges are rounded to 2 figures).
    assert all(60 <= len(b) <= 120 for b in bands), [len(b) for b in bands]
    # The labels state the edges: every value lies inside its band's label.
    for band, entry in zip(bands, colouring["legend"][:-1], strict=True):
        low, high = (float(x.replace(",", "").split()[0]) for x in entry["label"].split(" – "))
        assert low <= band.min() and band.max() <= high


def test_region_summary_matches_a_brute_force_count():
    rng = np.random.default_rng(11)
    n = 120
    schools = gpd.GeoDataFrame({
        "num_students": np.where(rng.random(n) < 0.1, np.nan, rng.integers(10, 500, n)).astype(float),
        "connectivity": pd.array(rng.choice(np.array([True, False, None], dtype=object), n), dtype="boolean"),
        "cost_per_student_usd": np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 50, n)),
    }, geometry=gpd.points_from_xy(rng.uniform(0, 3, n), rng.uniform(0, 2, n)), crs=4326)
    regions = gpd.GeoDataFrame({"admin1": ["West", "East", "Empty"]},
                               geometry=[shapely.box(0, 0, 1.5, 2), shapely.box(1.5, 0, 2.6, 2),
                                         shapely.box(10, 10, 11, 11)], crs=4326)
    summary = md.region_summary(schools, regions, MapParams())
    for r, region in regions.iterrows():
        inside = [i for i in range(n) if region.geometry.intersects(schools.geometry.iloc[i])]
        # a school on the shared edge belongs to the first region only
        if r == 1:
            inside = [i for i in inside if not regions.geometry.iloc[0].intersects(schools.geometry.iloc[i])]
        known = [i for i in inside if schools["connectivity"].iloc[i] is not pd.NA]
        connected = [i for i in known if schools["connectivity"].iloc[i]]
        unconnected_students = sum(schools["num_students"].iloc[i] for i in known
                                   if not schools["connectivity"].iloc[i] and
                                   not np.isnan(schools["num_students"].iloc[i]))
        costed = [i for i in inside if np.isfinite(schools["cost_per_student_usd"].iloc[i])
                  and np.isfinite(schools["num_students"].iloc[i])]
        row = summary.iloc[r]
        assert row[md.REGION_SCHOOLS] == len(inside)
        if known:
            assert row[md.REGION_PCT_CONNECTED] == pytest.approx(100 * len(connected) / len(known))
        else:
            assert np.isnan(row[md.REGION_PCT_CONNECTED])
        assert row[md.REGION_STUDENTS_UNCONNECTED] == pytest.approx(unconnected_students)
        if costed:
            total = sum(schools["cost_per_student_usd"].iloc[i] * schools["num_students"].iloc[i] for i in costed)
            students = sum(schools["num_students"].iloc[i] for i in costed)
            assert row[md.REGION_COST_PER_STUDENT] == pytest.approx(total / students)
        else:
            assert np.isnan(row[md.REGION_COST_PER_STUDENT])
    assert summary[md.REGION_SCHOOLS].iloc[2] == 0


def test_popup_fields_keep_ids_as_text_and_parse_numbers_read_as_text():
    table = gpd.GeoDataFrame({
        "school_id_govt": ["00123", "00456"],
        "npv_usd": ["1234.6", ""],  # as a GeoPackage read back as text gives it
        "nearest_LTE_distance": [1.23456, np.nan],
        "electricity_availability": pd.array([True, None], dtype="boolean"),
        "connectivity_probability": [0.4567, 0.9],
    }, geometry=gpd.points_from_xy([0, 1], [0, 1]), crs=4326)
    columns, fields = md.encode_fields(table, list(table.columns))
    formats = {f["key"]: (f["format"], f["unit"]) for f in fields}
    assert formats == {"school_id_govt": ("text", ""), "npv_usd": ("usd", "USD"), "nearest_LTE_distance": ("km", "km"),
                       "electricity_availability": ("bool", ""), "connectivity_probability": ("percent", "%")}
    assert [md_value(columns["school_id_govt"], i) for i in range(2)] == ["00123", "00456"]
    assert columns["npv_usd"]["v"] == [1235, None]
    assert columns["nearest_LTE_distance"]["v"] == [1.23, None]
    assert columns["electricity_availability"]["v"] == [1, None]
    assert columns["connectivity_probability"]["v"] == [45.7, 90.0]


def test_fibre_not_operational_is_dashed():
    """Planned, under-construction and decommissioned routes are flagged for dashing; unknown status is not."""
    lines = gpd.GeoDataFrame(
        {"line_id": list("abcde"), "status": pd.array(["operational", "planned", None, " Operational",
                                                       "underConstruction"], dtype="string")},
        geometry=[shapely.LineString([(i, 0), (i, 1)]) for i in range(5)], crs=4326)
    layer = build_map_data(schools_table(3), fibre=lines, params=MapParams(outline_simplify_m=0))["lines"][0]
    assert layer["dashed"] == [0, 1, 0, 0, 1] and layer["dashedCount"] == 2
    no_status = build_map_data(schools_table(3), fibre=lines.drop(columns="status"), params=MapParams())["lines"][0]
    assert no_status["dashed"] == [0] * 5 and no_status["dashedCount"] == 0


def test_lines_and_fibre_nodes_keep_every_part():
    lines = gpd.GeoDataFrame({"line_id": ["a", "b"], "medium": ["fibre", "microwave"]}, geometry=[
        shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 2), (4, 3)]]),
        shapely.LineString([(5, 5), (6, 5)]),
    ], crs=4326)
    nodes = gpd.GeoDataFrame({"node_id": ["n1"]}, geometry=[shapely.Point(0, 0)], crs=4326)
    params = MapParams(outline_simplify_m=0)
    data = build_map_data(schools_table(3), fibre=pd.concat([lines, nodes]), params=params)
    layer = data["lines"][0]
    assert layer["feature"] == [0, 0, 1]
    assert layer["paths"] == [[0, 0, 1, 1], [2, 2, 2, 3, 3, 4], [5, 5, 5, 6]]  # lat, lon pairs
    assert [layer["colouring"]["legend"][c]["label"] for c in layer["colouring"]["codes"]] == ["fibre", "microwave"]
    assert [p["id"] for p in data["points"]] == ["fibre_nodes", "schools"]


def test_coverage_raster_overlay_is_placed_exactly(tmp_path):
    # A 10x10 coverage GeoTIFF (0.1 degree cells), written and read back with rasterio.
    path = tmp_path / "lte.tif"
    covered = np.zeros((10, 10), dtype=np.float32)
    covered[2:5, 3:8] = 1
    covered[7, :] = np.nan  # unknown stays transparent
    transform = from_origin(-10.0, 18.0, 0.1, 0.1)
    with rasterio.open(path, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32", crs="EPSG:4326",
                       transform=transform, nodata=np.nan) as dst:
        dst.write(covered, 1)
    with rasterio.open(path) as src:
        values, src_transform, crs = src.read(1), src.transform, src.crs
    overlay = coverage_overlay(values, src_transform, crs, name="LTE", colour="#2c7bb6", max_px=512)
    south, west, north, east = overlay.bounds
    assert (west, east) == pytest.approx((-10.0, -9.0), abs=1e-6)
    assert (south, north) == pytest.approx((17.0, 18.0), abs=1e-6)
    image = np.asarray(Image.open(io.BytesIO(overlay.png)))
    assert image.shape[2] == 4 and (image == overlay.rgba).all()
    # Centre of every source cell -> Web Mercator -> output pixel: mostly opaque where covered, mostly clear where
    # not (pixels straddling two source cells average them), and fully clear on the unknown row.
    to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y_top, y_bottom) = to_mercator.transform([west, east], [north, south])
    rows, cols = image.shape[:2]
    for r in range(10):
        for c in range(10):
            lon, lat = src_transform @ (c + 0.5, r + 0.5)
            x, y = to_mercator.transform(lon, lat)
            alpha = int(image[int((y_top - y) / (y_top - y_bottom) * rows), int((x - x0) / (x1 - x0) * cols), 3])
            if covered[r, c] == 1:
                assert alpha >= 128, (r, c, alpha)
            else:
                assert alpha < 128 and (r != 7 or alpha == 0), (r, c, alpha)
    # Averaging keeps the covered area: alpha-weighted pixel area = covered cells' area, both in Web Mercator.
    pixel_area = (x1 - x0) / cols * (y_top - y_bottom) / rows
    covered_area = 0.0
    for r, c in zip(*np.nonzero(covered == 1), strict=True):
        (cx0, cx1), (cy0, cy1) = to_mercator.transform([-10 + 0.1 * c, -10 + 0.1 * (c + 1)],
                                                       [18 - 0.1 * r, 18 - 0.1 * (r + 1)])
        covered_area += (cx1 - cx0) * (cy0 - cy1)
    assert (image[..., 3] / 255.0).sum() * pixel_area == pytest.approx(covered_area, rel=0.02)
    assert tuple(image[image[..., 3] > 0][0, :3]) == (0x2C, 0x7B, 0xB6)
    data = build_map_data(schools_table(3), rasters=[overlay])
    assert data["rasters"][0]["url"].startswith("data:image/png;base64,")
    assert data["rasters"][0]["bounds"] == [[south, west], [north, east]]


# --- static PNG ------------------------------------------------------------------------------------------------------
def test_static_png_shows_the_categories(tmp_path):
    schools = schools_table(60)
    towers = gpd.GeoDataFrame({"site_id": ["t1", "t2"], "operator": ["$x^2$ {{ op }}", None],
                               "technology": ["GSM", "LTE"]},
                              geometry=gpd.points_from_xy([-10, -8], [16, 18]), crs=4326)
    params = MapParams(png_width_in=8, png_height_in=6, png_dpi=100, title="Mauritanie $5 {{ x }}")
    path = write_static_map(tmp_path / "map.png", schools, towers=towers, params=params)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape[1] == 800 and 300 <= image.shape[0] <= 600  # the height follows the map's shape
    assert image.std() > 20
    for colour in ("#2166ac", "#b2182b"):  # connected and not connected (reported) dots are drawn
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(image - rgb).sum(axis=2) < 10).sum() > 20, colour
    fig = render_static_map(schools, towers=towers, params=params)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Tower: $x^2$ {{ op }}" in texts
    assert "Mauritanie $5 {{ x }}" in [t.get_text() for t in fig.texts]
    expected = schools["connectivity"].value_counts(dropna=False)
    assert f"Connected (reported) ({expected[True]:,})" in texts
    assert f"Unknown ({expected[pd.NA]:,})" in texts


def test_static_png_dashes_fibre_not_operational():
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgb

    lines = gpd.GeoDataFrame(
        {"line_id": list("abc"), "status": pd.array([None, "planned", "operational"], dtype="string")},
        geometry=[shapely.LineString(), shapely.LineString([(-12, 16), (-8, 16)]),
                  shapely.LineString([(-12, 18), (-8, 18)])], crs=4326)
    fig = render_static_map(schools_table(10), fibre=lines, params=MapParams(png_dpi=50))
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Fibre line" in texts and "Fibre line, not operational (planned, ...)" in texts
    fibre = [c for c in fig.axes[0].collections if isinstance(c, LineCollection) and len(c.get_segments())
             and np.allclose(c.get_color()[0][:3], to_rgb(md.FIBRE_COLOUR))]
    # One solid collection (the operational line; the empty one is dropped) and one dashed (the planned line).
    dashes = sorted(c.get_linestyle()[0][1] is not None for c in fibre)
    assert dashes == [False, True] and all(len(c.get_segments()) == 1 for c in fibre)


# --- mistakes --------------------------------------------------------------------------------------------------------
def test_mistakes_raise_clear_errors():
    schools = schools_table(5)
    with pytest.raises(CRSError, match=r"set_crs\('EPSG:4326'\)"):
        build_map_data(schools.set_crs(None, allow_override=True))
    with pytest.raises(SchemaError, match="'longitude'"):
        build_map_data(pd.DataFrame({"school_name": ["a"]}))
    bad = schools.copy()
    bad["connectivity"] = ["maybe", "yes", "no", "x", "y"]
    with pytest.raises(SchemaError, match="column 'connectivity'"):
        build_map_data(bad)
    with pytest.raises(ConfigError, match="tile_url"):
        render_map_html(build_map_data(schools), MapParams(tile_url="javascript:alert(1)//{z}/{x}/{y}"))
    with pytest.raises(ConfigError, match=r"maps\.colour_schools_by"):
        config_from_dict({"maps": {"colour_schools_by": "colour"}})


def test_plain_table_and_missing_colouring_fall_back():
    table = pd.DataFrame({"longitude": [1.0, 2.0, "x"], "latitude": [3.0, 4.0, 5.0], "school_name": ["a", "b", "c"]})
    data = build_map_data(table, params=MapParams(colour_schools_by="technology"))
    layer = data["points"][-1]
    assert len(layer["lat"]) == 2  # the row with an unreadable longitude is not drawn
    assert [c["key"] for c in layer["colourings"]] == ["connectivity"]
    assert layer["colourings"][0]["legend"][-1] == {"label": "Unknown", "colour": "#9e9e9e", "count": 2}


def _write_tif(path, values, transform, crs="EPSG:4326", nodata=None, tags=None):
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype=values.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(values, 1)
        if tags:
            dst.update_tags(**tags)
    return path


def test_coverage_rasters_through_open_raster_show_what_enrichment_counts_as_covered(tmp_path):
    rasters = pytest.importorskip("connectmap.io.rasters")
    from connectmap.report.maps import coverage_overlays

    # A binary 2G raster in UTM zone 28N and a dBm 4G raster in degrees, both written by the test.
    binary = np.zeros((20, 30), dtype=np.uint8)
    binary[5:12, 4:20] = 1
    utm = from_origin(400_000, 2_000_000, 1000, 1000)
    gsm = rasters.open_raster(_write_tif(tmp_path / "gsm.tif", binary, utm, crs="EPSG:32628"), technology="GSM")
    dbm = np.linspace(-130, -70, 16 * 12, dtype=np.float32).reshape(12, 16)
    dbm[0, 0] = -9999
    degrees = from_origin(-16.0, 19.0, 0.05, 0.05)
    lte = rasters.open_raster(_write_tif(tmp_path / "lte.tif", dbm, degrees, nodata=-9999,
                                         tags={"technology": "LTE", "value": "dbm", "operator": "Op <b>"}))
    overlays = coverage_overlays([gsm, lte], MapParams(raster_max_px=64), dbm_thresholds={"LTE": -100.0})
    assert [o.name for o in overlays] == ["Coverage 2G (GSM)", "Coverage 4G (LTE) — Op <b>"]
    for overlay, source, transform, crs, threshold in ((overlays[0], binary, utm, "EPSG:32628", 0.5),
                                                       (overlays[1], dbm, degrees, "EPSG:4326", -100.0)):
        rows, cols = overlay.rgba.shape[:2]
        assert max(rows, cols) <= 64
        south, west, north, east = overlay.bounds
        to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
        (x0, x1), (y0, y1) = to_mercator.transform([west, east], [south, north])
        from_mercator = Transformer.from_crs(3857, crs, always_xy=True)
        # Independent: the source pixel under each output cell's centre decides its colour.
        xs = x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols
        ys = y1 - (np.arange(rows) + 0.5) * (y1 - y0) / rows
        gx, gy = np.meshgrid(xs, ys)
        sx, sy = from_mercator.transform(gx, gy)
        col, row = ~transform @ (sx, sy)
        col, row = np.floor(col).astype(int), np.floor(row).astype(int)
        inside = (col >= 0) & (col < source.shape[1]) & (row >= 0) & (row < source.shape[0])
        value = np.where(inside, source[np.clip(row, 0, source.shape[0] - 1), np.clip(col, 0, source.shape[1] - 1)],
                         np.nan).astype(float)
        value[value == -9999] = np.nan
        expected = np.where(np.isfinite(value) & (value >= threshold), 255, 0)
        assert (overlay.rgba[..., 3] == expected).mean() > 0.99  # cells whose centre sits on a pixel edge may differ
        assert (expected == 255).sum() > 20 and (expected == 0).sum() > 20


def _register_csv(path, n=30):
    schools = schools_table(n)
    frame = pd.DataFrame({"school_id_govt": schools["school_id_govt"], "school_name": schools["school_name"],
                          "latitude": schools.geometry.y, "longitude": schools.geometry.x,
                          "num_students": schools["num_students"]})
    frame.loc[len(frame)] = ["99999", "No place", None, None, 10]
    frame.to_csv(path, index=False)
    return frame


def test_map_command_writes_html_and_png(tmp_path, run_cli):
    register = tmp_path / "schools.csv"
    frame = _register_csv(register)
    polygons = tmp_path / "lte.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(-11, 16, -9, 18)], crs=4326).to_file(polygons)
    raster = _write_tif(tmp_path / "umts.tif", np.ones((4, 4), dtype=np.uint8), from_origin(-12, 20, 0.5, 0.5))
    towers = tmp_path / "towers.csv"
    towers.write_text("tower_id,operator,technology,latitude,longitude\nA1,Op,3G,17.5,-9.5\nA2,Op,2G,16.5,-8.5\n")
    out, png = tmp_path / "out" / "map.html", tmp_path / "out" / "map.png"
    code, stdout, err = run_cli("map", register, "--towers", towers, "--coverage", f"LTE:Orange={polygons}",
                                "--coverage", f"UMTS={raster}", "--out", out, "--png", png, "--title", "Test <map>",
                                "--colour-by", "technology")
    assert code == 0, err
    assert f"{len(frame) - 1:,} schools" in stdout and "1 of 31 rows cannot be placed" in stdout
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["title"] == "Test <map>"
    assert len(data["points"][-1]["lat"]) == len(frame) - 1
    assert [a["name"] for a in data["areas"]] == ["Coverage 4G (LTE) — Orange"]
    assert [r["name"] for r in data["rasters"]] == ["Coverage 3G (UMTS)"]
    assert [p["id"] for p in data["points"]] == ["towers_GSM", "towers_UMTS", "schools"]
    width, height = Image.open(png).size
    assert width == 1500 and height <= 1200


def test_map_command_mistakes_are_one_line_errors(tmp_path, run_cli):
    register = tmp_path / "schools.csv"
    _register_csv(register)
    code, _, err = run_cli("map", register, "--out", register)
    assert code == 2 and "refusing to write an output over an input file" in err
    code, _, err = run_cli("map", tmp_path / "missing.csv", "--out", tmp_path / "m.html")
    assert code == 2 and "missing.csv" in err
    code, _, err = run_cli("map", register, "--out", tmp_path / "m.html", "--coverage", "LTE=")
    assert code == 2 and "TECH[:OPERATOR]=PATH" in err
    code, _, err = run_cli("map", register, "--out", tmp_path / "m.html", "--basemap", "satellite")
    assert code == 2 and "maps.basemap" in err
    assert not (tmp_path / "m.html").exists()


def test_many_towers_start_switched_off():
    towers = gpd.GeoDataFrame({"site_id": list("abcde"), "operator": "Op", "technology": ["GSM"] * 3 + ["LTE"] * 2},
                              geometry=gpd.points_from_xy(range(5), range(5)), crs=4326)
    for limit, shown in ((4, False), (5, True)):
        data = build_map_data(schools_table(3), towers=towers, params=MapParams(towers_shown_max=limit))
        assert {p["id"]: p["visible"] for p in data["points"]} == {"towers_GSM": shown, "towers_LTE": shown,
                                                                   "schools": True}


def test_many_coverage_layers_start_switched_off():
    polygons = gpd.GeoDataFrame({"technology": ["GSM", "LTE", "LTE"], "operator": ["A", "A", "B"]},
                                geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=4326)
    for limit, shown in ((2, False), (3, True)):
        data = build_map_data(schools_table(3), coverage_polygons=polygons,
                              params=MapParams(coverage_layers_shown_max=limit))
        assert [(a["name"], a["visible"]) for a in data["areas"]] == [
            ("Coverage 2G (GSM) — A", shown), ("Coverage 4G (LTE) — A", shown), ("Coverage 4G (LTE) — B", shown)]
