"""The model card: what a model was trained on, how good it is, and with which software — as JSON and Markdown.

A ministry passing a model to a partner passes the card with it (``model.card.json`` and ``model.card.md`` beside
``model.skops``). It holds the features and where they come from, a hash of the training data, the class balance,
the spatially cross-validated scores (accuracy, F1, ROC AUC, Brier score, calibration table, errors per region),
the validation table's scores when one was given, every parameter, and the library versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from connectmap import __version__
from connectmap.parameters.predict import PredictParams
from connectmap.predict.features import Feature
from connectmap.report.text import clean_text

CARD_FORMAT = "connectmap-model-card"
#: Published Giga random-forest results for comparison (Doerksen et al., github.com/kelsdoerksen/giga-connectivity,
#: docs/index.md, Experiment A): test accuracy and 5-fold F1 for Botswana.
PUBLISHED_BASELINES = {"Botswana random forest": {"accuracy": 0.656, "f1": 0.67}}


def table_sha256(frame: pd.DataFrame, y: np.ndarray) -> str:
    """SHA-256 of the feature values and labels a model was fitted on (independent of file format)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(np.asarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a saved model depends on."""
    import scipy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "connectmap": __version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
    }


def build_card(
    *,
    features: Sequence[Feature],
    params: PredictParams,
    y: np.ndarray,
    frame: pd.DataFrame,
    cross_validation: dict[str, Any],
    validation: dict[str, Any] | None,
    sources: dict[str, dict[str, Any]],
    unlabelled: int,
    grid_centre: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Assemble the model card (JSON-ready dict).

    Parameters
    ----------
    features
        The model's features.
    params
        The settings it was trained with.
    y
        Training labels (1/0).
    frame
        Training feature frame (for the data hash and the share of missing values per feature).
    cross_validation
        Out-of-fold scores from training.
    validation
        Scores on a separate validation table, or None.
    sources
        Files the tables came from, with their SHA-256.
    unlabelled
        Training-table schools skipped because their connectivity was unknown.
    grid_centre
        (longitude, latitude) the validation and reporting grids are anchored at.
    """
    connected = int(np.sum(y))
    missing_share = frame.isna().mean()
    return {
        "format": CARD_FORMAT,
        "created_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "task": "Probability that a school is connected to the internet, for schools whose register says nothing.",
        "model": {
            "estimator": params.estimator,
            "calibration": params.calibration,
            "threshold_probability": params.threshold_probability,
        },
        "training_data": {
            "sources": sources,
            "table_sha256": table_sha256(frame, y),
            "labelled_schools": len(y),
            "unlabelled_schools_ignored": unlabelled,
            "class_balance": {
                "connected": connected,
                "not_connected": int(len(y) - connected),
                "share_connected": connected / len(y) if len(y) else None,
            },
        },
        "features": [
            {**f.to_dict(), "missing_share": float(missing_share.get(f.name, 0.0))} for f in features
        ],
        "grid_centre": list(grid_centre) if grid_centre else None,
        "cross_validation": cross_validation,
        "validation": validation,
        "published_baselines": PUBLISHED_BASELINES,
        "parameters": params.model_dump(mode="json"),
        "library_versions": library_versions(),
        "limitations": [
            "Scores come from spatial cross-validation: schools of a grid cell or region are always predicted by a "
            "model that did not see that place. Expect similar accuracy only in places like the training data.",
            "The label is the register's connectivity field, which can itself be stale or wrong.",
            "Probabilities are calibrated on the training schools; if the share of connected schools differs "
            "where the model is used, probabilities shift accordingly.",
        ],
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _md(text: Any) -> str:
    """Table-safe Markdown text: column names and regions come from data, so pipes and markup are escaped."""
    out = clean_text(text)[0]
    for ch in "\\`*_{}[]<>()#+!|":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def _scores_section(title: str, scores: dict[str, Any], max_regions: int = 15) -> list[str]:
    confusion = scores["confusion"]
    lines = [
        f"## {title}",
        "",
        f"{scores['schools']} schools ({scores['connected']} connected, {scores['not_connected']} not connected)."
        + (f" {scores['scheme']}." if "scheme" in scores else ""),
        "",
        "| measure | value |",
        "|---|---|",
        f"| accuracy | {_pct(scores['accuracy'])} |",
        f"| F1 (connected) | {_num(scores['f1'])} |",
        f"| precision / recall (connected) | {_num(scores['precision'])} / {_num(scores['recall'])} |",
        f"| ROC AUC | {_num(scores['roc_auc'])} |",
        f"| Brier score (0 = perfect, 0.25 = coin toss) | {_num(scores['brier'])} |",
        f"| expected calibration error | {_num(scores['expected_calibration_error'])} |",
        "",
        "| | predicted connected | predicted not connected |",
        "|---|---|---|",
        f"| connected | {confusion['connected_predicted_connected']} | "
        f"{confusion['connected_predicted_not_connected']} |",
        f"| not connected | {confusion['not_connected_predicted_connected']} | "
        f"{confusion['not_connected_predicted_not_connected']} |",
        "",
        "Calibration (predicted probability against the share actually connected):",
        "",
        "| probability | schools | mean predicted | share connected |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['bin']} | {row['schools']} | {_num(row['mean_probability'], 2)} | {_num(row['share_connected'], 2)} |"
        for row in scores["calibration"]
    ]
    regions = scores.get("per_region", [])
    if regions:
        lines += [
            "",
            f"Errors by {_md(scores.get('region_kind', 'region'))} (most errors first"
            + (f"; {max_regions} of {len(regions)} shown, all in the JSON card" if len(regions) > max_regions else "")
            + "):",
            "",
            "| region | schools | share connected | mean probability | accuracy | errors |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {_md(r['region'])} | {r['schools']} | {_num(r['share_connected'], 2)} | "
            f"{_num(r['mean_probability'], 2)} | {_pct(r['accuracy'])} | {r['errors']} |"
            for r in regions[:max_regions]
        ]
    return [*lines, ""]


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown, for people."""
    data = card["training_data"]
    balance = data["class_balance"]
    model = card["model"]
    lines = [
        "# Connectivity model card",
        "",
        card["task"],
        "",
        f"- Created: {card['created_utc']} with connectmap {card['library_versions']['connectmap']}",
        f"- Classifier: {model['estimator']}, probabilities calibrated ({model['calibration']}); a school is "
        f"predicted connected from probability {model['threshold_probability']:g}",
    ]
    if "model_file" in card:
        lines.append(f"- Model file: {_md(card['model_file']['name'])}, SHA-256 `{card['model_file']['sha256']}`")
    lines += [
        f"- Training data: {data['labelled_schools']} labelled schools ({balance['connected']} connected, "
        f"{balance['not_connected']} not connected, {_pct(balance['share_connected'])} connected); "
        f"{data['unlabelled_schools_ignored']} with unknown connectivity ignored",
        f"- Training table hash (features and labels): `{data['table_sha256']}`",
    ]
    for role, source in data["sources"].items():
        lines.append(f"- {_md(role)} file: {_md(source.get('path', ''))}, SHA-256 `{source.get('sha256', '')}`")
    lines += ["", "## Features", "", "| column | kind | comes from | missing in training |", "|---|---|---|---|"]
    lines += [
        f"| {_md(f['name'])} | {f['kind']} | {_md(f['source'])} | {_pct(f['missing_share'])} |"
        for f in card["features"]
    ]
    lines.append("")
    lines += _scores_section("Spatial cross-validation (training table)", card["cross_validation"])
    if card.get("validation"):
        lines += _scores_section("Validation table", card["validation"])
    lines += ["## Published baselines for comparison", ""]
    lines += [
        f"- {name}: accuracy {_pct(b['accuracy'])}, F1 {b['f1']:.2f}" for name, b in card["published_baselines"].items()
    ]
    lines += ["", "## Limitations", ""] + [f"- {text}" for text in card["limitations"]]
    lines += ["", "## Library versions", ""]
    lines += [f"- {name} {version}" for name, version in card["library_versions"].items()]
    return "\n".join(lines) + "\n"


def scores_text(scores: dict[str, Any], max_regions: int = 5) -> list[str]:
    """Scores as a few plain lines for the terminal."""
    confusion = scores["confusion"]
    lines = [
        f"  schools      {scores['schools']} with known connectivity ({scores['connected']} connected, "
        f"{scores['not_connected']} not connected)",
        f"  accuracy     {_pct(scores['accuracy'])}",
        f"  F1           {_num(scores['f1'])} (connected; precision {_num(scores['precision'])}, "
        f"recall {_num(scores['recall'])})",
        f"  ROC AUC      {_num(scores['roc_auc'])}",
        f"  Brier        {_num(scores['brier'])} "
        f"(expected calibration error {_num(scores['expected_calibration_error'])})",
        f"  confusion    connected: {confusion['connected_predicted_connected']} right, "
        f"{confusion['connected_predicted_not_connected']} wrong; not connected: "
        f"{confusion['not_connected_predicted_not_connected']} right, "
        f"{confusion['not_connected_predicted_connected']} wrong",
    ]
    worst = [r for r in scores.get("per_region", []) if r["errors"] > 0][:max_regions]
    if worst:
        lines.append(f"  most errors  by {scores.get('region_kind', 'region')}: " + "; ".join(
            f"{clean_text(r['region'])[0]} {r['errors']}/{r['schools']}" for r in worst))
    return lines
