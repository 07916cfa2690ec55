"""Building blocks for parameter models: strict sections and documented fields.

Every parameter is a pydantic field made with :func:`param`: it has a default, a unit (also in its name), a
description, a source, and where sources disagree a low and a high value. The default config file, the workbook's
Assumptions sheet and the low/base/high scenarios are all generated from these fields, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Status codes of the Open Fibre Data Standard, as :func:`connectmap.io.read_fibre` normalises them: a parameter
#: that lists statuses takes only these, so a typo is an error rather than a network with nothing in service.
FibreStatus = Literal["operational", "underConstruction", "planned", "proposed", "decommissioned", "inactive"]


class Section(BaseModel):
    """A group of parameters. Unknown keys are errors, and values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def param(
    default: Any,
    *,
    unit: str,
    description: str,
    source: str | None = None,
    low: Any = None,
    high: Any = None,
    **constraints: Any,
) -> Any:
    """Declare one documented parameter.

    Parameters
    ----------
    default
        The base value.
    unit
        Unit of the value, for people (``"USD/km"``, ``"Mbps"``, ``"%"``, ``"-"`` for unitless).
    description
        One sentence saying what the parameter does.
    source
        Where the default comes from (a report, a model, a standard); ``None`` for connectmap's own choices
        such as file options.
    low, high
        Values for the low and high scenarios where sources disagree.
    **constraints
        Passed to :func:`pydantic.Field` (``ge``, ``le``, ``gt``, ...).
    """
    extra = {"unit": unit, "source": source, "low": low, "high": high}
    return Field(default, description=description, json_schema_extra=extra, **constraints)


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter as a row: where it is, its value, unit, low/base/high and source."""

    path: str
    value: Any
    unit: str
    description: str
    source: str | None
    low: Any
    high: Any


def iter_parameters(model: BaseModel, prefix: str = "") -> Iterator[ParameterInfo]:
    """Yield every parameter of ``model`` and its sub-sections, depth first, in declaration order.

    Parameters
    ----------
    model
        A :class:`Section` instance (or the root config).
    prefix
        Dotted path of ``model`` inside the root config.
    """
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from iter_parameters(value, prefix=f"{path}.")
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        yield ParameterInfo(
            path=path,
            value=value,
            unit=str(extra.get("unit", "")),
            description=field.description or "",
            source=extra.get("source"),  # type: ignore[arg-type]
            low=extra.get("low"),
            high=extra.get("high"),
        )
