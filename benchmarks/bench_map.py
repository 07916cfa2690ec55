"""The offline HTML map at national scale: build time, file size, and how fast headless Chromium draws it.

    python benchmarks/bench_map.py [--sizes 10000 100000] [--repeats 3] [--no-browser]

For each size, a synthetic country (schools clustered around towns with every contract column a costed run has,
8,000 tower sites in 2G/3G/4G, fibre lines and nodes, 20 regions) is mapped with connectmap. Printed:

* build: ``write_map`` (layers -> JSON -> HTML file), median seconds and peak RSS in a fresh process, HTML MB;
* static PNG: ``write_static_map``, median seconds and peak RSS;
* browser (Debian Chromium, headless, networking off): seconds from navigation to "points drawn" (the page's
  ``data-cm-ready`` flag), redraw after a zoom and after a pan, click-to-popup, a search over all names, and the
  JS heap; medians over ``--repeats`` page loads;
* the alternative the map does not use, measured on the same points in the same browser: Leaflet's own canvas
  ``L.circleMarker`` layer (one object per school), time to first draw and redraw after a zoom.

Targets (issue 6): 100k schools -> HTML < 30 MB, built < 20 s, drawn in Chromium < 10 s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, Measurement, measure, print_table

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage", "--proxy-server=127.0.0.1:9"]


def synthetic_country(n_schools: int, seed: int = 6):
    """Schools, towers, fibre and regions of a made-up country (lon -17..-5, lat 14..27), as map inputs."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    towns = np.column_stack([rng.uniform(-16.5, -5.5, 300), rng.uniform(14.5, 26.5, 300)])
    weight = rng.pareto(1.2, 300) + 1
    town = rng.choice(300, n_schools, p=weight / weight.sum())
    spread = rng.uniform(0.02, 0.6, 300)[town]
    lon = towns[town, 0] + rng.normal(0, 1, n_schools) * spread
    lat = towns[town, 1] + rng.normal(0, 1, n_schools) * spread
    known = rng.random(n_schools) < 0.6
    connected = rng.random(n_schools) < 0.35
    n = n_schools
    schools = gpd.GeoDataFrame({
        "source_row": np.arange(2, n + 2),
        "school_id_govt": [f"{i:08d}" for i in range(n)],
        "school_id_giga": [f"{rng.integers(16**12):012x}" for _ in range(n)],
        "school_name": [f"École fondamentale n°{i % 997} de Ville-{town[i]}" for i in range(n)],
        "education_level": rng.choice(["primary", "secondary", "pre-primary"], n),
        "admin1": [f"Wilaya {t % 20}" for t in town],
        "admin2": [f"Moughataa {t}" for t in town],
        "num_students": rng.integers(10, 1500, n).astype(float),
        "num_teachers": rng.integers(1, 40, n).astype(float),
        "electricity_availability": pd.array(np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.6),
                                             dtype="boolean"),
        "connectivity": pd.array(np.where(known, connected, None), dtype="boolean"),
        "connectivity_probability": np.where(known, np.nan, rng.random(n)),
        "cellular_coverage_type": rng.choice(["4G", "3G", "2G", "no coverage", "unknown"], n),
        "covering_operators": rng.choice(["Mattel", "Mauritel;Mattel", "Chinguitel", ""], n),
        **{f"nearest_{t}_distance": rng.gamma(2, 8, n) for t in ("GSM", "UMTS", "LTE")},
        "fiber_node_distance": rng.gamma(2, 40, n),
        "pop_within_1km": rng.gamma(2, 800, n).round(),
        "pop_within_5km": rng.gamma(2, 9000, n).round(),
        "technology": rng.choice(np.array(["fibre", "cellular", "microwave", "satellite", None], dtype=object), n),
        "bandwidth_demand_mbps": rng.gamma(2, 10, n),
        "capex_usd": rng.gamma(2, 6000, n), "opex_usd_per_year": rng.gamma(2, 900, n),
        "npv_usd": rng.gamma(2, 15000, n), "tco_usd": rng.gamma(2, 16000, n),
        "cost_per_student_usd": rng.gamma(2, 40, n),
        "zero_rating_usd_per_year": rng.gamma(2, 300, n),
        "quality_flags": rng.choice(["", "", "", "near_duplicate_location", "num_students_implausible"], n),
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)

    sites = np.column_stack([rng.uniform(-16.5, -5.5, 8000), rng.uniform(14.5, 26.5, 8000)])
    tech = rng.choice(["GSM", "UMTS", "LTE"], 8000, p=[0.45, 0.35, 0.2])
    towers = gpd.GeoDataFrame({
        "site_id": [f"S{i:05d}" for i in range(8000)], "operator": rng.choice(["Mattel", "Mauritel", "Chinguitel"],
                                                                               8000),
        "technology": tech, "range_m": rng.uniform(1000, 15000, 8000), "cell_count": rng.integers(1, 6, 8000),
    }, geometry=gpd.points_from_xy(sites[:, 0], sites[:, 1]), crs=4326)

    order = np.argsort(towns[:60, 0])
    lines = gpd.GeoDataFrame({"line_id": [f"L{i}" for i in range(59)], "operator": "Backbone", "status": "operational",
                              "medium": "fibre"},
                             geometry=[shapely.LineString([towns[a], towns[b]]) for a, b in itertools.pairwise(order)],
                             crs=4326)
    nodes = gpd.GeoDataFrame({"node_id": [f"N{i}" for i in range(60)], "medium": "fibre"},
                             geometry=gpd.points_from_xy(towns[:60, 0], towns[:60, 1]), crs=4326)
    box = shapely.box(-17, 14, -5, 27)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(towns[:20]), extend_to=box)
    regions = gpd.GeoDataFrame({"admin1": [f"Wilaya {i}" for i in range(20)]},
                               geometry=[c.intersection(box) for c in shapely.get_parts(cells)], crs=4326)
    return schools, towers, pd.concat([lines, nodes], ignore_index=True), regions


