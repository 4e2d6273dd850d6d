"""The data contract: the nine Olist tables, their columns, types and keys; the generic-log mapping.

Each table is a :class:`TableSpec`: the logical name used in SQL (``orders``), the file stem of
the official export (``olist_orders_dataset``), the columns with their DuckDB types, the primary
key and the foreign keys. A data directory may hold ``<stem>.csv`` or ``<stem>.parquet``.

Identifiers and zip prefixes are text (zip prefixes keep their leading zeros).

A shop that is not Olist brings a transaction log instead: one file, one row per order or order
line. A :class:`LogMapping` names its columns; ingest turns it into the same tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table must exist in ``ref_table.ref_columns``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract."""

    name: str
    stem: str
    columns: dict[str, str]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    required: tuple[str, ...] = ()  # columns that may never be empty
    description: str = ""
    # True: the data is refused when this table has no rows, a duplicate primary key, or an empty
    # or unparseable required value. False: those are warnings (other steps survive them).
    essential: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def csv_name(self) -> str:
        return f"{self.stem}.csv"

    @property
    def parquet_name(self) -> str:
        return f"{self.stem}.parquet"

    @property
    def date_columns(self) -> list[str]:
        return [c for c, t in self.columns.items() if t in ("TIMESTAMP", "DATE")]

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c, t in self.columns.items() if t in ("DOUBLE", "INTEGER", "BIGINT")]


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in [
        TableSpec(
            name="customers",
            stem="olist_customers_dataset",
            columns={
                "customer_id": "VARCHAR",
                "customer_unique_id": "VARCHAR",
                "customer_zip_code_prefix": "VARCHAR",
                "customer_city": "VARCHAR",
                "customer_state": "VARCHAR",
            },
            primary_key=("customer_id",),
            required=("customer_id", "customer_unique_id"),
            description="one row per order's customer record; customer_unique_id is the person",
            essential=True,
        ),
        TableSpec(
            name="orders",
            stem="olist_orders_dataset",
            columns={
                "order_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "order_status": "VARCHAR",
                "order_purchase_timestamp": "TIMESTAMP",
                "order_approved_at": "TIMESTAMP",
                "order_delivered_carrier_date": "TIMESTAMP",
                "order_delivered_customer_date": "TIMESTAMP",
                "order_estimated_delivery_date": "TIMESTAMP",
            },
            primary_key=("order_id",),
            foreign_keys=(ForeignKey(("customer_id",), "customers", ("customer_id",)),),
            required=("order_id", "customer_id", "order_status", "order_purchase_timestamp"),
            description="one row per order",
            essential=True,
        ),
        TableSpec(
            name="order_items",
            stem="olist_order_items_dataset",
            columns={
                "order_id": "VARCHAR",
                "order_item_id": "INTEGER",
                "product_id": "VARCHAR",
                "seller_id": "VARCHAR",
                "shipping_limit_date": "TIMESTAMP",
                "price": "DOUBLE",
                "freight_value": "DOUBLE",
            },
            primary_key=("order_id", "order_item_id"),
            foreign_keys=(
                ForeignKey(("order_id",), "orders", ("order_id",)),
                ForeignKey(("product_id",), "products", ("product_id",)),
                ForeignKey(("seller_id",), "sellers", ("seller_id",)),
            ),
            required=("order_id", "order_item_id", "price"),
            description="one row per item of an order",
        ),
        TableSpec(
            name="payments",
            stem="olist_order_payments_dataset",
            columns={
                "order_id": "VARCHAR",
                "payment_sequential": "INTEGER",
                "payment_type": "VARCHAR",
                "payment_installments": "INTEGER",
                "payment_value": "DOUBLE",
            },
            primary_key=("order_id", "payment_sequential"),
            foreign_keys=(ForeignKey(("order_id",), "orders", ("order_id",)),),
            required=("order_id", "payment_value"),
            description="one row per payment of an order (vouchers add rows)",
        ),
        TableSpec(
            name="reviews",
            stem="olist_order_reviews_dataset",
            columns={
                "review_id": "VARCHAR",
                "order_id": "VARCHAR",
                "review_score": "INTEGER",
                "review_comment_title": "VARCHAR",
                "review_comment_message": "VARCHAR",
                "review_creation_date": "TIMESTAMP",
                "review_answer_timestamp": "TIMESTAMP",
            },
            # review_id alone repeats in the real export (one review covering several orders)
            primary_key=("review_id", "order_id"),
            foreign_keys=(ForeignKey(("order_id",), "orders", ("order_id",)),),
            required=("review_id", "order_id", "review_score"),
            description="one row per review of an order",
        ),
        TableSpec(
            name="products",
            stem="olist_products_dataset",
            columns={
                "product_id": "VARCHAR",
                "product_category_name": "VARCHAR",
                "product_name_lenght": "INTEGER",
                "product_description_lenght": "INTEGER",
                "product_photos_qty": "INTEGER",
                "product_weight_g": "DOUBLE",
                "product_length_cm": "DOUBLE",
                "product_height_cm": "DOUBLE",
                "product_width_cm": "DOUBLE",
            },
            primary_key=("product_id",),
            required=("product_id",),
            description="one row per product (column names keep the export's spelling)",
        ),
        TableSpec(
            name="sellers",
            stem="olist_sellers_dataset",
            columns={
                "seller_id": "VARCHAR",
                "seller_zip_code_prefix": "VARCHAR",
                "seller_city": "VARCHAR",
                "seller_state": "VARCHAR",
            },
            primary_key=("seller_id",),
            required=("seller_id",),
            description="one row per seller",
        ),
        TableSpec(
            name="geolocation",
            stem="olist_geolocation_dataset",
            columns={
                "geolocation_zip_code_prefix": "VARCHAR",
                "geolocation_lat": "DOUBLE",
                "geolocation_lng": "DOUBLE",
                "geolocation_city": "VARCHAR",
                "geolocation_state": "VARCHAR",
            },
            required=("geolocation_zip_code_prefix",),
            description="many rows per zip prefix (no key in the export)",
        ),
        TableSpec(
            name="category_translation",
            stem="product_category_name_translation",
            columns={
                "product_category_name": "VARCHAR",
                "product_category_name_english": "VARCHAR",
            },
            primary_key=("product_category_name",),
            required=("product_category_name",),
            description="Portuguese category name to English",
        ),
    ]
}

