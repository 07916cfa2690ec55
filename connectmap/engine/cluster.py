"""Connecting to a Dask cluster: a running one by address, or a local one started for the run.

The local cluster is :class:`distributed.LocalCluster` with worker *processes* of one thread each (the kernels are
single-threaded numpy/GEOS code that holds the GIL), a memory limit per worker, no dashboard, and quiet logs. Dask
spills a worker's results to disk at 60 % of its limit, pauses it at 80 % and restarts it at 95 %, so a run that
outgrows the machine slows down instead of taking the machine with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from connectmap.errors import ConnectmapError
from connectmap.parameters.engine import EngineParams

log = logging.getLogger(__name__)


#: Environment of local workers: one thread each for BLAS and numba (the workers are the parallelism; more threads
#: per worker only compete for the same cores).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


class ClusterError(ConnectmapError, ConnectionError):
    """The Dask scheduler cannot be reached or the local cluster cannot start."""


def machine_memory_bytes() -> int:
    """Physical memory of this machine (bytes)."""
    import psutil

    return int(psutil.virtual_memory().total)


def worker_memory_limit(params: EngineParams) -> int:
    """Memory limit of each local worker (bytes): ``memory_limit_gb``, or half the machine shared by the workers."""
    if params.memory_limit_gb > 0:
        return int(params.memory_limit_gb * 1024**3)
    return int(machine_memory_bytes() * 0.5 / params.n_workers)


@contextlib.contextmanager
def dask_client(params: EngineParams) -> Iterator[Any]:
    """A :class:`distributed.Client`: to ``params.scheduler`` when set, else to a local cluster started here.

    The local cluster is closed when the block ends, also on errors. A scheduler given by address is left running.

    Raises
    ------
    ClusterError
        When the scheduler does not answer within ``scheduler_timeout_s``, or the local cluster cannot start.
    """
    # The scheduler of a local cluster lives in this process: keep its routine INFO messages (workers joining and
    # leaving) out of the user's terminal while the cluster runs.
    chatty = logging.getLogger("distributed")
    level = chatty.level
    chatty.setLevel(logging.ERROR)
    try:
        session = _remote_client(params) if params.scheduler else _local_client(params)
        with session as client:
            yield client
    finally:
        chatty.setLevel(level)


@contextlib.contextmanager
def _remote_client(params: EngineParams) -> Iterator[Any]:
    from distributed import Client

    try:
        client = Client(params.scheduler, timeout=f"{params.scheduler_timeout_s}s")
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"--scheduler {params.scheduler}: no Dask scheduler answers there ({err}); start one with "
                           "`dask scheduler` and `dask worker ADDRESS`, or leave --scheduler out to use a local "
                           "cluster") from None
    log.info("connected to the Dask scheduler at %s (%d workers)", params.scheduler,
             len(client.scheduler_info().get("workers", {})))
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def _local_client(params: EngineParams) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    limit = worker_memory_limit(params)
    try:
        cluster = LocalCluster(
            n_workers=params.n_workers, threads_per_worker=1, processes=True, memory_limit=limit, host="127.0.0.1",
            dashboard_address=":0", scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR,
            env=WORKER_ENV,
        )
    except (OSError, RuntimeError) as err:
        raise ClusterError(f"cannot start a local Dask cluster ({err}); try --engine local") from None
    log.info("local Dask cluster: %d workers x 1 thread, %.1f GB each", params.n_workers, limit / 1024**3)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
