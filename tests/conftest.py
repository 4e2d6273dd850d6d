"""Shared fixtures: the CLI as users run it, the real Olist data when present."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLIST_DIR = Path(os.environ.get("CUSTSEG_OLIST_DIR", ROOT.parent / "shared" / "olist"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> CliResult:
    """Run ``custseg ARGS`` in a subprocess, the way a user or a scheduler does."""
    proc = subprocess.run(
        [sys.executable, "-m", "custseg", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    """The real Olist export in ../shared/olist; the test is skipped where it is absent."""
    if not (OLIST_DIR / "olist_orders_dataset.csv").is_file():
        pytest.skip(f"real Olist data not found at {OLIST_DIR}")
    return OLIST_DIR


@pytest.fixture
def cli():
    return run_cli
