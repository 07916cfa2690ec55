"""Atomic output files that never replace an input.

Every writer in :mod:`connectmap.report` writes through :func:`atomic_path`: the content goes to a temporary file
in the destination folder and is moved into place with :func:`os.replace` only when it is complete, so a run
killed part-way leaves the previous output intact and no temporary file behind (the temporary file is removed on
any exception; after SIGKILL it is a hidden ``.<name>.<random>.tmp<suffix>`` file that the next write of the same
output removes). The temporary name keeps the final suffix, so writers that choose a format by extension (GDAL,
openpyxl) see the right one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from connectmap.errors import OutputError

_PROTECTED: set[Path] = set()


def protect_inputs(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Register input files that no output may overwrite (for the rest of the process)."""
    for path in paths:
        with contextlib.suppress(OSError):
            _PROTECTED.add(Path(path).resolve())


def check_not_input(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`OutputError` if ``path`` is a registered input file; return it resolved."""
    resolved = Path(path).resolve()
    if resolved in _PROTECTED:
        raise OutputError(f"{path}: refusing to write an output over an input file; choose another --out folder")
    return resolved


def _remove_stale_temps(target: Path) -> None:
    for stale in target.parent.glob(f".{target.name}.*.tmp{target.suffix}"):
        with contextlib.suppress(OSError):
            stale.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path
        The final output file. Its folder is created if needed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> out.read_text()
    'hello'
    """
    target = check_not_input(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # Some writers (GDAL) refuse to write over an existing file, so hand them a path that does not exist yet.
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"{path}: the writer produced no file")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@contextlib.contextmanager
def output_folder(folder: str | os.PathLike[str], *, last: Iterable[str] = ("manifest.json",)) -> Iterator[Path]:
    """Stage a whole run's outputs, then move them into ``folder`` only when all were written.

    Yields a hidden staging folder inside ``folder``; write every output there (under its final name). On success
    each staged file replaces its namesake in ``folder`` with :func:`os.replace` (files named in ``last`` move
    last, so a manifest appears only beside a complete set). On any error, or if the process is killed, the
    previous outputs in ``folder`` stay as they were; a staging folder left by a killed run is removed by the
    next run.

    Parameters
    ----------
    folder
        The output folder (created if needed).
    last
        Names of files to move after all others.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(".staging-*"):
        pid = stale.name.removeprefix(".staging-").split("-")[0]
        if not (pid.isdigit() and _alive(int(pid))):
            _remove_tree(stale)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=target))
    try:
        yield staging
        staged = sorted(p for p in staging.rglob("*") if p.is_file() and not p.name.startswith("."))
        order = [p for p in staged if p.name not in set(last)] + [p for p in staged if p.name in set(last)]
        for path in order:
            destination = target / path.relative_to(staging)
            check_not_input(destination)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
    finally:
        _remove_tree(staging)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
