"""The verdict of a backtest and the maintenance contract that follows from it.

Three verdicts, never mixed: ``unstable`` (re-training is unreliable at the reference date: no
interval can be given), ``retrain`` (the first step whose decision is retrain gives the interval,
from the reference date to that step) and ``stable`` (no step flagged in the horizon). Numbers
only: the wording is the views' (:mod:`custseg.stability.views`).
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from ..model import SegmentModel
from .views import MODEL_PLACEHOLDER, monitor_command


def stable_ks(model: SegmentModel, reliable_ari: float) -> list[int]:
    """The k values the engine's bootstrap found stable at the reference fit (mean ARI >= ``reliable_ari``,
    no segment dissolving), for the model's algorithm."""
    rows = [c for c in model.record.get("candidates", []) if c.get("algorithm") == model.algorithm]
    return sorted({int(c["k"]) for c in rows if (c.get("stability") or 0) >= reliable_ari
                   and (c.get("jaccard_min") or 0) >= 0.6})


def recommendation(result: dict, model: SegmentModel) -> dict:
    """The verdict, the re-train interval and the evidence, from the steps' decisions."""
    proto, ref, steps = result["protocol"], result["reference"], result["steps"]
    reference = date.fromisoformat(proto["reference_date"])
    horizon = steps[-1]["as_of"] if steps else proto["reference_date"]
    flagged = [s for s in steps if s["decision"]["retrain"]]
    inconclusive = [s["as_of"] for s in steps if s["decision"]["status"] == "inconclusive"]
    last = steps[-1] if steps else None
    trend = {"as_of": last["as_of"], "changed_share": last["changed_share"]["median"],
             "largest_share_move": max((abs(v) for v in last["share_moves"].values()), default=0.0)} if last else None
    base = {"horizon": horizon, "inconclusive_steps": inconclusive, "trend": trend,
            "floor_at_reference": ref["floor"]["mean"]}
    if not ref["reliable"]:
        return {**base, "verdict": "unstable", "retrain_by": None, "retrain_every": None, "retrain_every_days": None,
                "retrain_every_steps": None, "stable_ks": stable_ks(model, proto["triggers"]["reliable_ari"]),
                "first": None, "later_flagged": []}
    if not flagged:
        return {**base, "verdict": "stable", "retrain_by": None, "retrain_every": None, "retrain_every_days": None,
                "retrain_every_steps": None, "first": None, "later_flagged": []}
    first = flagged[0]
    index = steps.index(first) + 1
    return {**base, "verdict": "retrain", "retrain_by": first["as_of"],
            "retrain_every": f"{index * int(proto['step'][:-1])}{proto['step'][-1]}",
            "retrain_every_days": (date.fromisoformat(first["as_of"]) - reference).days,
            "retrain_every_steps": index,
            "first": {"as_of": first["as_of"], "reasons": first["decision"]["reasons"], "drivers": first["drivers"]},
            "later_flagged": [s["as_of"] for s in flagged[1:]]}


def monitor_every_days(retrain_days: int | None, horizon_days: int, step_days: int) -> int:
    """How often to run ``custseg monitor``: four checks per re-train interval, weekly at most.

    Four checks per interval catch a trigger within a quarter of it; more often than weekly adds
    little (a customer's features barely move in days); less often than one backtest step would
    miss what the backtest can see.
    """
    interval = retrain_days if retrain_days else horizon_days
    return int(min(max(interval // 4, 7), max(step_days, 7)))


def maintenance_contract(result: dict, cost: dict | None, model_path: str = MODEL_PLACEHOLDER,
                         data_path: str | None = None, deployed_as_of: str | None = None) -> dict:
    """The maintenance contract of a backtest ``result``: for the model deployed at ``deployed_as_of``
    (default: the reference model), re-train by (its date plus the interval), monitoring, triggers, cost."""
    proto, rec = result["protocol"], result["recommendation"]
    reference = date.fromisoformat(proto["reference_date"])
    horizon_days = (date.fromisoformat(rec["horizon"]) - reference).days
    first_step = result["steps"][0]["as_of"] if result["steps"] else proto["reference_date"]
    step_days = (date.fromisoformat(first_step) - reference).days
    model_as_of = deployed_as_of or proto["reference_date"]
    retrain_by = None
    if rec["verdict"] == "retrain":
        offset = pd.DateOffset(**{{"D": "days", "W": "weeks", "M": "months", "Y": "years"}[proto["step"][-1]]:
                                  int(proto["step"][:-1]) * rec["retrain_every_steps"]})
        retrain_by = (pd.Timestamp(model_as_of) + offset).date().isoformat()
    return {
        "model_as_of": model_as_of,
        "verdict": rec["verdict"],
        "retrain_every": rec["retrain_every"],
        "retrain_every_days": rec["retrain_every_days"],
        "retrain_by": retrain_by,
        "stable_over_horizon": rec["verdict"] == "stable",
        "monitor": {"every_days": monitor_every_days(rec["retrain_every_days"], horizon_days, step_days),
                    "command": monitor_command(model_path, data_path or result["data"]["path"], proto["window"])},
        "triggers": proto["triggers"],
        "retrain_cost": cost,
    }
