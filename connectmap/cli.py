"""The ``connectmap`` command line: thin commands over the library functions.

A :class:`~connectmap.errors.ConnectmapError` (a user mistake) prints one line naming the file, the column or row
and what to do, and exits with status 2 and no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from connectmap import __version__
from connectmap.errors import ConnectmapError
from connectmap.parameters.inputs import parse_coverage_spec

if TYPE_CHECKING:  # geopandas is imported lazily so that --help stays fast
    import geopandas as gpd

    from connectmap.config import Config
    from connectmap.engine import Engine
    from connectmap.parameters.engine import EngineParams

app = typer.Typer(
    name="connectmap",
    help="Map which schools are connected, cost connecting each one and zero-rating learning content, "
    "and build offline maps and live Excel investment cases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Write and check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

log = logging.getLogger("connectmap")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"connectmap {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step in detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors; no progress bars.")] = False,
) -> None:
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    # Other libraries (GDAL via pyogrio, fontTools...) stay at WARNING; connectmap's own steps log at `level`.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr, force=True)
    logging.getLogger("connectmap").setLevel(level)
    from connectmap import progress

    progress.configure(enabled=not quiet)


def parse_mapping(items: list[str] | None, option: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` options (values may contain ``=``) into a dict."""
    mapping: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConnectmapError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} school_name='Nom école'")
        mapping[key.strip()] = value.strip()
    return mapping


# --- config -------------------------------------------------------------------------------------------------------
@config_app.command("init")
def config_init(
    file: Annotated[Path, typer.Argument(help="Config file to write (TOML).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the documented default configuration to FILE."""
    from connectmap.config import default_config_text
    from connectmap.report.files import write_text

    if file.exists() and not force:
        raise ConnectmapError(f"{file}: already exists; pass --force to overwrite it")
    write_text(file, default_config_text())
    typer.echo(f"wrote {file}")


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="Config file to check.")]) -> None:
    """Check FILE: every unknown key and wrong value is reported with its key path."""
    from connectmap.config import load_config

    load_config(file)
    typer.echo(f"{file}: valid")


# --- reading the school register (options shared by the commands that read one) -----------------------------------
ColumnsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--columns", "-c", metavar="CANONICAL=COLUMN",
        help="Map a file column to a canonical name, e.g. -c school_name='Name of the school' (repeatable).",
    ),
]
LayerOption = Annotated[str | None, typer.Option("--layer", help="Layer of a multi-layer file (GeoPackage).")]
SheetOption = Annotated[str | None, typer.Option("--sheet", help="Sheet of an Excel workbook.")]
EncodingOption = Annotated[str | None, typer.Option("--encoding", help="Text encoding (detected when not given).")]
DelimiterOption = Annotated[str | None, typer.Option("--delimiter", help="Field separator (detected when not given).")]
CrsOption = Annotated[
    str | None, typer.Option("--crs", help="CRS of the coordinate columns, e.g. EPSG:32637 (default WGS84 degrees).")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="Config file (TOML); see `config init`.")]


def read_school_register(
    schools: Path,
    columns: list[str] | None,
    layer: str | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    crs: str | None,
    config_path: Path | None = None,
) -> tuple[gpd.GeoDataFrame, Config]:
    """Read a register with CLI options taking precedence over the config file's [inputs.schools] section."""
    from connectmap.config import load_config
    from connectmap.io import read_schools

    config = load_config(config_path)
    spec = config.inputs.schools
    mapping = {**spec.columns, **parse_mapping(columns, "--columns")}
    return read_schools(
        schools, columns=mapping, layer=layer or spec.layer, sheet=sheet or spec.sheet,
        encoding=encoding or spec.encoding, delimiter=delimiter or spec.delimiter, crs=crs or spec.crs,
    ), config


def settings_with_layers(
    config_path: Path | None,
    *,
    schools: Path | None = None,
    columns: list[str] | None = None,
    operator_name: list[str] | None = None,
    **options: object,
) -> Config:
    """The config file's settings with the command's layer options on top, every input path made absolute.

    Paths in the config file are relative to it; paths given on the command line are relative to the working
    folder. ``options`` are fields of ``[inputs]`` (``towers``, ``coverage``, ``fibre``, ``population``,
    ``boundaries``, ``dem``, ``model``, ``boundary_admin1_field``, ...); empty ones leave the config's value.
    """
    from connectmap.config import load_config
    from connectmap.io.inputs import absolute_inputs

    settings = load_config(config_path)
    inputs = absolute_inputs(settings.inputs, config_path.parent if config_path else None)
    given = inputs.model_dump(mode="json")
    for key, value in options.items():
        if isinstance(value, list) and value:
            given[key] = [str(v) for v in value]
        elif value is not None and not isinstance(value, list):
            given[key] = str(value)
    if schools is not None:
        given["schools"]["path"] = str(schools)
    given["schools"]["columns"] |= parse_mapping(columns, "--columns")
    given["operator_names"] |= parse_mapping(operator_name, "--operator-name")
    inputs = absolute_inputs(type(inputs).model_validate(given), Path.cwd())
    return settings.model_copy(update={"inputs": inputs})


