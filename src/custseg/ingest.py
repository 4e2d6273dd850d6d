"""Read order history into DuckDB as the contract's typed tables, checking it on the way.

Two kinds of data give the same tables (``customers``, ``orders``, ``order_items``, ``payments``,
``reviews``, ``products``, ``sellers``, ``geolocation``, ``category_translation``):

* an Olist export: a directory of the nine tables as CSV or Parquet files (:func:`load`);
* a generic transaction log: one file, one row per order or order line, read through a
  :class:`~custseg.schema.LogMapping` (:func:`load_log`). Its rows become delivered orders, their
  items and one payment each; the other tables exist, empty.

:func:`open_data` takes either. Every check of :mod:`custseg.checks` runs once, while loading:
problems that make the data unusable raise :class:`~custseg.errors.InputError` (or, with
``strict=False``, are kept in ``Dataset.problems`` for ``custseg validate``); survivable ones are
kept in ``Dataset.warnings``. Raw files are read once: type failures are counted in the same scan
that builds the typed tables.
"""
from __future__ import annotations

import atexit
import codecs
import os
import re
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from .checks import TEXT_MACRO, Check, Finding, drop_duplicate_keys, duplicate_key_check, relation_checks, run_checks
from .errors import InputError
from .schema import LOG_TABLES, TABLES, LogMapping, TableSpec

#: Bytes read from the start of a text file to recognise binary data and other encodings.
SNIFF_BYTES = 1 << 16

#: Dates of the contract lie in [FIRST_DATE, END_DATE): placeholders such as 1900-01-01 or 9999-12-31
#: are not dates of an order, and the steps after the load (the backtest's default reference, the
#: monthly panels) would choke on a century of empty history. Such a value counts as one that does
#: not parse: a refusal where a date is required (a purchase), a counted warning elsewhere.
FIRST_DATE, END_DATE = "1990-01-01", "2100-01-01"

_TYPE_NAMES = {"TIMESTAMP": f"dates from {FIRST_DATE[:4]} to {int(END_DATE[:4]) - 1}", "DOUBLE": "numbers",
               "INTEGER": "integers", "BIGINT": "integers"}
# Bit i of this column marks rows whose i-th typed column held text that did not parse.
_BAD = "__custseg_unparsed"

#: Identifier columns. Where every value of one of them, in every table, is 32 lower-case hex digits
#: (Olist's ids), the tables hold it as a 128-bit integer (UHUGEINT): the same value exactly, in 16
#: bytes instead of 48, compared and hashed as a number, in the same order as the text. Joins and
#: the memory the tables take (2.9 -> 2.2 GB with every column at 5M orders) shrink. Other ids stay text.
#: :func:`key_text` renders either kind as the original text.
KEY_COLUMNS = ("customer_id", "customer_unique_id", "order_id", "product_id", "seller_id", "review_id")

#: Money columns of the contract (a log's amount column is money too). A money value must be a
#: finite number below MONEY_LIMIT in absolute value: NaN, infinities and absurd sizes (1e16, 1e308)
#: are not amounts of money, and would overflow the exact DECIMAL(18, 2) of the feature query's sums.
#: Such a value is counted like any value that does not parse (``1,5``): it is NULL in the tables,
#: a counted warning where the column may be empty (an Olist item's price, a payment) and a
#: refusal where it may not (a log's amount). Their sums are DECIMAL(38, 2): no legal input overflows them.
MONEY_COLUMNS = frozenset({"price", "freight_value", "payment_value"})
MONEY_LIMIT = "1e15"
_MONEY_PROBLEM = f"values that are not amounts of money (finite numbers below {MONEY_LIMIT} in absolute value)"


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


