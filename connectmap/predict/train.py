"""Training a connectivity model with an honest account of its accuracy, and evaluating it on other tables.

Training takes the schools whose connectivity is known, chooses the features, and measures the model by spatial
cross-validation: schools are grouped by grid cell or region, each group's schools are predicted by a model (with
its own calibration) fitted on the other groups only, and those out-of-fold predictions are scored. The model kept
is then fitted on all labelled schools. A separate validation table, when given, is scored too; a test table is
only ever scored, by :func:`evaluate_model` — nothing is chosen on it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from connectmap import columns as C
from connectmap.errors import ModelError, where
from connectmap.parameters.predict import PredictParams
from connectmap.predict import card as model_card
from connectmap.predict.features import (
    check_features,
    check_label_leaks,
    feature_frame,
    parse_labels,
    select_features,
    table_path,
)
from connectmap.predict.metrics import classification_metrics, region_errors
from connectmap.predict.model import ConnectivityModel, fit_calibrated, thread_limit
from connectmap.predict.spatial import grid_centre, report_regions, spatial_folds, spatial_groups
from connectmap.progress import track

log = logging.getLogger(__name__)


def _labelled(schools: pd.DataFrame, role: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows with known connectivity and their labels as 1/0."""
    path = table_path(schools)
    if C.CONNECTIVITY not in schools.columns:
        raise ModelError(
            f"{where(path, column=C.CONNECTIVITY)}: the {role} table has no connectivity column (yes/no, 1/0) to "
            "learn from or compare with; name it with --columns connectivity=COLUMN"
        )
    labels = parse_labels(schools)
    known = labels.notna().to_numpy()
    if not known.any():
        raise ModelError(f"{where(path, column=C.CONNECTIVITY)}: the {role} table has no known connectivity values")
    return schools[known], labels[known].astype(bool).to_numpy().astype(int)


