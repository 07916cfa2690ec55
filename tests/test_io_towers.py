"""Tower readers: OpenCelliD exports (headerless, header, gzip), site collapse, operator lists, bad rows.

Every expected value is worked out by hand or recomputed independently (csv module, pyproj Geod, a sequential
Python implementation of the site rule), never copied from the reader's output.
"""

from __future__ import annotations

import csv
import gzip
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from connectmap.errors import InputError, MissingInputError, SchemaError
from connectmap.io import read_towers
from connectmap.io.towers import TOWER_COLUMNS, cell_sites, cells_to_sites, normalise_operator_names
from connectmap.parameters.towers import TowerSiteParams
from tests.conftest import shared_file

GEOD = pyproj.Geod(ellps="WGS84")
HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"


def ocid(radio, net, area, cell, lon, lat, range_m=1000, samples=1, mcc=740) -> str:
    """One OpenCelliD export line (14 fields, as the real exports)."""
    return f"{radio},{mcc},{net},{area},{cell},0,{lon!r},{lat!r},{range_m},{samples},1,1347360297,1382522448,0"


def offset(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lon, lat) along an azimuth, on the WGS84 ellipsoid."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    return float(lon2), float(lat2)


def write(path: Path, lines: list[str], *, gz: bool = False, header: bool = False) -> Path:
    text = "\n".join(([HEADER] if header else []) + lines) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="ascii") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="ascii")
    return path


# --- the hand-worked site case ---------------------------------------------------------------------------------------
P0 = (-79.90, -2.19)
P1 = (-78.50, -0.20)
P2 = (-79.00, -1.50)


def hand_case() -> list[str]:
    """13 cells whose sites are worked out by hand in ``test_site_collapse_counted_by_hand``."""
    b = offset(*P0, 90, 30)
    c = offset(*P0, 0, 30)
    d = offset(*P0, 90, 150)
    chain = [offset(*P1, 90, 80 * k) for k in range(5)]
    lte_near = offset(*P2, 45, 1000)
    lte_far = offset(*P2, 180, 20000)
    return [
        ocid("GSM", 1, 10, 1, *P0, range_m=500, samples=50),  # a
        ocid("GSM", 1, 10, 2, *b, range_m=1500, samples=10),  # b: 30 m from a
        ocid("UMTS", 1, 10, 3, *c, range_m=700, samples=5),  # c: 30 m from a
        ocid("UMTS", 1, 10, 4, *d, range_m=900, samples=1),  # d: 150 m from a, 120 m from b
        ocid("GSM", 2, 20, 1, *P0, range_m=800, samples=100),  # e: another operator at a's position
        # chain 80 m apart; samples 1, 5, 2, 4, 3 -> centres x1 and x3 (single linkage would give one site)
        *[ocid("GSM", 1, 30, 10 + k, *chain[k], samples=s) for k, s in enumerate((1, 5, 2, 4, 3))],
        ocid("LTE", 1, 40, 256000 + 1, *P2, samples=30),  # eNodeB 1000, cell 1
        ocid("LTE", 1, 40, 256000 + 2, *lte_near, samples=20),  # eNodeB 1000, cell 2, 1 km away: same site
        ocid("LTE", 1, 40, 256000 + 3, *lte_far, samples=1),  # eNodeB 1000, 20 km away: a stale record
    ]


