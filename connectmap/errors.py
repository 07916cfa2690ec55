"""The errors connectmap raises for user mistakes.

Every error a user can cause (a missing file, a column that is not there, an ambiguous layer, a config key with a
typo) is a :class:`ConnectmapError`. The CLI prints its message as one line and exits non-zero without a traceback;
anything else is a bug and keeps its traceback.

Messages name the file, the row or column, and what to do. Build them with :func:`where` so they read the same
everywhere::

    raise InputError(f"{where(path, column='latitude')}: no coordinate column found; pass --columns latitude=...")

The subclasses also inherit from the built-in exception a Python user would expect (as rasterio does with
``RasterioIOError(RasterioError, OSError)``), so ``except FileNotFoundError`` and ``except ValueError`` keep working.
"""

from __future__ import annotations

from os import PathLike


class ConnectmapError(Exception):
    """Base class for every error caused by input, configuration or usage rather than a bug."""

    exit_code = 2


class InputError(ConnectmapError, ValueError):
    """An input file cannot be read as asked: unknown encoding, corrupt file, ambiguous layer, bad values."""


class MissingInputError(InputError, FileNotFoundError):
    """An input file or folder does not exist."""


class SchemaError(InputError):
    """A table lacks a column it needs, or two columns claim the same meaning."""


class CRSError(InputError):
    """A layer has no coordinate reference system, or one that cannot be used."""


class ConfigError(ConnectmapError, ValueError):
    """A configuration file or parameter is invalid (unknown key, wrong type, out of range)."""


class ModelError(ConnectmapError, ValueError):
    """A saved model cannot be used: unsafe format, tampered file, or features the table lacks."""


class OutputError(ConnectmapError, OSError):
    """An output cannot be written, for example because it would overwrite an input."""


def where(path: str | PathLike[str] | None, *, row: int | None = None, column: str | None = None) -> str:
    """Describe a place in an input for an error message.

    Parameters
    ----------
    path
        The file the problem is in, or ``None`` for an in-memory table.
    row
        The row as a person finds it in the file (1 = header line for delimited text).
    column
        The column name as it is in the file.

    Returns
    -------
    str
        For example ``"schools.csv, row 12, column 'latitude'"``.
    """
    parts = [str(path) if path is not None else "<table>"]
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)
