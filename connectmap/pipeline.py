"""One run from raw files to maps and workbooks: read → validate → enrich → predict → cost → zero-rate → plan → report.

:func:`run` is what ``connectmap run`` and ``connectmap demo`` call, and what a notebook calls too. Each step is a
library function that takes the school table and returns it with new columns; this module only chains them, times
them, counts rows, and hands everything to the writers in :mod:`connectmap.report`. All outputs are staged and moved
into the output folder only when every one was written (:func:`connectmap.report.files.output_folder`), so a run
that fails or is killed leaves the previous run's outputs as they were.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from connectmap import __version__, progress
from connectmap.config import Config
from connectmap.errors import ConfigError
from connectmap.io import read_schools
from connectmap.io.inputs import Layers, input_files, load_layers, resolve
from connectmap.parameters.engine import EngineParams
from connectmap.parameters.enrich import EnrichParams
from connectmap.parameters.maps import MapParams
from connectmap.report.files import check_not_input, output_folder, protect_inputs, write_text
from connectmap.report.manifest import describe_input, file_sha256, library_versions
from connectmap.report.summary import summary_markdown
from connectmap.report.tables import write_json
from connectmap.validate import ValidationResult, validate_schools

log = logging.getLogger(__name__)

#: Files every run writes (a map PNG, operator workbooks and rollout tables come on top).
CORE_OUTPUTS = ("schools.gpkg", "schools.csv", "rejected.csv", "quality.json", "map.html", "investment_case.xlsx",
                "summary.md", "manifest.json")


@dataclass
class RunResult:
    """What a run produced.

    Attributes
    ----------
    out
        The output folder.
    outputs
        File names written into it.
    schools
        The final school table (every column).
    validation
        The validation result (clean table as validated, rejected rows, quality summary).
    manifest
        The manifest written as ``manifest.json``.
    summary
        Headline figures (also in ``summary.md``).
    """

    out: Path
    outputs: list[str]
    schools: gpd.GeoDataFrame
    validation: ValidationResult
    manifest: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)


class _Steps:
    """Times each step and records the rows it produced."""

    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}
        self.counts: dict[str, dict[str, int]] = {}

    @contextlib.contextmanager
    def step(self, name: str, description: str) -> Iterator[None]:
        log.info("%s ...", description)
        start = time.perf_counter()
        with progress.step(description):
            yield
        self.timings_s[name] = round(time.perf_counter() - start, 3)


def output_dir(config: Config, out: str | Path | None, config_dir: Path | None) -> Path:
    """The output folder: ``out``, else ``[inputs] out`` (relative to the config file), else ``reports/<name>``."""
    if out is not None:
        return Path(out)
    if config.inputs.out:
        return resolve(config.inputs.out, config_dir)  # type: ignore[return-value]
    return Path("reports") / config.inputs.name


def run(
    config: Config,
    *,
    config_dir: Path | None = None,
    out: str | Path | None = None,
    png: bool = True,
    engine: EngineParams | None = None,
) -> RunResult:
    """Run the whole pipeline on the files named by ``config.inputs``.

    Parameters
    ----------
    config
        Parameters, and in ``config.inputs`` the files to read (at least the school register).
    config_dir
        Folder of the config file: relative paths in ``config.inputs`` are relative to it.
    out
        Output folder (default: ``config.inputs.out`` or ``reports/<config.inputs.name>``).
    png
        Also write a static ``map.png``.
    engine
        Where enrichment and the per-school costing run (:mod:`connectmap.engine`; local by default). The Dask
        engine gives the same table.

    Returns
    -------
    RunResult
    """
    started = datetime.now(UTC)
    steps = _Steps()
    inputs = config.inputs
    files = input_files(inputs, config_dir)
    if "schools" not in files:
        raise ConfigError("no school register given: pass --schools FILE or set [inputs.schools] path in the config")
    protect_inputs(path for paths in files.values() for path in paths)
    folder = output_dir(config, out, config_dir)
    for name in CORE_OUTPUTS:
        check_not_input(folder / name)

    with steps.step("read", "reading the school register and layers"):
        spec = inputs.schools
        register = read_schools(
            files["schools"][0], columns=spec.columns, layer=spec.layer, sheet=spec.sheet, encoding=spec.encoding,
            delimiter=spec.delimiter, crs=spec.crs,
        )
        layers = load_layers(inputs, config_dir)
    steps.counts["read"] = {"rows": len(register), "layer_rows_rejected": len(layers.rejected)}

    with steps.step("validate", "validating schools"):
        validation = validate_schools(register, boundary=layers.boundaries, params=config.validation)
    steps.counts["validate"] = {"clean": len(validation.clean), "rejected": len(validation.rejected)}

    with steps.step("enrich", "enriching: coverage, towers, fibre, population, regions"):
        schools = _enrich(validation.clean, layers, config, engine)
    steps.counts["enrich"] = {"schools": len(schools)}

    model_info = None
    if "model" in files:
        with steps.step("predict", "predicting unknown connectivity"):
            schools, model_info = _predict(schools, files["model"][0])
        predicted = int((schools.get("connectivity_source") == "predicted").sum())
        steps.counts["predict"] = {"schools": len(schools), "predicted": predicted}

    with steps.step("cost", "costing every technology for every school"):
        schools, rollout, sensitivity, scenarios, by_region = _cost(schools, layers, config, engine)
    status = schools["cost_status"].value_counts()
    steps.counts["cost"] = {str(k): int(v) for k, v in sorted(status.items())}
    steps.counts["plan"] = {"schools": len(rollout.schools), "years": len(rollout.years)}

    with steps.step("zero_rate", "pricing zero-rating and the operator investment case"):
        schools, case = _zero_rate(schools, config)
    steps.counts["zero_rate"] = {"schools": len(schools), "operators": len(case.operators)}

    schools = gpd.GeoDataFrame(schools, geometry="geometry", crs=4326)
    summary = headline_figures(validation, schools, rollout, case, layers)
    with output_folder(folder) as stage:
        with steps.step("report", "writing maps, workbooks and tables"):
            written = _report(stage, schools, validation, layers, rollout, sensitivity, scenarios, by_region, case,
                              config, png=png)
            write_text(stage / "summary.md", summary_markdown(summary, config, layers.missing_notes(), written))
            written.append("summary.md")
        manifest = _manifest(config, files, steps, layers, model_info, written, started)
        write_json(manifest, stage / "manifest.json")
        written.append("manifest.json")
    log.info("wrote %d files to %s", len(written), folder)
    return RunResult(folder, written, schools, validation, manifest, summary)


# --- steps ---------------------------------------------------------------------------------------------------------
def _enrich(schools: gpd.GeoDataFrame, layers: Layers, config: Config, engine: EngineParams | None) -> pd.DataFrame:
    from connectmap.engine import Engine

    with Engine(engine) as runner:
        return runner.enrich(
            schools, towers=layers.towers, coverage_rasters=layers.coverage_rasters,
            coverage_polygons=layers.coverage_polygons, fibre=layers.fibre, population=layers.population,
            boundaries=layers.boundaries, params=config.enrich,
        )


def _predict(schools: pd.DataFrame, model_path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    from connectmap.predict import add_connectivity_predictions, load_model

    model = load_model(model_path)
    info = {
        "path": str(model_path), "sha256": file_sha256(model_path), "features": list(model.feature_names),
        "cross_validation": {k: model.card.get("cross_validation", {}).get(k) for k in ("accuracy", "f1", "roc_auc")},
    }
    return add_connectivity_predictions(schools, model), info


def _cost(
    schools: pd.DataFrame, layers: Layers, config: Config, engine: EngineParams | None
) -> tuple[pd.DataFrame, Any, Any, Any, Any]:
    from connectmap import cost as costing
    from connectmap.engine import Engine

    params = config.cost
    with Engine(engine) as runner:  # microwave options (when towers or fibre are given) and costs
        schools = runner.add_microwave_options_and_costs(schools, layers.towers, layers.fibre, dem=layers.dem,
                                                         params=params)
    schools = costing.add_shared_fibre(schools, params)
    rollout = costing.plan_rollout(schools, params)
    schools = costing.add_rollout_year(schools, rollout)
    sensitivity = costing.sensitivity(schools, params)
    scenarios = costing.scenario_totals(schools, params)
    by_region = costing.summarise(schools)
    return schools, rollout, sensitivity, scenarios, by_region


def _zero_rate(schools: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, Any]:
    from connectmap.operators import add_new_sites, investment_case
    from connectmap.zerorating import add_zero_rating

    if "covering_operators" not in schools.columns:
        # No tower or coverage data names an operator: coverage by operator is unknown, so nothing is priced.
        schools = schools.assign(covering_operators=pd.Series(pd.NA, index=schools.index, dtype="string"))
    schools = add_new_sites(schools, config.zerorating)
    schools = add_zero_rating(schools, config.zerorating)
    return schools, investment_case(schools, config.zerorating)


def _report(
    stage: Path,
    schools: gpd.GeoDataFrame,
    validation: ValidationResult,
    layers: Layers,
    rollout: Any,
    sensitivity: pd.DataFrame,
    scenarios: pd.DataFrame,
    by_region: pd.DataFrame,
    case: Any,
    config: Config,
    *,
    png: bool,
) -> list[str]:
    from connectmap.report.excel import write_casebook
    from connectmap.report.maps import write_map
    from connectmap.report.tables import write_csv, write_geopackage

    write_geopackage(schools, stage / "schools.gpkg")
    write_csv(schools, stage / "schools.csv")
    write_csv(validation.rejected, stage / "rejected.csv")
    write_json(validation.summary, stage / "quality.json")
    extra = []
    if len(layers.rejected):
        write_csv(layers.rejected, stage / "layers_rejected.csv")
        extra.append("layers_rejected.csv")
    write_csv(rollout.schools, stage / "rollout.csv")
    write_csv(rollout.years, stage / "rollout_years.csv")
    write_csv(sensitivity, stage / "sensitivity.csv")
    write_csv(scenarios, stage / "scenarios.csv")
    write_csv(by_region, stage / "cost_by_admin1.csv")
    written = ["schools.gpkg", "schools.csv", "rejected.csv", "quality.json", *extra, "rollout.csv",
               "rollout_years.csv", "sensitivity.csv", "scenarios.csv", "cost_by_admin1.csv"]

    title = f"Schools of {config.inputs.country}" if config.inputs.country else f"Schools: {config.inputs.name}"
    map_layers = map_keywords(layers, config.maps, config.enrich)
    write_map(stage / "map.html", schools, title=title, params=config.maps, **map_layers)
    written.append("map.html")
    if png:
        from connectmap.report.static_map import write_static_map

        write_static_map(stage / "map.png", schools, title=title, params=config.maps, **map_layers)
        written.append("map.png")
    books = write_casebook(case, stage, rejected=validation.rejected, config=config, per_operator=True)
    written.extend(Path(book).name for book in books)
    return written


def map_keywords(layers: Layers, maps: MapParams, enrich: EnrichParams) -> dict[str, Any]:
    """The layers as keywords of :func:`connectmap.report.maps.write_map` and ``write_static_map``.

    Coverage rasters become overlays coloured with the same dBm thresholds enrichment uses.
    """
    from connectmap.report.maps import coverage_overlays

    thresholds = {k.removesuffix("_dbm"): v for k, v in enrich.thresholds.model_dump().items()}
    return {
        "towers": layers.towers, "fibre": layers.fibre, "boundaries": layers.boundaries,
        "coverage_polygons": layers.coverage_polygons,
        "rasters": coverage_overlays(layers.coverage_rasters, maps, thresholds),
    }


# --- summary and manifest -------------------------------------------------------------------------------------------
def headline_figures(
    validation: ValidationResult, schools: pd.DataFrame, rollout: Any, case: Any, layers: Layers
) -> dict[str, Any]:
    """The figures a person reads first, computed from the final table (so they reconcile with the CSV)."""
    from connectmap.operators import ALL_OPERATORS

    def total(column: str) -> float:
        return float(pd.to_numeric(schools[column], errors="coerce").sum()) if column in schools else float("nan")

    connectivity = schools["connectivity"] if "connectivity" in schools else pd.Series(pd.NA, index=schools.index)
    source = schools.get("connectivity_source", pd.Series("reported", index=schools.index))
    coverage = schools.get("cellular_coverage_type", pd.Series("unknown", index=schools.index))
    status = schools["cost_status"].value_counts()
    operators = case.by_operator.drop(index=ALL_OPERATORS, errors="ignore")
    everyone = case.by_operator.loc[ALL_OPERATORS] if ALL_OPERATORS in case.by_operator.index else None
    return {
        "rows_in": validation.summary["rows_in"],
        "schools": len(schools),
        "rejected": len(validation.rejected),
        "flagged": int((validation.clean["quality_flags"].fillna("") != "").sum()),
        "students": total("num_students"),
        "connected_reported": int(((connectivity == True) & (source != "predicted")).sum()),  # noqa: E712
        "unconnected_reported": int(((connectivity == False) & (source != "predicted")).sum()),  # noqa: E712
        "connected_predicted": int(((connectivity == True) & (source == "predicted")).sum()),  # noqa: E712
        "connectivity_unknown": int(connectivity.isna().sum()),
        "coverage": {str(k): int(v) for k, v in coverage.fillna("unknown").value_counts().items()},
        "connectable": int(status.get("connectable", 0)),
        "not_connectable": int(status.get("not_connectable", 0)),
        "already_connected": int(status.get("already_connected", 0)),
        "technology": {str(k): int(v) for k, v in schools["technology"].dropna().value_counts().items()},
        "capex_usd": total("capex_usd"),
        "opex_usd_per_year": total("opex_usd_per_year"),
        "npv_usd": total("npv_usd"),
        "npv_usd_shared": total("npv_usd_shared"),
        "rollout_schools": len(rollout.schools),
        "rollout_students": float(rollout.schools["num_students"].fillna(0).sum()) if len(rollout.schools) else 0.0,
        "rollout_years": len(rollout.years),
        "zero_rating_gb_per_year": total("zero_rating_gb_per_year"),
        "zero_rating_usd_per_year": total("zero_rating_usd_per_year"),
        "operators": {
            str(name): {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
            for name, row in operators.iterrows()
        },
        "all_operators": None if everyone is None else {k: float(v) for k, v in everyone.items()
                                                         if isinstance(v, int | float)},
        "missing_layers": layers.missing_notes(),
    }


def _manifest(
    config: Config,
    files: dict[str, list[Path]],
    steps: _Steps,
    layers: Layers,
    model_info: dict[str, Any] | None,
    outputs: list[str],
    started: datetime,
) -> dict[str, Any]:
    return {
        "connectmap": __version__,
        "run": config.inputs.name,
        "inputs": {kind: [describe_input(p) for p in paths] for kind, paths in sorted(files.items())},
        "parameters": config.model_dump(mode="json"),
        "libraries": library_versions(),
        "model": model_info,
        "rows": steps.counts,
        "missing_layers": layers.missing_notes(),
        "outputs": sorted([*outputs, "manifest.json"]),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings_s": steps.timings_s,
    }