def settled(ds: Dataset) -> Dataset:
    """``ds`` with no half-read result left on its connection.

    DuckDB 2 keeps an ``execute()`` result open until a fetch returns no rows (``fetchone`` on a
    one-row result does not), and refuses relational calls such as ``con.sql`` meanwhile; a user's
    notebook must get a connection ready for any call.
    """
    ds.con.execute("SELECT NULL").fetchall()
    return ds


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def find_file(root: Path, spec: TableSpec) -> Path:
    """The CSV or Parquet file holding ``spec`` in ``root`` (Parquet first); InputError when none."""
    found = sorted(root.glob(f"{spec.stem}.*"))
    candidates = {p.suffix.lower(): p for p in found if p.is_file()}
    for suffix in (".parquet", ".csv"):
        if suffix in candidates:
            return candidates[suffix]
    for p in found:  # the name is there, but not as a file to read
        if p.suffix.lower() in (".parquet", ".csv"):
            raise InputError(f"{_not_a_file(p)}, expected a file to read", file=p)
    others = sorted(p.name for p in candidates.values())
    if others:
        raise InputError(f"found {others[0]}, which is not CSV or Parquet: export it as "
                         f"{spec.csv_name} or {spec.parquet_name}", file=spec.csv_name)
    raise InputError(f"missing file (expected {spec.csv_name} or {spec.parquet_name} in {root})",
                     file=spec.csv_name)


def _not_a_file(path: Path) -> str:
    """What ``path``, which is not a regular file, is instead."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as exc:  # a symlink loop (ELOOP) or a link to nothing
        return "a symbolic link that leads nowhere" if path.is_symlink() else exc.strerror or "unreadable"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    return "not a regular file"


def check_file(path: Path) -> None:
    """Refuse an empty file, and a text file that is binary or not UTF-8 (judged on its start).

    DuckDB checks the encoding of the rest while reading; :func:`_read_error` words its complaint.
    """
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file", file=path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if path.suffix.lower() == ".parquet":
        if not head.startswith(b"PAR1"):
            raise InputError("not a Parquet file", file=path)
        return
    if head.startswith(b"PK\x03\x04"):
        raise InputError("a ZIP archive or Excel workbook, not CSV text: export it as CSV", file=path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("UTF-16 text, not UTF-8: save it as UTF-8", file=path)
    if b"\x00" in head:
        raise InputError("binary data, not CSV text", file=path)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{head[exc.start]:02x} at offset {exc.start}): "
                         "save it as UTF-8", file=path) from None
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise InputError("empty file", file=path)


def _read_error(exc: duckdb.Error, path: Path) -> InputError:
    """DuckDB's multi-line complaint about ``path`` as one line a user can act on."""
    text = str(exc)
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if too_long:  # DuckDB's line number is that of its buffer, not the file's: find the line
        limit, size = int(too_long.group(1)), int(too_long.group(2))
        return InputError(f"a line of {size:,} bytes{_long_line(path, limit)}, longer than the {limit:,} "
                          "a CSV line may hold: a damaged file, or a field holding a whole document", file=path)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    at = f" at line {line.group(1)}" if line else ""
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if "sniffing" in text:  # its list of options names the encoding: not a complaint about it
        if _lone_carriage_return(path):
            return InputError("not CSV that can be read: it holds a carriage return that ends no line (a line "
                              "break in a cell that is not quoted?): quote such cells, or remove the breaks",
                              file=path)
        return InputError("not CSV text: no delimiter or quoting could be recognised", file=path)
    if re.search(r"invalid unicode|invalid string encoding|not (valid )?utf-?8|unicode (error|decode)", text.lower()):
        if path.suffix.lower() == ".parquet":
            return InputError("holds text that is not valid UTF-8", file=path)
        return InputError(f"not UTF-8 text{at}: save it as UTF-8", file=path)
    if fields:
        return InputError(f"malformed CSV{at}: {fields.group(2)} fields where the header has "
                          f"{fields.group(1)}", file=path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    return InputError(f"cannot be read as {kind}{at}: {first}", file=path)


def _lone_carriage_return(path: Path) -> bool:
    """Whether the start of ``path`` holds a carriage return not followed by a line feed."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return re.search(rb"\r(?!\n)", head[:-1]) is not None


def _long_line(path: Path, limit: int) -> str:
    """`` at line N``: the first line of ``path`` longer than ``limit`` bytes ('' if none is found)."""
    with path.open("rb") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(limit + 1), b""), 1):
            if len(line) > limit:
                return f" at line {number:,}"
            while line and not line.endswith(b"\n"):  # the rest of a long line: not a line of its own
                line = fh.readline(limit + 1)
    return ""


def _file_relation(path: Path) -> str:
    """SQL reading ``path`` (CSV: every column as text, so that bad values can be counted)."""
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({_sql_str(path)})"
    # Quote and escape are fixed: the sniffer guesses "no quoting" when the first rows have none.
    return f"read_csv({_sql_str(path)}, header = true, all_varchar = true, quote = '\"', escape = '\"')"


def _columns_of(con: duckdb.DuckDBPyConnection, view: str, relation: str, path: Path) -> dict[str, str]:
    """Create ``view`` over ``relation``; return its column names and types (binary ones refused)."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {relation}")
        present = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {view}").fetchall()}
    except duckdb.Error as exc:
        raise _read_error(exc, path) from None
    binary = [name for name, kind in present.items() if kind == "BLOB"]
    if binary:
        raise InputError("binary values (BLOB), expected text or numbers", file=path, column=binary[0])
    return present


