"""The command line: a thin skin over the library.

Each command parses its arguments, calls the library, prints with Rich, and maps errors to exit
codes: 0 success, 2 bad input (one line on stderr, no traceback), 3 "action needed" (monitor).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import CustsegError

app = typer.Typer(
    name="custseg",
    help="Customer segments from marketplace order history, and how long they stay valid.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Customer segments from marketplace order history, and how long they stay valid.

    Typical flow: synth (or your own Olist export) -> validate -> features -> fit -> assign;
    stability and monitor say how long the segments stay valid.
    """


def main() -> None:
    """Entry point of the ``custseg`` script: run the app, turn known errors into one line."""
    try:
        app()
    except CustsegError as exc:
        err_console.print(f"error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


@app.command()
def version() -> None:
    """Print the version of custseg."""
    from . import __version__

    console.print(__version__)