def test_site_collapse_counted_by_hand(tmp_path):
    path = write(tmp_path / "cells.csv", hand_case())
    towers = read_towers(path, operator_names={"740-01": "Claro"})
    assert list(towers.columns) == [*TOWER_COLUMNS, "geometry"]
    assert towers.crs.to_epsg() == 4326
    rows = {(r.site_id, r.technology): (r.operator, r.cell_count) for r in towers.itertuples()}
    assert rows == {
        ("740-1-GSM-10-1", "GSM"): ("Claro", 2),  # a + b
        ("740-1-GSM-10-1", "UMTS"): ("Claro", 1),  # c joined a's site
        ("740-1-UMTS-10-4", "UMTS"): ("Claro", 1),  # d: 150 m from the centre a
        ("740-2-GSM-20-1", "GSM"): ("740-2", 1),  # e: other operator, unmapped network keeps MCC-MNC
        ("740-1-GSM-30-11", "GSM"): ("Claro", 3),  # x0, x1, x2 (x2 joins the higher-ranked centre x1; named by x1)
        ("740-1-GSM-30-13", "GSM"): ("Claro", 2),  # x3, x4
        ("740-1-LTE-40-256001", "LTE"): ("Claro", 2),  # eNodeB 1000: cells 1 and 2
        ("740-1-LTE-40-256003", "LTE"): ("Claro", 1),  # 20 km away: placed by position
    }
    assert int(towers["cell_count"].sum()) == 13
    abc = towers[towers.site_id == "740-1-GSM-10-1"]
    assert abc.set_index("technology")["range_m"].to_dict() == {"GSM": 1500.0, "UMTS": 700.0}
    # Site position: the mean of its cells; over 30 m the arithmetic mean of degrees agrees to ~1e-9 degree.
    b, c = offset(*P0, 90, 30), offset(*P0, 0, 30)
    expected = (np.mean([P0[0], b[0], c[0]]), np.mean([P0[1], b[1], c[1]]))
    point = abc.geometry.iloc[0]
    assert point.x == pytest.approx(expected[0], abs=1e-7) and point.y == pytest.approx(expected[1], abs=1e-7)
    assert (towers["mcc"] == 740).all() and set(towers["mnc"]) == {1, 2}
    assert towers["height_m"].isna().all()
    assert towers.attrs["connectmap"]["unmapped_networks"] == {"740-2": 1}


def test_headerless_header_and_gzip_read_the_same(tmp_path):
    lines = hand_case()
    plain = read_towers(write(tmp_path / "a.csv", lines))
    gz = read_towers(write(tmp_path / "b.csv.gz", lines, gz=True))
    with_header = read_towers(write(tmp_path / "c.csv", lines, header=True))
    # gzip detected by content, not by name
    gz_no_suffix = read_towers(write(tmp_path / "d.csv", lines, gz=True))
    for other in (gz, with_header, gz_no_suffix):
        pd.testing.assert_frame_equal(pd.DataFrame(plain), pd.DataFrame(other))
    assert plain.attrs["connectmap"]["header"] is False and with_header.attrs["connectmap"]["header"] is True


def test_site_ids_do_not_depend_on_row_order(tmp_path):
    lines = hand_case()
    first = read_towers(write(tmp_path / "a.csv", lines))
    shuffled = [lines[i] for i in np.random.default_rng(3).permutation(len(lines))]
    second = read_towers(write(tmp_path / "b.csv", shuffled))
    pd.testing.assert_frame_equal(
        pd.DataFrame(first.drop(columns="geometry")), pd.DataFrame(second.drop(columns="geometry"))
    )
    assert np.allclose(shapely.get_coordinates(first.geometry), shapely.get_coordinates(second.geometry), atol=1e-12)


def test_radio_aliases(tmp_path):
    labels = ["GSM", "gsm", "CDMA", "2G", "UMTS", "WCDMA", "3g", "LTE", "4G", "lte-a", "NR", "5G"]
    expected = ["GSM"] * 4 + ["UMTS"] * 3 + ["LTE"] * 3 + ["NR"] * 2
    # Far apart (1 degree), so every cell is its own site.
    lines = [ocid(label, 1, 1, k + 1, -79.0 + k, -1.0) for k, label in enumerate(labels)]
    towers = read_towers(write(tmp_path / "aliases.csv", lines))
    by_cell = {r.site_id.split("-")[-1]: r.technology for r in towers.itertuples()}
    assert [by_cell[str(k + 1)] for k in range(len(labels))] == expected


def test_unknown_radio_and_bad_rows_are_an_error_or_rejected(tmp_path):
    lines = [
        ocid("GSM", 1, 1, 1, -79.0, -1.0),
        ocid("WIMAX", 1, 1, 2, -79.1, -1.0),  # row 2: unknown radio
        ocid("LTE", 1, 1, 3, -79.2, 95.0),  # row 3: latitude out of range
        ocid("LTE", 1, 1, 4, 0.0, 0.0),  # row 4: (0, 0)
        ocid("UMTS", 1, 1, 5, -79.3, -1.0),
        "UMTS,740,1,1,6,0,abc,-1.0,1000,1,1,1,1,0",  # row 6: longitude not a number
        "GSM,740,1,1,7,0,-79.4,-1.0,1000,1,1,1,1,0,surplus",  # row 7: a field too many
        ocid("WIMAX", 1, 1, 8, -79.5, -1.0),  # row 8: unknown radio again
    ]
    path = write(tmp_path / "bad.csv", lines)
    with pytest.raises(InputError) as err:
        read_towers(path)
    message = str(err.value)
    assert str(path) in message and "6 row(s) cannot be used" in message
    assert "radio label 'WIMAX'" in message and "rows 2, 8" in message
    assert "latitude outside -90..90 (row 3)" in message and "(0, 0)" in message
    assert "return_rejected=True" in message

    towers, rejected = read_towers(path, return_rejected=True)
    assert sorted(rejected["source_row"]) == [2, 3, 4, 6, 7, 8]
    reasons = dict(zip(rejected["source_row"], rejected["reason"], strict=True))
    assert "WIMAX" in reasons[2] and "latitude" in reasons[3] and "(0, 0)" in reasons[4]
    assert "lon is missing or not a number" in reasons[6] and "more fields" in reasons[7]
    assert rejected.loc[rejected.source_row == 6, "lon"].iloc[0] == "abc"  # original text kept
    # cells in = cells in sites + rejected
    assert int(towers["cell_count"].sum()) + len(rejected) == len(lines)
    assert set(towers["technology"]) == {"GSM", "UMTS"}


