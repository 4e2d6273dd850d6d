"""The data contract's checks, written as SQL over the ingested DuckDB tables.

A :class:`Check` counts the rows of a table that break one rule and picks up to three examples.
What it finds is a :class:`Finding`: either a refusal (the data cannot be used; it becomes an
:class:`~custseg.errors.InputError` naming the file and column) or a warning that the other steps
survive (real exports have warts: orders without items, reviews without dates, ...).

All checks of one table run as one aggregate query, so each table is scanned once.

Dates are judged against the data's own range, never the wall clock: an event dated more than a
year after the latest purchase, a purchase more than 90 days after the latest other event
(approval, hand-over to the carrier, delivery, review answer), and an approval or delivery before
its own order's purchase are warnings.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from .errors import InputError
from .schema import ORDER_STATUSES, TABLES, TableSpec

#: SQL macro (defined on the connection by ingest) rendering a key column as its original text,
#: whether the tables hold it as text or as a number.
TEXT_MACRO = "custseg_text"

#: How many example values a finding shows.
EXAMPLES = 3


@dataclass(frozen=True)
class Finding:
    """A broken rule: how many rows (or values) break it, with a few examples."""

    check: str
    table: str
    column: str | None
    problem: str
    count: int
    examples: tuple[str, ...] = ()
    refuse: bool = False

    @property
    def text(self) -> str:
        """The problem, the count and examples: ``orders without items: 775 (e.g. 'ab')``.

        A count of 0 is a finding about the whole table (it is empty): no count is shown.
        """
        shown = ", ".join(repr(e) for e in self.examples)
        counted = f"{self.problem}: {self.count:,}" if self.count else self.problem
        return counted + (f" (e.g. {shown})" if shown else "")

    def __str__(self) -> str:
        where = self.table + (f".{self.column}" if self.column else "")
        return f"{where}: {self.text}"

    def error(self, file: str | Path | None) -> InputError:
        """This finding as the InputError that refuses the data."""
        return InputError(self.text, file=Path(file) if file else self.table, column=self.column)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["examples"] = list(self.examples)
        del out["refuse"]
        return out


@dataclass(frozen=True)
class Check:
    """Rows of ``source`` (default: ``table``) where ``where`` holds break a rule.

    ``problem`` names the counted rows ("orders without items");
    ``example`` is the SQL expression shown for up to three of them (smallest first).
    """

    check: str
    table: str
    problem: str
    where: str
    example: str
    column: str | None = None
    refuse: bool = False
    source: str | None = None


def _findings_of_source(con: duckdb.DuckDBPyConnection, source: str, checks: list[Check]) -> list[Finding]:
    # Each condition is computed once per row (as a column), then counted and sampled.
    flags = ", ".join(f"coalesce({c.where}, false) AS c{i}, {c.example} AS x{i}"
                      for i, c in enumerate(checks))
    totals = ", ".join(f"count(*) FILTER (WHERE c{i}), "
                       f"min(DISTINCT CASE WHEN c{i} THEN {TEXT_MACRO}(x{i}) END, {EXAMPLES})"
                       for i in range(len(checks)))
    row = con.execute(f"SELECT {totals} FROM (SELECT {flags} FROM {source})").fetchall()[0]
    found = []
    for i, c in enumerate(checks):
        count, examples = row[2 * i], row[2 * i + 1]
        if count:
            found.append(Finding(c.check, c.table, c.column, c.problem, int(count),
                                 tuple(e for e in (examples or []) if e is not None), c.refuse))
    return found


def run_checks(con: duckdb.DuckDBPyConnection, checks: Iterable[Check]) -> list[Finding]:
    """What ``checks`` find, in the order of the checks; one query per table (or source)."""
    by_source: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        by_source[c.source or c.table].append(c)
    found = {}
    for source, group in by_source.items():
        for f in _findings_of_source(con, source, group):
            found[(f.check, f.table, f.column)] = f
    return [found[k] for k in ((c.check, c.table, c.column) for c in checks) if k in found]


def duplicate_key_check(spec: TableSpec) -> Check:
    """Primary-key values found on more than one row (refused in an essential table)."""
    key = ", ".join(f'"{c}"' for c in spec.primary_key)
    not_null = " AND ".join(f'"{c}" IS NOT NULL' for c in spec.primary_key)
    shown = " || '/' || ".join(f'{TEXT_MACRO}("{c}")' for c in spec.primary_key)
    return Check(
        "duplicate_key", spec.name, f"duplicate {'/'.join(spec.primary_key)} values",
        "true", shown, column=spec.primary_key[0], refuse=spec.essential,
        source=f"(SELECT {key} FROM {spec.name} WHERE {not_null} GROUP BY {key} HAVING count(*) > 1)",
    )


def drop_duplicate_keys(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    """Keep the first row (in file order) of each primary-key value of ``spec``'s table."""
    key = ", ".join(f'"{c}"' for c in spec.primary_key)
    con.execute(f"CREATE OR REPLACE TABLE {spec.name} AS SELECT * FROM {spec.name} "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY rowid) = 1 ORDER BY rowid")


