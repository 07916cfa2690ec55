"""Shared timing and memory helpers for the benchmark scripts.

Each measured call runs in a fresh Python process (multiprocessing "spawn"), so its peak memory is its own and
earlier runs leave nothing cached; the figure reported is the median of the repeats. Peak memory is the child's
peak resident set size (``ru_maxrss``), including the interpreter and imported libraries (~150-250 MB), which the
``baseline`` row of each table shows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WORK = os.path.join(os.path.dirname(__file__), "_work")


@dataclass
class Measurement:
    """Median seconds over repeats and the largest peak memory seen."""

    step: str
    size: str
    method: str
    seconds: list[float]
    peak_mb: float
    note: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


def _child(queue: Any, target: Callable[..., Any], args: tuple, repeats: int) -> None:
    try:
        setup = getattr(target, "setup", None)
        state = setup(*args) if setup else args
        seconds = []
        note = ""
        for _ in range(repeats):
            start = time.perf_counter()
            result = target(*state) if setup else target(*args)
            seconds.append(time.perf_counter() - start)
            if isinstance(result, str):
                note = result
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        queue.put(("ok", seconds, peak_mb, note))
    except BaseException as err:  # report any failure to the parent
        queue.put(("error", repr(err), 0.0, ""))


def measure(step: str, size: str, method: str, target: Callable[..., Any], *args: Any, repeats: int = 3) -> Measurement:
    """Run ``target(*args)`` ``repeats`` times in one fresh process; return median time and peak memory.

    ``target`` must be importable (a module-level function). If it has a ``setup`` attribute, ``setup(*args)``
    runs once first, untimed, and its return value (a tuple) is passed to every timed call instead of ``args``.
    A string returned by ``target`` is kept as a note (e.g. a check that the result was right).
    """
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, target, args, repeats))
    process.start()
    status, seconds, peak_mb, note = queue.get()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{step} / {method} failed: {seconds}")
    return Measurement(step, size, method, seconds, peak_mb, note)


def machine() -> str:
    """One line describing this machine."""
    return f"{platform.node()}: {os.cpu_count()} cores, {_memory_gb():.0f} GB, Python {platform.python_version()}"


def _memory_gb() -> float:
    try:
        with open("/proc/meminfo") as handle:
            return int(handle.readline().split()[1]) / 1024 / 1024
    except OSError:  # pragma: no cover
        return float("nan")


def print_table(rows: Sequence[Measurement], *, title: str) -> str:
    """Print (and return) a Markdown table of measurements."""
    lines = [
        f"### {title}",
        f"{time.strftime('%Y-%m-%d')}, {machine()}; median of the repeats, peak RSS of the measuring process.",
        "",
        "| step | size | method | median s | runs | peak MB | note |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.step} | {row.size} | {row.method} | {row.median_s:.3f} | {len(row.seconds)} | "
            f"{row.peak_mb:,.0f} | {row.note} |"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text
