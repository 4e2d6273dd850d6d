"""The customer feature table of ``custseg features``, written independently as one lazy Polars plan.

A peer for ``benchmarks/features.py``, tested equal to custseg's in ``tests/test_peer_features.py``
(Polars is in the ``bench`` and ``test`` extras, not a dependency of custseg). The plan is the
fast one: each CSV scanned once with explicit types and only the needed columns; items,
payments and reviews aggregated per order in one stacked (concatenated) aggregate joined once to
the counted orders; one aggregate per person; money in integer cents. No data contract: values
are trusted, nothing is checked. Definition: ``custseg.features.FEATURE_DOCS`` (see
``features_pandas.py`` for the rules in words).

Run alone: ``python benchmarks/features_polars.py DATA AS_OF OUT.parquet [STATUSES]``.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import polars as pl

DAY = 86400.0
STAMP = pl.Datetime("us")


def _scan(root: Path, stem: str, columns: dict[str, pl.DataType]) -> pl.LazyFrame:
    """The typed ``columns`` of ``root/stem.csv`` (dates parsed from ISO text, empty cells null)."""
    text = {c: (pl.String if t == STAMP else t) for c, t in columns.items()}
    frame = pl.scan_csv(root / f"{stem}.csv", schema_overrides=text, infer_schema=False).select(list(columns))
    return frame.with_columns(pl.col(c).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
                              for c, t in columns.items() if t == STAMP)


def _cents(column: str) -> pl.Expr:
    return (pl.col(column) * 100).round().cast(pl.Int64)


def _main(frame: pl.LazyFrame, name: str, weight: str) -> pl.LazyFrame:
    """Per person, the ``name`` with the largest ``weight`` (ties: alphabetically first)."""
    return (frame.sort(["customer_unique_id", weight, name], descending=[False, True, False], nulls_last=True)
            .group_by("customer_unique_id").agg(pl.col(name).first()))


def customer_features(root: str | Path, as_of: str, statuses: tuple[str, ...] = ("delivered",)) -> pl.DataFrame:
    """One row per person with a counted order before ``as_of``, sorted by ``customer_unique_id``."""
    root, day = Path(root), datetime.fromisoformat(as_of)
    customers = _scan(root, "olist_customers_dataset",
                      {"customer_id": pl.String, "customer_unique_id": pl.String, "customer_state": pl.String})
    orders = _scan(root, "olist_orders_dataset", {
        "order_id": pl.String, "customer_id": pl.String, "order_status": pl.String,
        "order_purchase_timestamp": STAMP, "order_delivered_customer_date": STAMP,
        "order_estimated_delivery_date": STAMP})
    items = _scan(root, "olist_order_items_dataset", {"order_id": pl.String, "product_id": pl.String,
                                                      "price": pl.Float64, "freight_value": pl.Float64})
    payments = _scan(root, "olist_order_payments_dataset", {
        "order_id": pl.String, "payment_type": pl.String, "payment_installments": pl.Int64,
        "payment_value": pl.Float64})
    reviews = _scan(root, "olist_order_reviews_dataset", {
        "review_id": pl.String, "order_id": pl.String, "review_score": pl.Int64,
        "review_creation_date": STAMP, "review_answer_timestamp": STAMP})
    products = _scan(root, "olist_products_dataset", {"product_id": pl.String, "product_category_name": pl.String})
    names = _scan(root, "product_category_name_translation",
                  {"product_category_name": pl.String, "product_category_name_english": pl.String})

    counted = (orders.filter((pl.col("order_purchase_timestamp") < day) & pl.col("order_status").is_in(statuses))
               .join(customers, on="customer_id")
               .select("order_id", "customer_unique_id", "customer_state",
                       pl.col("order_purchase_timestamp").alias("purchased"),
                       pl.when(pl.col("order_delivered_customer_date") < day)
                       .then(pl.col("order_delivered_customer_date")).alias("delivered"),
                       pl.col("order_estimated_delivery_date").alias("estimated"))).cache()
    known = reviews.filter(pl.coalesce("review_answer_timestamp", "review_creation_date") < day).cache()
    # items, payments and reviews stacked, aggregated per order once
    null = pl.lit(None, pl.Int64)
    stacked = pl.concat([
        items.select("order_id", pl.lit(1, pl.Int64).alias("item"), _cents("price").alias("price"),
                     _cents("freight_value").fill_null(0).alias("freight"), null.alias("paid"),
                     null.alias("installments"), null.alias("reviewed")),
        payments.select("order_id", null.alias("item"), null.alias("price"), null.alias("freight"),
                        _cents("payment_value").alias("paid"),
                        pl.col("payment_installments").clip(lower_bound=1).alias("installments"), null.alias("reviewed")),
        known.select("order_id", null.alias("item"), null.alias("price"), null.alias("freight"), null.alias("paid"),
                     null.alias("installments"), pl.lit(1, pl.Int64).alias("reviewed")),
    ])
    per_order = stacked.group_by("order_id").agg(
        pl.col("item").sum().alias("n_items"),
        pl.when(pl.col("price").count() > 0).then(pl.col("price").sum()).alias("price"),
        pl.col("freight").sum(),
        pl.when(pl.col("paid").count() > 0).then(pl.col("paid").sum()).alias("paid"),
        pl.when(pl.col("installments").count() > 0).then(pl.col("installments").sum()).alias("installments"),
        pl.col("installments").count().alias("n_payments"),
        (pl.col("reviewed").count() > 0).alias("reviewed"),
    )
    history = counted.join(per_order, on="order_id", how="left").with_columns(
        pl.coalesce("paid", pl.col("price") + pl.col("freight"), 0).alias("value"),
        (pl.col("delivered") - pl.col("purchased")).dt.total_seconds().alias("delivery"),
        (pl.col("delivered") - pl.col("estimated")).dt.total_seconds().alias("lateness"),
        pl.when(pl.col("delivered").is_null() | pl.col("estimated").is_null()).then(None)
        .otherwise((pl.col("delivered").dt.date() > pl.col("estimated").dt.date()).cast(pl.Float64)).alias("late"),
    ).group_by("customer_unique_id").agg(
        pl.col("purchased").min().alias("first"), pl.col("purchased").max().alias("last"),
        pl.len().alias("frequency"), pl.col("value").sum().alias("monetary"),
        pl.col("n_items").fill_null(0).sum().alias("n_items"),
        pl.col("reviewed").fill_null(False).sum().alias("reviewed"),
        pl.col("freight").fill_null(0).sum().alias("freight"),
        (pl.col("price").fill_null(0) + pl.col("freight").fill_null(0)).sum().alias("items_value"),
        pl.when(pl.col("installments").count() > 0).then(pl.col("installments").sum()).alias("installments"),
        pl.col("n_payments").fill_null(0).sum().alias("n_payments"),
        pl.col("delivery").mean(), pl.col("lateness").mean(), pl.col("late").mean().alias("late_share"),
        pl.col("customer_state").filter(pl.col("customer_state").is_not_null())
        .sort_by(["purchased", "order_id"]).last().alias("customer_state"),
    )
    people = counted.select("order_id", "customer_unique_id")
    answer = (pl.col("review_answer_timestamp") - pl.col("review_creation_date")).dt.total_seconds().alias("answer")
    scores = (known.join(people, on="order_id").select("customer_unique_id", "review_id", "review_score", answer)
              .unique().group_by("customer_unique_id")
              .agg(pl.col("review_score").mean().alias("review_score_mean"), pl.col("answer").mean()))
    by_type = (payments.filter(pl.col("payment_type").is_not_null()).join(people, on="order_id")
               .group_by("customer_unique_id", "payment_type")
               .agg(pl.when(pl.col("payment_value").count() > 0).then(_cents("payment_value").sum()).alias("value")))
    categories = (products.filter(pl.col("product_category_name").is_not_null())
                  .join(names, on="product_category_name", how="left")
                  .select("product_id", pl.coalesce("product_category_name_english", "product_category_name")
                          .alias("category")))
    by_category = (items.join(people, on="order_id").join(categories, on="product_id")
                   .group_by("customer_unique_id", "category").agg(pl.len().alias("n")))
    mix = by_category.group_by("customer_unique_id").agg(pl.len().alias("n_categories"))
    frequency = pl.col("frequency").cast(pl.Int64)
    return (history.join(scores, on="customer_unique_id", how="left")
            .join(_main(by_type, "payment_type", "value"), on="customer_unique_id", how="left")
            .join(_main(by_category, "category", "n"), on="customer_unique_id", how="left")
            .join(mix, on="customer_unique_id", how="left")
            .select(
                "customer_unique_id",
                ((pl.lit(day) - pl.col("last")).dt.total_seconds() / DAY).alias("recency_days"),
                frequency.alias("frequency"),
                (pl.col("monetary") / 100).alias("monetary"),
                (pl.col("monetary") / 100 / frequency).alias("mean_basket"),
                (pl.col("n_items") / frequency).alias("mean_items"),
                pl.col("n_items").cast(pl.Int64).alias("total_items"),
                pl.col("review_score_mean").cast(pl.Float64),
                (pl.col("reviewed") / frequency).alias("review_share"),
                (pl.col("answer").cast(pl.Float64) / DAY).alias("answer_days"),
                (pl.col("delivery") / DAY).alias("delivery_days_mean"),
                (pl.col("lateness") / DAY).alias("lateness_days_mean"),
                pl.col("late_share").cast(pl.Float64),
                pl.coalesce(pl.col("installments") / pl.when(pl.col("n_payments") > 0).then(pl.col("n_payments")),
                            1.0).alias("installments_mean"),
                pl.col("payment_type").fill_null("unknown").alias("main_payment_type"),
                pl.coalesce(pl.col("freight") / pl.when(pl.col("items_value") != 0).then(pl.col("items_value")),
                            0.0).alias("freight_share"),
                pl.col("n_categories").fill_null(0).cast(pl.Int64),
                pl.col("category").fill_null("unknown").alias("main_category"),
                pl.col("customer_state").fill_null("unknown"),
                ((pl.lit(day) - pl.col("first")).dt.total_seconds() / DAY).alias("tenure_days"),
            ).sort("customer_unique_id").collect())


if __name__ == "__main__":
    data, as_of, out, *rest = sys.argv[1:]
    customer_features(data, as_of, tuple(rest[0].split(",")) if rest else ("delivered",)).write_parquet(out)
