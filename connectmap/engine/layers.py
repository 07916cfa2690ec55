"""Point layers (tower sites, schools) held on the cluster in spatial partitions, and the halo a task reads.

A :class:`PartitionedLayer` is the driver's view: one future per partition (a GeoDataFrame whose rows carry their
position in the layer's global order in the :data:`~connectmap.engine.spatial.ROW` column), the cap around each
partition, and a few *sentinel* rows every task reads.

**Sentinels** keep a task's answers identical to the whole-table answer where the whole table matters even though
the rows are far away:

* the first row of every (technology, operator) group: the columns a step adds depend on which technologies and
  operators the table has (``nearest_<TECH>_distance__<operator>``, ``covering_operators`` empty vs unknown,
  coverage of a technology modelled as absent), and a far sentinel never changes an exact answer (it is a real row
  of the table, taken in its global order);
* for microwave links, the first row of every ``site_id`` that occurs at more than one position (the cost model
  places a site at its first row) and one site that fibre backhauls, when one exists (the cost model's reason
  "no fibre-backhauled site" is about the whole table).

:func:`rows_near` runs inside a task: it keeps the partitions' rows within the halo, adds the sentinels, removes
duplicates and restores the global order, so ties resolve as in the whole table.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from connectmap.engine.spatial import (
    ROW,
    Cap,
    Footprint,
    hilbert_partitions,
    point_lonlat,
    points_reached,
    reaching,
    within_halo,
)

#: Columns whose distinct combinations get a sentinel row in a tower layer.
TOWER_GROUPS = ("technology", "operator")


@dataclass
class PartitionedLayer:
    """A point layer split into spatial partitions on the cluster.

    Attributes
    ----------
    parts
        One future, in-memory frame or GeoParquet path per partition, rows in global order within each. Paths
        keep a large layer on disk: a task reads only the partitions its halo reaches.
    caps
        Footprint of each partition (``None`` for a partition without positions).
    sentinels
        Rows every task reads (see the module docstring), with their :data:`ROW`.
    empty
        A zero-row frame with the layer's columns (what a task sees when nothing is near).
    rows
        Rows in the whole layer.
    groups
        Distinct (technology, operator) pairs of a tower layer (operator ``None`` = unknown).
    extra
        Further sentinel frames by purpose (``"ambiguous"``: first rows of site ids found at several positions).
    part_rows
        Rows in each partition (sizes the school partitions: see :meth:`Engine.scatter_schools`).
    """

    parts: list[Any]
    caps: list[Footprint | Cap | None]
    sentinels: pd.DataFrame
    empty: gpd.GeoDataFrame
    rows: int
    groups: list[tuple[str, str | None]] = field(default_factory=list)
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    part_rows: list[int] = field(default_factory=list)

    def rows_reached(self, area: Footprint | Cap | None, halo_km: float) -> int:
        """Rows in the footprint cells of the layer that reach the area (an upper bound of the rows a task reads)."""
        return points_reached(area, self.caps, halo_km)

    def reaching(self, area: Footprint | Cap | None, halo_km: float) -> list[int]:
        """Partitions that may hold a point within ``halo_km`` of the area (none for ``None``: a school without a
        position has no neighbours)."""
        return reaching(area, self.caps, halo_km)


def number_rows(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``table`` with :data:`ROW` = its position (the global order used for ties)."""
    out = table.copy()
    out[ROW] = np.arange(len(out), dtype=np.int64)
    return out


def tower_sentinels(towers: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str | None]]]:
    """The first row of every (technology, operator) group, and the groups."""
    present = [c for c in TOWER_GROUPS if c in towers.columns]
    if not present or towers.empty:
        return towers.iloc[:0], []
    keys = towers[present].astype("str")
    first = towers.loc[~keys.duplicated().to_numpy()]
    groups = []
    for _, row in first.iterrows():
        tech = str(row["technology"]) if "technology" in first.columns else ""
        operator = row["operator"] if "operator" in first.columns else None
        groups.append((tech, None if pd.isna(operator) else str(operator)))
    return first, groups


def sentinels_for(sentinels: pd.DataFrame, per_operator: bool) -> pd.DataFrame:
    """The sentinel rows a task reads.

    With per-operator columns, the first row of every (technology, operator) group. Without, per technology its
    first row and its first row with a known operator: enough for the all-operator columns, for coverage of a
    technology modelled as absent or not, and for ``covering_operators`` to be empty rather than unknown (which
    only needs some operator with that technology) -- and a handful of rows instead of one per operator of the
    world.
    """
    if per_operator or sentinels.empty or "technology" not in sentinels.columns:
        return sentinels
    tech = sentinels["technology"].astype("str")
    keep = ~tech.duplicated().to_numpy()
    if "operator" in sentinels.columns:
        known = sentinels["operator"].notna().to_numpy()
        first_known = np.zeros(len(sentinels), dtype=bool)
        rows = np.flatnonzero(known)
        first_known[rows[~tech.iloc[rows].duplicated().to_numpy()]] = True
        keep |= first_known
    return sentinels.loc[keep]


