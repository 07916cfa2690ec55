"""Canonical column names, their meaning and unit, documented once.

The school table uses Giga's school field names where one exists, so Giga exports load as they are and our
outputs load into Giga tools. Columns connectmap adds carry their unit in the name (``capex_usd``,
``distance_km``); Giga's own distance columns (``nearest_LTE_distance``, ``fiber_node_distance``) are in km, as in
Giga.

Each step that adds columns registers them here with :func:`describe`, so the CSV data dictionary, the workbook's
column notes and the map popups all read one definition.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One documented column of the school table.

    Parameters
    ----------
    name
        Canonical name (Giga's where Giga has one).
    meaning
        What the value is, in one sentence.
    unit
        Unit of the value (``"km"``, ``"USD"``, ``"count"``, ``"text"``, ``"flag"``...).
    """

    name: str
    meaning: str
    unit: str


COLUMNS: dict[str, Column] = {}


def describe(name: str, meaning: str, unit: str) -> str:
    """Register a column's meaning and unit and return its name (so modules can define constants with it)."""
    COLUMNS[name] = Column(name, meaning, unit)
    return name


# --- identity and place (Giga school master fields) ------------------------------------------------------------
SOURCE_ROW = describe("source_row", "Row of the input file the school came from (header = row 1)", "row number")
SCHOOL_ID_GIGA = describe("school_id_giga", "Giga's school identifier", "text")
SCHOOL_ID_GOVT = describe("school_id_govt", "The government's school identifier (kept as text: leading zeros)", "text")
SCHOOL_NAME = describe("school_name", "School name as given in the register (Unicode NFC)", "text")
LATITUDE = describe("latitude", "Latitude, WGS84", "degrees")
LONGITUDE = describe("longitude", "Longitude, WGS84", "degrees")
EDUCATION_LEVEL = describe("education_level", "Education level (primary, secondary, ...)", "text")
ADMIN1 = describe("admin1", "First-level administrative region", "text")
ADMIN2 = describe("admin2", "Second-level administrative region", "text")
NUM_STUDENTS = describe("num_students", "Number of students enrolled", "count")
NUM_TEACHERS = describe("num_teachers", "Number of teachers", "count")
NUM_CLASSROOMS = describe("num_classrooms", "Number of classrooms", "count")
ELECTRICITY = describe("electricity_availability", "School has electricity (True/False, empty = unknown)", "flag")
CONNECTIVITY = describe("connectivity", "School is connected to the internet (True/False, empty = unknown)", "flag")
CONNECTIVITY_TYPE_GOVT = describe("connectivity_type_govt", "Connection type reported by the government", "text")
COVERAGE_AVAILABILITY = describe(
    "cellular_coverage_availability", "School is within mobile coverage (True/False, empty = unknown)", "flag"
)
COVERAGE_TYPE = describe(
    "cellular_coverage_type", "Best mobile technology at the school: 5G, 4G, 3G, 2G, no coverage, or unknown", "text"
)
QUALITY_FLAGS = describe("quality_flags", "Data quality flags, codes separated by ';' (see README)", "codes")

