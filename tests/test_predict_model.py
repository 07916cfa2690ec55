"""Training, validating and applying the connectivity model on tables whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold, cross_val_predict

from connectmap.errors import ConfigError, ModelError
from connectmap.parameters.predict import PredictParams
from connectmap.predict import add_connectivity_predictions, evaluate_model, train_connectivity_model
from connectmap.predict.card import table_sha256
from connectmap.predict.features import feature_frame, select_features
from connectmap.predict.metrics import classification_metrics
from connectmap.predict.model import build_pipeline
from tests.test_predict_support import synthetic_schools, trained_model

SMALL = {"random_forest": {"n_trees": 60}, "cv_folds": 4}


def test_cross_validated_scores_approach_the_best_possible():
    table = synthetic_schools(500, seed=0)
    model = trained_model(500, 0)
    cv = model.card["cross_validation"]
    p_true = table["true_probability"].to_numpy()
    y = table["connectivity"].astype(bool).to_numpy()
    # What a model that knew the rule would score on these very labels (the Bayes limit, up to sampling noise).
    best = classification_metrics(y, p_true)
    assert cv["accuracy"] > best["accuracy"] - 0.08
    assert cv["accuracy"] < best["accuracy"] + 0.05  # no model can beat the rule by much: a leak would
    assert cv["brier"] < best["brier"] + 0.04
    assert cv["roc_auc"] > best["roc_auc"] - 0.08
    # The out-of-fold table accounts for every labelled school once.
    assert sum(cv["confusion"].values()) == len(table) == cv["schools"]
    assert sum(r["schools"] for r in cv["per_region"]) == len(table)
    assert cv["region_kind"] == "admin1"
    assert {r["region"] for r in cv["per_region"]} == set(table["admin1"])
    # Probabilities are calibrated: in each bin the share connected is near the mean probability.
    for row in cv["calibration"]:
        if row["schools"] >= 40:
            assert abs(row["share_connected"] - row["mean_probability"]) < 0.15, row


def test_model_card_describes_the_training_data():
    table = synthetic_schools(500, seed=0)
    card = trained_model(500, 0).card
    counts = table["connectivity"].value_counts()
    balance = card["training_data"]["class_balance"]
    assert (balance["connected"], balance["not_connected"]) == (counts[True], counts[False])
    assert balance["share_connected"] == pytest.approx(counts[True] / len(table))
    assert [f["name"] for f in card["features"]] == [f.name for f in select_features(table)]
    missing = {f["name"]: f["missing_share"] for f in card["features"]}
    assert missing["electricity_availability"] == pytest.approx(table["electricity_availability"].isna().mean())
    assert set(card["library_versions"]) >= {"scikit-learn", "skops", "numpy", "pandas", "python", "connectmap"}
    assert card["parameters"]["random_forest"]["n_trees"] == 60
    assert len(card["training_data"]["table_sha256"]) == 64


def test_the_same_data_gives_the_same_model():
    params = PredictParams(**SMALL)
    table = synthetic_schools(200, seed=5)
    first = train_connectivity_model(table, params=params)
    second = train_connectivity_model(table, params=params)
    np.testing.assert_array_equal(first.predict_probability(table), second.predict_probability(table))
    assert first.card["training_data"]["table_sha256"] == second.card["training_data"]["table_sha256"]
    # The data hash follows the values: one changed distance changes it.
    features = select_features(table)
    y = table["connectivity"].astype(int).to_numpy()
    assert table_sha256(feature_frame(table, features), y) == first.card["training_data"]["table_sha256"]
    changed = table.copy()
    changed.loc[0, "nearest_LTE_distance"] += 1.0
    assert table_sha256(feature_frame(changed, features), y) != first.card["training_data"]["table_sha256"]


def test_spatial_validation_does_not_let_neighbours_leak():
    """Connectivity decided town by town (a coin per town) with a feature that only identifies the town.

    Random folds put schools of the same town on both sides and score almost perfectly; folds grouped by town
    or grid cell cannot, and report the truth: no better than chance for an unseen town.
    """
    rng = np.random.default_rng(11)
    table = synthetic_schools(480, seed=11)
    town = table["admin1"].str[-2:].astype(int).to_numpy()
    coin = rng.random(16) < 0.5
    table["connectivity"] = pd.Series(coin[town], dtype="boolean")
    table["town_code"] = town * 10.0 + rng.normal(0, 0.1, len(table))
    table = table[["source_row", "latitude", "longitude", "admin1", "connectivity", "town_code"]]
    params = PredictParams(**SMALL, cv_cell_km=100.0)
    grouped = train_connectivity_model(table, features="town_code", use_default_features=False, params=params)
    by_region = train_connectivity_model(
        table, features="town_code", use_default_features=False, params=params.model_copy(update={"group_by": "admin1"})
    )
    features = select_features(table, "town_code", use_defaults=False)
    frame = feature_frame(table, features)
    y = table["connectivity"].astype(int).to_numpy()
    random_folds = cross_val_predict(
        build_pipeline(features, params), frame, y, cv=KFold(4, shuffle=True, random_state=0), method="predict_proba"
    )[:, 1]
    random_accuracy = classification_metrics(y, random_folds)["accuracy"]
    assert random_accuracy > 0.95
    assert grouped.card["cross_validation"]["accuracy"] < 0.75
    assert by_region.card["cross_validation"]["accuracy"] < 0.75
    assert "16 groups" in by_region.card["cross_validation"]["scheme"]


def test_validation_table_is_scored_with_the_final_model():
    params = PredictParams(**SMALL)
    train = synthetic_schools(300, seed=1)
    val = synthetic_schools(120, seed=2)
    model = train_connectivity_model(train, params=params, validation=val)
    independent = classification_metrics(val["connectivity"].astype(bool).to_numpy(), model.predict_probability(val))
    for key in ("accuracy", "f1", "roc_auc", "brier", "confusion"):
        assert model.card["validation"][key] == independent[key]
    assert evaluate_model(model, val)["accuracy"] == independent["accuracy"]


def test_training_refuses_what_it_cannot_learn_from():
    table = synthetic_schools(100, seed=3)
    with pytest.raises(ModelError, match="no connectivity column"):
        train_connectivity_model(table.drop(columns="connectivity"))
    with pytest.raises(ModelError, match="no known connectivity values"):
        train_connectivity_model(table.assign(connectivity=pd.Series(pd.NA, index=table.index, dtype="boolean")))
    few = table.copy()
    few["connectivity"] = pd.Series(np.arange(100) < 5, dtype="boolean")
    with pytest.raises(ModelError, match="only 5 labelled school"):
        train_connectivity_model(few)
    one_place = table.assign(latitude=-20.0, longitude=25.0)
    with pytest.raises(ModelError, match="one validation group"):
        train_connectivity_model(one_place, params=PredictParams(**SMALL))
    model = trained_model(500, 0)
    with pytest.raises(ModelError, match="no known connectivity values"):
        evaluate_model(model, table.assign(connectivity=pd.Series(pd.NA, index=table.index, dtype="boolean")))
    with pytest.raises(ModelError, match=r"lacks 1 column\(s\).*nearest_LTE_distance \(from tower distances"):
        evaluate_model(model, table.drop(columns="nearest_LTE_distance"))


def test_hist_gradient_boosting_trains_too():
    model = trained_model(500, 0, "hist_gradient_boosting")
    assert model.card["model"]["estimator"] == "hist_gradient_boosting"
    assert model.card["cross_validation"]["accuracy"] > 0.6


# --- filling unknown connectivity ----------------------------------------------------------------------------------
def test_predictions_fill_only_unknown_connectivity():
    model = trained_model(500, 0)
    table = synthetic_schools(60, seed=9)
    unknown = np.arange(60) % 3 == 0
    table.loc[unknown, "connectivity"] = pd.NA
    no_features = np.arange(60) == 3  # unknown connectivity and no feature value at all
    feature_columns = model.feature_names
    for name in feature_columns:
        table.loc[no_features, name] = None if table[name].dtype == object else pd.NA
    out = add_connectivity_predictions(table, model)
    assert len(out) == len(table) and (out.index == table.index).all()
    reported = ~unknown
    assert (out.loc[reported, "connectivity"] == table.loc[reported, "connectivity"]).all()
    assert (out.loc[reported, "connectivity_source"] == "reported").all()
    predicted = unknown & ~no_features
    assert (out.loc[predicted, "connectivity_source"] == "predicted").all()
    probability = model.predict_probability(table[predicted])
    np.testing.assert_array_equal(out.loc[predicted, "connectivity_probability"], probability)
    assert (out.loc[predicted, "connectivity"].to_numpy(dtype=bool) == (probability >= 0.5)).all()
    assert out.loc[no_features, "connectivity_source"].tolist() == ["unknown"]
    assert out.loc[no_features, "connectivity"].isna().all()
    assert out.loc[no_features, "connectivity_probability"].isna().all()
    assert out["connectivity_probability"].dropna().between(0, 1).all()
    # The register's reported schools get a probability too (a check on stale registers), never a new value.
    assert out.loc[reported, "connectivity_probability"].notna().all()
    # A stricter threshold predicts fewer connected schools, never changes reported ones.
    strict = add_connectivity_predictions(table, model, threshold_probability=0.9)
    assert strict.loc[predicted, "connectivity"].sum() <= out.loc[predicted, "connectivity"].sum()
    assert (strict.loc[reported, "connectivity"] == table.loc[reported, "connectivity"]).all()
    with pytest.raises(ConfigError, match="between 0 and 1"):
        add_connectivity_predictions(table, model, threshold_probability=1.0)


def test_a_table_without_connectivity_is_all_predicted():
    model = trained_model(500, 0)
    table = synthetic_schools(20, seed=4).drop(columns="connectivity")
    out = add_connectivity_predictions(table, model)
    assert (out["connectivity_source"] == "predicted").all()
    assert str(out["connectivity"].dtype) == "boolean"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known=st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=40))
def test_reported_values_are_never_overwritten(known):
    model = trained_model(500, 0)
    table = synthetic_schools(len(known), seed=len(known))
    table["connectivity"] = pd.array(known, dtype="boolean")
    out = add_connectivity_predictions(table, model)
    assert len(out) == len(table)
    for before, after, source in zip(known, out["connectivity"], out["connectivity_source"], strict=True):
        if before is None:
            assert source == "predicted" and after is not pd.NA
        else:
            assert source == "reported" and after == before
