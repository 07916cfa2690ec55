"""The school reader on adversarial files the tests write, and on the real registers in ../shared/data."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely

from connectmap.errors import CRSError, InputError, MissingInputError, SchemaError
from connectmap.io import read_schools
from tests.conftest import shared_file

HEADER = "school_id_govt;school_name;latitude;longitude;num_students;electricity_availability\n"


def test_bom_semicolon_and_decimal_comma(tmp_path):
    path = tmp_path / "ecoles.csv"
    body = HEADER + "00123;École Sainte-Thérèse;38,5612;68,7734;1 200;Oui\n00124;B, annexe;-12,5;-7,25;35;non\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.replace("1 200", "1200").encode("utf-8"))
    schools = read_schools(path)
    read = schools.attrs["connectmap"]
    assert read["delimiter"] == ";" and read["decimal"] == "," and read["encoding"] == "utf-8-sig"
    assert schools["school_id_govt"].tolist() == ["00123", "00124"]
    assert schools["school_name"].tolist() == ["École Sainte-Thérèse", "B, annexe"]
    assert schools["latitude"].tolist() == [38.5612, -12.5]
    assert schools["longitude"].tolist() == [68.7734, -7.25]
    assert schools["num_students"].tolist() == [1200.0, 35.0]
    assert schools["electricity_availability"].tolist() == [True, False]
    assert schools.geometry.x.tolist() == [68.7734, -7.25]
    assert schools.crs.to_epsg() == 4326


def test_cp1251_cyrillic_names(tmp_path):
    names = ["Школа №1 имени Рудаки", "Мактаби миёнаи №5", "Гимназия-интернат для одарённых детей"]
    lines = ["school_name,latitude,longitude"] + [f"{n},{38 + i / 10},{68.5 + i / 10}" for i, n in enumerate(names)]
    path = tmp_path / "maktabho.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1251"))
    schools = read_schools(path)
    assert schools.attrs["connectmap"]["encoding"] == "cp1251"
    assert schools["school_name"].tolist() == names


def test_utf16_tab_separated_as_excel_unicode_text(tmp_path):
    path = tmp_path / "schools.txt"
    text = "school_name\tlat\tlon\r\nمدرسة النور\t18,08\t-15,97\r\nΣχολείο\t37.98\t23.72\r\n"
    path.write_bytes(text.encode("utf-16"))  # with BOM, as Excel writes it
    schools = read_schools(path)
    assert schools.attrs["connectmap"]["delimiter"] == "\t"
    assert schools["school_name"].tolist() == ["مدرسة النور", "Σχολείο"]
    # mixed decimal marks: a point is present, so comma values cannot be parsed and are reported, not guessed
    assert schools["latitude"].tolist()[1] == 37.98
    assert np.isnan(schools["latitude"].iloc[0])
    assert "latitude='18,08'" in schools["_parse_problems"].iloc[0]


def test_gzip_and_ids_stay_text(tmp_path):
    path = tmp_path / "schools.csv.gz"
    body = "school_id_govt,name,lat,lon\n000123,A,1.5,2.5\n123,B,1.6,2.6\n1.20E+05,C,1.7,2.7\n"
    path.write_bytes(gzip.compress(body.encode()))
    schools = read_schools(path)
    assert schools["school_id_govt"].tolist() == ["000123", "123", "1.20E+05"]
    assert schools["source_row"].tolist() == [2, 3, 4]


def test_names_not_treated_as_missing_values(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,lat,lon\nNA,1,2\nNULL,1,3\nnan,1,4\n")
    assert read_schools(path)["school_name"].tolist() == ["NA", "NULL", "nan"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("school_id_giga,school_name,latitude,longitude", "giga master"),
        ("GIGA_ID_SCHOOL,Name,LAT,Lon", "legacy giga"),
        ("school_id,name,lat,lon,coverage_type", "project connect"),
    ],
)
def test_giga_and_project_connect_names(tmp_path, header, expected):
    path = tmp_path / "s.csv"
    values = ["x1", "A", "1.5", "2.5", "4G"][: len(header.split(","))]
    path.write_text(header + "\n" + ",".join(values) + "\n")
    schools = read_schools(path)
    assert schools["latitude"].iloc[0] == 1.5 and schools["longitude"].iloc[0] == 2.5, expected
    assert schools["school_name"].iloc[0] == "A"
    if "coverage_type" in header:
        assert schools["cellular_coverage_type"].iloc[0] == "4G"
        assert schools["school_id_govt"].iloc[0] == "x1"
    else:
        assert schools["school_id_giga"].iloc[0] == "x1"


def test_explicit_mapping_and_its_errors(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Nom,Y,X,lat\nA,1.5,2.5,9\n")
    schools = read_schools(path, columns={"school_name": "Nom", "latitude": "Y", "longitude": "X"})
    assert (schools["latitude"].iloc[0], schools["longitude"].iloc[0]) == (1.5, 2.5)
    assert schools["lat"].iloc[0] == "9"  # the alias column given way to the explicit one stays as text
    with pytest.raises(SchemaError, match=r"'Nme'.*not in the file.*'Nom'"):
        read_schools(path, columns={"school_name": "Nme"})


def test_two_coordinate_columns_are_ambiguous(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,lat,latitude,lon\nA,1,1,2\n")
    with pytest.raises(SchemaError, match=r"'lat' and 'latitude' both look like latitude.*--columns latitude="):
        read_schools(path)


def test_no_coordinate_columns(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,x_coord,y_coord\nA,1,2\n")
    with pytest.raises(SchemaError, match=r"no coordinate columns.*'x_coord'.*--columns latitude=COLUMN"):
        read_schools(path)


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(MissingInputError, match="not found"):
        read_schools(tmp_path / "nope.csv")
    path = tmp_path / "s.csv"
    path.write_bytes("name,lat,lon\nA,1,2\nШкола,1,2\n".encode("cp1251"))
    with pytest.raises(InputError, match=r"line 3: .*not valid utf-8.*--encoding"):
        read_schools(path, encoding="utf-8")


def test_utm_coordinates_with_crs(tmp_path):
    to_utm = pyproj.Transformer.from_crs(4326, 32642, always_xy=True)
    x, y = to_utm.transform(68.7734, 38.5612)
    path = tmp_path / "s.csv"
    path.write_text(f"name,x,y\nA,{x:.3f},{y:.3f}\n")
    schools = read_schools(path, columns={"longitude": "x", "latitude": "y"}, crs="EPSG:32642")
    assert abs(schools["longitude"].iloc[0] - 68.7734) < 1e-6
    assert abs(schools["latitude"].iloc[0] - 38.5612) < 1e-6
    with pytest.raises(CRSError, match="--crs 'EPSG:99999'"):
        read_schools(path, columns={"longitude": "x", "latitude": "y"}, crs="EPSG:99999")


def test_ragged_line_is_kept_for_rejection(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name,lat,lon\nA,1,2\nB,1,2,surplus,more\nC,3,4\n")
    schools = read_schools(path)
    assert schools["school_name"].tolist() == ["A", "B", "C"]
    assert schools["_extra_fields"].tolist()[1] == "surplus,more"
    assert schools["_extra_fields"].isna().tolist() == [True, False, True]


def _excel(path, sheets):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)


@pytest.mark.libreoffice
def test_excel_formulas_read_as_values(tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (Debian libreoffice-calc) is not installed")
    raw = tmp_path / "raw.xlsx"
    _excel(raw, {"Schools": [
        ["school_id_govt", "school_name", "latitude", "longitude", "num_students"],
        ["00123", "A", 38.5, 68.7, "=10*12"],
        ["00124", "=\"B\"&\"1\"", "=38+0.25", 68.8, 50],
    ]})
    # A workbook saved by a program that never calculated it has no values for its formulas: reported.
    schools = read_schools(raw)
    assert any("formula cell(s) have no saved value" in n for n in schools.attrs["connectmap"]["notes"])
    out = tmp_path / "calc"
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "xlsx",
         "--outdir", str(out), str(raw)],
        check=True, capture_output=True, timeout=180,
    )
    schools = read_schools(out / "raw.xlsx")
    assert schools["num_students"].tolist() == [120.0, 50.0]
    assert schools["latitude"].tolist() == [38.5, 38.25]
    assert schools["school_name"].tolist() == ["A", "B1"]
    assert schools["school_id_govt"].tolist() == ["00123", "00124"]


def test_excel_sheet_choice(tmp_path):
    path = tmp_path / "book.xlsx"
    rows = [["name", "lat", "lon"], ["A", 1.5, 2.5]]
    _excel(path, {"Notes": [["read me"], ["data is on the other sheet"]], "Schools": rows})
    with pytest.raises(InputError, match=r"2 sheets with data.*Notes, Schools.*--sheet"):
        read_schools(path)
    schools = read_schools(path, sheet="Schools")
    assert schools["latitude"].tolist() == [1.5]
    with pytest.raises(InputError, match="no sheet 'Scools'"):
        read_schools(path, sheet="Scools")


def _points(n=3, crs=4326):
    return gpd.GeoDataFrame(
        {"school_id_govt": [f"{i:05d}" for i in range(n)], "school_name": [f"S{i}" for i in range(n)],
         "num_students": [10 * (i + 1) for i in range(n)]},
        geometry=shapely.points(np.linspace(68, 69, n), np.linspace(38, 39, n)), crs=crs,
    )


def test_geopackage_layer_choice(tmp_path):
    path = tmp_path / "two.gpkg"
    _points().to_file(path, layer="primary", driver="GPKG")
    _points(2).to_file(path, layer="secondary", driver="GPKG")
    with pytest.raises(InputError, match=r"2 layers.*primary.*secondary.*--layer"):
        read_schools(path)
    schools = read_schools(path, layer="secondary")
    assert len(schools) == 2
    assert schools["longitude"].tolist() == [68.0, 69.0]
    assert schools["school_id_govt"].tolist() == ["00000", "00001"]
    assert schools["source_row"].tolist() == [1, 2]


def test_shapefile_needs_prj_and_respects_cpg(tmp_path):
    names = ["Школа №1", "Мактаб"]
    frame = _points(2).to_crs(32642)
    frame["school_name"] = names
    path = tmp_path / "schools.shp"
    frame.to_file(path, encoding="cp1251")
    assert (tmp_path / "schools.cpg").read_text().strip().upper() in {"CP1251", "1251"}
    schools = read_schools(path)
    assert schools["school_name"].tolist() == names
    np.testing.assert_allclose(schools["longitude"], [68.0, 69.0], atol=1e-7)
    assert schools["num_students"].tolist() == [10.0, 20.0]  # "num_studen", as the format cut it
    (tmp_path / "schools.prj").unlink()
    with pytest.raises(CRSError, match=r"no coordinate reference system \(the \.prj file is missing\)"):
        read_schools(path)


def test_geojson_and_geoparquet(tmp_path):
    frame = _points()
    frame.to_file(tmp_path / "s.geojson", driver="GeoJSON")
    frame.to_parquet(tmp_path / "s.parquet")
    for name in ("s.geojson", "s.parquet"):
        schools = read_schools(tmp_path / name)
        assert schools["latitude"].tolist() == [38.0, 38.5, 39.0], name
        assert schools["num_students"].tolist() == [10.0, 20.0, 30.0], name
        assert schools["school_id_govt"].tolist() == ["00000", "00001", "00002"], name


def test_unknown_format(tmp_path):
    path = tmp_path / "s.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"\.xls workbooks are not supported"):
        read_schools(path)


# --- real registers ---------------------------------------------------------------------------------------------
def test_mauritania_register_reads_every_line():
    path = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    schools = read_schools(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(schools) == len(lines) - 1 == 2939 + 3
    mapping = schools.attrs["connectmap"]["column_mapping"]
    assert mapping["longitude"] == "LON" and mapping["latitude"] == "LAT"
    assert mapping["school_name"] == "Name of the school"
    first = lines[1].split(",")
    assert schools["school_name"].iloc[0] == first[9] and schools["longitude"].iloc[0] == float(first[4])


def test_botswana_giga_names():
    path = shared_file("botswana", "TrainingData_uncorrelated_with_aux_and_schoolage_pop.csv")
    schools = read_schools(path)
    raw = pd.read_csv(path)
    mapping = schools.attrs["connectmap"]["column_mapping"]
    assert mapping["school_id_giga"] == "giga_id_school"
    assert (mapping["latitude"], mapping["longitude"]) == ("lat", "lon")
    assert schools["connectivity"].astype(bool).tolist() == (raw["connectivity"] == 1).tolist()
    np.testing.assert_allclose(schools["nearest_LTE_distance"], raw["nearest_LTE_distance"])
    assert schools["school_id_giga"].tolist() == raw["giga_id_school"].astype(str).tolist()


def test_kenya_register():
    path = shared_file("kenya", "kenya_schools_moe2016.csv.gz")
    schools = read_schools(path)
    assert len(schools) == 37930
    assert schools.attrs["connectmap"]["column_mapping"]["school_name"] == "SCHOOL_NAM"
    in_kenya = schools["longitude"].between(33.9, 41.95) & schools["latitude"].between(-4.75, 5.05)
    assert in_kenya.mean() > 0.99  # the few outliers are for validation to flag