#: Parents that should have children: (child table, foreign-key column) -> (check, problem).
_CHILDLESS = {
    ("orders", "customer_id"): ("customer_without_orders", "customers without orders"),
    ("order_items", "order_id"): ("order_without_items", "orders without items"),
    ("payments", "order_id"): ("order_without_payment", "orders without a payment"),
}


def _foreign_key_checks() -> list[Check]:
    """Orphans (child keys missing from the parent) and childless parents, one full join per key."""
    checks = []
    for spec in TABLES.values():
        for fk in spec.foreign_keys:
            child, parent = fk.columns[0], fk.ref_columns[0]
            joined = (f'(SELECT p."{parent}" AS parent_key, c."{child}" AS child_key FROM {fk.ref_table} p '
                      f'FULL JOIN {spec.name} c ON p."{parent}" = c."{child}")')
            checks.append(Check(f"orphan_{child}", spec.name, f"rows whose {child} is not in {fk.ref_table}",
                                "parent_key IS NULL AND child_key IS NOT NULL", "child_key", column=child,
                                source=joined))
            if (spec.name, child) in _CHILDLESS:
                check, problem = _CHILDLESS[(spec.name, child)]
                checks.append(Check(check, fk.ref_table, problem,
                                    "child_key IS NULL AND parent_key IS NOT NULL", "parent_key",
                                    source=joined))
    return checks


def _missing(table: str, column: str, problem: str, example: str, check: str) -> Check:
    return Check(check, table, problem, f'"{column}" IS NULL', example, column=column)


_ORDER_EVENTS = ("order_approved_at", "order_delivered_carrier_date", "order_delivered_customer_date")
_LAST_PURCHASE = "(SELECT max(order_purchase_timestamp) FROM orders)"
_LAST_OTHER_EVENT = (
    "(SELECT greatest(max(order_approved_at), max(order_delivered_carrier_date), "
    "max(order_delivered_customer_date), (SELECT max(review_answer_timestamp) FROM reviews)) FROM orders)"
)
_EVENT_COLUMNS = {
    "orders": (*_ORDER_EVENTS, "order_estimated_delivery_date"),
    "order_items": ("shipping_limit_date",),
    "reviews": ("review_creation_date", "review_answer_timestamp"),
}


def _date_checks() -> list[Check]:
    checks = [
        Check("event_before_purchase", "orders", f"orders with {col} before the purchase",
              f"{col} < order_purchase_timestamp", "order_id", column=col)
        for col in _ORDER_EVENTS
    ]
    checks.append(Check(
        "purchase_after_last_event", "orders", "purchases more than 90 days after the latest other event",
        f"order_purchase_timestamp > {_LAST_OTHER_EVENT} + INTERVAL 90 DAY",
        "order_purchase_timestamp", column="order_purchase_timestamp",
    ))
    checks += [
        Check("date_after_last_purchase", table, "dates more than a year after the latest purchase",
              f"{col} > {_LAST_PURCHASE} + INTERVAL 365 DAY", col, column=col)
        for table, cols in _EVENT_COLUMNS.items()
        for col in cols
    ]
    return checks


def _order_checks() -> list[Check]:
    statuses = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
    return [
        Check("delivered_without_date", "orders", "delivered orders without a delivery date",
              "order_status = 'delivered' AND order_delivered_customer_date IS NULL", "order_id",
              column="order_delivered_customer_date"),
        Check("undelivered_with_date", "orders", "orders not delivered but with a delivery date",
              "order_status <> 'delivered' AND order_delivered_customer_date IS NOT NULL", "order_id",
              column="order_delivered_customer_date"),
        Check("unknown_status", "orders", f"unknown order statuses (known: {', '.join(ORDER_STATUSES)})",
              f"order_status NOT IN ({statuses})", "order_status", column="order_status",
              source="(SELECT DISTINCT order_status FROM orders WHERE order_status IS NOT NULL)"),
    ]


def _value_checks() -> list[Check]:
    negative = [("order_items", "price"), ("order_items", "freight_value"), ("payments", "payment_value")]
    return [
        *(Check("negative_value", t, f"negative {c} values", f"{c} < 0", c, column=c) for t, c in negative),
        Check("score_out_of_range", "reviews", "review scores outside 1..5",
              "review_score NOT BETWEEN 1 AND 5", "review_score", column="review_score"),
        _missing("reviews", "review_creation_date", "reviews without a creation date", "review_id",
                 "review_without_date"),
        _missing("reviews", "review_answer_timestamp", "reviews without an answer timestamp", "review_id",
                 "review_without_date"),
        _missing("products", "product_category_name", "products without a category", "product_id",
                 "product_without_category"),
        Check("category_without_translation", "products", "product categories without an English translation",
              "product_category_name NOT IN (SELECT product_category_name FROM category_translation "
              "WHERE product_category_name IS NOT NULL)",
              "product_category_name", column="product_category_name",
              source="(SELECT DISTINCT product_category_name FROM products "
                     "WHERE product_category_name IS NOT NULL)"),
    ]


def relation_checks() -> list[Check]:
    """The Olist checks across tables and on values: survivable warts, all warnings."""
    return [*_foreign_key_checks(), *_order_checks(), *_value_checks(), *_date_checks()]

