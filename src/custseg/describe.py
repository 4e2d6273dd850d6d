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
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.console import Group
from rich.panel import Panel
from rich.text import Text
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.tree import DecisionTreeClassifier

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

#: Plain labels for numbers in descriptions.
LABELS: dict[str, str] = {
    "recency_days": "days since last purchase",
    "tenure_days": "days since first purchase",
    "frequency": "orders",
    "monetary": "total spend",
    "mean_basket": "basket value",
    "mean_items": "items per order",
    "review_score_mean": "review score",
    "review_share": "share of orders reviewed",
    "delivery_days_mean": "delivery time",
    "lateness_days_mean": "days late vs. promised date",
    "late_share": "share of late deliveries",
    "installments_mean": "payment installments",
    "freight_share": "freight share of the bill",
    "n_categories": "categories bought",
}
MONEY = {"monetary", "mean_basket"}
SHARES = {"review_share", "late_share", "freight_share"}
DAYS = {"recency_days", "tenure_days", "delivery_days_mean", "lateness_days_mean"}
#: Key numbers every description gives (segment vs all), when the feature table has them:
#: (feature, statistic, wording).
KEY_FACTS = (
    ("mean_basket", "median", "typical basket {v}"),
    ("frequency", "mean", "{v} orders on average"),
    ("review_score_mean", "mean", "mean review score {v}/5"),
    ("late_share", "mean", "{v} of deliveries late"),
    ("recency_days", "median", "last purchase typically {v} before the as-of date"),
)

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
) -> list[dict]:
    """One plain dict per segment id (ascending): size, name, description, actions, profile, rules.

    ``features`` is the raw feature table (NaN allowed), ``labels`` one int per row (-1 = not
    assigned), ``feature_names`` the numeric columns the model used. When ``scaled`` (the
    model-space matrix, columns in ``feature_names`` order) is given, traits are ranked by the
    standardised difference in model space, i.e. by what the model saw; the raw standardised
    difference is reported in either case.
    """
    labels = _checked_labels(features, labels)
    numeric = numeric_matrix(features, feature_names)
    # Key numbers are profiled too when the model did not use them: descriptions need them.
    extra = [f for f, _, _ in KEY_FACTS if f in features.columns and f not in feature_names]
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
    return [_finished(d, names[d["id"]], len(labels)) for d in drafts]


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


def name_traits(profile: dict[str, dict], feature_names: list[str]) -> list[tuple[str, str, float]]:
    """Traits usable in a name: strongest first, one per group of like features."""
    seen, traits = set(), []
    for name, direction, effect in ranked_traits(profile, feature_names, DISAMBIGUATION_MIN):
        group = NAME_GROUPS.get(name, name)
        if group not in seen:
            seen.add(group)
            traits.append((name, direction, effect))
    return traits


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


def _fmt(value: float) -> str:
    """A threshold for humans: fewer decimals for bigger numbers."""
    digits = 1 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _condition(name: str, low: float | None, high: float | None, integer: bool, or_missing: bool) -> str:
    """``low < name <= high`` in words, integer bounds made inclusive, missing values named.

    An infinite threshold is the tree's "missing or not" split: nothing known lies above it.
    """
    if high == np.inf:
        high = None
    if low == np.inf:
        return f"{name} missing" if or_missing else f"{name} impossible"
    if low is None and high is None:
        return "" if or_missing else f"{name} known"
    if integer:
        low_i = None if low is None else int(np.floor(low)) + 1
        high_i = None if high is None else int(np.floor(high))
        if low_i is not None and low_i == high_i:
            text = f"{name} = {low_i}"
        elif low_i is not None and high_i is not None:
            text = f"{low_i} <= {name} <= {high_i}"
        else:
            text = f"{name} >= {low_i}" if low_i is not None else f"{name} <= {high_i}"
    elif low is not None and high is not None:
        text = f"{_fmt(low)} < {name} <= {_fmt(high)}"
    else:
        text = f"{name} > {_fmt(low)}" if low is not None else f"{name} <= {_fmt(high)}"
    return f"({text} or {name} missing)" if or_missing else text


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


