"""Scores of the connectivity model, checked against hand-worked arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from connectmap.predict.metrics import (
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    region_errors,
)


def test_scores_match_hand_worked_example():
    y = np.array([1, 0, 1, 1, 0, 0])
    p = np.array([0.9, 0.2, 0.4, 0.7, 0.6, 0.05])
    scores = classification_metrics(y, p, threshold=0.5)
    # predicted: 1 0 0 1 1 0 -> TP 2 (0.9, 0.7), FN 1 (0.4), FP 1 (0.6), TN 2
    assert scores["confusion"] == {
        "connected_predicted_connected": 2, "connected_predicted_not_connected": 1,
        "not_connected_predicted_connected": 1, "not_connected_predicted_not_connected": 2,
    }
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    # Brier: mean of squared errors 0.01, 0.04, 0.36, 0.09, 0.36, 0.0025
    assert scores["brier"] == pytest.approx((0.01 + 0.04 + 0.36 + 0.09 + 0.36 + 0.0025) / 6)
    # ROC AUC: share of (positive, negative) pairs ranked right. Positives 0.9, 0.4, 0.7; negatives 0.2, 0.6, 0.05.
    # 0.9 beats all 3, 0.7 beats all 3, 0.4 beats 0.2 and 0.05 -> 8 of 9.
    assert scores["roc_auc"] == pytest.approx(8 / 9)
    log_loss = -np.mean([np.log(0.9), np.log(0.8), np.log(0.4), np.log(0.7), np.log(0.4), np.log(0.95)])
    assert scores["log_loss"] == pytest.approx(log_loss)
    assert (scores["schools"], scores["connected"], scores["not_connected"]) == (6, 3, 3)
    # A higher threshold changes the hard predictions: only 0.9 and 0.7 remain connected.
    assert classification_metrics(y, p, threshold=0.65)["accuracy"] == pytest.approx(5 / 6)


def test_calibration_table_and_error():
    y = np.array([1, 0, 1, 1, 0, 1])
    p = np.array([0.15, 0.12, 0.85, 0.95, 0.8, 1.0])
    table = calibration_table(y, p)
    assert table == [
        {"bin": "0.1-0.2", "schools": 2, "mean_probability": pytest.approx(0.135), "share_connected": 0.5},
        {"bin": "0.8-0.9", "schools": 2, "mean_probability": pytest.approx(0.825), "share_connected": 0.5},
        {"bin": "0.9-1.0", "schools": 2, "mean_probability": pytest.approx(0.975), "share_connected": 1.0},
    ]
    expected = (2 * abs(0.135 - 0.5) + 2 * abs(0.825 - 0.5) + 2 * abs(0.975 - 1.0)) / 6
    assert expected_calibration_error(y, p) == pytest.approx(expected)


def test_one_class_has_no_roc_auc():
    scores = classification_metrics(np.array([1, 1, 1]), np.array([0.9, 0.4, 0.8]))
    assert scores["roc_auc"] is None
    assert scores["accuracy"] == pytest.approx(2 / 3)


def test_errors_per_region_sorted_by_errors():
    y = np.array([1, 1, 0, 0, 1, 0, 1])
    p = np.array([0.9, 0.3, 0.8, 0.6, 0.7, 0.1, 0.2])
    regions = np.array(["North", "North", "North", "South", "South", "East", "East"])
    rows = region_errors(y, p, regions)
    # most errors first; ties (East and South: 1 error, 2 schools) in name order
    assert [r["region"] for r in rows] == ["North", "East", "South"]
    north = rows[0]
    # North: (1, 0.9) right, (1, 0.3) missed connected, (0, 0.8) false connected
    assert north == {
        "region": "North", "schools": 3, "share_connected": pytest.approx(2 / 3),
        "mean_probability": pytest.approx((0.9 + 0.3 + 0.8) / 3), "accuracy": pytest.approx(1 / 3),
        "errors": 2, "false_connected": 1, "false_not_connected": 1,
    }
    by_name = {r["region"]: r for r in rows}
    assert by_name["South"]["errors"] == 1 and by_name["South"]["false_connected"] == 1
    assert by_name["East"]["errors"] == 1 and by_name["East"]["false_not_connected"] == 1
    assert sum(r["schools"] for r in rows) == len(y)
    assert sum(r["errors"] for r in rows) == int(((p >= 0.5) != y.astype(bool)).sum())
