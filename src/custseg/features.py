"""Per-customer features as of a date: one row per person, computed in SQL over the ingested tables.

An order *counts* when it was purchased strictly before the as-of date D (midnight) and its
status is one of the counted statuses (default: delivered). Facts dated D or later do not exist
yet at D: a delivery counts only when delivered before D, a review only when answered before D.
Payments carry no date and are taken as they are. Order statuses are the export's current ones
(the export keeps no status history).

:func:`feature_sql` is the whole computation as one SQL query over the contract's table names,
written in portable SQL (CTEs, GROUP BY, CASE, ``date_diff``, ``ARG_MAX``/``ARG_MIN`` over a struct,
which are Spark's ``MAX_BY``/``MIN_BY``) so that sqlglot can transpile it from DuckDB to Spark. DuckDB
runs it one step at a time (:func:`run_staged`). Sums run on exact types (integer seconds, DECIMAL money)
so that results do not depend on the order in which threads add them up.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .ingest import Dataset, key_text, open_data
from .schema import DEFAULT_STATUSES, FEATURE_COLUMNS, ORDER_STATUSES, LogMapping

if TYPE_CHECKING:  # pandas is imported where a DataFrame is made: `custseg features` never needs it
    import pandas as pd

#: One line per feature column, in the order of the table (used by ``--help`` and the README).
FEATURE_DOCS: dict[str, str] = {
    "customer_unique_id": "the person (customer_id is per order; customer_unique_id is the person)",
    "recency_days": "days from the latest counted purchase to the as-of date (fractional)",
    "frequency": "number of distinct counted orders",
    "monetary": "sum of the payments of counted orders (item price + freight for an order without payments)",
    "mean_basket": "monetary / frequency",
    "mean_items": "items per counted order (an order without items counts 0)",
    "total_items": "items over all counted orders",
    "review_score_mean": "mean score of the reviews answered before the as-of date, each review once; NaN if none",
    "review_share": "share of counted orders with a review answered before the as-of date",
    "answer_days": ("mean days from a review's creation to its answer, over the reviews answered before the "
                    "as-of date, each review once; NaN if none (or no answer time recorded)"),
    "delivery_days_mean": "mean days from purchase to delivery, over orders delivered before the as-of date; "
                          "NaN if none",
    "lateness_days_mean": "mean days delivered minus estimated delivery date (positive = late); NaN if none",
    "late_share": "share of orders delivered before the as-of date on a day after the estimated date; NaN if none",
    "installments_mean": "mean installments over the customer's payments (0 read as 1; 1 when no payment is recorded)",
    "main_payment_type": "payment type carrying the most value (ties: alphabetical; 'unknown' when no payment)",
    "freight_share": "freight / (price + freight) over the customer's items (0 when no items)",
    "n_categories": "distinct product categories bought (unknown categories not counted)",
    "main_category": "category with the most items, English name when translated (ties: alphabetical; "
                     "'unknown' when none)",
    "customer_state": "state given at the latest counted order that gives one ('unknown' when none does)",
    "tenure_days": "days from the first counted purchase to the as-of date (fractional)",
}

#: Column dtypes of the feature table, in column order.
FEATURE_DTYPES: dict[str, str] = {
    "customer_unique_id": "str",
    "recency_days": "float64",
    "frequency": "int64",
    "monetary": "float64",
    "mean_basket": "float64",
    "mean_items": "float64",
    "total_items": "int64",
    "review_score_mean": "float64",
    "review_share": "float64",
    "answer_days": "float64",
    "delivery_days_mean": "float64",
    "lateness_days_mean": "float64",
    "late_share": "float64",
    "installments_mean": "float64",
    "main_payment_type": "str",
    "freight_share": "float64",
    "n_categories": "int64",
    "main_category": "str",
    "customer_state": "str",
    "tenure_days": "float64",
}

_SQL_TEMPLATE = """
WITH
counted_orders AS (
    -- customer_id is per order: the person is customers.customer_unique_id
    SELECT
        o.order_id,
        c.customer_unique_id,
        c.customer_state,
        o.order_purchase_timestamp AS purchased_at,
        CASE WHEN o.order_delivered_customer_date < {as_of}
             THEN o.order_delivered_customer_date END AS delivered_at,
        o.order_estimated_delivery_date AS estimated_at
    FROM orders o
    JOIN customers c ON c.customer_id = o.customer_id
    WHERE o.order_purchase_timestamp < {as_of}
      AND o.order_status IN ({statuses})
),
order_contents AS (
    -- the least and the greatest category of the items: when equal, they are the order's only one
    SELECT
        i.order_id,
        COUNT(*) AS n_items,
        SUM(CAST(i.price AS DECIMAL(18, 2))) AS price,
        SUM(CAST(COALESCE(i.freight_value, 0) AS DECIMAL(18, 2))) AS freight,
        MIN(k.category) AS min_category,
        MAX(k.category) AS max_category
    FROM order_items i
    LEFT JOIN (
        -- two categories have no English name: keep the Portuguese one
        SELECT p.product_id, COALESCE(t.product_category_name_english, p.product_category_name) AS category
        FROM products p
        LEFT JOIN category_translation t ON t.product_category_name = p.product_category_name
        WHERE p.product_category_name IS NOT NULL
    ) k ON k.product_id = i.product_id
    GROUP BY i.order_id
),
order_payments AS (
    SELECT
        order_id,
        SUM(CAST(payment_value AS DECIMAL(18, 2))) AS paid,
        -- the export has a few credit-card payments in 0 installments: one payment is one installment
        SUM(CASE WHEN payment_installments < 1 THEN 1 ELSE payment_installments END) AS installments,
        COUNT(payment_installments) AS n_payments,
        MIN(payment_type) AS min_payment_type,
        MAX(payment_type) AS max_payment_type
    FROM payments
    GROUP BY order_id
),
known_reviews AS (
    -- a review's score exists once answered (the creation date stands in when the answer time is missing)
    SELECT review_id, order_id, review_score,
        date_diff('second', review_creation_date, review_answer_timestamp) AS answer_seconds
    FROM reviews
    WHERE COALESCE(review_answer_timestamp, review_creation_date) < {as_of}
),
shared_reviews AS (
    -- reviews covering several orders (rare): a person's mean must count them once
    SELECT review_id FROM known_reviews GROUP BY review_id HAVING COUNT(*) > 1
),
order_reviews AS (
    SELECT
        r.order_id,
        SUM(r.review_score) AS score_sum,
        COUNT(r.review_score) AS n_scores,
        SUM(r.answer_seconds) AS answer_sum,
        COUNT(r.answer_seconds) AS n_answers,
        MAX(CASE WHEN s.review_id IS NULL THEN 0 ELSE 1 END) AS shared
    FROM known_reviews r
    LEFT JOIN shared_reviews s ON s.review_id = r.review_id
    GROUP BY r.order_id
),
repeat_customers AS (
    SELECT customer_unique_id FROM counted_orders GROUP BY customer_unique_id HAVING COUNT(*) > 1
),
order_history AS (
    -- one row per customer: everything that adds up over their counted orders (ORDER_FACTS,
    -- HISTORY_COLUMNS); for what is a choice (main payment type and category, latest state) the
    -- least and the greatest value, which settle it for nearly everyone. A customer with one
    -- counted order (about 97%) has that order's values: the same numbers as the aggregate,
    -- without a hash table of everyone.
{history}
),
mixed_orders AS (
    -- the counted orders of the few customers whose choices the least and greatest do not settle
    SELECT
        co.order_id,
        co.customer_unique_id,
        co.customer_state,
        co.purchased_at,
        h.min_payment_type < h.max_payment_type AS mixed_payment,
        h.min_category < h.max_category AS mixed_category,
        h.min_state < h.max_state AS mixed_state,
        h.shared_review = 1 AS shared_review
    FROM counted_orders co
    JOIN order_history h ON h.customer_unique_id = co.customer_unique_id
    WHERE h.min_payment_type < h.max_payment_type OR h.min_category < h.max_category
       OR h.min_state < h.max_state OR h.shared_review = 1
),
review_scores AS (
    -- one review may cover several orders: count it once
    SELECT customer_unique_id, AVG(review_score) AS review_score_mean,
        AVG(answer_seconds) AS answer_seconds_mean
    FROM (
        SELECT DISTINCT mo.customer_unique_id, r.review_id, r.review_score, r.answer_seconds
        FROM known_reviews r
        JOIN mixed_orders mo ON mo.order_id = r.order_id
        WHERE mo.shared_review
    ) distinct_reviews
    GROUP BY customer_unique_id
),
main_payment_type AS (
    -- the type carrying the most value (ties: alphabetical): the least (-value, type)
    SELECT
        customer_unique_id,
        ARG_MIN(payment_type, STRUCT_PACK(value := -amount, payment_type := payment_type)) AS payment_type
    FROM (
        SELECT mo.customer_unique_id, p.payment_type, SUM(CAST(p.payment_value AS DECIMAL(18, 2))) AS amount
        FROM payments p
        JOIN mixed_orders mo ON mo.order_id = p.order_id
        WHERE mo.mixed_payment AND p.payment_type IS NOT NULL
        GROUP BY mo.customer_unique_id, p.payment_type
    ) payment_types
    GROUP BY customer_unique_id
),
category_mix AS (
    -- the category with the most items (ties: alphabetical), and how many categories
    SELECT
        customer_unique_id,
        ARG_MIN(category, STRUCT_PACK(items := -n_items, category := category)) AS category,
        COUNT(*) AS n_categories
    FROM (
        SELECT
            mo.customer_unique_id,
            COALESCE(t.product_category_name_english, p.product_category_name) AS category,
            COUNT(*) AS n_items
        FROM order_items i
        JOIN mixed_orders mo ON mo.order_id = i.order_id
        JOIN products p ON p.product_id = i.product_id
        LEFT JOIN category_translation t ON t.product_category_name = p.product_category_name
        WHERE mo.mixed_category AND p.product_category_name IS NOT NULL
        GROUP BY mo.customer_unique_id, COALESCE(t.product_category_name_english, p.product_category_name)
    ) categories
    GROUP BY customer_unique_id
),
latest_state AS (
    -- a person may move between orders: the state of the latest order that names one
    SELECT
        customer_unique_id,
        ARG_MAX(customer_state, STRUCT_PACK(purchased_at := purchased_at, order_id := order_id)) AS customer_state
    FROM mixed_orders
    WHERE mixed_state AND customer_state IS NOT NULL
    GROUP BY customer_unique_id
)
SELECT
    {person_text} AS customer_unique_id,
    -- divide DOUBLEs: integer / 86400.0 would be a DECIMAL division (rounded to 7 places) in Spark
    CAST(date_diff('second', h.last_purchase_at, {as_of}) AS DOUBLE) / 86400 AS recency_days,
    h.frequency,
    CAST(h.monetary AS DOUBLE) AS monetary,
    CAST(h.monetary AS DOUBLE) / h.frequency AS mean_basket,
    CAST(h.n_items AS DOUBLE) / h.frequency AS mean_items,
    CAST(h.n_items AS BIGINT) AS total_items,
    CASE WHEN h.shared_review = 1 THEN rs.review_score_mean
         ELSE CAST(h.score_sum AS DOUBLE) / NULLIF(h.n_scores, 0) END AS review_score_mean,
    CAST(h.n_reviewed_orders AS DOUBLE) / h.frequency AS review_share,
    CASE WHEN h.shared_review = 1 THEN rs.answer_seconds_mean
         ELSE CAST(h.answer_sum AS DOUBLE) / NULLIF(h.n_answers, 0) END / 86400 AS answer_days,
    h.delivery_seconds_mean / 86400 AS delivery_days_mean,
    h.lateness_seconds_mean / 86400 AS lateness_days_mean,
    h.late_share,
    COALESCE(CAST(h.installments AS DOUBLE) / h.n_payments, 1.0) AS installments_mean,
    COALESCE(CASE WHEN h.min_payment_type = h.max_payment_type THEN h.min_payment_type
                  ELSE mp.payment_type END, 'unknown') AS main_payment_type,
    COALESCE(CAST(h.freight AS DOUBLE) / CAST(NULLIF(h.items_value, 0) AS DOUBLE), 0.0) AS freight_share,
    CASE WHEN h.min_category IS NULL THEN 0 WHEN h.min_category = h.max_category THEN 1
         ELSE cm.n_categories END AS n_categories,
    COALESCE(CASE WHEN h.min_category = h.max_category THEN h.min_category ELSE cm.category END,
             'unknown') AS main_category,
    COALESCE(CASE WHEN h.min_state = h.max_state THEN h.min_state ELSE ls.customer_state END,
             'unknown') AS customer_state,
    CAST(date_diff('second', h.first_purchase_at, {as_of}) AS DOUBLE) / 86400 AS tenure_days
