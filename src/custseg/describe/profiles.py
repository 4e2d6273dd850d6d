"""Segment profiles: the inputs checked, per-feature statistics against all customers, the top
categories, and the traits that set a segment apart."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..cards import LABELS
from ..errors import InputError


#: Label of customers that a model (HDBSCAN) assigned to no segment.
UNASSIGNED = -1

#: Categorical columns summarised by their most common values, when present.
CATEGORICAL = ("main_category", "main_payment_type", "customer_state")

#: A feature whose |standardised difference| reaches this is listed as distinguishing.
DISTINGUISHING_MIN = 0.2
# ---------------------------------------------------------------------------------------------
# Inputs


def checked_labels(features: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """``labels`` as int64, one per row of ``features``; ValueError or InputError when they cannot be."""
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


def checked_scaled(scaled: np.ndarray | None, rows: int, feature_names: list[str]) -> pd.DataFrame | None:
    """The model-space matrix as a frame with ``feature_names`` columns (None stays None)."""
    if scaled is None:
        return None
    scaled = np.asarray(scaled, dtype="float64")
    if scaled.shape != (rows, len(feature_names)):
        raise ValueError(f"scaled has shape {scaled.shape}, expected ({rows}, {len(feature_names)})")
    return pd.DataFrame(scaled, columns=feature_names)


# ---------------------------------------------------------------------------------------------
# Profiles and traits


def json_number(value: float, digits: int = 4) -> float | None:
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
            "mean": json_number(_nan_stat(part, np.nanmean)),
            "median": json_number(_nan_stat(part, np.nanmedian)),
            "population_mean": json_number(whole["mean"]),
            "population_median": json_number(whole["median"]),
            "std_diff": json_number(_standardised(part, whole), 3),
            "missing_share": json_number(np.isnan(part).mean()),
            "population_missing_share": json_number(whole["missing"]),
        }
        if model_space is not None and name in model_space.columns:
            space = model_space[name].to_numpy()
            space_whole = population.get(f"model:{name}") or population_stats(space)
            entry["model_std_diff"] = json_number(_standardised(space[mask], space_whole), 3)
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
            {"value": str(v), "share": json_number(s), "population_share": json_number(population[v])}
            for v, s in ranked
        ]
    return profile


def trait_effect(entry: dict) -> float | None:
    """The difference used to rank traits: model space when known, else raw."""
    return entry.get("model_std_diff", entry["std_diff"])


def ranked_traits(profile: dict[str, dict], feature_names: list[str], floor: float) -> list[tuple[str, str, float]]:
    """(feature, "higher"|"lower", effect) with |effect| >= floor, strongest first, ties by feature order."""
    traits = []
    for order, name in enumerate(feature_names):
        effect = trait_effect(profile[name])
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
