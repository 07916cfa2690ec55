"""Connectivity model inputs: labels, feature choice, conversion to numbers, spatial groups and folds."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from connectmap.errors import ModelError, SchemaError
from connectmap.geodesy import geodesic_km
from connectmap.predict.features import (
    DEFAULT_FEATURES,
    Feature,
    check_features,
    check_label_leaks,
    feature_frame,
    parse_labels,
    select_features,
)
from connectmap.predict.spatial import grid_cells, spatial_folds, spatial_groups
from tests.test_predict_support import synthetic_schools


# --- labels -------------------------------------------------------------------------------------------------------
def test_labels_in_every_spelling_giga_uses():
    table = pd.DataFrame({
        "source_row": [2, 3, 4, 5, 6, 7, 8, 9],
        "connectivity": ["Yes", "no", " TRUE ", "false", "1", "0.0", "", None],
    })
    labels = parse_labels(table)
    assert str(labels.dtype) == "boolean"
    assert labels.tolist() == [True, False, True, False, True, False, pd.NA, pd.NA]
    numbers = pd.DataFrame({"connectivity": [1.0, 0.0, np.nan, 1]})
    assert parse_labels(numbers).tolist() == [True, False, pd.NA, True]
    booleans = pd.DataFrame({"connectivity": pd.array([True, None, False], dtype="boolean")})
    assert parse_labels(booleans).tolist() == [True, pd.NA, False]
    assert parse_labels(pd.DataFrame({"x": [1, 2]})).isna().all()


def test_bad_labels_name_rows_and_values():
    table = pd.DataFrame({"source_row": [2, 3, 4], "connectivity": ["yes", "maybe", "2"]})
    table.attrs["connectmap"] = {"path": "register.csv"}
    with pytest.raises(SchemaError) as err:
        parse_labels(table)
    message = str(err.value)
    assert "register.csv" in message and "'connectivity'" in message
    assert "rows 3, 4: not yes/no" in message and "'maybe'" in message and "'2'" in message
    with pytest.raises(SchemaError, match="row 1: not yes/no"):  # no source_row: position from 1
        parse_labels(pd.DataFrame({"connectivity": [0.5, 1.0]}))


# --- choosing features ------------------------------------------------------------------------------------------
def test_defaults_are_taken_when_present_and_not_empty():
    table = synthetic_schools(40)
    table["nearest_UMTS_distance"] = np.nan  # present but never known: not a feature
    table["towers_within_5km"] = np.arange(40)
    chosen = {f.name: f.kind for f in select_features(table)}
    assert chosen == {
        "nearest_GSM_distance": "number", "nearest_LTE_distance": "number", "cellular_coverage_type": "coverage",
        "electricity_availability": "flag", "num_students": "number", "admin1": "category",
        "education_level": "category", "towers_within_5km": "number",
    }
    # the order is the documented default order, then pattern matches
    names = [f.name for f in DEFAULT_FEATURES]
    chosen_defaults = [n for n in chosen if n in names]
    assert chosen_defaults == sorted(chosen_defaults, key=names.index)


def test_user_names_and_patterns():
    table = synthetic_schools(30)
    table["pop_a"] = "3.5"
    table["pop_b"] = np.arange(30.0)
    table["pop_note"] = "town"  # text: skipped by a pattern
    table["nightlight"] = 1.0
    chosen = [f.name for f in select_features(table, "pop_*,!pop_b, nightlight", use_defaults=False)]
    assert chosen == ["pop_a", "nightlight"]
    sources = {f.name: f.source for f in select_features(table, ["pop_a"], use_defaults=False)}
    assert "named with --features" in sources["pop_a"]
    # excluding a default with !
    chosen = [f.name for f in select_features(table, "!admin1,!education_level")]
    assert "admin1" not in chosen and "education_level" not in chosen and "nearest_LTE_distance" in chosen


def test_feature_mistakes_are_explained():
    table = synthetic_schools(30)
    table["note"] = ["x"] * 29 + ["7"]
    table.attrs["connectmap"] = {"path": "s.csv"}
    with pytest.raises(SchemaError, match=r"s.csv, column 'nightlight': the feature column is not in the table"):
        select_features(table, "nightlight")
    with pytest.raises(SchemaError) as err:
        select_features(table, "note")
    assert "rows 2, 3, 4, 5, 6 and 24 more: not numbers" in str(err.value) and "'x'" in str(err.value)
    with pytest.raises(SchemaError, match="matches no numeric column"):
        select_features(table, "zz*")
    with pytest.raises(SchemaError, match="identifier, coordinate or label"):
        select_features(table, "latitude")
    with pytest.raises(SchemaError, match="no feature columns to learn from"):
        select_features(table[["latitude", "longitude", "connectivity"]])


def test_missing_features_are_listed_with_where_they_come_from():
    features = (
        Feature("nearest_LTE_distance", "number", "tower distances: enrichment with a tower list (towers=...)"),
        Feature("pop_within_1km", "number", "population: enrichment with a population raster (population=...)"),
        Feature("nearest_GSM_distance", "number", "tower distances: enrichment with a tower list (towers=...)"),
        Feature("nightlight", "number", "a column named with --features when the model was trained"),
    )
    table = pd.DataFrame({"nearest_LTE_distance": [1.0]})
    with pytest.raises(ModelError) as err:
        check_features(table, features)
    message = str(err.value)
    assert "lacks 3 column(s)" in message
    assert "nearest_GSM_distance (from tower distances" in message
    assert "pop_within_1km (from population" in message and "nightlight (from a column named with --features" in message


# --- values as numbers --------------------------------------------------------------------------------------------
def test_feature_frame_converts_each_kind():
    table = pd.DataFrame({
        "cellular_coverage_type": ["4G", "no coverage", "LTE", "unknown", None, "5G", "3G", "2G"],
        "electricity_availability": ["yes", "No", "", "1", "0", None, "TRUE", "f"],
        "admin1": ["North", "", "South", None, "unknown", "East", "North", " West "],
        "pop_density": ["1,5", "2", "", "3e2", None, "4", "5", "6"],
    })
    table.attrs["connectmap"] = {"decimal": ","}
    features = [
        Feature("cellular_coverage_type", "coverage", ""), Feature("electricity_availability", "flag", ""),
        Feature("admin1", "category", ""), Feature("pop_density", "number", ""),
    ]
    frame = feature_frame(table, features)
    np.testing.assert_array_equal(frame["cellular_coverage_type"], [4, 0, 4, np.nan, np.nan, 5, 3, 2])
    np.testing.assert_array_equal(frame["electricity_availability"], [1, 0, np.nan, 1, 0, np.nan, 1, 0])
    np.testing.assert_array_equal(frame["pop_density"], [1.5, 2, np.nan, 300, np.nan, 4, 5, 6])
    assert frame["admin1"].tolist()[0] == "North" and frame["admin1"].tolist()[7] == "West"
    assert all(pd.isna(v) for v in frame["admin1"].tolist()[1:5:2]) and pd.isna(frame["admin1"].iloc[4])
    bad = table.assign(pop_density=["1", "n.a.", "2", "3", "4", "5", "6", "7"])
    bad.attrs["connectmap"] = {"path": "t.csv"}
    with pytest.raises(SchemaError, match=r"t.csv, column 'pop_density': row 2: not numbers \(values 'n.a.'\)"):
        feature_frame(bad, features)


def test_a_copy_of_the_label_is_refused():
    table = synthetic_schools(50)
    y = table["connectivity"].astype(bool)
    table["connectivity.1"] = y.astype(float)
    table["not_connected"] = 1.0 - y.astype(float)
    for name in ("connectivity.1", "not_connected"):
        features = select_features(table, name)
        frame = feature_frame(table, features)
        with pytest.raises(ModelError, match=f"column '{name}': the column equals the connectivity label"):
            check_label_leaks(frame, y, features, None)
    features = select_features(table)
    check_label_leaks(feature_frame(table, features), y, features, None)  # real features pass


# --- spatial groups -----------------------------------------------------------------------------------------------
def test_grid_cells_hold_only_nearby_schools_and_separate_far_ones():
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"longitude": rng.uniform(20, 29, 400), "latitude": rng.uniform(-27, -18, 400)})
    cell_km = 50.0
    cells = grid_cells(table, cell_km)
    lon, lat = table["longitude"].to_numpy(), table["latitude"].to_numpy()
    pairs = np.array(list(itertools.combinations(range(len(table)), 2)))
    distance = geodesic_km(lon[pairs[:, 0]], lat[pairs[:, 0]], lon[pairs[:, 1]], lat[pairs[:, 1]])
    same = cells[pairs[:, 0]] == cells[pairs[:, 1]]
    # Two schools in one cell are at most a cell diagonal apart (plus the projection's scale error, < 2 %).
    assert distance[same].max() <= cell_km * np.sqrt(2) * 1.02
    # Schools more than two diagonals apart never share a cell, and most nearby pairs do.
    assert not same[distance > 2 * cell_km * np.sqrt(2)].any()
    assert same[distance < 5].mean() > 0.8
    # Every label names a cell centre inside the data's box, as "lat[S|N] lon[E|W]".
    assert all(label.endswith("E") and "S " in label for label in cells)


def test_region_groups_fall_back_to_cells_and_folds_never_share_a_group():
    table = synthetic_schools(300)
    table.loc[table.index[:10], "admin1"] = pd.NA
    groups = spatial_groups(table, "admin1", 50.0)
    assert (groups[10:] == "region " + table["admin1"].iloc[10:].astype(str).to_numpy()).all()
    assert all(g.startswith("cell ") for g in groups[:10])
    y = table["connectivity"].astype(int).to_numpy()
    splitter, folds = spatial_folds(y, groups, 5, 0)
    assert folds == 5
    seen = []
    for train, test in splitter.split(table, y, groups):
        assert not set(groups[train]) & set(groups[test])
        seen.append(test)
    assert sorted(np.concatenate(seen)) == list(range(len(table)))
    with pytest.raises(ModelError, match="no admin2 values"):
        spatial_groups(table, "admin2", 50.0)
    with pytest.raises(ModelError, match="one validation group"):
        spatial_folds(y, np.array(["a"] * len(y)), 5, 0)
    # fewer groups than folds: folds reduced
    assert spatial_folds(y, np.where(np.arange(len(y)) % 3 == 0, "a", np.where(np.arange(len(y)) % 3 == 1, "b", "c")),
                         5, 0)[1] == 3