FROM order_history h
LEFT JOIN review_scores rs ON rs.customer_unique_id = h.customer_unique_id
LEFT JOIN main_payment_type mp ON mp.customer_unique_id = h.customer_unique_id
LEFT JOIN category_mix cm ON cm.customer_unique_id = h.customer_unique_id
LEFT JOIN latest_state ls ON ls.customer_unique_id = h.customer_unique_id
ORDER BY h.customer_unique_id
"""


def parse_as_of(value: date | datetime | str) -> date:
    """The as-of date from a ``date``, a midnight ``datetime`` or a ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise InputError(f"as-of date must be a day (midnight), got {value.isoformat()}")
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"as-of: {str(value)!r} is not a date (expected YYYY-MM-DD)") from None


def parse_statuses(text: str) -> tuple[str, ...]:
    """Order statuses from a comma-separated list (``"delivered,shipped"``), lower-cased, in order."""
    statuses = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    if not statuses:
        raise InputError(f"statuses: {text!r} names no order status (e.g. delivered,shipped)")
    return statuses


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: What one counted order adds to its customer's history: name -> SQL over ``counted_orders co`` and
#: its order's contents ``oc``, payments ``op`` and reviews ``r``.
ORDER_FACTS: dict[str, str] = {
    "purchased_at": "co.purchased_at",
    "paid": "COALESCE(op.paid, oc.price + oc.freight, 0)",
    "n_items": "COALESCE(oc.n_items, 0)",
    "reviewed": "CASE WHEN r.order_id IS NULL THEN 0 ELSE 1 END",
    "freight": "COALESCE(oc.freight, 0)",
    "items_value": "COALESCE(oc.price, 0) + COALESCE(oc.freight, 0)",
    "installments": "op.installments",
    "n_payments": "op.n_payments",
    # integer seconds (exact sums); orders not delivered before the as-of are NULL
    "delivery_seconds": "date_diff('second', co.purchased_at, co.delivered_at)",
    "lateness_seconds": "date_diff('second', co.estimated_at, co.delivered_at)",
    # the estimate is a calendar day: a delivery during that day is on time
    "late": ("CASE WHEN co.delivered_at IS NULL OR co.estimated_at IS NULL THEN NULL "
             "WHEN CAST(co.delivered_at AS DATE) > CAST(co.estimated_at AS DATE) THEN 1 ELSE 0 END"),
    "score_sum": "r.score_sum",
    "n_scores": "r.n_scores",
    "answer_sum": "r.answer_sum",
    "n_answers": "r.n_answers",
    "shared": "r.shared",
    "customer_state": "co.customer_state",
    "min_payment_type": "op.min_payment_type",
    "max_payment_type": "op.max_payment_type",
    "min_category": "oc.min_category",
    "max_category": "oc.max_category",
}

