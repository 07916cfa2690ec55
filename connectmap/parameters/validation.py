"""Parameters of :mod:`connectmap.validate`."""

from __future__ import annotations

from connectmap.parameters._base import Section, param


class ValidationParams(Section):
    """Thresholds the validation checks use."""

    near_duplicate_same_name_m: float = param(
        110.0, unit="m", gt=0,
        description="Two schools with the same name closer than this are flagged near_duplicate_name.",
        source="connectmap; 110 m is 0.001 degree of latitude, the precision of many registers",
    )
    near_duplicate_any_m: float = param(
        50.0, unit="m", gt=0,
        description="Any two schools closer than this are flagged near_duplicate_location.",
        source="connectmap",
    )
    max_num_students: int = param(
        10_000, unit="students", gt=0,
        description="Enrolment above this is flagged num_students_implausible (kept, not rejected).",
        source="connectmap",
    )
    max_num_teachers: int = param(
        1_000, unit="teachers", gt=0,
        description="Teacher counts above this are flagged num_teachers_implausible (kept, not rejected).",
        source="connectmap",
    )
    fix_swapped_coordinates: bool = param(
        True, unit="-",
        description="Swap latitude and longitude back when only the swapped point falls inside the outline.",
    )
