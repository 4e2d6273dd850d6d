"""The compared panel: on large data, the comparisons follow a fixed share of the people.

The reference model is fitted on everyone, but agreement and drift on 200,000 customers are as
precise as on millions. The panel is chosen by a hash of customer_unique_id, so the same people
are compared at every date; their rows are copied once into a schema of their own
(:func:`compared_panel`) and each step's feature query reads them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from ..ingest import Dataset, key_text
from .periods import WINDOW_SCHEMA, customers_at

#: Most customers compared at each date: agreement and drift on 200,000 customers are as precise as
#: on millions, and the re-trains, labels and metrics of millions would not fit in time or memory.
COMPARED_CUSTOMERS = 200_000


def in_compared_share(ids: pd.Series, share: float) -> np.ndarray:
    """Whether each customer id hashes into the first ``share`` of the hash range (one id at a time)."""
    hashes = pd.util.hash_pandas_object(ids, index=False).to_numpy()
    return hashes < np.uint64(share * 2.0**64)


def compared_customers(table: pd.DataFrame, share: float) -> pd.DataFrame:
    """The rows of ``table`` whose customer id hashes into the first ``share`` of the hash range.

    The choice depends on the id alone, so the same people are compared at every date (and the
    reference cohort stays matched); with ``share`` 1, every customer.
    """
    if share >= 1:
        return table
    return table[in_compared_share(table["customer_unique_id"], share)].reset_index(drop=True)


#: DuckDB schema holding the compared panel's tables while a backtest runs (see :func:`compared_panel`).
PANEL_SCHEMA = "custseg_panel"
#: Name under which the panel's person ids are registered while its tables are built.
PANEL_IDS = "custseg_panel_ids"
#: The panel's tables, in build order, with the rows each keeps: the panel persons' customer rows,
#: their orders, and those orders' items, payments and reviews. Keys are compared in their own
#: column types; only the person list is text. Products, sellers, categories and geolocation are
#: not copied: the search path falls through to ``main`` for them.
PANEL_TABLES = {
    "customers": "{key} IN (SELECT customer_unique_id FROM {ids})",
    "orders": "customer_id IN (SELECT customer_id FROM {panel}.customers)",
    "order_items": "order_id IN (SELECT order_id FROM {panel}.orders)",
    "payments": "order_id IN (SELECT order_id FROM {panel}.orders)",
    "reviews": "order_id IN (SELECT order_id FROM {panel}.orders)",
}


def panel_ids(con: duckdb.DuckDBPyConnection, share: float) -> pa.Table:
    """Every person of the ``customers`` table that :func:`compared_customers` keeps at ``share``,
    including those whose first purchase comes after the reference date.

    Hashed batch by batch (the hash is per id), so millions of ids are never all Python objects at once.
    """
    person = key_text(con, "customers", "customer_unique_id")  # the id as the feature table shows it
    # distinct on the stored key (a number for hex ids), then rendered as text
    reader = con.sql(f"SELECT {person} AS customer_unique_id FROM "
                     "(SELECT DISTINCT customer_unique_id FROM main.customers)").to_arrow_reader()
    kept = [batch.filter(pa.array(in_compared_share(batch.column(0).to_pandas().astype("str"), share)))
            for batch in reader]
    return pa.Table.from_batches(kept, schema=reader.schema)


def build_panel(ds: Dataset, share: float) -> int:
    """Copy the panel's rows of :data:`PANEL_TABLES` into :data:`PANEL_SCHEMA`; the number of persons."""
    con = ds.con.cursor()  # registrations stay on this cursor; ds.con may hold a half-read result
    try:
        ids = panel_ids(con, share)
        con.register(PANEL_IDS, ids)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {PANEL_SCHEMA}")
        key = key_text(con, "customers", "customer_unique_id")
        for table, rows in PANEL_TABLES.items():
            where = rows.format(key=key, ids=PANEL_IDS, panel=PANEL_SCHEMA)
            con.execute(f"CREATE OR REPLACE TABLE {PANEL_SCHEMA}.{table} AS SELECT * FROM main.{table} WHERE {where}")
        return ids.num_rows
    finally:
        con.close()


def drop_panel(ds: Dataset) -> None:
    """Remove the panel's schema, and the window view that may read from it."""
    con = ds.con.cursor()
    try:
        con.execute(f"DROP VIEW IF EXISTS {WINDOW_SCHEMA}.orders")
        con.execute(f"DROP SCHEMA IF EXISTS {PANEL_SCHEMA} CASCADE")
    finally:
        con.close()


@contextmanager
def compared_panel(ds: Dataset, share: float, note: Callable[[str], None]) -> Iterator[str]:
    """The schema the step features are read from: ``main`` when every customer is compared,
    else the panel's (:func:`build_panel`), dropped on exit. ``note`` hears what is being done.

    The panel holds the very persons :func:`compared_customers` keeps at every date, so the step
    features computed on it are the compared rows of the full feature table.
    """
    if share >= 1:
        yield "main"
        return
    try:
        note("panel: selecting customers")
        note(f"panel: {build_panel(ds, share):,} customers")
        yield PANEL_SCHEMA
    finally:
        drop_panel(ds)


def customers_total(ds: Dataset, read: pd.DataFrame, day, window, statuses: tuple[str, ...], source: str) -> int:
    """How many customers everyone at ``day`` is: the rows ``read`` from ``main``, or counted in SQL on
    all data when ``read`` came from the panel."""
    return len(read) if source == "main" else customers_at(ds, day, window, statuses)