#: The columns of ``order_history``: (name, aggregate, fact of :data:`ORDER_FACTS` or ``*``).
HISTORY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("first_purchase_at", "MIN", "purchased_at"),
    ("last_purchase_at", "MAX", "purchased_at"),
    ("frequency", "COUNT", "*"),
    ("monetary", "SUM", "paid"),
    ("n_items", "SUM", "n_items"),
    ("n_reviewed_orders", "SUM", "reviewed"),
    ("freight", "SUM", "freight"),
    ("items_value", "SUM", "items_value"),
    ("installments", "SUM", "installments"),
    ("n_payments", "SUM", "n_payments"),
    ("delivery_seconds_mean", "AVG", "delivery_seconds"),
    ("lateness_seconds_mean", "AVG", "lateness_seconds"),
    ("late_share", "AVG", "late"),
    ("score_sum", "SUM", "score_sum"),
    ("n_scores", "SUM", "n_scores"),
    ("answer_sum", "SUM", "answer_sum"),
    ("n_answers", "SUM", "n_answers"),
    ("shared_review", "MAX", "shared"),
    ("min_state", "MIN", "customer_state"),
    ("max_state", "MAX", "customer_state"),
    ("min_payment_type", "MIN", "min_payment_type"),
    ("max_payment_type", "MAX", "max_payment_type"),
    ("min_category", "MIN", "min_category"),
    ("max_category", "MAX", "max_category"),
)


