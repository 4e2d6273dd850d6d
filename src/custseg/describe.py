"""Segment profiles in a marketer's words: names, descriptions, suggested actions, readable rules.

:func:`describe_segments` turns a feature table and one label per customer into one plain,
JSON-serialisable dict per segment: how big it is, how it differs from all customers (means,
medians, standardised differences, top categories), a short unique name built from the traits
that set it apart ("Recent, satisfied big spenders"), a paragraph with the key numbers, two or
three suggested actions, and a shallow decision tree's rules with their fidelity, so a marketer
can check which customers a name covers. Label -1 (customers a density model left out) is
described as its own group, "Unassigned". Everything is deterministic.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.console import Group
from rich.panel import Panel
from rich.text import Text
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.tree import DecisionTreeClassifier

from .cards import KEY_FACTS, LABELS, key_facts, rule_text, trait_text
from .currency import Money
from .errors import InputError

#: Label of customers that a model (HDBSCAN) assigned to no segment.
UNASSIGNED = -1
UNASSIGNED_NAME = "Unassigned"

#: Categorical columns summarised by their most common values, when present.
CATEGORICAL = ("main_category", "main_payment_type", "customer_state")

#: A feature whose |standardised difference| reaches this is listed as distinguishing.
DISTINGUISHING_MIN = 0.2
#: ... and one reaching this may enter the segment's name (at most NAME_TRAITS of them) or
#: trigger a suggested action.
NAME_MIN = 0.3
NAME_TRAITS = 3
#: Weaker differences still serve to tell two similar names apart.
DISAMBIGUATION_MIN = 0.05

RULE_DEPTH = 3
#: Leaves must hold this share of customers, so that rules describe groups, not individuals.
RULE_MIN_LEAF_SHARE = 0.005
RANDOM_STATE = 0
#: Most customers a rule tree learns from (see :func:`rule_sample`).
RULE_SAMPLE = 100_000


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

_DELIVERY = ("late_share", "lateness_days_mean", "delivery_days_mean")
_SPEND = ("mean_basket", "monetary")

#: Suggested actions, most specific first: every condition (any of the features, direction) must hold.
ACTIONS: tuple[tuple[tuple[tuple[tuple[str, ...], str], ...], str], ...] = (
    (((_DELIVERY, "higher"), (("review_score_mean",), "lower")),
     "Service recovery: apology voucher and proactive delivery updates on the next order"),
    (((_SPEND, "higher"), (("review_score_mean",), "higher")),
     "VIP / loyalty programme with early access to new products"),
    (((("recency_days",), "higher"),),
     "Win-back campaign: personalised reminder with a time-limited discount"),
    (((("installments_mean",), "higher"),),
     "Promote interest-free installment offers on higher-priced items"),
    (((("review_score_mean",), "lower"),),
     "Follow up on the poor review: ask what went wrong and offer a fix"),
    (((_DELIVERY, "higher"),),
     "Set realistic delivery promises and send proactive tracking updates"),
    (((("frequency",), "higher"),),
     "Reward repeat purchases: loyalty points and replenishment reminders"),
    (((("recency_days",), "lower"),),
     "Second-purchase journey: recommendations based on the first order, within 30 days"),
    (((_SPEND, "higher"),),
     "Premium cross-sell: higher-end products in their favourite categories"),
    (((_SPEND, "lower"),),
     "Bundles and free-shipping thresholds to raise the basket value"),
    (((("freight_share",), "higher"),),
     "Free or discounted shipping offers; favour sellers close to them"),
    (((("n_categories",), "higher"),),
     "Cross-category recommendations and marketplace-wide promotions"),
    (((("review_score_mean",), "higher"),),
     "Ask for reviews and referrals while they are happy"),
)
UNASSIGNED_ACTIONS = [
    "Keep them in broad, untargeted campaigns rather than segment-specific offers",
    "Watch this group at each re-fit: a growing unassigned share means the segments are drifting",
]


# ---------------------------------------------------------------------------------------------
# The one public entry point


def describe_segments(
    features: pd.DataFrame,
    labels: np.ndarray,
    feature_names: list[str],
    scaled: np.ndarray | None = None,
    money: Money = Money(),
) -> list[dict]:
    """One plain dict per segment id (ascending): size, name, description, actions, profile, rules.

    ``features`` is the raw feature table (NaN allowed), ``labels`` one int per row (-1 = not
    assigned), ``feature_names`` the numeric columns the model used. When ``scaled`` (the
    model-space matrix, columns in ``feature_names`` order) is given, traits are ranked by the
    standardised difference in model space, i.e. by what the model saw; the raw standardised
    difference is reported in either case. ``money`` labels amounts in the texts (views may
    render them again in another currency: :func:`rendered`).
    """
    labels = _checked_labels(features, labels)
    numeric = numeric_matrix(features, feature_names)
    # Key numbers are profiled too when the model did not use them: descriptions need them.
    extra = [f for f, _ in KEY_FACTS if f in features.columns and f not in feature_names]
    numeric = numeric.join(numeric_matrix(features, extra))
    model_space = _checked_scaled(scaled, len(features), feature_names)
    # what every segment reads, made once: the rules' matrix and the categorical columns' codes
    shared = {"X": numeric[feature_names].to_numpy(), "categorical": categorical_values(features),
              "population": {name: population_stats(numeric[name].to_numpy()) for name in numeric.columns}}
    if model_space is not None:
        shared["population"].update({f"model:{name}": population_stats(model_space[name].to_numpy())
                                     for name in model_space.columns})
    drafts = [
        _draft(features, numeric, model_space, labels, seg_id, feature_names, shared)
        for seg_id in np.unique(labels).tolist()
    ]
    names = unique_names(drafts)
    unknown = unknown_features(shared["population"], shared["categorical"])
    return [_finished(d, names[d["id"]], len(labels), unknown, money) for d in drafts]


# ---------------------------------------------------------------------------------------------
# Inputs


def _checked_labels(features: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (len(features),):
        raise ValueError(f"labels has shape {labels.shape}, expected ({len(features)},)")
    if len(labels) == 0:
        raise InputError("feature table has no customers to describe")
    labels = labels.astype(np.int64)
    if (labels < UNASSIGNED).any():
        raise ValueError("labels must be segment ids >= 0, or -1 for unassigned")
    return labels


def numeric_matrix(features: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """The ``feature_names`` columns of ``features`` as float64 (NaN for missing values)."""
    missing = [f for f in feature_names if f not in features.columns]
    if missing:
        raise InputError("missing from the feature table", file="feature table", column=missing[0])
    columns = {}
    for name in feature_names:
        try:
            columns[name] = pd.to_numeric(features[name]).to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            raise InputError("is not numeric", file="feature table", column=name) from None
    return pd.DataFrame(columns, index=pd.RangeIndex(len(features)))


def _checked_scaled(scaled: np.ndarray | None, rows: int, feature_names: list[str]) -> pd.DataFrame | None:
    if scaled is None:
        return None
    scaled = np.asarray(scaled, dtype="float64")
    if scaled.shape != (rows, len(feature_names)):
        raise ValueError(f"scaled has shape {scaled.shape}, expected ({rows}, {len(feature_names)})")
    return pd.DataFrame(scaled, columns=feature_names)


# ---------------------------------------------------------------------------------------------
# Profiles and traits


def _number(value: float, digits: int = 4) -> float | None:
    """A JSON-friendly float: rounded, None for NaN."""
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


def _nan_stat(values: np.ndarray, stat) -> float:
    return float("nan") if np.isnan(values).all() else float(stat(values))


def population_stats(values: np.ndarray) -> dict[str, float]:
    """Mean, median and standard deviation (NaN ignored) and missing share of a whole column."""
    return {"mean": _nan_stat(values, np.nanmean), "median": _nan_stat(values, np.nanmedian),
            "std": _nan_stat(values, np.nanstd), "missing": float(np.isnan(values).mean())}


def _standardised(segment: np.ndarray, population: dict[str, float]) -> float:
    """(segment mean - population mean) / population std, NaN ignored; 0 for a constant feature."""
    if np.isnan(segment).all():
        return float("nan")
    if not population["std"] > 0:
        return 0.0
    return float((np.nanmean(segment) - population["mean"]) / population["std"])


def numeric_profile(
    numeric: pd.DataFrame, mask: np.ndarray, model_space: pd.DataFrame | None,
    population: dict[str, dict[str, float]] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Per feature: segment and population mean/median, missing shares, standardised differences.

    ``population`` holds :func:`population_stats` of the columns (``numeric``'s by name, the model
    space's as ``model:<name>``), when already computed: they are the same for every segment.
    """
    population = {} if population is None else population
    profile = {}
    for name in numeric.columns:
        column = numeric[name].to_numpy()
        whole = population.get(name) or population_stats(column)
        part = column[mask]
        entry = {
            "mean": _number(_nan_stat(part, np.nanmean)),
            "median": _number(_nan_stat(part, np.nanmedian)),
            "population_mean": _number(whole["mean"]),
            "population_median": _number(whole["median"]),
            "std_diff": _number(_standardised(part, whole), 3),
            "missing_share": _number(np.isnan(part).mean()),
            "population_missing_share": _number(whole["missing"]),
        }
        if model_space is not None and name in model_space.columns:
            space = model_space[name].to_numpy()
            space_whole = population.get(f"model:{name}") or population_stats(space)
            entry["model_std_diff"] = _number(_standardised(space[mask], space_whole), 3)
        profile[name] = entry
    return profile


