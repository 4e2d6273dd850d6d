"""Classic RFM: recency, frequency and monetary scores per customer, and the named RFM segments.

Each of R, F, M is a score from 1 to ``bins`` (5 by default) by quantile of the feature table's
``recency_days`` (inverted: the most recent customers score highest), ``frequency`` and
``monetary``. Customers with equal values always share a score. Where quantiles collapse (in Olist
about 97% of customers bought once, so frequency has no quintiles) the scoring says what it did
instead, in ``df.attrs["notes"]``: frequency falls back to fixed order-count thresholds, a
constant recency or monetary value scores everyone in the middle.

The named segments are a partition of the grid of R and FM = ceil((F + M) / 2) scores, so that
every customer lands in exactly one (see :data:`SEGMENT_RULES` and :func:`rules_markdown`).

This module is plain Python (the command line shows the rules without loading pandas); the scoring
itself is in :mod:`custseg.rfm_scores`, whose names this module also offers, loaded on first use.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .ingest import Dataset

GRID = 5
#: The lowest order count of each F score when frequency quantiles collapse: 1 | 2 | 3 | 4-5 | 6+ ...
FREQUENCY_FLOORS = (1, 2, 3, 4, 6, 10, 20, 50, 100)
MIN_BINS, MAX_BINS = 2, len(FREQUENCY_FLOORS)


@dataclass(frozen=True)
class RfmRule:
    """A named segment: an R-score range and an FM-score range (inclusive, on the 1-5 grid)."""

    name: str
    r: tuple[int, int]
    fm: tuple[int, int]
    meaning: str

    def matches(self, r: int, fm: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.fm[0] <= fm <= self.fm[1]


#: The named segments; together they cover every (R, FM) cell of the 5x5 grid exactly once.
SEGMENT_RULES: tuple[RfmRule, ...] = (
    RfmRule("Champions", (4, 5), (4, 5), "bought recently, buy often and spend the most"),
    RfmRule("Loyal", (3, 3), (4, 5), "buy often and spend well, a little less recently"),
    RfmRule("Potential loyalists", (4, 5), (2, 3), "recent, with average frequency and spend"),
    RfmRule("New customers", (5, 5), (1, 1), "bought very recently, little so far"),
    RfmRule("Promising", (4, 4), (1, 1), "bought recently, little so far"),
    RfmRule("Need attention", (3, 3), (2, 3), "average recency, frequency and spend"),
    RfmRule("About to sleep", (3, 3), (1, 1), "average recency, low frequency and spend"),
    RfmRule("At risk", (1, 2), (3, 4), "spent well or bought often, but long ago"),
    RfmRule("Can't lose them", (1, 2), (5, 5), "were among the best customers, but long ago"),
    RfmRule("Hibernating", (2, 2), (1, 2), "low spend and frequency, last purchase long ago"),
    RfmRule("Lost", (1, 1), (1, 2), "lowest recency, frequency and spend"),
)


def fm_score(f: int, m: int) -> int:
    """FM score: the mean of F and M, halves rounded up."""
    return (f + m + 1) // 2


def matching_segments(r: int, f: int, m: int) -> list[str]:
    """Names of every rule matching the grid scores (r, f, m); a partition gives exactly one."""
    fm = fm_score(f, m)
    return [rule.name for rule in SEGMENT_RULES if rule.matches(r, fm)]


def score_range(lo_hi: tuple[int, int]) -> str:
    """An inclusive score range as text: '3' or '4-5'."""
    return str(lo_hi[0]) if lo_hi[0] == lo_hi[1] else f"{lo_hi[0]}-{lo_hi[1]}"


def rules_markdown() -> str:
    """The rules as a Markdown table (the README's "RFM segments" table)."""
    lines = ["| segment | R | FM | meaning |", "|---|---|---|---|"]
    lines += [
        f"| {rule.name} | {score_range(rule.r)} | {score_range(rule.fm)} | {rule.meaning} |"
        for rule in SEGMENT_RULES
    ]
    return "\n".join(lines)


def rfm(
    data_or_features: pd.DataFrame | str | Path | Dataset,
    as_of: date | datetime | str | None = None,
    bins: int = 5,
) -> pd.DataFrame:
    """RFM scores and named segment per customer; what the scoring had to do is in ``attrs["notes"]``.

    ``data_or_features`` is a feature table (as from :func:`custseg.features.features`; ``as_of``
    is then not needed), or a data directory / Dataset from which it is built as of ``as_of``.
    Columns: customer_unique_id, recency_days, frequency, monetary, R, F, M, rfm_code ("545"),
    segment; one row per customer, sorted by customer_unique_id.
    """
    from .rfm_scores import score_customers

    return score_customers(data_or_features, as_of, bins)


#: Names of :mod:`custseg.rfm_scores` offered here (``from custseg.rfm import segment_summary``).
SCORING_NAMES = ("OUTPUT_COLUMNS", "REQUIRED", "checked_table", "frequency_scores", "on_grid", "quantile_scores",
                 "segment_grid", "segment_summary", "value_scores")


def __getattr__(name: str) -> Any:
    if name in SCORING_NAMES:
        return getattr(import_module(".rfm_scores", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
