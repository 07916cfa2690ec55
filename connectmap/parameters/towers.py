"""Parameters for reading tower data (:mod:`connectmap.io.towers`)."""

from __future__ import annotations

from connectmap.parameters._base import Section, param


class TowerSiteParams(Section):
    """How OpenCelliD cell observations are collapsed into tower sites (rule: :mod:`connectmap.io.towers`)."""

    colocation_radius_m: float = param(
        100.0, unit="m", gt=0, le=5_000,
        description="Site radius: cells of one operator are grouped around the most-sampled cell that has no "
        "other site centre within this distance (greedy centres, no chaining). Larger values merge more sectors of "
        "one mast but also neighbouring masts in cities, where sites are 200-500 m apart.",
        source="connectmap; on the Ecuador OpenCelliD export, 100 m merges distinct LTE eNodeBs into one site in "
        "3.6% of sites (50 m: 1.7%, 300 m: 15%); see README.md, Towers",
        low=50.0, high=300.0,
    )
    enodeb_radius_m: float = param(
        5_000.0, unit="m", gt=0,
        description="LTE cells with the same eNodeB id (ECI // 256) are one site when within this distance of the "
        "eNodeB's most-sampled cell; farther cells sharing the id are treated as stale or misplaced records and "
        "placed by position.",
        source="connectmap; on the Ecuador OpenCelliD export 97% of the other cells of an eNodeB lie within 4.8 km "
        "of its most-sampled cell (median 0.65 km, 90% 2.4 km) and the rest reach 160 km",
        low=2_000.0, high=10_000.0,
    )