def test_operator_names_keys_and_unmapped_report(tmp_path, caplog):
    assert normalise_operator_names({"740-01": "Claro", "740 0": "Movistar", "MA": "Mauritel"}) == {
        "740-1": "Claro", "740-0": "Movistar", "MA": "Mauritel"}
    lines = [ocid("GSM", 1, 1, 1, -79.0, -1.0), ocid("GSM", 0, 1, 2, -78.0, -1.0), ocid("GSM", 3, 1, 3, -77.0, -1.0)]
    with caplog.at_level(logging.WARNING, logger="connectmap.io.towers"):
        towers = read_towers(write(tmp_path / "x.csv", lines), operator_names={"740-1": "Claro", "740-00": "Movistar"})
    assert sorted(towers["operator"]) == ["740-3", "Claro", "Movistar"]
    assert "740-3 (1 cells)" in caplog.text and "operator_names" in caplog.text


def test_single_linkage_would_chain_but_greedy_centres_do_not(tmp_path):
    # 12 cells 90 m apart on a line: 1 km long. Every site must stay within 100 m of its centre cell.
    points = [offset(-79.0, -1.0, 90, 90 * k) for k in range(12)]
    lines = [ocid("GSM", 1, 1, k + 1, *p, samples=12 - k) for k, p in enumerate(points)]
    towers = read_towers(write(tmp_path / "line.csv", lines))
    assert towers["cell_count"].max() <= 3 and len(towers) >= 4


def test_greedy_rule_matches_a_sequential_implementation():
    rng = np.random.default_rng(11)
    radius_m = 150.0
    for _ in range(3):
        n = 250
        lon = -79.0 + rng.uniform(0, 0.02, n)
        lat = -1.0 + rng.uniform(0, 0.02, n)
        operator = rng.choice(["A", "B"], n)
        samples = rng.integers(1, 30, n)
        key = [f"k{i:04d}" for i in range(n)]
        cells = pd.DataFrame({"operator": operator, "lon": lon, "lat": lat, "samples": samples, "cell_key": key})
        labels = cell_sites(cells, colocation_radius_m=radius_m)
        # Sequential greedy, written plainly: most samples first, then smallest key.
        order = sorted(range(n), key=lambda k: (-samples[k], key[k]))
        centres: list[int] = []
        centre_of: dict[int, int] = {}
        for k in order:
            near = [c for c in centres if operator[c] == operator[k]
                    and GEOD.inv(lon[k], lat[k], lon[c], lat[c])[2] <= radius_m]
            if near:
                centre_of[k] = near[0]  # centres are in priority order: the first is the most confident
            else:
                centres.append(k)
                centre_of[k] = k
        expected = {frozenset(k for k in range(n) if centre_of[k] == c) for c in centres}
        got = {frozenset(np.flatnonzero(labels == s)) for s in np.unique(labels)}
        assert got == expected


def test_sites_across_the_antimeridian():
    cells = pd.DataFrame({
        "operator": ["Fiji"] * 2, "technology": ["LTE", "LTE"], "lon": [179.9997, -179.9997], "lat": [-17.0, -17.0],
    })
    towers = cells_to_sites(cells, colocation_radius_m=100.0)  # the two cells are 64 m apart
    assert len(towers) == 1 and int(towers["cell_count"].iloc[0]) == 2
    assert abs(towers.geometry.x.iloc[0]) > 179.9999  # not the arithmetic mean, 0


