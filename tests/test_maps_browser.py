"""The HTML map in headless Chromium with networking off: loads clean, draws every feature, popups and search show
hostile text exactly as typed, nothing from the data runs, and screenshots are real pictures.

Networking is off twice over: Chromium's proxy points at a closed port, and every request that is not the page's
own ``file://`` URL is aborted by the test and counted as a failure.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image

from connectmap.parameters.maps import MapParams
from connectmap.report import map_data as md
from connectmap.report.maps import write_map
from connectmap.report.text import clean_text
from tests.conftest import shared_file

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-dev-shm-usage", "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]
VIEWPORT = {"width": 1400, "height": 1000}

JS_PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=2>",
    "</script><script>window.__pwned=3</script>",
    "${window.__pwned=4}",
    "`+(window.__pwned=5)+`",
    "\";window.__pwned=6;//",
    "';window.__pwned=7;//",
    "{{constructor.constructor('window.__pwned=8')()}}",
    "javascript:window.__pwned=9",
    "\\u003cscript\\u003ewindow.__pwned=10\\u003c/script\\u003e",
]
TEXT_PAYLOADS = [
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{# not a comment #} École Ñandú",
    'back\\slash "double" \'single\' \\n',
    "ctrl\x00\x07\x1b tab\tline\u2028para\u2029end",
    "<!-- open comment & &amp; &lt;",
    "=HYPERLINK(\"http://x\",\"y\")",
    "\u202eright-to-left override",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class OfflinePage:
    """A page that records console errors, script errors and every network request it tried."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        page_url = path.resolve().as_uri()
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))

        def route(route):
            if route.request.url == page_url:
                route.continue_()
            else:
                self.blocked.append(route.request.url)
                route.abort()

        self.page.route("**/*", route)
        self.page.goto(page_url)
        self.page.wait_for_selector("html[data-cm-ready]", timeout=30_000)

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def assert_clean(self):
        assert self.errors == []
        assert self.blocked == [] and self.failed == []
        assert self.js("typeof window.__pwned") == "undefined"

    def settle(self) -> None:
        """Wait until the map is not panning (a popup opening near an edge pans the map, with animation)."""
        self.js("() => new Promise(done => { const m = connectmap.map; const idle = () => "
                "(m._panAnim && m._panAnim._inProgress) ? m.once('moveend', () => setTimeout(idle, 0)) : "
                "requestAnimationFrame(() => requestAnimationFrame(done)); idle(); })")

    def point_position(self, layer: str, index: int) -> tuple[float, float]:
        self.settle()
        return tuple(self.js(
            "([id, i]) => { const l = connectmap.layer(id); const p = connectmap.map.latLngToContainerPoint("
            "l.latLng(i)); return [p.x, p.y]; }", [layer, index]))

    def screenshot(self, path: Path) -> np.ndarray:
        self.page.screenshot(path=str(path))
        return np.asarray(Image.open(path).convert("RGB")).astype(int)