def categorical_values(features: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per categorical column: its values as codes of the few distinct ones, and their population shares.

    Made once for all segments: millions of customers' text is not copied for each segment.
    """
    out = {}
    for name in CATEGORICAL:
        if name in features.columns:
            values = features[name].astype("string").fillna("unknown").astype("category").reset_index(drop=True)
            out[name] = (values, values.value_counts(normalize=True))
    return out


def categorical_profile(features: pd.DataFrame, mask: np.ndarray, top: int = 3,
                        prepared: dict[str, tuple[pd.Series, pd.Series]] | None = None) -> dict[str, list[dict]]:
    """The ``top`` most common values of each categorical column, with segment and population shares.

    ``prepared`` is :func:`categorical_values` of ``features``, when already made."""
    profile = {}
    for name, (values, population) in (prepared if prepared is not None else categorical_values(features)).items():
        segment = values[mask].value_counts(normalize=True)
        segment = segment[segment > 0]  # a category column counts every value, also those not in the segment
        # Ties broken by value so that the order never depends on hashing.
        ranked = sorted(segment.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        profile[name] = [
            {"value": str(v), "share": _number(s), "population_share": _number(population[v])}
            for v, s in ranked
        ]
    return profile


def _effect(entry: dict) -> float | None:
    """The difference used to rank traits: model space when known, else raw."""
    return entry.get("model_std_diff", entry["std_diff"])


def ranked_traits(profile: dict[str, dict], feature_names: list[str], floor: float) -> list[tuple[str, str, float]]:
    """(feature, "higher"|"lower", effect) with |effect| >= floor, strongest first, ties by feature order."""
    traits = []
    for order, name in enumerate(feature_names):
        effect = _effect(profile[name])
        if effect is not None and abs(effect) >= floor and effect != 0:
            traits.append((-abs(effect), order, name, "higher" if effect > 0 else "lower", effect))
    return [(name, direction, effect) for _, _, name, direction, effect in sorted(traits)]


def distinguishing(profile: dict[str, dict], feature_names: list[str]) -> list[dict]:
    """The features that set a segment apart, strongest first, with direction and numbers."""
    return [
        {
            "feature": name,
            "label": LABELS.get(name, name.replace("_", " ")),
            "direction": direction,
            "std_diff": profile[name]["std_diff"],
            **({"model_std_diff": profile[name]["model_std_diff"]} if "model_std_diff" in profile[name] else {}),
            "mean": profile[name]["mean"],
            "population_mean": profile[name]["population_mean"],
        }
        for name, direction, _ in ranked_traits(profile, feature_names, DISTINGUISHING_MIN)
    ]


# ---------------------------------------------------------------------------------------------
# Names


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


def _default_noun(features: pd.DataFrame, mask: np.ndarray) -> str:
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


# ---------------------------------------------------------------------------------------------
# Rules


def _integer_valued(column: np.ndarray) -> bool:
    known = column[~np.isnan(column)]
    return known.size > 0 and bool(np.all(known == np.round(known)))


def _positive_paths(tree, positive: int, node: int, path: list) -> tuple[bool, list[list]]:
    """Paths (lists of (feature, op, threshold, missing-follows)) to the leaves predicting the segment.

    A node whose leaves all predict the segment is returned whole, so that splits that change
    nothing do not show up in the rules.
    """
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        is_positive = int(np.argmax(tree.value[node][0])) == positive
        return is_positive, [path] if is_positive else []
    feature, threshold = int(tree.feature[node]), float(tree.threshold[node])
    missing_left = bool(tree.missing_go_to_left[node])
    left_all, left_paths = _positive_paths(tree, positive, left, [*path, (feature, "<=", threshold, missing_left)])
    right_all, right_paths = _positive_paths(
        tree, positive, right, [*path, (feature, ">", threshold, not missing_left)]
    )
    if left_all and right_all:
        return True, [path]
    return False, left_paths + right_paths


def _path_mask(path: list, X: np.ndarray) -> np.ndarray:
    mask = np.ones(len(X), dtype=bool)
    for feature, op, threshold, missing_follows in path:
        column = X[:, feature]
        hit = column <= threshold if op == "<=" else column > threshold
        mask &= hit | (np.isnan(column) & missing_follows)
    return mask


def _path_conditions(path: list, numeric: pd.DataFrame) -> list[dict]:
    """A tree path as conditions (see :func:`custseg.cards.condition_text`), one per feature."""
    bounds: dict[int, list] = {}
    for feature, op, threshold, missing_follows in path:
        low, high, missing = bounds.get(feature, [None, None, True])
        if op == ">":
            low = threshold if low is None else max(low, threshold)
        else:
            high = threshold if high is None else min(high, threshold)
        bounds[feature] = [low, high, missing and missing_follows]
    conditions = []
    for feature, (low, high, missing) in bounds.items():
        name = numeric.columns[feature]
        column = numeric[name].to_numpy()
        # The tree sends missing values somewhere even when training had none: only say so when it matters.
        missing = missing and bool(np.isnan(column).any())
        high = None if high == np.inf else high
        cond = {"feature": name, "low": _number(low, 6) if low is not None and low != np.inf else None,
                "high": _number(high, 6) if high is not None else None, "integer": _integer_valued(column),
                "missing": missing}
        if low == np.inf:  # the tree's "missing or not" split: nothing known lies above it
            cond.update(low=None, high=None, only_missing=True)
        if cond["low"] is None and cond["high"] is None and missing and not cond.get("only_missing"):
            continue  # known or not: no condition
        conditions.append(cond)
    return conditions


def rule_sample(rows: int) -> np.ndarray | slice:
    """The rows a rule tree learns from: all of them, or :data:`RULE_SAMPLE` drawn with a fixed seed.

    A depth-3 tree is as well determined by 100,000 customers as by millions, which would take
    minutes per segment; its fidelity is still measured on every customer.
    """
    if rows <= RULE_SAMPLE:
        return slice(None)
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(rows, size=RULE_SAMPLE, replace=False))


def segment_rules(numeric: pd.DataFrame, mask: np.ndarray, X: np.ndarray | None = None,
                  ) -> tuple[list[list[dict]], dict[str, float]]:
    """One-vs-rest rules (a depth-3 tree on the raw features) as lists of conditions, and their fit.

    A customer matches the segment when any rule holds. Fidelity: ``accuracy`` is the share of
    all customers the rules place correctly (in or out); ``precision`` the share of matched
    customers really in the segment; ``recall`` the share of the segment matched. ``X`` is
    ``numeric`` as a matrix, when already made.
    """
    X = numeric.to_numpy() if X is None else X
    learn = rule_sample(len(X))
    tree = DecisionTreeClassifier(
        max_depth=RULE_DEPTH,
        class_weight="balanced",  # else a small segment gets no rule at all
        min_samples_leaf=max(1, int(RULE_MIN_LEAF_SHARE * len(X[learn]))),
        random_state=RANDOM_STATE,
    ).fit(X[learn], mask[learn])
    predicted = tree.predict(X).astype(bool)
    classes = tree.classes_.tolist()
    paths = _positive_paths(tree.tree_, classes.index(True), 0, [])[1] if True in classes else []
    covered = [(-int((_path_mask(p, X) & mask).sum()), i) for i, p in enumerate(paths)]
    fidelity = {
        "accuracy": _number(accuracy_score(mask, predicted)),
        "precision": _number(precision_score(mask, predicted, zero_division=0)),
        "recall": _number(recall_score(mask, predicted, zero_division=0)),
    }
    return [_path_conditions(paths[i], numeric) for _, i in sorted(covered)], fidelity  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Descriptions and actions


def unknown_features(population: dict[str, dict[str, float]], categorical: dict) -> set[str]:
    """Columns the data cannot know: numbers missing or constant for everyone (a transaction log
    has no reviews or deliveries), text columns that are "unknown" for everyone (no categories)."""
    numeric = {name for name, stats in population.items()
               if ":" not in name and (stats["missing"] >= 1 or not stats["std"] > 0)}
    text = {name for name, (_, shares) in categorical.items() if set(shares[shares > 0].index) <= {"unknown"}}
    return numeric | text


def describe_text(segment: dict, money: Money = Money()) -> str:
    """One paragraph in plain words with the segment's key numbers, each labelled."""
    seg_id, profile = segment["id"], segment["profile"]
    unknown = set(segment.get("unknown_features", []))
    lead = (
        f"{segment['size']:,} customers ({segment['share']:.1%} of all) that the model placed in no segment."
        if seg_id == UNASSIGNED
        else f"{segment['size']:,} customers ({segment['share']:.1%} of all)."
    )
    sentences = [lead]
    known = set(profile["numeric"]) - unknown
    facts = "; ".join(key_facts(profile["numeric"], known, money))
    if facts:
        sentences.append(facts[0].upper() + facts[1:] + ".")
    traits = [t for t in segment["distinguishing"] if t["feature"] not in unknown][:3]
    if traits:
        sentences.append("Compared with all customers they stand out by " + "; ".join(trait_text(t, money)
                                                                                      for t in traits) + ".")
    else:
        sentences.append("They look much like the customer base as a whole.")
    top_category = profile["categorical"].get("main_category")
    if top_category and "main_category" not in unknown and top_category[0]["value"] != "unknown":
        sentences.append(f"Most common main category: {top_category[0]['value']} "
                         f"({top_category[0]['share']:.0%} of them).")
    return " ".join(sentences)


def suggested_actions(seg_id: int, traits: list[dict], categorical: dict, claims: dict[str, float] | None = None,
                      unknown: AbstractSet[str] = frozenset()) -> list[str]:
    """Two or three actions tied to the segment's distinguishing traits that hold for most of it."""
    if seg_id == UNASSIGNED:
        return list(UNASSIGNED_ACTIONS)
    # Only clear differences, true of most of the segment, justify spending money on an action.
    present = {(t["feature"], t["direction"]) for t in traits
               if abs(_effect(t) or 0.0) >= NAME_MIN and t["feature"] not in unknown
               and (claims is None or claims.get(f"{t['feature']}:{t['direction']}", 0.0) > CLAIM_MIN)}
    actions = [
        text
        for conditions, text in ACTIONS
        if all(any((f, direction) in present for f in features) for features, direction in conditions)
    ][:3]
    fallbacks = []
    top = categorical.get("main_category")
    if top and "main_category" not in unknown and top[0]["value"] != "unknown":
        fallbacks.append(f"Cross-sell within their favourite category ({top[0]['value']})")
    fallbacks.append("Keep in the regular newsletter and test offers to learn what moves them")
    for text in fallbacks:
        if len(actions) < 2:
            actions.append(text)
    return actions


def data_kind(segments: list[dict]) -> str:
    """``"log"`` when the described customers had no reviews and no deliveries (a transaction log),
    else ``"olist"``: the kind of data whose default currency a view uses."""
    lacking = {"review_score_mean", "lateness_days_mean"}
    return "log" if segments and lacking <= set(segments[0].get("unknown_features", [])) else "olist"


def rendered(segment: dict, money: Money) -> dict:
    """``segment`` with its description and rules written again in ``money``'s currency.

    A segment described before rules were kept as conditions keeps its stored texts.
    """
    if "rule_conditions" not in segment:
        return segment
    return {**segment, "description": describe_text(segment, money),
            "rules": [rule_text(r, money) for r in segment["rule_conditions"]]}


# ---------------------------------------------------------------------------------------------
# Assembly


def _draft(
    features: pd.DataFrame,
    numeric: pd.DataFrame,
    model_space: pd.DataFrame | None,
    labels: np.ndarray,
    seg_id: int,
    feature_names: list[str],
    shared: dict,
) -> dict:
    mask = labels == seg_id
    profile: dict[str, dict] = {
        "numeric": numeric_profile(numeric, mask, model_space, shared["population"]),
        "categorical": categorical_profile(features, mask, prepared=shared["categorical"]),
    }
    rules, fidelity = segment_rules(numeric[feature_names], mask, shared["X"])
    traits = name_traits(profile["numeric"], feature_names)
    found = distinguishing(profile["numeric"], feature_names)
    claims = trait_claims(numeric, mask, list(dict.fromkeys(
        [*traits, *((t["feature"], t["direction"], 0.0) for t in found)])), shared["population"])
    return {
        "id": int(seg_id),
        "size": int(mask.sum()),
        "profile": profile,
        "distinguishing": found,
        "traits": true_traits(traits, claims),
        "claims": claims,
        "noun": _default_noun(features, mask),
        "rules": rules,
        "fidelity": fidelity,
    }


def _finished(draft: dict, name: str, total: int, unknown: set[str], money: Money) -> dict:
    share = _number(draft["size"] / total)  # the stored value, so that every view shows the same figure
    segment = {
        "id": draft["id"],
        "size": draft["size"],
        "share": share,
        "name": name,
        "actions": suggested_actions(draft["id"], draft["distinguishing"], draft["profile"]["categorical"],
                                     draft["claims"], unknown),
        "profile": draft["profile"],
        "distinguishing": draft["distinguishing"],
        "claims": draft["claims"],
        "unknown_features": sorted(unknown),
        "rule_conditions": draft["rules"],
        "fidelity": draft["fidelity"],
    }
    return rendered(segment, money)


# ---------------------------------------------------------------------------------------------
# Views: a table, Markdown, Rich


def describe_table(segments: list[dict]) -> pd.DataFrame:
    """One row per segment: id, name, size, share, top traits, rule count and fidelity."""
    rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "size": s["size"],
            "share": s["share"],
            "traits": ", ".join(f"{t['direction']} {t['label']}" for t in s["distinguishing"][:3]),
            "rules": len(s["rules"]),
            "rule_accuracy": s["fidelity"]["accuracy"],
            "rule_precision": s["fidelity"]["precision"],
            "rule_recall": s["fidelity"]["recall"],
        }
        for s in segments
    ]
    return pd.DataFrame(rows, columns=[
        "id", "name", "size", "share", "traits", "rules", "rule_accuracy", "rule_precision", "rule_recall",
    ])


