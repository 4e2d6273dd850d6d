"""The answer first: what the segments are worth, what to do with each, and how long they hold.

:func:`summarize` gathers, from a model, its customers' assignment and feature table, and a
stability result, the few facts a marketer acts on: one line per segment (share of customers,
share of revenue, the first suggested action), the maintenance verdict with its date, and the
data's health. The report's summary and ``custseg run``'s closing lines render this one object,
so the two never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .model import SegmentModel


@dataclass(frozen=True)
class SegmentLine:
    """One segment as a campaign sees it."""

    id: int
    name: str
    customers: int
    share: float
    revenue: float | None
    revenue_share: float | None
    action: str


@dataclass(frozen=True)
class Verdict:
    """The maintenance verdict of a stability result, for the model it speaks of.

    ``verdict`` is ``stable``, ``retrain`` or ``unstable``; ``retrain_by`` the date by which to
    re-train (None when none is due within the horizon tested); ``reasons`` the triggers that
    fired at the first flagged step (``stale``, ``share_shift``, ``psi``), ``first_flagged`` its
    date and ``interval`` the re-train interval (``6M``); ``tested_days`` the span the backtest
    covered and, for a stable verdict, ``valid_until`` the model's date plus that span;
    ``horizon`` the last date tested.
    """

    verdict: str
    retrain_by: str | None
    horizon: str | None
    reasons: list[str] = field(default_factory=list)
    first_flagged: str | None = None
    interval: str | None = None
    tested_days: int | None = None
    valid_until: str | None = None


@dataclass(frozen=True)
class NoBacktest:
    """Why no backtest judged the segments: the data hold too little history for one.

    The counted purchases run from ``first_purchase`` to ``last_purchase``; a backtest takes its
    reference date ``reference`` (12 months after the first purchase) and needs at least one
    ``step`` (``1M``) after it, and ``needed`` customers with a counted order before it
    (``customers`` had one).
    """

    first_purchase: str
    last_purchase: str
    reference: str
    step: str
    customers: int
    needed: int


@dataclass(frozen=True)
class Summary:
    """What :func:`summarize` returns; ``no_backtest`` says why a run has no verdict."""

    as_of: str
    customers: int
    segments: list[SegmentLine]
    verdict: Verdict | None
    warnings: int
    no_backtest: NoBacktest | None = None


def verdict_of(stability: dict, as_of: str) -> Verdict:
    """The verdict of the stability result ``stability`` for a model as of ``as_of``.

    The date comes from the result when it gives one (``retrain_by`` of the contract or of the
    recommendation); otherwise it is the model's date plus the recommended interval.
    """
    rec = stability["recommendation"]
    contract = stability.get("contract") or {}
    retrain_by = contract.get("retrain_by") or rec.get("retrain_by")
    days = rec.get("retrain_every_days")
    if retrain_by is None and days:
        retrain_by = (date.fromisoformat(as_of) + timedelta(days=int(days))).isoformat()
    first = rec.get("first") or {}
    reasons = [r["trigger"] if isinstance(r, dict) else r for r in first.get("reasons", [])]
    reference = (stability.get("protocol") or {}).get("reference_date")
    tested = (date.fromisoformat(rec["horizon"]) - date.fromisoformat(reference)).days \
        if reference and rec.get("horizon") else None
    valid_until = (date.fromisoformat(as_of) + timedelta(days=tested)).isoformat() \
        if tested and rec["verdict"] == "stable" else None
    return Verdict(verdict=str(rec["verdict"]), retrain_by=retrain_by, horizon=rec.get("horizon"),
                   reasons=[str(r) for r in reasons], first_flagged=first.get("as_of"),
                   interval=rec.get("retrain_every"), tested_days=tested, valid_until=valid_until)


def revenue_by_segment(segment_ids: np.ndarray, monetary: np.ndarray | None, ids: list[int]) -> dict[int, float] | None:
    """Revenue (sum of every customer's spend) per segment id; None without spend figures."""
    if monetary is None:
        return None
    spend = pd.Series(np.nan_to_num(np.asarray(monetary, dtype="float64")), copy=False)
    sums = spend.groupby(np.asarray(segment_ids)).sum()
    return {i: float(sums.get(i, 0.0)) for i in ids}


def summarize(
    model: SegmentModel,
    as_of: str,
    segment_ids: np.ndarray | None = None,
    monetary: np.ndarray | None = None,
    stability: dict | None = None,
    warnings: int = 0,
    no_backtest: NoBacktest | None = None,
) -> Summary:
    """The summary of a segmentation placed as of ``as_of``.

    ``segment_ids`` is each customer's segment as of that date (default: the model's training
    shares), ``monetary`` each customer's total spend in the same order.
    """
    if segment_ids is None:
        counts = {s["id"]: int(s["size"]) for s in model.segments}
        revenue = None
    else:
        found = pd.Series(np.asarray(segment_ids)).value_counts()
        counts = {i: int(found.get(i, 0)) for i in model.ids}
        revenue = revenue_by_segment(segment_ids, monetary, model.ids)
    total = max(sum(counts.values()), 1)
    total_revenue = sum(revenue.values()) if revenue else 0.0
    lines = [
        SegmentLine(
            id=int(s["id"]), name=s["name"], customers=counts[s["id"]], share=counts[s["id"]] / total,
            revenue=revenue[s["id"]] if revenue else None,
            revenue_share=revenue[s["id"]] / total_revenue if revenue and total_revenue > 0 else None,
            action=(s.get("actions") or ["–"])[0],
        )
        for s in model.segments
    ]
    verdict = verdict_of(stability, model.as_of) if stability is not None else None
    return Summary(as_of=as_of, customers=sum(counts.values()), segments=lines, verdict=verdict, warnings=warnings,
                   no_backtest=no_backtest)


def segments_by_rfm(model: SegmentModel, segment_ids: np.ndarray, rfm_segments: np.ndarray) -> pd.DataFrame:
    """Customers per segment (rows, the model's order) and RFM segment (columns, the rules' order).

    Columns: ``segment_id``, ``segment_name``, one per RFM segment, ``total``; the same customers
    in the same row order in ``segment_ids`` and ``rfm_segments``.
    """
    from .rfm import SEGMENT_RULES

    table = pd.crosstab(pd.Series(np.asarray(segment_ids), name="segment_id"),
                        pd.Series(np.asarray(rfm_segments, dtype=object), name="rfm"))
    columns = [r.name for r in SEGMENT_RULES]
    table = table.reindex(index=model.ids, columns=columns, fill_value=0).astype("int64")
    table.columns = [str(c) for c in table.columns]
    out = table.reset_index()
    out.insert(1, "segment_name", model.names)
    out["total"] = table.sum(axis=1).to_numpy()
    return out
