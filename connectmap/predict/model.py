"""The connectivity model: a scikit-learn pipeline with calibrated probabilities, and what it was trained on.

The pipeline is ``ColumnTransformer`` (numbers pass through with their gaps; region and education level are filled
with ``"(missing)"`` and one-hot encoded, rare values pooled) then a random forest or histogram gradient boosting
classifier, both of which learn where missing values should go. It is wrapped in ``CalibratedClassifierCV`` with
spatially grouped folds, so the probability it gives is the share of such schools that are connected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from connectmap.parameters.predict import PredictParams
from connectmap.predict.features import Feature, feature_frame
from connectmap.predict.spatial import spatial_folds

MISSING_CATEGORY = "(missing)"


def thread_limit(n_jobs: int) -> threadpool_limits:
    """Cap OpenMP threads (histogram gradient boosting, tree prediction) at ``n_jobs``; -1 or below = no cap.

    On a shared machine uncapped OpenMP threads fight each other: capped at one, training on 500 schools took
    1.1 s instead of 6 s with the load average at 5 on 2 cores.
    """
    return threadpool_limits(limits=None if n_jobs < 0 else max(1, n_jobs), user_api="openmp")


def build_pipeline(features: Sequence[Feature], params: PredictParams) -> Pipeline:
    """The unfitted feature transformer and classifier.

    Parameters
    ----------
    features
        The model's features; ``category`` ones are one-hot encoded, the rest pass through as numbers.
    params
        Classifier choice and settings.
    """
    numbers = [f.name for f in features if f.kind != "category"]
    categories = [f.name for f in features if f.kind == "category"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numbers:
        transformers.append(("numbers", "passthrough", numbers))
    if categories:
        encode = Pipeline([
            ("fill", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(
                handle_unknown="infrequent_if_exist", min_frequency=params.min_category_count, sparse_output=False,
            )),
        ])
        transformers.append(("categories", encode, categories))
    columns = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)
    if params.estimator == "random_forest":
        forest = params.random_forest
        classifier: Any = RandomForestClassifier(
            n_estimators=forest.n_trees, min_samples_leaf=forest.min_schools_per_leaf, n_jobs=params.n_jobs,
            random_state=params.random_seed,
        )
    else:
        boost = params.hist_gradient_boosting
        classifier = HistGradientBoostingClassifier(
            max_iter=boost.n_iterations, learning_rate=boost.learning_rate, max_leaf_nodes=boost.max_leaves,
            min_samples_leaf=boost.min_schools_per_leaf, l2_regularization=boost.l2_regularization,
            early_stopping=False, random_state=params.random_seed,
        )
    return Pipeline([("columns", columns), ("classifier", classifier)])


def fit_calibrated(
    frame: pd.DataFrame, y: np.ndarray, groups: np.ndarray, features: Sequence[Feature], params: PredictParams
) -> CalibratedClassifierCV:
    """Fit the pipeline with probabilities calibrated on spatially grouped folds.

    Each fold's classifier is calibrated on the schools of the groups it did not see (Platt sigmoid or isotonic),
    and the calibrated classifiers are averaged, as :class:`~sklearn.calibration.CalibratedClassifierCV` does.

    Parameters
    ----------
    frame
        Feature frame from :func:`~connectmap.predict.features.feature_frame`.
    y
        Labels, 1 connected, 0 not connected.
    groups
        Spatial group per school.
    features, params
        As for :func:`build_pipeline`.
    """
    splitter, _ = spatial_folds(y, groups, params.cv_folds, params.random_seed)
    # ensemble=False: the calibrator learns from out-of-fold predictions and one classifier is fitted on all
    # schools, so the saved model holds one forest instead of one per fold (5x smaller and faster to apply).
    # CalibratedClassifierCV does not pass groups to its splitter in that mode, so the grouped folds are given
    # as index pairs; afterwards the splitter itself is recorded instead of the (large, table-specific) indices.
    folds = list(splitter.split(frame, y, groups))
    model = CalibratedClassifierCV(
        build_pipeline(features, params), method=params.calibration, cv=folds, ensemble=False
    )
    with thread_limit(params.n_jobs):
        model.fit(frame, y)
    model.set_params(cv=splitter)
    return model


@dataclass
class ConnectivityModel:
    """A trained connectivity model with its features and model card.

    Attributes
    ----------
    estimator
        Fitted :class:`~sklearn.calibration.CalibratedClassifierCV` (classes 0 = not connected, 1 = connected).
    features
        Columns the model needs, in order.
    threshold_probability
        Probability from which an unknown school is predicted connected.
    card
        The model card (see :mod:`connectmap.predict.card`): data, features, validation scores, versions.
    """

    estimator: CalibratedClassifierCV
    features: tuple[Feature, ...]
    threshold_probability: float = 0.5
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns."""
        return [f.name for f in self.features]

    def predict_probability(self, schools: pd.DataFrame) -> np.ndarray:
        """Calibrated probability that each school is connected.

        Raises
        ------
        ModelError
            When the table lacks a feature column (listing them and where they come from).
        """
        return self.probability_from_frame(feature_frame(schools, self.features))

    def probability_from_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of being connected for a frame made by
        :func:`~connectmap.predict.features.feature_frame` with this model's features."""
        if len(frame) == 0:
            return np.zeros(0, dtype=float)
        with thread_limit(int(self.card.get("parameters", {}).get("n_jobs", 1))):
            proba = self.estimator.predict_proba(frame)
        column = list(self.estimator.classes_).index(1)
        return np.asarray(proba[:, column], dtype=float)
