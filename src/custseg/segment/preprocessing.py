"""Preprocessing (transforms, fill values, scales) and the stratified fit sample."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ..errors import InputError
from ..model import FeatureTransform, Preprocessing, significant
from .settings import DEFAULT_FEATURES, IDENTITY_FEATURES, LOG1P_FEATURES

# ---------------------------------------------------------------------------------------------
# Preprocessing


def default_transform(name: str, values: np.ndarray) -> str:
    """``log1p`` for the known heavy-tailed features, and for unknown ones that look it."""
    if name in LOG1P_FEATURES:
        return "log1p"
    if name in IDENTITY_FEATURES:
        return "identity"
    known = pd.Series(values[~np.isnan(values)])
    heavy = len(known) > 2 and known.min() >= 0 and known.max() > known.min() and known.skew() > 1
    return "log1p" if heavy else "identity"


def default_features(table: pd.DataFrame) -> list[str]:
    """:data:`DEFAULT_FEATURES` that carry information in ``table`` (present, not all missing, not constant).

    When that leaves fewer than three (a transaction log has no reviews, deliveries or
    installments), ``recency_days`` is added: then the lifecycle clock is all there is to use.
    """
    def informative(name: str) -> bool:
        if name not in table.columns:
            return False
        values = pd.to_numeric(table[name], errors="coerce").dropna()
        return values.nunique() > 1

    names = [n for n in DEFAULT_FEATURES if informative(n)]
    if len(names) < 3 and informative("recency_days"):
        names.append("recency_days")
    if not names:
        raise InputError("no default feature varies across customers; choose some with `features`",
                         file="feature table")
    return names


def checked_feature_names(names: list[str], numeric_columns: list[str]) -> list[str]:
    """``names``, or InputError naming the first that is not a numeric feature column."""
    unknown = [n for n in names if n not in numeric_columns]
    if unknown:
        raise InputError(f"not a feature (numeric features: {', '.join(numeric_columns)})", file="`features`",
                         column=unknown[0])
    return names


def fit_preprocessing(table: pd.DataFrame, names: list[str]) -> Preprocessing:
    """Per feature: transform, median fill, mean and scale of the transformed values (rounded)."""
    if not names:
        raise InputError("features: no feature selected")
    if len(set(names)) != len(names):
        raise InputError(f"features: {','.join(names)} names a feature twice")
    checked_feature_names(names, [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])])
    probe = Preprocessing(tuple(FeatureTransform(n, "identity", 0.0, 0.0, 1.0) for n in names))
    raw = probe.raw_matrix(table)
    steps = []
    for j, name in enumerate(names):
        column = raw[:, j]
        if np.isnan(column).all():
            raise InputError("has no value for any customer", file="feature table", column=name)
        transform = default_transform(name, column)
        fill = significant(np.nanmedian(column))
        values = FeatureTransform(name, transform, fill, 0.0, 1.0).apply(column)
        scale = float(values.std())
        # a constant column carries no information; scale 1 keeps it at zero instead of dividing by 0
        steps.append(FeatureTransform(name, transform, fill, significant(values.mean()),
                                      significant(scale) if scale > 1e-12 else 1.0))
    return Preprocessing(tuple(steps))


# ---------------------------------------------------------------------------------------------
# Samples


def fit_sample(table: pd.DataFrame, as_of: date, size: int, seed: int) -> np.ndarray:
    """Row positions (sorted) of at most ``size`` customers, stratified by first-purchase month."""
    n = len(table)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng([seed, 1])
    if "tenure_days" in table.columns:
        first = pd.Timestamp(as_of) - pd.to_timedelta(table["tenure_days"].fillna(0).to_numpy(), unit="D")
        stratum = first.to_period("M").asi8  # month numbers: no text per customer for millions
    else:
        stratum = np.zeros(n, dtype=int)
    # every month keeps its share: take each stratum's first (share * count) rows in random order
    order = pd.Series(rng.random(n)).groupby(stratum).rank(method="first").to_numpy() - 1
    counts = pd.Series(stratum).map(pd.Series(stratum).value_counts()).to_numpy()
    return np.flatnonzero(order < np.floor(counts * size / n + 0.5))


def random_subset(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` (at most ``n``) row positions in ``0..n``, drawn without replacement, sorted."""
    return np.sort(rng.choice(n, size=min(n, size), replace=False))
