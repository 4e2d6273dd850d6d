"""The command line: a thin skin over the library.

Each command parses its arguments, calls the library, and prints with Rich. The app itself is the
error boundary (:class:`ErrorBoundary`), so the ``custseg`` script and an in-process runner see the
same exit codes: 0 success, 1 internal error (a bug), 2 bad input or options, 3 "action needed"
(monitor), 4 cannot write the output / out of resources, 130 interrupted. Every error is one
``error:`` line on stderr; the traceback only with ``--debug`` or ``CUSTSEG_DEBUG=1``.
"""
from __future__ import annotations

# the command modules register their commands on the app, in the order of `custseg --help`
from . import data, segments, validity  # noqa: F401
from .boundary import ErrorBoundary, add_exit_codes, app, as_flags, console, err_console, main
from .options import log_mapping, reads_data

add_exit_codes(app)

__all__ = ["ErrorBoundary", "app", "as_flags", "console", "err_console", "log_mapping", "main", "reads_data"]
