"""Hostile conditions, class 2: ``custseg run`` interrupted by SIGTERM, SIGHUP or SIGKILL.

Real processes (signals need them). Each run stops at a named point through the documented test
hook ``CUSTSEG_PAUSE_AT`` (custseg.hooks): during features, during the model search (its worker
processes busy) and during the report. Then: previous outputs untouched; after SIGTERM/SIGHUP the
staging folder is gone at once, exit 130, no traceback; after SIGKILL the next run removes the
dead run's staging folder; in every case no process of the run (workers, resource trackers)
remains within 5 s; the last run into the same folder succeeds and leaves no staging folder.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hostile import snapshot

PHASES = ["features", "search", "report"]
#: A small search (k-means at k = 3; its fits still run in worker processes): what is checked is
#: what a signal leaves behind at each step, not the search.
RUN_OPTIONS = ["--no-stability", "--k", "3", "--algorithm", "kmeans"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from custseg.synth import generate

    root = tmp_path_factory.mktemp("signals") / "data"
    generate(root, customers=300, seed=3)
    return root


def _start(data: Path, out: Path, phase: str, log: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """``custseg run`` paused at ``phase``; the process and its children once it is there."""
    env = {**os.environ, "CUSTSEG_PAUSE_AT": phase, "COLUMNS": "200", "NO_COLOR": "1"}
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "custseg", "run", data, "-o", out, *RUN_OPTIONS],
                                stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.monotonic() + 120
    while f"paused at {phase}" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return proc, psutil.Process(proc.pid).children(recursive=True)


def _all_gone(processes: list[psutil.Process]) -> bool:
    """Whether every process has ended within 5 s."""
    _, alive = psutil.wait_procs(processes, timeout=5)
    return not alive


def _staging(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob(".custseg-run-*"))


@pytest.mark.parametrize("phase, sig", [("features", signal.SIGTERM), ("search", signal.SIGTERM),
                                        ("report", signal.SIGTERM), ("features", signal.SIGHUP),
                                        ("features", signal.SIGINT)])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(data, tmp_path, phase, sig):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("the previous model\n")
    before = snapshot(out)
    proc, children = _start(data, out, phase, tmp_path / "err.log")
    if phase == "search":
        assert any("loky" in " ".join(c.cmdline()) for c in children), "the search runs in worker processes"
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130
    assert _all_gone(children)
    assert "Traceback" not in (tmp_path / "err.log").read_text()
    assert snapshot(out) == before and not _staging(out)


def test_after_sigkill_the_next_run_removes_the_dead_runs_staging_and_succeeds(data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("the previous model\n")
    left: list[str] = []
    for phase in PHASES:
        proc, children = _start(data, out, phase, tmp_path / "err.log")
        assert _staging(out) == [n for n in _staging(out) if n not in left]  # the last dead run's is gone
        proc.kill()
        proc.wait(timeout=30)
        assert _all_gone(children), [c.cmdline() for c in children if c.is_running()]
        assert (out / "model.json").read_text() == "the previous model\n"
        left = _staging(out)
        assert len(left) == 1  # the dead run's, until the next run
    done = subprocess.run([sys.executable, "-m", "custseg", "run", data, "-o", out, *RUN_OPTIONS],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not _staging(out)
    assert (out / "model.json").read_text().startswith("{")


def test_a_live_runs_staging_folder_is_left_alone(data, tmp_path):
    """Only a dead run's folder is removed: a concurrent run's (or one of unknown owner) stays."""
    from custseg.pipeline import staging_folder

    out = tmp_path / "out"
    mine = staging_folder(out)  # this process: alive
    unknown = out / ".custseg-run-legacy"
    unknown.mkdir()
    dead = out / ".custseg-run-99999999-x"
    dead.mkdir()
    (dead / ".owner").write_text("99999999 12.5\n")
    other = staging_folder(out)
    assert mine.is_dir() and unknown.is_dir() and other.is_dir() and not dead.exists()
