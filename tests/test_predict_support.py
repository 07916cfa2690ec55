"""Synthetic labelled school tables with a known truth, shared by the connectivity-model tests (no tests here).

Schools sit around 16 towns on a 4 x 4 lattice 2.5 degrees apart (250-280 km), each within about 5 km of its town.
The true probability of being connected is a logistic function of the distance to the nearest LTE tower and of
electricity, so the best any model can do (the Bayes accuracy and Brier score) is known exactly.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

TOWN_SPACING_DEG = 2.5


def true_probability(lte_km: np.ndarray, electricity: np.ndarray) -> np.ndarray:
    """The generating rule: P(connected) = logistic(1.5 - 0.12 * LTE distance km + 1.5 * electricity)."""
    z = 1.5 - 0.12 * lte_km + 1.5 * np.nan_to_num(electricity.astype(float), nan=0.5)
    return 1.0 / (1.0 + np.exp(-z))


def synthetic_schools(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A labelled school table following :func:`true_probability`, with the columns enrichment would add.

    Columns: source_row, school_name (some hostile), latitude, longitude, admin1 (the town), education_level,
    num_students, electricity_availability (nullable boolean, some unknown), nearest_LTE_distance (km),
    nearest_GSM_distance (km), cellular_coverage_type, connectivity (nullable boolean), true_probability.
    """
    rng = np.random.default_rng(seed)
    town = rng.integers(0, 16, n)
    town_lon = 20.0 + (town % 4) * TOWN_SPACING_DEG
    town_lat = -26.0 + (town // 4) * TOWN_SPACING_DEG
    lon = town_lon + rng.uniform(-0.05, 0.05, n)
    lat = town_lat + rng.uniform(-0.05, 0.05, n)
    lte = rng.exponential(15.0, n)
    gsm = lte * rng.uniform(0.05, 0.6, n)
    electricity = rng.random(n) < 0.6
    probability = true_probability(lte, electricity)
    connected = rng.random(n) < probability
    coverage = np.where(lte < 8, "4G", np.where(gsm < 5, "2G", "no coverage"))
    electricity_col = pd.Series(electricity, dtype="boolean")
    electricity_col[rng.random(n) < 0.1] = pd.NA
    names = np.array([f"School {i}" for i in range(n)], dtype=object)
    hostile = ["=HYPERLINK(\"http://x\")", "<script>alert(1)</script>", "{{ 7*7 }}"][:n]
    names[: len(hostile)] = hostile
    return pd.DataFrame({
        "source_row": np.arange(2, n + 2),
        "school_name": names,
        "latitude": lat,
        "longitude": lon,
        "admin1": pd.Series([f"Town {t:02d}" for t in town], dtype="string"),
        "education_level": np.where(rng.random(n) < 0.7, "Primary", "Secondary"),
        "num_students": np.round(rng.lognormal(5.0, 0.6, n)),
        "electricity_availability": electricity_col,
        "nearest_LTE_distance": np.round(lte, 3),
        "nearest_GSM_distance": np.round(gsm, 3),
        "cellular_coverage_type": coverage,
        "connectivity": pd.Series(connected, dtype="boolean"),
        "true_probability": probability,
    })


@functools.lru_cache(maxsize=4)
def trained_model(n: int = 500, seed: int = 0, estimator: str = "random_forest"):
    """A small model trained on :func:`synthetic_schools` (cached: training takes a few seconds)."""
    from connectmap.parameters.predict import PredictParams
    from connectmap.predict import train_connectivity_model

    params = PredictParams(estimator=estimator, random_forest={"n_trees": 60}, hist_gradient_boosting={
        "n_iterations": 50}, cv_folds=4, cv_cell_km=50.0)
    return train_connectivity_model(synthetic_schools(n, seed), params=params)
