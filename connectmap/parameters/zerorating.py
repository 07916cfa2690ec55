"""Parameters of the zero-rating model (:mod:`connectmap.zerorating`) and the operator investment case
(:mod:`connectmap.operators`).

Percentages are given in per cent (``30.0`` means 30 %), as in the cost section, and the workbook's Assumptions
sheet shows them the same way. Each price or traffic figure has a ``low`` and a ``high`` value: the range the
sources (or, where none exists, a defensible judgement) span; the low/high scenarios set them all at once.

Sources, cited by short name in each parameter:

* **pytal** — Oughton's pytal (github.com/edwardoughton/pytal): ``scripts/run.py`` ``COSTS`` and
  ``GLOBAL_PARAMETERS`` (greenfield 4G site items, site rental, power, microwave backhaul, opex as 10 % of capex,
  return period, discount rate) and ``scripts/options.py`` ``COUNTRY_PARAMETERS`` (ARPU, WACC).
* **Giga** — UNICEF Giga open cost model: cellular ``annual_bandwidth_cost_per_mbps`` and ``maximum_range``.
* **ITU CPP** — ITU Connectivity Planning Platform: ``an_isp_fees_one_mbps_p2area`` and ``coverage_distance``.
* **UIS** — UNESCO Institute for Statistics, pupil-teacher ratio in primary education.
* **connectmap** — our own assumption where no public source gives a value; replace it with the country's or the
  operator's own figure at the negotiating table (the workbook makes that a one-cell change).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from connectmap.parameters._base import Section, param

SplitRule = Literal["equal", "market_share", "operator"]


class OperatorCaseParams(Section):
    """The operator investment case: school lines, new sites, the operator's NPV and the ministry's view."""

    lines_for: Literal["cellular", "unconnected"] = param(
        "cellular", unit="-",
        description="Which schools get a line from the operators that serve them: cellular (not connected and the "
        "cost model's least-cost technology is cellular) or unconnected (every school not known to be connected). "
        "Schools a new site will cover get a line in both cases when not connected.",
    )
    connection_price_usd_per_mbps_per_year: float = param(
        34.0, unit="USD/Mbps/year", ge=0, low=4.5, high=68.0,
        description="Price the ministry pays the operator per Mbps of a school line per year (the negotiation "
        "lever; the default equals the cost model's cellular price).",
        source="Giga cellular annual_bandwidth_cost_per_mbps 34; ITU CPP an_isp_fees_one_mbps_p2area 4.5; "
        "Giga p2p 68",
    )
    line_cost_usd_per_mbps_per_year: float = param(
        4.5, unit="USD/Mbps/year", ge=0, low=2.0, high=10.0,
        description="The operator's own cost of providing one Mbps of school-line capacity for a year (backhaul, "
        "transit, radio capacity).",
        source="ITU CPP an_isp_fees_one_mbps_p2area 4.5 (the lowest published wholesale price, taken as cost); "
        "connectmap range",
    )
    new_site_radius_km: float = param(
        5.0, unit="km", gt=0,
        description="A new site covers every school within this geodesic distance; new sites are placed at "
        "schools so that no uncovered school is farther than this from one.",
        source="ITU CPP coverage_distance 5 km; Giga cellular maximum_range 6 km",
    )
    new_site_equipment_usd: float = param(
        20_500.0, unit="USD", ge=0, low=15_000.0, high=30_000.0,
        description="Radio equipment of a new 4G site: three sector antennas, radio unit, baseband, power "
        "system with generator and battery, cabinet.",
        source="pytal COSTS greenfield 4G: 3 x 1,500 antennas + 4,000 RRU + 4 x 1,500 (fronthaul, processing, "
        "S1/X2, control) + 2 x 250 (cooling, power converter) + 5,000 power system + 500 cabinet; low/high: "
        "connectmap range",
    )
    new_site_civil_works_usd: float = param(
        20_000.0, unit="USD", ge=0, low=6_667.0, high=40_000.0,
        description="Passive infrastructure of a new site: tower, civil materials, transport, installation.",
        source="pytal COSTS tower 5,000 + civil_materials 5,000 + transportation 5,000 + installation 5,000; low: "
        "pytal passive sharing among 3 networks; high: connectmap (remote site, twice pytal)",
    )
    new_site_backhaul_usd: float = param(
        20_000.0, unit="USD", ge=0, low=20_000.0, high=60_000.0,
        description="Microwave backhaul link of a new site to the operator's network.",
        source="pytal COSTS microwave_small 20,000 (hop < 20 km), microwave_medium 30,000, microwave_large 60,000",
    )
    new_site_maintenance_pct_per_year: float = param(
        10.0, unit="%/year", ge=0, le=100, low=5.0, high=15.0,
        description="Yearly operation and maintenance of a new site's equipment and backhaul, as a share of their "
        "capital cost.",
        source="pytal GLOBAL_PARAMETERS opex_percentage_of_capex 10; low/high: connectmap range",
    )
    new_site_rental_usd_per_year: float = param(
        1_000.0, unit="USD/year", ge=0, low=333.0, high=4_000.0,
        description="Yearly land or site rental of a new rural site.",
        source="pytal COSTS site_rental_rural 1,000 (suburban 4,000; low: shared among 3 networks)",
    )
    new_site_power_usd_per_year: float = param(
        650.0, unit="USD/year", ge=0, low=650.0, high=3_000.0,
        description="Yearly energy cost of a new site.",
        source="pytal COSTS power 650; high: connectmap (diesel-powered off-grid site)",
    )
    new_site_operator: str = param(
        "nearest", unit="-",
        description="Who builds the new sites: nearest (the operator with an existing site nearest to the new "
        "site, from nearest_<TECH>_distance__<operator> columns; otherwise the operator covering most schools) "
        "or an operator's name. With zerorating.split = operator, the named operator builds them all.",
    )
    subscriber_share_pct: float = param(
        30.0, unit="%", ge=0, le=100, low=15.0, high=45.0,
        description="Share of the people living within new_site_radius_km of a new site who become the "
        "operator's subscribers (population from pop_within_<R>km).",
        source="connectmap assumption, below GSMA's sub-Saharan unique-subscriber penetration (about 43 %) "
        "because uncovered areas are rural and poorer",
    )
    arpu_usd_per_month: float = param(
        2.5, unit="USD/month", ge=0, low=1.0, high=3.5,
        description="Average revenue per subscriber of a new site per month.",
        source="pytal COUNTRY_PARAMETERS arpu for Malawi and Uganda: low 1, medium 2.5, high 3.5 "
        "(Kenya and Senegal 2 / 5 / 8)",
    )
    horizon_years: int = param(
        10, unit="years", ge=1, le=30,
        description="Years of the investment case: new-site capex in year 0, yearly flows in years 1..horizon "
        "(at most 30, the workbook's cash-flow columns).",
        source="pytal return_period 10 years",
    )
    operator_discount_rate_pct: float = param(
        15.0, unit="%/year", ge=0, le=100, low=10.0, high=20.0,
        description="The operator's discount rate (weighted average cost of capital) for its NPV.",
        source="pytal COUNTRY_PARAMETERS financials wacc 15; low/high: connectmap range",
    )
    ministry_discount_rate_pct: float = param(
        5.0, unit="%/year", ge=0, le=100, low=2.0, high=8.0,
        description="The ministry's discount rate for the present value of the package and the in-kind value.",
        source="pytal discount_rate 5 %; low: ITU CPP interest_rate 2 %; high: connectmap",
    )
    ministry_new_site_subsidy_pct: float = param(
        0.0, unit="%", ge=0, le=100,
        description="Share of new-site capital cost the ministry pays the operator in year 0.",
        source="connectmap (0: the operator funds its sites; a negotiation lever)",
    )


class ZeroRatingParams(Section):
    """Zero-rating the ministry's learning content on mobile networks, and the operator investment case."""

    active_student_share_pct: float = param(
        30.0, unit="%", ge=0, le=100, low=10.0, high=60.0,
        description="Share of enrolled students who use the learning platform on a mobile network on a school day "
        "(device access and habit). Users = students x this share + teachers.",
        source="connectmap assumption; set from the platform's own usage figures",
    )
    video_lessons_mb_per_user_per_day: float = param(
        56.25, unit="MB/user/day", ge=0, low=20.0, high=150.0,
        description="Video lessons streamed per user per school day.",
        source="connectmap: 15 minutes of 360p video at 0.5 Mbps = 0.5 x 900 / 8 = 56.25 MB",
    )
    ebooks_mb_per_user_per_day: float = param(
        5.0, unit="MB/user/day", ge=0, low=1.0, high=20.0,
        description="E-books and documents downloaded per user per school day.",
        source="connectmap assumption (a compressed chapter with images)",
    )
    assessments_mb_per_user_per_day: float = param(
        2.0, unit="MB/user/day", ge=0, low=0.5, high=5.0,
        description="Quizzes and assessments per user per school day.",
        source="connectmap assumption",
    )
    platform_mb_per_user_per_day: float = param(
        10.0, unit="MB/user/day", ge=0, low=5.0, high=30.0,
        description="Platform pages, messaging and updates per user per school day.",
        source="connectmap assumption",
    )
    school_days_per_year: float = param(
        180.0, unit="days/year", gt=0, le=366, low=160.0, high=200.0,
        description="School days per year on which the content is used.",
        source="connectmap; national calendars mostly have 180-200 instruction days",
    )
    traffic_growth_pct_per_year: float = param(
        20.0, unit="%/year", ge=-100, le=1_000, low=10.0, high=30.0,
        description="Yearly growth of the learning traffic after the first year (richer content, more users).",
        source="connectmap; Ericsson Mobility Reports put mobile data traffic growth at about 20-30 % a year",
    )
    off_ministry_share_pct: float = param(
        10.0, unit="%", ge=0, le=100, low=5.0, high=30.0,
        description="Share of the learning traffic served from outside the ministry's own servers (third-party "
        "CDNs, web fonts, analytics, embedded video hosts): it cannot be zero-rated and stays on the user's bill.",
        source="connectmap assumption; measure it by loading the platform with a browser's network panel",
    )
    network_cost_usd_per_gb: float = param(
        0.5, unit="USD/GB", ge=0, low=0.1, high=1.5,
        description="The operator's marginal network cost of carrying one GB.",
        source="connectmap assumption; ask the operator for its own figure",
    )
    retail_price_usd_per_gb: float = param(
        2.0, unit="USD/GB", ge=0, low=0.5, high=5.0,
        description="Retail price of one GB of mobile data: the value of zero-rating as an in-kind contribution.",
        source="connectmap, within the range of published per-GB prices in sub-Saharan Africa (ITU ICT Price "
        "Baskets); set the country's own price",
    )
    forgone_revenue_share_pct: float = param(
        20.0, unit="%", ge=0, le=100, low=0.0, high=50.0,
        description="Share of the zero-rated traffic users would otherwise have paid for: the operator's forgone "
        "retail revenue per GB is this share of the retail price.",
        source="connectmap assumption (most users in target schools would not buy the data otherwise)",
    )
    split: SplitRule = param(
        "equal", unit="-",
        description="How a school's traffic and its line are shared among the operators that serve it: equal "
        "(equal shares), market_share (in proportion to market_share_pct), operator (only named_operator, "
        "where it serves the school).",
    )
    named_operator: str = param(
        "", unit="-", description="The operator that takes every school it serves when split = operator.",
    )
    market_share_pct: dict[str, float] = param(
        {}, unit="%",
        description="Market share of each operator, keyed by the operator's name as in covering_operators, e.g. "
        "{ \"Orange\" = 45, \"Moov\" = 35 }; needed when split = market_share.",
    )
    students_if_unknown: float | None = param(
        None, unit="students", ge=0,
        description="Enrolment assumed for schools whose student count is unknown; not set = the median of the "
        "known counts in the table.",
    )
    students_per_teacher_if_unknown: float = param(
        38.0, unit="students/teacher", gt=0, low=25.0, high=50.0,
        description="Pupil-teacher ratio used to estimate the teachers of schools whose teacher count is unknown.",
        source="UIS pupil-teacher ratio in primary education, sub-Saharan Africa, about 38",
    )
    case: OperatorCaseParams = OperatorCaseParams()

    @model_validator(mode="after")
    def _named_operator_given(self) -> ZeroRatingParams:
        if self.split == "operator" and not self.named_operator.strip():
            raise ValueError("split = 'operator' needs named_operator, the operator's name as in covering_operators")
        for name, share in self.market_share_pct.items():
            if not 0 <= share <= 100:
                raise ValueError(f"market_share_pct[{name!r}] = {share} is not between 0 and 100")
        return self
