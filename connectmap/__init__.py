"""connectmap: which schools are connected, what connecting each one and zero-rating learning content costs, as
offline maps and live-formula Excel investment cases.

The public API is re-exported here and imported on first use, so ``import connectmap`` stays fast and has no side
effects::

    import connectmap as cm

    config = cm.load_config("country.toml")
    schools = cm.read_schools("register.csv")
    result = cm.validate_schools(schools, boundary=cm.read_outline("outline.geojson"))
    enriched = cm.enrich(result.clean, towers=cm.read_towers("towers.csv"), fibre=cm.read_fibre(["fibre.geojson"]))
    costed = cm.add_costs(enriched)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_API = {
    # configuration
    "Config": "connectmap.config", "load_config": "connectmap.config", "default_config_text": "connectmap.config",
    "scenario": "connectmap.config",
    # reading
    "read_schools": "connectmap.io", "read_towers": "connectmap.io", "read_fibre": "connectmap.io",
    "read_boundaries": "connectmap.io", "read_outline": "connectmap.io.boundaries",
    "read_coverage_polygons": "connectmap.io", "open_raster": "connectmap.io", "read_table": "connectmap.io.tables",
    "load_layers": "connectmap.io.inputs",
    # steps
    "validate_schools": "connectmap.validate", "enrich": "connectmap.enrich",
    "train_connectivity_model": "connectmap.predict", "add_connectivity_predictions": "connectmap.predict",
    "load_model": "connectmap.predict", "save_model": "connectmap.predict",
    "add_microwave_options": "connectmap.cost", "add_costs": "connectmap.cost",
    "add_shared_fibre": "connectmap.cost", "plan_rollout": "connectmap.cost", "sensitivity": "connectmap.cost",
    "add_zero_rating": "connectmap.zerorating", "add_new_sites": "connectmap.operators",
    "investment_case": "connectmap.operators",
    # outputs and the whole run
    "write_map": "connectmap.report.maps", "write_static_map": "connectmap.report.static_map",
    "write_casebook": "connectmap.report.excel", "run": "connectmap.pipeline",
    "generate_demo_country": "connectmap.demo",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'connectmap' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