def _history_column(aggregate: str, fact: str, one_order: bool) -> str:
    """SQL of ``aggregate`` over ``fact``, or (``one_order``) what it is over a single order: the
    same value (NULL stays NULL, an average is a DOUBLE, a count is 1)."""
    if fact == "*":
        return "1" if one_order else f"{aggregate}(*)"
    value = ORDER_FACTS[fact]
    if not one_order:
        return f"{aggregate}({value})"
    return f"CAST({value} AS DOUBLE)" if aggregate == "AVG" else value


def _history_sql() -> str:
    """``order_history``: customers with one counted order read it as it is; the others aggregate."""
    def columns(one_order: bool) -> str:
        return ",\n        ".join(f"{_history_column(agg, fact, one_order)} AS {name}"
                                   for name, agg, fact in HISTORY_COLUMNS)

    joins = """LEFT JOIN order_contents oc ON oc.order_id = co.order_id
    LEFT JOIN order_payments op ON op.order_id = co.order_id
    LEFT JOIN order_reviews r ON r.order_id = co.order_id"""
    return f"""    SELECT
        co.customer_unique_id,
        {columns(True)}
    FROM counted_orders co
    LEFT JOIN repeat_customers m ON m.customer_unique_id = co.customer_unique_id
    {joins}
    WHERE m.customer_unique_id IS NULL
    UNION ALL
    SELECT
        co.customer_unique_id,
        {columns(False)}
    FROM counted_orders co
    JOIN repeat_customers m ON m.customer_unique_id = co.customer_unique_id
    {joins}
    GROUP BY co.customer_unique_id"""


