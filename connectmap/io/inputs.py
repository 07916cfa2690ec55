"""Reading every layer a run names (towers, coverage, fibre, population, boundaries, elevation) in one place.

The ``[inputs]`` section of a config file, or the command-line options that override it, name the files; this
module resolves relative paths (relative to the config file), reads each layer through its reader in
:mod:`connectmap.io`, and says in plain words what the outputs will lack for each layer that is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from connectmap.io.boundaries import read_boundaries
from connectmap.io.coverage import read_coverage_polygons
from connectmap.io.fibre import FibreNetwork, read_fibre
from connectmap.io.rasters import RasterLayer, open_raster
from connectmap.io.towers import read_towers
from connectmap.parameters.inputs import InputsParams, parse_coverage_spec

log = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")

#: What a run's outputs lack when a layer is not given (shown in summary.md and the manifest).
MISSING_LAYER_NOTES = {
    "towers": "no tower list: nearest-tower distances are empty, coverage cannot be modelled from towers, "
    "microwave links cannot be costed and operators are known only from coverage files",
    "coverage": "no coverage rasters or polygons: coverage is modelled from tower ranges (coverage_source = "
    "modelled)",
    "fibre": "no fibre network: fibre distances are empty and fibre is infeasible (no_fibre_data) for every school",
    "population": "no population raster: pop_within_<N>km columns are absent",
    "boundaries": "no boundaries: admin regions come from the register only, swapped coordinates are not fixed and "
    "schools outside the country are not flagged",
    "dem": "no elevation model: microwave links are costed without a line-of-sight check",
}


@dataclass
class Layers:
    """Every layer of a run, read; ``None`` (or empty) where not given.

    ``rejected`` holds the tower rows and fibre features that could not be used, each with the ``file`` it came
    from and a ``reason``; a run writes them to ``layers_rejected.csv``.
    """

    towers: gpd.GeoDataFrame | None = None
    coverage_rasters: list[RasterLayer] = field(default_factory=list)
    coverage_polygons: gpd.GeoDataFrame | None = None
    fibre: FibreNetwork | None = None
    population: RasterLayer | None = None
    boundaries: gpd.GeoDataFrame | None = None
    dem: Path | None = None
    files: dict[str, list[Path]] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    def missing_notes(self) -> list[str]:
        """What the outputs lack because of each missing layer."""
        present = {
            "towers": self.towers is not None,
            "coverage": bool(self.coverage_rasters) or self.coverage_polygons is not None,
            "fibre": self.fibre is not None,
            "population": self.population is not None,
            "boundaries": self.boundaries is not None,
            "dem": self.dem is not None,
        }
        return [MISSING_LAYER_NOTES[name] for name, given in present.items() if not given]


def resolve(path: str | Path | None, base_dir: Path | None) -> Path | None:
    """A path from a config file: relative paths are relative to the file's folder."""
    if path is None:
        return None
    path = Path(path)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def absolute_inputs(inputs: InputsParams, base_dir: Path | None) -> InputsParams:
    """A copy of ``inputs`` with every path made absolute (relative ones taken relative to ``base_dir``)."""
    def one(value: str | None) -> str | None:
        path = resolve(value, base_dir)
        return None if path is None else str(path.resolve())

    def spec(value: str) -> str:
        technology, operator, path = parse_coverage_spec(value)
        full = one(str(path))
        return f"{technology}:{operator or ''}={full}" if technology else str(full)

    schools = inputs.schools.model_copy(update={"path": one(inputs.schools.path)})
    return inputs.model_copy(update={
        "schools": schools, "towers": [one(p) for p in inputs.towers], "fibre": [one(p) for p in inputs.fibre],
        "coverage": [spec(c) for c in inputs.coverage], "population": one(inputs.population),
        "boundaries": one(inputs.boundaries), "dem": one(inputs.dem), "model": one(inputs.model),
        "out": one(inputs.out),
    })


def input_files(inputs: InputsParams, base_dir: Path | None = None) -> dict[str, list[Path]]:
    """Every file ``inputs`` names, by kind, with relative paths resolved."""
    def many(values: list[str]) -> list[Path]:
        return [p for p in (resolve(v, base_dir) for v in values) if p is not None]

    coverage = [resolve(parse_coverage_spec(spec)[2], base_dir) for spec in inputs.coverage]
    files = {
        "schools": many([inputs.schools.path] if inputs.schools.path else []),
        "towers": many(inputs.towers),
        "coverage": [p for p in coverage if p is not None],
        "fibre": many(inputs.fibre),
        "population": many([inputs.population] if inputs.population else []),
        "boundaries": many([inputs.boundaries] if inputs.boundaries else []),
        "dem": many([inputs.dem] if inputs.dem else []),
        "model": many([inputs.model] if inputs.model else []),
    }
    return {kind: paths for kind, paths in files.items() if paths}


def load_layers(inputs: InputsParams, base_dir: Path | None = None) -> Layers:
    """Read every layer ``inputs`` names (not the schools), through the readers of :mod:`connectmap.io`.

    Parameters
    ----------
    inputs
        The ``[inputs]`` section (after command-line overrides).
    base_dir
        Folder that relative paths are relative to (the config file's folder), or ``None`` for the working folder.
    """
    layers = Layers(files=input_files(inputs, base_dir))
    rejected = []
    towers = layers.files.get("towers", [])
    if towers:
        tables = []
        for path in towers:
            # a few bad rows in a tower list are set aside with their reason, not a reason to stop the run
            table, bad = read_towers(path, operator_names=inputs.operator_names, return_rejected=True)
            tables.append(table)
            rejected.append(bad.assign(layer="towers", file=str(path)))
        layers.towers = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    polygons = []
    for spec in inputs.coverage:
        technology, operator, path = parse_coverage_spec(spec)
        path = resolve(path, base_dir)
        if path.suffix.lower() in RASTER_SUFFIXES:
            layers.coverage_rasters.append(open_raster(path, kind="coverage", technology=technology, operator=operator))
        else:
            polygons.append(read_coverage_polygons(path, technology=technology, operator=operator))
    if polygons:
        layers.coverage_polygons = pd.concat(polygons, ignore_index=True)
    if "fibre" in layers.files:
        layers.fibre = read_fibre(layers.files["fibre"])
        rejected.append(layers.fibre.rejected.assign(layer="fibre"))
    rejected = [table for table in rejected if len(table)]
    if rejected:
        layers.rejected = pd.concat(rejected, ignore_index=True)
        log.warning("%d tower row(s) or fibre feature(s) set aside (see layers_rejected.csv)", len(layers.rejected))
    if "population" in layers.files:
        layers.population = open_raster(
            layers.files["population"][0], kind="population", value=inputs.population_value
        )
    if "boundaries" in layers.files:
        layers.boundaries = read_boundaries(
            layers.files["boundaries"][0], admin1_field=inputs.boundary_admin1_field,
            admin2_field=inputs.boundary_admin2_field, layer=inputs.boundary_layer,
        )
    if "dem" in layers.files:
        layers.dem = layers.files["dem"][0]
        open_raster(layers.dem, kind="dem")  # check it now (CRS, nodata, not truncated), not halfway through costing
    for note in layers.missing_notes():
        log.info("%s", note)
    return layers
