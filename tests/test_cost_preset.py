"""The generic country preset: a documented TOML file that the config models validate, complete and in step."""

from __future__ import annotations

import tomllib

import tomlkit

from connectmap.config import _add_section, load_config
from connectmap.parameters import iter_parameters
from connectmap.parameters.cost import CostParams
from tests.conftest import PROJECT_ROOT

PRESET = PROJECT_ROOT / "connectmap" / "presets" / "generic.toml"

HEADER = """connectmap preset: a generic country.

The cost model's parameters with the defaults documented in connectmap.parameters.cost: open, sourced values
(Giga open cost model, ITU Connectivity Planning Platform, Oughton's pytal, ITU/UNICEF school-connectivity
targets) for a country with no local price data yet. Units are in the key names and in [brackets]; "Low" and
"High" are the values `connectmap cost --scenario low|high` uses.

To make a country preset: copy this file, change the prices you have local quotes for (fibre USD/km, mobile and
satellite USD/Mbps/year, solar USD/W, grid USD/kWh), keep the source comment up to date, and check it with
`connectmap config check FILE`. Keys you delete take their defaults."""


def generic_preset_text() -> str:
    """The preset as it should be; regenerate the file with
    ``python -c "from tests.test_cost_preset import write_preset; write_preset()"``."""
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    inputs = tomlkit.table()
    inputs.add(tomlkit.comment("Name of the run; outputs go to reports/<name>/ by default."))
    inputs.add("name", "generic")
    doc.add("inputs", inputs)
    cost = tomlkit.table()
    cost.add(tomlkit.comment("The cost model: demand, technologies, cash flows, least-cost choice, rollout and "
                             "sensitivity."))
    _add_section(cost, CostParams())
    doc.add("cost", cost)
    return tomlkit.dumps(doc)


def write_preset() -> None:
    PRESET.write_text(generic_preset_text(), encoding="utf-8")


def test_generic_preset_loads_through_the_config_models():
    config = load_config(PRESET)
    assert config.inputs.name == "generic"
    assert config.cost == CostParams()


def test_generic_preset_sets_every_cost_parameter_explicitly():
    text = PRESET.read_text(encoding="utf-8")
    data = tomllib.loads(text)["cost"]
    for info in iter_parameters(CostParams()):
        if info.value is None:  # TOML has no null: an unset parameter is shown as a comment
            assert f"# {info.path.split('.')[-1]} = (not set)" in text, info.path
            continue
        node = data
        for part in info.path.split("."):
            assert part in node, f"cost.{info.path} is missing from the preset"
            node = node[part]


def test_generic_preset_is_in_step_with_the_models():
    assert PRESET.read_text(encoding="utf-8") == generic_preset_text(), (
        "connectmap/presets/generic.toml is out of date; regenerate it with "
        "python -c \"from tests.test_cost_preset import write_preset; write_preset()\""
    )
