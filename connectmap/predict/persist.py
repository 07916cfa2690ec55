"""Saving and loading connectivity models safely: skops with an explicit allow-list, never unchecked pickle.

A pickle or joblib file runs whatever code its author put in it the moment it is loaded — a real risk for model
files passed between ministries and partners by email. So:

* Models are saved with skops (a zip of JSON and ``.npy`` arrays that describes objects instead of running code).
* Before anything is built from a ``.skops`` file, every type it names — each ``__module__``/``__class__`` pair
  anywhere in its ``schema.json`` — and every skops node kind must be in :data:`ALLOWED_TYPES` and
  :data:`ALLOWED_NODES`. The list is written out here, not taken from skops' defaults (which trust every
  scikit-learn estimator): a file naming any other type, even another scikit-learn class, is refused, and skops
  itself is then asked to load with only those types trusted.
* A pickle or joblib file is refused with a clear message, unless the user passes its SHA-256 (as published by
  whoever made it): then, and only if the file's hash matches, it is unpickled. The hash is checked before the
  file is unpickled, so a wrong hash runs nothing.

Saving writes ``<name>.skops`` plus the model card as ``<name>.card.json`` and ``<name>.card.md`` beside it,
each atomically; saving checks the file it wrote against the allow-list, so connectmap never writes a model it
would refuse to load.
"""

from __future__ import annotations

import json
import logging
import zipfile
from os import PathLike
from pathlib import Path
from typing import Any

from connectmap.errors import MissingInputError, ModelError
from connectmap.predict.card import card_markdown
from connectmap.predict.features import Feature
from connectmap.predict.model import ConnectivityModel
from connectmap.report.files import atomic_path, write_text
from connectmap.report.manifest import file_sha256
from connectmap.report.tables import write_json

log = logging.getLogger(__name__)

MODEL_FORMAT = "connectmap-connectivity-model"
FORMAT_VERSION = 1

#: Every type a connectmap model file may name. Anything else in a file is refused before it is loaded.
ALLOWED_TYPES: frozenset[str] = frozenset({
    # containers and plain values
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType", "builtins.slice",
    # numpy arrays, their dtypes and the random generator histogram gradient boosting keeps
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32", "numpy.intp",
    "numpy.uint8", "numpy.uint32", "numpy.uint64", "numpy.bool_", "numpy.bool", "numpy.object_",
    "numpy.random._generator.Generator", "numpy.random.PCG64",
    # the pipeline connectmap builds (connectmap.predict.model.build_pipeline)
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration", "sklearn.isotonic.IsotonicRegression",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.pipeline.Pipeline", "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.impute._base.SimpleImputer", "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.Interval",
})
#: skops node kinds a connectmap model uses. Function, method and operator nodes (which call things) are not here.
ALLOWED_NODES: frozenset[str] = frozenset({
    "DictNode", "ListNode", "TupleNode", "SliceNode", "JsonNode", "TypeNode", "DTypeNode", "NdArrayNode",
    "ObjectNode", "TreeNode", "RandomGeneratorNode", "LossNode", "CachedNode",
})

#: Largest schema.json accepted (a 5,000-tree forest, the most the parameters allow, needs about 160 MB).
MAX_SCHEMA_BYTES = 256 * 1024 * 1024

_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".sav", ".dill", ".p"}
# First bytes of pickles (protocol 2+ opcode PROTO) and of the compressions joblib applies to them.
_PICKLE_MAGIC = (b"\x80",)
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"BZh", b"\xfd7zXZ",
                     b"\x5d\x00\x00", b"\x04\x22\x4d\x18")


