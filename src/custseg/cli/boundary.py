"""The app: the error boundary (exit codes, one `error:` line, --debug), the consoles and the root options."""
from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from ..errors import InternalError, Stopped, as_user_error


try:  # typer >= 0.24 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

#: Seeds go to NumPy and scikit-learn, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

console = Console()
err_console = Console(stderr=True)
#: Whether progress is shown (the root option --quiet, or a command's own).
QUIET = {"on": False}


def say_error(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


class ErrorBoundary(TyperGroup):
    """The root command: runs a command and turns whatever it raises into an exit code and one line.

    Usage errors (unknown option, value out of range) exit 2, :class:`custseg.errors.CustsegError`
    its own code, anything else 1 (a bug); Ctrl-C 130. ``--debug`` (or ``CUSTSEG_DEBUG=1``) adds
    the traceback.
    """

    debug = False

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        self.debug = os.environ.get("CUSTSEG_DEBUG", "") not in ("", "0")
        try:
            # not standalone: exceptions come back here instead of being printed by Typer
            result = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  windows_expand_args=windows_expand_args, **extra)
            code = result if isinstance(result, int) else 0
        except ClickException as exc:
            code = self._usage_error(exc)
        except Exception as exc:
            code = self._error(exc)
        if code == 130:
            err_console.print("interrupted")
        if not standalone_mode:
            return code
        sys.exit(code)

    def _usage_error(self, exc: ClickException) -> int:
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            say_error(exc.format_message() + hint)
        return exc.exit_code

    def _error(self, exc: Exception) -> int:
        error = as_user_error(exc)
        if self.debug:
            traceback.print_exception(exc, file=sys.stderr)
        if isinstance(error, Stopped):  # a signal stopped a DuckDB query: "interrupted", as anywhere else
            return error.exit_code
        hint = " (run with --debug for the traceback)" if isinstance(error, InternalError) and not self.debug else ""
        say_error(as_flags(error.message) + hint)
        return error.exit_code


#: Library parameters whose option is not ``--`` and the parameter's name with dashes.
_FLAG_OF = {"n_jobs": "--jobs", "statuses": "--statuses", "master": "--spark-master", "json_file": "--json",
            "reference": "--start"}


def as_flags(message: str) -> str:
    """A library message with the parameters it names in backquotes (`min_share`) shown as options
    (--min-share): the library speaks to Python callers, the command line to its users."""
    return re.sub(r"`(\w+)`", lambda m: _FLAG_OF.get(m.group(1), "--" + m.group(1).replace("_", "-")), message)


#: The exit codes and what they mean, as README's table "Errors and exit codes" gives them.
EXIT_CODES = {
    0: "done (monitor: healthy; update: completed)",
    1: "internal error, a bug (run again with --debug and report it)",
    2: "bad input or options (the error: line names the file, column or option)",
    3: "a re-train is due",
    4: "cannot write an output, out of memory, or another update holds the state's lock",
    130: "interrupted (Ctrl-C, SIGTERM or SIGHUP)",
}
#: The codes a command may end with, where they are not the usual ones (3 is the monitor's alone).
_COMMAND_EXITS = {"monitor": (0, 1, 2, 3, 4, 130), "version": (0, 1, 130)}
_USUAL_EXITS = (0, 1, 2, 4, 130)


def exit_codes_help(command: str) -> str:
    """The exit codes ``custseg COMMAND`` may end with, for the end of its ``--help``."""
    codes = _COMMAND_EXITS.get(command, _USUAL_EXITS)
    return "Exit codes:\n\n" + "\n\n".join(f"{code} {EXIT_CODES[code]}" for code in codes)


def add_exit_codes(typer_app: typer.Typer) -> None:
    """End every command's help with its exit codes (after the epilog it has)."""
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        info.epilog = "\n\n".join(filter(None, [info.epilog, exit_codes_help(name)]))


app = typer.Typer(
    name="custseg",
    cls=ErrorBoundary,
    help="Customer segments from marketplace order history, and how long they stay valid.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an error, also print the traceback (as does CUSTSEG_DEBUG=1).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q",
        help="No progress display (bars on a terminal, timestamped lines on stderr otherwise).")] = False,
) -> None:
    """Customer segments from marketplace order history, and how long they stay valid.

    Typical flow: synth (or your own Olist export) -> validate -> features -> fit -> assign;
    stability and monitor say how long the segments stay valid.
    """
    from ..export import forget_inputs

    forget_inputs()  # the inputs of this command only (the app may run several times in one process)
    QUIET["on"] = quiet
    if debug and isinstance(ctx.command, ErrorBoundary):
        ctx.command.debug = True


def main() -> None:
    """Entry point of the ``custseg`` script."""
    from ..errors import stop_on_signals

    stop_on_signals()  # SIGTERM and SIGHUP clean up as Ctrl-C does (the script's process only)
    app()


@app.command()
def version() -> None:
    """Print the version of custseg."""
    from .. import __version__

    console.print(__version__)



def say_default_as_of(given: str | None, used: object) -> None:
    """Say which as-of date was used when none was given (and the data gave one)."""
    if given is None and used is not None:
        console.print(f"as-of not given: using {used}, the day after the latest purchase in the data")



def step_progress():
    """Progress of a long command on stderr: bars on a terminal, timestamped lines otherwise."""
    from ..views.progress import progress_view

    return progress_view(err_console, quiet=QUIET["on"])
