"""Readers for every input a ministry has. Each returns a GeoDataFrame in EPSG:4326 with canonical columns.

No other module reads files. Readers never drop a row silently: school rows that cannot be used keep their place
(with empty geometry) and :mod:`connectmap.validate` moves them to the rejected table with a reason.
"""

from connectmap.io._text import read_delimited
from connectmap.io.boundaries import read_boundaries
from connectmap.io.coverage import read_coverage_polygons
from connectmap.io.fibre import FibreNetwork, read_fibre
from connectmap.io.rasters import RasterLayer, open_raster
from connectmap.io.schools import read_schools
from connectmap.io.towers import cells_to_sites, read_towers
from connectmap.io.vector import read_vector

__all__ = [
    "FibreNetwork",
    "RasterLayer",
    "cells_to_sites",
    "open_raster",
    "read_boundaries",
    "read_coverage_polygons",
    "read_delimited",
    "read_fibre",
    "read_schools",
    "read_towers",
    "read_vector",
]
