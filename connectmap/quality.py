"""Data quality flags: one ``quality_flags`` column, codes joined by ``;``, each code documented once here.

Steps append flags with :func:`append_flag` (vectorised) and register what a code means with :func:`flag_code`,
so the README, the workbook's Data quality sheet and ``quality.json`` explain every code the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectmap.columns import QUALITY_FLAGS

#: Every flag and rejection code with its meaning.
CODES: dict[str, str] = {}


def flag_code(code: str, meaning: str) -> str:
    """Register a flag or rejection code and its meaning; returns the code."""
    CODES[code] = meaning
    return code


def append_flag(table: pd.DataFrame, mask: np.ndarray | pd.Series, code: str) -> pd.DataFrame:
    """Append ``code`` to ``quality_flags`` of the rows where ``mask`` is true (in place; creates the column).

    A row that already carries ``code`` keeps it once, so a step can run twice over the same table.

    Parameters
    ----------
    table
        The school table.
    mask
        Boolean array aligned with the table's rows.
    code
        A code registered with :func:`flag_code`.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself, for chaining.
    """
    if code not in CODES:
        raise KeyError(f"unregistered quality flag {code!r}")
    mask = np.asarray(mask, dtype=bool)
    if QUALITY_FLAGS not in table.columns:
        table[QUALITY_FLAGS] = pd.Series("", index=table.index, dtype="string")
    if not mask.any():
        return table
    current = table[QUALITY_FLAGS].fillna("").astype(str).to_numpy(dtype=object)
    chosen = current[mask]
    already = np.fromiter((code in c.split(";") for c in chosen), dtype=bool, count=chosen.size)
    current[mask] = np.where(already, chosen, np.where(chosen == "", code, chosen + ";" + code))
    table[QUALITY_FLAGS] = pd.Series(current, index=table.index, dtype="string")
    return table


def has_flag(table: pd.DataFrame, code: str) -> pd.Series:
    """Boolean mask of rows carrying ``code``."""
    if QUALITY_FLAGS not in table.columns:
        return pd.Series(False, index=table.index)
    return table[QUALITY_FLAGS].fillna("").str.split(";").map(lambda codes: code in codes).astype(bool)


def count_flags(table: pd.DataFrame) -> dict[str, int]:
    """Number of rows carrying each flag, sorted by code."""
    if QUALITY_FLAGS not in table.columns:
        return {}
    counts: dict[str, int] = {}
    # Few distinct combinations of flags exist, so split those rather than every row.
    for combination, n in table[QUALITY_FLAGS].fillna("").value_counts().items():
        for code in filter(None, str(combination).split(";")):
            counts[code] = counts.get(code, 0) + int(n)
    return dict(sorted(counts.items()))
