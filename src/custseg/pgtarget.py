"""PostgreSQL as a target: every customer's segment, written to the table a CRM reads, all at once.

A target ``postgresql://user@host/db?table=customer_segments`` (``?schema=`` optional; the default
table is ``customer_segments``) replaces the table's rows with the new assignment in **one
transaction**: readers see the old rows until the commit, then all the new ones, never a
half-written table; a run that fails or is killed before the commit leaves the table as it was.
The table is created when missing, with the columns of :data:`COLUMNS`. Rows arrive through
ADBC's bulk ingestion (PostgreSQL's COPY) as Arrow data.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from .errors import InputError, OutputError
from .pgsource import database_errors, driver_error_text, is_url, redacted

DEFAULT_TABLE = "customer_segments"
#: Columns of the target table and their PostgreSQL types.
COLUMNS = {
    "customer_unique_id": "text NOT NULL",
    "segment_id": "integer NOT NULL",
    "segment_name": "text NOT NULL",
    "distance": "double precision",
    "outlier": "boolean",
    "model_version": "text NOT NULL",
    "as_of": "date NOT NULL",
}


@dataclass(frozen=True)
class Target:
    """Where assignments go: a connection URL (never shown), the schema and the table."""

    url: str
    shown: str
    table: str
    schema: str | None

    @classmethod
    def parse(cls, url: str) -> Target:
        if not is_url(url):
            raise InputError(f"{redacted(url) if '@' in url else url}: not a postgresql:// URL")
        parts = urlsplit(url)
        params = parse_qsl(parts.query, keep_blank_values=True)
        own = {k: v for k, v in params if k in ("table", "schema")}
        conn = urlunsplit((parts.scheme, parts.netloc, parts.path,
                           urlencode([(k, v) for k, v in params if k not in own]), ""))
        return cls(conn, redacted(url), own.get("table") or DEFAULT_TABLE, own.get("schema") or None)

    @property
    def qualified(self) -> str:
        names = ([self.schema] if self.schema else []) + [self.table]
        return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def _rows(assignment: pd.DataFrame, model_version: str, as_of: date):
    """The assignment as an Arrow table with the target's columns."""
    import pyarrow as pa

    return pa.table({
        "customer_unique_id": pa.array(assignment["customer_unique_id"].astype(str), pa.string()),
        "segment_id": pa.array(assignment["segment_id"].astype("int32"), pa.int32()),
        "segment_name": pa.array(assignment["segment_name"].astype(str), pa.string()),
        "distance": pa.array(assignment["distance"].astype("float64"), pa.float64()),
        "outlier": pa.array(assignment["outlier"].astype(bool), pa.bool_()),
        "model_version": pa.array([model_version] * len(assignment), pa.string()),
        "as_of": pa.array([as_of] * len(assignment), pa.date32()),
    })


def write_assignments(url: str, assignment: pd.DataFrame, model_version: str, as_of: date) -> str:
    """Replace the rows of the target table with ``assignment`` in one transaction; its shown name.

    Raises OutputError (exit 4) when the database cannot be reached or the table not written; the
    table is then unchanged.
    """
    target = Target.parse(url)
    where = target.shown
    try:
        import adbc_driver_postgresql.dbapi as pg
    except ImportError:
        raise InputError("writing to PostgreSQL needs the postgres extra: pip install 'custseg[postgres]'") from None
    rows = _rows(assignment, model_version, as_of)
    try:
        conn = pg.connect(target.url, autocommit=False)
    except database_errors() as exc:
        raise OutputError(driver_error_text(exc, target.url), path=where) from None
    try:
        with conn.cursor() as cur:
            columns = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
            cur.execute(f"CREATE TABLE IF NOT EXISTS {target.qualified} ({columns})")
            # DELETE, not TRUNCATE: readers keep reading the old rows until the commit
            cur.execute(f"DELETE FROM {target.qualified}")
            cur.adbc_ingest(target.table, rows, mode="append", db_schema_name=target.schema)
        conn.commit()
    except database_errors() as exc:
        with contextlib.suppress(*database_errors()):  # a lost connection: the server rolls back by itself
            conn.rollback()
        raise OutputError(driver_error_text(exc, target.url), path=where) from None
    finally:
        conn.close()
    return where
