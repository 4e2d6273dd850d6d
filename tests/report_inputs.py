"""Inputs shared by the report tests: a quickly fitted model, and data holding hostile strings."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from custseg.export import write_json
from custseg.ingest import load
from custseg.schema import TABLES
from custseg.segment import fit
from custseg.stability import BacktestSettings, Period, backtest

#: Strings that would run as script if the report put them into the page unescaped.
XSS_CATEGORY = "<script>alert(1)</script>"
XSS_CITY = "<img src=x onerror=alert(1)>"
#: Markup that Plotly itself would draw (bold, an entity) unless chart labels are escaped.
MARKUP_CATEGORY = "<b>bold</b> &amp; co"

#: A search small enough for tests: the report needs a model, not the best one.
FAST_SEARCH = {"k_max": 6, "bootstrap": 3, "subsample": 1000, "silhouette_size": 1000, "n_init": 2}


def small_model(data_dir: Path, out_path: Path, as_of: str) -> Path:
    """Fit a model on ``data_dir`` as of ``as_of`` with a small search, save it to ``out_path``."""
    return fit(data_dir, as_of, **FAST_SEARCH).save(out_path)


def small_stability(data_dir: Path, out_path: Path) -> Path:
    """Backtest ``data_dir`` cheaply (k given, quarterly steps, two refits) and save the result."""
    # k=5: the synthetic personas (the smallest is ~2%); a wrong k makes re-trains disagree by chance
    settings = BacktestSettings(step=Period(3, "M"), k=5, min_share=0.01, seeds=2, measure_cost=False)
    return write_json(backtest(load(data_dir), settings).result, out_path)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def hostile_copy(src: Path, dst: Path) -> Path:
    """A copy of the Olist CSVs in ``src`` where the top categories and the top city are hostile strings.

    The two categories with the most item revenue and the city with the most customers are
    renamed, so they surely appear in the report (top categories chart, top cities table).
    """
    dst.mkdir(parents=True, exist_ok=True)
    for spec in TABLES.values():
        shutil.copy(src / spec.csv_name, dst / spec.csv_name)
    products_csv, customers_csv = dst / TABLES["products"].csv_name, dst / TABLES["customers"].csv_name
    products, customers = _read(products_csv), _read(customers_csv)
    items = _read(dst / TABLES["order_items"].csv_name)
    revenue = items.assign(price=items["price"].astype(float)).merge(products, on="product_id")
    revenue = revenue[revenue["product_category_name"] != ""]
    ranked = revenue.groupby("product_category_name")["price"].sum().sort_values(ascending=False).index
    renamed = {ranked[0]: XSS_CATEGORY, ranked[1]: MARKUP_CATEGORY}
    products["product_category_name"] = products["product_category_name"].replace(renamed)
    top_city = customers["customer_city"].value_counts().idxmax()
    customers.loc[customers["customer_city"] == top_city, "customer_city"] = XSS_CITY
    products.to_csv(products_csv, index=False)
    customers.to_csv(customers_csv, index=False)
    return dst