def feature_sql(as_of: date | datetime | str, statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
                person_text: str = "h.customer_unique_id") -> str:
    """The feature query (DuckDB dialect, portable constructs) over the contract's table names.

    ``person_text`` renders the person's id ``h.customer_unique_id`` as text in the result (see
    :func:`custseg.ingest.key_text`: DuckDB may hold hex ids as numbers, ordered like the text).
    """
    day = parse_as_of(as_of)
    if not statuses:
        raise InputError("statuses: at least one order status must be counted")
    return _SQL_TEMPLATE.format(
        as_of=f"TIMESTAMP '{day.isoformat()} 00:00:00'",
        statuses=", ".join(_sql_text(s) for s in statuses),
        person_text=person_text,
        history=_history_sql(),
    ).strip()


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


def typed_features(df: pd.DataFrame, dtypes: dict[str, str] = FEATURE_DTYPES) -> pd.DataFrame:
    """``df`` with exactly the feature columns (``dtypes``' keys), in order, with the contract's dtypes."""
    return df[list(dtypes)].astype(dtypes).reset_index(drop=True)


def _computed(ds: Dataset, as_of: date | datetime | str, statuses: tuple[str, ...], into: str | None = None):
    """Run the feature query on ``ds``: the table as Arrow, or (``into``) into that temporary table."""
    check_statuses(ds, statuses)
    # Every step of the query is ordered explicitly (ORDER BY, window orders with tie-breakers), so
    # DuckDB may drop insertion order: for millions of customers that is the difference between
    # fitting its memory budget and running out of it.
    ds.con.execute("SET preserve_insertion_order = false")
    try:
        person = key_text(ds.con, "customers", "customer_unique_id", alias="h")
        return run_staged(ds.con, feature_sql(as_of, statuses, person), into)
    finally:
        ds.con.execute("RESET preserve_insertion_order")


def customer_features(
    ds: Dataset,
    as_of: date | datetime | str,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
) -> pd.DataFrame:
    """One row per customer_unique_id with a counted order before ``as_of``, sorted by that id."""
    result = _computed(ds, as_of, tuple(statuses))
    # through Arrow: text stays in Arrow buffers (.df() makes a Python object per value, 3x the
    # memory); self_destruct frees each Arrow column once converted
    return released(typed_features(result.to_pandas(self_destruct=True, split_blocks=True)))


#: The temporary table :func:`write_features` computes the feature table into.
WRITTEN_TABLE = "custseg_feature_table"


def write_features(ds: Dataset, as_of: date | datetime | str, output: str | Path,
                   statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES) -> tuple[int, dict[str, float]]:
    """Write the feature table of ``ds`` as of ``as_of`` to ``output`` (.csv or .parquet); its number of
    customers and the medians of :data:`SUMMARY_FEATURES`.

    DuckDB computes, summarises and writes the table (no Python copy of it: for millions of
    customers that is seconds and gigabytes). InputError, and nothing written, when no customer
    has a counted order before ``as_of``.
    """
    from .export import copy_table

    statuses = tuple(statuses)
    _computed(ds, as_of, statuses, into=WRITTEN_TABLE)
    try:
        medians = ", ".join(f'median("{name}")' for name in SUMMARY_FEATURES)
        customers, *values = ds.con.execute(f"SELECT count(*), {medians} FROM {WRITTEN_TABLE}").fetchall()[0]
        if not customers:
            raise InputError(f"no customer has a counted order before {parse_as_of(as_of)} "
                             f"(statuses: {', '.join(statuses)})")
        copy_table(ds.con, WRITTEN_TABLE, output)
    finally:
        ds.con.execute(f"DROP TABLE IF EXISTS temp.{WRITTEN_TABLE}")
    return customers, {name: float("nan") if v is None else float(v) for name, v in zip(SUMMARY_FEATURES, values)}