def _text(column: str, source_type: str) -> str:
    """The raw value of ``column``: NULL when empty; typed sources keep their type."""
    if source_type == "VARCHAR":
        return f"NULLIF({_quote(column)}, '')"
    return _quote(column)


def _parsed(text: str, sql_type: str, date_format: str | None = None, money: bool = False) -> str:
    if money:  # NaN compares above every number: one comparison keeps finite, bounded amounts
        number = _parsed(text, sql_type, date_format)
        return f"CASE WHEN abs({number}) < {MONEY_LIMIT} THEN {number} END"
    if sql_type == "VARCHAR":
        return f"CAST({text} AS VARCHAR)"
    if sql_type == "TIMESTAMP":
        day = (f"try_strptime(CAST({text} AS VARCHAR), {_sql_str(date_format)})" if date_format
               else f"TRY_CAST({text} AS TIMESTAMP)")
        return (f"CASE WHEN {day} >= TIMESTAMP '{FIRST_DATE}' AND {day} < TIMESTAMP '{END_DATE}' "
                f"THEN {day} END")
    return f"TRY_CAST({text} AS {sql_type})"


def typed_column(column: str, sql_type: str, source_type: str = "VARCHAR", money: bool | None = None) -> str:
    """SQL reading raw ``column`` (of ``source_type``) as ``sql_type``, as the contract tables do.

    Empty text and a value that does not parse are NULL; so is money (``money``, default: a column of
    :data:`MONEY_COLUMNS`) that is not finite or not below :data:`MONEY_LIMIT`. The spark engine
    transpiles this expression, so that both engines read a file alike.
    """
    money = column in MONEY_COLUMNS if money is None else money
    return _parsed(_text(column, source_type), sql_type, money=money)


@dataclass(frozen=True)
class _Column:
    """How one target column is computed from the raw file."""

    name: str
    sql_type: str
    text: str  # the raw value, NULL when empty
    parsed: str  # the typed value, NULL when empty or unparseable
    key: bool = False  # an identifier stored as a number (KEY_COLUMNS); its bit marks values not hex
    money: bool = False  # an amount of money (MONEY_COLUMNS, a log's amount): finite and bounded

    @property
    def masked(self) -> bool:
        """Whether the unparsed-values mask has a bit for this column."""
        return self.parses or self.key

    @property
    def parses(self) -> bool:
        return self.sql_type != "VARCHAR"


def _typed_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[_Column], source: str,
                 path: Path) -> list[_Column]:
    """Create ``table`` from ``source`` with a bit mask of unparsed values; the parsed columns."""
    parsed = [c for c in columns if c.masked]
    # each value is converted once, in the inner SELECT; the mask reads the converted value
    given = {c.name: _quote(f"{c.name}{_BAD}") for c in parsed}
    inner = ", ".join([f"{c.parsed} AS {_quote(c.name)}" for c in columns]
                      + [f"{c.text} IS NOT NULL AS {given[c.name]}" for c in parsed])
    mask = " | ".join(
        f"(CASE WHEN {given[c.name]} AND {_quote(c.name)} IS NULL THEN {1 << i} ELSE 0 END)"
        for i, c in enumerate(parsed)
    ) or "0"
    select = ", ".join(_quote(c.name) for c in columns)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {select}, CAST({mask} AS UBIGINT) AS {_BAD} "
                    f"FROM (SELECT {inner} FROM {source})")
    except duckdb.Error as exc:
        raise _read_error(exc, path) from None
    return parsed


