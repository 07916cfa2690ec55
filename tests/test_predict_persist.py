"""Model files: skops with an explicit allow-list, pickles refused, identical predictions after a round trip."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io

from connectmap.errors import MissingInputError, ModelError
from connectmap.predict import add_connectivity_predictions, card_paths, load_model, save_model
from connectmap.predict.persist import _payload
from tests.test_predict_support import synthetic_schools, trained_model


class _CreatesFile:
    """A pickle payload that creates a file when unpickled: what a hostile model file can do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def _rewrite_schema(source: Path, target: Path, edit) -> Path:
    """Copy a skops zip, changing its schema.json with ``edit(schema)`` (the arrays are copied unchanged)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                edit(schema)
                data = json.dumps(schema).encode()
            new.writestr(item, data)
    return target


def _find(node, predicate):
    """First dict in a schema tree for which ``predicate`` is true."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if predicate(item):
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise AssertionError("node not found")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    path = folder / "model.skops"
    save_model(trained_model(500, 0), path)
    return path


# --- round trip -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["random_forest", "hist_gradient_boosting"])
def test_saved_and_loaded_model_predicts_identically(tmp_path, estimator):
    model = trained_model(500, 0, estimator)
    path = tmp_path / "m.skops"
    written = save_model(model, path)
    assert written == [path, tmp_path / "m.card.json", tmp_path / "m.card.md"]
    loaded = load_model(path)
    table = synthetic_schools(300, seed=21)
    table.loc[::7, "nearest_LTE_distance"] = np.nan  # gaps take the same path through the trees
    table.loc[::5, "admin1"] = "A town never seen in training"
    np.testing.assert_array_equal(model.predict_probability(table), loaded.predict_probability(table))
    assert loaded.features == model.features
    assert loaded.threshold_probability == model.threshold_probability
    pd.testing.assert_frame_equal(
        add_connectivity_predictions(table, model), add_connectivity_predictions(table, loaded)
    )


def test_model_cards_are_written_beside_the_model(saved):
    json_path, md_path = card_paths(saved)
    card = json.loads(json_path.read_text(encoding="utf-8"))
    assert card["model_file"] == {"name": "model.skops", "sha256": hashlib.sha256(saved.read_bytes()).hexdigest()}
    model = load_model(saved)
    assert card["cross_validation"]["accuracy"] == model.card["cross_validation"]["accuracy"]
    assert [f["name"] for f in card["features"]] == model.feature_names
    markdown = md_path.read_text(encoding="utf-8")
    assert f"| accuracy | {100 * card['cross_validation']['accuracy']:.1f} % |" in markdown
    assert card["model_file"]["sha256"] in markdown
    assert "nearest\\_LTE\\_distance" in markdown


def test_save_needs_the_skops_suffix(tmp_path):
    with pytest.raises(ModelError, match=r"name the file \*.skops"):
        save_model(trained_model(500, 0), tmp_path / "model.pkl")
    assert not (tmp_path / "model.pkl").exists()


# --- pickles ------------------------------------------------------------------------------------------------------
def test_the_hostile_pickle_really_creates_a_file(tmp_path):
    """Control: the payload used below is live — unpickling it directly does create the file."""
    target = tmp_path / "control.txt"
    pickle.loads(pickle.dumps(_CreatesFile(target))).close()
    assert target.exists()


@pytest.mark.parametrize("writer", ["pickle", "joblib", "joblib-compressed"])
def test_a_pickle_is_refused_and_runs_nothing(tmp_path, writer):
    target = tmp_path / "created_by_the_model_file.txt"
    evil = tmp_path / "model.joblib"
    if writer == "pickle":
        evil = tmp_path / "model.skops"  # a pickle in disguise: the name does not matter, the bytes do
        evil.write_bytes(pickle.dumps(_CreatesFile(target), protocol=4))
    else:
        joblib.dump(_CreatesFile(target), evil, compress=3 if writer == "joblib-compressed" else 0)
    with pytest.raises(ModelError, match="refused: this is a pickle/joblib file"):
        load_model(evil)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ModelError, match="refused: its SHA-256 is not the one given"):
        load_model(evil, trusted_sha256=wrong)
    assert not target.exists()


