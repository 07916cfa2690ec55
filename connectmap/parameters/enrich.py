"""Parameters of :mod:`connectmap.enrich`: coverage thresholds, modelled ranges, radii."""

from __future__ import annotations

from pydantic import model_validator

from connectmap.parameters._base import FibreStatus, Section, param

_RANGE_SOURCE = (
    "connectmap assumption: typical radius of a rural macro cell of that technology on a 20-40 m mast; "
    "replace with the operator's planning radius where known"
)


class CoverageThresholds(Section):
    """Signal strength at or above which a pixel of a dBm coverage raster counts as covered."""

    GSM_dbm: float = param(
        -95.0, unit="dBm", low=-100.0, high=-85.0,
        description="GSM received level (RxLev) threshold for usable outdoor coverage.",
        source="common drive-test classification (-95 dBm 'fair' outdoor); -85 dBm for indoor use",
    )
    UMTS_dbm: float = param(
        -100.0, unit="dBm", low=-105.0, high=-95.0,
        description="UMTS received signal code power (RSCP) threshold for usable outdoor coverage.",
        source="common drive-test classification (-100 dBm RSCP 'fair' outdoor)",
    )
    LTE_dbm: float = param(
        -110.0, unit="dBm", low=-115.0, high=-105.0,
        description="LTE reference signal received power (RSRP) threshold for usable outdoor coverage.",
        source="common drive-test classification (-110 dBm RSRP edge of usable data); Ofcom uses -105 dBm "
        "for outdoor 4G data",
    )
    NR_dbm: float = param(
        -110.0, unit="dBm", low=-115.0, high=-105.0,
        description="5G NR SS-RSRP threshold for usable outdoor coverage.",
        source="as LTE (3GPP defines SS-RSRP on the same scale)",
    )


class ModelledRanges(Section):
    """Range of a tower when coverage is modelled from tower positions (no coverage map for that technology)."""

    GSM_default_m: float = param(5000.0, unit="m", gt=0, low=3000.0, high=10000.0, source=_RANGE_SOURCE,
                                 description="GSM range used when the tower list gives none.")
    UMTS_default_m: float = param(3000.0, unit="m", gt=0, low=2000.0, high=6000.0, source=_RANGE_SOURCE,
                                  description="UMTS range used when the tower list gives none.")
    LTE_default_m: float = param(3000.0, unit="m", gt=0, low=2000.0, high=8000.0, source=_RANGE_SOURCE,
                                 description="LTE range used when the tower list gives none.")
    NR_default_m: float = param(1000.0, unit="m", gt=0, low=500.0, high=3000.0, source=_RANGE_SOURCE,
                                description="5G NR range used when the tower list gives none.")
    GSM_cap_m: float = param(
        35000.0, unit="m", gt=0, description="Largest GSM range believed from a tower list (OpenCelliD range).",
        source="3GPP TS 45.010 timing advance limit (63 x 553.5 m = 35 km)",
    )
    UMTS_cap_m: float = param(10000.0, unit="m", gt=0, low=6000.0, high=20000.0, source=_RANGE_SOURCE,
                              description="Largest UMTS range believed from a tower list.")
    LTE_cap_m: float = param(15000.0, unit="m", gt=0, low=8000.0, high=30000.0, source=_RANGE_SOURCE,
                             description="Largest LTE range believed from a tower list.")
    NR_cap_m: float = param(5000.0, unit="m", gt=0, low=2000.0, high=10000.0, source=_RANGE_SOURCE,
                            description="Largest 5G NR range believed from a tower list.")
    use_reported_range: bool = param(
        True, unit="-",
        description="Use each site's own range (OpenCelliD 'range', the spread of its measurements), capped as "
        "above; when false every site gets the default range of its technology.",
        source="OpenCelliD documents 'range' as an estimate of the cell's coverage radius from measurements",
    )

    def range_m(self, technology: str) -> tuple[float, float]:
        """(default, cap) in metres for a technology."""
        return getattr(self, f"{technology}_default_m"), getattr(self, f"{technology}_cap_m")


