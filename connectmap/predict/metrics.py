"""How good the predictions are: accuracy, F1, ROC AUC, calibration, and where the errors are.

Everything a model card or ``connectmap model evaluate`` reports is computed here from two arrays — what is known
(connected or not) and the predicted probability — so training (out-of-fold), validation and test tables are all
judged the same way. Counts and rates use scikit-learn's metrics; the calibration table (predicted probability
against the share actually connected, in ten bins) and the per-region table are plain numpy/pandas group sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

N_CALIBRATION_BINS = 10


def _float(value: float) -> float | None:
    """JSON-friendly float: NaN (undefined, e.g. ROC AUC with one class) becomes None."""
    value = float(value)
    return None if np.isnan(value) else value


def calibration_table(y_true: np.ndarray, probability: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> list[dict]:
    """Schools, mean predicted probability and observed share connected, per probability bin.

    Parameters
    ----------
    y_true
        1 connected, 0 not connected.
    probability
        Predicted probability of being connected.
    n_bins
        Equal-width bins over [0, 1]; the last bin includes 1.

    Returns
    -------
    list of dict
        One row per non-empty bin: ``bin`` ("0.0-0.1"), ``schools``, ``mean_probability``, ``share_connected``.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probability, dtype=float)
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in np.unique(index):
        inside = index == b
        rows.append({
            "bin": f"{b / n_bins:.1f}-{(b + 1) / n_bins:.1f}",
            "schools": int(inside.sum()),
            "mean_probability": float(p[inside].mean()),
            "share_connected": float(y[inside].mean()),
        })
    return rows


def expected_calibration_error(y_true: np.ndarray, probability: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> float:
    """Mean gap between predicted probability and observed share, weighted by schools per bin (0 = perfect)."""
    table = calibration_table(y_true, probability, n_bins)
    total = sum(row["schools"] for row in table)
    if total == 0:
        return float("nan")
    return float(sum(row["schools"] * abs(row["mean_probability"] - row["share_connected"]) for row in table) / total)


def classification_metrics(y_true: np.ndarray, probability: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Every score connectmap reports for a set of labelled schools.

    Parameters
    ----------
    y_true
        True connectivity (bool or 1/0), one per school.
    probability
        Predicted probability of being connected.
    threshold
        Schools with ``probability >= threshold`` count as predicted connected.

    Returns
    -------
    dict
        ``schools``, ``connected``, ``not_connected``, ``share_connected``, ``accuracy``, ``precision``,
        ``recall``, ``f1`` (for the class *connected*), ``roc_auc`` (None with one class only), ``brier``
        (mean squared error of the probability, 0 = perfect, 0.25 = always 0.5), ``log_loss``,
        ``expected_calibration_error``, ``confusion`` (counts), ``calibration`` (table).
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(probability, dtype=float)
    predicted = p >= threshold
    both_classes = 0 < y.sum() < len(y)
    tp = int((predicted & y).sum())
    fp = int((predicted & ~y).sum())
    fn = int((~predicted & y).sum())
    tn = int((~predicted & ~y).sum())
    return {
        "schools": len(y),
        "connected": int(y.sum()),
        "not_connected": int((~y).sum()),
        "share_connected": _float(y.mean()) if len(y) else None,
        "threshold_probability": threshold,
        "accuracy": _float(skm.accuracy_score(y, predicted)),
        "precision": _float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": _float(skm.recall_score(y, predicted, zero_division=0)),
        "f1": _float(skm.f1_score(y, predicted, zero_division=0)),
        "roc_auc": _float(skm.roc_auc_score(y, p)) if both_classes else None,
        "brier": _float(skm.brier_score_loss(y, p, pos_label=True)),
        "log_loss": _float(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[False, True])),
        "expected_calibration_error": _float(expected_calibration_error(y, p)),
        "confusion": {
            "connected_predicted_connected": tp,
            "connected_predicted_not_connected": fn,
            "not_connected_predicted_connected": fp,
            "not_connected_predicted_not_connected": tn,
        },
        "calibration": calibration_table(y, p),
    }


def region_errors(
    y_true: np.ndarray, probability: np.ndarray, regions: np.ndarray, threshold: float = 0.5
) -> list[dict[str, Any]]:
    """Errors per region, most errors first.

    Parameters
    ----------
    y_true, probability, threshold
        As in :func:`classification_metrics`.
    regions
        Region label per school.

    Returns
    -------
    list of dict
        ``region``, ``schools``, ``share_connected`` (observed), ``mean_probability``, ``accuracy``,
        ``errors``, ``false_connected`` (predicted connected but not), ``false_not_connected``.
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(probability, dtype=float)
    predicted = p >= threshold
    frame = pd.DataFrame({
        "region": pd.Series(regions, dtype=object).astype(str).to_numpy(),
        "y": y.astype(float),
        "p": p,
        "correct": (predicted == y).astype(float),
        "false_connected": (predicted & ~y).astype(int),
        "false_not_connected": (~predicted & y).astype(int),
    })
    grouped = frame.groupby("region", sort=True).agg(
        schools=("y", "size"), share_connected=("y", "mean"), mean_probability=("p", "mean"),
        accuracy=("correct", "mean"), false_connected=("false_connected", "sum"),
        false_not_connected=("false_not_connected", "sum"),
    )
    grouped["errors"] = grouped["false_connected"] + grouped["false_not_connected"]
    grouped = grouped.sort_values(["errors", "schools"], ascending=[False, False], kind="stable")
    return [
        {
            "region": str(region),
            "schools": int(row.schools),
            "share_connected": float(row.share_connected),
            "mean_probability": float(row.mean_probability),
            "accuracy": float(row.accuracy),
            "errors": int(row.errors),
            "false_connected": int(row.false_connected),
            "false_not_connected": int(row.false_not_connected),
        }
        for region, row in grouped.iterrows()
    ]
