"""The feature table: its columns, and reading one that ``custseg features`` wrote (either engine)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:  # pandas is imported where a DataFrame is made: `custseg features` never needs it
    import pandas as pd

#: One line per feature column, in the order of the table (used by the command line's help and the README).
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


def typed_features(df: pd.DataFrame, dtypes: dict[str, str] = FEATURE_DTYPES) -> pd.DataFrame:
    """``df`` with exactly the feature columns (``dtypes``' keys), in order, with the contract's dtypes."""
    return df[list(dtypes)].astype(dtypes).reset_index(drop=True)


def release_arrow_memory(value):
    """``value``, after Arrow's memory pool has handed its freed memory back to the system.

    The pool keeps what a conversion freed for later use: for millions of customers that is
    hundreds of MB more peak memory in every step that follows (0.8 GB at 9M customers).
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    return value


def release_freed_memory() -> None:
    """Collect Python's garbage and hand freed pages back to the system: Arrow's pool, and the C
    heap's (glibc's ``malloc_trim``; elsewhere nothing).

    pandas frames of millions of customers are freed into malloc's arenas, which keep the pages:
    without this, a step that frees a large table still holds its memory while the next step (a
    DuckDB query, a fit) allocates its own, and the process's peak is the sum of both.
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    release_arrow_memory(None)  # Arrow's own pool (jemalloc or mimalloc) keeps freed pages too
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        trim = None
    if trim is not None:
        trim(0)


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

    from ..export import reading

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
        return release_arrow_memory(typed_features(table, wanted))
    except (ValueError, TypeError, pa.ArrowException) as exc:
        column = next((c for c in wanted if c in str(exc)), None)
        raise InputError(f"a value does not have the feature table's type ({type(exc).__name__})",
                         file=path, column=column) from None


#: Features whose medians summarise a feature table at a glance.
SUMMARY_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary", "review_score_mean", "delivery_days_mean")


def feature_medians(df: pd.DataFrame) -> dict[str, float]:
    """Median of each summary feature (NaN ignored), for a quick look at a feature table."""
    return {name: float(df[name].median()) for name in SUMMARY_FEATURES}
