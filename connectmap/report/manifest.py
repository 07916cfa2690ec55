"""The run manifest: what went in, with which parameters and libraries, what came out, and how long it took.

Two runs on the same inputs give the same manifest except under ``timings_s``, ``started_at`` and
``finished_at``: inputs are identified by SHA-256, parameters are the full validated config, and counts are per
step. Output files are listed by name, not hashed, because workbooks embed their creation time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from os import PathLike
from pathlib import Path
from typing import Any

#: Libraries whose versions change results or outputs.
LIBRARIES = (
    "connectmap", "numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "scipy",
    "scikit-learn", "skops", "openpyxl", "xstatic-leaflet", "numba", "matplotlib", "pydantic",
)


def file_sha256(path: str | PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (inputs can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def describe_input(path: str | PathLike[str]) -> dict[str, Any]:
    """Name, size and SHA-256 of an input file; for a shapefile its sidecar files are hashed too."""
    path = Path(path)
    entry: dict[str, Any] = {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}
    if path.suffix.lower() == ".shp":
        sidecars = {}
        for suffix in (".shx", ".dbf", ".prj", ".cpg"):
            sidecar = path.with_suffix(suffix)
            if sidecar.exists():
                sidecars[suffix] = file_sha256(sidecar)
        entry["sidecars_sha256"] = sidecars
    return entry


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries in :data:`LIBRARIES`, plus GDAL, PROJ and Python."""
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import pyogrio

        versions["gdal"] = pyogrio.__gdal_version_string__
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    try:
        import pyproj

        versions["proj"] = pyproj.proj_version_str
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    return versions
