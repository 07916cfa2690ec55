"""Running enrichment and costing on one machine or on a Dask cluster, with identical results.

* :class:`Engine` — ``engine.enrich(...)`` and ``engine.add_microwave_options_and_costs(...)`` take the same
  arguments as :func:`connectmap.enrich.enrich`, :func:`connectmap.cost.add_microwave_options` and
  :func:`connectmap.cost.add_costs` and give the same table; ``kind="dask"`` runs them in spatial partitions on a
  local cluster or on one given by address (:class:`~connectmap.parameters.engine.EngineParams`).
* :func:`dask_client` — the cluster connection the engine uses.
* :mod:`connectmap.engine.spatial` (caps and halos), :mod:`connectmap.engine.layers` (partitioned layers and
  sentinels), :mod:`connectmap.engine.tasks` (what a task runs), :mod:`connectmap.engine.towers` (OpenCelliD cells to
  tower sites on Dask).

How partitions and halos keep results identical is explained in README.md, section "Scale: the Dask engine and the
benchmarks".
"""

from connectmap.engine.cluster import ClusterError, dask_client
from connectmap.engine.engine import Engine, SchoolParts
from connectmap.parameters.engine import EngineParams

__all__ = ["ClusterError", "Engine", "EngineParams", "SchoolParts", "dask_client"]
