"""The root configuration: every parameter of every step, loaded from and written to TOML.

The sections are defined next to each other in :mod:`connectmap.parameters`; this module composes them, reads a
config file (reporting every unknown key and wrong type with its key path), and writes the documented default
file that ``connectmap config init`` produces.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, ValidationError

from connectmap.errors import ConfigError, MissingInputError
from connectmap.parameters import Section, iter_parameters
from connectmap.parameters.cost import CostParams
from connectmap.parameters.enrich import EnrichParams
from connectmap.parameters.inputs import InputsParams
from connectmap.parameters.maps import MapParams
from connectmap.parameters.predict import PredictParams
from connectmap.parameters.towers import TowerSiteParams
from connectmap.parameters.validation import ValidationParams
from connectmap.parameters.zerorating import ZeroRatingParams

__all__ = ["Config", "config_from_dict", "default_config_text", "load_config", "scenario"]


class Config(Section):
    """All parameters of a connectmap run."""

    inputs: InputsParams = InputsParams()
    validation: ValidationParams = ValidationParams()
    tower_sites: TowerSiteParams = TowerSiteParams()
    predict: PredictParams = PredictParams()
    cost: CostParams = CostParams()
    enrich: EnrichParams = EnrichParams()
    zerorating: ZeroRatingParams = ZeroRatingParams()
    maps: MapParams = MapParams()


def _format_validation_error(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: {err.error_count()} problem(s) in the configuration:"]
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against `connectmap config init`"
        elif "input" in problem and not isinstance(problem["input"], dict | list):
            message = f"{message} (got {problem['input']!r})"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def config_from_dict(data: dict[str, Any], origin: str = "<config>") -> Config:
    """Validate a nested dictionary into a :class:`Config`.

    Raises
    ------
    ConfigError
        Listing every unknown key and wrong value with its dotted key path.
    """
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, origin)) from None


def load_config(path: str | Path | None) -> Config:
    """Read a TOML config file; ``None`` gives the defaults.

    Raises
    ------
    MissingInputError
        When the file does not exist.
    ConfigError
        When it is not valid TOML or has unknown keys or wrong values.
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: config file not found; create one with `connectmap config init {path}`")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a valid TOML file: {err}") from None
    return config_from_dict(data, origin=str(path))


def scenario(config: Config, which: str) -> Config:
    """Return a copy of ``config`` with every parameter that has a low/high value set to it.

    Parameters
    ----------
    config
        The base configuration.
    which
        ``"low"``, ``"base"`` or ``"high"``.
    """
    if which == "base":
        return config.model_copy(deep=True)
    if which not in ("low", "high"):
        raise ConfigError(f"scenario must be low, base or high, not {which!r}")
    data = config.model_dump()
    for info in iter_parameters(config):
        value = info.low if which == "low" else info.high
        if value is None:
            continue
        node = data
        *parents, leaf = info.path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return config_from_dict(data, origin=f"{which} scenario")


def _comment_lines(text: str, width: int = 108) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def _add_section(container: Any, model: BaseModel) -> None:
    # Plain keys first, then sub-tables: in TOML every key after a [table] header belongs to that table.
    infos = {info.path: info for info in iter_parameters(model) if "." not in info.path}
    names = list(type(model).model_fields)
    for name in sorted(names, key=lambda n: isinstance(getattr(model, n), BaseModel)):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            table = tomlkit.table()
            for line in _comment_lines((value.__doc__ or "").strip().splitlines()[0]):
                table.add(tomlkit.comment(line))
            _add_section(table, value)
            container.add(name, table)
            continue
        info = infos[name]
        note = info.description
        if info.unit and info.unit != "-":
            note += f" [{info.unit}]"
        if info.low is not None or info.high is not None:
            note += f" Low {info.low}, high {info.high}."
        if info.source:
            note += f" Source: {info.source}."
        for line in _comment_lines(note):
            container.add(tomlkit.comment(line))
        dumped = model.model_dump(mode="json", include={name})[name]
        if dumped is None:
            container.add(tomlkit.comment(f"{name} = (not set)"))
        elif isinstance(dumped, dict):
            inline = tomlkit.inline_table()
            inline.update(dumped)
            container.add(name, inline)
        else:
            container.add(name, dumped)
        container.add(tomlkit.nl())


def default_config_text() -> str:
    """The documented default config file, as ``connectmap config init`` writes it."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("connectmap configuration. Every key is optional: a missing key takes its default."))
    doc.add(tomlkit.comment("Generated by `connectmap config init`; units are in the key names and in [brackets]."))
    doc.add(tomlkit.nl())
    _add_section(doc, Config())
    return tomlkit.dumps(doc)
