"""Validation: every check on adversarial rows the tests write, invariants, and the real registers."""

from __future__ import annotations

import json
import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectmap.io import read_schools
from connectmap.validate import validate_schools
from tests.conftest import shared_file

GEOD = pyproj.Geod(ellps="WGS84")
# A box standing in for a country at Tajikistan's latitudes: lon 67.5..75, lat 36.7..41.
COUNTRY = gpd.GeoDataFrame(geometry=[shapely.box(67.5, 36.7, 75.0, 41.0)], crs=4326)


def _register(tmp_path, rows, header="school_id_govt,school_name,latitude,longitude,num_students,num_teachers"):
    path = tmp_path / "register.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return read_schools(path)


def _flags(result, name):
    row = result.clean.loc[result.clean["school_name"] == name, "quality_flags"]
    assert len(row) == 1, name
    return set(filter(None, row.iloc[0].split(";")))


def _reason(result, name):
    row = result.rejected.loc[result.rejected["school_name"] == name]
    assert len(row) == 1, name
    return row["reason"].iloc[0], row["reason_detail"].iloc[0]


def test_coordinate_problems_are_rejected_with_reasons(tmp_path):
    schools = _register(tmp_path, [
        "1,ok,38.5,68.7,100,5",
        "2,no lat,,68.7,100,5",
        "3,text lat,38°30'N,68.7,100,5",
        "4,null island,0,0,100,5",
        "5,utm as degrees,4268000,500000,100,5",
        "6,way out,95,200,100,5",
        ",,,,,",
    ])
    result = validate_schools(schools, boundary=COUNTRY)
    assert result.clean["school_name"].tolist() == ["ok"]
    assert _reason(result, "no lat")[0] == "missing_coordinates"
    reason, detail = _reason(result, "text lat")
    assert reason == "unparseable_coordinates" and "38°30'N" in detail
    assert _reason(result, "null island")[0] == "null_island"
    reason, detail = _reason(result, "utm as degrees")
    assert reason == "projected_coordinates" and "--crs" in detail
    assert _reason(result, "way out")[0] == "coordinates_out_of_range"
    empty = result.rejected[result.rejected["reason"] == "empty_row"]
    assert empty["source_row"].tolist() == [8]
    # original values are kept under the file's own names
    assert result.rejected.loc[result.rejected["school_name"] == "text lat", "latitude"].isna().all()
    assert result.summary["rows_in"] == 7 == result.summary["rows_clean"] + result.summary["rows_rejected"]
    assert result.summary["rejected_by_reason"] == {
        "coordinates_out_of_range": 1, "empty_row": 1, "missing_coordinates": 1, "null_island": 1,
        "projected_coordinates": 1, "unparseable_coordinates": 1,
    }


def test_swapped_coordinates_fixed_only_with_outline(tmp_path):
    rows = [
        "1,swapped,68.7,38.5,100,5",     # lat/lon swapped: (lon 38.5, lat 68.7) is in the Arctic, swapped is inside
        "2,outside,10.0,10.0,100,5",      # outside the country either way: flagged, kept
        "3,inside,38.6,68.8,100,5",
        "4,impossible,120.0,38.5,100,5",  # latitude 120: swapped point (38.5, 120) is not in the country either
    ]
    fixed = validate_schools(_register(tmp_path, rows), boundary=COUNTRY)
    row = fixed.clean[fixed.clean["school_name"] == "swapped"].iloc[0]
    assert (row["latitude"], row["longitude"]) == (38.5, 68.7)
    assert (row.geometry.x, row.geometry.y) == (68.7, 38.5)
    assert _flags(fixed, "swapped") == {"swapped_coordinates_fixed"}
    assert _flags(fixed, "outside") == {"outside_boundary"}
    assert _flags(fixed, "inside") == set()
    assert _reason(fixed, "impossible")[0] == "coordinates_out_of_range"

    plain = validate_schools(_register(tmp_path, rows))
    assert _flags(plain, "swapped") == set()  # without an outline nothing is guessed
    assert plain.clean.loc[plain.clean["school_name"] == "swapped", "latitude"].iloc[0] == 68.7
    reason, detail = _reason(plain, "impossible")
    assert reason == "coordinates_out_of_range" and "--boundary" in detail


def _offset(lon, lat, azimuth_deg, metres):
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, metres)
    return f"{lat2:.9f},{lon2:.9f}"


def test_duplicates_and_near_duplicates(tmp_path):
    lon, lat = 68.7734, 38.5612
    rows = [
        f"00123,Maktab 1,{lat},{lon},100,5",
        f"123,Maktab 1,{_offset(lon, lat, 90, 100)},100,5",      # same name 100 m away; id differs by leading zeros
        f"00123,Maktab 7,{_offset(lon, lat, 0, 5000)},100,5",    # duplicate id far away
        f"00200,Maktab 2,{_offset(lon, lat, 0, 10000)},100,5",
        f"00201,Maktab 3,{_offset(lon, lat, 180, 40)},100,5",    # different name, 40 m from Maktab 1
        f"00202,Maktab 4,{_offset(lon, lat, 0, 20000)},100,5",
        f"00203,MAKTAB  4,{_offset(lon, lat, 0, 20120)},100,5",  # same name (case, spaces) 120 m away: not flagged
    ]
    result = validate_schools(_register(tmp_path, rows))
    flags = result.clean.set_index("source_row")["quality_flags"]
    assert set(flags[2].split(";")) == {"duplicate_id", "near_duplicate_name", "near_duplicate_location"}
    assert flags[3] == "near_duplicate_name"
    assert _flags(result, "Maktab 7") == {"duplicate_id"}
    assert _flags(result, "Maktab 2") == set()
    assert _flags(result, "Maktab 3") == {"near_duplicate_location"}
    assert _flags(result, "Maktab 4") == set()
    assert result.clean["school_id_govt"].tolist()[:2] == ["00123", "123"]


