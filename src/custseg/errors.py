"""Errors a user can act on: one line for a human, an exit code for the CLI.

Input problems raise :class:`InputError`; its message names the file, the column
(when there is one) and the problem, on one line. The CLI prints it and exits 2.
"""
from __future__ import annotations

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