def _path_text(path: list, numeric: pd.DataFrame) -> str:
    if not path:
        return "all customers"
    bounds: dict[int, list] = {}
    for feature, op, threshold, missing_follows in path:
        low, high, missing = bounds.get(feature, [None, None, True])
        if op == ">":
            low = threshold if low is None else max(low, threshold)
        else:
            high = threshold if high is None else min(high, threshold)
        bounds[feature] = [low, high, missing and missing_follows]
    parts = []
    for feature, (low, high, missing) in bounds.items():
        name = numeric.columns[feature]
        column = numeric[name].to_numpy()
        # The tree sends missing values somewhere even when training had none: only say so when it matters.
        parts.append(_condition(name, low, high, _integer_valued(column), missing and bool(np.isnan(column).any())))
    return " and ".join(p for p in parts if p) or "all customers"


def rule_sample(rows: int) -> np.ndarray | slice:
    """The rows a rule tree learns from: all of them, or :data:`RULE_SAMPLE` drawn with a fixed seed.

    A depth-3 tree is as well determined by 100,000 customers as by millions, which would take
    minutes per segment; its fidelity is still measured on every customer.
    """
    if rows <= RULE_SAMPLE:
        return slice(None)
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(rows, size=RULE_SAMPLE, replace=False))


def segment_rules(numeric: pd.DataFrame, mask: np.ndarray, X: np.ndarray | None = None,
                  ) -> tuple[list[str], dict[str, float]]:
    """Readable one-vs-rest rules (a depth-3 tree on the raw features) and how well they fit.

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
    covered = [(-int((_path_mask(p, X) & mask).sum()), _path_text(p, numeric)) for p in paths]
    fidelity = {
        "accuracy": _number(accuracy_score(mask, predicted)),
        "precision": _number(precision_score(mask, predicted, zero_division=0)),
        "recall": _number(recall_score(mask, predicted, zero_division=0)),
    }
    return [text for _, text in sorted(covered)], fidelity


# ---------------------------------------------------------------------------------------------
# Descriptions and actions


def _value(feature: str, value: float | None) -> str:
    """A number as a marketer reads it: R$ for money, % for shares, days for durations."""
    if value is None:
        return "n/a"
    if feature in MONEY:
        return f"R$ {value:,.0f}"
    if feature in SHARES:
        return f"{value:.0%}"
    if feature in DAYS:
        return f"{value:,.0f} days"
    return f"{value:,.1f}"


def _key_facts(profile: dict[str, dict]) -> list[str]:
    """Key numbers, segment vs all customers: basket, orders, review, lateness, recency."""
    facts = []
    for feature, stat, template in KEY_FACTS:
        if feature not in profile:
            continue
        entry = profile[feature]
        if entry[stat] is None:
            facts.append(f"no {LABELS[feature]} known")
            continue
        value = _value(feature, entry[stat])
        population = _value(feature, entry[f"population_{stat}"])
        if feature == "frequency":
            value, population = f"{entry[stat]:.2f}", f"{entry[f'population_{stat}']:.2f}"
        facts.append(f"{template.format(v=value)} (all customers: {population})")
    return facts


def describe_text(seg_id: int, size: int, share: float, profile: dict, traits: list[dict]) -> str:
    """One paragraph in plain words with the segment's key numbers."""
    lead = (
        f"{size:,} customers ({share:.1%} of all) that the model placed in no segment."
        if seg_id == UNASSIGNED
        else f"{size:,} customers ({share:.1%} of all)."
    )
    sentences = [lead]
    facts = "; ".join(_key_facts(profile["numeric"]))
    if facts:
        sentences.append(facts[0].upper() + facts[1:] + ".")
    if traits:
        stand_out = ", ".join(
            f"{t['direction']} {t['label']} "
            f"({_value(t['feature'], t['mean'])} vs {_value(t['feature'], t['population_mean'])})"
            for t in traits[:3]
        )
        sentences.append(f"Compared with all customers they stand out by {stand_out}.")
    else:
        sentences.append("They look much like the customer base as a whole.")
    top_category = profile["categorical"].get("main_category")
    if top_category:
        sentences.append(f"Most bought category: {top_category[0]['value']} ({top_category[0]['share']:.0%}).")
    return " ".join(sentences)


