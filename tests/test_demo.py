"""The demo country: deterministic, plausible, with exactly the planted oddities, readable by connectmap.io.

Every check reads the written files back independently (csv module, pyogrio, rasterio, pyproj) rather than trusting
the generator's own arrays; where a value can be recomputed (signal level, distances, population totals) it is
recomputed by brute force here.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import os
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import rasterio
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from connectmap.config import load_config
from connectmap.demo import (
    DEMO_SEED,
    HOSTILE_NAMES,
    RURAL_POPULATION,
    DemoCountry,
    generate_demo_country,
)
from connectmap.errors import ConfigError, OutputError

N_SCHOOLS = 400
GEOD = pyproj.Geod(ellps="WGS84")
HEADER = [
    "school_id_govt", "school_name", "latitude", "longitude", "education_level", "admin1", "admin2",
    "num_students", "num_teachers", "electricity_availability", "connectivity",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoCountry:
    return generate_demo_country(tmp_path_factory.mktemp("demo_a") / "data", n_schools=N_SCHOOLS)


@pytest.fixture(scope="module")
def rows(demo: DemoCountry) -> list[dict[str, str]]:
    with demo.schools.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        return list(reader)


@pytest.fixture(scope="module")
def outline(demo: DemoCountry) -> shapely.Geometry:
    frame = pyogrio.read_dataframe(demo.outline)
    assert len(frame) == 1 and frame.crs.to_epsg() == 4326
    return frame.geometry.iloc[0]


@pytest.fixture(scope="module")
def planted(demo: DemoCountry) -> dict[str, list[int]]:
    """Planted kind -> 0-based row indexes into ``rows``."""
    kinds: dict[str, list[int]] = {}
    for row in demo.planted:
        kinds.setdefault(row.kind, []).append(row.source_row - 2)
    return kinds


def _hashes(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _lonlat(rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([float(r["longitude"]) if r["longitude"] else np.nan for r in rows])
    lat = np.array([float(r["latitude"]) if r["latitude"] else np.nan for r in rows])
    return lon, lat


# --- determinism -------------------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files_in_another_folder_and_process(
    demo: DemoCountry, tmp_path: Path
) -> None:
    # Another process with another string-hash seed: nothing may depend on set or dict iteration order.
    code = (
        "import sys; from connectmap.demo import generate_demo_country as g; "
        "g(sys.argv[1], n_schools=int(sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "elsewhere"), str(N_SCHOOLS)], check=True, env=env)
    first, second = _hashes(demo.folder), _hashes(tmp_path / "elsewhere")
    assert first == second
    # Nothing but the listed files (no temp files, no GDAL side-cars).
    assert sorted(first) == sorted(p.relative_to(demo.folder).as_posix() for p in demo.files)
    assert len(first) == 12 + len(demo.coverage)


def test_layers_do_not_depend_on_school_count_but_do_on_seed(demo: DemoCountry, tmp_path: Path) -> None:
    fewer = _hashes(generate_demo_country(tmp_path / "fewer", n_schools=60).folder)
    other = _hashes(generate_demo_country(tmp_path / "other", seed=DEMO_SEED + 1, n_schools=60).folder)
    base = _hashes(demo.folder)
    independent = [name for name in base if name not in ("schools.csv", "planted.json", "demoland.toml")]
    assert all(fewer[name] == base[name] for name in independent)
    assert fewer["schools.csv"] != base["schools.csv"]
    assert all(other[name] != base[name] for name in ("dem.tif", "towers.csv", "admin2.geojson", "population.tif"))


def test_folder_is_small(demo: DemoCountry) -> None:
    total = sum(path.stat().st_size for path in demo.files)
    assert total < 5_000_000


# --- the school register -----------------------------------------------------------------------------------------
def test_register_values(rows: list[dict[str, str]], planted: dict[str, list[int]]) -> None:
    assert len(rows) == N_SCHOOLS
    ids = [r["school_id_govt"] for r in rows]
    assert all(len(i) == 8 and i.isdigit() for i in ids)
    assert sum(i.startswith("0") for i in ids) == N_SCHOOLS  # regions 01-05: every id has a leading zero
    duplicated = [i for i, count in Counter(ids).items() if count > 1]
    assert len(duplicated) == 1
    assert [k for k, i in enumerate(ids) if i == duplicated[0]][1] in planted["duplicate_id"]
    assert {r["electricity_availability"] for r in rows} == {"Yes", "No"}
    assert {r["connectivity"] for r in rows} == {"Yes", "No", ""}
    assert {r["education_level"] for r in rows} <= {"Primary", "Primary, Secondary", "Secondary", "Pre-Primary"}
    students = np.array([float(r["num_students"]) for r in rows if r["num_students"]])
    assert np.sum(students > 10_000) == 1 and students.min() >= 8
    assert [k for k, r in enumerate(rows) if r["num_students"] and float(r["num_students"]) > 10_000] == \
        planted["implausible_num_students"]
    teachers = np.array([float(r["num_teachers"]) for r in rows if r["num_teachers"]])
    assert teachers.min() >= 1
    names = [r["school_name"] for r in rows]
    plain = [n for k, n in enumerate(names) if k not in planted["hostile_name"]]
    assert len(set(plain)) == len(plain)  # no accidental same-name pairs
    assert sum(any("\u0400" <= ch <= "\u04ff" for ch in n) for n in names) >= N_SCHOOLS // 10  # Cyrillic names


def test_every_hostile_name_is_there_exactly_once(rows: list[dict[str, str]], planted: dict[str, list[int]]) -> None:
    names = [r["school_name"] for r in rows]
    for hostile in HOSTILE_NAMES:
        assert names.count(hostile) == 1, hostile
    assert sorted(names.index(h) for h in HOSTILE_NAMES) == sorted(planted["hostile_name"])
    for must in ("<script>alert(1)</script>", "${alert(1)}", "{{ 7*7 }}", "{% raw %}", '=HYPERLINK("http://x","y")',
                 "+1", "@SUM(A1)", "`backtick`", "</script>", "{# c", "<img src=x onerror=alert(1)>"):
        assert must in HOSTILE_NAMES
    assert any('"' in h and "\\" in h and "'" in h for h in HOSTILE_NAMES)


def test_only_the_planted_name_is_not_nfc(rows: list[dict[str, str]], planted: dict[str, list[int]]) -> None:
    not_nfc = [k for k, r in enumerate(rows) if unicodedata.normalize("NFC", r["school_name"]) != r["school_name"]]
    assert not_nfc == planted["decomposed_unicode"]


def test_coordinate_defects_are_exactly_the_planted_ones(
    rows: list[dict[str, str]], planted: dict[str, list[int]], outline: shapely.Geometry
) -> None:
    lon, lat = _lonlat(rows)
    assert np.flatnonzero(np.isnan(lat) | np.isnan(lon)).tolist() == planted["missing_coordinates"]
    ok = np.isfinite(lon)
    outside = np.flatnonzero(ok & ~shapely.contains_xy(outline, np.nan_to_num(lon), np.nan_to_num(lat)))
    assert outside.tolist() == planted["swapped_coordinates"]
    k = outside[0]
    assert lat[k] > 60 and shapely.contains_xy(outline, lat[k], lon[k])  # swapped back, it is at home

    # Brute force over every pair: the only pair closer than 150 m is the planted one, 20 m apart.
    good = np.flatnonzero(ok & shapely.contains_xy(outline, np.nan_to_num(lon), np.nan_to_num(lat)))
    i, j = np.triu_indices(good.size, k=1)
    _, _, dist_m = GEOD.inv(lon[good[i]], lat[good[i]], lon[good[j]], lat[good[j]])
    close = np.flatnonzero(dist_m < 150.0)
    assert close.size == 1
    pair = {int(good[i[close[0]]]), int(good[j[close[0]]])}
    assert planted["near_duplicate_location"][0] in pair
    assert dist_m[close[0]] == pytest.approx(20.0, abs=0.2)  # coordinates have 6 decimals (≈ 0.1 m)
    a, b = sorted(pair)
    assert (rows[a]["admin1"], rows[a]["admin2"]) == (rows[b]["admin1"], rows[b]["admin2"])


def test_regions_of_schools_match_the_boundaries(
    demo: DemoCountry, rows: list[dict[str, str]], planted: dict[str, list[int]]
) -> None:
    lon, lat = _lonlat(rows)
    skip = set(planted["missing_coordinates"] + planted["swapped_coordinates"] + planted["near_duplicate_location"])
    keep = np.array([k not in skip for k in range(len(rows))])
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon[keep], lat[keep]), crs=4326)
    admin2 = pyogrio.read_dataframe(demo.admin2)
    joined = gpd.sjoin(points, admin2, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    assert joined["ADM2_EN"].notna().all()
    kept_rows = [r for k, r in enumerate(rows) if keep[k]]
    assert joined["ADM2_EN"].tolist() == [r["admin2"] for r in kept_rows]
    assert joined["ADM1_EN"].tolist() == [r["admin1"] for r in kept_rows]
    # ids start with the region and district codes of the row's district
    code = dict(zip(admin2["ADM2_EN"], admin2["ADM2_PCODE"], strict=True))
    for k, r in enumerate(rows):
        if k not in planted["duplicate_id"] and r["admin2"] and k not in planted["near_duplicate_location"]:
            assert r["school_id_govt"][:4] == code[r["admin2"]][2:]


def test_validator_finds_exactly_the_planted_defects(demo: DemoCountry, planted: dict[str, list[int]]) -> None:
    from connectmap.io import read_schools
    from connectmap.validate import validate_schools

    schools = read_schools(demo.schools)
    result = validate_schools(schools, boundary=pyogrio.read_dataframe(demo.outline))
    assert result.rejected["source_row"].tolist() == [k + 2 for k in planted["missing_coordinates"]]
    flagged = result.clean[result.clean["quality_flags"] != ""]
    by_row = dict(zip(flagged["source_row"], flagged["quality_flags"], strict=True))
    duplicate_rows = [
        k + 2 for k, r in enumerate(csv.DictReader(demo.schools.open(encoding="utf-8")))
        if r["school_id_govt"] == demo.planted[[p.kind for p in demo.planted].index("duplicate_id")].school_id_govt
    ]
    near = next(p for p in demo.planted if p.kind == "near_duplicate_location")
    anchor_row = int(near.note.split("row ")[1].split(" ")[0])
    expected = {
        **dict.fromkeys(duplicate_rows, "duplicate_id"),
        planted["swapped_coordinates"][0] + 2: "swapped_coordinates_fixed",
        planted["implausible_num_students"][0] + 2: "num_students_implausible",
        near.source_row: "near_duplicate_location",
        anchor_row: "near_duplicate_location",
    }
    assert by_row == expected
    assert result.summary["text_values_normalised_nfc"] == 1


# --- towns, regions, towers, fibre ---------------------------------------------------------------------------------
def test_admin_regions_tile_the_outline(demo: DemoCountry, outline: shapely.Geometry) -> None:
    admin1 = pyogrio.read_dataframe(demo.admin1)
    admin2 = pyogrio.read_dataframe(demo.admin2)
    assert len(admin1) == 5 and len(admin2) == 25
    assert admin1["ADM1_EN"].is_unique and admin2["ADM2_EN"].is_unique and admin2["ADM2_PCODE"].is_unique
    assert shapely.union_all(admin2.geometry).symmetric_difference(outline).area < 1e-9 * outline.area
    # Areas in square degrees are enough to compare a tiling with its union: no overlaps.
    assert shapely.area(admin2.geometry.to_numpy()).sum() == pytest.approx(outline.area, rel=1e-9)
    assert shapely.area(admin1.geometry.to_numpy()).sum() == pytest.approx(outline.area, rel=1e-9)
    for region in admin1.itertuples():
        members = admin2[admin2["ADM1_EN"] == region.ADM1_EN]
        assert len(members) >= 1
        assert (members["ADM2_PCODE"].str.slice(0, 4) == region.ADM1_PCODE).all()
        assert shapely.union_all(members.geometry).symmetric_difference(region.geometry).area < 1e-9 * outline.area
    lon0, lat0, lon1, lat1 = outline.bounds
    assert lon0 > 66.5 and lon1 < 75.5 and lat0 > 36.8 and lat1 < 41.2


def test_towns(demo: DemoCountry, outline: shapely.Geometry) -> None:
    towns = pyogrio.read_dataframe(demo.towns)
    assert towns["kind"].value_counts().to_dict() == {"village": 520, "town": 20, "city": 4, "capital": 1}
    assert towns["name"].is_unique and towns["town_id"].is_unique
    assert towns.loc[towns["kind"] == "capital", "population"].iloc[0] > towns.loc[
        towns["kind"] != "capital", "population"].max()
    assert shapely.contains_xy(outline, towns.geometry.x, towns.geometry.y).all()
    assert towns["name_tg"].map(lambda n: all(not ("a" <= c.lower() <= "z") for c in n)).all()  # Cyrillic only
    with rasterio.open(demo.dem) as dem:
        z = np.array([v[0] for v in dem.sample(zip(towns.geometry.x, towns.geometry.y, strict=True))])
    assert (z == towns["elevation_m"].to_numpy()).all()


def test_towers_list(demo: DemoCountry, outline: shapely.Geometry) -> None:
    with demo.towers.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["site_id", "operator", "technologies", "height_m", "latitude", "longitude"]
        towers = list(reader)
    operators = Counter(t["operator"] for t in towers)
    assert set(operators) == {"Alpha Mobile", "Beta Telecom", "Gamma Cell"}
    assert operators["Alpha Mobile"] > operators["Beta Telecom"] > operators["Gamma Cell"] > 50
    assert len({t["site_id"] for t in towers}) == len(towers)
    tokens = [set(t["technologies"].split(";")) for t in towers]
    assert all(tok and tok <= {"2G", "3G", "4G", "5G"} for tok in tokens)
    for operator in operators:
        techs = set().union(*(tok for tok, t in zip(tokens, towers, strict=True) if t["operator"] == operator))
        assert {"3G", "4G"} <= techs
    lon = np.array([float(t["longitude"]) for t in towers])
    lat = np.array([float(t["latitude"]) for t in towers])
    assert shapely.contains_xy(outline, lon, lat).all()
    heights = [float(t["height_m"]) for t in towers if t["height_m"]]
    assert 0 < len(towers) - len(heights) < len(towers) // 20 and min(heights) >= 15 and max(heights) <= 50
    # 5G only in the capital (within 25 km of its centre) and only with 4G.
    towns = pyogrio.read_dataframe(demo.towns)
    capital = towns[towns["kind"] == "capital"].geometry.iloc[0]
    five_g = np.array(["5G" in tok for tok in tokens])
    assert five_g.sum() >= 5 and all("4G" in tok for tok in np.array(tokens, dtype=object)[five_g])
    _, _, d_m = GEOD.inv(lon[five_g], lat[five_g], np.full(five_g.sum(), capital.x), np.full(five_g.sum(), capital.y))
    assert d_m.max() < 25_000


def test_fibre_backbone(demo: DemoCountry, outline: shapely.Geometry) -> None:
    nodes = pyogrio.read_dataframe(demo.fibre_nodes)
    lines = pyogrio.read_dataframe(demo.fibre_lines)
    towns = pyogrio.read_dataframe(demo.towns)
    assert list(nodes.columns[:4]) == ["node_id", "name", "operator", "status"]
    assert list(lines.columns[:4]) == ["line_id", "name", "operator", "status"]
    assert nodes["node_id"].is_unique and lines["line_id"].is_unique and len(nodes) == 25
    assert set(nodes["name"]) == set(towns.loc[towns["kind"] != "village", "name"])
    position = dict(zip(nodes["node_id"], nodes.geometry, strict=True))
    for line in lines.itertuples():
        xy = shapely.get_coordinates(line.geometry)
        assert tuple(xy[0]) == (position[line.from_node].x, position[line.from_node].y)
        assert tuple(xy[-1]) == (position[line.to_node].x, position[line.to_node].y)
        assert line.length_km == pytest.approx(GEOD.geometry_length(line.geometry) / 1000.0, abs=0.002)
        assert outline.buffer(0.05).contains(line.geometry)
    index = {node: k for k, node in enumerate(nodes["node_id"])}
    operational = lines[lines["status"] == "operational"]
    a = operational["from_node"].map(index).to_numpy()
    b = operational["to_node"].map(index).to_numpy()
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(25, 25))
    assert connected_components(graph, directed=False)[0] == 1 and len(operational) == 24  # a spanning tree
    assert (lines["status"] == "planned").sum() == 2


# --- rasters ---------------------------------------------------------------------------------------------------------
def _pixel_centres(src: rasterio.DatasetReader) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = np.meshgrid(np.arange(src.width), np.arange(src.height))
    xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    return np.asarray(xs).reshape(src.shape), np.asarray(ys).reshape(src.shape)


def test_rasters_metadata(demo: DemoCountry, outline: shapely.Geometry) -> None:
    grids = set()
    expected = {demo.population: ("count", "float32"), demo.dem: ("elevation", "int16")}
    expected.update({path: ("dbm", "int16") for path in demo.coverage.values()})
    for path, (value, dtype) in expected.items():
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 4326
            assert src.tags()["value"] == value and src.dtypes[0] == dtype
            assert src.nodata is not None
            assert src.block_shapes == [(256, 256)] and src.compression.name == "deflate"
            assert src.res == pytest.approx((1 / 120, 1 / 120))
            grids.add((src.transform, src.shape))
            west, south, east, north = src.bounds
            assert west <= outline.bounds[0] and east >= outline.bounds[2]
            assert south <= outline.bounds[1] and north >= outline.bounds[3]
    assert len(grids) == 1  # one grid for everything
    assert {(o, t) for o, t in demo.coverage} == {
        (o, t) for o in ("Alpha Mobile", "Beta Telecom") for t in ("GSM", "UMTS", "LTE", "NR")
    } | {("Gamma Cell", t) for t in ("GSM", "UMTS", "LTE")}
    for (operator, technology), path in demo.coverage.items():
        with rasterio.open(path) as src:
            assert src.tags()["operator"] == operator and src.tags()["technology"] == technology
            assert src.units == ("dBm",)


def test_nodata_exactly_outside_the_country(demo: DemoCountry, outline: shapely.Geometry) -> None:
    with rasterio.open(demo.population) as src:
        x, y = _pixel_centres(src)
        inside = shapely.contains_xy(outline, x, y)
        assert np.array_equal(~src.read_masks(1).astype(bool), ~inside)
    for path in demo.coverage.values():
        with rasterio.open(path) as src:
            assert np.array_equal(src.read_masks(1).astype(bool), inside)
    with rasterio.open(demo.dem) as src:
        assert src.read_masks(1).all()  # terrain continues across the border (line of sight near it)


def test_coverage_equals_brute_force_path_loss(demo: DemoCountry) -> None:
    """Each sampled pixel equals the best level over *all* of the operator's masts, with ellipsoidal distances."""
    with demo.towers.open(encoding="utf-8", newline="") as handle:
        towers = list(csv.DictReader(handle))
    eirp = {"GSM": 57.0, "UMTS": 47.0, "LTE": 32.0, "NR": 35.0}
    mhz = {"GSM": 900.0, "UMTS": 2100.0, "LTE": 800.0, "NR": 3500.0}
    label = {"GSM": "2G", "UMTS": "3G", "LTE": "4G", "NR": "5G"}
    rng = np.random.default_rng(7)
    for (operator, technology), path in demo.coverage.items():
        sites = [t for t in towers if t["operator"] == operator and label[technology] in t["technologies"].split(";")]
        s_lon = np.array([float(t["longitude"]) for t in sites])
        s_lat = np.array([float(t["latitude"]) for t in sites])
        s_h = np.array([float(t["height_m"]) if t["height_m"] else 30.0 for t in sites])
        f = 1800.0 if (operator, technology) == ("Gamma Cell", "LTE") else mhz[technology]
        with rasterio.open(path) as src:
            values = src.read(1)
            x, y = _pixel_centres(src)
            valid = np.flatnonzero(src.read_masks(1).ravel())
        # Random pixels plus the pixels holding masts (strong signal near the mast).
        r, c = rasterio.transform.rowcol(src.transform, s_lon[:20], s_lat[:20])
        picks = np.r_[rng.choice(valid, 150, replace=False), np.ravel_multi_index((r, c), values.shape)]
        px, py = x.ravel()[picks], y.ravel()[picks]
        _, _, d_m = GEOD.inv(np.repeat(px, s_lon.size), np.repeat(py, s_lon.size),
                             np.tile(s_lon, px.size), np.tile(s_lat, px.size))
        d_km = np.maximum(d_m.reshape(px.size, s_lon.size) / 1000.0, 0.1)
        loss = 32.45 + 20 * np.log10(f) + 20 * np.log10(0.1) + 38.0 * np.log10(d_km / 0.1) - 13.82 * np.log10(s_h / 30)
        expected = np.clip(np.round((eirp[technology] - loss).max(axis=1)), -140, -30)
        got = values.ravel()[picks]
        assert np.abs(got - expected).max() <= 1, (operator, technology)
        assert got[150:].min() > -90  # in the mast's own pixel (< 0.6 km away) the signal is strong


