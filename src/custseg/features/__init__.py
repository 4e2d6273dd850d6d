"""Per-customer features as of a date: one row per person, computed in SQL over the ingested tables.

An order *counts* when it was purchased strictly before the as-of date D (midnight) and its
status is one of the counted statuses (default: delivered). Facts dated D or later do not exist
yet at D: a delivery counts only when delivered before D, a review only when answered before D.
Payments carry no date and are taken as they are. Order statuses are the export's current ones
(the export keeps no status history).

Modules: :mod:`.query` (the feature query, one portable SQL statement, and how DuckDB runs it) and
:mod:`.table` (the feature table's columns, and reading a written one).
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import InputError
from ..export import copy_query
from ..ingest import Dataset, idle, key_text, open_data
from ..schema import DEFAULT_STATUSES, FEATURE_COLUMNS, ORDER_STATUSES, LogMapping
from .query import (HISTORY_COLUMNS, ORDER_FACTS, feature_sql, parse_as_of, parse_statuses, run_staged,
                    split_query)
from .table import (FEATURE_DOCS, FEATURE_DTYPES, SUMMARY_FEATURES, feature_medians, is_feature_table,
                    read_feature_table, release_arrow_memory, release_freed_memory,
                    typed_features)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

T = TypeVar("T")

#: Customers from which :func:`customer_features` has DuckDB write its result to a file first.
FILE_RESULT_ROWS = 2_000_000

#: Orders up to which the feature query runs as one statement (:func:`whole_query`). Measured from
#: the typed copy, 2 cores: at 1M orders one statement took 2.1 s against 2.3 s step by step on the
#: machine's 4.5 GB budget, no longer on budgets down to 0.7 GB, and completed on 0.25 GB; at 5M orders
#: it took 34 s against 22 s on the 4.5 GB budget. A rule on the data alone, not on the memory free at
#: the time: the two ways write the same values, but DuckDB encodes their Parquet pages differently.
WHOLE_QUERY_ORDERS = 1_500_000

__all__ = [
    "DEFAULT_STATUSES", "FEATURE_DOCS", "FEATURE_DTYPES", "HISTORY_COLUMNS", "ORDER_FACTS", "SUMMARY_FEATURES",
    "check_statuses", "customer_features", "default_as_of", "feature_medians", "feature_sql",
    "features", "is_feature_table", "parse_as_of", "parse_statuses", "read_feature_table",
    "release_arrow_memory", "release_freed_memory", "run_staged", "split_query", "typed_features",
    "whole_query", "write_features",
]


def check_statuses(ds: Dataset, statuses: tuple[str, ...] | list[str]) -> None:
    """Raise InputError for a status that is neither an Olist status nor present in the data."""
    # main.orders: every order of the data, also when a window or panel narrows `orders` for the query
    present = {r[0] for r in ds.con.execute("SELECT DISTINCT order_status FROM main.orders").fetchall()}
    known = sorted(set(ORDER_STATUSES) | {s for s in present if s is not None})
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise InputError(
            f"unknown order status {unknown[0]!r} (known: {', '.join(known)})",
            file=ds.files.get("orders", "orders"),
            column="order_status",
        )


def default_as_of(ds: Dataset) -> date:
    """The day after the latest purchase in the data (any status): the export's 'today'."""
    latest = ds.scalar("SELECT MAX(order_purchase_timestamp) FROM orders")
    if latest is None:
        raise InputError("no order has a purchase date", file=ds.files.get("orders", "orders"),
                         column="order_purchase_timestamp")
    return latest.date() + timedelta(days=1)


def whole_query(ds: Dataset) -> bool:
    """Whether the feature query on ``ds`` runs as one statement rather than step by step
    (:func:`~custseg.features.query.run_staged`): at most :data:`WHOLE_QUERY_ORDERS` orders, and
    fewer than :data:`FILE_RESULT_ROWS` (a small result)."""
    orders = ds.scalar("SELECT count(*) FROM orders")
    return orders <= WHOLE_QUERY_ORDERS and orders < FILE_RESULT_ROWS


