"""Parameters of the connectivity model (:mod:`connectmap.predict`).

The defaults were chosen once, by spatially grouped cross-validation on the Botswana *Training* file and by the
score on its *Val* file (``../shared/data/botswana/``); the *Testing* file was not used to choose anything. They
are connectmap's own choices (no public source sets them), so each says so.
"""

from __future__ import annotations

from typing import Literal

from connectmap.parameters._base import Section, param

EstimatorName = Literal["random_forest", "hist_gradient_boosting"]
GroupBy = Literal["grid", "admin1", "admin2"]
CalibrationMethod = Literal["sigmoid", "isotonic"]

_CHOSEN = "connectmap; chosen by spatial cross-validation on the Botswana Training file and its Val file"


class RandomForestParams(Section):
    """The random forest (the default classifier): many decision trees on bootstrap samples, votes averaged."""

    n_trees: int = param(
        300, unit="trees", ge=10, le=5000,
        description="Number of trees; more trees give steadier probabilities and take longer.",
        source=_CHOSEN,
    )
    min_schools_per_leaf: int = param(
        3, unit="schools", ge=1,
        description="Smallest number of training schools a tree leaf may hold (larger = smoother, less overfit).",
        source=_CHOSEN,
    )


class HistGradientBoostingParams(Section):
    """Histogram gradient boosting: shallow trees added one after another; fast on large registers."""

    n_iterations: int = param(
        200, unit="trees", ge=10, le=5000, description="Number of boosting iterations (one tree each).",
        source=_CHOSEN,
    )
    learning_rate: float = param(
        0.05, unit="-", gt=0, le=1, description="Shrinkage applied to each tree's contribution.", source=_CHOSEN,
    )
    max_leaves: int = param(
        15, unit="leaves", ge=2, description="Largest number of leaves per tree.", source=_CHOSEN,
    )
    min_schools_per_leaf: int = param(
        20, unit="schools", ge=1, description="Smallest number of training schools a tree leaf may hold.",
        source=_CHOSEN,
    )
    l2_regularization: float = param(
        1.0, unit="-", ge=0, description="L2 penalty on leaf values.", source=_CHOSEN,
    )


class PredictParams(Section):
    """Training, validating and applying the model that predicts unknown connectivity."""

    estimator: EstimatorName = param(
        "random_forest", unit="-",
        description="Classifier: random_forest (default) or hist_gradient_boosting (faster on large registers).",
        source=_CHOSEN,
    )
    calibration: CalibrationMethod = param(
        "sigmoid", unit="-",
        description="How raw classifier scores become probabilities (CalibratedClassifierCV): sigmoid (Platt) "
        "or isotonic (needs more schools).",
        source="connectmap; sigmoid is the safer choice below about a thousand labelled schools (scikit-learn "
        "user guide, Probability calibration)",
    )
    cv_folds: int = param(
        5, unit="folds", ge=2, le=20,
        description="Folds of the spatial cross-validation that measures accuracy and fits the calibration.",
        source="connectmap",
    )
    group_by: GroupBy = param(
        "grid", unit="-",
        description="What keeps nearby schools in the same fold: grid (square cells of cv_cell_km), admin1 or "
        "admin2 (the region columns).",
        source="connectmap",
    )
    cv_cell_km: float = param(
        50.0, unit="km", gt=0,
        description="Side of the equal-area grid cells used as cross-validation groups when group_by = grid.",
        source="connectmap; wide enough that schools served by the same towers and backbone share a cell",
    )
    region_cell_km: float = param(
        100.0, unit="km", gt=0,
        description="Side of the grid cells that errors are reported by when the table has no admin1 column.",
        source="connectmap",
    )
    threshold_probability: float = param(
        0.5, unit="probability", gt=0, lt=1,
        description="A school whose connectivity is unknown is predicted connected when its probability is at "
        "least this.",
        source="connectmap; 0.5 maximises expected accuracy for calibrated probabilities",
    )
    min_schools_per_class: int = param(
        10, unit="schools", ge=2,
        description="Fewest labelled schools of each class (connected, not connected) needed to train.",
        source="connectmap",
    )
    min_category_count: int = param(
        5, unit="schools", ge=1,
        description="Region or education-level values seen in fewer training schools are pooled as 'infrequent'.",
        source="connectmap",
    )
    random_seed: int = param(0, unit="-", description="Seed for fold assignment and the trees.", source=None)
    n_jobs: int = param(
        1, unit="processes",
        description="Processes used to grow trees (-1 = all cores); results do not depend on it.",
        source=None,
    )
    random_forest: RandomForestParams = RandomForestParams()
    hist_gradient_boosting: HistGradientBoostingParams = HistGradientBoostingParams()