def released(value):
    """``value``, after Arrow's memory pool has handed its freed memory back to the system.

    The pool keeps what a conversion freed for later use: for millions of customers that is
    hundreds of MB more peak memory in every step that follows (0.8 GB at 9M customers).
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    return value


_CTE = re.compile(r"^(\w+) AS \($(.*?)^\),?$", re.M | re.S)


def split_query(sql: str) -> tuple[list[tuple[str, str]], str]:
    """The named steps (``name AS (...)``) of :func:`feature_sql`'s WITH clause, and its final SELECT."""
    head, final = re.split(r"^(?=SELECT$)", sql, maxsplit=1, flags=re.M) if "\nSELECT\n" in sql else (sql, "")
    steps = [(m.group(1), m.group(2)) for m in _CTE.finditer(head)]
    if not steps or not final or not head.lstrip().startswith("WITH"):
        raise ValueError("not a WITH query of the feature template")
    return steps, final


def run_staged(con, sql: str, into: str | None = None):
    """Run the feature query one step at a time, each into a temporary table; the result as Arrow
    (or, with ``into``, in that temporary table, in the query's order).

    The same SQL as one statement would keep every step's hash tables in memory at once: with
    millions of customers that outgrows DuckDB's memory budget. Materialised one by one, each step
    fits, a finished step can be written to disk by DuckDB's buffer manager, and the work is the same.
    """
    steps, final = split_query(sql)
    made = []
    try:
        for name, body in steps:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
            made.append(name)
        if into:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {final}")
            return None
        return con.sql(final).to_arrow_table()
    finally:
        for name in reversed(made):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


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


def is_feature_table(path: str | Path) -> bool:
    """Whether ``path`` names a written feature table: a .csv or .parquet file, or a Parquet dataset
    directory (as Spark writes), rather than an Olist export directory."""
    path = Path(path)
    return path.suffix.lower() in (".csv", ".parquet") and (path.is_file() or path.suffix.lower() == ".parquet")


def read_feature_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A feature table written by ``custseg features`` (either engine), checked and typed.

    Reads only the feature columns (Parquet: straight into columns, no text parsing), so that
    fitting or assigning millions of customers does not recompute their features. With
    ``columns`` (feature names), only those are read and returned, in that order.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

    from .export import reading

    path = Path(path)
    reading(path)  # outputs must not overwrite it
    try:
        if path.suffix.lower() == ".parquet":
            source = pads.dataset(path, format="parquet")
            present = source.schema.names
        else:
            present = list(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"cannot be read as a feature table ({type(exc).__name__})", file=path) from None
    unknown = [c for c in columns or () if c not in FEATURE_DTYPES]
    if unknown:
        raise InputError("not a column of a feature table written by custseg features", file=path,
                         column=unknown[0])
    wanted = {c: FEATURE_DTYPES[c] for c in columns} if columns is not None else FEATURE_DTYPES
    missing = [c for c in FEATURE_DTYPES if c not in present]
    if missing:
        raise InputError("missing: not a feature table written by custseg features (a transaction log "
                         "is read with `customer_col`, `date_col` and `amount_col`)", file=path, column=missing[0])
    try:
        if path.suffix.lower() == ".parquet":
            # self_destruct: each Arrow column is freed once converted (half the peak memory)
            table = source.to_table(columns=list(wanted)).to_pandas(self_destruct=True, split_blocks=True)
        else:
            text = [c for c, t in wanted.items() if t == "str"]
            table = pd.read_csv(path, usecols=list(wanted), dtype=dict.fromkeys(text, str),
                                keep_default_na=False, na_values={c: [""] for c in wanted if c not in text})
        return released(typed_features(table, wanted))
    except (ValueError, TypeError, pa.ArrowException) as exc:
        column = next((c for c in wanted if c in str(exc)), None)
        raise InputError(f"a value does not have the feature table's type ({type(exc).__name__})",
                         file=path, column=column) from None


#: Features whose medians summarise a feature table at a glance.
SUMMARY_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary", "review_score_mean", "delivery_days_mean")


def feature_medians(df: pd.DataFrame) -> dict[str, float]:
    """Median of each summary feature (NaN ignored), for a quick look at a feature table."""
    return {name: float(df[name].median()) for name in SUMMARY_FEATURES}