def _column_findings(con: duckdb.DuckDBPyConnection, table: str, columns: list[_Column], source: str,
                     required: tuple[str, ...], refuse: bool, where: str, date_hint: str = "",
                     ) -> tuple[int, list[Finding], dict[str, int]]:
    """Row count of ``table``, its unparsed values and empty required values; drops the mask.

    Findings are reported at ``where`` (a table, or a log file's name); with ``refuse`` those in
    required columns refuse the data. Also returned: per key column, its values that are not hex.
    """
    masked = [c for c in columns if c.masked]
    bit = {c.name: 1 << i for i, c in enumerate(masked)}
    counts = [f"count(*) FILTER (WHERE {_BAD} & {bit[c.name]} <> 0)" for c in masked]
    counts += [f"count(*) FILTER (WHERE {_quote(name)} IS NULL AND {_BAD} & {bit.get(name, 0)} = 0)"
               for name in required]
    rows, *counted = con.execute(f"SELECT count(*), {', '.join(counts) or '0'} FROM {table}").fetchall()[0]
    con.execute(f"ALTER TABLE {table} DROP COLUMN {_BAD}")
    found, not_hex = [], {c.name: n for c, n in zip(masked, counted) if c.key}
    for c, n in zip(masked, counted):
        if n and c.parses:
            examples = con.execute(f"SELECT min(DISTINCT CAST({c.text} AS VARCHAR), 3) FROM {source} "
                                   f"WHERE {c.text} IS NOT NULL AND {c.parsed} IS NULL").fetchall()[0][0]
            problem = _MONEY_PROBLEM if c.money else f"values that are not {_TYPE_NAMES[c.sql_type]}"
            if c.sql_type == "TIMESTAMP":
                problem += date_hint
            found.append(Finding("unparsed_value", where, c.name, problem, n, tuple(examples),
                                 refuse and c.name in required))
    for name, n in zip(required, counted[len(masked):]):
        if n:
            found.append(Finding("empty_value", where, name, f"rows with an empty {name}", n, (), refuse))
    return rows, found, not_hex


def _key_column(name: str, text: str) -> _Column:
    """Key ``name`` as a number: the value of 32 lower-case hex digits, NULL (and a mask bit) otherwise."""
    value = _parsed(text, "VARCHAR")
    # Half the cost of matching a regular expression: the cast reads hex digits and fails on anything
    # else but an underscore between digits (a digit separator) and upper-case digits, kept as text
    # because the number would be shown in lower case.
    number = (f"CASE WHEN length({value}) = 32 AND lower({value}) = {value} AND NOT contains({value}, '_') "
              f"THEN TRY_CAST('0x' || {value} AS UHUGEINT) END")
    return _Column(name, "VARCHAR", text, number, key=True)


