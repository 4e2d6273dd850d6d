"""The feature query: one SQL query over the contract's table names, and how DuckDB runs it.

:func:`feature_sql` is the whole computation, written in portable SQL (CTEs, GROUP BY, CASE,
``date_diff``, ``ARG_MAX``/``ARG_MIN`` over a struct, which are Spark's ``MAX_BY``/``MIN_BY``) so that
sqlglot can transpile it from DuckDB to Spark. DuckDB runs it one step at a time
(:func:`run_staged`), or as one statement on small data. Sums run on exact types (integer
seconds, DECIMAL money) so that results do not depend on the order in which threads add them up.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from ..errors import InputError
from ..schema import DEFAULT_STATUSES

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
repeat_history AS (
    -- customers with several counted orders (about 3%): everything that adds up over their orders
    -- (ORDER_FACTS, HISTORY_COLUMNS); for what is a choice (main payment type and category, latest
    -- state) the least and the greatest value, which settle it for nearly everyone
{repeat_history}
),
mixed_orders AS (
    -- the counted orders of the few customers whose choices the least and greatest do not settle:
    -- a repeat customer's by their history, another's by the contents of their one order
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
    JOIN repeat_history h ON h.customer_unique_id = co.customer_unique_id
    WHERE h.min_payment_type < h.max_payment_type OR h.min_category < h.max_category
       OR h.min_state < h.max_state OR h.shared_review = 1
    UNION ALL
    SELECT
        co.order_id,
        co.customer_unique_id,
        co.customer_state,
        co.purchased_at,
        op.min_payment_type < op.max_payment_type AS mixed_payment,
        oc.min_category < oc.max_category AS mixed_category,
        FALSE AS mixed_state,
        r.shared = 1 AS shared_review
    FROM (
        SELECT order_id FROM order_contents WHERE min_category < max_category
        UNION
        SELECT order_id FROM order_payments WHERE min_payment_type < max_payment_type
        UNION
        SELECT order_id FROM order_reviews WHERE shared = 1
    ) mixed
    JOIN counted_orders co ON co.order_id = mixed.order_id
    LEFT JOIN repeat_customers m ON m.customer_unique_id = co.customer_unique_id
    LEFT JOIN order_contents oc ON oc.order_id = co.order_id
    LEFT JOIN order_payments op ON op.order_id = co.order_id
    LEFT JOIN order_reviews r ON r.order_id = co.order_id
    WHERE m.customer_unique_id IS NULL
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
),
feature_rows AS (
    -- one row per customer, the id as the engine holds it (written out and sorted last)
    SELECT
        h.customer_unique_id,
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
    FROM (
        -- a customer with one counted order (about 97%) has that order's values, the same numbers
        -- as the aggregate, without a hash table of everyone
{single_history}
        UNION ALL
        SELECT * FROM repeat_history
    ) h
    LEFT JOIN review_scores rs ON rs.customer_unique_id = h.customer_unique_id
    LEFT JOIN main_payment_type mp ON mp.customer_unique_id = h.customer_unique_id
    LEFT JOIN category_mix cm ON cm.customer_unique_id = h.customer_unique_id
    LEFT JOIN latest_state ls ON ls.customer_unique_id = h.customer_unique_id
)
SELECT
    {person_text} AS customer_unique_id,
    h.recency_days,
    h.frequency,
    h.monetary,
    h.mean_basket,
    h.mean_items,
    h.total_items,
    h.review_score_mean,
    h.review_share,
    h.answer_days,
    h.delivery_days_mean,
    h.lateness_days_mean,
    h.late_share,
    h.installments_mean,
    h.main_payment_type,
    h.freight_share,
    h.n_categories,
    h.main_category,
    h.customer_state,
    h.tenure_days
FROM feature_rows h
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

#: The columns of a customer's history (``repeat_history``, and the one-order rows inside ``feature_rows``):
#: (name, aggregate, fact of :data:`ORDER_FACTS` or ``*``).
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


def _history_sql(one_order: bool) -> str:
    """The history of the customers with one counted order (``one_order``: that order as it is), or
    of the others (aggregated)."""
    columns = ",\n        ".join(f"{_history_column(agg, fact, one_order)} AS {name}"
                                  for name, agg, fact in HISTORY_COLUMNS)
    repeat = ("LEFT JOIN repeat_customers m ON m.customer_unique_id = co.customer_unique_id" if one_order
              else "JOIN repeat_customers m ON m.customer_unique_id = co.customer_unique_id")
    rows = "WHERE m.customer_unique_id IS NULL" if one_order else "GROUP BY co.customer_unique_id"
    return f"""    SELECT
        co.customer_unique_id,
        {columns}
    FROM counted_orders co
    {repeat}
    LEFT JOIN order_contents oc ON oc.order_id = co.order_id
    LEFT JOIN order_payments op ON op.order_id = co.order_id
    LEFT JOIN order_reviews r ON r.order_id = co.order_id
    {rows}"""


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
        single_history=_history_sql(True),
        repeat_history=_history_sql(False),
    ).strip()


_CTE = re.compile(r"^(\w+) AS \($(.*?)^\),?$", re.M | re.S)


def split_query(sql: str) -> tuple[list[tuple[str, str]], str]:
    """The named steps (``name AS (...)``) of :func:`feature_sql`'s WITH clause, and its final SELECT."""
    head, final = re.split(r"^(?=SELECT$)", sql, maxsplit=1, flags=re.M) if "\nSELECT\n" in sql else (sql, "")
    steps = [(m.group(1), m.group(2)) for m in _CTE.finditer(head)]
    if not steps or not final or not head.lstrip().startswith("WITH"):
        raise ValueError("not a WITH query of the feature template")
    return steps, final


def run_staged(con, sql: str, sink=None):
    """Run the feature query one step at a time, each into a temporary table; the result as Arrow,
    or what ``sink`` returns, called with the final SELECT while the steps it reads exist.

    The same SQL as one statement would keep every step's hash tables in memory at once: with
    millions of customers that outgrows DuckDB's memory budget. Materialised one by one, each step
    fits, a finished step can be written to disk by DuckDB's buffer manager, and the work is the same.
    Small data need no steps (see :func:`custseg.features.whole_query`).
    """
    steps, final = split_query(sql)
    made = []
    try:
        for name, body in steps:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
            made.append(name)
        if sink is not None:
            return sink(final)
        return con.sql(final).to_arrow_table()
    finally:
        for name in reversed(made):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
