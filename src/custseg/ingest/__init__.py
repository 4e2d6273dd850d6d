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

The package's modules: :mod:`.dataset` (the Dataset, DuckDB connections and their memory budget),
:mod:`.files` (finding and vetting the files), :mod:`.typed` (typed tables, counted bad values, hex
ids), :mod:`.olist` (an export's nine tables), :mod:`.log` (a transaction log).
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from ..errors import InputError
from ..schema import LogMapping
from .cache import CACHE_VARIABLE, cache_dir, cached_copy, keep_copy
from .dataset import (IDLE_MEMORY_LIMIT, MEMORY_SHARE, MIN_MEMORY, Dataset, connect, idle, memory_budget,
                      finish_pending)
from .files import SNIFF_BYTES, check_file, find_file
from .log import load_log
from .olist import load
from .typed import (END_DATE, FIRST_DATE, KEY_COLUMNS, MONEY_COLUMNS, MONEY_LIMIT, define_text_macro, key_text,
                    load_table, typed_column)

__all__ = [
    "CACHE_VARIABLE", "Dataset", "END_DATE", "FIRST_DATE", "IDLE_MEMORY_LIMIT", "KEY_COLUMNS", "MEMORY_SHARE",
    "MIN_MEMORY", "MONEY_COLUMNS", "MONEY_LIMIT", "SNIFF_BYTES", "cache_dir", "check_file", "connect",
    "define_text_macro", "find_file", "finish_pending", "idle", "key_text", "load", "load_log", "load_table",
    "memory_budget", "open_data", "summary", "typed_column", "validation_report",
]


def open_data(path: str | Path, mapping: LogMapping | None = None, *,
              con: duckdb.DuckDBPyConnection | None = None, strict: bool = True,
              columns: dict[str, tuple[str, ...]] | None = None) -> Dataset:
    """Load DATA: an Olist export directory (``mapping`` None) or a transaction-log file.

    ``columns`` narrows an Olist load (see :func:`load`); a log always gives every table.
    A ``postgresql://`` URL reads the tables or the log from a database (:mod:`custseg.pgsource`)."""
    from .. import pgsource

    if pgsource.is_url(path):
        return pgsource.load(str(path), mapping, con=con, strict=strict, columns=columns)
    from ..export import reading

    path = Path(path)
    if not path.exists():
        raise InputError("a symbolic link that leads nowhere" if path.is_symlink() else "no such file or directory",
                         file=path)
    reading(path)  # outputs must not overwrite it, nor land inside it
    if path.is_dir() and mapping is not None:
        raise InputError("is a directory (an Olist export): the transaction-log options apply to a "
                         "log file", file=path)
    if not path.is_dir() and mapping is None:
        raise InputError("is a file: give the directory of an Olist export, or read it as a transaction "
                         "log with `customer_col`, `date_col` and `amount_col`", file=path)
    log = not path.is_dir()  # a log always gives every table: `columns` does not change its load
    cached, target = cached_copy(path, mapping, None if log else columns) if con is None else (None, None)
    if cached is not None:
        return cached
    ds = load_log(path, mapping, con=con, strict=strict) if mapping else load(path, con=con, strict=strict,
                                                                              columns=columns)
    if target is not None:
        keep_copy(ds, target)
    return ds


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
    """The outcome of checking usable data: its summary and its warnings (validate's JSON file)."""
    return {
        "status": "warnings" if ds.warnings else "clean",
        "summary": summary(ds),
        "warnings": [w.to_dict() for w in ds.warnings],
    }