def load_table(con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path, text_keys: frozenset[str] = frozenset(),
               only: tuple[str, ...] | None = None) -> tuple[int, list[Finding], dict[str, int]]:
    """Create table ``spec.name`` from ``path`` with the contract's types; its rows and findings.

    With ``only``, the table holds those columns and the table's key and required ones (every
    contract column must still be in the file).

    Key columns (:data:`KEY_COLUMNS`) not in ``text_keys`` are stored as numbers; the third value
    counts, per such column, the values that are not hex (the table must then be read again with
    that key in ``text_keys``).
    """
    raw = f"raw_{spec.name}"
    present = _columns_of(con, raw, f"SELECT * FROM {_file_relation(path)}", path)
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                         file=path, column=missing[0])
    keep = set(only or spec.columns) | set(spec.primary_key) | set(spec.required)
    columns = []
    for name, sql_type in spec.columns.items():
        if name not in keep:
            continue
        text = _text(name, present[name])
        if name in KEY_COLUMNS and name not in text_keys:
            columns.append(_key_column(name, text))
        else:
            money = name in MONEY_COLUMNS
            columns.append(_Column(name, sql_type, text, _parsed(text, sql_type, money=money), money=money))
    _typed_table(con, spec.name, columns, raw, path)
    rows, found, not_hex = _column_findings(con, spec.name, columns, raw, spec.required, spec.essential,
                                            spec.name)
    con.execute(f"DROP VIEW {raw}")
    if rows == 0:
        found.append(Finding("empty_table", spec.name, None, "no rows: the table is empty", 0, (),
                             spec.essential))
    return rows, found, not_hex


def define_text_macro(con: duckdb.DuckDBPyConnection) -> None:
    """Define :data:`TEXT_MACRO` on ``con``: a key (number or text) as its original text."""
    con.execute(f"CREATE OR REPLACE TEMP MACRO {TEXT_MACRO}(x) AS CASE WHEN typeof(x) = 'UHUGEINT' "
                "THEN printf('%032x', x) ELSE CAST(x AS VARCHAR) END")


def key_text(con: duckdb.DuckDBPyConnection, table: str, column: str, alias: str | None = None) -> str:
    """SQL rendering ``table.column`` as its original text (the column itself when stored as text).

    Unlike :data:`TEXT_MACRO`, the expression is plain SQL, so it can be handed to other engines.
    """
    kind = con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ? "
                       "ORDER BY schema_name = 'main' DESC LIMIT 1", [table, column]).fetchall()
    ref = f"{alias}.{_quote(column)}" if alias else _quote(column)
    return f"printf('%032x', {ref})" if kind and kind[0][0] == "UHUGEINT" else ref


def _deduplicated(ds: Dataset, found: list[Finding]) -> list[Finding]:
    """Drop the repeated keys that ``found`` reports in non-essential tables, saying so."""
    out = []
    for f in found:
        if f.check == "duplicate_key" and not f.refuse:
            drop_duplicate_keys(ds.con, TABLES[f.table])
            ds.rows[f.table] = ds.scalar(f"SELECT count(*) FROM {f.table}")
            f = Finding(f.check, f.table, f.column, f"{f.problem} (kept the first row of each)", f.count,
                        f.examples)
        out.append(f)
    return out


