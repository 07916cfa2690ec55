"""``connectmap model train | evaluate | predict`` on real files written by the tests."""

from __future__ import annotations

import json
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from tests.test_predict_persist import _CreatesFile
from tests.test_predict_support import synthetic_schools

FAST_CONFIG = "[predict]\ncv_folds = 4\n\n[predict.random_forest]\nn_trees = 60\n"


def _register(table: pd.DataFrame) -> pd.DataFrame:
    """As a ministry file: yes/no text labels, empty for unknown, Giga legacy coordinate names."""
    out = table.drop(columns=["source_row", "true_probability"]).rename(columns={"latitude": "lat", "longitude": "lon"})
    out["connectivity"] = table["connectivity"].map({True: "Yes", False: "No"}).fillna("")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "fast.toml"
    config.write_text(FAST_CONFIG)
    paths = {"config": config, "folder": folder}
    for name, n, seed in (("train", 400, 0), ("val", 120, 1), ("test", 150, 2)):
        path = folder / f"{name}.csv"
        _register(synthetic_schools(n, seed)).to_csv(path, index=False)
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def trained(files):
    from connectmap.cli import main

    model = files["folder"] / "model.skops"
    assert main(["-q", "model", "train", str(files["train"]), "--val", str(files["val"]), "--out", str(model),
                 "--config", str(files["config"])]) == 0
    return model


def test_train_writes_model_and_cards(files, trained, run_cli):
    card = json.loads((files["folder"] / "model.card.json").read_text(encoding="utf-8"))
    assert card["training_data"]["labelled_schools"] == 400
    assert card["training_data"]["sources"]["training"]["path"] == str(files["train"])
    assert card["validation"]["schools"] == 120
    assert card["parameters"]["random_forest"]["n_trees"] == 60  # the config file was applied
    # Training again prints the features and the scores the card holds.
    code, out, err = run_cli("-q", "model", "train", files["train"], "--out", files["folder"] / "again.skops",
                             "--config", files["config"], "--features", "num_students", "--no-default-features")
    assert code == 0, err
    again = json.loads((files["folder"] / "again.card.json").read_text(encoding="utf-8"))
    assert "features (1): num_students" in out
    assert f"accuracy     {100 * again['cross_validation']['accuracy']:.1f} %" in out


def test_evaluate_matches_an_independent_count(files, trained, run_cli, tmp_path):
    scores_path = tmp_path / "scores.json"
    code, out, err = run_cli("-q", "model", "evaluate", trained, files["test"], "--out", scores_path)
    assert code == 0, err
    scores = json.loads(scores_path.read_text(encoding="utf-8"))
    assert scores["table"]["path"] == str(files["test"])
    code, _, err = run_cli("-q", "model", "predict", trained, files["test"], "--out", tmp_path / "pred")
    assert code == 0, err
    predicted = pd.read_csv(tmp_path / "pred" / "schools.csv", encoding="utf-8-sig")
    truth = pd.read_csv(files["test"])["connectivity"].map({"Yes": True, "No": False})
    right = (predicted["connectivity_probability"] >= 0.5) == truth
    assert scores["accuracy"] == pytest.approx(right.mean())
    assert scores["schools"] == len(truth)
    assert f"accuracy     {100 * scores['accuracy']:.1f} %" in out


def test_predict_fills_unknowns_and_keeps_reported_values(files, trained, run_cli, tmp_path):
    table = _register(synthetic_schools(80, seed=7))
    table.loc[::2, "connectivity"] = ""
    table.loc[5, "lat"] = np.nan  # rejected by validation: no coordinates
    source = tmp_path / "mixed.csv"
    table.to_csv(source, index=False)
    code, out, err = run_cli("-q", "model", "predict", trained, source, "--out", tmp_path / "out")
    assert code == 0, err
    result = gpd.read_file(tmp_path / "out" / "schools.gpkg")
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", encoding="utf-8-sig")
    assert len(result) + len(rejected) == len(table) and rejected["source_row"].tolist() == [7]
    original = table.assign(source_row=np.arange(2, len(table) + 2)).set_index("source_row")
    result = result.set_index("source_row")
    reported = original.loc[result.index, "connectivity"] != ""
    expected = original.loc[result.index, "connectivity"][reported].map({"Yes": 1, "No": 0})
    assert (result.loc[reported[reported].index, "connectivity"] == expected).all()
    assert (result.loc[reported[reported].index, "connectivity_source"] == "reported").all()
    unknown = reported[~reported].index
    assert (result.loc[unknown, "connectivity_source"] == "predicted").all()
    assert (result.loc[unknown, "connectivity"] == (result.loc[unknown, "connectivity_probability"] >= 0.5)).all()
    summary = json.loads((tmp_path / "out" / "predictions.json").read_text(encoding="utf-8"))
    assert summary["rows_in"] == 80 and summary["rows_rejected"] == 1
    assert summary["predicted"] == len(unknown) and summary["reported"] == int(reported.sum())
    assert summary["predicted_connected"] == int(result.loc[unknown, "connectivity"].sum())
    # Hostile school names survive as text.
    names = pd.read_csv(tmp_path / "out" / "schools.csv", encoding="utf-8-sig")["school_name"]
    assert names.iloc[0] == '=HYPERLINK("http://x")' and names.iloc[1] == "<script>alert(1)</script>"
    assert "40 predicted" in out


def test_mistakes_print_one_line(files, trained, run_cli, tmp_path):
    table = pd.read_csv(files["test"]).drop(columns=["nearest_LTE_distance"])
    lacking = tmp_path / "lacking.csv"
    table.to_csv(lacking, index=False)
    code, _, err = run_cli("-q", "model", "predict", trained, lacking, "--out", tmp_path / "o")
    assert code == 2 and "Traceback" not in err
    assert "lacks 1 column(s) the model was trained on: nearest_LTE_distance (from tower distances" in err
    assert not (tmp_path / "o").exists()

    target = tmp_path / "created.txt"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(_CreatesFile(target)))
    code, _, err = run_cli("-q", "model", "evaluate", evil, files["test"])
    assert code == 2 and "refused: this is a pickle/joblib file" in err and "--trust-sha256" in err
    assert not target.exists()

    code, _, err = run_cli("-q", "model", "predict", trained, files["test"], "--out", tmp_path / "o",
                           "--threshold", "1.5")
    assert code == 2 and "--threshold 1.5" in err
    code, _, err = run_cli("-q", "model", "train", files["train"], "--out", files["train"])
    assert code == 2 and "refusing to write an output over an input" in err
    code, _, err = run_cli("-q", "model", "train", files["train"], "--out", tmp_path / "m.skops", "--group-by", "x")
    assert code == 2 and "predict.group_by" in err
