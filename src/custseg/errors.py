"""Errors a user can act on: one line for a human, an exit code for the CLI.

Input problems raise :class:`InputError`; its message names the file, the column
(when there is one) and the problem, on one line. The CLI prints it and exits 2. An output that
cannot be written raises :class:`OutputError` and running out of memory :class:`ResourceError`
(exit 4). :func:`as_user_error` turns any exception into the one line the CLI prints.
"""
from __future__ import annotations

import errno
import re
from pathlib import Path


class CustsegError(Exception):
    """Base class for errors the CLI reports without a traceback."""

    exit_code = 1

    def __init__(self, message: str):
        # One line, always: a message is read in a terminal or a scheduler's log.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class InputError(CustsegError):
    """Bad input: a missing or unreadable file, a missing column, a value that does not parse.

    Build it with the parts a user needs to find the problem::

        InputError("duplicate primary key (3 rows, e.g. 'abc')", file="olist_orders_dataset.csv",
                   column="order_id")
    """

    exit_code = 2

    def __init__(self, problem: str, *, file: str | Path | None = None, column: str | None = None):
        parts = []
        if file is not None:
            parts.append(Path(file).name if isinstance(file, Path) else str(file))
        if column is not None:
            parts.append(f"column {column}")
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)
        self.file = str(file) if file is not None else None
        self.column = column
        self.problem = problem


class ModelFileError(InputError):
    """A model (or other JSON artefact) that does not validate: tampered, truncated, foreign."""


class OutputError(CustsegError):
    """An output cannot be written: a read-only or full disk, a file where a folder is needed, ...

    The message names the path and what to do. Exit code 4.
    """

    exit_code = 4

    def __init__(self, problem: str, *, path: str | Path | None = None):
        super().__init__(f"cannot write {path}: {problem}" if path is not None else problem)
        self.path = str(path) if path is not None else None
        self.problem = problem


class ResourceError(CustsegError):
    """The machine ran out of something (memory): the message names it and what to do. Exit code 4."""

    exit_code = 4


class Stopped(CustsegError):
    """The run was stopped by a signal (SIGTERM, SIGHUP) and cleaned up. Exit code 130, as for Ctrl-C."""

    exit_code = 130

    def __init__(self, signum: int):
        import signal

        super().__init__(f"stopped by {signal.Signals(signum).name}: temporary files removed, "
                         "previous outputs left as they were")


class InternalError(CustsegError):
    """An exception nobody expected: a bug, reported in one line. Exit code 1."""

    exit_code = 1


#: What a user can do about an OSError when writing, by errno.
_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device: free disk space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded: free disk space or write elsewhere",
    errno.EFBIG: "file too large for this file system or process limit: write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "permission denied: write to a folder you may write to",
    errno.EPERM: "operation not permitted: write to a folder you may write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EEXIST: "a part of the path exists and is not a folder: choose another path",
    errno.EISDIR: "is a folder, expected a file path",
    errno.ENAMETOOLONG: "the file name is too long for the file system: choose a shorter name",
}


def _memory_advice(what: str) -> ResourceError:
    from os import environ

    set_to = environ.get("CUSTSEG_DUCKDB_MEMORY", "").strip()
    budget = f"CUSTSEG_DUCKDB_MEMORY={set_to}" if set_to else "a quarter of the available memory"
    return ResourceError(
        f"out of memory ({what}; DuckDB's budget: {budget}): if the machine has more free memory, raise "
        "the budget (e.g. CUSTSEG_DUCKDB_MEMORY=8GB); if the process as a whole ran out, lower it (e.g. "
        "CUSTSEG_DUCKDB_MEMORY=1GB) so that DuckDB spills to disk sooner; or free memory, or read less data")


def _is(exc: BaseException, module: str, name: str) -> bool:
    """Whether ``exc`` is an instance of ``module.name`` (checked only when that module is loaded)."""
    import sys

    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def as_user_error(exc: BaseException) -> CustsegError:
    """``exc`` as the one-line error the CLI prints (with its exit code).

    A :class:`CustsegError` is itself. An ``OSError`` naming a path (read-only, full disk, a file
    where a folder is needed, a name too long) is an :class:`OutputError`; running out of memory
    (``MemoryError``, DuckDB's ``OutOfMemoryException``, Arrow's ``ArrowMemoryError``) a
    :class:`ResourceError` with advice about ``CUSTSEG_DUCKDB_MEMORY``; a DuckDB I/O error about a
    full disk an :class:`OutputError`. Anything else is a bug: an internal error, exit code 1.
    """
    if isinstance(exc, CustsegError):
        return exc
    if _stopped_by is not None:  # DuckDB turns the signal's exception into its own "Query interrupted"
        return Stopped(_stopped_by)
    if isinstance(exc, MemoryError) or _is(exc, "pyarrow", "ArrowMemoryError"):
        return _memory_advice("Python and Arrow")
    if _is(exc, "duckdb", "OutOfMemoryException"):
        return _memory_advice("DuckDB")
    if isinstance(exc, OSError) and exc.errno in _OS_ADVICE:
        path = exc.filename if exc.filename is not None else None
        return OutputError(_OS_ADVICE[exc.errno], path=path)
    if _is(exc, "duckdb", "IOException"):  # DuckDB names the failed call's errno in its message
        found = re.search(r'"errno"\s*:\s*"(\d+)"', str(exc))
        code = int(found.group(1)) if found else errno.ENOSPC if "no space left" in str(exc).lower() else None
        if code in _OS_ADVICE:
            return OutputError(_OS_ADVICE[code])
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "..."
    return InternalError(f"internal error: {type(exc).__name__}: {text}")


#: The signal that asked this process to stop (see :func:`stop_on_signals`), once one has.
_stopped_by: int | None = None


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM, SIGHUP): unwinds like Ctrl-C, so that clean-up runs.

    The CLI exits 130, as for Ctrl-C.
    """

    def __init__(self, signum: int):
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signal = signum


def stop_on_signals() -> None:
    """Make SIGTERM, SIGHUP and SIGINT raise :class:`Interrupted` in the main thread (for the CLI process).

    A scheduler's timeout sends SIGTERM; a closed terminal SIGHUP. Either then cleans up as Ctrl-C
    does: staging folders and temporary files removed, worker processes ended. Once one arrives,
    further signals are ignored so that the clean-up itself is not cut short.
    """
    import signal

    def stop(signum, frame):
        global _stopped_by
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        _stopped_by = signum
        raise Interrupted(signum)

    # Ctrl-C too: inside a DuckDB query, Python's own KeyboardInterrupt comes back as DuckDB's
    # "Query interrupted" error, which only the recorded signal tells from a bug
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, stop)