class EnrichParams(Section):
    """Coverage, towers, fibre, population, nearby schools and regions for every school."""

    thresholds: CoverageThresholds = CoverageThresholds()
    modelled: ModelledRanges = ModelledRanges()
    coverage_search_radius_m: float = param(
        500.0, unit="m", ge=0, low=0.0, high=2000.0,
        description="A school counts as covered 'nearby' when coverage reaches any point within this distance "
        "(columns covered_<TECH>_within_<R>m); 0 turns the column off.",
        source="connectmap assumption: an external antenna or a short walk reaches coverage a few hundred "
        "metres away",
    )
    covering_operators_min_technology: str = param(
        "UMTS", unit="-", pattern="^(GSM|UMTS|LTE|NR)$",
        description="Oldest technology that counts when listing the operators whose coverage reaches a school "
        "(covering_operators); UMTS = 3G or better, enough for learning content.",
        source="connectmap; Giga treats 3G as the minimum for meaningful school connectivity",
    )
    tower_count_radii_km: list[float] = param(
        [5.0], unit="km", description="Radii for the towers_within_<R>km counts (distinct sites, any technology).",
        source="connectmap",
    )
    school_count_radii_km: list[float] = param(
        [1.0, 2.0, 3.0, 5.0, 10.0], unit="km",
        description="Radii for the schools_within_<R>km counts (other schools).", source="Giga school features",
    )
    population_radii_km: list[float] = param(
        [1.0, 2.0, 3.0, 5.0, 10.0], unit="km", description="Radii for the pop_within_<R>km sums.",
        source="Giga school features",
    )
    population_convolve_min_px: float = param(
        8.0, unit="pixels", gt=0,
        description="Population disks at least this many pixels in radius are summed by convolution at pixel "
        "centres and interpolated (faster, error measured under 0.5 % median); smaller ones exactly.",
        source="connectmap; measured in benchmarks/bench_enrich.py",
    )
    per_operator: bool = param(
        True, unit="-",
        description="Also add nearest_<TECH>_distance__<operator> and nearest_<TECH>_id__<operator> per operator.",
    )
    fibre_statuses: list[FibreStatus] = param(
        ["operational"], unit="-",
        description="Fibre nodes and lines that fiber_node_distance and fiber_line_distance_km measure to, by "
        "status (OFDS codes as connectmap.io.read_fibre gives them); features of unknown status count, features "
        "whose medium is not fibre (microwave, copper) never do. Add planned or underConstruction to cost "
        "connections to routes not yet built.",
        source="connectmap (a school can only be connected to fibre that carries traffic)",
    )
    fibre_densify_spacing_m: float = param(
        1000.0, unit="m", gt=0,
        description="Spacing of the points that index fibre lines; changes speed only, never the distance.",
    )
    keep_register_regions: bool = param(
        True, unit="-",
        description="Keep admin1/admin2 from the register where present; false overwrites them from the "
        "boundaries file.",
    )
    nearest_region_max_km: float = param(
        25.0, unit="km", ge=0,
        description="A school outside every region polygon takes the nearest region when it is within this "
        "distance of it (flag region_from_nearest); farther away the region stays empty (flag outside_regions).",
        source="connectmap; Natural Earth 1:10m outlines are generalised by up to a few km at coasts",
    )
    keep_register_coverage: bool = param(
        True, unit="-",
        description="When no coverage map reaches a school, keep the register's cellular_coverage_type "
        "(coverage_source = register) rather than the coverage modelled from towers.",
    )
    modelled_raster_resolution_m: float = param(
        500.0, unit="m", gt=0,
        description="Pixel size of the modelled-coverage GeoTIFFs written for the map (square pixels in degrees, "
        "this many metres north-south).",
    )
    raster_window_mb: int = param(
        256, unit="MB", gt=0,
        description="Memory for one window of raster pixels; larger rasters are read tile by tile.",
    )

    @model_validator(mode="after")
    def _positive_radii(self) -> EnrichParams:
        for name in ("tower_count_radii_km", "school_count_radii_km", "population_radii_km"):
            if any(r <= 0 for r in getattr(self, name)):
                raise ValueError(f"{name}: every radius must be > 0 km")
        return self
