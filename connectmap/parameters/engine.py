"""Parameters of :mod:`connectmap.engine`: where enrichment and costing run, and how the work is cut up.

These say *how* the steps are executed, never *what* they compute: the Dask engine gives the same columns as the
local one (README.md, section "Scale: the Dask engine and the benchmarks"). They are therefore not part of the
results-defining :class:`connectmap.config.Config`; the CLI sets them from ``--engine`` and ``--scheduler``.
"""

from __future__ import annotations

from connectmap.parameters._base import Section, param

_SOURCE = "connectmap; measured with benchmarks/run.py on a 2-core, 24 GB machine"


class EngineParams(Section):
    """Execution engine for enrichment and costing: this process, or a Dask cluster."""

    kind: str = param(
        "local", unit="-", pattern="^(local|dask)$",
        description="local: every step in this process; dask: schools in spatial partitions on a Dask cluster "
        "(a local one unless scheduler is set).",
        source="connectmap",
    )
    scheduler: str | None = param(
        None, unit="-",
        description="Address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); not set: start a local "
        "cluster for the run and stop it afterwards.",
        source="connectmap",
    )
    scheduler_timeout_s: float = param(
        20.0, unit="s", gt=0.0,
        description="How long to wait for the scheduler at `scheduler` to answer before giving up.",
        source="connectmap",
    )
    n_workers: int = param(
        2, unit="processes", ge=1,
        description="Worker processes of the local cluster (one thread each: the kernels are single-threaded "
        "numpy and GEOS, and threads would compete for the GIL).",
        source=_SOURCE,
    )
    memory_limit_gb: float = param(
        0.0, unit="GB", ge=0.0,
        description="Memory limit of each local worker (Dask spills to disk at 60 %, pauses at 80 %, restarts "
        "the worker at 95 %); 0 = half of this machine's memory shared by the workers.",
        source="connectmap; Dask's defaults for the spill/pause/terminate fractions",
    )
    partition_schools: int = param(
        50_000, unit="schools", ge=1,
        description="Schools per spatial partition (Hilbert-curve order); one partition is one task.",
        source=_SOURCE,
    )
    partition_towers: int = param(
        200_000, unit="rows", ge=1,
        description="Tower rows per spatial partition of the tower table; a school partition reads only the "
        "tower partitions its halo reaches.",
        source=_SOURCE,
    )
    task_tower_rows: int = param(
        300_000, unit="rows", ge=1,
        description="Most tower rows a task should read (counted in the 0.5° cells its halo reaches); a school "
        "partition that would read more is cut in two along the curve, down to 1,000 schools. Keeps a task's "
        "memory and the operators it models coverage for in proportion to its own area.",
        source=_SOURCE,
    )
    halo_km: float = param(
        50.0, unit="km", gt=0.0,
        description="Width of the ring of towers and schools around a school partition that its task also reads. "
        "Raised automatically to the largest search radius (tower and school counts, modelled tower range plus "
        "the coverage search radius, microwave range). A nearest tower or school farther than the ring is "
        "recomputed with a ring four times wider, until the answer is provably exact.",
        source=_SOURCE,
    )