def train_connectivity_model(
    schools: pd.DataFrame,
    *,
    features: str | Sequence[str] | None = None,
    use_default_features: bool = True,
    params: PredictParams | None = None,
    validation: pd.DataFrame | None = None,
    sources: dict[str, dict[str, Any]] | None = None,
) -> ConnectivityModel:
    """Train a calibrated connectivity classifier and measure it by spatial cross-validation.

    Parameters
    ----------
    schools
        Labelled school table (``connectivity`` yes/no, 1/0 or nullable boolean; unknown rows are ignored), with
        enrichment columns and/or the numeric columns named in ``features``, and coordinates for the spatial
        groups.
    features
        Extra numeric columns: names or patterns, comma-separated, ``!pattern`` to leave columns out (see
        :func:`~connectmap.predict.features.select_features`).
    use_default_features
        Also use the enrichment and register columns of
        :data:`~connectmap.predict.features.DEFAULT_FEATURES` that the table has.
    params
        Settings; defaults from :class:`~connectmap.parameters.predict.PredictParams`.
    validation
        A separate labelled table scored with the final model and reported in the card (never used to fit).
    sources
        What the tables were read from, e.g. ``{"training": {"path": ..., "sha256": ...}}``, for the card.

    Returns
    -------
    ConnectivityModel
        Fitted on every labelled school, with a model card holding the cross-validated (and validation) scores.

    Raises
    ------
    ModelError, SchemaError
        No labels, too few schools of a class, a feature that copies the label, or unusable feature columns.
    """
    params = params or PredictParams()
    path = table_path(schools)
    train, y = _labelled(schools, "training")
    counts = {"connected": int(y.sum()), "not_connected": int(len(y) - y.sum())}
    for name, count in counts.items():
        if count < params.min_schools_per_class:
            raise ModelError(
                f"{where(path, column=C.CONNECTIVITY)}: only {count} labelled school(s) are {name.replace('_', ' ')}; "
                f"at least {params.min_schools_per_class} of each class are needed to train and validate a model"
            )
    chosen = select_features(train, features, use_defaults=use_default_features)
    frame = feature_frame(train, chosen)
    check_label_leaks(frame, pd.Series(y.astype(bool), index=train.index), chosen, path)
    groups = spatial_groups(train, params.group_by, params.cv_cell_km)
    log.info("training on %d labelled schools (%d connected), %d features, %d spatial groups",
             len(y), counts["connected"], len(chosen), len(pd.unique(groups)))

    # Out-of-fold probabilities: each fold's schools are predicted by a model that never saw their groups.
    splitter, n_folds = spatial_folds(y, groups, params.cv_folds, params.random_seed)
    out_of_fold = np.full(len(y), np.nan)
    folds = list(splitter.split(frame, y, groups))
    for fit_rows, test_rows in track(folds, "cross-validating", total=n_folds):
        if len(np.unique(y[fit_rows])) < 2:
            raise ModelError("a cross-validation fold has one class only; use more labelled schools or fewer folds")
        fold_model = fit_calibrated(frame.iloc[fit_rows], y[fit_rows], groups[fit_rows], chosen, params)
        column = list(fold_model.classes_).index(1)
        with thread_limit(params.n_jobs):
            out_of_fold[test_rows] = fold_model.predict_proba(frame.iloc[test_rows])[:, column]
    estimator = fit_calibrated(frame, y, groups, chosen, params)

    threshold = params.threshold_probability
    centre = grid_centre(train)
    regions, region_kind = report_regions(train, params.region_cell_km, centre)
    cv_scores = classification_metrics(y, out_of_fold, threshold)
    cv_scores["per_region"] = region_errors(y, out_of_fold, regions, threshold)
    cv_scores["region_kind"] = region_kind
    cv_scores["scheme"] = (
        f"{n_folds}-fold cross-validation, class-stratified, schools grouped by "
        + (f"{params.cv_cell_km:g} km equal-area grid cells" if params.group_by == "grid" else params.group_by)
        + f" ({len(pd.unique(groups))} groups); probabilities calibrated ({params.calibration}) on grouped folds"
        " inside each training part"
    )
    model = ConnectivityModel(
        estimator=estimator, features=chosen, threshold_probability=threshold,
        card={"grid_centre": centre, "parameters": params.model_dump(mode="json")},
    )
    validation_scores = evaluate_model(model, validation, region_cell_km=params.region_cell_km) if (
        validation is not None) else None
    model.card = model_card.build_card(
        features=chosen, params=params, y=y, frame=frame, cross_validation=cv_scores,
        validation=validation_scores, sources=sources or {}, unlabelled=int(len(schools) - len(train)),
        grid_centre=centre,
    )
    return model


def evaluate_model(
    model: ConnectivityModel, schools: pd.DataFrame, *, region_cell_km: float | None = None
) -> dict[str, Any]:
    """Score a model on a labelled table it was not trained on.

    Parameters
    ----------
    model
        A trained or loaded model.
    schools
        Table with ``connectivity`` known for at least some schools and every feature column.
    region_cell_km
        Grid cell side for the per-region table when the table has no ``admin1``; the model's own setting when
        not given.

    Returns
    -------
    dict
        :func:`~connectmap.predict.metrics.classification_metrics` plus ``per_region``, ``region_kind`` and
        ``unlabelled`` (schools skipped because their connectivity is unknown).

    Raises
    ------
    ModelError
        When the table has no labels or lacks feature columns.
    """
    check_features(schools, model.features)
    rows, y = _labelled(schools, "evaluation")
    probability = model.predict_probability(rows)
    threshold = model.threshold_probability
    if region_cell_km is None:
        region_cell_km = float(model.card.get("parameters", {}).get("region_cell_km", PredictParams().region_cell_km))
    centre = model.card.get("grid_centre")
    regions, region_kind = report_regions(rows, region_cell_km, tuple(centre) if centre else None)
    scores = classification_metrics(y, probability, threshold)
    scores["per_region"] = region_errors(y, probability, regions, threshold)
    scores["region_kind"] = region_kind
    scores["unlabelled"] = int(len(schools) - len(rows))
    return scores
