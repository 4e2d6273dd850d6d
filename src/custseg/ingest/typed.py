"""The contract's typed tables from raw columns: bad values counted in the same scan, hex ids as numbers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..checks import TEXT_MACRO, Finding
from ..errors import InputError
from ..schema import TableSpec
from .files import _columns_of, _file_relation, _quote, _read_error, _sql_str

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
