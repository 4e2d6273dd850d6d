"""PostgreSQL as DATA: the nine Olist tables, or a transaction log, read through ADBC into DuckDB.

A ``postgresql://`` URL stands where DATA is a directory or a file::

    postgresql://user@host:5432/shop                        the nine Olist tables
    postgresql://user@host:5432/shop?schema=olist&orders=all_orders
    postgresql://user@host:5432/shop?table=sales            a transaction log (with the log options)
    postgresql://user@host:5432/shop?query=SELECT%20...     a log from a query (URL-encoded)

Parameters custseg reads (:data:`OWN_PARAMETERS`) are taken out of the URL; every other one
(``sslmode``, ``connect_timeout``, ...) goes to libpq, so passwords come from the usual places:
``PGPASSWORD``, ``~/.pgpass`` or the URL. No message, record or output shows a password: the
source is shown as :func:`redacted` and database errors are scrubbed (:func:`scrubbed`).

An Olist table is found under its export name (``olist_orders_dataset``) or its contract name
(``orders``), or the name mapped by a parameter (``orders=all_orders``). Only the columns the
command needs are read (the others of the contract come as empty columns, never transferred), in
Arrow batches through ``adbc-driver-postgresql``, and spooled to Parquet files that
:func:`custseg.ingest.load` / :func:`~custseg.ingest.load_log` read as they read any export: the
same data contract, refusals and warnings as for files, naming the table instead of the file.
Time stamps with a time zone are read as UTC wall-clock times.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from .errors import InputError
from .schema import TABLES, LogMapping

SCHEMES = ("postgresql://", "postgres://")
#: URL parameters custseg reads itself: the schema, a log's table or query, and table names.
OWN_PARAMETERS = ("schema", "table", "query", *TABLES)


def is_url(data: object) -> bool:
    """Whether DATA is a PostgreSQL URL."""
    return isinstance(data, str) and data.lower().startswith(SCHEMES)


class Location(str):
    """Where data came from, as shown to people (a redacted URL); ``.name`` is the same text."""

    @property
    def name(self) -> str:
        return str(self)


def redacted(url: str) -> str:
    """``url`` without its password (in the user part or a ``password`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() != "password"], safe="/,:=")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _secrets(url: str) -> list[str]:
    """Every password that may travel with ``url``: in it, and in PGPASSWORD."""
    parts = urlsplit(url)
    found = [parts.password, os.environ.get("PGPASSWORD")]
    found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    secrets = {s for s in found if s}
    return sorted(secrets | {unquote(s) for s in secrets} | {quote(s, safe="") for s in secrets},
                  key=len, reverse=True)


def scrubbed(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error) with ``url`` shown redacted and no password in it."""
    text = text.replace(url, redacted(url))
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return " ".join(text.split())


@dataclass(frozen=True)
class PgSource:
    """A parsed DATA URL: what to connect to (never shown) and what to read."""

    url: str  # the libpq URL, custseg's parameters removed; may hold a password
    shown: str  # the same, redacted: for every message and output
    schema: str | None = None
    tables: tuple[tuple[str, str], ...] = ()  # contract table -> database table
    log_table: str | None = None
    log_query: str | None = None

    @classmethod
    def parse(cls, url: str) -> PgSource:
        """Split DATA's URL into the connection and custseg's parameters."""
        parts = urlsplit(url)
        own, rest = {}, []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in OWN_PARAMETERS:
                own[key] = value
            else:
                rest.append((key, value))
        conn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
        src = cls(conn, redacted(url), own.get("schema") or None,
                  tuple((t, own[t]) for t in TABLES if own.get(t)),
                  own.get("table") or None, own.get("query") or None)
        if src.log_table and src.log_query:
            raise InputError("give the log's table or its query, not both", file=src.shown)
        return src

    @property
    def is_log(self) -> bool:
        return bool(self.log_table or self.log_query)


def database_errors() -> tuple[type[BaseException], ...]:
    """The errors of the database driver (connection, SQL, transfer) and of DuckDB reading its rows."""
    import adbc_driver_manager
    import duckdb

    return (adbc_driver_manager.Error, duckdb.Error)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def connection(url: str, shown: str):
    """An ADBC connection to ``url``; InputError (scrubbed) when the server cannot be reached."""
    try:
        import adbc_driver_postgresql.dbapi as pg
    except ImportError:
        raise InputError("reading PostgreSQL needs the postgres extra: pip install 'custseg[postgres]'",
                         file=shown) from None
    try:
        conn = pg.connect(url)
    except database_errors() as exc:  # the driver's errors carry libpq's text, which we scrub
        raise InputError(f"cannot connect: {driver_error_text(exc, url)}", file=shown) from None
    try:
        yield conn
    finally:
        conn.close()


def driver_error_text(exc: BaseException, url: str) -> str:
    """The useful first part of an ADBC/libpq error, scrubbed of secrets."""
    text = re.sub(r"^[A-Z_]+: ", "", str(exc).strip())
    text = re.sub(r"^\[libpq\] ", "", text)
    return scrubbed(text.split(". Query was:")[0], url)[:300]


def _catalog(conn, src: PgSource) -> tuple[str, dict[str, set[str]]]:
    """The schema read and its tables with their columns."""
    where = _literal(src.schema) if src.schema else "current_schema()"
    rows = _fetch(conn, src, f"SELECT {where}, table_name, column_name FROM information_schema.columns "
                  f"WHERE table_schema = {where}")
    schema = src.schema or (rows[0][0] if rows else _fetch(conn, src, "SELECT current_schema()")[0][0])
    tables: dict[str, set[str]] = {}
    for _, table, column in rows:
        tables.setdefault(table, set()).add(column)
    return schema, tables


def _fetch(conn, src: PgSource, sql: str) -> list[tuple]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    except database_errors() as exc:
        raise InputError(f"query failed: {driver_error_text(exc, src.url)}", file=src.shown) from None
    finally:
        cur.close()


def _spool(conn, src: PgSource, sql: str, path: Path, label: str) -> None:
    """Write the rows of ``sql`` to Parquet file ``path``, batch by batch (UTC for zoned times)."""
    import duckdb
    import pyarrow as pa

    cur = conn.cursor()
    try:
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        columns = [f"timezone('UTC', {_quote(f.name)}) AS {_quote(f.name)}"
                   if pa.types.is_timestamp(f.type) and f.type.tz else _quote(f.name) for f in reader.schema]
        with duckdb.connect() as spool:
            spool.register("pg_rows", reader)
            target = _literal(str(path))
            spool.execute(f"COPY (SELECT {', '.join(columns)} FROM pg_rows) TO {target} (FORMAT parquet)")
    except database_errors() as exc:
        raise InputError(f"cannot be read: {driver_error_text(exc, src.url)}", file=label) from None
    finally:
        cur.close()


def _table_sql(schema: str, table: str, present: set[str], wanted: set[str], columns: tuple[str, ...]) -> str:
    """SELECT of the contract ``columns`` of ``table``: ``wanted`` ones read, the others empty.

    A contract column the table lacks is left out, so that the loader refuses it as it does a file's.
    """
    picked = [(_quote(c) if c in wanted else f"NULL::text AS {_quote(c)}") for c in columns if c in present]
    return f"SELECT {', '.join(picked) or 'NULL::text AS __custseg_none'} FROM {_quote(schema)}.{_quote(table)}"


def _olist_tables(src: PgSource, catalog: dict[str, set[str]], schema: str,
                  names: list[str]) -> dict[str, str]:
    """The database table holding each contract table of ``names``; InputError when one is missing."""
    mapped = dict(src.tables)
    found = {}
    for name in names:
        spec = TABLES[name]
        candidates = [mapped[name]] if name in mapped else [spec.stem, spec.name]
        hit = next((c for c in candidates if c in catalog), None)
        if hit is None:
            raise InputError(f"no table {' or '.join(candidates)} in schema {schema} (map another name with "
                             f"?{name}=TABLE)", file=src.shown)
        found[name] = hit
    return found


def _relabelled_error(exc: InputError, labels: dict[str, str]) -> InputError:
    """``exc`` naming the database table a spooled file came from, instead of the file."""
    if exc.file not in labels:
        return exc
    return InputError(exc.problem, file=labels[exc.file], column=exc.column)


def _relabelled(ds, labels: dict[str, str]):
    """``ds`` with the spooled files' paths replaced by the database tables they came from."""
    ds.problems = [_relabelled_error(p, labels) for p in ds.problems]
    names = {Path(p).name: lab for p, lab in labels.items()}
    ds.warnings = [replace(w, table=names[w.table]) if w.table in names else w for w in ds.warnings]
    ds.files = {t: PurePosixPath(labels[str(p)]) for t, p in ds.files.items() if str(p) in labels}
    return ds


def load(url: str, mapping: LogMapping | None = None, *, con=None, strict: bool = True,
         columns: dict[str, tuple[str, ...]] | None = None):
    """Load DATA from the PostgreSQL database at ``url`` (see the module's docstring)."""
    from .ingest import load as load_export
    from .ingest import load_log
    from .ingest.dataset import closed_on_error

    src = PgSource.parse(url)
    if src.is_log and mapping is None:
        raise InputError("a log read from a table or query needs the customer, date and amount columns",
                         file=src.shown)
    if mapping is not None and not src.is_log:
        raise InputError("the transaction-log options need the log's table (?table=NAME) or query "
                         "(?query=SELECT...)", file=src.shown)
    if mapping is not None and mapping.columns:
        raise InputError("column names for a headerless file do not apply to a database table",
                         file=src.shown)
    spool = Path(tempfile.mkdtemp(prefix="custseg-pgspool-"))
    labels: dict[str, str] = {}
    try:
        with connection(src.url, src.shown) as conn:
            if mapping is not None:
                path, labels[str(spool / "log.parquet")] = _spooled_log(conn, src, mapping, spool)
                ds = load_log(path, mapping, con=con, strict=False)
            else:
                schema, catalog = _catalog(conn, src)
                for name, table in _olist_tables(src, catalog, schema, list(columns or TABLES)).items():
                    spec = TABLES[name]
                    keep = set((columns or {}).get(name) or spec.columns) | set(spec.primary_key) | set(spec.required)
                    path = spool / spec.parquet_name
                    labels[str(path)] = f"table {schema}.{table}"
                    _spool(conn, src, _table_sql(schema, table, catalog[table], keep, tuple(spec.columns)),
                           path, labels[str(path)])
                ds = load_export(spool, con=con, strict=False, columns=columns)
    except InputError as exc:
        raise _relabelled_error(exc, labels) from None
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    with closed_on_error(ds, owned=con is None):
        ds = _relabelled(ds, labels)
        ds.root = Location(src.shown)
        if strict:
            ds.refuse_if_unusable()
    return ds


def _spooled_log(conn, src: PgSource, mapping: LogMapping, spool: Path) -> tuple[Path, str]:
    """The log's mapped columns spooled to Parquet: its path and the label naming the table or query."""
    if src.log_table:
        table = src.log_table
        qualified = ".".join(_quote(p) for p in ([src.schema] if src.schema else []) + [table])
        relation, label = qualified, f"table {src.schema + '.' if src.schema else ''}{table}"
    else:
        relation, label = f"({src.log_query}) AS custseg_log", "the log query"
    present = [row[0] for row in _described(conn, src, relation, label)]
    for role, name in mapping.used_columns.items():
        if name not in present:
            raise InputError(f"no such column (the {role} column; the {'table' if src.log_table else 'query'} "
                             f"has: {', '.join(present)})", file=label, column=name)
    used = ", ".join(_quote(c) for c in dict.fromkeys(mapping.used_columns.values()))
    path = spool / "log.parquet"
    _spool(conn, src, f"SELECT {used} FROM {relation}", path, label)
    return path, label


def _described(conn, src: PgSource, relation: str, label: str) -> list[tuple]:
    """Column names of ``relation`` (no rows read)."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT * FROM {relation} LIMIT 0")
        return [(f.name,) for f in cur.fetch_arrow_table().schema]
    except database_errors() as exc:
        raise InputError(f"cannot be read: {driver_error_text(exc, src.url)}", file=label) from None
    finally:
        cur.close()