def test_dem_has_mountains_in_the_east_and_valleys(demo: DemoCountry) -> None:
    with rasterio.open(demo.dem) as src:
        z = src.read(1).astype(float)
    west, east = z[:, : z.shape[1] // 3], z[:, -z.shape[1] // 3:]
    assert 300 <= z.min() < 600 and 4500 < z.max() <= 5600
    assert np.median(east) > np.median(west) + 1500
    towns = pyogrio.read_dataframe(demo.towns)
    assert towns.loc[towns["kind"] == "capital", "elevation_m"].iloc[0] < 1200
    assert np.median(towns["elevation_m"]) < np.median(z)  # towns sit low


def test_population_raster(demo: DemoCountry) -> None:
    towns = pyogrio.read_dataframe(demo.towns)
    with rasterio.open(demo.population) as src:
        pop = src.read(1, masked=True)
        x, y = _pixel_centres(src)
    assert pop.min() >= 0
    assert float(pop.sum(dtype=np.float64)) == pytest.approx(towns["population"].sum() + RURAL_POPULATION, rel=1e-5)
    capital = towns[towns["kind"] == "capital"].iloc[0]
    valid = ~pop.mask
    _, _, d_m = GEOD.inv(x[valid], y[valid], np.full(valid.sum(), capital.geometry.x),
                         np.full(valid.sum(), capital.geometry.y))
    near = pop.compressed()[d_m <= 10_000].sum()
    assert 0.6 * capital["population"] < near < 1.5 * capital["population"]


# --- configuration ---------------------------------------------------------------------------------------------------
def test_config_names_every_input(demo: DemoCountry) -> None:
    inputs = demo.config.inputs
    assert inputs.name == "demo" and inputs.country == "Demoland"
    named = [inputs.schools.path, *inputs.towers, *inputs.coverage, *inputs.fibre, inputs.population,
             inputs.boundaries, inputs.dem]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in named)
    assert sorted(Path(p) for p in inputs.coverage) == sorted(p.resolve() for p in demo.coverage.values())
    assert pyogrio.read_info(inputs.boundaries)["fields"].tolist().count(inputs.boundary_admin1_field) == 1
    from_file = load_config(demo.config_file).inputs
    base = demo.config_file.parent
    resolved = [from_file.schools.path, *from_file.towers, *from_file.coverage, *from_file.fibre,
                from_file.population, from_file.boundaries, from_file.dem]
    assert [str((base / p).resolve()) for p in resolved] == named
    assert from_file.boundary_admin2_field == "ADM2_EN"


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 50"):
        generate_demo_country(tmp_path / "x", n_schools=10)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        generate_demo_country(a_file)


