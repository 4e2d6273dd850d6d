"""Shared fixtures: the CLI as users run it, the real Olist data when present, synthetic data.

``run_cli`` (and the ``cli`` fixture) runs ``custseg ARGS`` in this process through Typer's
CliRunner: the app maps errors to exit codes itself, so the codes, stdout and stderr are the
script's. ``run_script`` runs a real ``python -m custseg`` process, for the few tests where the
process matters (signals, the script's exit status, the environment it reads at start).
``CUSTSEG_TEST_SUBPROCESS=1`` makes ``run_cli`` a real process too (to time or check the suite so).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# ../shared/olist from a clone, ../../shared/olist from a worktree in a folder of worktrees
OLIST_DIR = Path(os.environ.get("CUSTSEG_OLIST_DIR") or next(
    (p for p in (ROOT.parent / "shared" / "olist", ROOT.parent.parent / "shared" / "olist") if p.is_dir()),
    ROOT.parent / "shared" / "olist"))
#: What the CLI sees in tests: wide lines (no wrapped messages), no colour codes.
CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
os.environ.update(CLI_ENV)  # before custseg.cli's consoles are made: they read it once
SUBPROCESS = os.environ.get("CUSTSEG_TEST_SUBPROCESS", "") not in ("", "0")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_script(*args: str | Path, cwd: Path | None = None, timeout: float = 600,
               env: dict[str, str] | None = None) -> CliResult:
    """Run ``custseg ARGS`` in a subprocess, the way a user or a scheduler does."""
    proc = subprocess.run(
        [sys.executable, "-m", "custseg", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **CLI_ENV, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> CliResult:
    """Run ``custseg ARGS`` in this process (Typer's CliRunner), with the script's exit codes; in a
    real process with ``CUSTSEG_TEST_SUBPROCESS=1``."""
    if SUBPROCESS:
        return run_script(*args, cwd=cwd, timeout=timeout)
    return run_in_process(*args, cwd=cwd)


def run_in_process(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """Run ``custseg ARGS`` in this process, always (for tests that patch the library first).

    An exception that escapes the app's error boundary is raised here (a bug in the boundary)."""
    from typer.testing import CliRunner

    from custseg.cli import app

    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner(env=CLI_ENV).invoke(app, [str(a) for a in args], prog_name="custseg",
                                               catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


#: The test modules that take longest (tens of seconds each), longest first. ``make test`` sends
#: each module whole to the next free worker (``--dist loadfile``: a module's fixtures, such as a
#: Spark JVM or a shared backtest, are made once, not once per worker) in collection order, and
#: these come first, so that the two workers finish together. Only speed depends on this order.
LONGEST_FIRST = (
    "tests/test_stability.py",
    "tests/test_spark.py",
    "tests/test_segment.py",
    "tests/test_operate.py",
    "tests/test_hostile_signals.py",
    "tests/test_pipeline.py",
    "tests/test_postgres.py",
    "tests/test_features.py",
    "tests/test_report_browser.py",
    "tests/test_ingest.py",
    "tests/test_verdict.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the modules of :data:`LONGEST_FIRST` first, in its order; each module's tests together,
    in file order (a stable sort)."""
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    """The real Olist export in ../shared/olist; the test is skipped where it is absent."""
    if not (OLIST_DIR / "olist_orders_dataset.csv").is_file():
        pytest.skip(f"real Olist data not found at {OLIST_DIR}")
    return OLIST_DIR


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def make_synth(tmp_path_factory):
    """``make_synth(**kwargs) -> Path``: synthetic data from ``custseg.synth.generate``, made once
    per session (per xdist worker) for each set of arguments. Defaults: 3000 customers, seed 7."""
    from custseg.synth import generate

    made: dict[tuple, Path] = {}

    def make(**kwargs) -> Path:
        kwargs = {"customers": 3000, "seed": 7, **kwargs}
        key = tuple(sorted(kwargs.items()))
        if key not in made:
            made[key] = tmp_path_factory.mktemp("synth")
            generate(made[key], **kwargs)
        return made[key]

    return make


@pytest.fixture(scope="session")
def synth_dir(make_synth) -> Path:
    """A small synthetic Olist export (3000 customers, seed 7, 24 months from 2016-09-01) with
    truth.csv; generated once per session."""
    return make_synth()


@pytest.fixture(scope="session")
def small_export(tmp_path_factory) -> Path:
    """A small synthetic Olist export as a user has it (300 customers, seed 3, no truth.csv), made
    once per session (per xdist worker): the hostile tests' input. Tests that change it copy it first."""
    from custseg.synth import generate

    root = tmp_path_factory.mktemp("export") / "data"
    generate(root, customers=300, seed=3)
    (root / "truth.csv").unlink()
    return root


#: The synthetic horizon's last day (start 2016-09-01 + 24 months): the date the tests fit at.
SYNTH_END = "2018-09-01"


@pytest.fixture(scope="session")
def synth_features(synth_dir):
    """The feature table of ``synth_dir`` as of :data:`SYNTH_END`, computed once per session (per
    xdist worker). Shared: a test that changes it works on a copy."""
    from custseg.features import features

    return features(synth_dir, SYNTH_END)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of its own (tests/pgserver.py: Debian's package, installed when missing,
    a temporary cluster on a free port), stopped at the end; skipped, saying why, where it cannot run."""
    import pgserver

    try:
        server = pgserver.start()
    except pgserver.Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.remove()
