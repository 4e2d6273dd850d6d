"""The maintenance decision at one date: is the frozen model stale, and should it be re-trained?

One function, :func:`assess`, measures a frozen model at a date against re-trains on the data of
that date and judges it (:func:`decide`); ``custseg monitor`` calls it for one date, the backtest
at every step, ``custseg update`` before re-training. Two questions get two answers:

* **Reliable?** Re-trains at the same date agree with each other: the mean ARI among them (the
  *noise floor*) is at least ``reliable_ari``. When they do not, no statement about staleness can
  be made at that date (*inconclusive*); that is never evidence against drift.
* **Stale?** The frozen model agrees with the re-trains measurably less than they agree with each
  other. The statistic is the gap ``mean floor ARI - mean frozen-vs-re-train ARI``; its 90% interval
  comes from a bootstrap that resamples both the customers (Poisson weights) and the re-trains
  (with replacement), so neither a single customer group nor a single re-train decides. Stale when
  the interval's lower end is above 0 (a one-sided test at 5%).
* **Material?** The share of customers who would change segment if re-trained now: each re-train's
  segments are matched to the frozen ids (Hungarian matching of centroids, as a fit with a ``previous`` model) and
  the median over re-trains of the share whose id differs is compared with ``changed_share``.

A date calls for a re-train when the model is stale *and* the change is material, when a segment's
share moved more than ``share_points`` from the reference, or when a model feature's PSI exceeds
``psi_max``. Recency and tenure under a whole-history window grow with the calendar for every
customer, so their PSI measures the passing of time, not a change of behaviour: it is reported
but does not trigger (under a sliding window both are bounded and do trigger).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import sparse

from ..drift import PSI_MAJOR, feature_drift, migration_matrix, segment_shares
from ..errors import InputError
from ..model import SegmentModel
from .refits import Procedure, aligned_ids, agreement, fixed_decimals, frozen_labels, refits

#: Default: a segment's share moving more than this many percentage points calls for a re-train.
DEFAULT_SHARE_POINTS = 5.0
#: Default: a stale model is re-trained when at least this share of customers would change segment.
DEFAULT_CHANGED_SHARE = 0.05
#: Default: re-training is reliable when re-trains at a date agree at least this well (mean ARI).
DEFAULT_RELIABLE_ARI = 0.8
#: Bootstrap replicates of the staleness test, and the most customers it resamples (a fixed
#: random subset beyond that: the interval then is wider, never narrower, than on everyone).
REPLICATES = 200
TEST_CUSTOMERS = 20_000
#: One-sided level of the staleness test: stale when the gap's 5th percentile is above 0.
TEST_QUANTILE = 5.0
#: Features that grow with the calendar for every customer under a whole-history window.
CALENDAR_FEATURES = ("recency_days", "tenure_days")


@dataclass(frozen=True)
class Triggers:
    """The limits of the decision (the maintenance contract's triggers)."""

    share_points: float = DEFAULT_SHARE_POINTS
    psi_max: float = PSI_MAJOR
    changed_share: float = DEFAULT_CHANGED_SHARE
    reliable_ari: float = DEFAULT_RELIABLE_ARI

    def checked(self) -> Triggers:
        if self.psi_max <= 0 or self.share_points <= 0:
            raise InputError("`psi_max` and `share_points` must be positive")
        if not 0 < self.changed_share < 1 or not 0 < self.reliable_ari <= 1:
            raise InputError("`changed_share` must be in (0, 1) and `reliable_ari` in (0, 1]")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def rule(triggers: Triggers, whole_history: bool) -> dict:
    """The decision rule, stated with its limits (written into every result and record)."""
    return {
        "reliable": f"mean ARI among the re-trains at the date >= {triggers.reliable_ari}",
        "stale": (f"bootstrap ({REPLICATES} replicates over customers, at most {TEST_CUSTOMERS:,}, and over "
                  f"re-trains) of gap = mean ARI among re-trains - mean ARI frozen vs re-trains; stale when "
                  f"its {TEST_QUANTILE:g}th percentile > 0 (one-sided, 5%)"),
        "material": (f"median over re-trains of the share of customers whose segment differs from the frozen "
                     f"model's (re-trained segments matched to frozen ids by Hungarian matching) >= "
                     f"{triggers.changed_share}"),
        "retrain": (f"(reliable and stale and material) or a segment's share moved > {triggers.share_points:g} "
                    f"points from the reference or PSI > {triggers.psi_max} on a model feature"
                    + (" other than recency_days and tenure_days (they grow with the calendar under a "
                       "whole-history window)" if whole_history else "")),
        "inconclusive": "not reliable and no other trigger: re-trains disagree, the date says nothing about drift",
    }


# ---------------------------------------------------------------------------------------------
# The staleness test


def _contingency_ari(counts: np.ndarray) -> np.ndarray:
    """ARI of each contingency table in ``counts`` (replicates x rows x columns; weighted counts)."""
    def pairs(x):
        return x * (x - 1) / 2

    index = pairs(counts).sum(axis=(1, 2))
    a = pairs(counts.sum(axis=2)).sum(axis=1)
    b = pairs(counts.sum(axis=1)).sum(axis=1)
    n = pairs(counts.sum(axis=(1, 2)))
    expected = np.divide(a * b, n, out=np.zeros_like(a), where=n > 0)
    top = (a + b) / 2 - expected
    return np.divide(index - expected, top, out=np.ones_like(top), where=top > 0)


def _weighted_aris(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ARI of labellings ``x`` and ``y`` under each row of customer ``weights``."""
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    kx, ky = xi.max() + 1, yi.max() + 1
    onehot = sparse.csr_matrix((np.ones(len(x)), (np.arange(len(x)), xi * ky + yi)), shape=(len(x), kx * ky))
    counts = np.asarray(onehot.T.dot(weights.T).T).reshape(len(weights), kx, ky)
    return _contingency_ari(counts)


def staleness(frozen: np.ndarray, refit_labels: list[np.ndarray], seed: int) -> dict:
    """The gap between the re-trains' agreement among themselves and with the frozen model, and its
    bootstrap interval (see the module docstring); deterministic for a seed."""
    rng = np.random.default_rng([seed, 29])
    n = len(frozen)
    rows = np.sort(rng.choice(n, TEST_CUSTOMERS, replace=False)) if n > TEST_CUSTOMERS else np.arange(n)
    labels = [frozen[rows]] + [lab[rows] for lab in refit_labels]
    weights = rng.poisson(1.0, size=(REPLICATES, len(rows))).astype(float)
    r = len(refit_labels)
    # ARI per replicate for every pair of labellings (0 = frozen, 1..r = re-trains)
    ari = {(i, j): _weighted_aris(labels[i], labels[j], weights) for i, j in combinations(range(r + 1), 2)}
    picks = rng.integers(1, r + 1, size=(REPLICATES, r))
    gaps = np.empty(REPLICATES)
    for b in range(REPLICATES):
        chosen = picks[b]
        among = [ari[min(p, q), max(p, q)][b] for p, q in combinations(chosen, 2) if p != q]
        if not among:  # every pick the same re-train: its agreement with itself says nothing
            among = [ari[i, j][b] for i, j in combinations(range(1, r + 1), 2)]
        gaps[b] = np.mean(among) - np.mean([ari[0, p][b] for p in chosen])
    observed_floor = np.mean([_weighted_aris(labels[i], labels[j], np.ones((1, len(rows))))[0]
                              for i, j in combinations(range(1, r + 1), 2)])
    observed_frozen = np.mean([_weighted_aris(labels[0], labels[j], np.ones((1, len(rows))))[0]
                               for j in range(1, r + 1)])
    low, high = np.percentile(gaps, [TEST_QUANTILE, 100 - TEST_QUANTILE])
    return {"gap": fixed_decimals(observed_floor - observed_frozen), "low": fixed_decimals(low),
            "high": fixed_decimals(high),
            "customers": int(len(rows)), "replicates": REPLICATES}


# ---------------------------------------------------------------------------------------------
# The decision


@dataclass(frozen=True)
class Decision:
    """The judgement of one date: re-train or not, and the fired triggers as data (no prose).

    ``status`` is ``retrain``, ``healthy`` or ``inconclusive`` (re-trains disagree at the date and
    nothing else fired); ``stale`` is None when re-training is unreliable at the date.
    """

    retrain: bool
    status: str
    reasons: list[dict]
    reliable: bool
    stale: bool | None
    material: bool
    changed_share: float
    floor: float
    gap: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def decide(floor_mean: float, gap: dict, changed_share: float, share_moves: dict[str, float],
           psi: dict[str, float], triggers: Triggers, whole_history: bool) -> Decision:
    """The decision from a date's measurements: the mean ARI among re-trains, the staleness test
    (:func:`staleness`), the share of customers who would change segment, each segment's share move
    in points and each model feature's PSI against the reference."""
    reliable = floor_mean >= triggers.reliable_ari
    stale = bool(gap["low"] > 0) if reliable else None
    material = changed_share >= triggers.changed_share
    reasons = []
    if stale and material:
        reasons.append({"trigger": "stale", "changed_share": fixed_decimals(changed_share), "gap": gap["gap"],
                        "gap_low": gap["low"], "limit": triggers.changed_share})
    for segment, points in share_moves.items():
        if abs(points) > triggers.share_points:
            reasons.append({"trigger": "share_shift", "segment": segment, "points": fixed_decimals(points),
                            "limit": triggers.share_points})
    for feature, value in psi.items():
        if value > triggers.psi_max and not (whole_history and feature in CALENDAR_FEATURES):
            reasons.append({"trigger": "psi", "feature": feature, "psi": fixed_decimals(value),
                            "limit": triggers.psi_max})
    retrain = bool(reasons)
    status = "retrain" if retrain else ("healthy" if reliable else "inconclusive")
    return Decision(retrain, status, reasons, bool(reliable), stale, bool(material), fixed_decimals(changed_share),
                    fixed_decimals(floor_mean), gap)


# ---------------------------------------------------------------------------------------------
# Measuring a date


@dataclass
class Reference:
    """What a date is compared with: the features at the model's date and the frozen model's shares there."""

    table: pd.DataFrame
    shares: dict[str, float]

    @classmethod
    def of(cls, model: SegmentModel, table: pd.DataFrame) -> Reference:
        shares = segment_shares(frozen_labels(model, table), model.ids)
        return cls(table, {i: fixed_decimals(v) for i, v in shares.items()})


@dataclass
class Assessment:
    """A date measured and judged: labels, agreement, drift, shares and the :class:`Decision`."""

    frozen: np.ndarray
    refit_labels: list[np.ndarray]
    retrained: np.ndarray  # the deployed re-train's labels, with frozen ids where matched
    drift: pd.DataFrame
    shares: dict[str, float]
    share_moves: dict[str, float]
    changed_shares: list[float]
    agreement: dict
    decision: Decision

    def migration(self) -> dict:
        moved = migration_matrix(self.frozen, self.retrained)
        return {"frozen_ids": moved["from_ids"], "retrained_ids": moved["to_ids"], "counts": moved["counts"],
                "same_id_share": fixed_decimals(moved["same_id_share"])}


def assess(model: SegmentModel, reference: Reference, table: pd.DataFrame, as_of: date, procedure: Procedure,
           triggers: Triggers, count: int, whole_history: bool, numeric: list[str]) -> Assessment:
    """Measure the frozen ``model`` on ``table`` (the features at ``as_of``) against ``count`` re-trains
    and the reference, and decide (:func:`decide`). ``numeric`` are the features whose drift is measured."""
    frozen = frozen_labels(model, table)
    fitted = refits(table, as_of, procedure, count)
    labels = [r.labels(table) for r in fitted]
    aligned = [aligned_ids(model, r)[lab] for r, lab in zip(fitted, labels)]
    changed = [float(np.mean(a != frozen)) for a in aligned]
    everyone = np.ones(len(table), dtype=bool)
    measured = agreement(frozen, labels, everyone)
    gap = staleness(frozen, labels, procedure.seed + as_of.toordinal())
    drift = feature_drift(reference.table, table, numeric)
    drift["in_model"] = drift["feature"].isin(model.feature_names)
    shares = {i: fixed_decimals(v) for i, v in segment_shares(frozen, model.ids).items()}
    moves = {i: fixed_decimals(100 * (shares[i] - reference.shares[i])) for i in shares}
    psi = {row.feature: float(row.psi) for row in drift.itertuples() if row.in_model}
    floor_mean = float(np.mean(measured["floor"]["mean"]))
    decision = decide(floor_mean, gap, float(np.median(changed)), moves, psi, triggers, whole_history)
    return Assessment(frozen, labels, aligned[0], drift, shares, moves, changed, measured, decision)