def load(root: str | Path, *, con: duckdb.DuckDBPyConnection | None = None, strict: bool = True,
         columns: dict[str, tuple[str, ...]] | None = None) -> Dataset:
    """Load and check the nine Olist tables found in directory ``root``.

    Raises InputError for unusable data; with ``strict=False`` the problems are returned in
    ``Dataset.problems`` instead (the tables of files that could not be read are then missing).

    ``columns`` (e.g. :data:`~custseg.schema.FEATURE_COLUMNS`) loads only those tables and columns
    (plus keys and required columns): the same refusals, a fraction of the memory and time; the
    checks across tables, which only warn, are then left to a full load (``custseg validate``).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a directory (an Olist export is a directory of CSV or Parquet files)",
                         file=root)
    ds = Dataset(con=con or connect(), root=root, files={}, rows={})
    define_text_macro(ds.con)
    wanted = {t: (columns or {}).get(t) for t in (columns or TABLES)}
    outcome: dict[str, tuple[int, list[Finding], dict[str, int]] | InputError] = {}
    for name, only in wanted.items():
        spec = TABLES[name]
        try:
            ds.files[name] = find_file(root, spec)
            check_file(ds.files[name])
            outcome[name] = load_table(ds.con, spec, ds.files[name], only=only)
        except InputError as exc:
            outcome[name] = exc
    # A key is compared across tables (orders.order_id with order_items.order_id...): one value
    # that is not hex, anywhere, makes that key text in every table (read again, as it was written).
    loaded = {t: r for t, r in outcome.items() if not isinstance(r, InputError)}
    text_keys = frozenset(k for r in loaded.values() for k, n in r[2].items() if n)
    for name in [t for t in loaded if text_keys & set(TABLES[t].columns)]:
        outcome[name] = load_table(ds.con, TABLES[name], ds.files[name], text_keys, wanted[name])
    for name, result in outcome.items():
        if isinstance(result, InputError):
            ds.problems.append(result)
        else:
            ds.rows[name] = result[0]
            ds.record(result[1])
    keyed = [duplicate_key_check(TABLES[t]) for t in ds.rows if TABLES[t].primary_key]
    ds.record(_deduplicated(ds, run_checks(ds.con, keyed)))
    if columns is None and len(ds.rows) == len(TABLES):
        ds.record(run_checks(ds.con, relation_checks()))
    if strict:
        ds.refuse_if_unusable()
    return settled(ds)


def _whitespace_names(path: Path, mapping: LogMapping) -> LogMapping:
    """``mapping`` with the field names of a whitespace-separated log whose header line names them
    (``header`` without ``columns``); unchanged otherwise, and for a header with CSV delimiters."""
    if mapping.columns or not mapping.header or path.suffix.lower() == ".parquet":
        return mapping
    with path.open("rb") as stream:
        first = stream.readline(SNIFF_BYTES).decode("utf-8", errors="replace").strip()
    if not first or any(delim in first for delim in ",;\t|"):
        return mapping  # a delimited header: DuckDB's CSV reader takes it as it is
    return replace(mapping, columns=tuple(first.split()))


def _log_relation(path: Path, mapping: LogMapping) -> str:
    """SQL reading the log: by header, or by whitespace-separated fields named ``mapping.columns``."""
    if not mapping.columns:
        return f"SELECT * FROM {_file_relation(path)}"
    fields = ", ".join(f"f[{i + 1}] AS {_quote(name)}" for i, name in enumerate(mapping.columns))
    skip = 1 if mapping.header else 0  # the header line is not data
    lines = (f"read_csv({_sql_str(path)}, header = false, columns = {{'line': 'VARCHAR'}}, skip = {skip}, "
             "delim = '\x1f', quote = '', escape = '', auto_detect = false)")
    return (f"SELECT {fields}, len(f) AS __fields, trim(line) AS __line FROM "
            f"(SELECT string_split_regex(trim(line), '\\s+') AS f, line FROM {lines} "
            "WHERE trim(line) <> '')")


def _log_columns(path: Path, mapping: LogMapping, present: dict[str, str]) -> list[_Column]:
    """The typed log columns (customer, order, purchased_at, amount); InputError for unknown names."""
    for role, name in mapping.used_columns.items():
        if name not in present:
            shown = [c for c in present if not c.startswith("__")]
            raise InputError(f"no such column (the {role} column; the file has: {', '.join(shown)})",
                             file=path, column=name)
    targets = {"customer": "VARCHAR", "order": "VARCHAR", "date": "TIMESTAMP", "amount": "DOUBLE"}
    columns = []
    for role, name in mapping.used_columns.items():
        text = _text(name, present[name])
        fmt = mapping.date_format if present[name] == "VARCHAR" else None
        money = role == "amount"
        columns.append(_Column(name, targets[role], text, _parsed(text, targets[role], fmt, money), money=money))
    return columns


def _check_mapping(path: Path, mapping: LogMapping) -> None:
    roles = list(mapping.used_columns.values())
    if len(set(roles)) < len(roles):
        raise InputError(f"the customer, date, amount and order columns must differ: {', '.join(roles)}",
                         file=path)
    if mapping.header is not None and path.suffix.lower() == ".parquet":
        raise InputError("a header line applies to a text log, not to Parquet", file=path)
    if mapping.columns is not None:
        if path.suffix.lower() == ".parquet":
            raise InputError("column names for a headerless file do not apply to Parquet", file=path)
        dupes = sorted({c for c in mapping.columns if mapping.columns.count(c) > 1})
        if dupes or not all(mapping.columns):
            raise InputError(f"column names must be distinct and non-empty: {', '.join(mapping.columns)}",
                             file=path)


def _field_count_check(where: str, mapping: LogMapping) -> Check:
    """Lines of a headerless log whose number of fields is not the number of names given."""
    n = len(mapping.columns or ())
    return Check("field_count", where, f"lines without exactly {n} fields", f"__fields <> {n}", "__line",
                 refuse=True, source="raw_log")


def _log_line_checks(where: str, mapping: LogMapping) -> list[Check]:
    """Checks of the typed log lines (view ``log_lines``)."""
    checks = [Check("negative_value", where, "negative amounts", "amount < 0", "amount",
                    column=mapping.amount_col, source="log_lines")]
    if mapping.order_col:
        per_order = ("(SELECT order_id, count(DISTINCT customer) AS customers, "
                     "count(DISTINCT purchased_at) AS dates FROM log_lines GROUP BY order_id)")
        checks += [
            Check("order_of_several_customers", where, "orders whose lines name different customers",
                  "customers > 1", "order_id", column=mapping.order_col, refuse=True, source=per_order),
            Check("order_of_several_dates", where, "orders whose lines have different dates (the earliest "
                  "is used)", "dates > 1", "order_id", column=mapping.order_col, source=per_order),
        ]
    return checks


def _log_lines_view(con: duckdb.DuckDBPyConnection, mapping: LogMapping) -> None:
    """View ``log_lines`` (line, customer, order_id, purchased_at, amount) over table ``log_typed``."""
    # Without an order column, each line is an order, named by its number.
    order = _quote(mapping.order_col) if mapping.order_col else "CAST(rowid + 1 AS VARCHAR)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW log_lines AS SELECT rowid AS line, "
                f"{_quote(mapping.customer_col)} AS customer, {order} AS order_id, "
                f"{_quote(mapping.date_col)} AS purchased_at, {_quote(mapping.amount_col)} AS amount "
                "FROM log_typed")


def _olist_tables_from_log(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the nine contract tables from view ``log_lines``; the columns a log lacks are NULL."""
    money = "CAST(sum(CAST(amount AS DECIMAL(38, 6))) AS DOUBLE)"  # exact sums: same bytes every run
    filled = {
        "customers": ({"customer_id": "customer", "customer_unique_id": "customer"},
                      "(SELECT DISTINCT customer FROM log_lines) ORDER BY customer"),
        "orders": ({"order_id": "order_id", "customer_id": "min(customer)", "order_status": "'delivered'",
                    "order_purchase_timestamp": "min(purchased_at)"},
                   "log_lines GROUP BY order_id ORDER BY min(line)"),
        "order_items": ({"order_id": "order_id", "price": "amount", "freight_value": "0",
                         "order_item_id": "row_number() OVER (PARTITION BY order_id ORDER BY line)"},
                        "log_lines ORDER BY line"),
        "payments": ({"order_id": "order_id", "payment_sequential": "1", "payment_installments": "1",
                      "payment_value": money},
                     "log_lines GROUP BY order_id ORDER BY min(line)"),
    }
    for name, spec in TABLES.items():
        exprs, source = filled.get(name, ({}, None))
        select = ", ".join(f"CAST({exprs.get(c, 'NULL')} AS {t}) AS {_quote(c)}"
                           for c, t in spec.columns.items())
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} "
                    + (f"FROM {source}" if source else "LIMIT 0"))


