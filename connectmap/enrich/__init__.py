"""Enrichment: add coverage, nearest towers, fibre distances, population, nearby schools and regions.

Each step is ``add_*(schools, layer, ..., params=None) -> schools`` and returns a copy of the table with new
columns; :func:`enrich` runs the steps whose layers are given, in a fixed order. Layers come from
:mod:`connectmap.io` (rasters are lazy :class:`~connectmap.io.rasters.RasterLayer` objects, read by the kernels in
:mod:`connectmap.io.rasters`). Every distance is an ellipsoidal (WGS84) geodesic distance in km; unknown stays
unknown (NaN / NA), never 0 or "no coverage".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import geopandas as gpd
import pandas as pd

from connectmap import progress
from connectmap.enrich.coverage import add_coverage, site_ranges_km, within_site_range
from connectmap.enrich.fibre import add_fibre
from connectmap.enrich.population import add_population
from connectmap.enrich.regions import add_regions
from connectmap.enrich.schools import add_schools_nearby
from connectmap.enrich.towers import add_nearest_towers
from connectmap.io.fibre import FibreNetwork
from connectmap.io.rasters import RasterLayer
from connectmap.parameters.enrich import EnrichParams

__all__ = [
    "add_coverage",
    "add_fibre",
    "add_nearest_towers",
    "add_population",
    "add_regions",
    "add_schools_nearby",
    "enrich",
    "site_ranges_km",
    "within_site_range",
]

log = logging.getLogger(__name__)


def enrich(
    schools: pd.DataFrame,
    *,
    towers: pd.DataFrame | None = None,
    coverage_rasters: Sequence[RasterLayer] = (),
    coverage_polygons: gpd.GeoDataFrame | None = None,
    fibre: FibreNetwork | None = None,
    population: RasterLayer | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    params: EnrichParams | None = None,
) -> pd.DataFrame:
    """Run every enrichment step whose layer is given.

    Regions and nearby schools always run (they need only the schools and, for regions, the boundaries); towers,
    coverage, fibre and population run when their layers are given. Coverage runs when any coverage raster,
    polygon layer or tower table is given (coverage modelled from towers).

    Parameters
    ----------
    schools
        School table from :func:`connectmap.io.read_schools` and :func:`connectmap.validate.validate_schools`.
    towers, coverage_rasters, coverage_polygons, fibre, population, boundaries
        Layers from :mod:`connectmap.io`.
    params
        Enrichment parameters (``Config().enrich``); defaults when ``None``.

    Returns
    -------
    pandas.DataFrame
        The school table with the enrichment columns (README.md, section "Enrichment", lists them).
    """
    steps: list[tuple[str, object]] = []
    if boundaries is not None:
        steps.append(("regions", lambda t: add_regions(t, boundaries, params)))
    if towers is not None:
        steps.append(("nearest towers", lambda t: add_nearest_towers(t, towers, params)))
    if towers is not None or coverage_rasters or coverage_polygons is not None:
        steps.append(("coverage", lambda t: add_coverage(
            t, rasters=coverage_rasters, polygons=coverage_polygons, towers=towers, params=params)))
    if fibre is not None:
        steps.append(("fibre", lambda t: add_fibre(t, fibre, params)))
    if population is not None:
        steps.append(("population", lambda t: add_population(t, population, params)))
    steps.append(("nearby schools", lambda t: add_schools_nearby(t, params)))
    for name, step in steps:
        start = time.perf_counter()
        with progress.step(f"enrich: {name}"):
            schools = step(schools)  # type: ignore[operator]
        log.info("enrich: %s in %.1f s", name, time.perf_counter() - start)
    return schools