# --- read back through connectmap.io ---------------------------------------------------------------------------------
def _reader(name: str, module: str = "connectmap.io"):  # type: ignore[no-untyped-def]
    try:
        reader = getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError:
        reader = None
    if reader is None:
        pytest.skip(f"{module}.{name} has not landed yet")
    return reader


def test_read_back_schools(demo: DemoCountry, rows: list[dict[str, str]]) -> None:
    schools = _reader("read_schools")(demo.schools)
    assert len(schools) == N_SCHOOLS
    assert schools["school_id_govt"].tolist() == [r["school_id_govt"] for r in rows]
    assert schools["school_name"].tolist() == [r["school_name"] for r in rows]  # as written; validation does NFC
    assert set(HOSTILE_NAMES) <= set(schools["school_name"])
    yes = [r["connectivity"] == "Yes" for r in rows]
    unknown = [r["connectivity"] == "" for r in rows]
    assert schools["connectivity"].isna().tolist() == unknown
    assert schools["connectivity"].fillna(False).astype(bool).tolist() == yes


def test_read_back_towers(demo: DemoCountry) -> None:
    towers = _reader("read_towers")(demo.towers)
    with demo.towers.open(encoding="utf-8", newline="") as handle:
        listed = list(csv.DictReader(handle))
    assert len(towers) == sum(len(t["technologies"].split(";")) for t in listed)
    assert set(towers["operator"]) == {"Alpha Mobile", "Beta Telecom", "Gamma Cell"}
    assert set(towers["technology"]) == {"GSM", "UMTS", "LTE", "NR"}
    assert towers["site_id"].nunique() == len(listed)
    per_site = towers.groupby("site_id")["height_m"].first()
    assert per_site.isna().sum() == sum(t["height_m"] == "" for t in listed)
    listed_height = {t["site_id"]: float(t["height_m"]) for t in listed if t["height_m"]}
    assert per_site.dropna().to_dict() == listed_height