def _inputs(n_schools: int) -> tuple:
    return synthetic_country(n_schools)


def build_html(n_schools: int, out: str) -> str:
    from connectmap.report.maps import write_map

    schools, towers, fibre, regions = build_html.state
    write_map(out, schools, towers=towers, fibre=fibre, boundaries=regions, title="Benchmark")
    return f"{os.path.getsize(out) / 1e6:.1f} MB"


def _setup_build(n_schools: int, out: str) -> tuple:
    build_html.state = _inputs(n_schools)
    return n_schools, out


build_html.setup = _setup_build


def build_png(n_schools: int, out: str) -> str:
    from connectmap.report.static_map import write_static_map

    schools, towers, fibre, regions = build_png.state
    write_static_map(out, schools, towers=towers, fibre=fibre, boundaries=regions, title="Benchmark")
    return f"{os.path.getsize(out) / 1e6:.1f} MB PNG"


def _setup_png(n_schools: int, out: str) -> tuple:
    build_png.state = _inputs(n_schools)
    return n_schools, out


build_png.setup = _setup_png


def baseline() -> str:
    import importlib

    for module in ("connectmap.report.maps", "connectmap.report.static_map"):
        importlib.import_module(module)

    return "imports only"


# --- the browser ------------------------------------------------------------------------------------------------------
_READY = "html[data-cm-ready]"


def _offline_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: route.continue_() if route.request.url == url else (
        errors.append(f"request {route.request.url}"), route.abort()))
    return page, errors


_TIMINGS_JS = """() => {
  const m = connectmap.map, schools = connectmap.layer('schools');
  const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
  const zoom = m.getZoom(), out = {drawn: schools.drawn, size: schools.size};
  out.zoom_ms = time(() => m.setZoom(zoom + 1, {animate: false}));
  out.pan_ms = time(() => m.panBy([300, 150], {animate: false}));
  m.setZoom(zoom, {animate: false});
  connectmap.fitAll();
  const p = m.latLngToContainerPoint(schools.latLng(12345 % schools.size));
  out.popup_ms = time(() => { const i = schools.hit(p); connectmap.openPointPopup(schools, i); });
  const input = document.querySelector('.cm-search input');
  input.value = 'n°123 de Ville-4';
  out.search_ms = time(() => input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})));
  out.heap_mb = performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null;
  out.mark_ms = performance.getEntriesByName('cm-ready')[0].startTime;
  return out;
}"""


