"""RFM scoring (pandas): recency, frequency and monetary scores per customer and their named segment.

:func:`custseg.rfm.rfm` is the entry point; the rules it names segments by are in :mod:`custseg.rfm`.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .features import features as feature_table
from .ingest import Dataset
from .rfm import FREQUENCY_FLOORS, GRID, MAX_BINS, MIN_BINS, SEGMENT_RULES, score_range

REQUIRED = ("customer_unique_id", "recency_days", "frequency", "monetary")
OUTPUT_COLUMNS = [
    "customer_unique_id", "recency_days", "frequency", "monetary", "R", "F", "M", "rfm_code", "segment",
]


def segment_grid() -> np.ndarray:
    """A (6, 6) array of segment names indexed [R, FM] (row and column 0 unused)."""
    grid = np.full((GRID + 1, GRID + 1), "", dtype=object)
    for r in range(1, GRID + 1):
        for fm in range(1, GRID + 1):
            names = [rule.name for rule in SEGMENT_RULES if rule.matches(r, fm)]
            if len(names) != 1:
                raise AssertionError(f"RFM rules are not a partition at R={r}, FM={fm}: {names}")
            grid[r, fm] = names[0]
    return grid


# ---------------------------------------------------------------------------------------------
# Scores


def quantile_scores(values: pd.Series, bins: int) -> pd.Series:
    """Scores 1..bins by quantile, higher value -> higher score; equal values share a score.

    A customer's score is set by how many customers have a strictly lower value, so a block of
    ties never straddles two scores (unlike NTILE, which splits ties arbitrarily).
    """
    below = values.rank(method="min").astype("int64") - 1
    return (1 + below * bins // len(values)).astype("int64")


def _fixed_frequency_scores(frequency: pd.Series, bins: int) -> pd.Series:
    floors = np.asarray(FREQUENCY_FLOORS[:bins])
    return pd.Series(np.searchsorted(floors, frequency.to_numpy(), side="right"), index=frequency.index, dtype="int64")


def _floor_labels(bins: int) -> str:
    floors = FREQUENCY_FLOORS[:bins]
    spans = [
        str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}"
        for lo, hi in zip(floors, floors[1:])
    ]
    return " | ".join(spans + [f"{floors[-1]}+"])


def _empty_scores(scores: pd.Series, bins: int) -> list[int]:
    return sorted(set(range(1, bins + 1)) - set(scores.unique().tolist()))


def frequency_scores(frequency: pd.Series, bins: int) -> tuple[pd.Series, list[str]]:
    """F scores by quantile, or by fixed order counts when quantiles leave scores empty."""
    scores = quantile_scores(frequency, bins)
    empty = _empty_scores(scores, bins)
    if not empty:
        return scores, []
    once = (frequency == frequency.min()).mean()
    note = (
        f"F: frequency quantiles collapse ({once:.1%} of customers have frequency {frequency.min()}; "
        f"quantile scores would leave F = {', '.join(map(str, empty))} empty); "
        f"F scored by fixed order counts {_floor_labels(bins)} instead"
    )
    return _fixed_frequency_scores(frequency, bins), [note]


def value_scores(
    values: pd.Series, bins: int, letter: str, label: str, *, invert: bool = False
) -> tuple[pd.Series, list[str]]:
    """R or M scores by quantile (ties share a score), with a note when ties leave scores empty.

    ``invert`` gives the highest score to the lowest value (recency: fewest days = most recent).
    """
    if values.nunique() == 1:
        middle = (bins + 1) // 2
        note = f"{letter}: every customer has the same {label} ({values.iloc[0]:g}); all scored {middle}"
        return pd.Series(middle, index=values.index, dtype="int64"), [note]
    scores = quantile_scores(-values if invert else values, bins)
    empty = _empty_scores(scores, bins)
    if not empty:
        return scores, []
    note = (
        f"{letter}: ties in {label} leave score(s) {', '.join(map(str, empty))} empty "
        "(equal values share a score)"
    )
    return scores, [note]


def on_grid(scores: pd.Series, bins: int) -> pd.Series:
    """Scores of 1..bins placed on the 1-5 grid the segment rules are written for."""
    if bins == GRID:
        return scores
    return scores.map(lambda s: math.ceil(GRID * (s - 0.5) / bins)).astype("int64")


# ---------------------------------------------------------------------------------------------
# The analysis


def checked_table(table: pd.DataFrame) -> pd.DataFrame:
    """The RFM input columns of a feature table, validated: present, complete, frequency >= 1."""
    for column in REQUIRED:
        if column not in table.columns:
            raise InputError("missing", file="feature table", column=column)
    if table.empty:
        raise InputError("no customers with a counted order before the as-of date", file="feature table")
    out = table[list(REQUIRED)].copy()
    for column in REQUIRED[1:]:
        out[column] = pd.to_numeric(out[column], errors="coerce")
        missing = int(out[column].isna().sum())
        if missing:
            raise InputError(f"{missing:,} missing or non-numeric value(s)", file="feature table", column=column)
    if (out["frequency"] < 1).any():
        raise InputError("frequency below 1 (every customer has at least one order)", file="feature table",
                         column="frequency")
    if out["customer_unique_id"].is_monotonic_increasing:  # a feature table is sorted already
        return out.reset_index(drop=True)
    return out.sort_values("customer_unique_id", kind="stable").reset_index(drop=True)


def score_customers(
    data_or_features: pd.DataFrame | str | Path | Dataset,
    as_of: date | datetime | str | None = None,
    bins: int = 5,
) -> pd.DataFrame:
    """The table :func:`custseg.rfm.rfm` returns."""
    if not MIN_BINS <= bins <= MAX_BINS:
        raise InputError(f"bins must be between {MIN_BINS} and {MAX_BINS}, got {bins}")
    if isinstance(data_or_features, pd.DataFrame):
        table = data_or_features
    elif as_of is None:
        raise InputError("an as-of date is needed to build features from data")
    else:
        table = feature_table(data_or_features, as_of)
    out = checked_table(table)

    notes = [
        f"R, F, M scored 1-{bins} by quantile; equal values share a score; R inverted (most recent = {bins})"
    ]
    r, r_notes = value_scores(out["recency_days"], bins, "R", "recency_days", invert=True)
    f, f_notes = frequency_scores(out["frequency"], bins)
    m, m_notes = value_scores(out["monetary"], bins, "M", "monetary")
    notes += r_notes + f_notes + m_notes
    if bins != GRID:
        notes.append(f"segments: scores of 1-{bins} placed on the 1-5 grid as ceil(5 * (score - 0.5) / {bins})")

    out["R"], out["F"], out["M"] = r, f, m
    # text columns looked up from their few distinct values (bins <= 9: one digit per score), not
    # built string by string: millions of customers share 125 codes and 11 names
    codes = np.array([f"{i:03d}" for i in range(1000)], dtype=object)
    out["rfm_code"] = pd.Series(codes[(r * 100 + f * 10 + m).to_numpy()], index=out.index, dtype="str")
    grid = segment_grid()
    fm = (on_grid(f, bins) + on_grid(m, bins) + 1) // 2
    out["segment"] = pd.Series(grid[on_grid(r, bins).to_numpy(), fm.to_numpy()], index=out.index, dtype="str")
    out = out[OUTPUT_COLUMNS]
    out.attrs["notes"] = notes
    return out


def segment_summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Customers and share per named segment, in rule order (empty segments included)."""
    counts = scored["segment"].value_counts()
    rows = [
        {
            "segment": rule.name,
            "R": score_range(rule.r),
            "FM": score_range(rule.fm),
            "customers": int(counts.get(rule.name, 0)),
            "share": float(counts.get(rule.name, 0)) / len(scored) if len(scored) else 0.0,
        }
        for rule in SEGMENT_RULES
    ]
    return pd.DataFrame(rows, columns=["segment", "R", "FM", "customers", "share"])
