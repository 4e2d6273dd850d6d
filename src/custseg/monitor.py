"""The scheduled health check of a fitted segmentation: is it still valid at a date, or re-train?

:func:`check` measures a saved model at one date the way the backtest does (frozen vs re-trained
ARI band and noise floor, feature drift and segment shares against the model's own as-of date),
and :func:`verdict` turns the measurements into "healthy" (exit 0) or "retrain" (exit 3) with the
reasons, using the triggers of the maintenance contract (:mod:`custseg.stability`).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .drift import feature_drift, numeric_features, segment_shares
from .errors import InputError
from .features import parse_as_of
from .ingest import Dataset
from .model import SegmentModel
from .stability import (
    Period,
    Procedure,
    Triggers,
    agreement,
    features_at,
    frozen_labels,
    refits,
    rounded,
    step_verdict,
)

#: Version of the JSON record written by ``custseg monitor -o``.
RECORD_FORMAT = "custseg.monitor/1"
#: Exit codes of ``custseg monitor``: a scheduler acts on them.
EXIT_HEALTHY = 0
EXIT_RETRAIN = 3


def share_moves(reference: list[float], current: list[float]) -> list[float]:
    """Change of each segment's share in percentage points (current - reference)."""
    return [rounded(100 * (c - r)) for r, c in zip(reference, current)]


def verdict(
    ari: dict,
    floor: dict,
    drift: pd.DataFrame,
    model_features: list[str],
    moves: list[float],
    triggers: Triggers,
) -> dict:
    """'healthy' or 'retrain', the exit code for the scheduler and one reason per fired trigger.

    The ARI trigger fires as a backtest step fails (:func:`custseg.stability.step_verdict`): the
    band's lower bound is below the threshold; the reason says whether that is within the noise floor.

    ``ari`` and ``floor`` are bands (:func:`custseg.stability.band`), ``drift`` the table of
    :func:`custseg.drift.feature_drift`, ``moves`` the share changes in points per segment.
    """
    reasons = []
    agreement_ok = step_verdict(ari, floor, triggers.ari, triggers.margin)
    if not agreement_ok["passes"]:
        where = "beyond" if not agreement_ok["within_floor"] else "within (re-training noise)"
        reasons.append(f"frozen-vs-re-trained ARI lower bound {ari['p05']:.3f} is below "
                       f"{agreement_ok['threshold']:.3f}, {where} the noise floor ({floor['p05']:.3f})")
    shifted = drift[drift["feature"].isin(model_features) & (drift["psi"] > triggers.psi_max)]
    for row in shifted.itertuples():
        reasons.append(f"model feature {row.feature} has PSI {row.psi:.3f} > {triggers.psi_max}")
    for segment, move in enumerate(moves):
        if abs(move) > triggers.share_points:
            reasons.append(f"segment {segment}'s share moved {move:+.1f} points (limit {triggers.share_points:g})")
    healthy = not reasons
    return {
        "verdict": "healthy" if healthy else "retrain",
        "exit_code": EXIT_HEALTHY if healthy else EXIT_RETRAIN,
        "ari_limit": agreement_ok["threshold"],
        "within_floor": agreement_ok["within_floor"],
        "reasons": reasons,
    }


