"""Which columns the model learns from, and turning them into the numbers scikit-learn needs.

Defaults are the columns enrichment computes (tower distances, coverage, fibre distance, population and schools
nearby) and the register's own electricity, enrolment, region and education level — each used when the training
table has it. Users add numeric columns by name or pattern (``--features 'pop_*,!pop_var'``). A saved model
records its features (name and kind) and refuses a table that lacks any of them, naming where each comes from.

Values become numbers here, vectorised: numeric text is parsed, yes/no becomes 1/0, the coverage type becomes a
generation number (``no coverage`` = 0, ``2G`` = 2 ... ``5G`` = 5), and region or education level stay text for
the one-hot encoder inside the pipeline. Missing stays missing (NaN): the pipeline handles it, never this module.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from connectmap import columns as C
from connectmap.errors import ModelError, SchemaError, where

FeatureKind = Literal["number", "flag", "coverage", "category"]

_TOWERS = "tower distances: enrichment with a tower list (towers=...)"
_COVERAGE = "coverage: enrichment with coverage rasters/polygons or modelled from towers"
_FIBRE = "fibre: enrichment with fibre nodes and lines (fibre=...)"
_POPULATION = "population: enrichment with a population raster (population=...)"
_NEIGHBOURS = "schools nearby: enrichment (computed from the school table itself)"
_REGISTER = "the school register"
_REGIONS = "the school register, or enrichment with admin boundaries (boundaries=...)"


@dataclass(frozen=True)
class Feature:
    """One model input.

    Attributes
    ----------
    name
        Column of the school table.
    kind
        ``number`` (float), ``flag`` (yes/no as 1/0), ``coverage`` (best generation as 0, 2-5) or ``category``
        (text, one-hot encoded in the pipeline).
    source
        Where the column comes from, for error messages and the model card.
    """

    name: str
    kind: FeatureKind
    source: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form stored in the model file and the model card."""
        return {"name": self.name, "kind": self.kind, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Feature:
        """Inverse of :meth:`to_dict`; refuses unknown kinds."""
        if data.get("kind") not in ("number", "flag", "coverage", "category") or not data.get("name"):
            raise ModelError(f"the model file describes a feature it cannot use: {data!r}")
        return cls(str(data["name"]), data["kind"], str(data.get("source", "")))  # type: ignore[arg-type]


def _default_features() -> tuple[Feature, ...]:
    features: list[Feature] = []
    for tech in C.TECHNOLOGIES:
        features.append(Feature(f"nearest_{tech}_distance", "number", _TOWERS))
    for tech in C.TECHNOLOGIES:
        features.append(Feature(f"covered_{tech}", "flag", _COVERAGE))
    features += [
        Feature(C.COVERAGE_TYPE, "coverage", _COVERAGE),
        Feature(C.COVERAGE_AVAILABILITY, "flag", _COVERAGE),
        Feature("fiber_node_distance", "number", _FIBRE),
        Feature("fiber_line_distance_km", "number", _FIBRE),
    ]
    radii = (1, 2, 3, 5, 10)
    features += [Feature(f"pop_within_{r}km", "number", _POPULATION) for r in radii]
    features += [Feature(f"schools_within_{r}km", "number", _NEIGHBOURS) for r in radii]
    features += [
        Feature("nearest_school_distance", "number", _NEIGHBOURS),
        Feature(C.ELECTRICITY, "flag", _REGISTER),
        Feature(C.NUM_STUDENTS, "number", _REGISTER),
        Feature(C.NUM_TEACHERS, "number", _REGISTER),
        Feature(C.ADMIN1, "category", _REGIONS),
        Feature(C.EDUCATION_LEVEL, "category", _REGISTER),
    ]
    return tuple(features)


#: Columns used by default when the training table has them (and at least one value is known).
DEFAULT_FEATURES: tuple[Feature, ...] = _default_features()
#: ``towers_within_<R>km`` counts are used too, whatever radii enrichment was asked for.
DEFAULT_PATTERNS: tuple[tuple[str, Feature], ...] = (
    ("towers_within_*km", Feature("towers_within_*km", "number", _TOWERS)),
)

#: Never features: identity, coordinates, the label itself and bookkeeping columns.
EXCLUDED: frozenset[str] = frozenset({
    C.SOURCE_ROW, C.SCHOOL_ID_GIGA, C.SCHOOL_ID_GOVT, C.SCHOOL_NAME, C.LATITUDE, C.LONGITUDE, C.CONNECTIVITY,
    C.QUALITY_FLAGS, "geometry", "connectivity_probability", "connectivity_source",
})
#: Column names whose values are given by the user as a comma-separated list, e.g. ``"a,b*,!b_var"``.
_USER_SOURCE = "a column named with --features when the model was trained"

#: Coverage labels (Giga's "2G".."5G", radio names such as "LTE", "no coverage") as generation numbers.
_GENERATION_NUMBER: dict[str, float] = {
    **{alias: float(C.GENERATION[tech][0]) for alias, tech in C.RADIO_ALIASES.items()},
    **{label.lower(): float(label[0]) for label in C.GENERATION.values()},
    C.COVERAGE_NONE: 0.0, "none": 0.0, "no service": 0.0, "no_coverage": 0.0,
}
_MISSING_TEXT = {"", "unknown", "nan", "na", "n/a"}

_TRUE = {"1", "1.0", "yes", "y", "true", "t", "connected"}
_FALSE = {"0", "0.0", "no", "n", "false", "f", "not connected", "unconnected"}


def table_path(table: pd.DataFrame) -> str | None:
    """The file a table was read from (recorded by :func:`connectmap.io.read_schools`), or None."""
    info = table.attrs.get("connectmap", {}) if isinstance(table.attrs, dict) else {}
    return info.get("path")


def _rows(table: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    """``"row 12"`` / ``"rows 3, 4 and 7 more"``: rows as a person finds them in the file (``source_row``, where
    the header is row 1), or positions counted from 1 in a table that was not read from a file."""
    positions = np.flatnonzero(mask)[:limit]
    labels = table[C.SOURCE_ROW].to_numpy()[positions] if C.SOURCE_ROW in table.columns else positions + 1
    text = ", ".join(str(int(v)) for v in labels)
    total = int(mask.sum())
    more = total - len(positions)
    return ("row " if total == 1 else "rows ") + text + (f" and {more} more" if more > 0 else "")


# --- labels -----------------------------------------------------------------------------------------------------
def parse_labels(table: pd.DataFrame, column: str = C.CONNECTIVITY) -> pd.Series:
    """Read the connectivity label as a nullable boolean.

    Parameters
    ----------
    table
        School table. The label may already be a nullable boolean (as :func:`connectmap.io.read_schools` gives
        it), numbers 1/0, or text yes/no, true/false, 1/0 (any case).
    column
        Label column.

    Returns
    -------
    pandas.Series
        ``boolean`` dtype, NA where unknown (empty). All NA when the column is absent.

    Raises
    ------
    SchemaError
        When a value is none of the above, naming the rows and the values.
    """
    if column not in table.columns:
        return pd.Series(pd.NA, index=table.index, dtype="boolean")
    values = table[column]
    if isinstance(values.dtype, pd.BooleanDtype) or values.dtype == bool:
        return values.astype("boolean")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64")
        bad = numbers.notna() & ~numbers.isin([0.0, 1.0])
        shown = numbers[bad]
    else:
        text = values.astype("string").str.strip().str.lower()
        text = text.mask(text == "")
        true, false = text.isin(_TRUE).fillna(False), text.isin(_FALSE).fillna(False)
        bad = text.notna() & ~true & ~false
        numbers = pd.Series(np.where(true, 1.0, np.where(false, 0.0, np.nan)), index=table.index)
        shown = values[bad]
    if bad.any():
        examples = ", ".join(repr(v) for v in shown.astype(str).unique()[:5])
        raise SchemaError(
            f"{where(table_path(table), column=column)}: {_rows(table, bad.to_numpy())}: not yes/no, "
            f"true/false or 1/0 (values {examples}); correct them or leave them empty for unknown"
        )
    return pd.Series(numbers, index=table.index).map({1.0: True, 0.0: False}).astype("boolean")


# --- choosing features ------------------------------------------------------------------------------------------
def _numeric(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, np.ndarray]:
    """Parse to float64; returns the numbers and a mask of non-empty values that are not numbers."""
    if isinstance(values.dtype, pd.BooleanDtype) or values.dtype == bool:
        return values.astype("Float64").astype("float64"), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        return numbers.where(np.isfinite(numbers)), np.zeros(len(values), dtype=bool)
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    failed = (text.notna() & numbers.isna()).to_numpy(dtype=bool)
    return numbers.where(np.isfinite(numbers)), failed


def _decimal(table: pd.DataFrame) -> str:
    info = table.attrs.get("connectmap", {}) if isinstance(table.attrs, dict) else {}
    return info.get("decimal", ".") or "."


def _parse_spec(spec: str | Iterable[str] | None) -> tuple[list[str], list[str]]:
    """Split ``"a,b*,!c"`` (or a list of such items) into include and exclude patterns."""
    if spec is None:
        return [], []
    items = spec.split(",") if isinstance(spec, str) else [part for item in spec for part in str(item).split(",")]
    include, exclude = [], []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item.startswith("!"):
            exclude.append(item[1:].strip())
        else:
            include.append(item)
    return include, exclude


def _is_pattern(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def select_features(
    table: pd.DataFrame,
    extra: str | Sequence[str] | None = None,
    *,
    use_defaults: bool = True,
) -> tuple[Feature, ...]:
    """Choose the model's features from a training table.

    Parameters
    ----------
    table
        The labelled school table.
    extra
        Further numeric columns: names or shell patterns, comma-separated or as a list; ``!pattern`` removes
        columns (``"nightlight.*,!nightlight.cf_*"``). A name given exactly must be numeric; a pattern takes only
        the matching columns whose values are all numbers (or empty).
    use_defaults
        Start from :data:`DEFAULT_FEATURES` (those present with at least one known value).

    Returns
    -------
    tuple of Feature
        In a stable order: defaults first (in their documented order), then the user's columns in table order.

    Raises
    ------
    SchemaError
        A named column is missing or not numeric, a pattern matches nothing, or no feature is left.
    """
    include, exclude = _parse_spec(extra)
    path = table_path(table)
    decimal = _decimal(table)

    def excluded(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)

    chosen: dict[str, Feature] = {}
    if use_defaults:
        for feature in DEFAULT_FEATURES:
            if feature.name in table.columns and table[feature.name].notna().any() and not excluded(feature.name):
                chosen[feature.name] = feature
        for pattern, template in DEFAULT_PATTERNS:
            for name in table.columns:
                if fnmatch.fnmatchcase(str(name), pattern) and table[name].notna().any() and not excluded(name):
                    chosen[str(name)] = Feature(str(name), template.kind, template.source)
    user: list[str] = []
    for item in include:
        if _is_pattern(item):
            matched = [str(c) for c in table.columns if fnmatch.fnmatchcase(str(c), item) and str(c) not in EXCLUDED
                       and not str(c).startswith("_")]
            numeric = [c for c in matched if not _numeric(table[c], decimal)[1].any() and table[c].notna().any()]
            if not numeric:
                raise SchemaError(
                    f"{where(path)}: --features pattern {item!r} matches no numeric column"
                    + (f" (it matches {', '.join(repr(c) for c in matched[:5])}, which hold text)" if matched else "")
                )
            user += numeric
            continue
        if item not in table.columns:
            raise SchemaError(
                f"{where(path, column=item)}: the feature column is not in the table; the columns are: "
                + ", ".join(repr(str(c)) for c in table.columns if str(c) not in EXCLUDED)
            )
        if item in EXCLUDED:
            raise SchemaError(f"{where(path, column=item)}: cannot be a feature (identifier, coordinate or label)")
        failed = _numeric(table[item], decimal)[1]
        if failed.any():
            bad = table[item][failed].astype(str).unique()[:3]
            raise SchemaError(
                f"{where(path, column=item)}: {_rows(table, failed)}: not numbers (values "
                f"{', '.join(repr(v) for v in bad)}); features named with --features must be numeric"
            )
        user.append(item)
    defaults_by_name = {f.name: f for f in DEFAULT_FEATURES}
    for name in user:
        if name in chosen or excluded(name):
            continue
        default = defaults_by_name.get(name)
        chosen[name] = default if default is not None else Feature(name, "number", _USER_SOURCE)
    if not chosen:
        raise SchemaError(
            f"{where(path)}: no feature columns to learn from. Enrich the table first (towers, coverage, fibre, "
            "population) or name numeric columns with --features"
        )
    return tuple(chosen.values())


def check_features(table: pd.DataFrame, features: Sequence[Feature]) -> None:
    """Refuse a table that lacks any of the model's features, listing each with where it comes from.

    Raises
    ------
    ModelError
    """
    missing = [f for f in features if f.name not in table.columns]
    if not missing:
        return
    by_source: dict[str, list[str]] = {}
    for feature in missing:
        by_source.setdefault(feature.source, []).append(feature.name)
    detail = "; ".join(f"{', '.join(names)} (from {source})" for source, names in by_source.items())
    raise ModelError(
        f"{where(table_path(table))}: the table lacks {len(missing)} column(s) the model was trained on: {detail}. "
        "Enrich the table the same way as the training table, or train a model on the columns you have"
    )


# --- turning features into a frame for the pipeline ---------------------------------------------------------------
def _coverage_number(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    numbers = text.map(_GENERATION_NUMBER)
    return pd.to_numeric(numbers, errors="coerce").astype("float64")


def _category(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(_MISSING_TEXT))
    # object dtype with NaN for missing: what SimpleImputer and OneHotEncoder expect for text.
    return pd.Series(np.where(text.isna(), np.nan, text.astype(object)), index=values.index, dtype=object)


def feature_frame(table: pd.DataFrame, features: Sequence[Feature]) -> pd.DataFrame:
    """The model's input frame: one float64 column per number/flag/coverage feature, object for categories.

    Parameters
    ----------
    table
        School table holding every feature column (check with :func:`check_features` first).
    features
        The model's features.

    Returns
    -------
    pandas.DataFrame
        Same index as ``table``; NaN where a value is unknown.

    Raises
    ------
    SchemaError
        When a numeric feature holds text that is not a number (naming rows and values).
    """
    check_features(table, features)
    decimal = _decimal(table)
    columns: dict[str, pd.Series] = {}
    for feature in features:
        values = table[feature.name]
        if feature.kind == "category":
            columns[feature.name] = _category(values)
        elif feature.kind == "coverage":
            columns[feature.name] = _coverage_number(values)
        elif feature.kind == "flag" and not (
            isinstance(values.dtype, pd.BooleanDtype) or pd.api.types.is_numeric_dtype(values.dtype)
        ):
            text = values.astype("string").str.strip().str.lower()
            flag = np.where(text.isin(_TRUE).fillna(False), 1.0, np.where(text.isin(_FALSE).fillna(False), 0.0, np.nan))
            columns[feature.name] = pd.Series(flag, index=table.index)
        else:
            numbers, failed = _numeric(values, decimal)
            if failed.any():
                bad = values[failed].astype(str).unique()[:3]
                raise SchemaError(
                    f"{where(table_path(table), column=feature.name)}: {_rows(table, failed)}: not numbers "
                    f"(values {', '.join(repr(v) for v in bad)}); correct them or leave them empty for unknown"
                )
            columns[feature.name] = numbers
    return pd.DataFrame(columns, index=table.index)


def check_label_leaks(frame: pd.DataFrame, labels: pd.Series, features: Sequence[Feature], path: str | None) -> None:
    """Refuse a feature that is a copy of the label (or its negation) on every labelled school.

    Such a column (the Botswana files carry ``connectivity.1``) would give a perfect score on paper and nothing in
    use, where the label is unknown.
    """
    known = labels.notna().to_numpy()
    y = labels[known].astype(bool).to_numpy().astype(float)
    for feature in features:
        if feature.kind == "category":
            continue
        values = frame[feature.name].to_numpy(dtype=float)[known]
        if np.isnan(values).any() or len(values) == 0:
            continue
        if np.array_equal(values, y) or np.array_equal(values, 1.0 - y):
            raise ModelError(
                f"{where(path, column=feature.name)}: the column equals the connectivity label on all {len(y)} "
                "labelled schools, so it is a copy of the answer, not a predictor; leave it out "
                f"(--features '...,!{feature.name}')"
            )
