"""Filling unknown connectivity with the model's prediction, never touching what the register reports.

Adds two columns and fills the gaps of a third:

* ``connectivity_probability``: the model's calibrated probability that the school is connected, for every school
  with at least one known feature value (also for schools whose connectivity is reported: a low probability on a
  school reported connected is worth a check, since registers go stale);
* ``connectivity_source``: ``reported`` where the register gives connectivity, ``predicted`` where the model filled
  it, ``unknown`` where neither could (every feature value missing);
* ``connectivity``: reported values unchanged; unknown ones set to ``connectivity_probability >= threshold``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from connectmap import columns as C
from connectmap.errors import ConfigError
from connectmap.predict.features import feature_frame, parse_labels
from connectmap.predict.model import ConnectivityModel

log = logging.getLogger(__name__)

CONNECTIVITY_PROBABILITY = C.describe(
    "connectivity_probability",
    "Model's calibrated probability that the school is connected (0-1); empty when no feature value is known",
    "probability",
)
CONNECTIVITY_SOURCE = C.describe(
    "connectivity_source",
    "Where connectivity comes from: reported (the register), predicted (the model) or unknown",
    "text",
)
REPORTED, PREDICTED, UNKNOWN = "reported", "predicted", "unknown"


def add_connectivity_predictions(
    schools: pd.DataFrame, model: ConnectivityModel, *, threshold_probability: float | None = None
) -> pd.DataFrame:
    """Fill unknown connectivity with the model's prediction.

    Parameters
    ----------
    schools
        School table with every feature column of the model (enriched the same way as the training table).
    model
        A trained or loaded :class:`~connectmap.predict.model.ConnectivityModel`.
    threshold_probability
        Probability from which an unknown school is predicted connected; the model's own when not given.

    Returns
    -------
    pandas.DataFrame
        A copy of ``schools`` (same rows, same order, same type) with ``connectivity_probability`` (float),
        ``connectivity_source`` (text) and ``connectivity`` (nullable boolean; reported values unchanged).

    Raises
    ------
    ModelError
        When the table lacks feature columns (listing them and where they come from).
    ConfigError
        When ``threshold_probability`` is not strictly between 0 and 1.
    """
    threshold = model.threshold_probability if threshold_probability is None else float(threshold_probability)
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold_probability = {threshold}: give a probability between 0 and 1, e.g. 0.5")
    frame = feature_frame(schools, model.features)
    reported = parse_labels(schools)
    probability = np.full(len(schools), np.nan)
    has_values = frame.notna().any(axis=1).to_numpy()
    if has_values.any():
        probability[has_values] = model.probability_from_frame(frame[has_values])
    is_reported = reported.notna().to_numpy()
    predicted = ~is_reported & has_values

    out = schools.copy()
    out[CONNECTIVITY_PROBABILITY] = probability
    source = np.where(is_reported, REPORTED, np.where(predicted, PREDICTED, UNKNOWN))
    out[CONNECTIVITY_SOURCE] = pd.Series(source, index=schools.index, dtype="string")
    filled = reported.copy()
    filled[predicted] = probability[predicted] >= threshold
    out[C.CONNECTIVITY] = filled.astype("boolean")
    log.info(
        "connectivity: %d reported, %d predicted (%d connected), %d unknown (no feature values)",
        int(is_reported.sum()), int(predicted.sum()), int((probability[predicted] >= threshold).sum()),
        int((~is_reported & ~has_values).sum()),
    )
    return out