def assert_picture(image: np.ndarray) -> None:
    """Not a blank page: pixel values vary and there are many distinct colours."""
    assert image.std() > 5
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def hostile_schools() -> gpd.GeoDataFrame:
    """Hostile names on a well-spaced grid in the middle of the map, plus four plain schools at the corners."""
    names = JS_PAYLOADS + TEXT_PAYLOADS
    n = len(names)
    lon = -10.0 + 0.8 * (np.arange(n) % 6)
    lat = 16.0 + 0.8 * (np.arange(n) // 6)
    corners_lon, corners_lat = [-14.0, -14.0, -3.0, -3.0], [13.0, 21.0, 13.0, 21.0]
    return gpd.GeoDataFrame({
        "source_row": np.arange(2, n + 6),
        "school_name": [*names, "Corner A", "Corner B", "Corner C", "Corner D"],
        "admin1": names + ["Corner"] * 4,
        "num_students": np.arange(n + 4, dtype=float) * 10,
        "connectivity": pd.array([True, False, None] * ((n + 4) // 3) + [True] * ((n + 4) % 3), dtype="boolean"),
        "technology": (["fibre", "satellite"] * n)[: n + 4],
    }, geometry=gpd.points_from_xy(np.r_[lon, corners_lon], np.r_[lat, corners_lat]), crs=4326)


def test_hostile_text_stays_text_offline(browser, tmp_path):
    marker = tmp_path / "jinja_ran"
    schools = hostile_schools()
    schools.loc[0, "school_name"] = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    towers = gpd.GeoDataFrame(
        {"site_id": ["t1", "t2"], "operator": [JS_PAYLOADS[0], JS_PAYLOADS[2]], "technology": ["GSM", "LTE"]},
        geometry=gpd.points_from_xy([-13.0, -4.0], [20.0, 14.0]), crs=4326)
    coverage = gpd.GeoDataFrame({"technology": ["LTE"], "operator": [JS_PAYLOADS[1]]},
                                geometry=[shapely.box(-12, 14, -11, 15)], crs=4326)
    path = write_map(tmp_path / "map.html", schools, towers=towers, coverage_polygons=coverage,
                     params=MapParams(title=JS_PAYLOADS[3]))
    assert not marker.exists()
    view = OfflinePage(browser, path)
    try:
        view.assert_clean()
        assert view.js("document.title") == JS_PAYLOADS[3]
        # Every school is a feature on the map, all in view.
        assert view.js("[connectmap.layer('schools').size, connectmap.layer('schools').inView]") == [len(schools)] * 2

        # Click each hostile school: the popup title is the name exactly as typed (after clean_text).
        for i, name in enumerate(schools["school_name"].iloc[:-4]):
            view.js("connectmap.map.closePopup()")
            view.js("(i) => connectmap.map.panTo(connectmap.layer('schools').latLng(i), {animate: false})", i)
            x, y = view.point_position("schools", i)
            view.page.mouse.click(x, y)
            # (the previous popup fades out for 200 ms: the newest is the last one)
            title = view.page.locator(".leaflet-popup-content .cm-popup h3").last
            assert title.text_content() == clean_text(name)[0], i
            region = view.js("[...[...document.querySelectorAll('.cm-popup')].at(-1).querySelectorAll('tr')]"
                             ".find(r => r.cells[0].textContent === 'Region').cells[1].textContent")
            assert region == clean_text(schools["admin1"].iloc[i])[0]
        # Layer names and legend text from the data are text too.
        labels = view.js("[...document.querySelectorAll('.cm-layers label')].map(l => l.textContent)")
        assert f"Coverage 4G (LTE) — {JS_PAYLOADS[1]}" in labels
        legend = view.js("[...document.querySelectorAll('.cm-legend-row span:nth-child(2)')].map(s => s.textContent)")
        assert JS_PAYLOADS[0] in legend and JS_PAYLOADS[2] in legend

        # Search by a hostile fragment finds the school and shows its name as text.
        view.page.fill(".cm-search input", "onload=WINDOW.__pwned=2")  # case-insensitive
        view.page.wait_for_selector(".cm-results button")
        assert view.js("document.querySelectorAll('.cm-results button').length") == 1
        assert view.js("document.querySelector('.cm-results button').firstChild.textContent") == JS_PAYLOADS[1]
        view.page.click(".cm-results button")
        assert view.page.locator(".cm-popup h3").last.text_content() == JS_PAYLOADS[1]
        view.js("connectmap.map.closePopup()")
        assert_picture(view.screenshot(tmp_path / "hostile.png"))
        view.assert_clean()
    finally:
        view.page.close()
    assert not marker.exists()


def test_colours_on_screen_follow_the_legend_and_switch(browser, tmp_path):
    schools = hostile_schools()
    path = write_map(tmp_path / "map.html", schools)
    view = OfflinePage(browser, path)
    try:
        colouring = md.school_colourings(schools, MapParams())
        for key in ("connectivity", "technology"):
            if key != "connectivity":
                view.page.select_option(".cm-legend select", key)
            image = view.screenshot(tmp_path / f"{key}.png")
            expected = next(c for c in colouring if c.key == key)
            for i in range(len(schools) - 4):
                x, y = view.point_position("schools", i)
                pixel = image[round(y), round(x)]
                want = hex_rgb(expected.colours[expected.codes[i]])
                assert np.abs(pixel - want).sum() <= 12, (key, i, pixel, want)
        # The layer list switches the schools off and on again.
        checkbox = view.page.locator(".cm-layers label", has_text="Schools").locator("input")
        checkbox.uncheck()
        assert view.js("connectmap.layer('schools').drawn") == 0
        assert view.page.locator(".cm-legend-section[data-layer=schools]").count() == 0
        checkbox.check()
        assert view.js("connectmap.layer('schools').inView") == len(schools)
        view.assert_clean()
    finally:
        view.page.close()


def test_tiles_are_opt_in_and_fall_back_to_outlines(browser, tmp_path):
    outline = gpd.GeoDataFrame(geometry=[shapely.box(-15, 12, -2, 22)], crs=4326)
    path = write_map(tmp_path / "map.html", hostile_schools(), boundaries=outline)
    view = OfflinePage(browser, path)
    try:
        view.assert_clean()  # opening the map requests nothing
        view.page.click("input[name=cm-base][value=tiles]")
        view.page.wait_for_selector(".cm-notice", timeout=10_000)
        assert view.blocked and all(u.startswith("https://tile.openstreetmap.org/") for u in view.blocked)
        assert "could not be loaded" in view.page.locator(".cm-notice").text_content()
        assert view.page.is_checked("input[name=cm-base][value=outlines]")
        assert view.errors == [] or all("ERR_FAILED" in e or "tile.openstreetmap" in e for e in view.errors)
    finally:
        view.page.close()


def test_mauritania_offline_shows_towers_fibre_and_schools(browser, tmp_path):
    from connectmap import io
    from connectmap.validate import validate_schools

    for name in ("read_towers", "read_fibre", "read_boundaries"):
        if not hasattr(io, name):
            pytest.skip(f"connectmap.io.{name} has not landed yet")
    folder = shared_file("mauritania")
    outline = io.read_boundaries(folder / "ne10m_MRT_admin0.geojson")
    schools = validate_schools(io.read_schools(folder / "Mauritania_4Visual_mockup_063007.csv"),
                               boundary=outline).clean
    towers = io.read_towers(folder / "mauritania_towers_from_register.csv")
    fibre = io.read_fibre([folder / "MRT_nodes.geojson", folder / "MRT_lines.geojson"])
    path = write_map(tmp_path / "mauritania.html", schools, towers=towers, fibre=fibre, boundaries=outline,
                     title="Mauritania")

    # Independent counts from the files themselves.
    tower_file = pd.read_csv(folder / "mauritania_towers_from_register.csv")
    per_generation = tower_file.groupby("technology")["tower_id"].nunique().to_dict()
    lines = gpd.read_file(folder / "MRT_lines.geojson")
    nodes = gpd.read_file(folder / "MRT_nodes.geojson")

    view = OfflinePage(browser, path)
    try:
        view.assert_clean()
        sizes = dict(view.js("connectmap.points.map(l => [l.spec.id, l.size])"))
        assert sizes["schools"] == len(schools) > 2900
        assert sizes["towers_GSM"] == per_generation["2G"] and sizes["towers_UMTS"] == per_generation["3G"]
        assert sizes["fibre_nodes"] == len(nodes)
        parts = sum(len(shapely.get_parts(g)) for g in lines.geometry)
        assert view.js("connectmap.overlays.find(o => o.kind === 'line').layer.getLayers().length") == parts
        view.js("connectmap.fitAll()")
        drawn = dict(view.js("connectmap.points.map(l => [l.spec.id, l.inView])"))
        assert drawn["schools"] == len(schools) and drawn["towers_GSM"] == per_generation["2G"]
        image = view.screenshot(tmp_path / "mauritania.png")
        assert_picture(image)
        # The fibre colour is on screen (the lines), and so are the towers' operator colours.
        fibre_rgb = hex_rgb(md.FIBRE_COLOUR)
        assert (np.abs(image - fibre_rgb).sum(axis=2) < 30).sum() > 200
        view.assert_clean()
    finally:
        view.page.close()


def test_fibre_not_operational_is_drawn_dashed(browser, tmp_path):
    """On screen, an operational route is one unbroken stroke and a planned one alternates stroke and gap; the
    legend counts the dashed routes."""
    schools = hostile_schools()
    lon0, lon1 = schools.geometry.x.min(), schools.geometry.x.max()
    lat0, lat1 = schools.geometry.y.min(), schools.geometry.y.max()
    rows = {"operational": lat0 + 0.3 * (lat1 - lat0), "planned": lat0 + 0.7 * (lat1 - lat0)}
    lines = gpd.GeoDataFrame(
        {"line_id": list(rows), "status": list(rows), "medium": ["fibre", "fibre"]},
        geometry=[shapely.LineString([(lon0, lat), (lon1, lat)]) for lat in rows.values()], crs=4326)
    path = write_map(tmp_path / "map.html", schools, fibre=lines)
    view = OfflinePage(browser, path)
    try:
        view.page.locator(".cm-layers label", has_text="Schools").locator("input").uncheck()
        view.settle()
        image = view.screenshot(tmp_path / "dashed.png")
        fibre_rgb = hex_rgb(md.FIBRE_COLOUR)
        share = {}
        for status, lat in rows.items():
            (x0, y), (x1, _) = (view.js("([lat, lon]) => { const p = connectmap.map.latLngToContainerPoint("
                                        "[lat, lon]); return [p.x, p.y]; }", [lat, lon]) for lon in (lon0, lon1))
            # Pixels along the middle of the route, away from its ends; the legend and controls sit at the right.
            xs = np.arange(round(x0) + 10, round(min(x1, 0.6 * VIEWPORT["width"])) - 10)
            stroke = np.abs(image[round(y), xs] - fibre_rgb).sum(axis=1) < 90
            share[status] = stroke.mean()
            assert xs.size > 100, status
        assert share["operational"] > 0.95, share
        assert 0.3 < share["planned"] < 0.8, share
        legend = view.page.locator(".cm-legend-section[data-layer=fibre_lines]").inner_text()
        assert "dashed: not operational" in legend and "1" in legend.split("not operational")[1]
        view.assert_clean()
    finally:
        view.page.close()


def test_region_choropleth_colours_and_popup(browser, tmp_path):
    # Two regions side by side; West has 3 of 4 schools connected (75 %), East 0 of 2 (0 %).
    regions = gpd.GeoDataFrame({"admin1": ["West", "East"]},
                               geometry=[shapely.box(-12, 14, -8, 20), shapely.box(-8, 14, -4, 20)], crs=4326)
    schools = gpd.GeoDataFrame({
        "school_name": ["w1", "w2", "w3", "w4", "e1", "e2"],
        "num_students": [100.0, 200.0, 300.0, 400.0, 50.0, 70.0],
        "connectivity": pd.array([True, True, True, False, False, False], dtype="boolean"),
    }, geometry=gpd.points_from_xy([-11, -11, -9, -9, -7, -5], [15, 19, 15, 19, 15, 19]), crs=4326)
    path = write_map(tmp_path / "map.html", schools, boundaries=regions)
    view = OfflinePage(browser, path)
    try:
        view.assert_clean()
        land = hex_rgb("#f4f1ea")
        # The region fill (maps.region_opacity) over the land colour, at each region's centre (no school there).
        opacity = MapParams().region_opacity
        centres = {"West": (-10.0, 17.0), "East": (-6.0, 17.0)}
        expected = {"West": "#92c5de", "East": "#ca0020"}  # 60-80 % and 0-20 % bands (ColorBrewer RdBu)
        # Students unconnected: quantile bands of two values put the larger in the top band, the smaller in the
        # bottom one (ColorBrewer YlOrRd, 5 classes).
        for metric_colours in (expected, {"West": "#bd0026", "East": "#ffffb2"}):
            image = view.screenshot(tmp_path / "regions.png")
            for name, (lon, lat) in centres.items():
                x, y = view.js("([lat, lon]) => { const p = connectmap.map.latLngToContainerPoint([lat, lon]); "
                               "return [p.x, p.y]; }", [lat, lon])
                want = opacity * hex_rgb(metric_colours[name]) + (1 - opacity) * land
                assert np.abs(image[round(y), round(x)] - want).max() <= 3, (name, image[round(y), round(x)], want)
            view.page.select_option(".cm-legend-section[data-layer='Regions (choropleth)'] select",
                                    "students_unconnected")
        x, y = view.js("() => { const p = connectmap.map.latLngToContainerPoint([17, -10]); return [p.x, p.y]; }")
        view.page.mouse.click(x, y)
        rows = view.js("Object.fromEntries([...document.querySelectorAll('.cm-popup tr')].map(r => "
                       "[r.cells[0].textContent, r.cells[1].textContent]))")
        assert view.page.locator(".cm-popup h3").last.text_content() == "West"
        assert rows == {"Schools": "4", "Connected": "75 %", "Students unconnected": "400"}
        view.assert_clean()
    finally:
        view.page.close()
