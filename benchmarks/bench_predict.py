"""The connectivity model: training (with its spatial cross-validation), saving/loading, and filling unknowns.

    python benchmarks/bench_predict.py [--sizes 100000 1000000] [--train-sizes 5000] [--repeats 3] [--no-train]

Prints median seconds, schools per second and peak memory for

* training on the real Botswana Training file (634 labelled schools, 14 features: tower distances, education
  level, school-age population) and on synthetic labelled tables, random forest and histogram gradient boosting
  side by side (training includes the 5-fold spatial cross-validation, so it fits 36 classifiers);
* save + load of the trained model (skops, allow-list check) and its file size;
* ``add_connectivity_predictions`` on synthetic tables of the stated sizes (a third of the schools unknown).

Everything runs with ``n_jobs = 1`` (the default), one process per measurement (see ``harness.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import WORK, measure, print_table

BOTSWANA = Path(__file__).resolve().parents[2] / "shared" / "data" / "botswana"
TRAINING = BOTSWANA / "TrainingData_uncorrelated_with_aux_and_schoolage_pop.csv"


def _params(estimator: str):
    from connectmap.parameters.predict import PredictParams

    return PredictParams(estimator=estimator)


def train_botswana(estimator: str) -> str:
    from connectmap.io import read_schools
    from connectmap.predict import train_connectivity_model
    from connectmap.validate import validate_schools

    table = validate_schools(read_schools(TRAINING)).clean
    model = train_connectivity_model(table, features="primary_pop_*,sec_pop_*", params=_params(estimator))
    cv = model.card["cross_validation"]
    return f"spatial CV accuracy {100 * cv['accuracy']:.1f} %, F1 {cv['f1']:.3f}"


def train_synthetic(n: int, estimator: str) -> str:
    from connectmap.predict import train_connectivity_model
    from tests.test_predict_support import synthetic_schools

    model = train_connectivity_model(synthetic_schools(n, seed=1), params=_params(estimator))
    cv = model.card["cross_validation"]
    return f"spatial CV accuracy {100 * cv['accuracy']:.1f} %"


def _model_path(estimator: str) -> Path:
    from connectmap.predict import save_model, train_connectivity_model
    from tests.test_predict_support import synthetic_schools

    path = Path(WORK) / f"predict_{estimator}.skops"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(train_connectivity_model(synthetic_schools(2000, seed=1), params=_params(estimator)), path)
    return path


def save_and_load(path: str) -> str:
    from connectmap.predict import load_model, save_model

    model = load_model(path)
    copy = Path(WORK) / "predict_copy.skops"
    save_model(model, copy)
    load_model(copy)
    return f"file {copy.stat().st_size / 1e6:.1f} MB"


def _predict_setup(path: str, n: int):
    import pandas as pd

    from connectmap.predict import load_model
    from tests.test_predict_support import synthetic_schools

    model = load_model(path)
    table = synthetic_schools(n, seed=3)
    table.loc[table.index % 3 == 0, "connectivity"] = pd.NA
    return model, table


def predict(model, table) -> str:
    from connectmap.predict import add_connectivity_predictions

    out = add_connectivity_predictions(table, model)
    return f"{int((out['connectivity_source'] == 'predicted').sum()):,} filled"


predict.setup = _predict_setup


def baseline() -> str:
    import connectmap.predict  # noqa: F401

    return "imports only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--train-sizes", type=int, nargs="*", default=[5_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-train", action="store_true", help="Measure only save/load and filling unknowns.")
    args = parser.parse_args()
    estimators = ("random_forest", "hist_gradient_boosting")
    rows = [measure("baseline", "-", "python + imports", baseline, repeats=1)]
    for estimator in () if args.no_train else estimators:
        if TRAINING.exists():
            rows.append(measure("train", "634 (Botswana)", estimator, train_botswana, estimator, repeats=args.repeats))
        else:
            print(f"skipping Botswana: {TRAINING} not found", file=sys.stderr)
        for size in args.train_sizes:
            rows.append(measure("train", f"{size:,} synthetic", estimator, train_synthetic, size, estimator,
                                repeats=args.repeats))
    for estimator in estimators:
        path = str(_model_path(estimator))
        rows.append(measure("save + load", "model of 2,000", estimator, save_and_load, path, repeats=args.repeats))
        for size in args.sizes:
            row = measure("fill unknowns", f"{size:,} synthetic", estimator, predict, path, size,
                          repeats=args.repeats)
            row.note += f"; {size / row.median_s:,.0f} schools/s"
            rows.append(row)
    print_table(rows, title="connectivity model (n_jobs = 1)")


if __name__ == "__main__":
    main()
