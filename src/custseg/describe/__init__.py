"""Segment profiles in a marketer's words: names, descriptions, suggested actions, readable rules.

:func:`describe_segments` turns a feature table and one label per customer into one plain,
JSON-serialisable dict per segment: how big it is, how it differs from all customers (means,
medians, standardised differences, top categories), a short unique name built from the traits
that set it apart ("Recent, satisfied big spenders"), a paragraph with the key numbers, two or
three suggested actions, and a shallow decision tree's rules with their fidelity, so a marketer
can check which customers a name covers. Label -1 (customers a density model left out) is
described as its own group, "Unassigned". Everything is deterministic.

The package, by topic: :mod:`.profiles` (statistics against all customers, the distinguishing
traits), :mod:`.names` (marketing words, claims, unique names), :mod:`.rules` (decision-tree
rules and their fidelity), :mod:`.texts` (descriptions and suggested actions), :mod:`.tables`
(a table, Markdown, JSON). Rich panels are drawn by :mod:`custseg.views.segments`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..cards import KEY_FACTS
from ..currency import Money
from .names import (
    CLAIM_MIN, CLAIMS, DISAMBIGUATION_MIN, NAME_GROUPS, NAME_MIN, NAME_TRAITS, UNASSIGNED_NAME, VOCABULARY, Words,
    claim_share, compose_name, name_traits, trait_claims, true_traits, unique_names, segment_noun,
)
from .profiles import (
    CATEGORICAL, DISTINGUISHING_MIN, UNASSIGNED, categorical_profile, categorical_values, distinguishing,
    numeric_matrix, numeric_profile, population_stats, ranked_traits, checked_labels, checked_scaled, json_number,
)
from .rules import RANDOM_STATE, RULE_DEPTH, RULE_MIN_LEAF_SHARE, RULE_SAMPLE, rule_sample, segment_rules
from .tables import describe_table, to_json, to_markdown
from .texts import ACTIONS, UNASSIGNED_ACTIONS, data_kind, describe_text, rendered, suggested_actions, unknown_features

__all__ = [
    "ACTIONS", "CATEGORICAL", "CLAIMS", "CLAIM_MIN", "DISAMBIGUATION_MIN", "DISTINGUISHING_MIN", "NAME_GROUPS",
    "NAME_MIN", "NAME_TRAITS", "RANDOM_STATE", "RULE_DEPTH", "RULE_MIN_LEAF_SHARE", "RULE_SAMPLE", "UNASSIGNED",
    "UNASSIGNED_ACTIONS", "UNASSIGNED_NAME", "VOCABULARY", "Words", "categorical_profile", "categorical_values",
    "claim_share", "compose_name", "data_kind", "describe_segments", "describe_table", "describe_text",
    "distinguishing", "json_number", "name_traits", "numeric_matrix", "numeric_profile", "population_stats",
    "ranked_traits", "rendered", "rule_sample", "segment_rules", "suggested_actions", "to_json", "to_markdown",
    "trait_claims", "true_traits", "unique_names", "unknown_features",
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
    labels = checked_labels(features, labels)
    numeric = numeric_matrix(features, feature_names)
    # Key numbers are profiled too when the model did not use them: descriptions need them.
    extra = [f for f, _ in KEY_FACTS if f in features.columns and f not in feature_names]
    numeric = numeric.join(numeric_matrix(features, extra))
    model_space = checked_scaled(scaled, len(features), feature_names)
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
        "noun": segment_noun(features, mask),
        "rules": rules,
        "fidelity": fidelity,
    }


def _finished(draft: dict, name: str, total: int, unknown: set[str], money: Money) -> dict:
    share = json_number(draft["size"] / total)  # the stored value, so that every view shows the same figure
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