def load_log(path: str | Path, mapping: LogMapping, *, con: duckdb.DuckDBPyConnection | None = None,
             strict: bool = True) -> Dataset:
    """Load a transaction log into the contract's tables, as delivered orders; check it.

    Every mapped column must be filled and parse in every row. Without ``mapping.order_col`` each
    row is an order (its id: the row's number); with it, rows sharing an order id are the order's
    items, its purchase date the earliest of theirs, its single payment their sum. Raises
    InputError for unusable data, or keeps the problems in ``Dataset.problems`` (``strict=False``).
    """
    path = Path(path)
    if not path.is_file():
        exists = path.exists() or path.is_symlink()
        raise InputError(f"{_not_a_file(path)}, expected a file to read" if exists else "no such file", file=path)
    _check_mapping(path, mapping)
    check_file(path)
    mapping = _whitespace_names(path, mapping)
    ds = Dataset(con=con or connect(), root=path, files={t: path for t in LOG_TABLES},
                 rows={}, mapping=mapping)
    define_text_macro(ds.con)
    present = _columns_of(ds.con, "raw_log", _log_relation(path, mapping), path)
    columns = _log_columns(path, mapping, present)
    if mapping.columns:
        ds.record(run_checks(ds.con, [_field_count_check(path.name, mapping)]))
    if not ds.problems:  # with misaligned fields, the values would be wrong in confusing ways
        _typed_table(ds.con, "log_typed", columns, "raw_log", path)
        required = tuple(c.name for c in columns)
        rows, found, _ = _column_findings(ds.con, "log_typed", columns, "raw_log", required, True, path.name,
                                       date_hint=" (set the date format, e.g. %Y%m%d)")
        ds.record(found)
        if rows == 0:
            ds.problems.append(InputError("no rows", file=path))
    if not ds.problems:
        _log_lines_view(ds.con, mapping)
        ds.record(run_checks(ds.con, _log_line_checks(path.name, mapping)))
    if not ds.problems:
        _olist_tables_from_log(ds.con)
        ds.rows = {t: ds.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}
        ds.con.execute("DROP VIEW log_lines; DROP TABLE log_typed; DROP VIEW raw_log")
    if strict:
        ds.refuse_if_unusable()
    return settled(ds)