def print_quality_summary(summary: dict) -> None:
    """A short human summary of validation on stdout."""
    typer.echo(
        f"{summary['rows_in']} rows read: {summary['rows_clean']} schools kept, {summary['rows_rejected']} rejected"
    )
    for reason, count in summary["rejected_by_reason"].items():
        typer.echo(f"  rejected  {count:>7}  {reason}")
    for flag, count in summary["flags"].items():
        typer.echo(f"  flagged   {count:>7}  {flag}")


# --- validate -------------------------------------------------------------------------------------------------------
@app.command("validate")
def validate_command(
    schools: Annotated[Path, typer.Argument(help="School register (CSV/TSV/TXT, XLSX, GeoJSON, GPKG, SHP, Parquet).")],
    boundary: Annotated[
        Path | None, typer.Option("--boundary", help="Country outline; fixes swapped coordinates, flags outliers.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("reports/validate"),
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
) -> None:
    """Read and check a school register; write schools.gpkg, schools.csv, rejected.csv and quality.json."""
    from connectmap.io.boundaries import read_outline
    from connectmap.report.files import protect_inputs
    from connectmap.report.tables import write_csv, write_geopackage, write_json
    from connectmap.validate import validate_schools

    protect_inputs([p for p in (schools, boundary, config) if p is not None])
    table, settings = read_school_register(schools, columns, layer, sheet, encoding, delimiter, crs, config)
    outline = read_outline(boundary) if boundary is not None else None
    result = validate_schools(table, boundary=outline, params=settings.validation)
    write_geopackage(result.clean, out / "schools.gpkg")
    write_csv(result.clean, out / "schools.csv")
    write_csv(result.rejected, out / "rejected.csv")
    write_json(result.summary, out / "quality.json")
    print_quality_summary(result.summary)
    typer.echo(f"wrote {out}/schools.gpkg, schools.csv, rejected.csv, quality.json")


# --- map ------------------------------------------------------------------------------------------------------------

@app.command("map")
def map_command(
    schools: Annotated[Path, typer.Argument(help="School table: a register (CSV, XLSX, ...) or a GeoPackage output.")],
    out: Annotated[Path, typer.Option("--out", help="HTML map to write (one self-contained file).")],
    png: Annotated[Path | None, typer.Option("--png", help="Also write a static PNG of the map.")] = None,
    towers: Annotated[
        list[Path] | None, typer.Option("--towers", help="Tower list or OpenCelliD export (repeatable).")
    ] = None,
    fibre: Annotated[list[Path] | None, typer.Option("--fibre", help="Fibre nodes and/or lines (repeatable).")] = None,
    coverage: Annotated[
        list[str] | None,
        typer.Option("--coverage", metavar="TECH[:OPERATOR]=PATH",
                     help="Coverage raster (.tif) or polygons, e.g. --coverage LTE:Orange=lte.gpkg (repeatable)."),
    ] = None,
    boundaries: Annotated[
        Path | None, typer.Option("--boundaries", help="Country outline or admin regions (makes the choropleth).")
    ] = None,
    admin1_field: Annotated[str | None, typer.Option("--admin1-field", help="Region field of --boundaries.")] = None,
    admin2_field: Annotated[str | None, typer.Option("--admin2-field", help="District field of --boundaries.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Map title.")] = None,
    colour_by: Annotated[
        str | None, typer.Option("--colour-by", help="connectivity, technology, cost_per_student_usd or npv_usd.")
    ] = None,
    basemap: Annotated[
        str | None, typer.Option("--basemap", help="Base layer when the map opens: none (offline outlines) or tiles.")
    ] = None,
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
) -> None:
    """Build an offline interactive HTML map (and optionally a PNG) of schools, towers, fibre and coverage."""
    from connectmap.config import config_from_dict
    from connectmap.io.inputs import input_files, load_layers
    from connectmap.pipeline import map_keywords
    from connectmap.report.files import check_not_input, protect_inputs
    from connectmap.report.maps import write_map
    from connectmap.validate import validate_schools

    # Layers not given on the command line come from the config file's [inputs] (paths relative to that file).
    settings = settings_with_layers(
        config, towers=towers, fibre=fibre, coverage=coverage, boundaries=boundaries,
        boundary_admin1_field=admin1_field, boundary_admin2_field=admin2_field,
    )
    files = input_files(settings.inputs)
    protect_inputs([schools, *(p for kind in ("towers", "fibre", "coverage", "boundaries")
                               for p in files.get(kind, [])), *([config] if config else [])])
    for output in (out, png):
        if output is not None:
            check_not_input(output)
    table, _ = read_school_register(schools, columns, layer, sheet, encoding, delimiter, crs, config)
    overrides = {"title": title, "colour_schools_by": colour_by, "basemap": basemap}
    maps_data = {**settings.maps.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    params = config_from_dict({"maps": maps_data}, origin="command line").maps
    read = load_layers(settings.inputs.model_copy(update={"population": None, "dem": None, "model": None}))
    layers = map_keywords(read, params, settings.enrich)
    result = validate_schools(table, boundary=read.boundaries, params=settings.validation)
    if len(result.rejected):
        typer.echo(f"{len(result.rejected)} of {len(table)} rows cannot be placed on the map (run `connectmap "
                   "validate` for the reasons)")
    default_title = f"Schools of {settings.inputs.country}" if settings.inputs.country else f"Schools: {schools.name}"
    write_map(out, result.clean, title=default_title, params=params, **layers)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(result.clean):,} schools)")
    if png is not None:
        from connectmap.report.static_map import write_static_map

        write_static_map(png, result.clean, title=default_title, params=params, **layers)
        typer.echo(f"wrote {png}")


# --- cost -----------------------------------------------------------------------------------------------------------
@app.command("cost")
def cost_command(
    schools: Annotated[Path, typer.Argument(help="Enriched school table (GeoPackage or CSV written by connectmap).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    towers: Annotated[
        list[Path] | None, typer.Option("--towers", help="Tower list for microwave links (repeatable).")
    ] = None,
    fibre: Annotated[
        list[Path] | None, typer.Option("--fibre", help="Fibre nodes/lines backhauling towers (repeatable).")
    ] = None,
    dem: Annotated[Path | None, typer.Option("--dem", help="Elevation GeoTIFF for microwave line of sight.")] = None,
    budget_usd: Annotated[
        float | None, typer.Option("--budget-usd", help="Total rollout budget, spread over the plan years.")
    ] = None,
    budget_usd_per_year: Annotated[
        float | None, typer.Option("--budget-usd-per-year", help="Rollout budget for each plan year.")
    ] = None,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Parameter set: low, base or high (low/high cost values).")
    ] = "base",
    layer: LayerOption = None,
    config: ConfigOption = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Cost connecting every school: least-cost technology, NPV, shared fibre, budget rollout and sensitivity.

    Writes costed_schools.gpkg/.csv, rollout.csv, rollout_years.csv, sensitivity.csv, scenarios.csv and
    cost_by_admin1.csv to --out.
    """
    import pandas as pd

    from connectmap import cost as costing
    from connectmap import io, progress
    from connectmap.config import load_config
    from connectmap.io.tables import read_table
    from connectmap.report.files import check_not_input, protect_inputs
    from connectmap.report.tables import write_csv, write_geopackage

    if budget_usd is not None and budget_usd_per_year is not None:
        raise ConnectmapError("give --budget-usd or --budget-usd-per-year, not both")
    if scenario not in ("low", "base", "high"):
        raise ConnectmapError(f"--scenario {scenario!r}: use low, base or high")
    settings = load_config(config)
    towers = towers or [Path(p) for p in settings.inputs.towers]
    fibre = fibre or [Path(p) for p in settings.inputs.fibre]
    dem = dem or (Path(settings.inputs.dem) if settings.inputs.dem else None)
    protect_inputs([p for p in (schools, config, dem, *towers, *fibre) if p is not None])
    names = ("costed_schools.gpkg", "costed_schools.csv", "rollout.csv", "rollout_years.csv", "sensitivity.csv",
             "scenarios.csv", "cost_by_admin1.csv")
    for name in names:
        check_not_input(out / name)
    params = costing.cost_scenario(settings.cost, scenario)
    if budget_usd is not None or budget_usd_per_year is not None:
        params.plan.budget_usd = budget_usd
        params.plan.budget_usd_per_year = budget_usd_per_year
    runner = engine_runner(engine, scheduler)
    table = read_table(schools, layer=layer)
    tower_table = network = None
    if towers or fibre:
        tower_table = (
            pd.concat([io.read_towers(p, operator_names=settings.inputs.operator_names) for p in towers],
                      ignore_index=True) if towers else None
        )
        network = io.read_fibre(fibre) if fibre else None
    with progress.step("costing every technology for every school"), runner:
        costed = runner.add_microwave_options_and_costs(table, tower_table, network, dem=dem, params=params)
        costed = costing.add_shared_fibre(costed, params)
        rollout = costing.plan_rollout(costed, params)
        costed = costing.add_rollout_year(costed, rollout)
    with progress.step("sensitivity and scenarios"):
        tornado = costing.sensitivity(costed, params)
        scenarios = costing.scenario_totals(costed, settings.cost)
    write_geopackage(costed, out / names[0])
    write_csv(costed, out / names[1])
    write_csv(rollout.schools, out / names[2])
    write_csv(rollout.years, out / names[3])
    write_csv(tornado, out / names[4])
    write_csv(scenarios, out / names[5])
    write_csv(costing.summarise(costed), out / names[6])
    status = costed["cost_status"].value_counts()
    chosen = costed["technology"].value_counts()
    typer.echo(
        f"costed {len(costed):,} schools: {status.get('connectable', 0):,} connectable ("
        + ", ".join(f"{tech} {chosen.get(tech, 0):,}" for tech in ("fibre", "cellular", "microwave", "satellite"))
        + f"), {status.get('not_connectable', 0):,} not connectable, {status.get('already_connected', 0):,} "
        f"already connected; total NPV {costed['npv_usd'].sum():,.0f} USD ({params.finance.horizon_years} years at "
        f"{params.finance.discount_rate_pct:g} %), shared fibre {costed['npv_usd_shared'].sum():,.0f} USD; "
        f"rollout: {len(rollout.schools):,} schools in {int(rollout.years['year'].max())} year(s)"
    )
    typer.echo(f"wrote {', '.join(str(out / name) for name in names)}")


# --- model (predicting unknown connectivity) -----------------------------------------------------------------------
model_app = typer.Typer(
    help="Train, evaluate and apply the model that predicts connectivity where the register does not say.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")

if TYPE_CHECKING:
    from connectmap.validate import ValidationResult

TrustOption = Annotated[
    str | None,
    typer.Option(
        "--trust-sha256", metavar="HASH",
        help="Load a pickle/joblib model only if its SHA-256 is HASH, as published by its author "
        "(pickles can run code; .skops files never need this).",
    ),
]


def read_model_table(
    path: Path, columns: list[str] | None, layer: str | None, sheet: str | None, encoding: str | None,
    delimiter: str | None, crs: str | None, config_path: Path | None,
) -> tuple[gpd.GeoDataFrame, ValidationResult, Config]:
    """Read and validate a school table for the model commands; returns (clean table, validation result, config)."""
    from connectmap.validate import validate_schools

    table, settings = read_school_register(path, columns, layer, sheet, encoding, delimiter, crs, config_path)
    result = validate_schools(table, params=settings.validation)
    if len(result.rejected):
        log.warning("%s: %d row(s) rejected by validation (not used): %s", path, len(result.rejected),
                    ", ".join(f"{n} {reason}" for reason, n in result.summary["rejected_by_reason"].items()))
    return result.clean, result, settings


def _file_record(path: Path) -> dict[str, str]:
    from connectmap.report.manifest import file_sha256

    return {"path": str(path), "sha256": file_sha256(path)}


@model_app.command("train")
def model_train(
    table: Annotated[Path, typer.Argument(help="Labelled school table (connectivity yes/no or 1/0), enriched.")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (*.skops); cards go beside it.")],
    val: Annotated[
        Path | None, typer.Option("--val", help="Separate labelled table to report validation scores on.")
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", metavar="A,B*,!C",
                     help="Extra numeric feature columns: names or patterns, comma-separated; !PATTERN leaves out."),
    ] = None,
    no_default_features: Annotated[
        bool, typer.Option("--no-default-features", help="Use only the --features columns.")
    ] = False,
    estimator: Annotated[
        str | None, typer.Option("--estimator", help="random_forest (default) or hist_gradient_boosting.")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Spatial validation groups: grid (default), admin1 or admin2.")
    ] = None,
    cell_km: Annotated[
        float | None, typer.Option("--cell-km", help="Grid cell side for validation groups, km.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
) -> None:
    """Train a calibrated connectivity model, measured by spatial cross-validation; write it with its model card."""
    from connectmap.config import config_from_dict
    from connectmap.predict import save_model, train_connectivity_model
    from connectmap.predict.card import scores_text
    from connectmap.report.files import check_not_input, protect_inputs

    protect_inputs([p for p in (table, val, config) if p is not None])
    check_not_input(out)
    train, _, settings = read_model_table(table, columns, layer, sheet, encoding, delimiter, crs, config)
    validation = read_model_table(val, columns, layer, sheet, encoding, delimiter, crs, config)[0] if val else None
    overrides = {"estimator": estimator, "group_by": group_by, "cv_cell_km": cell_km, "random_seed": seed}
    data = {**settings.predict.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    params = config_from_dict({"predict": data}, origin="command line").predict
    sources = {"training": _file_record(table), **({"validation": _file_record(val)} if val else {})}
    model = train_connectivity_model(
        train, features=features, use_default_features=not no_default_features, params=params,
        validation=validation, sources=sources,
    )
    written = save_model(model, out)
    typer.echo(f"features ({len(model.features)}): " + ", ".join(model.feature_names))
    cv = model.card["cross_validation"]
    typer.echo(f"spatial cross-validation on {table.name}: {cv['scheme']}")
    for line in scores_text(cv):
        typer.echo(line)
    if model.card.get("validation"):
        typer.echo(f"validation on {val.name if val else ''}:")
        for line in scores_text(model.card["validation"]):
            typer.echo(line)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


@model_app.command("evaluate")
def model_evaluate(
    model: Annotated[Path, typer.Argument(help="Model file (*.skops).")],
    table: Annotated[Path, typer.Argument(help="Labelled school table the model was not trained on.")],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the scores as JSON to this file.")] = None,
    trust_sha256: TrustOption = None,
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
) -> None:
    """Score MODEL on TABLE: accuracy, F1, ROC AUC, Brier score, calibration and errors per region."""
    from connectmap.predict import evaluate_model, load_model
    from connectmap.predict.card import scores_text
    from connectmap.report.files import check_not_input, protect_inputs
    from connectmap.report.tables import write_json

    protect_inputs([p for p in (model, table, config) if p is not None])
    if out is not None:
        check_not_input(out)
    fitted = load_model(model, trusted_sha256=trust_sha256)
    schools, _, _ = read_model_table(table, columns, layer, sheet, encoding, delimiter, crs, config)
    scores = evaluate_model(fitted, schools)
    typer.echo(f"{model.name} on {table.name}" + (
        f" ({scores['unlabelled']} schools with unknown connectivity skipped)" if scores["unlabelled"] else ""))
    for line in scores_text(scores):
        typer.echo(line)
    if out is not None:
        record = {"model": _file_record(model), "table": _file_record(table), **scores}
        write_json(record, out)
        typer.echo(f"wrote {out}")


@model_app.command("predict")
def model_predict(
    model: Annotated[Path, typer.Argument(help="Model file (*.skops).")],
    table: Annotated[Path, typer.Argument(help="School table, enriched like the training table.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Probability from which an unknown school is predicted connected."),
    ] = None,
    trust_sha256: TrustOption = None,
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
) -> None:
    """Fill unknown connectivity: write schools.gpkg, schools.csv (with connectivity_probability and
    connectivity_source), rejected.csv and predictions.json."""
    from connectmap.predict import add_connectivity_predictions, load_model
    from connectmap.predict.apply import PREDICTED, REPORTED, UNKNOWN
    from connectmap.report.files import protect_inputs
    from connectmap.report.tables import write_csv, write_geopackage, write_json

    protect_inputs([p for p in (model, table, config) if p is not None])
    if threshold is not None and not 0 < threshold < 1:
        raise ConnectmapError(f"--threshold {threshold}: give a probability between 0 and 1, e.g. 0.5")
    fitted = load_model(model, trusted_sha256=trust_sha256)
    schools, validation, _ = read_model_table(table, columns, layer, sheet, encoding, delimiter, crs, config)
    result = add_connectivity_predictions(schools, fitted, threshold_probability=threshold)
    source = result["connectivity_source"]
    predicted = source == PREDICTED
    summary = {
        "model": _file_record(model),
        "table": _file_record(table),
        "threshold_probability": fitted.threshold_probability if threshold is None else threshold,
        "rows_in": validation.summary["rows_in"],
        "rows_rejected": len(validation.rejected),
        "schools": len(result),
        "reported": int((source == REPORTED).sum()),
        "predicted": int(predicted.sum()),
        "predicted_connected": int(result.loc[predicted, "connectivity"].sum()),
        "unknown": int((source == UNKNOWN).sum()),
        "model_cross_validation": {
            k: fitted.card.get("cross_validation", {}).get(k) for k in ("accuracy", "f1", "roc_auc", "brier")
        },
    }
    write_geopackage(result, out / "schools.gpkg")
    write_csv(result, out / "schools.csv")
    write_csv(validation.rejected, out / "rejected.csv")
    write_json(summary, out / "predictions.json")
    typer.echo(
        f"{summary['schools']} schools: {summary['reported']} reported, {summary['predicted']} predicted "
        f"({summary['predicted_connected']} connected), {summary['unknown']} unknown (no feature values)"
    )
    typer.echo(f"wrote {out}/schools.gpkg, schools.csv, rejected.csv, predictions.json")


# --- layers: towers, fibre, boundaries, coverage polygons ------------------------------------------------------------
@app.command("layers")
def layers_command(
    towers: Annotated[
        list[Path] | None, typer.Option("--towers", help="OpenCelliD export or operator tower list (repeatable).")
    ] = None,
    operator_name: Annotated[
        list[str] | None,
        typer.Option("--operator-name", metavar="MCC-MNC=NAME", help="Name an OpenCelliD network, e.g. "
                     "--operator-name 740-1=Claro, or rename a tower list's operator code, e.g. MA=Mauritel."),
    ] = None,
    fibre: Annotated[list[Path] | None, typer.Option("--fibre", help="Fibre nodes and/or lines (repeatable).")] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="Country outline or admin regions.")] = None,
    admin1_field: Annotated[str | None, typer.Option("--admin1-field", help="Region field of --boundaries.")] = None,
    admin2_field: Annotated[str | None, typer.Option("--admin2-field", help="District field of --boundaries.")] = None,
    boundary_layer: Annotated[
        str | None, typer.Option("--boundary-layer", help="Layer of --boundaries (GeoPackage layer, TopoJSON object).")
    ] = None,
    coverage: Annotated[
        list[str] | None,
        typer.Option("--coverage", metavar="TECH[:OPERATOR]=PATH",
                     help="Coverage polygons, e.g. --coverage LTE:Orange=lte.shp, or a path whose fields say the "
                     "technology (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("reports/layers"),
    config: ConfigOption = None,
) -> None:
    """Read tower, fibre, boundary and coverage-polygon files as connectmap sees them; write them and the rows set
    aside (towers.gpkg, towers_rejected.csv, fibre_nodes.gpkg, fibre_lines.gpkg, fibre_rejected.csv,
    boundaries.gpkg, coverage.gpkg) and print what was read."""
    import pandas as pd

    from connectmap import io
    from connectmap.config import load_config
    from connectmap.report.files import check_not_input, protect_inputs
    from connectmap.report.tables import write_csv, write_geopackage

    settings = load_config(config)
    specs = [parse_coverage_spec(spec) for spec in coverage or []]
    inputs = [*(towers or []), *(fibre or []), *(p for _, _, p in specs), boundaries, config]
    protect_inputs([p for p in inputs if p is not None])
    if not any((towers, fibre, boundaries, specs)):
        raise ConnectmapError("layers: give at least one of --towers, --fibre, --boundaries, --coverage")
    written = []

    def save(table: pd.DataFrame, name: str) -> None:
        target = check_not_input(out / name)
        if name.endswith(".gpkg"):
            write_geopackage(table, target, layer=name.removesuffix(".gpkg"))
        else:
            write_csv(table, target)
        written.append(name)

    if towers:
        names = {**settings.inputs.operator_names, **parse_mapping(operator_name, "--operator-name")}
        tables, rejects = [], []
        for path in towers:
            table, rejected = io.read_towers(path, operator_names=names, params=settings.tower_sites,
                                             return_rejected=True)
            info = table.attrs["connectmap"]
            read = (f"{info['cells']:,} cells -> {table['site_id'].nunique():,} sites"
                    if info["format"] == "opencellid" else f"{info['rows']:,} rows -> {info['towers']:,} towers")
            techs = ", ".join(f"{k} {v:,}" for k, v in table["technology"].value_counts().items())
            typer.echo(f"towers  {path}: {read} ({techs}); {len(rejected):,} rows set aside")
            for network, cells in info.get("unmapped_networks", {}).items():
                typer.echo(f"        network {network} has no operator name ({cells:,} cells); use --operator-name")
            tables.append(table)
            rejects.append(rejected.assign(file=str(path)))
        save(pd.concat(tables, ignore_index=True), "towers.gpkg")
        save(pd.concat(rejects, ignore_index=True), "towers_rejected.csv")
    if fibre:
        network = io.read_fibre(fibre)
        typer.echo(f"fibre   {network.summary()}")
        for kind, table in (("nodes", network.nodes), ("lines", network.lines)):
            if len(table):
                status = ", ".join(f"{k} {v:,}" for k, v in table["status"].fillna("unknown").value_counts().items())
                typer.echo(f"        {kind}: {status}")
                save(table, f"fibre_{kind}.gpkg")
        save(network.rejected, "fibre_rejected.csv")
    if boundaries is not None:
        regions = io.read_boundaries(
            boundaries, admin1_field=admin1_field or settings.inputs.boundary_admin1_field,
            admin2_field=admin2_field or settings.inputs.boundary_admin2_field, layer=boundary_layer,
        )
        info = regions.attrs["connectmap"]
        typer.echo(f"regions {boundaries}: {len(regions):,} polygons, admin1 from {info['admin1_field']!r}"
                   + (f", admin2 from {info['admin2_field']!r}" if info["admin2_field"] else "")
                   + f"; {info['repaired']} repaired")
        save(regions, "boundaries.gpkg")
    if specs:
        polygons = []
        for technology, operator, path in specs:
            table = io.read_coverage_polygons(path, technology=technology, operator=operator)
            counts = ", ".join(f"{k} {v:,}" for k, v in table["technology"].value_counts().items())
            typer.echo(f"coverage {path}: {len(table):,} polygons ({counts})")
            polygons.append(table)
        save(pd.concat(polygons, ignore_index=True), "coverage.gpkg")
    typer.echo(f"wrote {out}/" + ", ".join(written))


# --- casebook (zero-rating and the operator investment case as live Excel workbooks) -----------------------------
@app.command("casebook")
def casebook_command(
    schools: Annotated[Path, typer.Argument(help="Costed school table (GeoPackage or CSV written by connectmap).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the workbooks.")],
    rejected: Annotated[
        Path | None, typer.Option("--rejected", help="rejected.csv from `connectmap validate`, for Data quality.")
    ] = None,
    per_operator: Annotated[
        bool, typer.Option("--per-operator/--national-only", help="Also write one workbook per operator.")
    ] = True,
    layer: LayerOption = None,
    config: ConfigOption = None,
) -> None:
    """Price zero-rating per school and operator, build the operator investment case, and write it as live-formula
    Excel workbooks: investment_case.xlsx (national) and investment_case_<operator>.xlsx (one per operator).
    """
    from connectmap.config import load_config
    from connectmap.io._text import read_delimited
    from connectmap.io.tables import read_table
    from connectmap.operators import ALL_OPERATORS, add_new_sites, investment_case
    from connectmap.report.excel import write_casebook
    from connectmap.report.files import check_not_input, protect_inputs
    from connectmap.zerorating import add_zero_rating

    settings = load_config(config)
    protect_inputs([p for p in (schools, rejected, config) if p is not None])
    check_not_input(out / "investment_case.xlsx")
    table = read_table(schools, layer=layer)
    rejected_rows = read_delimited(rejected).frame if rejected is not None else None
    params = settings.zerorating
    table = add_new_sites(table, params)
    table = add_zero_rating(table, params)
    case = investment_case(table, params)
    written = write_casebook(case, out, rejected=rejected_rows, config=settings, per_operator=per_operator)
    total = case.by_operator.loc[ALL_OPERATORS]
    typer.echo(
        f"{len(table):,} schools, {len(case.operators)} operator(s): zero-rating "
        f"{total['zero_rating_gb_per_year']:,.0f} GB/year costing the operators "
        f"{total['zero_rating_cost_usd_per_year']:,.0f} USD/year (in kind "
        f"{total['zero_rating_in_kind_usd_per_year']:,.0f} USD/year); {total['lines']:,.0f} school lines "
        f"{total['line_revenue_usd_per_year']:,.0f} USD/year; {total['new_sites']:,.0f} new sites "
        f"{total['new_site_capex_usd']:,.0f} USD; operators' NPV {total['operator_npv_usd']:,.0f} USD"
    )
    typer.echo("wrote " + ", ".join(str(path) for path in written))


# --- enrich ---------------------------------------------------------------------------------------------------------

@app.command("enrich")
def enrich_command(
    schools: Annotated[Path, typer.Argument(help="School register (CSV, XLSX, GeoJSON, GPKG, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    towers: Annotated[
        list[Path] | None, typer.Option("--towers", help="Tower list or OpenCelliD export (repeatable).")
    ] = None,
    coverage: Annotated[
        list[str] | None,
        typer.Option("--coverage", help="Coverage raster or polygons: TECH[:OPERATOR]=PATH, or PATH when the file "
                     "says (GeoTIFF tags / fields) (repeatable)."),
    ] = None,
    fibre: Annotated[list[Path] | None, typer.Option("--fibre", help="Fibre nodes and/or lines (repeatable).")] = None,
    population: Annotated[Path | None, typer.Option("--population", help="Population raster.")] = None,
    population_value: Annotated[
        str | None, typer.Option("--population-value", help="What the population pixels hold: count or density "
                                 "(people/km²); read from the file's 'value' tag when not given."),
    ] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="Admin regions or country outline.")] = None,
    admin1_field: Annotated[str | None, typer.Option("--admin1-field", help="Boundary field with admin1.")] = None,
    admin2_field: Annotated[str | None, typer.Option("--admin2-field", help="Boundary field with admin2.")] = None,
    operator_name: Annotated[
        list[str] | None, typer.Option("--operator-name", metavar="MCC-MNC=NAME",
                                       help="Operator name of an OpenCelliD network, e.g. 740-1=Claro (repeatable)."),
    ] = None,
    modelled_coverage_tif: Annotated[
        bool, typer.Option("--modelled-coverage-tif", help="Also write the coverage modelled from towers as one "
                           "GeoTIFF per technology (for the map).")
    ] = False,
    columns: ColumnsOption = None,
    layer: LayerOption = None,
    sheet: SheetOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    crs: CrsOption = None,
    config: ConfigOption = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Add coverage, nearest towers, fibre distance, population, nearby schools and regions to every school.

    Writes schools_enriched.gpkg and schools_enriched.csv (plus rejected.csv for rows validation set aside) to
    --out; with --modelled-coverage-tif also modelled_coverage_<TECH>.tif.
    """
    from connectmap.enrich.coverage import modelled_coverage_grid
    from connectmap.io.inputs import load_layers
    from connectmap.report.files import protect_inputs
    from connectmap.report.rasters import write_coverage_geotiff
    from connectmap.report.tables import write_csv, write_geopackage
    from connectmap.validate import validate_schools

    settings = settings_with_layers(
        config, operator_name=operator_name, towers=towers, coverage=coverage, fibre=fibre, population=population,
        population_value=population_value, boundaries=boundaries, boundary_admin1_field=admin1_field,
        boundary_admin2_field=admin2_field,
    )
    layers = load_layers(settings.inputs)
    protect_inputs([schools, *(p for paths in layers.files.values() for p in paths), *([config] if config else [])])
    table, _ = read_school_register(schools, columns, layer, sheet, encoding, delimiter, crs, config)
    result = validate_schools(table, boundary=layers.boundaries, params=settings.validation)
    tower_table = layers.towers
    with engine_runner(engine, scheduler) as runner:
        enriched = runner.enrich(
            result.clean, towers=layers.towers, coverage_rasters=layers.coverage_rasters,
            coverage_polygons=layers.coverage_polygons, fibre=layers.fibre, population=layers.population,
            boundaries=layers.boundaries, params=settings.enrich,
        )
    write_geopackage(enriched, out / "schools_enriched.gpkg")
    write_csv(enriched, out / "schools_enriched.csv")
    write_csv(result.rejected, out / "rejected.csv")
    written = ["schools_enriched.gpkg", "schools_enriched.csv", "rejected.csv"]
    if modelled_coverage_tif and tower_table is not None:
        from connectmap.columns import TECHNOLOGIES

        for technology in TECHNOLOGIES:
            grid = modelled_coverage_grid(tower_table, technology, settings.enrich)
            if grid is not None:
                write_coverage_geotiff(grid[0], grid[1], out / f"modelled_coverage_{technology}.tif",
                                       technology=technology)
                written.append(f"modelled_coverage_{technology}.tif")
    kinds = enriched["cellular_coverage_type"].value_counts() if "cellular_coverage_type" in enriched else None
    typer.echo(f"{len(enriched)} schools enriched ({len(result.rejected)} rows rejected by validation)")
    if kinds is not None:
        typer.echo("  coverage: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    typer.echo(f"wrote {', '.join(f'{out}/{name}' for name in written)}")


# --- run and demo: the whole pipeline ----------------------------------------------------------------------------
@app.command("run")
def run_command(
    schools: Annotated[Path | None, typer.Option("--schools", help="School register (any supported format).")] = None,
    towers: Annotated[
        list[Path] | None, typer.Option("--towers", help="Tower list or OpenCelliD export (repeatable).")
    ] = None,
    coverage: Annotated[
        list[str] | None,
        typer.Option("--coverage", metavar="TECH[:OPERATOR]=PATH",
                     help="Coverage raster or polygons; a bare PATH when its tags/fields say (repeatable)."),
    ] = None,
    fibre: Annotated[list[Path] | None, typer.Option("--fibre", help="Fibre nodes and/or lines (repeatable).")] = None,
    population: Annotated[Path | None, typer.Option("--population", help="Population raster.")] = None,
    population_value: Annotated[
        str | None, typer.Option("--population-value", help="count (people per pixel) or density (people/km²); "
                                 "read from the raster's 'value' tag when not given."),
    ] = None,
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="Admin regions or country outline.")] = None,
    admin1_field: Annotated[str | None, typer.Option("--admin1-field", help="Boundary field with admin1.")] = None,
    admin2_field: Annotated[str | None, typer.Option("--admin2-field", help="Boundary field with admin2.")] = None,
    operator_name: Annotated[
        list[str] | None, typer.Option("--operator-name", metavar="CODE=NAME",
                                       help="Operator name of an OpenCelliD network (MCC-MNC) or a code in a tower "
                                       "list, e.g. 740-1=Claro (repeatable)."),
    ] = None,
    dem: Annotated[Path | None, typer.Option("--dem", help="Elevation GeoTIFF (microwave line of sight).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Connectivity model (.skops).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default reports/<name>/).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the run (default: from the config).")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Country name, for titles.")] = None,
    columns: ColumnsOption = None,
    config: ConfigOption = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write a static map.png.")] = True,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Run everything: read, validate, enrich, predict, cost, zero-rate, plan, and write maps and workbooks.

    Inputs come from the options, or from the [inputs] section of --config (options win). Writes schools.gpkg,
    schools.csv, rejected.csv, quality.json, map.html, map.png, investment_case.xlsx (+ one per operator),
    rollout and sensitivity tables, summary.md and manifest.json.
    """
    from connectmap.pipeline import run

    settings = settings_with_layers(
        config, schools=schools, columns=columns, operator_name=operator_name, towers=towers, coverage=coverage,
        fibre=fibre, population=population, population_value=population_value, boundaries=boundaries,
        boundary_admin1_field=admin1_field, boundary_admin2_field=admin2_field, dem=dem, model=model, name=name,
        country=country,
    )
    result = run(settings, out=out, png=png, engine=engine_params(engine, scheduler))
    print_run_result(result)


def print_run_result(result: object) -> None:
    """Headline figures and the output folder, for the terminal."""
    figures = result.summary  # type: ignore[attr-defined]
    typer.echo(
        f"{figures['schools']:,} schools ({figures['rejected']:,} rows rejected): {figures['connectable']:,} "
        f"connectable, net present cost USD {figures['npv_usd']:,.0f}; zero-rating "
        f"{figures['zero_rating_gb_per_year']:,.0f} GB/year costing operators USD "
        f"{figures['zero_rating_usd_per_year']:,.0f}/year"
    )
    for note in figures["missing_layers"]:
        typer.echo(f"  note: {note}")
    typer.echo(f"wrote {result.out}/: " + ", ".join(result.outputs))  # type: ignore[attr-defined]


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder for the reports.")] = Path("reports/demo"),
    data: Annotated[Path, typer.Option("--data", help="Folder for the generated demo inputs.")] = Path("data/demo"),
    schools: Annotated[int, typer.Option("--schools", help="Number of schools in the demo register.")] = 3000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the demo generator.")] = None,
) -> None:
    """Generate the demo country (data/demo/) with connectmap's own code, then run the whole pipeline on it."""
    from connectmap.demo import DEMO_SEED, generate_demo_country
    from connectmap.pipeline import run

    country = generate_demo_country(data, seed=DEMO_SEED if seed is None else seed, n_schools=schools)
    typer.echo(f"generated the demo country in {data}/")
    result = run(country.config, out=out)
    print_run_result(result)


# --- engine: where enrichment and costing run (local or Dask) -------------------------------------------------------
EngineOption = Annotated[
    str, typer.Option("--engine", help="Where enrichment and costing run: local (this process) or dask (schools in "
                      "spatial partitions on a Dask cluster; the same results).")
]
SchedulerOption = Annotated[
    str | None, typer.Option("--scheduler", metavar="ADDRESS", help="Dask scheduler for --engine dask, e.g. "
                             "tcp://10.0.0.5:8786 (default: a local cluster started for the command).")
]


def engine_params(engine: str, scheduler: str | None) -> EngineParams:
    """Engine parameters from ``--engine`` and ``--scheduler``."""
    from connectmap.parameters.engine import EngineParams

    if engine not in ("local", "dask"):
        raise ConnectmapError(f"--engine {engine!r}: use local or dask")
    if scheduler and engine != "dask":
        raise ConnectmapError("--scheduler is for the Dask engine: add --engine dask")
    return EngineParams(kind=engine, scheduler=scheduler or None)


def engine_runner(engine: str, scheduler: str | None) -> Engine:
    """The engine for ``--engine``/``--scheduler`` (a context manager: a local cluster starts and stops with it)."""
    from connectmap.engine import Engine

    return Engine(engine_params(engine, scheduler))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes print one line and return 2 instead of raising."""
    try:
        app(args=argv, standalone_mode=False)
    except ConnectmapError as err:
        typer.echo(f"error: {err}", err=True)
        return err.exit_code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(err, click.ClickException):
            err.show()
            return err.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