def test_read_back_fibre(demo: DemoCountry) -> None:
    network = _reader("read_fibre")([demo.fibre_nodes, demo.fibre_lines])
    assert len(network.nodes) == 25 and network.nodes["node_id"].is_unique
    assert len(network.lines) == len(pyogrio.read_dataframe(demo.fibre_lines))
    assert set(network.lines["status"]) == {"operational", "planned"}
    assert set(network.lines["operator"]) == {"Demoland Telecom", "Alpha Mobile"}
    assert set(network.nodes["name"]) == set(pyogrio.read_dataframe(demo.fibre_nodes)["name"])


def test_read_back_boundaries(demo: DemoCountry) -> None:
    regions = _reader("read_boundaries")(demo.admin2, admin1_field="ADM1_EN", admin2_field="ADM2_EN")
    assert len(regions) == 25 and regions["admin2"].is_unique and regions["admin1"].nunique() == 5
    admin2 = pyogrio.read_dataframe(demo.admin2)
    assert dict(zip(regions["admin2"], regions["admin1"], strict=True)) == dict(
        zip(admin2["ADM2_EN"], admin2["ADM1_EN"], strict=True))


def test_read_back_rasters(demo: DemoCountry) -> None:
    open_raster = _reader("open_raster", "connectmap.io.rasters")  # the contract puts it in connectmap/io/rasters.py
    for (operator, technology), path in demo.coverage.items():
        layer = open_raster(path, kind="coverage")
        assert (layer.technology, layer.operator, layer.value) == (technology, operator, "dbm")
    assert open_raster(demo.population, kind="population").value == "count"
    assert open_raster(demo.dem, kind="dem").value == "elevation"
