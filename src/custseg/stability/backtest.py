"""The temporal backtest: a frozen reference model judged at every later date, as the monitor would.

A reference model is fitted at the reference date D0 by the engine (``custseg fit``) and then
*frozen*: its preprocessing and centroids are never refitted. At each later step t the customer
features are rebuilt as of t and :func:`custseg.stability.decision.assess` measures and judges the
frozen model exactly as ``custseg monitor`` does at t with the saved reference model: re-trains at t
(the deployed re-train and bootstrap refits), their agreement among themselves (the noise floor)
and with the frozen model, the staleness test, the share of customers who would change segment,
segment shares and feature drift against D0. Each step records that decision; the verdict and the
re-train interval follow from them (:mod:`custseg.stability.contract`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..drift import PSI_MAJOR, drift_drivers, numeric_features
from ..features import release_freed_memory
from ..errors import InputError
from ..ingest import Dataset, idle
from ..model import SegmentModel
from ..schema import DEFAULT_STATUSES
from ..segment import fit
from ..summary import NoBacktest
from .contract import maintenance_contract, recommendation
from .decision import (DEFAULT_CHANGED_SHARE, DEFAULT_RELIABLE_ARI, DEFAULT_SHARE_POINTS, Reference, Triggers,
                       assess, rule)
from .panel import COMPARED_CUSTOMERS, compared_customers, compared_panel, customers_total
from .periods import (Period, counted_purchase_span, customers_at, default_reference, default_until, features_at,
                      step_dates)
from .refits import (DEFAULT_REFITS, RETRAIN_STARTS, Procedure, agreement, fixed_decimals, frozen_labels,
                     peak_memory_mb, refits, reset_peak_memory)

#: Version of the JSON written by :func:`backtest` (bump on an incompatible change).
RESULT_FORMAT = "custseg.stability/2"

Progress = Callable[[str, int, int], None]
#: Fewest customers with a counted order before the reference date for the reference fit.
MIN_REFERENCE_CUSTOMERS = 20


@dataclass(frozen=True)
class BacktestSettings:
    """The backtest's protocol settings (every field ends in the result's ``protocol`` block)."""

    reference: date | None = None  # None: first month-end with 12 months of history
    step: Period = Period(1, "M")
    until: date | None = None  # None: the day after the last counted purchase
    window: Period | None = None  # None: whole history
    k: int | None = None  # None: chosen at the reference by the engine's search
    algorithm: str = "kmeans"
    features: tuple[str, ...] | None = None  # None: the engine's default features
    seeds: int = DEFAULT_REFITS  # re-trains per date: the deployed one and seeds - 1 bootstrap refits
    seed: int = 0
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    psi_max: float = PSI_MAJOR
    share_points: float = DEFAULT_SHARE_POINTS
    changed_share: float = DEFAULT_CHANGED_SHARE
    reliable_ari: float = DEFAULT_RELIABLE_ARI
    measure_cost: bool = True
    jobs: int = 2  # processes for the engine's fit at the reference date (its n_jobs)
    min_share: float = 0.02  # the engine's smallest admissible segment share at the reference fit
    n_init: int | None = None  # k-means starts of the reference fit (None: the engine's)
    starts: int = RETRAIN_STARTS  # starts of every re-train (at least; the model's n_init if larger)
    compared: int = COMPARED_CUSTOMERS  # most customers compared per date (see compared_customers)
    keep_labels: bool = True  # keep every step's per-customer labels (Backtest.labels)

    @property
    def triggers(self) -> Triggers:
        return Triggers(self.share_points, self.psi_max, self.changed_share, self.reliable_ari)

    def checked(self) -> BacktestSettings:
        if self.seeds < 2:
            raise InputError(f"`seeds`: {self.seeds} is too few; the noise floor needs at least 2 re-trains")
        if self.starts < 1:
            raise InputError(f"`starts`: {self.starts} must be at least 1")
        self.triggers.checked()
        return self


@dataclass
class Backtest:
    """A backtest's outcome: the JSON-ready ``result``, the frozen reference model, the labels.

    ``labels`` has one row per (as_of, customer): the frozen model's and the deployed re-train's
    segment (the latter matched to the frozen ids) and whether the customer was present at the
    reference date.
    """

    result: dict
    model: SegmentModel
    labels: pd.DataFrame = field(repr=False)


def reference_fit(ds: Dataset, day: date, settings: BacktestSettings) -> tuple[pd.DataFrame, SegmentModel, dict]:
    """Features at the reference date, the reference model fitted by the engine, and its measured cost.

    This fit is exactly what ``custseg fit`` does (search included when k is not given), so its
    time and peak memory are the cost of one production re-train on this data.
    """
    reset = reset_peak_memory()
    start = time.perf_counter()
    table = features_at(ds, day, settings.window, settings.statuses)
    if len(table) < MIN_REFERENCE_CUSTOMERS:
        raise InputError(f"only {len(table)} customers with a counted order before the reference date {day}: "
                         "choose a later `reference`")
    extra: dict[str, Any] = {"n_init": settings.n_init} if settings.n_init is not None else {}
    with idle(ds):  # the fit works in Python: DuckDB's tables wait on disk
        model = fit(table, day, k=settings.k if settings.k is not None else "auto", algorithm=settings.algorithm,
                    seed=settings.seed, features=list(settings.features) if settings.features else None,
                    statuses=settings.statuses, n_jobs=settings.jobs, min_share=settings.min_share,
                    **extra)
    model.assignment_ = None  # the backtest compares its own assignments: free everyone's at once
    cost = {
        "seconds": round(time.perf_counter() - start, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "peak_memory_scope": "this re-train" if reset else "process lifetime (this platform cannot reset the peak)",
        "customers": len(table),
        "what": "features as of the reference date + the engine's fit (search, metrics, descriptions)",
    }
    return table, model, cost


def reference_block(model: SegmentModel, table: pd.DataFrame, total: int, day: date, procedure: Procedure,
                    settings: BacktestSettings) -> dict:
    """The reference date: re-trains at D0 (is re-training reliable at this k?) and the frozen shares."""
    frozen = frozen_labels(model, table)
    labels = [r.labels(table) for r in refits(table, day, procedure, settings.seeds)]
    measured = agreement(frozen, labels, np.ones(len(table), dtype=bool))
    return {
        "as_of": day.isoformat(),
        "customers": len(table),
        "customers_total": total,
        "ari": measured["ari"],
        "floor": measured["floor"],
        "reliable": bool(measured["floor"]["mean"] >= settings.reliable_ari),
        "shares": Reference.of(model, table).shares,
        "segments": {str(i): name for i, name in zip(model.ids, model.names)},
    }


def backtest_dates(settings: BacktestSettings, first: date, last: date) -> tuple[date, date, list[date]]:
    """The reference date, the last date and the step dates of a backtest of data whose counted
    purchases run from ``first`` to ``last`` (the defaults follow from them)."""
    reference = settings.reference or default_reference(first)
    until = settings.until or default_until(last)
    return reference, until, step_dates(reference, settings.step, until)


def short_history(ds: Dataset, settings: BacktestSettings) -> NoBacktest | None:
    """Why :func:`backtest` cannot judge a model on ``ds`` with ``settings`` (no step after its
    reference date, or too few customers before it), or None when it can."""
    first, last = counted_purchase_span(ds, settings.statuses)
    reference, _, dates = backtest_dates(settings, first, last)
    customers = customers_at(ds, reference, settings.window, settings.statuses)
    if dates and customers >= MIN_REFERENCE_CUSTOMERS:
        return None
    return NoBacktest(first_purchase=first.isoformat(), last_purchase=last.isoformat(),
                      reference=reference.isoformat(), step=str(settings.step), customers=int(customers),
                      needed=MIN_REFERENCE_CUSTOMERS)


def backtest(ds: Dataset, settings: BacktestSettings = BacktestSettings(),
             progress: Progress | None = None) -> Backtest:
    """Run the temporal backtest on the ingested data ``ds`` (loaded once; features per step in SQL).

    InputError when the data cannot carry it (:func:`short_history` says why beforehand)."""
    settings = settings.checked()
    first, last = counted_purchase_span(ds, settings.statuses)
    reference, until, dates = backtest_dates(settings, first, last)
    if not dates:
        raise InputError(f"no step between the reference date {reference} and {until} "
                         f"(`step` {settings.step}): choose an earlier `reference` or a later `until`")
    total = len(dates) + 1
    tick = progress or (lambda *_: None)
    tick(f"reference {reference}: fit", 0, total)
    ref_all, model, cost = reference_fit(ds, reference, settings)
    # the model is fitted on everyone; the comparisons follow a fixed share of the customers
    share, ref_total = min(1.0, settings.compared / len(ref_all)), len(ref_all)
    ref_table = compared_customers(ref_all, share)
    del ref_all
    release_freed_memory()
    procedure = Procedure.of(model, settings.starts)
    with idle(ds):
        ref_block = reference_block(model, ref_table, ref_total, reference, procedure, settings)
    tick(f"reference {reference}: done", 1, total)
    ref = Reference(ref_table, ref_block["shares"])
    ref_ids = pd.Index(ref_table["customer_unique_id"])
    numeric = numeric_features(ref_table)
    steps, label_parts = [], []
    with compared_panel(ds, share, lambda text: tick(text, 1, total)) as source:
        for i, day in enumerate(dates, start=1):
            read = features_at(ds, day, settings.window, settings.statuses, source)
            # the selection itself on main; on the panel a safety net that keeps every row (the same people)
            table = compared_customers(read, share)
            everyone = customers_total(ds, read, day, settings.window, settings.statuses, source)
            with idle(ds):  # re-trains in Python: DuckDB's tables wait on disk until the next step
                step, labels = step_record(table, day, model, procedure, settings, ref, ref_ids, numeric)
            step["customers_total"] = everyone
            steps.append(step)
            if settings.keep_labels:
                label_parts.append(labels)
            tick(f"step {day}", i + 1, total)
    result = {
        "format": RESULT_FORMAT,
        "data": {"path": str(ds.root), "first_counted_purchase": first.isoformat(),
                 "last_counted_purchase": last.isoformat()},
        "protocol": protocol_block(settings, reference, until, dates, model, procedure, share),
        "reference": ref_block,
        "steps": steps,
    }
    result["recommendation"] = recommendation(result, model)
    result["contract"] = maintenance_contract(result, cost if settings.measure_cost else None)
    labels = pd.concat(label_parts, ignore_index=True) if label_parts else pd.DataFrame()
    return Backtest(result, model, labels)


def step_record(table: pd.DataFrame, day: date, model: SegmentModel, procedure: Procedure,
                settings: BacktestSettings, ref: Reference, ref_ids: pd.Index,
                numeric: list[str]) -> tuple[dict, pd.DataFrame]:
    """One step: the monitor's assessment at ``day`` (decision included), with cohort agreement and migration."""
    ids = table["customer_unique_id"]
    in_cohort = ids.isin(ref_ids).to_numpy()  # matched by customer_unique_id, never by row position
    found = assess(model, ref, table, day, procedure, settings.triggers, settings.seeds,
                   settings.window is None, numeric)
    cohort = agreement(found.frozen, found.refit_labels, in_cohort) if in_cohort.sum() > 1 else None
    step = {
        "as_of": day.isoformat(),
        "customers": {"all": int(len(table)), "cohort": int(in_cohort.sum()), "new": int((~in_cohort).sum()),
                      "cohort_gone": int(len(ref_ids) - in_cohort.sum())},
        "ari": {"all": found.agreement["ari"], "cohort": cohort["ari"] if cohort else None},
        "floor": {"all": found.agreement["floor"], "cohort": cohort["floor"] if cohort else None},
        "changed_share": {"median": found.decision.changed_share,
                          "per_retrain": [fixed_decimals(c) for c in found.changed_shares]},
        "shares": {"frozen": found.shares},
        "share_moves": found.share_moves,
        "migration": found.migration(),
        "drift": [{**row, "psi": fixed_decimals(row["psi"]), "ks": fixed_decimals(row["ks"])}
                  for row in found.drift.to_dict("records")],
        "drivers": drift_drivers(found.drift, model.feature_names),
        "decision": found.decision.to_dict(),
    }
    labels = pd.DataFrame({"as_of": day.isoformat(), "customer_unique_id": ids.to_numpy(),
                           "in_reference_cohort": in_cohort, "frozen": found.frozen, "retrained": found.retrained})
    return step, labels


