"""Progress bars for long steps: shown on a terminal, silent otherwise (tests, pipes, ``--quiet``).

Steps call :func:`track` around their long loops (blocks of a raster, chunks of a table) and :func:`step` around a
whole step; nothing is printed unless the CLI enabled progress and stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_enabled = False


def configure(*, enabled: bool) -> None:
    """Enable progress bars (only takes effect when stderr is a terminal)."""
    global _enabled
    _enabled = enabled and sys.stderr.isatty()


def enabled() -> bool:
    """Whether progress bars are shown."""
    return _enabled


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items``, with a progress bar when enabled."""
    if not _enabled:
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, transient=True, console=_console())


@contextlib.contextmanager
def step(description: str) -> Iterator[None]:
    """Show a spinner with ``description`` while the block runs, when enabled."""
    if not _enabled:
        yield
        return
    with _console().status(description):
        yield


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)
