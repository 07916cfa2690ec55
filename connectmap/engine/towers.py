"""OpenCelliD cells to tower sites on Dask, straight into the spatial partitions the enrichment reads.

:func:`connectmap.io.towers.cells_to_sites` applies its rule per operator (cells of different operators are never
one site), so a table of cells can be split by operator and each part collapsed on its own:

1. the cells (a Dask DataFrame in the columns ``cells_to_sites`` reads) are grouped so that each operator's cells
   are in one partition — as they come when the partitions do not share an operator (OpenCelliD's per-country
   files), otherwise by a Dask shuffle on ``operator``;
2. each partition goes through ``cells_to_sites``;
3. the rows get their position in the order ``cells_to_sites`` gives the whole table (operator name, then the
   representative cell's identity, then technology): the partitions' per-operator row counts give each operator's
   offset;
4. each partition's sites are cut into Hilbert partitions of ``partition_towers`` rows with their caps.

The result equals ``cells_to_sites`` on all cells at once, row for row (``tests/test_engine.py``).
"""

from __future__ import annotations

import logging
import operator
from typing import Any

import numpy as np
import pandas as pd

from connectmap.engine.layers import PartitionedLayer, ambiguous_site_rows, split_points, tower_sentinels
from connectmap.engine.spatial import ROW
from connectmap.parameters.towers import TowerSiteParams

log = logging.getLogger(__name__)


#: Stands for a missing operator in the offsets (``cells_to_sites`` sorts it after every name).
_NO_OPERATOR = "\uffff<unknown operator>"


def _operator_keys(sites: pd.DataFrame) -> pd.Series:
    return sites["operator"].astype("str").fillna(_NO_OPERATOR)


def _collapse(cells: pd.DataFrame, colocation_radius_m: float, identity_radius_m: float) -> tuple[Any, pd.Series]:
    """Sites of one partition of cells, and its rows per operator."""
    from connectmap.io.towers import cells_to_sites

    sites = cells_to_sites(cells, colocation_radius_m=colocation_radius_m, identity_radius_m=identity_radius_m)
    return sites, _operator_keys(sites).value_counts(sort=False)


def _operators(cells: pd.DataFrame) -> set[str]:
    return set(cells["operator"].astype("str").fillna(_NO_OPERATOR).unique())


def _number_and_split(sites: Any, offsets: dict[str, int], rows: int) -> tuple[list[Any], list[Any], Any, Any]:
    """Give each site row its global position, cut the partition into Hilbert parts, and find its sentinels."""
    operators = _operator_keys(sites)
    within = operators.groupby(operators, sort=False).cumcount().to_numpy()
    base = operators.map(offsets).to_numpy(dtype=np.int64)
    numbered = sites.copy()
    numbered[ROW] = base + within
    numbered = numbered.sort_values(ROW, kind="stable")
    parts, caps = split_points(numbered, rows) if len(numbered) else ([], [])
    sentinels, _ = tower_sentinels(numbered)
    return parts, caps, sentinels, ambiguous_site_rows(numbered)


def _operators_overlap(client: Any, cells: Any) -> bool:
    """Whether two partitions of the cells share an operator."""
    import dask

    seen: set[str] = set()
    for found in client.gather(client.compute([dask.delayed(_operators)(part) for part in cells.to_delayed()])):
        if seen & found:
            return True
        seen |= found
    return False


def sites_from_cells(
    client: Any, cells: Any, *, params: TowerSiteParams | None = None, partition_towers: int = 200_000
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

    Returns
    -------
    PartitionedLayer
        The tower table in spatial partitions on the cluster, rows numbered in ``cells_to_sites``'s order.
    """
    params = params or TowerSiteParams()
    if _operators_overlap(client, cells):
        log.info("engine: cells of one operator are in several partitions; shuffling them by operator")
        cells = cells.shuffle("operator")
    groups = client.compute(cells.to_delayed())
    collapsed = [client.submit(_collapse, g, params.colocation_radius_m, params.enodeb_radius_m, pure=False)
                 for g in groups]
    del groups
    counts = client.gather([client.submit(operator.itemgetter(1), c, pure=False) for c in collapsed])
    per_operator = pd.concat(counts).groupby(level=0, sort=False).sum() if counts else pd.Series(dtype=np.int64)
    # cells_to_sites orders operators by name (its factorize(sort=True)), a missing operator last
    names = sorted(per_operator.index.astype(str), key=lambda name: (name == _NO_OPERATOR, name))
    offsets = dict(zip(names, np.r_[0, np.cumsum(per_operator.reindex(names).to_numpy())][:-1].tolist(),
                       strict=True))
    sites = [client.submit(operator.itemgetter(0), c, pure=False) for c in collapsed]
    del collapsed
    split = [client.submit(_number_and_split, s, offsets, partition_towers, pure=False) for s in sites]
    del sites
    caps = client.gather([client.submit(operator.itemgetter(1), s, pure=False) for s in split])
    parts = []
    for future, group_caps in zip(split, caps, strict=True):
        parts_of_group = client.submit(operator.itemgetter(0), future, pure=False)
        parts += [client.submit(operator.itemgetter(k), parts_of_group, pure=False) for k in range(len(group_caps))]
    flat_caps = [cap for group_caps in caps for cap in group_caps]
    sentinels = client.gather([client.submit(operator.itemgetter(2), s, pure=False) for s in split])
    ambiguous = client.gather([client.submit(operator.itemgetter(3), s, pure=False) for s in split])
    empty = client.submit(_empty_like, parts[0], pure=False).result() if parts else None
    sentinel_table = pd.concat(sentinels).sort_values(ROW, kind="stable")
    sentinel_table, groups_found = tower_sentinels(sentinel_table)
    rows = int(per_operator.sum())
    layer = PartitionedLayer(parts, flat_caps, sentinel_table, empty, rows, groups_found)
    layer.extra["ambiguous"] = pd.concat(ambiguous).sort_values(ROW, kind="stable")
    log.info("engine: %d site rows of %d operators in %d spatial partitions", rows, len(names), len(parts))
    return layer


def _empty_like(part: pd.DataFrame) -> pd.DataFrame:
    return part.iloc[:0]


def gather_layer(client: Any, layer: PartitionedLayer) -> pd.DataFrame:
    """The whole layer as one table in its global order, without the row numbers (for checks and small runs)."""
    frames = client.gather(layer.parts)
    if not frames:
        return layer.empty.drop(columns=[ROW]) if layer.empty is not None else pd.DataFrame()
    table = pd.concat(frames).sort_values(ROW, kind="stable")
    return table.drop(columns=[ROW]).reset_index(drop=True)
