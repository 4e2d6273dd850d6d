"""The scheduled health check of a fitted segmentation: is it still valid at a date, or re-train?

:func:`check` measures a saved model at one date with the maintenance decision the backtest uses
at every step (:func:`custseg.stability.assess`): re-trains at the date, their agreement among
themselves and with the frozen model, the staleness test, the share of customers who would change
segment, segment shares and feature drift against the model's own as-of date. Exit code 3 when
the decision is retrain, else 0.
"""
from __future__ import annotations

from datetime import date

from .drift import numeric_features
from .errors import InputError
from .features import parse_as_of
from .ingest import Dataset
from .model import SegmentModel
from .stability import (DEFAULT_REFITS, RETRAIN_STARTS, Period, Procedure, Reference, Triggers, assess,
                        decision_text, features_at, fixed_decimals)

#: Version of the JSON record written by ``custseg monitor -o``.
RECORD_FORMAT = "custseg.monitor/2"
#: Exit codes of ``custseg monitor``: a scheduler acts on them.
EXIT_HEALTHY = 0
EXIT_RETRAIN = 3

__all__ = ["EXIT_HEALTHY", "EXIT_RETRAIN", "RECORD_FORMAT", "Triggers", "check", "record_text"]


def check(
    model: SegmentModel,
    ds: Dataset,
    as_of: date,
    window: Period | None = None,
    triggers: Triggers = Triggers(),
    seeds: int = DEFAULT_REFITS,
    starts: int = RETRAIN_STARTS,
) -> dict:
    """The health record of ``model`` at ``as_of`` on the data ``ds`` (see :data:`RECORD_FORMAT`).

    The reference is the model's own as-of date: its features are recomputed from ``ds`` with the
    same window, so that drift and share moves compare like with like. ``seeds`` re-trains (the
    deployed one and bootstrap refits) of at least ``starts`` starts, as in the backtest.
    """
    if seeds < 2:
        raise InputError(f"`seeds`: {seeds} is too few; the noise floor needs at least 2 re-trains")
    triggers.checked()
    reference = parse_as_of(model.as_of)
    if as_of <= reference:
        raise InputError(f"`as_of`: {as_of} is not after the model's as-of date {reference}")
    statuses = model.statuses
    ref_table = features_at(ds, reference, window, statuses)
    table = features_at(ds, as_of, window, statuses)
    if len(ref_table) < 2 or len(table) < 20:
        raise InputError(f"too few customers with a counted order ({len(ref_table)} before {reference}, "
                         f"{len(table)} before {as_of}) in {ds.root}: is this the model's data?")
    ref = Reference.of(model, ref_table)
    found = assess(model, ref, table, as_of, Procedure.of(model, starts), triggers, seeds,
                   window is None, numeric_features(ref_table))
    decision = found.decision.to_dict()
    return {
        "format": RECORD_FORMAT,
        "as_of": as_of.isoformat(),
        "data": str(ds.root),
        "window": "all" if window is None else str(window),
        "model": {"as_of": model.as_of, "k": model.k, "algorithm": model.algorithm,
                  "features": model.feature_names, "checksum": model.to_dict()["checksum"],
                  "segments": {str(i): name for i, name in zip(model.ids, model.names)}},
        "reference": {"as_of": reference.isoformat(), "customers": len(ref_table),
                      "model_customers": model.record["input"]["customers"]},
        "customers": {"all": len(table)},
        "ari": found.agreement["ari"],
        "floor": found.agreement["floor"],
        "changed_share": {"median": decision["changed_share"],
                          "per_retrain": [fixed_decimals(c) for c in found.changed_shares]},
        "drift": [{**row, "psi": fixed_decimals(row["psi"]), "ks": fixed_decimals(row["ks"])}
                  for row in found.drift.to_dict("records")],
        "shares": {"reference": ref.shares, "current": found.shares},
        "share_moves": found.share_moves,
        "triggers": triggers.to_dict(),
        "seeds": seeds,
        "decision": decision,
        "verdict": "retrain" if decision["retrain"] else decision["status"],
        "exit_code": EXIT_RETRAIN if decision["retrain"] else EXIT_HEALTHY,
    }


def record_text(record: dict) -> str:
    """The verdict in a few lines, for a scheduler's log."""
    ari, floor = record["ari"], record["floor"]
    top = record["drift"][0] if record["drift"] else None
    lines = [
        f"{record['verdict'].upper()} at {record['as_of']} (model of {record['model']['as_of']}, "
        f"k={record['model']['k']}, {record['customers']['all']:,} customers, window {record['window']})",
        f"frozen vs re-trained ARI {ari['mean']:.3f}; re-trains among themselves {floor['mean']:.3f}; "
        f"{record['changed_share']['median']:.1%} of customers would change segment if re-trained now",
        f"largest segment share move {max(map(abs, record['share_moves'].values())):.1f} points",
    ]
    if top:
        lines.append(f"largest drift: {top['feature']} PSI {top['psi']:.3f} "
                     f"({'model feature' if top['in_model'] else 'not in the model'})")
    ref = record["reference"]
    if ref["customers"] != ref["model_customers"]:
        lines.append(f"note: the model was fitted on {ref['model_customers']:,} customers; the data at its as-of date "
                     f"give {ref['customers']:,} with window {record['window']}: another export or another window?")
    lines.append(decision_text(record["decision"], record["model"]["segments"]))
    return "\n".join(lines) + "\n"
