"""The whole pipeline: `connectmap run` on the real Mauritania files, the demo, manifests, and killed runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import openpyxl
import pandas as pd
import pytest

from connectmap.demo import generate_demo_country
from connectmap.pipeline import CORE_OUTPUTS, run
from tests.conftest import PROJECT_ROOT, shared_file

VOLATILE = ("started_at", "finished_at", "timings_s")


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """A 300-school demo country (the generator is tested in test_demo.py)."""
    return generate_demo_country(tmp_path_factory.mktemp("demo_data"), n_schools=300)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_run_on_mauritania_outputs_agree_with_each_other(tmp_path, run_cli):
    folder = "mauritania"
    register = shared_file(folder, "Mauritania_4Visual_mockup_063007.csv")
    files = {
        "--towers": shared_file(folder, "mauritania_towers_from_register.csv"),
        "--boundaries": shared_file(folder, "ne10m_MRT_admin0.geojson"),
        "--population": shared_file(folder, "derived_afripop2020_MRT_clip.tif"),
    }
    args = ["run", "--schools", register, "--fibre", shared_file(folder, "MRT_nodes.geojson"),
            "--fibre", shared_file(folder, "MRT_lines.geojson"), "--population-value", "density",
            "-c", "admin1=Wilaya", "-c", "admin2=Moughataa", "--name", "mauritania", "--out", tmp_path]
    for option, path in files.items():
        args += [option, path]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "2,939 schools (3 rows rejected)" in out
    for name in CORE_OUTPUTS:
        assert (tmp_path / name).stat().st_size > 0, name

    # every input school is in schools.csv or rejected.csv, once
    schools = pd.read_csv(tmp_path / "schools.csv", dtype={"school_id_govt": str}, low_memory=False)
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str)
    lines = register.read_text(encoding="utf-8").splitlines()
    rows = sorted(schools["source_row"].tolist() + rejected["source_row"].astype(int).tolist())
    assert rows == list(range(2, len(lines) + 1))
    assert len(schools) == 2939
    assert (schools["technology"].notna() | schools["infeasible_reasons"].notna()).all()

    # the map holds one school feature per school
    from tests.test_maps import page_data

    page = page_data((tmp_path / "map.html").read_text(encoding="utf-8"))
    school_layers = [layer for layer in page["points"] if layer["id"] == "schools"]
    assert len(school_layers) == 1 and len(school_layers[0]["lat"]) == len(schools)
    np.testing.assert_allclose(sorted(school_layers[0]["lat"]), sorted(schools["latitude"]), atol=1e-5)

    # the workbook, recalculated by LibreOffice, totals what the CSV sums
    from tests.test_excel_libreoffice import SOFFICE, operators_sheet, recalculate

    if SOFFICE is None:
        pytest.skip("LibreOffice is not installed: apt-get install libreoffice-calc")
    book = openpyxl.load_workbook(recalculate(tmp_path / "investment_case.xlsx", tmp_path / "lo"), data_only=True)
    national = operators_sheet(book)["All operators"]
    assert national["zero_rating_gb_per_year"] == pytest.approx(schools["zero_rating_gb_per_year"].sum(), abs=0.01)
    assert national["zero_rating_cost_usd_per_year"] == pytest.approx(
        schools["zero_rating_usd_per_year"].sum(), abs=0.01)
    assert book["Schools"].max_row - 1 == len(schools)

    # the manifest names the inputs by hash and counts rows per step
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"]["schools"][0]["sha256"] == _sha256(register)
    assert manifest["rows"]["read"]["rows"] == len(lines) - 1
    assert manifest["rows"]["validate"] == {"clean": len(schools), "rejected": len(rejected)}
    assert "coverage is modelled from tower ranges" in " ".join(manifest["missing_layers"])
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert f"**{len(schools):,} schools** kept" in summary


def test_two_runs_give_the_same_manifest(small_demo, tmp_path):
    first = run(small_demo.config, out=tmp_path / "a", png=False).manifest
    second = run(small_demo.config, out=tmp_path / "b", png=False).manifest
    for key in VOLATILE:
        assert key in first
        first.pop(key), second.pop(key)
    assert first == second
    assert first["rows"]["read"]["rows"] == 300
    # and the manifest on disk is what the run returned
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in on_disk.items() if k not in VOLATILE} == first


def test_run_reports_what_missing_layers_take_away(small_demo, tmp_path):
    config = small_demo.config.model_copy(deep=True)
    config.inputs = config.inputs.model_copy(update={
        "towers": [], "coverage": [], "fibre": [], "population": None, "boundaries": None, "dem": None})
    result = run(config, out=tmp_path, png=False)
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for word in ("no tower list", "no fibre network", "no population raster", "no boundaries"):
        assert word in summary
    assert len(result.manifest["missing_layers"]) == 6
    # no tower or fibre data: distances stay empty, never zero; fibre infeasible for want of data
    schools = pd.read_csv(tmp_path / "schools.csv", low_memory=False)
    assert "nearest_LTE_distance" not in schools or schools["nearest_LTE_distance"].isna().all()
    assert schools["infeasible_reasons"].fillna("").str.contains("fibre:no_fibre_data").sum() == (
        schools["cost_status"] != "already_connected").sum()


def test_run_refuses_to_write_over_an_input(small_demo, tmp_path):
    from connectmap.errors import OutputError

    assert small_demo.schools.name == "schools.csv"  # the register has the name of an output
    before = _sha256(small_demo.schools)
    with pytest.raises(OutputError, match="over an input"):
        run(small_demo.config, out=small_demo.folder, png=False)
    assert _sha256(small_demo.schools) == before


_KILLED_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import connectmap.report.excel as excel
    from connectmap.config import load_config
    from connectmap.io.inputs import absolute_inputs
    from connectmap.pipeline import run

    marker = Path(sys.argv[2])
    original = excel.write_workbook

    def slow_write(*args, **kwargs):
        marker.write_text("writing")
        path = original(*args, **kwargs)
        time.sleep(60)  # stay inside the workbook step until killed
        return path

    excel.write_workbook = slow_write
    config = load_config(sys.argv[1])
    config = config.model_copy(update={"inputs": absolute_inputs(config.inputs, Path(sys.argv[1]).parent)})
    run(config, out=sys.argv[3], png=False)
""")