def open_data(path: str | Path, mapping: LogMapping | None = None, *,
              con: duckdb.DuckDBPyConnection | None = None, strict: bool = True,
              columns: dict[str, tuple[str, ...]] | None = None) -> Dataset:
    """Load DATA: an Olist export directory (``mapping`` None) or a transaction-log file.

    ``columns`` narrows an Olist load (see :func:`load`); a log always gives every table.
    A ``postgresql://`` URL reads the tables or the log from a database (:mod:`custseg.pgsource`)."""
    from . import pgsource

    if pgsource.is_url(path):
        return pgsource.load(str(path), mapping, con=con, strict=strict, columns=columns)
    from .export import reading

    path = Path(path)
    if not path.exists():
        raise InputError("a symbolic link that leads nowhere" if path.is_symlink() else "no such file or directory",
                         file=path)
    reading(path)  # outputs must not overwrite it, nor land inside it
    if path.is_dir():
        if mapping is not None:
            raise InputError("is a directory (an Olist export): the transaction-log options apply to a "
                             "log file", file=path)
        return load(path, con=con, strict=strict, columns=columns)
    if mapping is None:
        raise InputError("is a file: give the directory of an Olist export, or read it as a transaction "
                         "log with `customer_col`, `date_col` and `amount_col`", file=path)
    return load_log(path, mapping, con=con, strict=strict)


def summary(ds: Dataset) -> dict:
    """What the data holds: rows per table, purchase range, orders, delivered orders, customers."""
    first, last, orders, delivered = ds.con.execute(
        "SELECT min(order_purchase_timestamp), max(order_purchase_timestamp), count(*), "
        "count(*) FILTER (WHERE order_status = 'delivered') FROM orders").fetchall()[0]
    return {
        "data": str(ds.root),
        "kind": ds.kind,
        "files": {t: p.name for t, p in ds.files.items()},
        "rows": dict(ds.rows),
        "first_purchase": first.isoformat(sep=" ") if first else None,
        "last_purchase": last.isoformat(sep=" ") if last else None,
        "orders": orders,
        "delivered_orders": delivered,
        "customers": ds.scalar("SELECT count(DISTINCT customer_unique_id) FROM customers"),
    }


def validation_report(ds: Dataset) -> dict:
    """The outcome of checking usable data: its summary and its warnings (for ``--json``)."""
    return {
        "status": "warnings" if ds.warnings else "clean",
        "summary": summary(ds),
        "warnings": [w.to_dict() for w in ds.warnings],
    }