def suggested_actions(seg_id: int, traits: list[dict], categorical: dict) -> list[str]:
    """Two or three actions tied to the segment's distinguishing traits."""
    if seg_id == UNASSIGNED:
        return list(UNASSIGNED_ACTIONS)
    # Only clear differences justify spending money on an action.
    present = {(t["feature"], t["direction"]) for t in traits if abs(_effect(t)) >= NAME_MIN}
    actions = [
        text
        for conditions, text in ACTIONS
        if all(any((f, direction) in present for f in features) for features, direction in conditions)
    ][:3]
    fallbacks = []
    if categorical.get("main_category"):
        fallbacks.append(f"Cross-sell within their favourite category ({categorical['main_category'][0]['value']})")
    fallbacks.append("Keep in the regular newsletter and test offers to learn what moves them")
    for text in fallbacks:
        if len(actions) < 2:
            actions.append(text)
    return actions


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
    profile = {
        "numeric": numeric_profile(numeric, mask, model_space, shared["population"]),
        "categorical": categorical_profile(features, mask, prepared=shared["categorical"]),
    }
    rules, fidelity = segment_rules(numeric[feature_names], mask, shared["X"])
    return {
        "id": int(seg_id),
        "size": int(mask.sum()),
        "profile": profile,
        "distinguishing": distinguishing(profile["numeric"], feature_names),
        "traits": name_traits(profile["numeric"], feature_names),
        "noun": _default_noun(features, mask),
        "rules": rules,
        "fidelity": fidelity,
    }


def _finished(draft: dict, name: str, total: int) -> dict:
    share = _number(draft["size"] / total)  # the stored value, so that every view shows the same figure
    return {
        "id": draft["id"],
        "size": draft["size"],
        "share": share,
        "name": name,
        "description": describe_text(draft["id"], draft["size"], share, draft["profile"], draft["distinguishing"]),
        "actions": suggested_actions(draft["id"], draft["distinguishing"], draft["profile"]["categorical"]),
        "profile": draft["profile"],
        "distinguishing": draft["distinguishing"],
        "rules": draft["rules"],
        "fidelity": draft["fidelity"],
    }


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


def to_markdown(segments: list[dict]) -> str:
    """The segments as a Markdown document: name, size, description, actions, rules."""
    blocks = []
    for s in segments:
        lines = [f"## {s['id']}. {s['name']} ({s['share']:.1%}, {s['size']:,} customers)", "", s["description"], ""]
        lines += ["**Suggested actions**", ""] + [f"- {a}" for a in s["actions"]] + [""]
        lines += [f"**Rules** (any of; {_fidelity_text(s['fidelity'])})", ""]
        lines += [f"- `{r}`" for r in s["rules"]] or ["- (no rule isolates this segment)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_json(segments: list[dict]) -> str:
    """The segments as pretty, key-sorted JSON."""
    return json.dumps(segments, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rich_view(segments: list[dict]) -> Group:
    """The segments as Rich panels; text is never read as markup."""
    panels = []
    for s in segments:
        body = Text(s["description"] + "\n\nSuggested actions:\n")
        body.append("\n".join(f"  - {a}" for a in s["actions"]))
        body.append(f"\n\nRules (any of; {_fidelity_text(s['fidelity'])}):\n", style="bold")
        body.append("\n".join(f"  - {r}" for r in s["rules"]) or "  (no rule isolates this segment)")
        title = Text(f"{s['id']}. {s['name']} - {s['share']:.1%} ({s['size']:,})", style="bold")
        panels.append(Panel(body, title=title, title_align="left"))
    return Group(*panels)
