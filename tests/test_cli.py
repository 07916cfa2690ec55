"""The command line: help, version, the validate command on real data, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from connectmap import __version__
from tests.conftest import shared_file


def test_help_and_version():
    done = subprocess.run([sys.executable, "-m", "connectmap.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "validate" in done.stdout and "config" in done.stdout
    done = subprocess.run([sys.executable, "-m", "connectmap.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"connectmap {__version__}"


def test_validate_command_on_mauritania(tmp_path, run_cli):
    register = shared_file("mauritania", "Mauritania_4Visual_mockup_063007.csv")
    outline = shared_file("mauritania", "ne10m_MRT_admin0.geojson")
    code, out, err = run_cli("validate", register, "--boundary", outline, "--out", tmp_path)
    assert code == 0, err
    assert "2942 rows read: 2939 schools kept, 3 rejected" in out
    schools = pd.read_csv(tmp_path / "schools.csv", dtype=str, keep_default_na=False)
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str, keep_default_na=False)
    quality = json.loads((tmp_path / "quality.json").read_text(encoding="utf-8"))
    assert len(schools) + len(rejected) == quality["rows_in"] == 2942
    assert rejected["reason"].tolist() == ["empty_row", "missing_coordinates", "missing_coordinates"]
    assert "Knoema" in rejected["reason_detail"].iloc[1]
    assert quality["checks"]["swapped_coordinates_fixed"] == schools["quality_flags"].str.contains("swapped").sum()
    import geopandas as gpd

    layer = gpd.read_file(tmp_path / "schools.gpkg")
    assert len(layer) == 2939 and layer.crs.to_epsg() == 4326
    assert (layer.geometry.x.round(9) == layer["longitude"].round(9)).all()
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_user_mistakes_print_one_line_and_exit_2(tmp_path):
    register = tmp_path / "s.csv"
    register.write_text("name,x,y\nA,1,2\n")
    for args, expected in (
        (["validate", str(tmp_path / "missing.csv")], "school register not found"),
        (["validate", str(register), "--out", str(tmp_path / "o")], "no coordinate columns found"),
        (["validate", str(register), "-c", "latitude"], "expected KEY=VALUE"),
    ):
        done = subprocess.run([sys.executable, "-m", "connectmap.cli", *args], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr
        assert "Traceback" not in done.stderr


def test_public_api_is_lazy_and_complete():
    code = (
        "import sys, connectmap as cm; assert 'geopandas' not in sys.modules, 'import connectmap is not light'; "
        "[getattr(cm, name) for name in cm.__all__]; print(len(cm.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 30