def _run_feature_query(ds: Dataset, as_of: date | datetime | str, statuses: tuple[str, ...],
                       sink: Callable[[str], T], whole: bool) -> T:
    """Run the feature query on ``ds`` (``whole``: as one statement); what ``sink`` returns, given the
    final SELECT (in the query's order) while the steps it reads exist, or the whole query."""
    check_statuses(ds, statuses)
    person = key_text(ds.con, "customers", "customer_unique_id", alias="h")
    sql = feature_sql(as_of, statuses, person)
    if whole:  # no table per step: DuckDB pipelines the steps (about twice as fast on 100,000 customers)
        return sink(sql)
    # Every step of the query is ordered explicitly (ORDER BY, window orders with tie-breakers), so
    # DuckDB may drop insertion order: for millions of customers that is the difference between
    # fitting its memory budget and running out of it. The final SELECT's ORDER BY is kept.
    ds.con.execute("SET preserve_insertion_order = false")

    def ordered(final: str) -> T:
        ds.con.execute("RESET preserve_insertion_order")
        return sink(final)

    try:
        return run_staged(ds.con, sql, ordered)
    finally:
        ds.con.execute("RESET preserve_insertion_order")


def customer_features(
    ds: Dataset,
    as_of: date | datetime | str,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
) -> pd.DataFrame:
    """One row per customer_unique_id with a counted order before ``as_of``, sorted by that id."""
    import pyarrow.parquet as pq

    whole = whole_query(ds)
    with tempfile.TemporaryDirectory(prefix="custseg-features-") as folder:
        large = Path(folder) / "features.parquet"

        def fetched(final: str) -> pa.Table | None:
            """The result as Arrow; None when large: DuckDB has then written it to ``large``."""
            # A large result fetched from the query lands in memory while DuckDB still holds its
            # whole budget: that sum was the peak of a 10M-order run (6.0 GiB, in the backtest's
            # reference step). DuckDB writes it to a temporary file instead, read once its tables
            # wait on disk. At 833,000 customers the file would cost 1.5 s against 2.5 s for the
            # query: small results take the direct way.
            if whole or ds.scalar("SELECT count(*) FROM feature_rows") < FILE_RESULT_ROWS:
                return ds.con.sql(final).to_arrow_table()
            copy_query(ds.con, final, large, large.suffix)
            return None

        result = _run_feature_query(ds, as_of, tuple(statuses), fetched, whole)
        # DuckDB's tables wait on disk meanwhile (idle): its budget, the result and the frame would
        # otherwise add up. Through Arrow: text stays in Arrow buffers (.df() makes a Python object
        # per value, 3x the memory); self_destruct frees each Arrow column once converted.
        with idle(ds):
            if result is None:
                result = pq.read_table(large)
                large.unlink()
            return release_arrow_memory(typed_features(result.to_pandas(self_destruct=True, split_blocks=True)))


def write_features(ds: Dataset, as_of: date | datetime | str, output: str | Path,
                   statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES) -> tuple[int, dict[str, float]]:
    """Write the feature table of ``ds`` as of ``as_of`` to ``output`` (.csv or .parquet); its number of
    customers and the medians of :data:`SUMMARY_FEATURES`.

    DuckDB computes the table straight into the file, then summarises the file (no Python copy of
    the table, nor a DuckDB one: for millions of customers that is seconds and gigabytes).
    InputError, and nothing written, when no customer has a counted order before ``as_of``.
    """
    from ..export import atomic_path, table_output_path, written_rows

    statuses = tuple(statuses)
    path = table_output_path(Path(output))

    def written(final: str) -> tuple:
        with atomic_path(path) as tmp:  # the steps ran before: a failure there leaves no file at all
            kinds = copy_query(ds.con, final, tmp, path.suffix)
            medians = ", ".join(f'median("{name}")' for name in SUMMARY_FEATURES)
            source = written_rows(tmp, path.suffix, kinds)
            row = ds.con.execute(f"SELECT count(*), {medians} FROM {source}").fetchall()[0]
            if not row[0]:
                raise InputError(f"no customer has a counted order before {parse_as_of(as_of)} "
                                 f"(statuses: {', '.join(statuses)})")
        return row

    customers, *values = _run_feature_query(ds, as_of, statuses, written, whole_query(ds))
    return customers, {name: float("nan") if v is None else float(v) for name, v in zip(SUMMARY_FEATURES, values)}


def features(
    data: str | Path | Dataset,
    as_of: date | datetime | str,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
    *,
    mapping: LogMapping | None = None,
) -> pd.DataFrame:
    """:func:`customer_features` of a Dataset, or of the data at ``data`` (loaded here).

    ``data`` is an Olist export directory, or a transaction-log file read through ``mapping``.
    """
    if isinstance(data, Dataset):
        return customer_features(data, as_of, statuses)
    day = parse_as_of(as_of)  # fail on a bad date before reading any file
    with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
        return customer_features(ds, day, statuses)
