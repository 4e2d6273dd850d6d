"""Segment names: marketing words per trait, the claims a word makes about every customer, and
short names made unique."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..cards import LABELS
from .profiles import UNASSIGNED, ranked_traits


UNASSIGNED_NAME = "Unassigned"
#: ... and one reaching this may enter the segment's name (at most NAME_TRAITS of them) or
#: trigger a suggested action.
NAME_MIN = 0.3
NAME_TRAITS = 3
#: Weaker differences still serve to tell two similar names apart.
DISAMBIGUATION_MIN = 0.05


@dataclass(frozen=True)
class Words:
    """How a trait reads in a name: an adjective, optionally a noun or a trailing phrase."""

    adj: str
    noun: str | None = None
    suffix: str | None = None


#: Marketing words per (feature, direction of the difference from all customers).
VOCABULARY: dict[tuple[str, str], Words] = {
    ("recency_days", "lower"): Words("recent"),
    ("recency_days", "higher"): Words("dormant"),
    ("tenure_days", "lower"): Words("new"),
    ("tenure_days", "higher"): Words("long-standing"),
    ("frequency", "higher"): Words("frequent", noun="repeat buyers"),
    ("frequency", "lower"): Words("one-time", noun="one-timers"),
    ("monetary", "higher"): Words("high-value", noun="big spenders"),
    ("monetary", "lower"): Words("low-value", noun="small spenders"),
    ("mean_basket", "higher"): Words("big-basket", noun="big spenders"),
    ("mean_basket", "lower"): Words("small-basket", noun="small-basket buyers"),
    ("mean_items", "higher"): Words("multi-item", noun="bulk buyers"),
    ("mean_items", "lower"): Words("single-item"),
    ("review_score_mean", "higher"): Words("satisfied"),
    ("review_score_mean", "lower"): Words("unhappy"),
    ("review_share", "higher"): Words("vocal"),
    ("review_share", "lower"): Words("silent"),
    ("delivery_days_mean", "higher"): Words("slow-delivery", suffix="after slow delivery"),
    ("delivery_days_mean", "lower"): Words("fast-delivery"),
    ("lateness_days_mean", "higher"): Words("late-delivery", suffix="after late delivery"),
    ("lateness_days_mean", "lower"): Words("early-delivery"),
    ("late_share", "higher"): Words("late-delivery", suffix="after late delivery"),
    ("late_share", "lower"): Words("on-time"),
    ("installments_mean", "higher"): Words("installment-paying", noun="installment payers"),
    ("installments_mean", "lower"): Words("upfront-paying", noun="upfront payers"),
    ("freight_share", "higher"): Words("freight-heavy"),
    ("freight_share", "lower"): Words("low-freight"),
    ("n_categories", "higher"): Words("multi-category", noun="multi-category shoppers"),
    ("n_categories", "lower"): Words("single-category"),
}

#: Features that say the same thing to a marketer: a name uses only the strongest of a group.
NAME_GROUPS: dict[str, str] = {
    "recency_days": "time",
    "tenure_days": "time",
    "monetary": "spend",
    "mean_basket": "spend",
    "delivery_days_mean": "delivery",
    "lateness_days_mean": "delivery",
    "late_share": "delivery",
}


def _words(feature: str, direction: str) -> Words:
    label = LABELS.get(feature, feature.replace("_", " "))
    return VOCABULARY.get((feature, direction), Words(f"{'high' if direction == 'higher' else 'low'} {label}"))


#: What a word in a name or an action claims about each customer of the segment, when the claim is
#: absolute (a repeat buyer bought twice or more); other traits claim a value beyond all customers'
#: median: (feature, direction) -> (comparison, threshold).
CLAIMS: dict[tuple[str, str], tuple[str, float]] = {
    ("frequency", "higher"): (">=", 2),
    ("frequency", "lower"): ("<=", 1),
    ("review_score_mean", "lower"): ("<=", 3),
    ("review_score_mean", "higher"): (">=", 4),
    ("late_share", "higher"): (">", 0),
    ("lateness_days_mean", "higher"): (">", 0),
    ("late_share", "lower"): ("<=", 0),
    ("installments_mean", "higher"): (">", 1),
    ("installments_mean", "lower"): ("<=", 1),
}
#: A trait enters a name or an action only when its claim holds for more than this share of the segment.
CLAIM_MIN = 0.5


def claim_share(feature: str, direction: str, values: np.ndarray, population_median: float) -> float:
    """The share of ``values`` (one segment's, NaN = unknown) for which the trait's claim holds.

    An unknown value never supports a claim.
    """
    if len(values) == 0:
        return 0.0
    op, threshold = CLAIMS.get((feature, direction), (">" if direction == "higher" else "<", population_median))
    with np.errstate(invalid="ignore"):
        hit = {">": values > threshold, ">=": values >= threshold, "<": values < threshold,
               "<=": values <= threshold}[op]
    return float(np.mean(hit & ~np.isnan(values)))


def trait_claims(numeric: pd.DataFrame, mask: np.ndarray, traits: list[tuple[str, str, float]],
                 population: dict[str, dict[str, float]]) -> dict[str, float]:
    """``"feature:direction"`` -> share of the segment for which that trait's claim holds."""
    return {f"{f}:{d}": round(claim_share(f, d, numeric[f].to_numpy()[mask], population[f]["median"]), 4)
            for f, d, _ in traits}


def name_traits(profile: dict[str, dict], feature_names: list[str]) -> list[tuple[str, str, float]]:
    """Traits usable in a name: strongest first, one per group of like features."""
    seen, traits = set(), []
    for name, direction, effect in ranked_traits(profile, feature_names, DISAMBIGUATION_MIN):
        group = NAME_GROUPS.get(name, name)
        if group not in seen:
            seen.add(group)
            traits.append((name, direction, effect))
    return traits


def true_traits(traits: list[tuple[str, str, float]], claims: dict[str, float]) -> list[tuple[str, str, float]]:
    """The ``traits`` whose claim holds for most of the segment (:data:`CLAIM_MIN`)."""
    return [t for t in traits if claims.get(f"{t[0]}:{t[1]}", 0.0) > CLAIM_MIN]


def compose_name(traits: list[tuple[str, str, float]], default_noun: str) -> str:
    """A short name: adjectives (strongest first), then one noun, then a trailing phrase."""
    adjectives, noun, suffix = [], None, None
    for feature, direction, _ in traits:
        words = _words(feature, direction)
        if words.suffix and suffix is None:
            suffix = words.suffix
        elif words.noun and noun is None:
            noun = words.noun
        else:
            adjectives.append(words.adj)
    if not traits:
        adjectives.append("typical")
    name = ", ".join(adjectives)
    name = f"{name} {noun or default_noun}".strip()
    if suffix:
        name = f"{name} {suffix}"
    return name[0].upper() + name[1:]


def segment_noun(features: pd.DataFrame, mask: np.ndarray) -> str:
    """The noun a name ends with when no trait gives one: one-timers when nine in ten bought once."""
    if "frequency" in features.columns and (features["frequency"].to_numpy()[mask] <= 1).mean() >= 0.9:
        return "one-timers"
    return "customers"


def unique_names(drafts: list[dict]) -> dict[int, str]:
    """Names per segment id, unique: clashing names take their next trait, then a number."""
    counts = {d["id"]: min(NAME_TRAITS, sum(abs(e) >= NAME_MIN for _, _, e in d["traits"])) for d in drafts}
    named = [d for d in drafts if d["id"] != UNASSIGNED]
    while True:
        names = {d["id"]: compose_name(d["traits"][: counts[d["id"]]], d["noun"]) for d in named}
        clashing = _clashes(names)
        growable = [d for d in named if d["id"] in clashing and counts[d["id"]] < len(d["traits"])]
        if not growable:
            break
        for d in growable:
            counts[d["id"]] += 1
    taken: Counter[str] = Counter()
    result = {UNASSIGNED: UNASSIGNED_NAME} if any(d["id"] == UNASSIGNED for d in drafts) else {}
    for seg_id in sorted(names):
        key = names[seg_id].lower()
        taken[key] += 1
        result[seg_id] = names[seg_id] if taken[key] == 1 else f"{names[seg_id]} ({taken[key]})"
    return result


def _clashes(names: dict[int, str]) -> set[int]:
    counts = Counter(name.lower() for name in names.values())
    return {seg_id for seg_id, name in names.items() if counts[name.lower()] > 1}
