"""Drift statistics: how far a feature table at a later date has moved from a reference one.

Per numeric feature, the population stability index (PSI, on quantile bins taken from the
reference) and the two-sample Kolmogorov-Smirnov statistic; per labelling, segment shares and the
migration matrix between two labellings of the same customers. Both the backtest
(:mod:`custseg.stability`) and the scheduled check (:mod:`custseg.monitor`) use them.

PSI reading (the usual credit-scoring convention): below 0.1 no shift, 0.1-0.2 moderate,
above 0.2 a major shift.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

#: PSI above this is a major shift: a trigger for an early re-train when the feature is in the model.
PSI_MAJOR = 0.2
#: PSI above this is a moderate shift: worth naming as a driver, not alone a reason to re-train.
PSI_MODERATE = 0.1
#: Empty bins get this share, so that the log in the PSI stays finite.
_EPSILON = 1e-4


@dataclass(frozen=True)
class ReferenceBins:
    """Quantile bin edges of one feature at the reference date and the reference's share per bin.

    ``edges`` are the inner cut points, each the upper bound of its bin (bin i holds the values in
    ``(edges[i-1], edges[i]]``, so that a value repeated across deciles, such as a frequency of 1,
    fills one bin instead of vanishing between cut points);
    ``shares`` has ``len(edges) + 2`` entries: one per bin and a last one for missing values, so
    that a change in how often a feature is missing (no review yet, no delivery yet) counts as drift.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"edges": list(self.edges), "shares": list(self.shares)}

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceBins:
        return cls(tuple(float(x) for x in data["edges"]), tuple(float(x) for x in data["shares"]))


def reference_bins(values: np.ndarray | pd.Series, bins: int = 10) -> ReferenceBins:
    """Quantile bins (deciles by default) of the reference ``values``, and the share in each."""
    x = np.asarray(values, dtype=float)
    present = x[~np.isnan(x)]
    if present.size:
        # Discrete features (frequency, n_categories) repeat quantiles: keep each cut point once.
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    else:
        edges = np.array([], dtype=float)
    return ReferenceBins(tuple(float(e) for e in edges), tuple(bin_shares(edges, x)))


def bin_shares(edges: np.ndarray | tuple[float, ...], values: np.ndarray | pd.Series) -> list[float]:
    """Share of ``values`` in each bin cut by ``edges``, then the share of missing values."""
    x = np.asarray(values, dtype=float)
    missing = np.isnan(x)
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=float), x[~missing], side="left"),
                         minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return list(counts / max(len(x), 1))


def psi_against(ref: ReferenceBins, values: np.ndarray | pd.Series) -> float:
    """Population stability index of ``values`` against the reference bins (0 = same distribution)."""
    expected = np.clip(np.asarray(ref.shares), _EPSILON, None)
    actual = np.clip(np.asarray(bin_shares(ref.edges, values)), _EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference``, on quantile bins of the reference."""
    return psi_against(reference_bins(reference, bins), current)


def ks_statistic(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series) -> float:
    """Two-sample Kolmogorov-Smirnov statistic between the non-missing values (0 when one side is empty)."""
    a = np.asarray(reference, dtype=float)
    b = np.asarray(current, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not a.size or not b.size:
        return 0.0
    # the statistic does not depend on the method; the asymptotic one skips a slow exact p-value
    return float(ks_2samp(a, b, method="asymp").statistic)


def numeric_features(table: pd.DataFrame) -> list[str]:
    """The numeric feature columns of a feature table, in table order."""
    return [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]


def feature_drift(
    reference: pd.DataFrame | dict[str, ReferenceBins],
    current: pd.DataFrame,
    features: list[str],
    reference_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """PSI and KS statistic per feature of ``current`` against the reference, largest PSI first.

    ``reference`` is either the reference feature table or stored :class:`ReferenceBins` per
    feature (a model file's); KS needs the reference values, so it is NaN when only bins are known
    and ``reference_values`` is not given. Columns: feature, psi, ks, level ('none', 'moderate',
    'major').
    """
    if isinstance(reference, pd.DataFrame):
        reference_values = reference
        bins = {f: reference_bins(reference[f]) for f in features}
    else:
        bins = reference
    rows = []
    for f in features:
        ks = ks_statistic(reference_values[f], current[f]) if reference_values is not None else float("nan")
        value = psi_against(bins[f], current[f])
        rows.append({"feature": f, "psi": value, "ks": ks, "level": psi_level(value)})
    out = pd.DataFrame(rows, columns=["feature", "psi", "ks", "level"])
    return out.sort_values(["psi", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)


def psi_level(value: float) -> str:
    """'major' above 0.2, 'moderate' above 0.1, else 'none'."""
    if value > PSI_MAJOR:
        return "major"
    if value > PSI_MODERATE:
        return "moderate"
    return "none"


def drift_drivers(drift: pd.DataFrame, model_features: list[str]) -> list[str]:
    """Model features with at least a moderate shift, the largest PSI first: what drives a change."""
    shifted = drift[(drift["psi"] > PSI_MODERATE) & drift["feature"].isin(model_features)]
    return list(shifted["feature"])


def segment_shares(labels: np.ndarray | pd.Series, ids: list[int]) -> dict[str, float]:
    """Share of customers in each segment id (keys are the ids as text, for JSON)."""
    counts = pd.Series(np.asarray(labels)).value_counts()
    total = max(len(labels), 1)
    return {str(i): float(counts.get(i, 0) / total) for i in ids}


def migration_matrix(from_labels: np.ndarray, to_labels: np.ndarray) -> dict:
    """Customers by segment under ``from_labels`` (rows) and under ``to_labels`` (columns).

    Ids need not be 0..k-1 (a re-trained model's unmatched segment gets a fresh id); the result
    lists the row and column ids, the counts, and the share of customers keeping their id.
    """
    rows = sorted(set(np.asarray(from_labels).tolist()))
    cols = sorted(set(np.asarray(to_labels).tolist()))
    counts = pd.crosstab(pd.Categorical(from_labels, categories=rows), pd.Categorical(to_labels, categories=cols),
                         dropna=False).to_numpy(dtype=int)
    same = float(np.mean(np.asarray(from_labels) == np.asarray(to_labels))) if len(from_labels) else None
    return {"from_ids": rows, "to_ids": cols, "counts": counts.tolist(), "same_id_share": same}