#: Order statuses that count by default: only delivered orders are purchases that happened.
DEFAULT_STATUSES: tuple[str, ...] = ("delivered",)

#: All statuses of the Olist export.
ORDER_STATUSES: tuple[str, ...] = (
    "approved",
    "canceled",
    "created",
    "delivered",
    "invoiced",
    "processing",
    "shipped",
    "unavailable",
)



#: The columns the customer features read, per table (with each table's primary key and required
#: columns, always loaded so that the same data are refused). Commands that only need features
#: (features, fit, assign, rfm, stability, monitor) load these; validate, report and run load all.
FEATURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "customer_unique_id", "customer_state"),
    "orders": ("order_id", "customer_id", "order_status", "order_purchase_timestamp",
               "order_delivered_customer_date", "order_estimated_delivery_date"),
    "order_items": ("order_id", "order_item_id", "product_id", "price", "freight_value"),
    "payments": ("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"),
    "reviews": ("review_id", "order_id", "review_score", "review_creation_date", "review_answer_timestamp"),
    "products": ("product_id", "product_category_name"),
    "category_translation": ("product_category_name", "product_category_name_english"),
}

@dataclass(frozen=True)
class LogMapping:
    """How to read a generic transaction log: one row per order, or per order line.

    ``customer_col``, ``date_col`` and ``amount_col`` name the log's columns holding the customer
    id, the purchase date and the amount paid. Rows sharing a value of ``order_col`` are lines of
    one order; without ``order_col`` each row is an order of its own. ``date_format`` is a
    strptime format (``%Y%m%d``); without it dates must be ISO (``2019-03-31``, optionally with a
    time). ``columns`` names the fields of a log whose fields are separated by whitespace (the
    CDNOW layout ``id date count amount``). ``header`` says whether the first line names the fields:
    None (default) means yes for a CSV log and no with ``columns``; True with ``columns`` skips that
    line; True without ``columns`` reads a whitespace-separated log's names from it.
    """

    customer_col: str
    date_col: str
    amount_col: str
    order_col: str | None = None
    date_format: str | None = None
    columns: tuple[str, ...] | None = None
    header: bool | None = None

    @property
    def used_columns(self) -> dict[str, str]:
        """The log columns read, keyed by their role."""
        roles = {"customer": self.customer_col, "date": self.date_col, "amount": self.amount_col}
        if self.order_col:
            roles["order"] = self.order_col
        return roles


#: Tables a transaction log fills; the other contract tables exist, empty.
LOG_TABLES: tuple[str, ...] = ("customers", "orders", "order_items", "payments")