def protocol_block(settings: BacktestSettings, reference: date, until: date, dates: list[date],
                   model: SegmentModel, procedure: Procedure, share: float) -> dict:
    """The protocol, stated in the result so that a reader knows exactly what was compared."""
    window = "all" if settings.window is None else str(settings.window)
    return {
        "reference_date": reference.isoformat(),
        "step": str(settings.step),
        "until": until.isoformat(),
        "dates": [d.isoformat() for d in dates],
        "window": window,
        "features_as_of": ("all counted orders purchased before t" if settings.window is None else
                           f"only counted orders purchased in [t - {window}, t)"),
        "statuses": list(settings.statuses),
        "k": model.k,
        "k_source": "given" if settings.k is not None else "chosen at the reference date by the engine's search",
        "algorithm": model.algorithm,
        "n_init": procedure.n_init,
        "model_features": model.feature_names,
        "seed": settings.seed,
        "seeds": settings.seeds,
        "frozen": ("the reference model fitted at the reference date by the engine (custseg fit), then frozen: "
                   "its preprocessing and centroids are applied unchanged at every step (nearest centroid)"),
        "retrained": (f"at each date, the same procedure (algorithm, k, features, fit sample) fitted on the "
                      f"features at that date, the best of {procedure.n_init} starts by the algorithm's objective "
                      f"(k-means inertia, mixture likelihood); {settings.seeds} re-trains per date: the deployed "
                      "one on all customers with the model's seed, and bootstrap refits (seed + 1, ...)"),
        "noise_floor": "ARI between every pair of re-trains at a date: the agreement to expect with no drift",
        "decision": rule(settings.triggers, settings.window is None),
        "triggers": settings.triggers.to_dict(),
        "customer_sets": {
            "all": "every customer present at t (new customers are labelled by both models)",
            "cohort": "customers present at the reference date and at t, matched by customer_unique_id",
        },
        "compared_customers": (
            "every customer" if share >= 1 else
            f"the customers whose id hashes into the first {share:.6f} of the hash range (about "
            f"{settings.compared:,} at the reference date; the same people at every date); customer "
            "counts are of these customers, customers_total of everyone; the reference model is fitted "
            "on every customer, but step features are computed for the panel only: the persons this rule "
            "selects among all customers (also those who first buy later), whose customers, orders, items, "
            "payments and reviews are copied once; customers_total at a step is counted in SQL on all data"),
        "metrics": "adjusted Rand index (ARI), scikit-learn; share of customers changing segment",
        "drift": ("per numeric feature and step: PSI on decile bins of the reference date's values "
                  "(missing values in their own bin) and the two-sample Kolmogorov-Smirnov statistic "
                  "against the reference; drivers = model features with PSI > 0.1, largest first"),
        "migration": ("customers by frozen segment (rows) and deployed re-train's segment (columns), matched to "
                      "the frozen ids by Hungarian matching of centroids (an unmatched segment gets a new id)"),
        "interval": ("from the reference date to the first step whose decision is retrain (what custseg monitor "
                     "with the reference model would have said at that date)"),
    }