def test_sigkill_while_writing_the_workbook_keeps_the_previous_outputs(small_demo, tmp_path):
    out = tmp_path / "out"
    run(small_demo.config, out=out, png=False)
    before = {p.name: _sha256(p) for p in out.iterdir() if p.is_file()}
    marker = tmp_path / "writing"
    script = tmp_path / "killed_run.py"
    script.write_text(_KILLED_RUN)
    child = subprocess.Popen(
        [sys.executable, str(script), str(small_demo.folder / "demoland.toml"), str(marker), str(out)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert child.poll() is None, child.stdout.read().decode()
            assert time.monotonic() < deadline, "the run never reached the workbook"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    after = {p.name: _sha256(p) for p in out.iterdir() if p.is_file()}
    assert after == before  # nothing replaced, nothing half-written, no stray file beside the outputs
    book = openpyxl.load_workbook(out / "investment_case.xlsx", read_only=True)
    assert "Schools" in book.sheetnames
    book.close()
    assert list(out.glob(".staging-*")), "the killed run's staging folder is where its partial files went"
    run(small_demo.config, out=out, png=False)  # the next run clears it
    assert not list(out.glob(".staging-*"))


def test_run_with_a_model_fills_only_unknown_connectivity(small_demo, tmp_path):
    from connectmap.enrich import enrich
    from connectmap.io import read_schools
    from connectmap.io.inputs import load_layers
    from connectmap.parameters.predict import PredictParams
    from connectmap.predict import save_model, train_connectivity_model
    from connectmap.validate import validate_schools

    # train on the demo's own labelled schools, enriched the way the run enriches them
    config = small_demo.config
    layers = load_layers(config.inputs)
    clean = validate_schools(read_schools(small_demo.schools), boundary=layers.boundaries).clean
    enriched = enrich(clean, towers=layers.towers, coverage_rasters=layers.coverage_rasters, fibre=layers.fibre,
                      population=layers.population, boundaries=layers.boundaries, params=config.enrich)
    params = PredictParams(estimator="hist_gradient_boosting", cv_folds=3, min_schools_per_class=5)
    model_path = tmp_path / "demo.skops"
    save_model(train_connectivity_model(enriched, params=params), model_path)

    with_model = config.model_copy(update={"inputs": config.inputs.model_copy(update={"model": str(model_path)})})
    result = run(with_model, out=tmp_path / "out", png=False)
    schools = pd.read_csv(tmp_path / "out" / "schools.csv", low_memory=False).set_index("source_row")
    register = pd.read_csv(small_demo.schools, dtype=str, keep_default_na=False)
    reported = register["connectivity"].str.strip().str.lower().map({"yes": True, "no": False})
    reported.index = register.index + 2  # source_row: header is row 1
    reported = reported.reindex(schools.index)
    known = reported.notna()
    assert known.any() and (~known).any()
    # reported values are never overwritten; every unknown one is predicted with a probability
    assert (schools.loc[known, "connectivity"].astype(bool) == reported[known].astype(bool)).all()
    assert (schools.loc[known, "connectivity_source"] == "reported").all()
    predicted = schools["connectivity_source"] == "predicted"
    assert predicted.sum() > 0 and not (predicted & known).any()
    probability = schools.loc[predicted, "connectivity_probability"]
    assert probability.between(0, 1).all()
    assert (schools.loc[predicted, "connectivity"].astype(bool) == (probability >= 0.5)).all()
    manifest = result.manifest
    assert manifest["model"]["sha256"] == _sha256(model_path)
    assert manifest["rows"]["predict"]["predicted"] == int(predicted.sum())
