"""``--engine dask`` and ``--scheduler ADDRESS`` on ``connectmap enrich``, ``connectmap cost`` and ``connectmap run``.

Each command runs twice, locally and on a Dask cluster reached by address, and the files written must be the same
byte for byte. The cluster is started once for the module (its address is what a user passes to --scheduler).
"""

from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pytest

from connectmap.engine import ClusterError, Engine, EngineParams
from tests.conftest import shared_file

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    with Engine(EngineParams(kind="dask", n_workers=2, memory_limit_gb=2.0)) as engine:
        yield engine.client.scheduler.address


@pytest.fixture(scope="module")
def kajiado(tmp_path_factory):
    """The 507 Kajiado schools, a seeded tower list around them, and the real Kenyan fibre."""
    folder = tmp_path_factory.mktemp("kajiado")
    register = shared_file("kenya", "kenya_schools_moe2016_kajiado_subset.csv")
    table = pd.read_csv(register)
    lon, lat = table["lon_wgs84"].to_numpy(), table["lat_wgs84"].to_numpy()
    rng = np.random.default_rng(19)
    n = 400
    pick = rng.integers(0, lon.size, n)
    towers = pd.DataFrame({
        "tower_id": [f"KJ{i:03d}" for i in range(n)],
        "operator": rng.choice(["Safaricom", "Airtel", "Telkom"], n),
        "technology": rng.choice(["2G", "2G;3G", "2G;3G;4G", "3G;4G"], n),
        "latitude": lat[pick] + rng.normal(0, 0.05, n),
        "longitude": lon[pick] + rng.normal(0, 0.05, n),
        "height_m": rng.uniform(20, 50, n).round(1),
    })
    tower_file = folder / "towers.csv"
    towers.to_csv(tower_file, index=False)
    fibre = sorted(glob.glob(str(shared_file("kenya", "fibre_ofds") / "*" / "*.geojson")))
    return register, tower_file, fibre


def test_enrich_and_cost_commands_write_the_same_files_on_both_engines(run_cli, scheduler, kajiado, tmp_path):
    register, towers, fibre = kajiado
    fibre_args = [arg for path in fibre for arg in ("--fibre", path)]
    outline = shared_file("kenya", "ne10m_KEN_admin0.geojson")
    base = ["enrich", register, "--towers", towers, *fibre_args, "--boundaries", outline]
    code, _, err = run_cli(*base, "--out", tmp_path / "local")
    assert code == 0, err
    code, out, err = run_cli(*base, "--out", tmp_path / "dask", "--engine", "dask", "--scheduler", scheduler)
    assert code == 0, err
    assert "507 schools enriched" in out
    local_csv = (tmp_path / "local" / "schools_enriched.csv").read_bytes()
    assert (tmp_path / "dask" / "schools_enriched.csv").read_bytes() == local_csv
    enriched = pd.read_csv(tmp_path / "local" / "schools_enriched.csv")
    assert enriched["nearest_LTE_distance"].notna().all() and enriched["fiber_node_distance"].notna().all()

    cost = ["cost", tmp_path / "local" / "schools_enriched.gpkg", "--towers", towers, *fibre_args,
            "--budget-usd", "2000000"]
    code, _, err = run_cli(*cost, "--out", tmp_path / "cost_local")
    assert code == 0, err
    code, _, err = run_cli(*cost, "--out", tmp_path / "cost_dask", "--engine", "dask", "--scheduler", scheduler)
    assert code == 0, err
    for name in ("costed_schools.csv", "rollout.csv", "rollout_years.csv", "sensitivity.csv", "scenarios.csv",
                 "cost_by_admin1.csv"):
        assert (tmp_path / "cost_dask" / name).read_bytes() == (tmp_path / "cost_local" / name).read_bytes(), name
    costed = pd.read_csv(tmp_path / "cost_local" / "costed_schools.csv")
    assert len(costed) == 507 and costed["microwave_site_id"].notna().sum() > 50  # links were found


@pytest.mark.slow
def test_run_gives_the_same_outputs_on_both_engines(scheduler, tmp_path):
    from connectmap.demo import generate_demo_country
    from connectmap.pipeline import run

    country = generate_demo_country(tmp_path / "data", n_schools=1200)
    local = run(country.config, out=tmp_path / "local", png=False)
    dask = run(country.config, out=tmp_path / "dask", png=False,
               engine=EngineParams(kind="dask", scheduler=scheduler))
    for name in ("schools.csv", "rollout.csv", "sensitivity.csv", "summary.md"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert local.manifest["rows"] == dask.manifest["rows"]
    assert len(local.schools) == 1200 - len(local.validation.rejected)


def test_engine_options_are_checked(run_cli, tmp_path):
    register = shared_file("kenya", "kenya_schools_moe2016_kajiado_subset.csv")
    code, _, err = run_cli("enrich", register, "--out", tmp_path / "a", "--engine", "spark")
    assert code == 2 and "--engine 'spark': use local or dask" in err
    code, _, err = run_cli("enrich", register, "--out", tmp_path / "b", "--scheduler", "tcp://127.0.0.1:8786")
    assert code == 2 and "add --engine dask" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_unreachable_scheduler_is_a_clear_error():
    params = EngineParams(kind="dask", scheduler="tcp://127.0.0.1:9", scheduler_timeout_s=2.0)
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:9: no Dask scheduler answers there"), Engine(params):
        pass