def _fidelity_text(fidelity: dict) -> str:
    return (
        f"accuracy {fidelity['accuracy']:.1%}, precision {fidelity['precision']:.1%}, "
        f"recall {fidelity['recall']:.1%}"
    )


def to_markdown(segments: list[dict], money: Money = Money()) -> str:
    """The segments as a Markdown document: name, size, description, actions, rules."""
    blocks = []
    for s in (rendered(s, money) for s in segments):
        lines = [f"## {s['id']}. {s['name']} ({s['share']:.1%}, {s['size']:,} customers)", "", s["description"], ""]
        lines += ["**Suggested actions**", ""] + [f"- {a}" for a in s["actions"]] + [""]
        lines += [f"**Rules** (any of; {_fidelity_text(s['fidelity'])})", ""]
        lines += [f"- {r}" for r in s["rules"]] or ["- (no rule isolates this segment)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_json(segments: list[dict]) -> str:
    """The segments as pretty, key-sorted JSON."""
    return json.dumps(segments, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rich_view(segments: list[dict], money: Money = Money()) -> Group:
    """The segments as Rich panels; text is never read as markup."""
    panels = []
    for s in (rendered(s, money) for s in segments):
        body = Text(s["description"] + "\n\nSuggested actions:\n")
        body.append("\n".join(f"  - {a}" for a in s["actions"]))
        body.append(f"\n\nRules (any of; {_fidelity_text(s['fidelity'])}):\n", style="bold")
        body.append("\n".join(f"  - {r}" for r in s["rules"]) or "  (no rule isolates this segment)")
        title = Text(f"{s['id']}. {s['name']} - {s['share']:.1%} ({s['size']:,})", style="bold")
        panels.append(Panel(body, title=title, title_align="left"))
    return Group(*panels)