def test_empty_and_missing(tmp_path):
    with pytest.raises(MissingInputError):
        read_towers(tmp_path / "nope.csv")
    path = tmp_path / "list.csv"
    path.write_text("tower_id,operator,technology,latitude,longitude\nT1,A,2G,1,2\n")
    with pytest.raises(InputError, match="not an OpenCelliD export"):
        read_towers(path, kind="opencellid")
    assert len(cells_to_sites(pd.DataFrame({"operator": [], "technology": [], "lon": [], "lat": []}))) == 0


def test_real_ecuador_export():
    path = shared_file("ecuador", "740.csv.gz")
    # Independent count of cells per radio with the csv module.
    with gzip.open(path, "rt", encoding="ascii") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 75_068 and rows[0][0] in {"GSM", "UMTS", "LTE", "CDMA"}  # no header row
    radios = pd.Series([r[0] for r in rows]).value_counts().to_dict()
    enodebs = {(r[2], int(r[4]) // 256) for r in rows if r[0] == "LTE"}
    names = {"740-0": "Movistar", "740-1": "Claro", "740-2": "CNT"}
    towers = read_towers(path, operator_names=names)
    assert int(towers["cell_count"].sum()) == 75_068
    per_tech = towers.groupby("technology")["cell_count"].sum().to_dict()
    assert per_tech == {"GSM": radios["GSM"] + radios.get("CDMA", 0), "UMTS": radios["UMTS"], "LTE": radios["LTE"]}
    sites = towers["site_id"].nunique()
    # Plausible: fewer sites than cells; LTE sites close to the number of eNodeBs (a few split off as stale
    # records, a few co-located eNodeBs merged).
    assert 20_000 < sites < 75_068
    lte_sites = int((towers["technology"] == "LTE").sum())
    assert 0.9 * len(enodebs) <= lte_sites <= 1.2 * len(enodebs)
    assert {"Claro", "Movistar", "CNT"} <= set(towers["operator"])
    x, y = towers.geometry.x, towers.geometry.y
    assert x.between(-92.1, -75.1).all() and y.between(-5.1, 1.5).all()  # Ecuador incl. Galápagos
    assert towers["site_id"].str.startswith("740-").all()
    assert not towers.duplicated(["site_id", "technology"]).any()


# --- operator tower lists --------------------------------------------------------------------------------------------
def test_real_mauritania_tower_list():
    path = shared_file("mauritania", "mauritania_towers_from_register.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    towers = read_towers(path, operator_names={"MA": "Mauritel"})
    assert len(rows) == 620 and len(towers) == 620
    expected_ops = pd.Series([{"MA": "Mauritel"}.get(r["operator"], r["operator"]) for r in rows]).value_counts()
    assert towers["operator"].value_counts().to_dict() == expected_ops.to_dict()
    expected_tech = pd.Series([{"2G": "GSM", "3G": "UMTS"}[r["technology"]] for r in rows]).value_counts()
    assert towers["technology"].value_counts().to_dict() == expected_tech.to_dict()
    # The id prefix says operator and generation (MA2G..., MR3G...); the reader kept both consistent.
    assert (towers["site_id"].str[:2].map({"MA": "Mauritel"}).fillna(towers["site_id"].str[:2])
            == towers["operator"]).all()
    first = rows[0]
    row = towers.set_index("site_id").loc[first["tower_id"]]
    assert row.geometry.x == float(first["longitude"]) and row.geometry.y == float(first["latitude"])


def test_list_with_technologies_in_one_column_and_common_headers(tmp_path):
    path = tmp_path / "towers.csv"
    path.write_text(
        "Tower ID;MNO;Technologies;Height (m);Lat;Lng\n"
        "T-001;Safaricom;2G;3G;4G;30;-1,2921;36,8219\n".replace("2G;3G;4G", '"2G;3G;4G"')
        + "T-002;Airtel;GSM/LTE;45 m;-0,0917;34,7680\n"
        ";;;;;\n"  # an empty row, skipped
        + "T-003;Airtel;5G NR;;-4,0435;39,6682\n",
        encoding="utf-8-sig",
    )
    towers = read_towers(path, columns={"height_m": "Height (m)"})
    got = {(r.site_id, r.technology): (r.operator, r.height_m) for r in towers.itertuples()}
    assert set(got) == {("T-001", "GSM"), ("T-001", "UMTS"), ("T-001", "LTE"), ("T-002", "GSM"), ("T-002", "LTE"),
                        ("T-003", "NR")}
    assert got[("T-001", "UMTS")] == ("Safaricom", 30.0) and got[("T-002", "LTE")] == ("Airtel", 45.0)
    assert np.isnan(got[("T-003", "NR")][1])
    t1 = towers[towers.site_id == "T-001"].geometry.iloc[0]
    assert (t1.x, t1.y) == (36.8219, -1.2921)  # decimal commas understood
    assert towers["cell_count"].isna().all() and towers["range_m"].isna().all()


def test_list_one_technology_per_row_in_excel(tmp_path):
    path = tmp_path / "towers.xlsx"
    pd.DataFrame({
        "site_id": ["S1", "S1", "S2"], "operator": ["Orange", "Orange", "Orange"], "radio": ["2G", "4G", "3G"],
        "height": [25, 25, 40], "latitude": [14.7, 14.7, 14.8], "longitude": [-17.4, -17.4, -17.5],
    }).to_excel(path, index=False)
    towers = read_towers(path)
    assert sorted(zip(towers.site_id, towers.technology, strict=True)) == [("S1", "GSM"), ("S1", "LTE"),
                                                                            ("S2", "UMTS")]
    assert towers.set_index("site_id").loc["S2", "height_m"] == 40.0


def test_list_as_geojson_and_geopackage(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": [101, 102], "operator": ["Vodacom", "Vodacom"], "tech": ["LTE", "UMTS"]},
        geometry=[shapely.Point(32.58, -25.96), shapely.Point(33.0, -25.0)], crs="EPSG:4326",
    )
    for name, driver in (("t.geojson", "GeoJSON"), ("t.gpkg", "GPKG")):
        frame.to_file(tmp_path / name, driver=driver)
        towers = read_towers(tmp_path / name)
        assert list(towers["site_id"]) == ["101", "102"]  # ids as text, no ".0"
        assert list(towers["technology"]) == ["LTE", "UMTS"]
        assert towers.geometry.iloc[0].equals(shapely.Point(32.58, -25.96))
    # A projected GeoPackage is reprojected.
    frame.to_crs("EPSG:32736").to_file(tmp_path / "utm.gpkg", driver="GPKG")
    towers = read_towers(tmp_path / "utm.gpkg")
    assert towers.geometry.iloc[0].x == pytest.approx(32.58, abs=1e-7)
    # A line among the points is rejected, not dropped silently.
    mixed = pd.concat([frame, gpd.GeoDataFrame({"id": [103], "operator": ["V"], "tech": ["LTE"]},
                                               geometry=[shapely.LineString([(0, 1), (1, 1)])], crs="EPSG:4326")])
    mixed.to_file(tmp_path / "mixed.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match=r"not a point \(row 3\)"):
        read_towers(tmp_path / "mixed.geojson")


def test_list_problems_are_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("site,operator,technology,latitude,longitude\n"
                    "A,X,2G,10,10\nB,X,6G,10,11\nA,X,GSM,10.5,10\nC,X,,10,12\nD,X,3G,100,12\n")
    with pytest.raises(InputError) as err:
        read_towers(path)
    message = str(err.value)
    assert "unknown technology '6g'" in message and "(row 3)" in message
    assert "duplicate: site 'A' (GSM) already given on row 2 (row 4)" in message
    assert "technology is empty" in message and "(row 5)" in message
    assert "latitude outside -90..90" in message and "(row 6)" in message
    towers, rejected = read_towers(path, return_rejected=True)
    assert list(towers["site_id"]) == ["A"] and sorted(rejected["source_row"]) == [3, 4, 5, 6]
    # technology= fills the empty cell
    towers, rejected = read_towers(path, technology="LTE", return_rejected=True)
    assert ("C", "LTE") in set(zip(towers.site_id, towers.technology, strict=True))


def test_list_without_needed_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("site,operator,latitude,longitude\nA,X,10,10\n")
    with pytest.raises(SchemaError, match="no technology column"):
        read_towers(path)
    towers = read_towers(path, technology="2G;3G")
    assert sorted(towers["technology"]) == ["GSM", "UMTS"]
    path.write_text("site,operator,technology,y,x\nA,X,LTE,10,10\n")
    with pytest.raises(SchemaError, match="no coordinate columns"):
        read_towers(path)
    towers = read_towers(path, columns={"latitude": "y", "longitude": "x"})
    assert towers.geometry.iloc[0].equals(shapely.Point(10, 10))
    with pytest.raises(SchemaError, match="'lat_col'"):
        read_towers(path, columns={"latitude": "lat_col", "longitude": "x"})
    with pytest.raises(SchemaError, match="not tower fields"):
        read_towers(path, columns={"lattitude": "y"})


def test_params_change_the_radius(tmp_path):
    points = [offset(-79.0, -1.0, 90, 60 * k) for k in range(2)]  # 60 m apart
    path = write(tmp_path / "two.csv", [ocid("GSM", 1, 1, k + 1, *p) for k, p in enumerate(points)])
    assert len(read_towers(path)) == 1
    assert len(read_towers(path, params=TowerSiteParams(colocation_radius_m=50))) == 2


# --- the `connectmap layers` command ---------------------------------------------------------------------------------
def test_layers_command_writes_what_it_read_and_the_rows_set_aside(tmp_path, run_cli):
    cells = write(tmp_path / "cells.csv", [*hand_case(), ocid("WIMAX", 1, 1, 99, -79.0, -1.0)])
    nodes = tmp_path / "nodes.geojson"
    gpd.GeoDataFrame({"node_id": ["N1", "N2"], "status": ["Operational", "Planned"]},
                     geometry=[shapely.Point(30, -1), shapely.Point(31, -1)], crs="EPSG:4326").to_file(nodes)
    regions = tmp_path / "regions.gpkg"
    for layer in ("adm1", "adm2"):
        gpd.GeoDataFrame({"NAME_1": ["North"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(
            regions, layer=layer)
    cover = tmp_path / "cover.geojson"
    gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326").to_file(cover)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "layers", "--towers", cells, "--operator-name", "740-1=Claro", "--fibre", nodes, "--boundaries", regions,
        "--boundary-layer", "adm2", "--coverage", f"4G:Orange={cover}", "--out", out)
    assert code == 0, stderr
    assert "13 cells -> 7 sites" in stdout and "1 rows set aside" in stdout
    assert "network 740-2 has no operator name (1 cells)" in stdout
    towers = gpd.read_file(out / "towers.gpkg")
    assert len(towers) == 8 and towers["cell_count"].sum() == 13 and "Claro" in set(towers["operator"])
    rejected = pd.read_csv(out / "towers_rejected.csv", encoding="utf-8-sig")
    assert rejected["source_row"].tolist() == [14] and "WIMAX" in rejected["reason"].iloc[0]
    assert gpd.read_file(out / "fibre_nodes.gpkg")["status"].tolist() == ["operational", "planned"]
    assert gpd.read_file(out / "boundaries.gpkg")["admin1"].tolist() == ["North"]
    coverage = gpd.read_file(out / "coverage.gpkg")
    assert coverage[["technology", "operator"]].values.tolist() == [["LTE", "Orange"]]
    # User mistakes: one line, exit 2, no traceback.
    code, _, stderr = run_cli("layers", "--boundaries", regions, "--out", out)
    assert code == 2 and "2 layers" in stderr and "--boundary-layer" in stderr and "Traceback" not in stderr
    code, _, stderr = run_cli("layers", "--out", out)
    assert code == 2 and "at least one of" in stderr
    # An output never replaces an input: a tower list named towers.gpkg in the output folder is refused.
    own = tmp_path / "own"
    own.mkdir()
    gpd.read_file(out / "towers.gpkg").to_file(own / "towers.gpkg", layer="towers")
    before = (own / "towers.gpkg").read_bytes()
    code, _, stderr = run_cli("layers", "--towers", own / "towers.gpkg", "--out", own)
    assert code == 2 and "towers.gpkg" in stderr and (own / "towers.gpkg").read_bytes() == before


def test_truncated_gzip_and_odd_first_lines(tmp_path):
    path = write(tmp_path / "full.csv.gz", hand_case() * 200, gz=True)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(InputError, match=r"cut\.csv\.gz"):
        read_towers(cut)
    # Headerless detection is by shape: an unknown radio on the first line is still an OpenCelliD row (rejected).
    odd = write(tmp_path / "odd.csv", [ocid("WIMAX", 1, 1, 1, -79.0, -1.0), ocid("GSM", 1, 1, 2, -78.0, -1.0)])
    towers, rejected = read_towers(odd, return_rejected=True)
    assert rejected["source_row"].tolist() == [1] and towers["technology"].tolist() == ["GSM"]
    # A short line (fields missing) is rejected, not misread.
    short = write(tmp_path / "short.csv", [ocid("GSM", 1, 1, 1, -79.0, -1.0), "LTE,740,1,5"])
    towers, rejected = read_towers(short, return_rejected=True)
    assert rejected["source_row"].tolist() == [2] and "lon is missing" in rejected["reason"].iloc[0]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_towers(empty)
