"""The error boundary, as a property of every command: whatever escapes the library becomes the
documented one line (README, "Errors and exit codes").

Two faults are injected into each command, in process (monkeypatched library): an exception
nobody expected (exit 1, ``error: internal error: RuntimeError: ...``) and an ``OSError`` (disk
full) when an output file is moved into place (exit 4, ``error: cannot write <output>: no space
left ...``). Either way: one ``error:`` line, no traceback, no file left in the output folder.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from hostile import assert_refused, import_everything


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Small data, a model fitted on it, and an update state made with the library (no injection)."""
    from custseg.features import features
    from custseg.segment import fit
    from custseg.synth import generate

    root = tmp_path_factory.mktemp("boundary")
    generate(root / "data", customers=300, seed=3)
    (root / "data" / "truth.csv").unlink()
    fit(features(root / "data", "2018-03-01"), "2018-03-01", k=3, seed=0).save(root / "model.json")
    (root / "state").mkdir()
    (root / "state" / "history.jsonl").write_text("")
    return {"data": root / "data", "model": root / "model.json", "state": root / "state"}


def _boom(*args, **kwargs):
    raise RuntimeError("injected")


#: command -> (its arguments; OUT is the output folder), and where an unexpected exception is raised.
COMMANDS = {
    "version": ([], "custseg.cli.console.print"),
    "synth": (["OUT/synth", "--customers", "50"], "custseg.synth.generate"),
    "validate": (["DATA", "--json", "OUT/v.json"], "custseg.ingest.connect"),
    "features": (["DATA", "-o", "OUT/f.csv"], "custseg.ingest.connect"),
    "report": (["DATA", "-o", "OUT/r.html", "--model", "MODEL"], "custseg.ingest.connect"),
    "rfm": (["DATA", "-o", "OUT/rfm.csv"], "custseg.ingest.connect"),
    "fit": (["DATA", "-o", "OUT/m.json", "--k", "3"], "custseg.ingest.connect"),
    "assign": (["MODEL", "DATA", "-o", "OUT/s.csv"], "custseg.ingest.connect"),
    "describe": (["MODEL"], "custseg.jsonfile.read_json"),
    "stability": (["DATA", "-o", "OUT/st.json", "--k", "3", "--seeds", "2", "--no-cost", "--step", "3M",
                   "--start", "2018-03-01"], "custseg.ingest.connect"),
    "monitor": (["MODEL", "DATA", "--as-of", "2018-06-01", "--seeds", "2", "-o", "OUT/rec.json"],
                "custseg.ingest.connect"),
    "update": (["DATA", "--state", "OUT/state"], "custseg.ingest.connect"),
    "history": (["--state", "STATE", "--json", "OUT/h.json"], "custseg.cli.console.print"),
    "run": (["DATA", "-o", "OUT/run", "--no-stability"], "custseg.ingest.connect"),
    "demo": (["OUT/demo", "--customers", "300"], "custseg.synth.generate"),
}
#: Commands whose work is too slow to repeat here up to the write (their writes share atomic_path).
NO_WRITE_CASE = {"version", "describe", "demo", "update"}


def _args(command: str, made: dict[str, Path], out: Path) -> list[str]:
    names = {"DATA": made["data"], "MODEL": made["model"], "STATE": made["state"]}
    args = COMMANDS[command][0]
    return [command] + [str(names.get(a, a)).replace("OUT", str(out)) for a in args]


def test_every_command_is_covered():
    from custseg.cli import app

    assert set(COMMANDS) == {c.name or c.callback.__name__ for c in app.registered_commands}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unexpected_exception_is_one_internal_error_line(cli, made, tmp_path, monkeypatch, command):
    import_everything()
    monkeypatch.setattr(COMMANDS[command][1], _boom)
    out = tmp_path / "out"
    out.mkdir()
    line = assert_refused(cli(*_args(command, made, out)), 1)
    assert line == "error: internal error: RuntimeError: injected (run with --debug for the traceback)"
    # update's state folder and its lock file (held with flock, not by existing) are its state, not debris
    leftovers = [p for p in out.rglob("*") if p.is_file() and p.name != ".lock"]
    assert not leftovers, leftovers


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_WRITE_CASE))
def test_an_os_error_at_write_time_is_one_output_error_line(cli, made, tmp_path, monkeypatch, command):
    def full(src, dst, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(cli(*_args(command, made, out)), 4, f"error: cannot write {out}", "no space left on the device")
    leftovers = [p for p in out.rglob("*") if p.is_file()]
    assert not leftovers, leftovers
