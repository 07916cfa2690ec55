"""What one Dask task runs: the library's own steps on one partition of schools and the layer rows near it.

Every function here takes plain tables (Dask resolves the futures before the call) and calls the same public
functions the local engine calls (:func:`connectmap.enrich.enrich`, :func:`connectmap.enrich.add_nearest_towers`,
:func:`connectmap.enrich.add_schools_nearby`, :func:`connectmap.cost.add_microwave_options`,
:func:`connectmap.cost.add_costs`), so a partition's rows get exactly the values the whole table would give them,
provided the layer rows passed in hold every row that can matter (see :mod:`connectmap.engine.spatial` for the
halo and :mod:`connectmap.engine.layers` for the sentinels). Where a nearest answer lies beyond the halo, the task
says so and the driver recomputes it with a wider one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.engine.layers import load_part, rows_near
from connectmap.engine.spatial import ROW, Footprint, point_lonlat, within_halo
from connectmap.enrich.schools import NEAREST_SCHOOL_DISTANCE, schools_within_column
from connectmap.enrich.towers import nearest_distance_column, nearest_id_column
from connectmap.io.fibre import FibreNetwork
from connectmap.io.rasters import RasterLayer
from connectmap.parameters.cost import CostParams
from connectmap.parameters.enrich import EnrichParams

#: Key of the nearest-school fallback in a task's unresolved rows.
SCHOOLS = ("schools", None)


@dataclass
class SharedLayers:
    """Layers every task reads whole (sent to each worker once): they are small, or lazy (rasters read only the
    window a partition needs)."""

    coverage_rasters: Sequence[RasterLayer] = ()
    coverage_polygons: gpd.GeoDataFrame | None = None
    fibre: FibreNetwork | None = None
    population: RasterLayer | None = None
    boundaries: gpd.GeoDataFrame | None = None


@dataclass(frozen=True)
class TowerSpec:
    """How a task rebuilds the tower rows near its partition from the partitions and sentinels it is given.

    Attributes
    ----------
    empty
        Zero-row tower table (what a task sees when nothing is near).
    halo_km
        Halo width (km).
    technologies
        Keep only these technologies (``None``: all).
    given
        ``False`` when the run has no tower table at all (the steps then get ``None``).
    """

    empty: gpd.GeoDataFrame | None
    halo_km: float
    technologies: tuple[str, ...] | None = None
    given: bool = True

    def near(self, parts: Sequence[pd.DataFrame], sentinels: Sequence[pd.DataFrame], area: Footprint | None
             ) -> pd.DataFrame | None:
        """The tower rows a task works with (``None`` without a tower table)."""
        if not self.given or self.empty is None:
            return None
        return rows_near(parts, sentinels, area, self.halo_km, self.empty, self.technologies)


@dataclass
class Unresolved:
    """Rows of a partition (local positions) whose nearest answer lay beyond the halo, per answer."""

    rows: dict[tuple[str, str | None], NDArray[np.int64]] = field(default_factory=dict)

    def add(self, key: tuple[str, str | None], positions: NDArray[np.int64]) -> None:
        if positions.size:
            self.rows[key] = positions


def positions_table(table: pd.DataFrame) -> pd.DataFrame:
    """Only the positions of a table's schools, as longitude/latitude columns (what the nearest steps read)."""
    lon, lat = point_lonlat(table)
    return pd.DataFrame({"longitude": lon, "latitude": lat}, index=table.index)


def _school_ring(
    core: pd.DataFrame, others: Sequence[pd.DataFrame], area: Footprint | None, halo_km: float
) -> pd.DataFrame:
    """The partition's schools first, then the other partitions' schools within the halo (positions only)."""
    frames = [positions_table(core)]
    for other in others:
        lon, lat = point_lonlat(other)
        keep = within_halo(lon, lat, area, halo_km)
        if keep.any():
            frames.append(pd.DataFrame({"longitude": lon[keep], "latitude": lat[keep]}))
    return pd.concat(frames, ignore_index=True)


def enrich_partition(
    core: pd.DataFrame,
    other_schools: Sequence[pd.DataFrame],
    tower_parts: Sequence[pd.DataFrame],
    tower_sentinels: Sequence[pd.DataFrame],
    towers: TowerSpec,
    shared: SharedLayers,
    params: EnrichParams,
    area: Footprint | None,
    school_halo_km: float,
    tower_keys: Sequence[tuple[str, str | None]],
    located_schools: int,
) -> tuple[pd.DataFrame, Unresolved]:
    """Enrich one partition with the tower rows near it and the schools around it.

    Returns the enriched partition and the rows whose nearest tower (per key: technology, operator or ``None`` for
    all operators) or nearest other school lies beyond the halo.
    """
    from connectmap.enrich import add_schools_nearby, enrich

    out = enrich(
        core, towers=towers.near(tower_parts, tower_sentinels, area), coverage_rasters=shared.coverage_rasters,
        coverage_polygons=shared.coverage_polygons, fibre=shared.fibre, population=shared.population,
        boundaries=shared.boundaries, params=params,
    )
    # Other schools: counted over the partition and the ring around it (enrich() above saw the partition only).
    ring = add_schools_nearby(_school_ring(core, other_schools, area, school_halo_km), params)
    n = len(core)
    for column in [schools_within_column(r) for r in params.school_count_radii_km] + [NEAREST_SCHOOL_DISTANCE]:
        out[column] = ring[column].array[:n]

    unresolved = Unresolved()
    for key in tower_keys:
        column = nearest_distance_column(*key)
        if column in out.columns:
            distance = out[column].to_numpy(dtype=np.float64, na_value=np.nan)
            unresolved.add(key, np.flatnonzero(np.isfinite(distance) & (distance > towers.halo_km)))
    lon, lat = point_lonlat(core)
    located = np.isfinite(lon) & np.isfinite(lat)
    nearest = out[NEAREST_SCHOOL_DISTANCE].to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(nearest) & (located_schools >= 2)
    unresolved.add(SCHOOLS, np.flatnonzero(located & (missing | (nearest > school_halo_km))))
    return out, unresolved


