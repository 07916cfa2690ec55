"""Shared test fixtures: where the real public data lives, and a CLI runner.

Real files are read from ``../shared/data/`` relative to the project root (never copied into the repository);
tests that need them skip with the reason when that folder is absent.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """Path of a file under ``../shared/data``; skips the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (see ../shared/data/README.md)")
    return path


@pytest.fixture
def shared_data() -> Path:
    """The ``../shared/data`` folder; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is missing")
    return SHARED_DATA


@pytest.fixture
def run_cli(capsys):
    """Run the connectmap CLI in-process: returns (exit_code, stdout, stderr)."""
    from connectmap.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield _run
    logging.getLogger("connectmap").setLevel(logging.WARNING)
