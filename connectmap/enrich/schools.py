"""Other schools near every school: counts within 1, 2, 3, 5, 10 km and the distance to the nearest one.

Columns added: ``schools_within_<N>km`` (other schools within N km, geodesic, the school itself not counted, a
second school at the same point counted) and ``nearest_school_distance`` (km to the nearest other school; NaN when
the table has one school or the school has no point).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectmap.columns import describe
from connectmap.enrich._common import params_or_default, radius_label, school_lonlat
from connectmap.geodesy import PointIndex
from connectmap.parameters.enrich import EnrichParams

NEAREST_SCHOOL_DISTANCE = describe("nearest_school_distance", "Geodesic distance to the nearest other school", "km")


def schools_within_column(radius_km: float) -> str:
    """Name of the nearby-schools column for a radius in km."""
    return describe(f"schools_within_{radius_label(radius_km)}km",
                    f"Other schools within {radius_km:g} km (geodesic)", "count")


for _r in (1.0, 2.0, 3.0, 5.0, 10.0):
    schools_within_column(_r)


def add_schools_nearby(schools: pd.DataFrame, params: EnrichParams | None = None) -> pd.DataFrame:
    """Add counts of other schools within each radius of ``params.school_count_radii_km`` and the nearest one.

    Returns
    -------
    pandas.DataFrame
        A copy of ``schools``; counts are nullable integers (NA for a school without a point).
    """
    params = params_or_default(params)
    schools = schools.copy()
    lon, lat = school_lonlat(schools)
    index = PointIndex(lon, lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    for radius in params.school_count_radii_km:
        counts = index.count_within(lon, lat, radius)
        values = pd.array(np.where(ok, counts - 1, 0), dtype="Int64")  # minus the school itself
        values[~ok] = pd.NA
        schools[schools_within_column(radius)] = values
    schools[NEAREST_SCHOOL_DISTANCE] = index.nearest_other().distance_km
    return schools
