"""Progress for people and for logs: lines while a redirected run works, bars on a terminal, quiet."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

from rich.console import Console
from rich.progress import Progress

from custseg.views import progress as progress_module
from custseg.views.progress import Bars, PlainLines, inside, progress_view


def test_run_redirected_to_a_file_writes_progress_lines_while_it_works(synth_dir, tmp_path):
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "custseg", "run", str(synth_dir), "-o", str(tmp_path / "out"),
                                 "--no-stability", "--k", "5", "--algorithm", "kmeans"],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        seen_while_running = False
        while proc.poll() is None:
            seen_while_running = seen_while_running or "custseg: fit" in log.read_text()
            time.sleep(0.2)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert seen_while_running, "no progress line was written before the run ended"
    lines = [line for line in text.splitlines() if " custseg: " in line]
    assert [line.split(" custseg: ")[1].split()[0] for line in lines[:4]] == ["validate", "features", "rfm", "fit"]
    assert any("fit: kmeans" in line for line in lines), "no line from inside fit's search"
    assert all(line[:4].isdigit() and line[10] == "T" for line in lines)  # timestamped
    assert "\x1b[" not in text  # no terminal control codes in a log
    # the run ends with its summary: one line per segment, data health, the report
    assert "5 segments of" in text and "% of revenue" in text and "Data health:" in text and "Report:" in text


def test_quiet_shows_nothing(cli, synth_dir, tmp_path):
    with progress_view(Console(file=io.StringIO()), quiet=True) as tick:
        tick("fit", 1, 3)
    result = cli("run", synth_dir, "-o", tmp_path / "out", "--no-stability", "--k", "2", "--algorithm", "kmeans",
                 "--quiet")
    assert result.code == 0, result.stderr
    assert " custseg: " not in result.stderr and "Report:" in result.stdout


def test_plain_lines_are_throttled_per_piece_of_work(monkeypatch):
    monkeypatch.setattr(progress_module, "GRACE_SECONDS", 0.0)
    stream = io.StringIO()
    lines = PlainLines(stream)
    for done in range(5):
        lines("fit: kmeans", done, 5)
    lines("fit: kmeans", 5, 5)  # the end of a piece of work is always shown
    lines("assign", 4, 7)
    shown = stream.getvalue().splitlines()
    assert len(shown) == 3 and shown[0].endswith("0/5 (0 s)") and "5/5" in shown[1] and "assign 4/7" in shown[2]


def test_a_command_that_ends_at_once_writes_no_progress_line():
    stream = io.StringIO()
    lines = PlainLines(stream)
    lines("validate", 0, 7)
    assert stream.getvalue() == ""
    lines.started -= 2  # a second later, the held line comes out first, with its own time
    lines("features", 1, 7)
    shown = stream.getvalue().splitlines()
    assert len(shown) == 2 and "validate 0/7" in shown[0] and "features 1/7" in shown[1]


def test_bars_show_the_step_and_the_work_inside_it():
    with Progress(console=Console(file=io.StringIO())) as progress:
        bars = Bars(progress)
        detail = inside("fit", bars)
        bars("fit", 3, 7)
        detail("kmeans: fit + 10 refits", 4, 11)
        step, inner = progress.tasks
        assert (step.description, step.completed, step.total) == ("fit", 3, 7)
        assert inner.visible and inner.completed == 4 and "kmeans" in inner.description
        bars("assign", 4, 7)
        assert progress.tasks[0].description == "assign" and not progress.tasks[1].visible
    assert inside("fit", None) is None