def test_near_duplicate_thresholds_follow_parameters(tmp_path):
    from connectmap.parameters.validation import ValidationParams

    lon, lat = 68.7734, 38.5612
    rows = [f"1,A,{lat},{lon},1,1", f"2,B,{_offset(lon, lat, 45, 70)},1,1"]
    assert _flags(validate_schools(_register(tmp_path, rows)), "A") == set()
    wide = ValidationParams(near_duplicate_any_m=80)
    assert _flags(validate_schools(_register(tmp_path, rows), params=wide), "A") == {"near_duplicate_location"}


def test_numbers_and_unicode(tmp_path):
    decomposed = unicodedata.normalize("NFD", "École Zoé")
    assert decomposed != "École Zoé"
    rows = [
        "1,negative,38.5,68.7,-5,3",
        "2,huge,38.6,68.8,25000,4000",
        f"3,{decomposed},38.7,68.9,100,abc",
    ]
    result = validate_schools(_register(tmp_path, rows))
    negative = result.clean[result.clean["school_name"] == "negative"].iloc[0]
    assert np.isnan(negative["num_students"]) and _flags(result, "negative") == {"negative_num_students"}
    huge = result.clean[result.clean["school_name"] == "huge"].iloc[0]
    assert huge["num_students"] == 25000
    assert _flags(result, "huge") == {"num_students_implausible", "num_teachers_implausible"}
    assert _flags(result, "École Zoé") == {"unparseable_value"}
    assert result.summary["text_values_normalised_nfc"] == 1


_row = st.tuples(
    st.sampled_from(["", "x", "-1", "0", "38.5", "68.7", "4268000", "95", "1e3"]),
    st.sampled_from(["", "x", "0", "68.7", "38.5", "200", "500000"]),
    st.sampled_from(["", "A", "B"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, min_size=1, max_size=25))
def test_rows_in_equal_clean_plus_rejected(tmp_path, rows):
    lines = [f"{i},{name},{lat},{lon},10,1" for i, (lat, lon, name) in enumerate(rows)]
    result = validate_schools(_register(tmp_path, lines), boundary=COUNTRY)
    assert len(result.clean) + len(result.rejected) == len(rows)
    assert sorted(result.clean["source_row"].tolist() + result.rejected["source_row"].tolist()) == list(
        range(2, len(rows) + 2)
    )
    assert result.rejected["reason"].notna().all()
    clean = result.clean
    assert clean["latitude"].between(-90, 90).all() and clean["longitude"].between(-180, 180).all()
    assert np.allclose(clean.geometry.x, clean["longitude"]) and np.allclose(clean.geometry.y, clean["latitude"])


# --- real registers ---------------------------------------------------------------------------------------------
def test_mauritania_register_accounted_for():
    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    outline = gpd.read_file(shared_file("mauritania", "ne10m_MRT_admin0.geojson"))
    result = validate_schools(read_schools(register), boundary=outline)
    raw = pd.read_csv(register, dtype=str, keep_default_na=False, skip_blank_lines=False)

    # the three footer lines are rejected with a reason; every one of the 2,939 schools is kept
    assert len(result.rejected) == 3
    assert result.rejected["source_row"].tolist() == [2941, 2942, 2943]
    assert set(result.rejected["reason"]) == {"empty_row", "missing_coordinates"}
    assert "Knoema" in " ".join(result.rejected["reason_detail"])
    assert len(result.clean) == 2939
    assert sorted(result.clean["IDORDRE"].astype(int)) == sorted(raw["IDORDRE"].iloc[:2939].astype(int))

    # independently: a row is swapped when its LAT value is a Mauritanian longitude (west of -4.8) and its LON
    # value a Mauritanian latitude (north of 14.7)
    lon_raw = raw["LON"].iloc[:2939].astype(float).to_numpy()
    lat_raw = raw["LAT"].iloc[:2939].astype(float).to_numpy()
    swapped_raw = (lat_raw < -4.8) & (lon_raw > 14.7)
    fixed = result.clean["quality_flags"].str.contains("swapped_coordinates_fixed").to_numpy()
    assert fixed.sum() == swapped_raw.sum() > 500
    assert np.array_equal(fixed, swapped_raw)
    np.testing.assert_array_equal(result.clean["longitude"].to_numpy()[fixed], lat_raw[swapped_raw])
    # after fixing, (almost) every school is in the country; the rest are flagged, never moved or dropped
    outside = result.clean["quality_flags"].str.contains("outside_boundary")
    inside = shapely.contains_xy(outline.union_all(), result.clean["longitude"], result.clean["latitude"])
    assert np.array_equal(outside.to_numpy(), ~inside) and outside.mean() < 0.02
    # School Code 0 is used for many private schools: flagged as duplicate ids
    zero = (result.clean["school_id_govt"] == "0").sum()
    assert zero > 100 and result.summary["flags"]["duplicate_id"] >= zero
    assert json.loads(json.dumps(result.summary))["rows_in"] == 2942


def test_kenya_register_validates():
    result = validate_schools(read_schools(shared_file("kenya", "kenya_schools_moe2016.csv.gz")))
    assert len(result.clean) + len(result.rejected) == 37930
    assert len(result.clean) == 37930  # every Kenyan school has usable coordinates
