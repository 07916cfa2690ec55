"""The input files a run reads, so a whole run can be described by one config file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from connectmap.errors import ConnectmapError
from connectmap.parameters._base import Section, param


class SchoolInput(Section):
    """How to read the school register."""

    path: str | None = param(None, unit="path", description="School register (CSV/TSV/TXT, Excel, GeoJSON, "
                             "GeoPackage, Shapefile, GeoParquet). Relative paths are relative to the config file.")
    columns: dict[str, str] = param(
        {}, unit="-",
        description="Explicit column mapping, canonical name = column in the file, e.g. "
        "{ school_name = \"Name of the school\" }; applied before the built-in aliases.",
    )
    layer: str | None = param(None, unit="-", description="GeoPackage layer to read when the file has several.")
    sheet: str | None = param(None, unit="-", description="Excel sheet to read when the workbook has several.")
    encoding: str | None = param(None, unit="-", description="Text encoding; detected when not given.")
    delimiter: str | None = param(None, unit="-", description="Field separator; detected when not given.")
    crs: str | None = param(
        None, unit="-",
        description="CRS of the coordinate columns of a text or Excel register, e.g. EPSG:32637 for UTM 37N; "
        "WGS84 degrees when not given.",
    )


class InputsParams(Section):
    """Files named by a config file; command-line options override them."""

    name: str = param("run", unit="-", description="Name of the run; outputs go to reports/<name>/ by default.")
    country: str | None = param(None, unit="-", description="Country name or ISO3 code, for titles.")
    schools: SchoolInput = SchoolInput()
    towers: list[str] = param([], unit="paths", description="Tower lists or OpenCelliD exports.")
    operator_names: dict[str, str] = param(
        {}, unit="-",
        description="Operator name for each OpenCelliD network, keyed \"MCC-MNC\", e.g. { \"740-1\" = \"Claro\" }.",
    )
    coverage: list[str] = param(
        [], unit="paths",
        description="Coverage rasters or polygons, each \"TECH[:OPERATOR]=path\" or a path whose tags say so.",
    )
    fibre: list[str] = param([], unit="paths", description="Fibre nodes and lines (GeoJSON, GPKG, Shapefile, OFDS).")
    population: str | None = param(None, unit="path", description="Population raster (counts or density).")
    population_value: Literal["count", "density"] | None = param(
        None, unit="-",
        description="What the population pixels hold: \"count\" (people per pixel) or \"density\" (people/km²); "
        "read from the raster's 'value' tag when not given.",
    )
    boundaries: str | None = param(None, unit="path", description="Country outline or admin regions.")
    boundary_admin1_field: str | None = param(
        None, unit="-", description="Field of the boundaries file holding the admin1 name.")
    boundary_admin2_field: str | None = param(
        None, unit="-", description="Field of the boundaries file holding the admin2 name.")
    boundary_layer: str | None = param(
        None, unit="-", description="Layer of the boundaries file (GeoPackage layer, TopoJSON object).")
    dem: str | None = param(None, unit="path", description="Elevation GeoTIFF for microwave line-of-sight checks.")
    model: str | None = param(None, unit="path", description="Connectivity model (.skops) to fill unknown values.")
    out: str | None = param(None, unit="path", description="Output folder (default reports/<name>/).")


def parse_coverage_spec(spec: str) -> tuple[str | None, str | None, Path]:
    """Split ``TECH[:OPERATOR]=PATH`` (or a bare ``PATH`` whose tags or fields say so).

    A spec that names an existing file is a path even if it contains ``=``.

    Examples
    --------
    >>> parse_coverage_spec("LTE:Orange=lte.tif")
    ('LTE', 'Orange', PosixPath('lte.tif'))
    >>> parse_coverage_spec("coverage/alpha_lte.tif")
    (None, None, PosixPath('coverage/alpha_lte.tif'))
    """
    head, sep, tail = spec.partition("=")
    if not sep or Path(spec).exists():
        return None, None, Path(spec)
    technology, _, operator = head.partition(":")
    if not technology.strip() or not tail.strip():
        raise ConnectmapError(f"--coverage {spec!r}: expected TECH[:OPERATOR]=PATH, e.g. --coverage LTE:Orange=lte.tif")
    return technology.strip(), operator.strip() or None, Path(tail.strip())
