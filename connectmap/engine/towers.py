"""OpenCelliD cells to tower sites on Dask, straight into the spatial partitions the enrichment reads.

:func:`connectmap.io.towers.cells_to_sites` applies its rule per operator (cells of different operators are never
one site), so a table of cells can be split by operator and each part collapsed on its own:

1. the cells (a Dask DataFrame in the columns ``cells_to_sites`` reads) are grouped so that each operator's cells
   are in one partition — as they come when the partitions do not share an operator (OpenCelliD's per-country
   files), otherwise by a Dask shuffle on ``operator``;
2. each partition, in its own task, goes through ``cells_to_sites``; its rows get their place in the order
   ``cells_to_sites`` gives the whole table (operator name, then the representative cell's identity, then
   technology): the operator's rank among all operator names (known before any cell is collapsed) times 2^40,
   plus the row's rank within its operator; then they are cut into Hilbert partitions of ``partition_towers`` rows
   with their caps, and handed to ``sink`` (e.g. written to GeoParquet) when one is given;
3. only the caps, the sentinel rows and the counts come back to this process.

A partition of cells is read, collapsed and released by one task, so memory is bounded by the largest partition,
not by the table. The result equals ``cells_to_sites`` on all cells at once, row for row (``tests/test_engine.py``).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from connectmap.engine.layers import PartitionedLayer, ambiguous_site_rows, split_points, tower_sentinels
from connectmap.engine.spatial import ROW
from connectmap.parameters.towers import TowerSiteParams

log = logging.getLogger(__name__)

#: Stands for a missing operator (``cells_to_sites`` sorts it after every name).
_NO_OPERATOR = "\uffff<unknown operator>"
#: Rows of one operator stay below this, so ``rank * _OPERATOR_STRIDE + row`` orders operators first.
_OPERATOR_STRIDE = 2**40

#: Called on a worker with (site partition, group number, partition number); returns what stands for the partition
#: in the layer (e.g. the path it was written to).
Sink = Callable[[pd.DataFrame, int, int], Any]


def _operator_keys(table: pd.DataFrame) -> pd.Series:
    return table["operator"].astype("str").fillna(_NO_OPERATOR)


def _operators(cells: pd.DataFrame) -> set[str]:
    return set(_operator_keys(cells).unique())


def _sites_of_partition(
    cells: pd.DataFrame,
    rank: dict[str, int],
    colocation_radius_m: float,
    identity_radius_m: float,
    rows: int,
    sink: Sink | None,
    group: int,
) -> dict[str, Any]:
    """Collapse one partition of cells, number its rows in the global order, cut it and hand it to the sink."""
    from connectmap.io.towers import cells_to_sites

    sites = cells_to_sites(cells, colocation_radius_m=colocation_radius_m, identity_radius_m=identity_radius_m)
    keys = _operator_keys(sites)
    within = keys.groupby(keys, sort=False).cumcount().to_numpy(dtype=np.int64)
    sites[ROW] = keys.map(rank).to_numpy(dtype=np.int64) * _OPERATOR_STRIDE + within
    sites = sites.sort_values(ROW, kind="stable")
    parts, caps = split_points(sites, rows) if len(sites) else ([], [])
    sentinels, _ = tower_sentinels(sites)
    part_rows = [len(part) for part in parts]
    if sink is not None:
        parts = [sink(part, group, k) for k, part in enumerate(parts)]
    return {"parts": parts, "caps": caps, "sentinels": sentinels, "ambiguous": ambiguous_site_rows(sites),
            "rows": len(sites), "empty": sites.iloc[:0], "part_rows": part_rows}


def _summary(result: dict[str, Any], with_parts: bool) -> dict[str, Any]:
    return {k: v for k, v in result.items() if with_parts or k != "parts"}


def sites_from_cells(
    client: Any,
    cells: Any,
    *,
    params: TowerSiteParams | None = None,
    partition_towers: int = 200_000,
    sink: Sink | None = None,
) -> PartitionedLayer:
    """Collapse cells into tower sites on the cluster (see the module docstring).

    Parameters
    ----------
    client
        A :class:`distributed.Client`.
    cells
        A Dask DataFrame of cells with the columns :func:`connectmap.io.towers.cells_to_sites` reads
        (``operator``, ``technology``, ``lon``, ``lat``, optionally ``range_m``, ``samples``, ``mcc``, ``mnc``,
        ``area``, ``cell``, ``site_hint``), e.g. from ``dask.dataframe.read_parquet``.
    params
        Co-location and eNodeB radii (``[tower_sites]``).
    partition_towers
        Site rows per spatial partition of the result.
    sink
        Called on the worker with each site partition; what it returns (a path) stands for the partition in the
        layer. Without a sink the partitions stay in the cluster's memory.

    Returns
    -------
    PartitionedLayer
        The tower table in spatial partitions, rows numbered in ``cells_to_sites``'s order.
    """
    import dask

    params = params or TowerSiteParams()
    found = client.gather(client.compute([dask.delayed(_operators)(part) for part in cells.to_delayed()]))
    everyone: set[str] = set()
    overlap = False
    for operators in found:
        overlap |= bool(everyone & operators)
        everyone |= operators
    if overlap:
        log.info("engine: cells of one operator are in several partitions; shuffling them by operator")
        cells = cells.shuffle("operator")
    names = sorted(everyone, key=lambda name: (name == _NO_OPERATOR, name))  # cells_to_sites' operator order
    rank = {name: i for i, name in enumerate(names)}
    jobs = [dask.delayed(_sites_of_partition, pure=False)(part, rank, params.colocation_radius_m,
                                                           params.enodeb_radius_m, partition_towers, sink, k)
            for k, part in enumerate(cells.to_delayed())]
    results = client.compute(jobs)
    summaries = client.gather([client.submit(_summary, r, sink is not None, pure=False) for r in results])
    parts: list[Any] = []
    for result, summary in zip(results, summaries, strict=True):
        if sink is not None:
            parts += summary["parts"]
        else:
            group_parts = client.submit(operator.itemgetter("parts"), result, pure=False)
            parts += [client.submit(operator.itemgetter(k), group_parts, pure=False)
                      for k in range(len(summary["caps"]))]
    del results
    caps = [cap for summary in summaries for cap in summary["caps"]]
    sentinels, groups = tower_sentinels(pd.concat([s["sentinels"] for s in summaries]).sort_values(ROW, kind="stable"))
    empty = next((s["empty"] for s in summaries if len(s["empty"].columns)), summaries[0]["empty"])
    rows = int(sum(s["rows"] for s in summaries))
    layer = PartitionedLayer(parts, caps, sentinels, empty, rows, groups,
                             part_rows=[n for summary in summaries for n in summary["part_rows"]])
    layer.extra["ambiguous"] = pd.concat([s["ambiguous"] for s in summaries]).sort_values(ROW, kind="stable")
    log.info("engine: %d site rows of %d operators in %d spatial partitions", rows, len(names), len(parts))
    return layer


def gather_layer(client: Any, layer: PartitionedLayer) -> pd.DataFrame:
    """The whole layer as one table in its global order, without the row numbers (for checks and small runs)."""
    from connectmap.engine.layers import load_part

    frames = [load_part(part) for part in client.gather(layer.parts)]
    if not frames:
        return layer.empty.drop(columns=[ROW])
    table = pd.concat(frames).sort_values(ROW, kind="stable")
    return table.drop(columns=[ROW]).reset_index(drop=True)