def test_a_pickle_loads_when_its_hash_is_given(tmp_path):
    model = trained_model(500, 0)
    path = tmp_path / "model.joblib"
    joblib.dump(_payload(model), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_model(path, trusted_sha256=digest.upper())
    table = synthetic_schools(50, seed=8)
    np.testing.assert_array_equal(loaded.predict_probability(table), model.predict_probability(table))


# --- tampered skops files -------------------------------------------------------------------------------------------
def test_a_tampered_skops_file_naming_another_sklearn_type_is_refused(saved, tmp_path):
    def swap(schema):
        node = _find(schema, lambda n: n.get("__class__") == "RandomForestClassifier")
        node["__class__"], node["__module__"] = "SVC", "sklearn.svm._classes"

    tampered = _rewrite_schema(saved, tmp_path / "tampered.skops", swap)
    # skops on its own trusts every scikit-learn estimator, so it reports nothing untrusted here ...
    assert "sklearn.svm._classes.SVC" not in skops.io.get_untrusted_types(file=tampered)
    # ... connectmap's allow-list does not.
    with pytest.raises(ModelError, match=r"refused: .*sklearn\.svm\._classes\.SVC"):
        load_model(tampered)


def test_a_tampered_skops_file_calling_a_function_is_refused(saved, tmp_path):
    def inject(schema):
        node = _find(schema, lambda n: "card_json" in n.get("content", {}))
        node["content"]["card_json"] = {
            "__class__": "system", "__module__": "os", "__loader__": "FunctionNode",
            "content": {"module_path": "os", "function": "system"},
        }

    tampered = _rewrite_schema(saved, tmp_path / "tampered.skops", inject)
    with pytest.raises(ModelError) as err:
        load_model(tampered)
    assert "os.system" in str(err.value) and "FunctionNode (skops node)" in str(err.value)


def test_a_tampered_random_generator_name_is_refused(tmp_path):
    path = tmp_path / "hgb.skops"
    save_model(trained_model(500, 0, "hist_gradient_boosting"), path)

    def rename(schema):
        node = _find(schema, lambda n: n.get("__loader__") == "RandomGeneratorNode")
        node["content"]["bit_generator"]["content"]["bit_generator"]["content"] = json.dumps("seed")

    tampered = _rewrite_schema(path, tmp_path / "tampered.skops", rename)
    with pytest.raises(ModelError, match=r"numpy\.random\.seed"):
        load_model(tampered)
    load_model(path)  # the untouched file loads


def test_an_oversized_schema_is_not_inflated(saved, monkeypatch):
    from connectmap.predict import persist

    size = zipfile.ZipFile(saved).getinfo("schema.json").file_size
    monkeypatch.setattr(persist, "MAX_SCHEMA_BYTES", size - 1)
    with pytest.raises(ModelError, match=r"refused: its schema\.json would be"):
        load_model(saved)
    monkeypatch.setattr(persist, "MAX_SCHEMA_BYTES", size)
    load_model(saved)


def test_files_that_are_not_models(tmp_path, saved):
    with pytest.raises(MissingInputError, match="model file not found"):
        load_model(tmp_path / "absent.skops")
    text = tmp_path / "notes.skops"
    text.write_text("school_name,connectivity\nA,yes\n")
    with pytest.raises(ModelError, match="not a connectmap model file"):
        load_model(text)
    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(saved.read_bytes()[:5000])
    with pytest.raises(ModelError):
        load_model(truncated)
    other = tmp_path / "other.skops"
    skops.io.dump({"format": "something else"}, other)
    with pytest.raises(ModelError, match="not a connectmap connectivity model"):
        load_model(other)
    no_schema = tmp_path / "empty.skops"
    with zipfile.ZipFile(no_schema, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelError, match="not a readable skops model file"):
        load_model(no_schema)