def card_paths(model_path: str | PathLike[str]) -> tuple[Path, Path]:
    """Where the JSON and Markdown model cards of ``model.skops`` go: ``model.card.json``, ``model.card.md``."""
    path = Path(model_path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(f"{stem}.card.json"), path.with_name(f"{stem}.card.md")


# --- saving -------------------------------------------------------------------------------------------------------
def _payload(model: ConnectivityModel) -> dict[str, Any]:
    # Features and card travel as JSON text: one string node each, whatever they contain.
    return {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": model.estimator,
        "features_json": json.dumps([f.to_dict() for f in model.features]),
        "threshold_probability": float(model.threshold_probability),
        "card_json": json.dumps(model.card, default=str),
    }


def save_model(model: ConnectivityModel, path: str | PathLike[str]) -> list[Path]:
    """Save a model as skops, with its model card (JSON and Markdown) beside it.

    Parameters
    ----------
    model
        A trained model.
    path
        The ``.skops`` file to write (the suffix is required, so nobody mistakes it for a pickle).

    Returns
    -------
    list of Path
        The model file, the JSON card and the Markdown card.

    Raises
    ------
    ModelError
        When the path does not end in ``.skops``.
    """
    import skops.io

    path = Path(path)
    if path.suffix.lower() != ".skops":
        raise ModelError(f"{path}: model files are saved in the skops format; name the file *.skops")
    with atomic_path(path) as tmp:
        skops.io.dump(_payload(model), tmp, compression=zipfile.ZIP_DEFLATED)
        # Never write a file connectmap would refuse to load.
        _check_types(tmp, shown_as=path)
    card = dict(model.card)
    card["model_file"] = {"name": path.name, "sha256": file_sha256(path)}
    json_path, md_path = card_paths(path)
    write_json(card, json_path)
    write_text(md_path, card_markdown(card))
    log.info("saved model %s with cards %s, %s", path, json_path.name, md_path.name)
    return [path, json_path, md_path]


# --- loading ------------------------------------------------------------------------------------------------------
def _schema_names(node: Any, types: set[str], nodes: set[str]) -> None:
    """Collect every ``module.class`` and node kind named anywhere in a skops schema (iteratively: no recursion
    limit for a deep, hostile file)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__class__" in item or "__module__" in item:
                types.add(f"{item.get('__module__')}.{item.get('__class__')}")
            if "__loader__" in item:
                nodes.add(str(item["__loader__"]))
            if item.get("__loader__") == "RandomGeneratorNode":
                # The bit generator is named by a plain string that skops turns into a numpy.random class.
                types.add(f"numpy.random.{_bit_generator_name(item)}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _bit_generator_name(node: dict[str, Any]) -> str:
    try:
        return str(json.loads(node["content"]["bit_generator"]["content"]["bit_generator"]["content"]))
    except (KeyError, TypeError, ValueError):
        return "(unreadable bit generator)"


def _check_types(path: Path, shown_as: Path | None = None) -> None:
    shown = shown_as or path
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo("schema.json").file_size
            if size > MAX_SCHEMA_BYTES:  # a zip bomb, not a model: do not inflate it
                raise ModelError(f"{shown}: refused: its schema.json would be {size / 1e6:,.0f} MB uncompressed")
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise ModelError(
            f"{shown}: not a readable skops model file ({err}); train a model with `connectmap model train`"
        ) from None
    types: set[str] = set()
    nodes: set[str] = set()
    _schema_names(schema, types, nodes)
    bad_types = sorted(types - ALLOWED_TYPES)
    bad_nodes = sorted(nodes - ALLOWED_NODES)
    if bad_types or bad_nodes:
        named = ", ".join(bad_types + [f"{n} (skops node)" for n in bad_nodes])
        raise ModelError(
            f"{shown}: refused: the model file names type(s) a connectmap model never contains: {named}. "
            "It was altered or made by other software; do not use it, and retrain with `connectmap model train`"
        )


def _looks_like_pickle(path: Path, head: bytes) -> bool:
    return (
        path.suffix.lower() in _PICKLE_SUFFIXES
        or head.startswith(_PICKLE_MAGIC)
        or head.startswith(_COMPRESSED_MAGIC)
    )


def _from_payload(payload: Any, path: Path) -> ConnectivityModel:
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a connectmap connectivity model; train one with `connectmap model train`")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {payload.get('format_version')!r}, this connectmap reads version "
            f"{FORMAT_VERSION}; retrain the model with this connectmap"
        )
    try:
        features = tuple(Feature.from_dict(item) for item in json.loads(payload["features_json"]))
        card = json.loads(payload["card_json"])
        threshold = float(payload["threshold_probability"])
        estimator = payload["estimator"]
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{path}: the model file is incomplete ({err}); retrain the model") from None
    if not hasattr(estimator, "predict_proba") or not features:
        raise ModelError(f"{path}: the model file holds no usable classifier; retrain the model")
    _warn_versions(card, path)
    return ConnectivityModel(estimator=estimator, features=features, threshold_probability=threshold, card=card)


def _warn_versions(card: dict[str, Any], path: Path) -> None:
    import sklearn

    saved = card.get("library_versions", {}).get("scikit-learn")
    if saved and saved != sklearn.__version__:
        log.warning(
            "%s was saved with scikit-learn %s and is loaded with %s; predictions may differ slightly — "
            "retrain it if they matter", path, saved, sklearn.__version__,
        )


def load_model(path: str | PathLike[str], *, trusted_sha256: str | None = None) -> ConnectivityModel:
    """Load a connectivity model saved by :func:`save_model`, refusing anything that could run code.

    Parameters
    ----------
    path
        A ``.skops`` model file. A pickle/joblib file is accepted only with ``trusted_sha256``.
    trusted_sha256
        The SHA-256 (hex) of a pickle/joblib model file that you trust, as published by whoever made it. It is
        compared before the file is unpickled; ignored for ``.skops`` files, which never need it.

    Returns
    -------
    ConnectivityModel

    Raises
    ------
    MissingInputError
        The file does not exist.
    ModelError
        A pickle without (or with a wrong) SHA-256, a ``.skops`` file naming a type outside the allow-list, or a
        file that is not a connectmap model.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: model file not found; train one with `connectmap model train`")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if zipfile.is_zipfile(path):
        _check_types(path)
        import skops.io

        try:
            payload = skops.io.load(path, trusted=sorted(ALLOWED_TYPES))
        except Exception as err:  # skops raises many kinds for a damaged file; none is the user's bug
            raise ModelError(
                f"{path}: the model file cannot be read ({type(err).__name__}: {err}); retrain it"
            ) from None
        return _from_payload(payload, path)
    if _looks_like_pickle(path, head):
        return _load_trusted_pickle(path, trusted_sha256)
    raise ModelError(f"{path}: not a connectmap model file (expected a .skops file from `connectmap model train`)")


def _load_trusted_pickle(path: Path, trusted_sha256: str | None) -> ConnectivityModel:
    if not trusted_sha256:
        raise ModelError(
            f"{path}: refused: this is a pickle/joblib file, and loading one can run any program on this computer. "
            "Use a .skops model from `connectmap model train`; or, if you trust the file and its author published "
            "its SHA-256, pass it with --trust-sha256 HASH"
        )
    expected = trusted_sha256.strip().lower()
    actual = file_sha256(path)
    if actual != expected:
        raise ModelError(
            f"{path}: refused: its SHA-256 is not the one given with --trust-sha256 (given {expected[:16]}..., "
            "the file differs). The file may have been altered; do not load it"
        )
    import joblib

    log.warning("%s: loading a pickle/joblib file because its SHA-256 matches the one given", path)
    try:
        payload = joblib.load(path)
    except Exception as err:  # a trusted but damaged file
        raise ModelError(f"{path}: the trusted pickle cannot be read ({type(err).__name__}: {err})") from None
    if isinstance(payload, ConnectivityModel):
        return payload
    return _from_payload(payload, path)