# --- names recognised on input ---------------------------------------------------------------------------------
# Keys are matched case-insensitively after trimming and turning spaces and hyphens into underscores. Giga master
# names map to themselves; legacy Giga (giga_id_school, lat, lon) and Project Connect (school_id, name, lat, lon,
# coverage_type) are aliases. A few common register headings are included; every match is reported in
# quality.json ("column_mapping"), never applied silently.
SCHOOL_ALIASES: dict[str, str] = {
    # Giga master
    **{
        name: name
        for name in (
            SCHOOL_ID_GIGA, SCHOOL_ID_GOVT, SCHOOL_NAME, LATITUDE, LONGITUDE, EDUCATION_LEVEL, ADMIN1, ADMIN2,
            NUM_STUDENTS, NUM_TEACHERS, NUM_CLASSROOMS, ELECTRICITY, CONNECTIVITY, CONNECTIVITY_TYPE_GOVT,
            COVERAGE_AVAILABILITY, COVERAGE_TYPE,
            "fiber_node_distance", "nearest_LTE_distance", "nearest_UMTS_distance", "nearest_GSM_distance",
            "nearest_NR_distance",
        )
    },
    # legacy Giga
    "giga_id_school": SCHOOL_ID_GIGA,
    "lat": LATITUDE,
    "lon": LONGITUDE,
    # Project Connect
    "school_id": SCHOOL_ID_GOVT,
    "name": SCHOOL_NAME,
    "coverage_type": COVERAGE_TYPE,
    # common register headings
    "long": LONGITUDE,
    "lng": LONGITUDE,
    "lon_wgs84": LONGITUDE,
    "lat_wgs84": LATITUDE,
    "name_of_the_school": SCHOOL_NAME,
    "school": SCHOOL_NAME,
    # names cut to 10 characters by the shapefile format
    "school_nam": SCHOOL_NAME,
    "num_studen": NUM_STUDENTS,
    "num_teache": NUM_TEACHERS,
    "electricit": ELECTRICITY,
    "connectivi": CONNECTIVITY,
    "school_code": SCHOOL_ID_GOVT,
    "students": NUM_STUDENTS,
    "enrolment": NUM_STUDENTS,
    "enrollment": NUM_STUDENTS,
    "teachers": NUM_TEACHERS,
    "classrooms": NUM_CLASSROOMS,
    "electricity": ELECTRICITY,
    "level": EDUCATION_LEVEL,
}

NUMERIC_SCHOOL_COLUMNS = (
    LATITUDE, LONGITUDE, NUM_STUDENTS, NUM_TEACHERS, NUM_CLASSROOMS,
    "fiber_node_distance", "nearest_LTE_distance", "nearest_UMTS_distance", "nearest_GSM_distance",
    "nearest_NR_distance",
)
BOOLEAN_SCHOOL_COLUMNS = (ELECTRICITY, CONNECTIVITY, COVERAGE_AVAILABILITY)
TEXT_SCHOOL_COLUMNS = (
    SCHOOL_ID_GIGA, SCHOOL_ID_GOVT, SCHOOL_NAME, EDUCATION_LEVEL, ADMIN1, ADMIN2, CONNECTIVITY_TYPE_GOVT,
    COVERAGE_TYPE,
)

# --- mobile technologies -----------------------------------------------------------------------------------------
#: Radio technologies from oldest to newest; the index is the generation minus two.
TECHNOLOGIES: tuple[str, ...] = ("GSM", "UMTS", "LTE", "NR")
#: Generation label Giga uses in ``cellular_coverage_type`` for each technology.
GENERATION: dict[str, str] = {"GSM": "2G", "UMTS": "3G", "LTE": "4G", "NR": "5G"}
#: Labels seen in tower lists, OpenCelliD, operator files and Giga, mapped to a technology.
RADIO_ALIASES: dict[str, str] = {
    "gsm": "GSM", "2g": "GSM", "gprs": "GSM", "edge": "GSM", "cdma": "GSM",
    "umts": "UMTS", "3g": "UMTS", "wcdma": "UMTS", "hspa": "UMTS", "hspa+": "UMTS", "hsdpa": "UMTS",
    "lte": "LTE", "4g": "LTE", "lte-a": "LTE", "lte_a": "LTE",
    "nr": "NR", "5g": "NR", "5g_nr": "NR", "5g nr": "NR",
}
COVERAGE_NONE = "no coverage"
COVERAGE_UNKNOWN = "unknown"

# --- towers (one row per site and technology) ---------------------------------------------------------------------
TOWER_SITE_ID = describe("site_id", "Tower site identifier (operator's id, or derived from OpenCelliD cells)", "text")
TOWER_OPERATOR = describe("operator", "Mobile network operator name", "text")
TOWER_TECHNOLOGY = describe("technology", "Radio technology: GSM, UMTS, LTE or NR", "text")
TOWER_RANGE_M = describe("range_m", "Cell range reported for the site (largest of its cells)", "m")
TOWER_CELL_COUNT = describe("cell_count", "Number of cells of this technology collapsed into the site", "count")
TOWER_HEIGHT_M = describe("height_m", "Antenna or mast height above ground", "m")

# --- fibre ------------------------------------------------------------------------------------------------------------
FIBRE_NODE_ID = describe("node_id", "Fibre node identifier", "text")
FIBRE_LINE_ID = describe("line_id", "Fibre line (span) identifier", "text")
