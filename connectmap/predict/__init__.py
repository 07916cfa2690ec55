"""Predicting which schools are connected where the register does not say, with an honest model.

Public API::

    model = train_connectivity_model(schools, features="pop_*", validation=val)   # spatial CV, calibrated
    save_model(model, "model.skops")          # + model.card.json, model.card.md
    model = load_model("model.skops")         # explicit allow-list; pickles refused
    scores = evaluate_model(model, test)      # accuracy, F1, ROC AUC, calibration, per-region errors
    schools = add_connectivity_predictions(schools, model)

Modules: :mod:`~connectmap.predict.features` (which columns, as numbers), :mod:`~connectmap.predict.spatial`
(groups so nearby schools do not leak between folds), :mod:`~connectmap.predict.model` (pipeline and calibration),
:mod:`~connectmap.predict.train` (training and evaluation), :mod:`~connectmap.predict.metrics`,
:mod:`~connectmap.predict.card` (model card), :mod:`~connectmap.predict.persist` (skops, allow-list, pickle
refusal), :mod:`~connectmap.predict.apply` (filling unknown connectivity).
"""

from connectmap.predict.apply import CONNECTIVITY_PROBABILITY, CONNECTIVITY_SOURCE, add_connectivity_predictions
from connectmap.predict.features import DEFAULT_FEATURES, Feature, parse_labels, select_features
from connectmap.predict.model import ConnectivityModel
from connectmap.predict.persist import ALLOWED_TYPES, card_paths, load_model, save_model
from connectmap.predict.train import evaluate_model, train_connectivity_model

__all__ = [
    "ALLOWED_TYPES",
    "CONNECTIVITY_PROBABILITY",
    "CONNECTIVITY_SOURCE",
    "DEFAULT_FEATURES",
    "ConnectivityModel",
    "Feature",
    "add_connectivity_predictions",
    "card_paths",
    "evaluate_model",
    "load_model",
    "parse_labels",
    "save_model",
    "select_features",
    "train_connectivity_model",
]
