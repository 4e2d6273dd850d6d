"""A transaction log: one file read through a :class:`~custseg.schema.LogMapping` as the contract's tables."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb

from ..checks import Check, run_checks
from ..errors import InputError
from ..schema import LOG_TABLES, TABLES, LogMapping
from .dataset import Dataset, closed_on_error, connection, finish_pending
from .files import SNIFF_BYTES, _columns_of, _file_relation, _not_a_file, _quote, _sql_str, check_file
from .typed import _Column, _column_findings, _parsed, _text, _typed_table, define_text_macro

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
    ds = Dataset(con=connection(con), root=path, files={t: path for t in LOG_TABLES},
                 rows={}, mapping=mapping)
    with closed_on_error(ds, owned=con is None):
        _load_lines(ds, path, mapping)
        if strict:
            ds.refuse_if_unusable()
    return finish_pending(ds)


def _load_lines(ds: Dataset, path: Path, mapping: LogMapping) -> None:
    """Fill ``ds`` with the contract's tables made from the log's lines, and what checking finds."""
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
