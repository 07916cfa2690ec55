"""Parameters and config files: documented, in step with the models, and strict about mistakes."""

from __future__ import annotations

import tomllib

import pytest

from connectmap.config import Config, config_from_dict, default_config_text, load_config, scenario
from connectmap.errors import ConfigError, MissingInputError
from connectmap.parameters import iter_parameters
from tests.conftest import PROJECT_ROOT

DEFAULT_FILE = PROJECT_ROOT / "connectmap" / "presets" / "default.toml"


def test_every_parameter_is_documented():
    infos = list(iter_parameters(Config()))
    assert len(infos) > 10
    for info in infos:
        assert info.description.strip(), f"{info.path} has no description"
        assert info.unit.strip(), f"{info.path} has no unit"
        assert (info.low is None) == (info.high is None), f"{info.path}: give both low and high, or neither"


def test_default_config_text_round_trips_to_defaults():
    data = tomllib.loads(default_config_text())
    assert config_from_dict(data) == Config()
    for info in iter_parameters(Config()):
        if info.value is not None:
            assert f"{info.path.split('.')[-1]} =" in default_config_text(), info.path


def test_shipped_default_file_is_in_step_with_the_models():
    assert DEFAULT_FILE.read_text(encoding="utf-8") == default_config_text(), (
        "connectmap/presets/default.toml is out of date; run "
        "`connectmap config init connectmap/presets/default.toml --force`"
    )


def test_unknown_keys_and_wrong_types_name_their_key_path(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[validation]\nnear_duplicate_any_m = "fifty"\nmax_num_studnets = 5\n[inputs.schools]\nlayerr = "x"\n'
        "[nonsense]\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and "4 problem(s)" in message
    assert "validation.near_duplicate_any_m: Input should be a valid number" in message and "'fifty'" in message
    assert "validation.max_num_studnets: unknown key" in message
    assert "inputs.schools.layerr: unknown key" in message
    assert "nonsense: unknown key" in message


def test_constraints_and_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"validation.near_duplicate_any_m: Input should be greater than 0"):
        config_from_dict({"validation": {"near_duplicate_any_m": -1}})
    # A misspelt fibre status would leave no fibre in service; it is refused with the codes that are allowed.
    with pytest.raises(ConfigError, match=r"enrich.fibre_statuses.1: Input should be 'operational', "
                                          r"'underConstruction'.*\(got 'Operationnal'\)"):
        config_from_dict({"enrich": {"fibre_statuses": ["planned", "Operationnal"]}})
    with pytest.raises(ConfigError, match=r"cost.microwave.backhaul_fibre_statuses.0"):
        config_from_dict({"cost": {"microwave": {"backhaul_fibre_statuses": ["built"]}}})
    assert config_from_dict({"enrich": {"fibre_statuses": ["underConstruction"]}}).enrich.fibre_statuses == [
        "underConstruction"]
    with pytest.raises(MissingInputError, match="config init"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[validation\n")
    with pytest.raises(ConfigError, match="not a valid TOML file"):
        load_config(bad)


def test_scenarios_take_low_and_high_values():
    base = Config()
    rows = [info for info in iter_parameters(base) if info.low is not None or info.high is not None]
    assert rows, "no parameter has a low/high range"
    for which in ("low", "high"):
        changed = {info.path: info.value for info in iter_parameters(scenario(base, which))}
        for info in rows:
            expected = info.low if which == "low" else info.high
            assert changed[info.path] == (info.value if expected is None else expected), info.path
    assert scenario(base, "base") == base
    with pytest.raises(ConfigError):
        scenario(base, "medium")


def test_config_commands(tmp_path, run_cli):
    path = tmp_path / "connectmap.toml"
    code, out, _ = run_cli("config", "init", path)
    assert code == 0 and path.read_text(encoding="utf-8") == default_config_text()
    assert out.strip() == f"wrote {path}"
    code, _, err = run_cli("config", "init", path)
    assert code == 2 and "already exists; pass --force" in err
    assert run_cli("config", "check", path)[0] == 0
    path.write_text("[validation]\nmax_num_students = 'many'\n")
    code, _, err = run_cli("config", "check", path)
    assert code == 2 and "validation.max_num_students" in err and "Traceback" not in err
