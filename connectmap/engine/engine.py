"""The engine: enrichment and the per-school costing steps, in this process or on a Dask cluster.

:class:`Engine` runs the same public steps either way. With ``kind="local"`` it simply calls
:func:`connectmap.enrich.enrich`, :func:`connectmap.cost.add_microwave_options` and
:func:`connectmap.cost.add_costs`. With ``kind="dask"`` it

1. cuts the schools into spatial partitions (Hilbert order, :mod:`connectmap.engine.spatial`) and the tower table
   into spatial partitions of its own, and sends them to the cluster (``Client.scatter``); small layers (fibre,
   boundaries, coverage polygons) go to every worker once, rasters travel as lazy handles each task opens;
2. runs one task per school partition (:mod:`connectmap.engine.tasks`) that reads the tower partitions its halo
   reaches, keeps the rows within the halo plus the sentinels (:mod:`connectmap.engine.layers`), and calls the
   library's own steps on its schools;
3. recomputes, with a halo four times wider each round, every nearest answer that lay beyond the halo, until
   each is provably exact (at the latest when the halo spans the whole Earth);
4. gathers the partitions and puts the rows back in the input's order, with the input's index.

The steps that need every school at once (the shared-fibre tree, the budget rollout, sensitivity and scenario
totals) are not partitioned: they run on the assembled table exactly as in the local engine.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from connectmap.columns import TECHNOLOGIES
from connectmap.engine import tasks
from connectmap.engine.cluster import dask_client
from connectmap.engine.layers import (
    PartitionedLayer,
    ambiguous_site_rows,
    number_rows,
    sentinels_for,
    split_points,
    tower_sentinels,
)
from connectmap.engine.spatial import (
    MIN_PARTITION_ROWS,
    WHOLE_EARTH_KM,
    Footprint,
    Partition,
    hilbert_partitions,
    point_lonlat,
    reaching,
)
from connectmap.enrich.schools import NEAREST_SCHOOL_DISTANCE
from connectmap.io.fibre import FibreNetwork
from connectmap.io.rasters import RasterLayer
from connectmap.parameters.cost import CostParams
from connectmap.parameters.engine import EngineParams
from connectmap.parameters.enrich import EnrichParams

log = logging.getLogger(__name__)

#: How much wider the halo gets in each fallback round.
HALO_GROWTH = 4.0
#: Relative margin of the microwave halo over the microwave range: the cost model ranks candidate sites by chords
#: on a sphere, which differ from ellipsoidal geodesics by under 0.7 %; 2 % keeps every ranking the same.
MICROWAVE_MARGIN = 1.02


def tower_halo_km(params: EnrichParams, halo_km: float) -> float:
    """Halo (km) for the tower rows of an enrichment task: ``halo_km``, raised to the largest tower search radius.

    The largest radius is the longest modelled range (a technology's default range, or its cap when reported
    ranges are used) plus the coverage search radius, or the largest ``towers_within`` radius.
    """
    longest_m = 0.0
    for tech in TECHNOLOGIES:
        default_m, cap_m = params.modelled.range_m(tech)
        longest_m = max(longest_m, default_m, cap_m if params.modelled.use_reported_range else 0.0)
    need = (longest_m + params.coverage_search_radius_m) / 1000.0
    return max(halo_km, need, *params.tower_count_radii_km)


def school_halo_km(params: EnrichParams) -> float:
    """Halo (km) of other schools an enrichment task reads: the largest ``schools_within`` radius."""
    return max(params.school_count_radii_km)


def microwave_halo_km(params: CostParams) -> float:
    """Halo (km) of tower rows a costing task reads: the microwave range with :data:`MICROWAVE_MARGIN`."""
    return params.microwave.max_range_km * MICROWAVE_MARGIN + 0.01


@dataclass
class SchoolParts:
    """Schools in spatial partitions on the cluster.

    Attributes
    ----------
    futures
        One future per partition (the rows of the input, in its order within the partition).
    caps
        Footprint of each partition (``None`` for the partition of schools without a position).
    positions
        Positions of each partition's rows in the input table.
    located
        Schools with a position, in all partitions.
    dtypes
        Column types of the input table (to settle columns whose type a step sets only when a row needs it).
    """

    futures: list[Any]
    caps: list[Footprint | None]
    positions: list[NDArray[np.int64]]
    located: int
    dtypes: dict[str, Any]

    def reaching(self, area: Footprint | None, halo_km: float) -> list[int]:
        """Partitions that may hold a school within ``halo_km`` of the area."""
        return reaching(area, self.caps, halo_km)


def harmonise_dtypes(frames: list[pd.DataFrame], input_dtypes: dict[str, Any]) -> list[pd.DataFrame]:
    """Give every partition the same type per column before they are joined.

    A step may convert a column only when some row needs it (``quality_flags`` becomes ``str`` when a flag is
    appended to any row, and keeps the input's type otherwise); on the whole table one such row converts the
    column, so where partitions disagree the converted type (the one that differs from the input's) is the answer.
    """
    if len(frames) < 2:
        return frames
    for column in frames[0].columns:
        kinds = [frame[column].dtype for frame in frames]
        if all(kind == kinds[0] for kind in kinds) or column == getattr(frames[0], "_geometry_column_name", None):
            continue
        changed = [kind for kind in kinds if column not in input_dtypes or kind != input_dtypes[column]]
        target = changed[0] if changed else kinds[0]
        frames = [frame if frame[column].dtype == target else frame.assign(**{column: frame[column].astype(target)})
                  for frame in frames]
    return frames


class Engine:
    """Runs enrichment and the per-school costing steps locally or on Dask, with identical results.

    Use as a context manager: with ``kind="dask"`` and no client given, a local cluster is started on entry and
    stopped on exit.

    Parameters
    ----------
    params
        Engine parameters (:class:`~connectmap.parameters.engine.EngineParams`); defaults to local.
    client
        An existing :class:`distributed.Client` to use instead of starting one.

    Examples
    --------
    >>> with Engine(EngineParams(kind="dask")) as engine:  # doctest: +SKIP
    ...     enriched = engine.enrich(schools, towers=towers, fibre=fibre, params=config.enrich)
    """

    def __init__(self, params: EngineParams | None = None, *, client: Any = None) -> None:
        self.params = params or EngineParams()
        self.client = client
        self._session: Any = None

    @property
    def distributed(self) -> bool:
        """Whether the steps run on Dask."""
        return self.params.kind == "dask" or self.client is not None

    def __enter__(self) -> Engine:
        if self.distributed and self.client is None:
            self._session = dask_client(self.params)
            self.client = self._session.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            self.client = None
            session.__exit__(*exc)

    # --- public steps (same signatures and results as the local functions) ----------------------------------------
    def enrich(
        self,
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
        """:func:`connectmap.enrich.enrich` on this engine (same arguments, same result)."""
        from connectmap.enrich import enrich

        if not self.distributed:
            return enrich(schools, towers=towers, coverage_rasters=coverage_rasters,
                          coverage_polygons=coverage_polygons, fibre=fibre, population=population,
                          boundaries=boundaries, params=params)
        self._require_client()
        layer = self.scatter_towers(towers)
        parts = self.scatter_schools(schools, layer)
        shared = tasks.SharedLayers(tuple(coverage_rasters), coverage_polygons, fibre, population, boundaries)
        enriched = self.enrich_parts(parts, layer, shared, params or EnrichParams(), towers_given=towers is not None)
        return self.gather(enriched)

    def add_microwave_options_and_costs(
        self,
        schools: pd.DataFrame,
        towers: pd.DataFrame | None,
        fibre: Any,
        dem: Any = None,
        params: CostParams | None = None,
    ) -> pd.DataFrame:
        """:func:`connectmap.cost.add_microwave_options` (when towers or fibre are given) then
        :func:`connectmap.cost.add_costs`, on this engine."""
        from connectmap.cost import add_costs, add_microwave_options

        params = params or CostParams()
        microwave = towers is not None or fibre is not None
        if not self.distributed:
            if microwave:
                schools = add_microwave_options(schools, towers, fibre, dem=dem, params=params)
            return add_costs(schools, params)
        self._require_client()
        layer = self.scatter_towers(towers)
        parts = self.scatter_schools(schools, layer)
        costed = self.cost_parts(parts, layer, fibre, dem, params, microwave=microwave,
                                 towers_given=towers is not None)
        return self.gather(costed)

    # --- partitions on the cluster ---------------------------------------------------------------------------------
    def _require_client(self) -> None:
        if self.client is None:
            raise RuntimeError("the Dask engine needs a client: use `with Engine(...) as engine:`")

    def scatter_schools(self, schools: pd.DataFrame, towers: PartitionedLayer | None = None) -> SchoolParts:
        """Cut the schools into Hilbert partitions of ``partition_schools`` rows and send them to the cluster.

        With a tower layer, a partition whose halo would reach more than ``task_tower_rows`` tower rows (a thin
        sample of schools over a continent) is cut in two along the curve until it does not, or holds 1,000
        schools: the memory of a task follows the towers around its schools.
        """
        lon, lat = point_lonlat(schools)
        partitions = hilbert_partitions(lon, lat, self.params.partition_schools)
        if towers is not None and towers.part_rows:
            partitions = self._sized(partitions, lon, lat, towers)
        positions = [p.positions for p in partitions]
        frames = [schools.iloc[p] for p in positions]
        caps = [p.footprint for p in partitions]
        futures = self.client.scatter(frames) if frames else []
        located = int((np.isfinite(lon) & np.isfinite(lat)).sum())
        log.info("engine: %d schools in %d spatial partitions", len(schools), len(frames))
        return SchoolParts(list(futures), caps, positions, located, dict(schools.dtypes.items()))

    def _sized(self, partitions: list[Partition], lon: NDArray[np.float64], lat: NDArray[np.float64],
               towers: PartitionedLayer) -> list[Partition]:
        halo = tower_halo_km(EnrichParams(), self.params.halo_km)
        done, todo = [], list(partitions)
        while todo:
            part = todo.pop()
            if (part.footprint is None or part.curve.size < 2 * MIN_PARTITION_ROWS
                    or towers.rows_reached(part.footprint, halo) <= self.params.task_tower_rows):
                done.append(part)
            else:
                todo.extend(part.halves(lon, lat))
        return done

    def scatter_towers(self, towers: pd.DataFrame | None) -> PartitionedLayer | None:
        """Number the tower rows, cut them into Hilbert partitions and send them to the cluster."""
        if towers is None:
            return None
        numbered = number_rows(towers)
        if not isinstance(numbered, gpd.GeoDataFrame):
            raise TypeError("towers must be a GeoDataFrame (read them with connectmap.io.read_towers)")
        empty = numbered.iloc[:0]
        sentinels, groups = tower_sentinels(numbered)
        parts, caps = split_points(numbered, self.params.partition_towers) if len(numbered) else ([], [])
        futures = list(self.client.scatter(parts)) if parts else []
        layer = PartitionedLayer(futures, caps, sentinels, empty, len(numbered), groups,
                                 part_rows=[len(p) for p in parts])
        layer.extra["ambiguous"] = ambiguous_site_rows(numbered)
        log.info("engine: %d tower rows in %d spatial partitions", len(numbered), len(parts))
        return layer

    def gather(self, parts: SchoolParts) -> pd.DataFrame:
        """The partitions back as one table, rows in the input's order with the input's index."""
        frames = harmonise_dtypes(self.client.gather(parts.futures), parts.dtypes)
        if not frames:
            raise ValueError("no partitions to gather")
        table = pd.concat(frames) if len(frames) > 1 else frames[0]
        order = np.concatenate(parts.positions)
        result = table.iloc[np.argsort(order, kind="stable")]
        if isinstance(frames[0], gpd.GeoDataFrame) and not isinstance(result, gpd.GeoDataFrame):
            result = gpd.GeoDataFrame(result, geometry=frames[0].geometry.name, crs=frames[0].crs)
        return result

    def _submit(self, func: Any, *args: Any) -> Any:
        return self.client.submit(func, *args, pure=False)

    def _tower_inputs(
        self, layer: PartitionedLayer | None, area: Footprint | None, halo_km: float, sentinels: list[Any]
    ) -> tuple[list[Any], list[Any]]:
        if layer is None:
            return [], []
        return [layer.parts[j] for j in layer.reaching(area, halo_km)], sentinels

    # --- enrichment ------------------------------------------------------------------------------------------------
    def enrich_parts(
        self,
        schools: SchoolParts,
        towers: PartitionedLayer | None,
        shared: tasks.SharedLayers,
        params: EnrichParams,
        *,
        towers_given: bool = True,
    ) -> SchoolParts:
        """Enrich every partition on the cluster and make every nearest answer exact (see the module docstring)."""
        t_halo = tower_halo_km(params, self.params.halo_km)
        s_halo = school_halo_km(params)
        shared_f = self.client.scatter(shared, broadcast=True)
        sentinel_f = ([self.client.scatter(sentinels_for(towers.sentinels, params.per_operator), broadcast=True)]
                      if towers is not None else [])
        spec = tasks.TowerSpec(towers.empty if towers is not None else None, t_halo, None,
                               towers_given and towers is not None)
        keys = self._tower_keys(towers, params)
        results = []
        for i, (part, cap) in enumerate(zip(schools.futures, schools.caps, strict=True)):
            others = [schools.futures[j] for j in schools.reaching(cap, s_halo) if j != i]
            t_parts, t_sent = self._tower_inputs(towers, cap, t_halo, sentinel_f)
            results.append(self._submit(tasks.enrich_partition, part, others, t_parts, t_sent, spec, shared_f,
                                        params, cap, s_halo, keys, schools.located))
        outs = [self._submit(operator.itemgetter(0), r) for r in results]
        unresolved = self.client.gather([self._submit(operator.itemgetter(1), r) for r in results])
        del results
        fixes: dict[int, list[tuple[NDArray[np.int64], dict[str, Any]]]] = {}
        tower_todo = {i: {k: v for k, v in u.rows.items() if k != tasks.SCHOOLS} for i, u in enumerate(unresolved)}
        school_todo = {i: u.rows[tasks.SCHOOLS] for i, u in enumerate(unresolved) if tasks.SCHOOLS in u.rows}
        if towers is not None:
            self._tower_fallback(outs, schools.caps, towers, sentinel_f, {i: t for i, t in tower_todo.items() if t},
                                 t_halo, params, fixes)
        self._school_fallback(schools, school_todo, s_halo, params, fixes)
        for i, part_fixes in fixes.items():
            outs[i] = self._submit(tasks.apply_fixes, outs[i], part_fixes)
        return SchoolParts(outs, schools.caps, schools.positions, schools.located, schools.dtypes)

    @staticmethod
    def _tower_keys(towers: PartitionedLayer | None, params: EnrichParams) -> list[tuple[str, str | None]]:
        """Nearest-tower answers the enrichment adds: per technology, and per operator when asked."""
        if towers is None:
            return []
        keys: list[tuple[str, str | None]] = sorted({(tech, None) for tech, _ in towers.groups})
        if params.per_operator:
            keys += sorted({(tech, op) for tech, op in towers.groups if op is not None})
        return keys

    def _tower_fallback(
        self,
        outs: list[Any],
        caps: list[Footprint | None],
        towers: PartitionedLayer,
        sentinel_f: list[Any],
        todo: dict[int, dict[tuple[str, str | None], NDArray[np.int64]]],
        halo_km: float,
        params: EnrichParams,
        fixes: dict[int, list[tuple[NDArray[np.int64], dict[str, Any]]]],
    ) -> None:
        """Nearest towers beyond the halo: recomputed with a wider halo each round until every one is exact."""
        halo = halo_km
        while todo:
            halo = min(halo * HALO_GROWTH, WHOLE_EARTH_KM)
            log.info("engine: %d nearest-tower answers beyond the halo; recomputing within %.0f km",
                     sum(p.size for part in todo.values() for p in part.values()), halo)
            jobs = {}
            for i, keys in todo.items():
                technologies = tuple(sorted({tech for tech, _ in keys}))
                spec = tasks.TowerSpec(towers.empty, halo, technologies, True)
                columns = [c for key in keys for c in tasks.nearest_columns(key)]
                t_parts, t_sent = self._tower_inputs(towers, caps[i], halo, sentinel_f)
                jobs[i] = self._submit(tasks.nearest_towers_fallback, outs[i], t_parts, t_sent, spec, caps[i], params,
                                       columns)
            answers = dict(zip(jobs, self.client.gather(list(jobs.values())), strict=True))
            next_todo: dict[int, dict[tuple[str, str | None], NDArray[np.int64]]] = {}
            for i, keys in todo.items():
                for key, positions in keys.items():
                    dist_col, id_col = tasks.nearest_columns(key)
                    distance = answers[i][dist_col].to_numpy(dtype=np.float64, na_value=np.nan)[positions]
                    exact = ~(np.isfinite(distance) & (distance > halo)) | (halo >= WHOLE_EARTH_KM)
                    if exact.any():
                        ids = answers[i][id_col].to_numpy(dtype=object, na_value=None)[positions]
                        fixes.setdefault(i, []).append(
                            (positions[exact], {dist_col: distance[exact], id_col: ids[exact]}))
                    if (~exact).any():
                        next_todo.setdefault(i, {})[key] = positions[~exact]
            todo = next_todo

    def _school_fallback(
        self,
        schools: SchoolParts,
        todo: dict[int, NDArray[np.int64]],
        halo_km: float,
        params: EnrichParams,
        fixes: dict[int, list[tuple[NDArray[np.int64], dict[str, Any]]]],
    ) -> None:
        """Nearest other school beyond the halo: recomputed with a wider halo each round until exact."""
        halo = halo_km
        while todo:
            halo = min(halo * HALO_GROWTH, WHOLE_EARTH_KM)
            log.info("engine: %d nearest-school answers beyond the halo; recomputing within %.0f km",
                     sum(p.size for p in todo.values()), halo)
            jobs = {}
            for i in todo:
                others = [schools.futures[j] for j in schools.reaching(schools.caps[i], halo) if j != i]
                jobs[i] = self._submit(tasks.nearest_school_fallback, schools.futures[i], others, schools.caps[i],
                                       halo, params)
            answers = dict(zip(jobs, self.client.gather(list(jobs.values())), strict=True))
            next_todo = {}
            for i, positions in todo.items():
                distance = answers[i][positions]
                whole = halo >= WHOLE_EARTH_KM
                exact = (np.isfinite(distance) & (distance <= halo)) | whole
                if exact.any():
                    fixes.setdefault(i, []).append((positions[exact], {NEAREST_SCHOOL_DISTANCE: distance[exact]}))
                if (~exact).any():
                    next_todo[i] = positions[~exact]
            todo = next_todo

    # --- costing ---------------------------------------------------------------------------------------------------
    def cost_parts(
        self,
        schools: SchoolParts,
        towers: PartitionedLayer | None,
        fibre: Any,
        dem: Any,
        params: CostParams,
        *,
        microwave: bool = True,
        towers_given: bool = True,
    ) -> SchoolParts:
        """Microwave options and costs for every partition on the cluster."""
        halo = microwave_halo_km(params)
        fibre_f = self.client.scatter(fibre, broadcast=True) if fibre is not None else None
        sentinels = []
        if towers is not None:
            always = [self.client.scatter(sentinels_for(towers.sentinels, False), broadcast=True),
                      self.client.scatter(towers.extra["ambiguous"], broadcast=True)]
            backhauled = self._backhauled_site(towers, always[1], fibre_f, params) if fibre is not None else None
            sentinels = always + ([self.client.scatter(backhauled, broadcast=True)] if backhauled is not None else [])
        spec = tasks.TowerSpec(towers.empty if towers is not None else None, halo, None,
                               towers_given and towers is not None)
        outs = []
        for part, cap in zip(schools.futures, schools.caps, strict=True):
            t_parts, t_sent = self._tower_inputs(towers, cap, halo, sentinels)
            outs.append(self._submit(tasks.cost_partition, part, t_parts, t_sent, spec, fibre_f, dem, params, cap,
                                     microwave))
        return SchoolParts(outs, schools.caps, schools.positions, schools.located, schools.dtypes)

    def _backhauled_site(self, towers: PartitionedLayer, ambiguous_f: Any, fibre_f: Any,
                         params: CostParams) -> pd.DataFrame | None:
        """Rows of one fibre-backhauled site anywhere in the tower table (``None`` when no site is backhauled).

        The partitions are probed in parallel; the first that finds one ends the search.
        """
        from distributed import as_completed

        probes = [self._submit(tasks.backhauled_site, part, [ambiguous_f], fibre_f, params) for part in towers.parts]
        found = None
        for future in as_completed(probes):
            rows = future.result()
            if len(rows):
                found = rows
                break
        self.client.cancel(probes)
        return found
