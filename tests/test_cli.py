"""The CLI's error boundary: one `error:` line and a documented exit code for anything raised, the
traceback only on request; the same codes in process (CliRunner) and from the script."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_cli, run_in_process, run_script
from custseg import cli as cli_module
from custseg.errors import CustsegError, as_user_error


@pytest.fixture
def version_raises(monkeypatch):
    """``custseg version`` raising the exception given."""
    def install(exc: BaseException) -> None:
        def raising(*args, **kwargs):
            raise exc
        # the error happens inside the command, where it prints
        monkeypatch.setattr(cli_module.console, "print", raising)
    return install


def test_internal_error_is_one_line_with_exit_1(version_raises):
    version_raises(ZeroDivisionError("division by zero"))
    result = run_in_process("version")
    assert result.code == 1
    assert result.stderr.strip() == ("error: internal error: ZeroDivisionError: division by zero "
                                     "(run with --debug for the traceback)")


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_adds_the_traceback(version_raises, monkeypatch, how):
    version_raises(ZeroDivisionError("division by zero"))
    if how == "environment":
        monkeypatch.setenv("CUSTSEG_DEBUG", "1")
    result = run_in_process(*(["--debug"] if how == "option" else []), "version")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.stderr and "ZeroDivisionError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: internal error: ZeroDivisionError")


def test_custseg_error_keeps_its_exit_code(version_raises):
    class Custom(CustsegError):
        exit_code = 4
    version_raises(Custom("out of   disk\nat /tmp"))
    result = run_in_process("version")
    assert (result.code, result.stderr) == (4, "error: out of disk at /tmp\n")


def test_keyboard_interrupt_is_130(version_raises):
    version_raises(KeyboardInterrupt())
    result = run_in_process("version")
    assert result.code == 130 and result.stderr.strip() == "interrupted"


def test_a_signal_that_stops_a_duckdb_query_is_the_same_one_line(version_raises, monkeypatch):
    import signal

    import duckdb

    from custseg import errors

    # DuckDB turns the signal's KeyboardInterrupt into its own error; the recorded signal tells it apart
    monkeypatch.setattr(errors, "_stopped_by", signal.SIGINT)
    version_raises(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    result = run_in_process("version")
    assert result.code == 130 and result.stderr == "interrupted\n"


def test_usage_errors_are_one_line_with_exit_2():
    unknown = run_cli("fit", "--bogus", "data")
    assert unknown.code == 2 and unknown.stderr.startswith("error: No such option: --bogus")
    assert len(unknown.stderr.strip().splitlines()) == 1
    out_of_range = run_cli("rfm", "data", "-o", "r.csv", "--bins", "12")
    assert out_of_range.code == 2 and "'--bins'" in out_of_range.stderr and "9" in out_of_range.stderr
    assert len(out_of_range.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_seed_out_of_range_is_refused_before_any_work(seed, tmp_path):
    result = run_cli("synth", tmp_path / "out", "--customers", "50", "--seed", seed)
    assert result.code == 2 and "'--seed'" in result.stderr and not (tmp_path / "out").exists()


def test_as_user_error_passes_custseg_errors_through():
    error = CustsegError("x")
    assert as_user_error(error) is error
    assert as_user_error(ValueError("bad")).exit_code == 1


def test_every_data_command_takes_the_log_options():
    for name in ("validate", "features", "rfm", "fit", "assign", "report", "stability", "monitor", "run"):
        result = run_cli(name, "--help")
        assert result.code == 0
        for flag in ("--customer-col", "--date-col", "--amount-col", "--order-col", "--date-format", "--columns",
                     "--header"):
            assert flag in result.stdout, (name, flag)


# The script itself, as a scheduler runs it: a real process.

def test_script_exit_code_and_one_line(tmp_path):
    result = run_script("validate", tmp_path / "missing")
    assert result.code == 2 and result.stderr == "error: missing: no such file or directory\n"
    assert run_script("version").stdout.strip()


def test_script_interrupted_by_sigint_exits_130():
    # the command sends itself SIGINT, as Ctrl-C in a terminal does
    code = ("import os, signal, custseg.cli as c; "
            "c.console.print = lambda *a, **k: os.kill(os.getpid(), signal.SIGINT); c.main()")
    proc = subprocess.run([sys.executable, "-c", code, "version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130 and proc.stderr.strip() == "interrupted"


def _readme_exit_codes() -> set[int]:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme.split("### Errors and exit codes", 1)[1].split("\n\n")[2]
    return {int(line.split("|")[1]) for line in table.splitlines() if line.split("|")[1].strip().isdigit()}


def test_every_command_help_ends_with_the_readme_exit_codes():
    from custseg.cli.boundary import EXIT_CODES, app

    assert set(EXIT_CODES) == _readme_exit_codes() == {0, 1, 2, 3, 4, 130}
    names = [info.name or info.callback.__name__ for info in app.registered_commands]
    assert {"monitor", "stability", "run", "update", "validate", "version"} <= set(names)
    for name in names:
        run = run_in_process(name, "--help")
        assert run.code == 0, name
        listed = run.stdout.split("Exit codes:", 1)[1]
        shown = {code for code in EXIT_CODES if f" {code} {EXIT_CODES[code].split()[0]}" in listed}
        expected = {0, 1, 130} if name == "version" else {0, 1, 2, 4, 130} | ({3} if name == "monitor" else set())
        assert shown == expected, name
