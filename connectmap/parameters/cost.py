"""Parameters of the cost model (:mod:`connectmap.cost`): demand, finance, each technology, electricity, the
budget rollout and the sensitivity table.

Every price has a default, a unit in its name, a source, and where the open models disagree a ``low`` and a
``high`` value: the *low-cost* and *high-cost* scenario values (``connectmap cost --scenario low|high``). Only
prices carry low/high values; constraints (capacities, ranges, lifetimes) and the discount rate do not, because
"low" would not mean "cheaper" for them — their effect is shown in the sensitivity table instead. Where the sources
disagree on one side only (Giga has no maintenance cost, ITU CPP does), the other side is the base value.

Sources, cited by short name in each parameter:

* **Giga** — UNICEF Giga open cost model (github.com/unicef/giga-open-cost-model):
  ``giga/app/run_total_cost_scenario.py`` defaults and the notebook parameter sheets
  (``giga/viz/notebooks/parameters/groups/*``).
* **ITU CPP** — ITU Connectivity Planning Platform user guide, "Models" (github.com/FNS-Division/cpp-user-guide,
  ``docs/models.md``).
* **pytal** — Oughton's pytal (github.com/edwardoughton/pytal), ``COSTS`` and ``GLOBAL_PARAMETERS``.
* **ITU/UNICEF targets** — Giga's "meaningful school connectivity" minimum of 20 Mbps per school and 50 kbps per
  student.
* **connectmap** — our own assumption where no public source gives a value; say so in an investment case.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from connectmap.parameters._base import FibreStatus, Section, param

#: Technologies the cost model knows, in the order used to break exact ties (terrestrial first).
COST_TECHNOLOGIES: tuple[str, ...] = ("fibre", "cellular", "microwave", "satellite")

TechnologyName = Literal["fibre", "cellular", "microwave", "satellite"]
RadioName = Literal["GSM", "UMTS", "LTE", "NR"]


class DemandParams(Section):
    """Bandwidth each school needs: max(floor, per-student rate x students)."""

    floor_mbps: float = param(
        20.0, unit="Mbps", ge=0,
        description="Minimum bandwidth for every school, also used when the student count is unknown.",
        source="ITU/UNICEF targets (20 Mbps per school); ITU CPP demand floor T_min = 20 Mbps; Giga default "
        "bandwidth demand 20 Mbps",
    )
    per_student_mbps: float = param(
        0.05, unit="Mbps/student", ge=0,
        description="Bandwidth per enrolled student; demand = max(floor_mbps, per_student_mbps x num_students).",
        source="ITU/UNICEF targets (50 kbps per student)",
    )


class FinanceParams(Section):
    """How yearly cash flows become a net present value."""

    horizon_years: int = param(
        10, unit="years", ge=1, le=50,
        description="Years of operation costed: capex in year 0, opex in years 1..horizon.",
        source="pytal return_period 10 years; Giga costs 5 years of opex",
    )
    discount_rate_pct: float = param(
        5.0, unit="%/year", ge=0, le=50,
        description="Real discount rate for the net present value (ITU CPP uses 2 %, pytal 5 %).",
        source="pytal discount_rate 5 %; ITU CPP interest_rate 2 %",
    )
    refresh_equipment: bool = param(
        True, unit="-",
        description="Buy each capital item again at the end of its lifetime while the horizon lasts "
        "(no residual value is credited).",
        source="ITU CPP hardware reinvestment periods; Giga has no refresh",
    )


class FibreParams(Section):
    """Fibre from the school to the nearest point of the fibre network."""

    enabled: bool = param(True, unit="-", description="Consider fibre.")
    distance_to: Literal["node", "line", "nearest"] = param(
        "node", unit="-",
        description="Which fibre distance to use: to the nearest node (fiber_node_distance, as Giga and ITU CPP), "
        "to the nearest line (fiber_line_distance_km, needs a splice point), or the nearer of the two.",
        source="Giga and ITU CPP connect to transmission nodes",
    )
    cable_usd_per_km: float = param(
        10_000.0, unit="USD/km", ge=0, low=5_000.0, high=20_000.0,
        description="Cost of laying fibre cable along the route.",
        source="Giga run_total_cost_scenario cost_per_km 10,000; pytal fiber_rural_m 10 USD/m; "
        "ITU CPP focl_constr_cost_fibre 20,000",
    )
    route_factor: float = param(
        1.1, unit="-", ge=1.0, low=1.0, high=1.1,
        description="Route length divided by straight-line (geodesic) distance: cables follow roads.",
        source="ITU CPP fibre expansion factor e = 1.1; Giga's correction_coeficient multiplies the distance the "
        "same way (its run script sets it to True, i.e. 1)",
    )
    max_link_km: float = param(
        20.0, unit="km", gt=0,
        description="Longest new fibre link (straight-line distance); schools farther are infeasible for fibre.",
        source="Giga maximum_connection_length 20 km; ITU CPP max_connection_distance 50 km",
    )
    cable_maintenance_usd_per_km_per_year: float = param(
        100.0, unit="USD/km/year", ge=0, low=0.0, high=100.0,
        description="Yearly maintenance of the new cable, per route km (provider side).",
        source="Giga 'Maintenance Cost per km (USD)' 100; Giga run script 0",
    )
    cable_lifetime_years: int = param(
        25, unit="years", ge=1,
        description="Lifetime of the cable itself before it is rebuilt.",
        source="connectmap assumption (buried fibre lasts 25 years or more)",
    )
    school_equipment_usd: float = param(
        500.0, unit="USD", ge=0, low=0.0, high=500.0,
        description="Equipment and installation at the school (ONT/router, drop cable).",
        source="ITU CPP hw_setup_cost_fibre 500; Giga fixed_costs 0",
    )
    equipment_lifetime_years: int = param(
        10, unit="years", ge=1, description="Lifetime of the school equipment.",
        source="ITU CPP reinv_period_fibre 10",
    )
    maintenance_usd_per_year: float = param(
        25.0, unit="USD/year", ge=0, low=0.0, high=25.0,
        description="Yearly maintenance of the school equipment.",
        source="ITU CPP an_hw_maint_and_repl_fibre 5 % of the USD 500 hardware; Giga opex fixed_costs 0",
    )
    bandwidth_usd_per_mbps_per_year: float = param(
        10.0, unit="USD/Mbps/year", ge=0, low=5.5, high=10.0,
        description="Internet transit price per Mbps of demand per year.",
        source="Giga 'Annual cost per Mbps (USD)' 10; ITU CPP an_isp_fees_one_mbps_fibre 5.5",
    )
    capacity_mbps: float = param(
        2_000.0, unit="Mbps", gt=0, description="Most bandwidth a school fibre link delivers.",
        source="Giga maximum_bandwithd 2,000 (ITU CPP 15,000)",
    )
    energy_kwh_per_year: float = param(
        500.0, unit="kWh/year", ge=0, description="Electricity the fibre equipment uses per year.",
        source="Giga required_power 500 kWh",
    )
    economies_of_scale: bool = param(
        True, unit="-",
        description="Also compute the shared result: schools that take fibre relay it to neighbours along a "
        "minimum spanning tree (each link at most max_link_km).",
        source="Giga economies_of_scale; ITU CPP fibre path model",
    )


class CellularParams(Section):
    """A mobile-broadband router at the school, on an existing network."""

    enabled: bool = param(True, unit="-", description="Consider cellular.")
    technologies: list[RadioName] = param(
        ["LTE", "NR"], unit="-",
        description="Radio technologies good enough for a school (any one covering the school is enough).",
        source="Giga valid_cellular_technologies 4G; ITU CPP cellular feasible under 4G or 5G coverage",
    )
    max_range_km: float = param(
        6.0, unit="km", gt=0,
        description="Only when the table has neither covered_<TECH> nor cellular_coverage_type: a school within "
        "this distance of a tower of a required technology counts as covered.",
        source="Giga cellular maximum_range 6 km (ITU CPP coverage_distance 5 km)",
    )
    cpe_usd: float = param(
        534.0, unit="USD", ge=0, low=120.0, high=534.0,
        description="Router, antenna and installation at the school.",
        source="Giga cellular capex fixed_costs 534; ITU CPP hw_setup_cost_p2area 120",
    )
    equipment_lifetime_years: int = param(
        5, unit="years", ge=1, description="Lifetime of the router.", source="ITU CPP reinv_period_p2area 5",
    )
    maintenance_usd_per_year: float = param(
        14.4, unit="USD/year", ge=0, low=0.0, high=14.4, description="Yearly maintenance of the router.",
        source="ITU CPP an_hw_maint_and_repl_p2area 12 % of USD 120; Giga opex fixed_costs 0",
    )
    bandwidth_usd_per_mbps_per_year: float = param(
        34.0, unit="USD/Mbps/year", ge=0, low=4.5, high=34.0,
        description="Mobile data price per Mbps of demand per year.",
        source="Giga annual_bandwidth_cost_per_mbps 34; ITU CPP an_isp_fees_one_mbps_p2area 4.5",
    )
    capacity_gsm_mbps: float = param(
        0.2, unit="Mbps", gt=0, description="Bandwidth a school can get over GSM (EDGE).",
        source="connectmap assumption (EDGE peak rates)",
    )
    capacity_umts_mbps: float = param(
        21.0, unit="Mbps", gt=0, description="Bandwidth a school can get over UMTS (HSPA+).",
        source="connectmap assumption (HSPA+ category 14 peak 21 Mbps)",
    )
    capacity_lte_mbps: float = param(
        100.0, unit="Mbps", gt=0, description="Bandwidth a school can get over LTE.",
        source="Giga cellular maximum_bandwithd 100",
    )
    capacity_nr_mbps: float = param(
        900.0, unit="Mbps", gt=0, description="Bandwidth a school can get over NR (5G).",
        source="ITU CPP max_throughput_p2area 900",
    )
    energy_kwh_per_year: float = param(
        10.0, unit="kWh/year", ge=0, description="Electricity the router uses per year.",
        source="Giga cellular required_power 10 kWh",
    )

    def capacity_mbps(self, radio: str) -> float:
        """Capacity of one radio technology (``"GSM"``, ``"UMTS"``, ``"LTE"`` or ``"NR"``) in Mbps."""
        return float(getattr(self, f"capacity_{radio.lower()}_mbps"))


class MicrowaveParams(Section):
    """A point-to-point radio link from the school to a tower that has fibre backhaul."""

    enabled: bool = param(True, unit="-", description="Consider point-to-point microwave.")
    max_range_km: float = param(
        35.0, unit="km", gt=0, description="Longest microwave hop from the school to the tower.",
        source="Giga p2p maximum_range 35 km; ITU CPP search_radius 30 km",
    )
    backhaul_max_fibre_km: float = param(
        1.0, unit="km", ge=0,
        description="A tower site counts as fibre-backhauled when it is within this distance of a fibre node "
        "or line.",
        source="connectmap assumption",
    )
    backhaul_fibre_statuses: list[FibreStatus] = param(
        ["operational"], unit="-",
        description="Fibre features that can backhaul a tower, by status (OFDS codes as connectmap.io.read_fibre "
        "gives them); features of unknown status count, features whose medium is not fibre (microwave, copper) "
        "never do.",
        source="connectmap (planned routes cannot carry traffic yet)",
    )
    candidate_sites: int = param(
        3, unit="sites", ge=1, le=20,
        description="With a DEM, how many of the nearest backhauled sites in range to try for line of sight.",
        source="connectmap; ITU CPP num_visible 1",
    )
    school_equipment_usd: float = param(
        4_272.0, unit="USD", ge=0, low=3_000.0, high=4_272.0,
        description="Radio, antenna, mast and installation at the school end.",
        source="Giga p2p capex fixed_costs 4,272; ITU CPP hw_setup_cost_p2p 3,000",
    )
    tower_equipment_usd: float = param(
        0.0, unit="USD", ge=0, low=0.0, high=10_000.0,
        description="Radio and installation at the tower end when not included in the school-end price "
        "(provider side).",
        source="Giga p2p tower_fixed_costs 0; pytal microwave_small 10,000",
    )
    licence_once_usd: float = param(
        2_000.0, unit="USD", ge=0, low=0.0, high=2_000.0,
        description="One-time spectrum licence fee for the link (provider side, never repaid).",
        source="ITU CPP one_time_license_fee 50 USD/MHz x 40 MHz; Giga none",
    )
    licence_usd_per_year: float = param(
        600.0, unit="USD/year", ge=0, low=0.0, high=600.0,
        description="Yearly spectrum licence fee for the link (provider side).",
        source="ITU CPP an_license_fee 15 USD/MHz/year x 40 MHz; pytal per_site_spectrum_acquisition_cost 500; "
        "Giga none",
    )
    equipment_lifetime_years: int = param(
        7, unit="years", ge=1, description="Lifetime of the radios.", source="ITU CPP reinv_period_p2p 7",
    )
    maintenance_usd_per_year: float = param(
        300.0, unit="USD/year", ge=0, low=0.0, high=300.0, description="Yearly maintenance of the link.",
        source="ITU CPP an_hw_maint_and_repl_p2p 10 % of USD 3,000; Giga opex fixed_costs 0",
    )
    bandwidth_usd_per_mbps_per_year: float = param(
        68.0, unit="USD/Mbps/year", ge=0, low=5.5, high=68.0,
        description="Transit price per Mbps of demand per year.",
        source="Giga p2p annual_bandwidth_cost_per_mbps 68; ITU CPP an_isp_fees_one_mbps_p2p 5.5",
    )
    capacity_mbps: float = param(
        400.0, unit="Mbps", gt=0, description="Most bandwidth one microwave hop delivers.",
        source="ITU CPP max_throughput_p2p 400 (Giga 100 to 1,000)",
    )
    energy_kwh_per_year: float = param(
        10.0, unit="kWh/year", ge=0, description="Electricity the school-end radio uses per year.",
        source="Giga p2p required_power 10 kWh",
    )
    school_antenna_height_m: float = param(
        10.0, unit="m", ge=0, description="Antenna height above ground at the school (line-of-sight check).",
        source="connectmap assumption (a mast on the school; ITU CPP uses 5 m without building data)",
    )
    tower_antenna_height_m: float = param(
        30.0, unit="m", ge=0,
        description="Antenna height above ground at the tower when the tower list gives none.",
        source="connectmap assumption (typical rural macro mast 30-45 m)",
    )
    frequency_ghz: float = param(
        11.0, unit="GHz", gt=0, description="Link frequency, for the Fresnel zone radius.",
        source="connectmap assumption (11 GHz is common for 10-35 km hops)",
    )
    k_factor: float = param(
        4.0 / 3.0, unit="-", gt=0, description="Effective earth-radius factor for refraction.",
        source="ITU-R P.530 standard atmosphere k = 4/3",
    )
    fresnel_clearance: float = param(
        0.6, unit="-", ge=0, le=1, description="Share of the first Fresnel zone radius that must be clear.",
        source="ITU-R P.530 planning criterion (60 % of the first Fresnel zone)",
    )
    max_profile_samples: int = param(
        512, unit="samples", ge=3, le=10_000,
        description="Most elevation samples per path (spacing is the DEM pixel size up to this many).",
        source="connectmap",
    )


class SatelliteParams(Section):
    """A satellite terminal at the school."""

    enabled: bool = param(True, unit="-", description="Consider satellite.")
    terminal_usd: float = param(
        534.0, unit="USD", ge=0, low=534.0, high=800.0, description="Terminal, mount and installation.",
        source="Giga satellite capex fixed_costs 534; ITU CPP hw_setup_cost_sat 800",
    )
    equipment_lifetime_years: int = param(
        5, unit="years", ge=1, description="Lifetime of the terminal.", source="ITU CPP reinv_period_sat 5",
    )
    maintenance_usd_per_year: float = param(
        80.0, unit="USD/year", ge=0, low=0.0, high=80.0, description="Yearly maintenance of the terminal.",
        source="ITU CPP an_hw_maint_and_repl_sat 10 % of USD 800; Giga opex fixed_costs 0",
    )
    bandwidth_usd_per_mbps_per_year: float = param(
        34.0, unit="USD/Mbps/year", ge=0, low=6.4, high=34.0,
        description="Satellite capacity price per Mbps of demand per year.",
        source="Giga satellite annual_bandwidth_cost_per_mbps 34; ITU CPP an_isp_fees_one_mbps_sat 6.4",
    )
    plan_usd_per_year: float = param(
        0.0, unit="USD/year", ge=0,
        description="Flat yearly plan price, added to the per-Mbps price (set the per-Mbps price to 0 to cost a "
        "flat plan only).",
        source="connectmap (0: priced per Mbps as Giga and ITU CPP)",
    )
    capacity_mbps: float = param(
        150.0, unit="Mbps", gt=0, description="Most bandwidth a school terminal delivers.",
        source="Giga satellite maximum_bandwithd 150 (ITU CPP 400)",
    )
    energy_kwh_per_year: float = param(
        10.0, unit="kWh/year", ge=0, description="Electricity the terminal uses per year.",
        source="Giga satellite required_power 10 kWh",
    )


class ElectricityParams(Section):
    """Power for the equipment: grid where the school has it, solar where it does not."""

    allow_solar: bool = param(
        True, unit="-",
        description="Schools without electricity get solar; when false they are infeasible (no_electricity).",
        source="Giga allow_new_electricity true",
    )
    unknown_means_no_power: bool = param(
        True, unit="-",
        description="Cost schools whose electricity is unknown as having none (solar), flagged "
        "electricity_unknown; when false they are costed on the grid.",
        source="connectmap (conservative)",
    )
    solar_usd_per_w: float = param(
        3.0, unit="USD/W", ge=0, description="Installed solar system price per watt, batteries included.",
        source="Giga solar_cost_per_watt 3.0",
    )
    solar_system_w: float = param(
        1_000.0, unit="W", ge=0, low=1_000.0, high=11_000.0,
        description="Solar system size installed at a school without power.",
        source="connectmap assumption (connectivity equipment and a few devices); Giga "
        "required_power_per_school 11,000 W",
    )
    solar_lifetime_years: int = param(
        10, unit="years", ge=1, description="Lifetime of the solar system (battery replacement).",
        source="connectmap assumption",
    )
    solar_maintenance_usd_per_year: float = param(
        60.0, unit="USD/year", ge=0, low=0.0, high=60.0, description="Yearly maintenance of the solar system.",
        source="connectmap assumption (2 % of the USD 3,000 system); Giga none",
    )
    grid_usd_per_kwh: float = param(
        0.09, unit="USD/kWh", ge=0, description="Grid electricity price.",
        source="Giga cost_per_kwh 0.09",
    )


class PlanParams(Section):
    """The budget rollout: which schools to connect first and when."""

    objective: Literal["students", "schools", "cost_per_student"] = param(
        "students", unit="-",
        description="students: most students per dollar first, skipping schools that do not fit the year's money; "
        "schools: cheapest first (most schools); cost_per_student: lowest cost per student first in strict order "
        "(stops at the first school that does not fit).",
    )
    budget_usd: float | None = param(
        None, unit="USD", ge=0,
        description="Total budget over the plan; spread evenly over plan years, unspent money carried over.",
    )
    budget_usd_per_year: float | None = param(
        None, unit="USD/year", ge=0, description="Budget each plan year, unspent money carried over.",
    )
    years: int = param(5, unit="years", ge=1, le=50, description="Number of rollout years.")
    budget_covers: Literal["capex", "capex_and_opex"] = param(
        "capex_and_opex", unit="-",
        description="capex: the budget pays each school's connection (year-0 capex) only; capex_and_opex: it also "
        "pays every connected school's yearly opex from the year it is connected.",
    )


class SensitivityParams(Section):
    """The tornado table: each key parameter moved up and down."""

    change_pct: float = param(
        20.0, unit="%", gt=0, lt=100, description="Move each parameter by this much down and up.",
    )
    parameters: list[str] = param(
        [
            "demand.floor_mbps", "demand.per_student_mbps", "finance.discount_rate_pct", "finance.horizon_years",
            "fibre.cable_usd_per_km", "fibre.route_factor", "fibre.bandwidth_usd_per_mbps_per_year",
            "cellular.cpe_usd", "cellular.bandwidth_usd_per_mbps_per_year",
            "microwave.school_equipment_usd", "microwave.bandwidth_usd_per_mbps_per_year",
            "satellite.terminal_usd", "satellite.bandwidth_usd_per_mbps_per_year",
            "electricity.solar_usd_per_w", "electricity.solar_system_w", "electricity.grid_usd_per_kwh",
        ],
        unit="-", description="Parameters of the cost section to vary (dotted paths inside [cost]).",
    )


class CostParams(Section):
    """The cost model: demand, technologies, cash flows, least-cost choice, rollout and sensitivity."""

    cost_connected_schools: bool = param(
        False, unit="-", description="Also cost schools already connected (connectivity = true).",
    )
    demand: DemandParams = DemandParams()
    finance: FinanceParams = FinanceParams()
    fibre: FibreParams = FibreParams()
    cellular: CellularParams = CellularParams()
    microwave: MicrowaveParams = MicrowaveParams()
    satellite: SatelliteParams = SatelliteParams()
    electricity: ElectricityParams = ElectricityParams()
    plan: PlanParams = PlanParams()
    sensitivity: SensitivityParams = SensitivityParams()

    @model_validator(mode="after")
    def _one_budget(self) -> CostParams:
        if self.plan.budget_usd is not None and self.plan.budget_usd_per_year is not None:
            raise ValueError("set plan.budget_usd or plan.budget_usd_per_year, not both")
        return self

    def technology(self, name: str) -> FibreParams | CellularParams | MicrowaveParams | SatelliteParams:
        """The parameter section of one technology by name."""
        return getattr(self, name)
