"""The customer feature table of ``custseg features``, written independently in pandas, as a notebook does.

A peer for ``benchmarks/features.py`` (and a second opinion on the definition, tested equal to
custseg's in ``tests/test_peer_features.py``): the CSV files of an Olist export read with their
types (the columns the features read), merged and grouped with pandas. No data contract: values
are trusted, nothing is checked. The definition is the one of ``custseg.features.FEATURE_DOCS``:

* an order counts when purchased before the as-of date D with one of the counted statuses;
  deliveries count when delivered before D, reviews when answered (else created) before D;
* money is summed in integer cents (exact, as custseg sums DECIMALs);
* a review covering several orders of one person counts once in their mean score;
* ties (main payment type, main category) go to the alphabetically first name.

Run alone: ``python benchmarks/features_pandas.py DATA AS_OF OUT.parquet [STATUSES]``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DAY = 86400.0


def _read(root: Path, stem: str, text: list[str], dates: list[str] = (), numbers: dict[str, str] | None = None
          ) -> pd.DataFrame:
    """Columns ``text`` (as str), ``dates`` and ``numbers`` of ``root/stem.csv``."""
    numbers = numbers or {}
    frame = pd.read_csv(root / f"{stem}.csv", usecols=[*text, *dates, *numbers],
                        dtype={**dict.fromkeys(text, str), **numbers}, keep_default_na=False,
                        na_values={c: [""] for c in [*text, *dates, *numbers]})
    for column in dates:
        frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


def _cents(values: pd.Series) -> pd.Series:
    """Money as integer cents (nullable), so that sums are exact."""
    return (values * 100).round().astype("Int64")


def _first_by(frame: pd.DataFrame, key: str, value: str, name: str) -> pd.Series:
    """Per ``key``, the ``name`` with the largest ``value`` (ties: alphabetically first name)."""
    ranked = frame.sort_values([key, value, name], ascending=[True, False, True])
    return ranked.drop_duplicates(key).set_index(key)[name]


def customer_features(root: str | Path, as_of: str, statuses: tuple[str, ...] = ("delivered",)) -> pd.DataFrame:
    """One row per person with a counted order before ``as_of``, sorted by ``customer_unique_id``."""
    root, day = Path(root), pd.Timestamp(as_of)
    customers = _read(root, "olist_customers_dataset", ["customer_id", "customer_unique_id", "customer_state"])
    orders = _read(root, "olist_orders_dataset", ["order_id", "customer_id", "order_status"],
                   ["order_purchase_timestamp", "order_delivered_customer_date", "order_estimated_delivery_date"])
    items = _read(root, "olist_order_items_dataset", ["order_id", "product_id"],
                  numbers={"price": "float64", "freight_value": "float64"})
    payments = _read(root, "olist_order_payments_dataset", ["order_id", "payment_type"],
                     numbers={"payment_installments": "Int64", "payment_value": "float64"})
    reviews = _read(root, "olist_order_reviews_dataset", ["review_id", "order_id"],
                    ["review_creation_date", "review_answer_timestamp"], {"review_score": "Int64"})
    products = _read(root, "olist_products_dataset", ["product_id", "product_category_name"])
    names = _read(root, "product_category_name_translation",
                  ["product_category_name", "product_category_name_english"])

    counted = orders[(orders.order_purchase_timestamp < day) & orders.order_status.isin(statuses)]
    counted = counted.merge(customers, on="customer_id")
    delivered = counted.order_delivered_customer_date.where(counted.order_delivered_customer_date < day)
    counted = counted.assign(delivered=delivered)

    items = items.assign(price=_cents(items.price), freight=_cents(items.freight_value.fillna(0)))
    contents = items.groupby("order_id").agg(n_items=("order_id", "size"), price=("price", "sum"),
                                             freight=("freight", "sum"))
    contents["price"] = contents.price.where(items.groupby("order_id").price.count() > 0)
    payments = payments.assign(value=_cents(payments.payment_value),
                               installments=payments.payment_installments.clip(lower=1))
    paid = payments.groupby("order_id").agg(paid=("value", "sum"), installments=("installments", "sum"),
                                            n_payments=("installments", "count"))
    paid["paid"] = paid.paid.where(payments.groupby("order_id").value.count() > 0)
    paid["installments"] = paid.installments.where(paid.n_payments > 0)
    known = reviews[reviews.review_answer_timestamp.fillna(reviews.review_creation_date) < day]

    per_order = counted.set_index("order_id").join(contents).join(paid)
    per_order["reviewed"] = per_order.index.isin(known.order_id)
    value = per_order.paid.fillna(per_order.price + per_order.freight).fillna(0)
    seconds = (per_order.delivered - per_order.order_purchase_timestamp).dt.total_seconds()
    late_seconds = (per_order.delivered - per_order.order_estimated_delivery_date).dt.total_seconds()
    late = (per_order.delivered.dt.normalize() > per_order.order_estimated_delivery_date.dt.normalize())
    judged = per_order.delivered.notna() & per_order.order_estimated_delivery_date.notna()
    per_order = per_order.assign(
        value=value, n_items=per_order.n_items.fillna(0), freight=per_order.freight.fillna(0),
        items_value=per_order.price.fillna(0) + per_order.freight.fillna(0),
        delivery=seconds, lateness=late_seconds, late=late.astype(float).where(judged),
    )
    person = per_order.groupby("customer_unique_id")
    out = person.agg(first=("order_purchase_timestamp", "min"), last=("order_purchase_timestamp", "max"),
                     frequency=("customer_id", "size"), monetary=("value", "sum"), n_items=("n_items", "sum"),
                     reviewed=("reviewed", "sum"), freight=("freight", "sum"), items_value=("items_value", "sum"),
                     installments=("installments", "sum"), n_payments=("n_payments", "sum"),
                     delivery=("delivery", "mean"), lateness=("lateness", "mean"), late_share=("late", "mean"))
    states = per_order[per_order.customer_state.notna()].reset_index()
    states = states.sort_values(["customer_unique_id", "order_purchase_timestamp", "order_id"])
    state = states.drop_duplicates("customer_unique_id", keep="last").set_index("customer_unique_id").customer_state

    people = counted[["order_id", "customer_unique_id"]]
    scored = known.assign(answer=(known.review_answer_timestamp - known.review_creation_date).dt.total_seconds())
    scored = scored.merge(people, on="order_id")[["customer_unique_id", "review_id", "review_score", "answer"]]
    scored = scored.drop_duplicates().groupby("customer_unique_id")
    score, answer = scored.review_score.mean(), scored.answer.mean()

    typed = payments[payments.payment_type.notna()].merge(people, on="order_id")
    by_type = typed.groupby(["customer_unique_id", "payment_type"], as_index=False).value.sum(min_count=1)
    main_type = _first_by(by_type, "customer_unique_id", "value", "payment_type")

    categories = products[products.product_category_name.notna()].merge(names, how="left", on="product_category_name")
    categories["category"] = categories.product_category_name_english.fillna(categories.product_category_name)
    bought = items.merge(people, on="order_id").merge(categories[["product_id", "category"]], on="product_id")
    by_category = bought.groupby(["customer_unique_id", "category"], as_index=False).size()
    main_category = _first_by(by_category, "customer_unique_id", "size", "category")

    frequency = out.frequency.astype("int64")
    table = pd.DataFrame({
        "customer_unique_id": out.index.astype(str),
        "recency_days": (day - out["last"]).dt.total_seconds() / DAY,
        "frequency": frequency,
        "monetary": out.monetary.astype("float64") / 100,
        "mean_basket": out.monetary.astype("float64") / 100 / frequency,
        "mean_items": out.n_items.astype("float64") / frequency,
        "total_items": out.n_items.astype("int64"),
        "review_score_mean": score.reindex(out.index).astype("float64"),
        "review_share": out.reviewed.astype("float64") / frequency,
        "answer_days": answer.reindex(out.index).astype("float64") / DAY,
        "delivery_days_mean": out.delivery / DAY,
        "lateness_days_mean": out.lateness / DAY,
        "late_share": out.late_share.astype("float64"),
        "installments_mean": (out.installments.astype("float64") / out.n_payments.replace(0, np.nan)).fillna(1.0),
        "main_payment_type": main_type.reindex(out.index).fillna("unknown").astype(str),
        "freight_share": (out.freight.astype("float64") / out.items_value.astype("float64").replace(0, np.nan)
                          ).fillna(0.0),
        "n_categories": by_category.groupby("customer_unique_id").size().reindex(out.index).fillna(0).astype("int64"),
        "main_category": main_category.reindex(out.index).fillna("unknown").astype(str),
        "customer_state": state.reindex(out.index).fillna("unknown").astype(str),
        "tenure_days": (day - out["first"]).dt.total_seconds() / DAY,
    })
    return table.sort_index().reset_index(drop=True)


if __name__ == "__main__":
    data, as_of, out, *rest = sys.argv[1:]
    customer_features(data, as_of, tuple(rest[0].split(",")) if rest else ("delivered",)).to_parquet(out, index=False)