def nearest_towers_fallback(
    part: pd.DataFrame,
    tower_parts: Sequence[pd.DataFrame],
    tower_sentinels: Sequence[pd.DataFrame],
    towers: TowerSpec,
    area: Footprint | None,
    params: EnrichParams,
    columns: Sequence[str],
) -> pd.DataFrame:
    """Nearest-tower columns for a whole partition, computed with the tower rows of a wider halo.

    The whole partition is measured, not only the rows that need it, so every distance is computed in a batch as
    large as the first pass (see :data:`connectmap.engine.spatial.MIN_PARTITION_ROWS`).
    """
    from connectmap.enrich import add_nearest_towers

    out = add_nearest_towers(positions_table(part), towers.near(tower_parts, tower_sentinels, area), params)
    return out[[c for c in columns if c in out.columns]]


def nearest_school_fallback(
    part: pd.DataFrame,
    others: Sequence[pd.DataFrame],
    area: Footprint | None,
    halo_km: float,
    params: EnrichParams,
) -> NDArray[np.float64]:
    """``nearest_school_distance`` for every school of a partition, over the partition and the other partitions'
    schools within a wider halo."""
    from connectmap.enrich import add_schools_nearby

    ring = _school_ring(part, others, area, halo_km)
    nearest = add_schools_nearby(ring, params.model_copy(update={"school_count_radii_km": [1.0]}))
    return nearest[NEAREST_SCHOOL_DISTANCE].to_numpy(dtype=np.float64, na_value=np.nan)[: len(part)]


def apply_fixes(part: pd.DataFrame, fixes: Sequence[tuple[NDArray[np.int64], dict[str, Any]]]) -> pd.DataFrame:
    """The partition with recomputed values written into the given rows (local positions) and columns."""
    out = part.copy()
    for positions, columns in fixes:
        for column, values in columns.items():
            array = out[column].array.copy()
            array[positions] = values
            out[column] = array
    return out


def cost_partition(
    core: pd.DataFrame,
    tower_parts: Sequence[pd.DataFrame],
    tower_sentinels: Sequence[pd.DataFrame],
    towers: TowerSpec,
    fibre: Any,
    dem: Any,
    params: CostParams,
    area: Footprint | None,
    microwave: bool,
) -> pd.DataFrame:
    """Microwave options (with the tower rows near the partition) and every technology's cost, for one partition."""
    from connectmap.cost import add_costs, add_microwave_options

    if microwave:
        near = towers.near(tower_parts, tower_sentinels, area)
        core = add_microwave_options(core, near, fibre, dem=dem, params=params)
    return add_costs(core, params)


def backhauled_site(part: pd.DataFrame, always: Sequence[pd.DataFrame], fibre: Any, params: CostParams) -> pd.DataFrame:
    """Rows of one tower site that fibre backhauls, found among ``part`` (empty when none is).

    The cost model's own step finds it: each distinct site position is asked for its nearest backhauled site,
    and a backhauled site is at 0 km from itself. ``always`` (the first rows of ambiguous site ids) is included so
    that a site is placed where the whole table places it.
    """
    from connectmap.cost import add_microwave_options
    from connectmap.cost.microwave import MICROWAVE_SITE

    part = load_part(part)
    towers = pd.concat([part, *always]) if any(len(a) for a in always) else part
    towers = towers.loc[~towers[ROW].duplicated().to_numpy()].sort_values(ROW, kind="stable")
    lon, lat = point_lonlat(towers)
    probe = pd.DataFrame({"longitude": lon, "latitude": lat}).drop_duplicates()
    found = add_microwave_options(probe, towers, fibre, None, params)[MICROWAVE_SITE].dropna()
    if found.empty:
        return part.iloc[:0]
    site = str(found.iloc[0])
    return towers.loc[towers["site_id"].astype("str").to_numpy() == site]


def nearest_columns(key: tuple[str, str | None]) -> list[str]:
    """The distance and id columns of one nearest-tower answer (technology, operator or ``None`` for all)."""
    return [nearest_distance_column(*key), nearest_id_column(*key)]