def browser_rows(html: Path, n_schools: int, repeats: int) -> list[Measurement]:
    from playwright.sync_api import sync_playwright

    url = html.resolve().as_uri()
    loads, marks, zooms, pans, popups, searches, heaps = [], [], [], [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(repeats):
            page, errors = _offline_page(browser, url)
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(_READY, timeout=120_000)
            loads.append(time.perf_counter() - start)
            figures = page.evaluate(_TIMINGS_JS)
            if errors or figures["drawn"] != n_schools:
                raise RuntimeError(f"map not clean: drawn {figures['drawn']} of {n_schools}; errors {errors[:3]}")
            marks.append(figures["mark_ms"] / 1000)
            zooms.append(figures["zoom_ms"] / 1000)
            pans.append(figures["pan_ms"] / 1000)
            popups.append(figures["popup_ms"] / 1000)
            searches.append(figures["search_ms"] / 1000)
            heaps.append(figures["heap_mb"] or float("nan"))
            page.close()
        alternative = leaflet_circle_markers(browser, html, n_schools, repeats)
        browser.close()
    size = f"{n_schools:,}"
    heap = statistics.median(heaps)
    return [
        Measurement("browser: open to points drawn", size, "connectmap canvas layer", loads, float("nan"),
                    f"page's own mark {statistics.median(marks):.2f} s; JS heap {heap:.0f} MB"),
        Measurement("browser: redraw after zoom", size, "connectmap canvas layer", zooms, float("nan")),
        Measurement("browser: redraw after pan", size, "connectmap canvas layer", pans, float("nan")),
        Measurement("browser: click to popup", size, "connectmap canvas layer", popups, float("nan")),
        Measurement("browser: search all names", size, "connectmap canvas layer", searches, float("nan")),
        *alternative,
    ]


_CIRCLE_MARKERS_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>{css}
html,body,#m{{height:100%;margin:0}}</style></head><body><div id="m"></div>
<script type="application/json" id="d">{data}</script><script>{leaflet}</script><script>
const d = JSON.parse(document.getElementById('d').textContent);
const t0 = performance.now();
const map = L.map('m', {{preferCanvas: true}}).fitBounds(d.bounds);
const colours = d.colours;
const group = L.layerGroup();
for (let i = 0; i < d.lat.length; i++) {{
  group.addLayer(L.circleMarker([d.lat[i], d.lon[i]], {{radius: 3, weight: 0.8, color: '#333',
    fillColor: colours[d.codes[i]], fillOpacity: 1}}));
}}
group.addTo(map);
requestAnimationFrame(() => requestAnimationFrame(() => {{
  window.firstDraw = performance.now() - t0;
  document.documentElement.setAttribute('data-ready', '1');
}}));
</script></body></html>"""


def leaflet_circle_markers(browser, html: Path, n_schools: int, repeats: int) -> list[Measurement]:
    """The same points as Leaflet circleMarkers on its canvas renderer (the usual way to draw many points)."""
    import json

    from connectmap.report.maps import _leaflet_assets
    from connectmap.report.safe_html import page_json

    text = html.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="cm-data">') + len(
        '<script type="application/json" id="cm-data">')
    data = json.loads(text[start:text.index("</script>", start)])
    schools = data["points"][-1]
    colouring = schools["colourings"][0]
    leaflet_js, leaflet_css = _leaflet_assets()
    page_text = _CIRCLE_MARKERS_HTML.format(css=leaflet_css, leaflet=leaflet_js, data=page_json({
        "lat": schools["lat"], "lon": schools["lon"], "codes": colouring["codes"],
        "colours": [e["colour"] for e in colouring["legend"]], "bounds": data["bounds"]}))
    path = html.with_name(html.stem + "_circlemarkers.html")
    path.write_text(page_text, encoding="utf-8")
    url = path.resolve().as_uri()
    loads, zooms = [], []
    for _ in range(repeats):
        page, errors = _offline_page(browser, url)
        start_s = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("html[data-ready]", timeout=300_000)
        loads.append(time.perf_counter() - start_s)
        zooms.append(page.evaluate("() => new Promise(done => { const t = performance.now(); "
                                   "map.once('zoomend', () => requestAnimationFrame(() => done((performance.now() - t)"
                                   " / 1000))); map.setZoom(map.getZoom() + 1, {animate: false}); })"))
        if errors:
            raise RuntimeError(f"circleMarker page not clean: {errors[:3]}")
        page.close()
    size = f"{n_schools:,}"
    return [
        Measurement("browser: open to points drawn", size, "alternative: Leaflet circleMarker (canvas)", loads,
                    float("nan")),
        Measurement("browser: redraw after zoom", size, "alternative: Leaflet circleMarker (canvas)", zooms,
                    float("nan")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true", help="Only build the files.")
    args = parser.parse_args()
    out_dir = Path(WORK) / "map"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    for size in args.sizes:
        html = out_dir / f"map_{size}.html"
        row = measure("build HTML (write_map)", f"{size:,}", "connectmap", build_html, size, str(html),
                      repeats=args.repeats)
        row.note += f"; {size / row.median_s:,.0f} schools/s"
        rows.append(row)
        rows.append(measure("static PNG (write_static_map)", f"{size:,}", "matplotlib", build_png, size,
                            str(out_dir / f"map_{size}.png"), repeats=args.repeats))
        if not args.no_browser:
            rows.extend(browser_rows(html, size, args.repeats))
    print_table(rows, title="Offline HTML map: build, size and drawing in headless Chromium (networking off)")


if __name__ == "__main__":
    main()