def ambiguous_site_rows(towers: pd.DataFrame) -> pd.DataFrame:
    """First row of every ``site_id`` found at more than one position (the cost model places a site at its first
    row, so a task that sees only a later row of such an id must also see the first)."""
    if "site_id" not in towers.columns or towers.empty:
        return towers.iloc[:0]
    lon, lat = point_lonlat(towers)
    frame = pd.DataFrame({"site": towers["site_id"].astype("str").to_numpy(), "lon": lon, "lat": lat})
    places = frame.drop_duplicates().groupby("site", sort=False).size()
    ambiguous = places.index[places.to_numpy() > 1]
    if not len(ambiguous):
        return towers.iloc[:0]
    rows = towers.loc[frame["site"].isin(ambiguous).to_numpy()]
    return rows.loc[~rows["site_id"].astype("str").duplicated().to_numpy()]


def split_points(table: gpd.GeoDataFrame, rows: int) -> tuple[list[gpd.GeoDataFrame], list[Footprint | None]]:
    """Cut a numbered table (:func:`number_rows`) into Hilbert partitions of at most ``rows``, with their
    footprints (caps per grid cell, with the rows in each)."""
    lon, lat = point_lonlat(table)
    partitions = hilbert_partitions(lon, lat, rows)
    return [table.iloc[p.positions] for p in partitions], [p.footprint for p in partitions]


#: Partitions read from GeoParquet that a worker process keeps, most recently used last, and the most rows kept
#: (about 300 bytes a tower row: ~450 MB a worker). Neighbouring school partitions read the same tower partitions,
#: and so do the fallback rounds, so reading each file once per worker instead of once per task is most of the
#: reading saved. Keyed by path, modification time and size: a file written again is read again.
_PART_CACHE: OrderedDict[tuple[str, int, int, tuple[str, ...] | None], pd.DataFrame] = OrderedDict()
PART_CACHE_ROWS = 1_500_000
_PART_CACHE_LOCK = threading.Lock()


def load_part(part: Any, technologies: Sequence[str] | None = None) -> pd.DataFrame:
    """A partition given as a frame, or read from its GeoParquet file (through this process's cache).

    With ``technologies``, a file is read with only the rows of those technologies (a nearest-tower fallback for NR
    decodes a twentieth of the rows); a frame given in memory is returned whole. The frame returned may be shared
    with other tasks of the process: callers must not modify it in place.
    """
    if not isinstance(part, str | Path):
        return part
    stat = os.stat(part)
    wanted = None if technologies is None else tuple(sorted(set(technologies)))
    key = (str(part), stat.st_mtime_ns, stat.st_size, wanted)
    with _PART_CACHE_LOCK:
        frame = _PART_CACHE.get(key)
        if frame is not None:
            _PART_CACHE.move_to_end(key)
            return frame
    if wanted is not None and "technology" in pq.read_schema(part).names:
        frame = gpd.read_parquet(part, filters=[("technology", "in", list(wanted))])
    else:
        frame = gpd.read_parquet(part)
    with _PART_CACHE_LOCK:
        _PART_CACHE[key] = frame
        rows = sum(len(f) for f in _PART_CACHE.values())
        while rows > PART_CACHE_ROWS and len(_PART_CACHE) > 1:
            rows -= len(_PART_CACHE.popitem(last=False)[1])
    return frame


def rows_near(
    parts: Sequence[pd.DataFrame],
    sentinels: Sequence[pd.DataFrame],
    area: Footprint | Cap | None,
    halo_km: float,
    empty: pd.DataFrame,
    technologies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Inside a task: the rows of ``parts`` within the halo of ``area``, plus the sentinels, in global order.

    Parameters
    ----------
    parts
        Partitions of the layer (only those that reach the area need be given).
    sentinels
        Rows always included.
    area, halo_km
        The school partition's footprint and the halo width (km).
    empty
        Zero-row frame with the layer's columns, returned when nothing is near.
    technologies
        Keep only these technologies (a nearest-tower fallback needs no other).
    """
    frames = []
    for part in (load_part(p, technologies) for p in parts):
        lon, lat = point_lonlat(part)
        keep = within_halo(lon, lat, area, halo_km)
        if keep.any():
            frames.append(part.loc[keep] if not keep.all() else part)
    frames.extend(s for s in sentinels if len(s))
    if not frames:
        return empty
    table = pd.concat(frames) if len(frames) > 1 else frames[0]
    if not isinstance(table, gpd.GeoDataFrame):
        table = gpd.GeoDataFrame(table, geometry=empty.geometry.name, crs=empty.crs)
    if technologies is not None and "technology" in table.columns:
        table = table.loc[table["technology"].astype("str").isin(list(technologies)).to_numpy()]
    table = table.loc[~table[ROW].duplicated().to_numpy()]
    return table.sort_values(ROW, kind="stable")