def check(
    model: SegmentModel,
    ds: Dataset,
    as_of: date,
    window: Period | None = None,
    triggers: Triggers = Triggers(),
    seeds: int = 3,
) -> dict:
    """The health record of ``model`` at ``as_of`` on the data ``ds`` (see :data:`RECORD_FORMAT`).

    The reference is the model's own as-of date: its features are recomputed from ``ds`` with the
    same window, so that drift and share moves compare like with like. At ``as_of`` the frozen
    model is compared with ``seeds`` re-trains (the re-trained model and bootstrap refits) as in
    the backtest; the verdict applies the triggers.
    """
    if seeds < 2:
        raise InputError(f"--seeds: {seeds} is too few; the noise floor needs at least 2 refits")
    reference = parse_as_of(model.as_of)
    if as_of <= reference:
        raise InputError(f"--as-of {as_of} is not after the model's as-of date {reference}")
    statuses = model.statuses
    ref_table = features_at(ds, reference, window, statuses)
    table = features_at(ds, as_of, window, statuses)
    if len(ref_table) < 2 or len(table) < 20:
        raise InputError(f"too few customers with a counted order ({len(ref_table)} before {reference}, "
                         f"{len(table)} before {as_of}) in {ds.root}: is this the model's data?")
    frozen = frozen_labels(model, table)
    in_cohort = table["customer_unique_id"].isin(pd.Index(ref_table["customer_unique_id"])).to_numpy()
    refit_labels = [r.labels(table) for r in refits(table, as_of, Procedure.of(model), seeds)]
    sets = {"all": agreement(frozen, refit_labels, np.ones(len(table), dtype=bool))}
    if in_cohort.sum() > 1:
        sets["cohort"] = agreement(frozen, refit_labels, in_cohort)
    drift = feature_drift(ref_table, table, numeric_features(ref_table))
    drift["in_model"] = drift["feature"].isin(model.feature_names)
    ref_shares = segment_shares(frozen_labels(model, ref_table), model.ids)
    shares = segment_shares(frozen, model.ids)
    moves = share_moves(list(ref_shares.values()), list(shares.values()))
    outcome = verdict(sets["all"]["ari"], sets["all"]["floor"], drift, model.feature_names, moves, triggers)
    return {
        "format": RECORD_FORMAT,
        "as_of": as_of.isoformat(),
        "data": str(ds.root),
        "window": "all" if window is None else str(window),
        "model": {"as_of": model.as_of, "k": model.k, "algorithm": model.algorithm,
                  "features": model.feature_names, "checksum": model.to_dict()["checksum"]},
        "reference": {"as_of": reference.isoformat(), "customers": len(ref_table),
                      "model_customers": model.record["input"]["customers"],
                      "note": ("reference features recomputed from the data at the model's as-of date; "
                               "a customer count different from the model's means another export or window")},
        "customers": {"all": len(table), "cohort": int(in_cohort.sum()), "new": int((~in_cohort).sum())},
        "ari": {name: s["ari"] for name, s in sets.items()},
        "ami": {name: s["ami"] for name, s in sets.items()},
        "floor": {name: s["floor"] for name, s in sets.items()},
        "drift": [{**row, "psi": rounded(row["psi"]), "ks": rounded(row["ks"])} for row in drift.to_dict("records")],
        "shares": {"reference": {i: rounded(v) for i, v in ref_shares.items()},
                   "current": {i: rounded(v) for i, v in shares.items()}},
        "share_moves": dict(zip(shares, moves)),
        "triggers": triggers.to_dict(),
        **outcome,
    }


def record_text(record: dict) -> str:
    """The verdict in a few lines, for a scheduler's log."""
    ari, floor = record["ari"]["all"], record["floor"]["all"]
    top = record["drift"][0] if record["drift"] else None
    lines = [
        f"{record['verdict'].upper()} at {record['as_of']} (model of {record['model']['as_of']}, "
        f"k={record['model']['k']}, {record['customers']['all']:,} customers, window {record['window']})",
        f"frozen vs re-trained ARI {ari['mean']:.3f} (band {ari['p05']:.3f}-{ari['p95']:.3f}; "
        f"noise floor {floor['mean']:.3f}, lower {floor['p05']:.3f}; limit {record['ari_limit']:.3f})",
        f"largest segment share move {max(map(abs, record['share_moves'].values())):.1f} points",
    ]
    if top:
        lines.append(f"largest drift: {top['feature']} PSI {top['psi']:.3f} "
                     f"({'model feature' if top['in_model'] else 'not in the model'})")
    ref = record["reference"]
    if ref["customers"] != ref["model_customers"]:
        lines.append(f"note: the model was fitted on {ref['model_customers']:,} customers; DATA at its as-of date "
                     f"gives {ref['customers']:,} with window {record['window']}: another export or another --window?")
    lines += [f"re-train: {reason}" for reason in record["reasons"]]
    return "\n".join(lines) + "\n"
