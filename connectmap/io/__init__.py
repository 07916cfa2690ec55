"""Readers for every input a ministry has. Each returns a GeoDataFrame in EPSG:4326 with canonical columns.

No other module reads files. Readers never drop a row silently: school rows that cannot be used keep their place
(with empty geometry) and :mod:`connectmap.validate` moves them to the rejected table with a reason.
"""

from connectmap.io._text import read_delimited
from connectmap.io.schools import read_schools

__all__ = ["read_delimited", "read_schools"]
