"""Readable rules: a shallow one-vs-rest decision tree per segment, as conditions, with its fidelity."""
from __future__ import annotations


import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.tree import DecisionTreeClassifier

from .profiles import json_number


RULE_DEPTH = 3
#: Leaves must hold this share of customers, so that rules describe groups, not individuals.
RULE_MIN_LEAF_SHARE = 0.005
RANDOM_STATE = 0
#: Most customers a rule tree learns from (see :func:`rule_sample`).
RULE_SAMPLE = 100_000


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
        cond = {"feature": name, "low": json_number(low, 6) if low is not None and low != np.inf else None,
                "high": json_number(high, 6) if high is not None else None, "integer": _integer_valued(column),
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
        "accuracy": json_number(accuracy_score(mask, predicted)),
        "precision": json_number(precision_score(mask, predicted, zero_division=0)),
        "recall": json_number(recall_score(mask, predicted, zero_division=0)),
    }
    return [_path_conditions(paths[i], numeric) for _, i in sorted(covered)], fidelity  # type: ignore[return-value]
