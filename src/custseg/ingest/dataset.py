"""The loaded data (:class:`Dataset`) and DuckDB connections within a memory budget that follows the machine."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..checks import Finding
from ..errors import InputError
from ..schema import LogMapping

@dataclass
class Dataset:
    """Ingested tables in a DuckDB connection, and what was learned while reading them."""

    con: duckdb.DuckDBPyConnection
    root: Path
    files: dict[str, Path]
    rows: dict[str, int]
    warnings: list[Finding] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)
    mapping: LogMapping | None = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Free DuckDB's tables (gigabytes for millions of orders); ``with open_data(...) as ds`` does it."""
        self.con.close()

    @property
    def kind(self) -> str:
        """``"olist"`` for an Olist export, ``"log"`` for a transaction log."""
        return "log" if self.mapping else "olist"

    def scalar(self, sql: str, params: list | None = None):
        """The first column of the first row of ``sql``."""
        return self.con.execute(sql, params or []).fetchall()[0][0]

    def record(self, findings: list[Finding]) -> None:
        """Keep refusals as problems and the rest as warnings."""
        for f in findings:
            if f.refuse:
                self.problems.append(f.error(self.files.get(f.table, self.root)))
            else:
                self.warnings.append(f)

    def refuse_if_unusable(self) -> None:
        """Raise the first problem (saying how many more there are), if there is one."""
        if not self.problems:
            return
        first, more = self.problems[0], len(self.problems) - 1
        if not more:
            raise first
        raise InputError(f"{first.problem} (and {more} more problem{'s' if more > 1 else ''}: "
                         "run custseg validate)", file=Path(first.file) if first.file else None,
                         column=first.column)


#: Share of the memory available when a connection opens that DuckDB may use (see :func:`memory_budget`):
#: a fifth, about 4.5 GiB on an idle 24 GB machine (a 4.9 GiB budget peaked at 5.2 GB for 5M orders).
MEMORY_SHARE = 0.2

#: The smallest budget a connection gets, however little memory is available (DuckDB spills beyond it).
MIN_MEMORY = 1 << 30


def memory_budget() -> str:
    """DuckDB's memory budget: ``CUSTSEG_DUCKDB_MEMORY`` (e.g. ``8GB``) when set, else a share of the
    memory available now (:data:`MEMORY_SHARE`, at least :data:`MIN_MEMORY`), in MiB.

    Past the budget, tables and intermediate results spill to a temporary directory. Following the
    machine, a 24 GB machine is not run as a small one, and a small or busy one is not overrun:
    10M orders (9M customers) hold about 7 GB as tables and need more for the feature query, and
    complete on a 6 GB budget by spilling.
    """
    override = os.environ.get("CUSTSEG_DUCKDB_MEMORY", "").strip()
    if override:
        return override
    import psutil

    return f"{max(MIN_MEMORY, int(psutil.virtual_memory().available * MEMORY_SHARE)) >> 20}MiB"


#: DuckDB's budget while Python does the work and DuckDB only keeps its tables (see :func:`idle`).
IDLE_MEMORY_LIMIT = "256MB"

# The budget each connection was given, keyed by how DuckDB shows it (rounded, e.g. '2.7 GiB'):
# :func:`idle` restores the exact one.
_GIVEN: dict[str, str] = {}


def _shown_limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


@contextmanager
def idle(ds: Dataset):
    """While the block runs, DuckDB keeps its tables in its temporary directory rather than in memory.

    Fitting and describing millions of customers happens in Python while the loaded tables wait
    for the next query: lowering DuckDB's budget makes it write them out (about 1 s per GB) and
    read back what a later query needs. The budget is restored afterwards; if DuckDB cannot shrink
    (a result still pinned), nothing changes.
    """
    shown = _shown_limit(ds.con)
    budget = _GIVEN.get(shown, shown)
    try:
        ds.con.execute(f"SET memory_limit = '{IDLE_MEMORY_LIMIT}'")
    except duckdb.Error:
        yield ds
        return
    try:
        yield ds
    finally:
        ds.con.execute(f"SET memory_limit = '{budget}'")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection within :func:`memory_budget`, spilling to a directory of its own.

    Timestamps are DuckDB TIMESTAMPs, wall-clock times without a zone, so no time zone setting
    applies (the spark engine reads them as TIMESTAMP_NTZ, in a UTC session)."""
    spill = Path(tempfile.gettempdir()) / f"custseg-duckdb-{uuid.uuid4().hex}"
    # DuckDB removes its spill files when the connection closes; the directory goes at exit
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    budget = memory_budget()
    # background threads hand freed memory back to the system as DuckDB goes (peak RSS -14% at 5M
    # orders), rather than keeping it until the next allocation
    try:
        con = duckdb.connect(config={"memory_limit": budget, "temp_directory": str(spill),
                                     "allocator_background_threads": True})
    except duckdb.ParserException:  # only the budget comes from outside; DuckDB: "Memory must have a number"
        raise InputError(f"CUSTSEG_DUCKDB_MEMORY: {budget!r} is not a memory size (e.g. 2GB, 512MB)") from None
    _GIVEN[_shown_limit(con)] = budget
    return con


def connection(con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """``con``, or a new connection from ``custseg.ingest.connect`` (looked up when called, so that
    the package's name is the one every load uses, a replaced one included)."""
    from .. import ingest

    return con if con is not None else ingest.connect()


@contextmanager
def closed_on_error(ds: Dataset, owned: bool):
    """Close ``ds`` when the block raises and its connection was opened for it (``owned``): a load that
    refuses its data must not leave DuckDB's tables (gigabytes) behind."""
    try:
        yield ds
    except BaseException:
        if owned:
            ds.close()
        raise


def finish_pending(ds: Dataset) -> Dataset:
    """``ds`` with no half-read result left on its connection.

    DuckDB 2 keeps an ``execute()`` result open until a fetch returns no rows (``fetchone`` on a
    one-row result does not), and refuses relational calls such as ``con.sql`` meanwhile; a user's
    notebook must get a connection ready for any call.
    """
    ds.con.execute("SELECT NULL").fetchall()
    return ds
