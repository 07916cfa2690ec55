"""The quality_flags column: codes appended once, every code used by a step explained."""

import importlib

import numpy as np
import pandas as pd
import pytest

from connectmap.columns import QUALITY_FLAGS
from connectmap.quality import CODES, append_flag, count_flags, has_flag
from connectmap.validate import DUPLICATE_ID, NULL_ISLAND


def test_append_flag_adds_each_code_once_per_row() -> None:
    table = pd.DataFrame({"x": range(4)})
    append_flag(table, np.array([True, True, False, False]), DUPLICATE_ID)
    append_flag(table, np.array([False, True, True, False]), NULL_ISLAND)
    # Running a step again over its own output must not repeat its flag.
    append_flag(table, np.array([True, True, True, False]), DUPLICATE_ID)
    assert table[QUALITY_FLAGS].tolist() == ["duplicate_id", "duplicate_id;null_island",
                                             "null_island;duplicate_id", ""]
    assert count_flags(table) == {"duplicate_id": 3, "null_island": 2}
    assert has_flag(table, NULL_ISLAND).tolist() == [False, True, True, False]


def test_unregistered_flag_is_refused() -> None:
    with pytest.raises(KeyError, match="unregistered"):
        append_flag(pd.DataFrame({"x": [1]}), np.array([True]), "made_up_flag")


def test_flags_of_enrichment_and_costing_are_explained() -> None:
    for module in ("connectmap.cost", "connectmap.enrich.regions"):  # importing a step registers its codes
        importlib.import_module(module)

    for code in ("region_from_nearest", "outside_regions", "students_unknown", "electricity_unknown"):
        assert CODES[code].strip(), code
