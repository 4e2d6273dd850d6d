"""Pure logic of the stability package: periods, bands, the staleness test, the decision, the verdict."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from custseg.errors import InputError
from custseg.stability import (
    Period,
    Triggers,
    band,
    decide,
    decision_text,
    first_month_start_after,
    monitor_every_days,
    parse_features,
    parse_period,
    parse_window,
    staleness,
    step_dates,
    verdict_text,
)
from custseg.stability.contract import recommendation

D0 = date(2018, 1, 1)
MONTH = Period(1, "M")


def test_periods_parse_and_follow_the_calendar():
    assert parse_period("1M", "step") == MONTH
    assert parse_period(" 2w", "step") == Period(2, "W")
    assert parse_window("all") is None
    assert parse_window("12M") == Period(12, "M")
    for bad in ("", "M", "0M", "1.5M", "3X", "12 months"):
        with pytest.raises(InputError, match="`step`"):
            parse_period(bad, "step")
    assert step_dates(date(2018, 1, 31), MONTH, date(2018, 4, 30)) == [
        date(2018, 2, 28), date(2018, 3, 31), date(2018, 4, 30)]
    assert step_dates(D0, Period(2, "W"), date(2018, 1, 29)) == [date(2018, 1, 15), date(2018, 1, 29)]
    assert Period(12, "M").before(date(2018, 3, 1)) == date(2017, 3, 1)
    assert Period(3, "M").describe(2) == "6 months" and MONTH.describe() == "1 month"
    assert first_month_start_after(date(2017, 9, 4)) == date(2017, 10, 1)
    assert first_month_start_after(date(2017, 10, 1)) == date(2017, 10, 1)


def test_features_option_names_columns_or_the_study():
    assert parse_features(None) is None and parse_features("") is None
    assert parse_features("study") == ("recency_days", "monetary", "review_score_mean", "answer_days", "mean_items",
                                       "total_items")
    assert parse_features("frequency, monetary") == ("frequency", "monetary")
    with pytest.raises(InputError, match="nope"):
        parse_features("frequency,nope")


def test_band_summarises_scores():
    b = band([0.9, 0.8, 1.0, 0.7, 0.6])
    assert b["n"] == 5 and b["mean"] == 0.8 and b["min"] == 0.6 and b["max"] == 1.0
    assert b["min"] <= b["p05"] <= b["mean"] <= b["p95"] <= b["max"]
    assert band([])["mean"] is None


# -- the staleness test ------------------------------------------------------------------------


def _labels(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, n)


def test_a_frozen_model_equal_to_the_retrains_is_not_stale():
    truth = _labels(3000, 5, 1)
    gap = staleness(truth.copy(), [truth.copy() for _ in range(5)], seed=0)
    assert gap["gap"] == 0 and gap["low"] <= 0 <= gap["high"]


def test_a_frozen_model_that_disagrees_with_agreeing_retrains_is_stale():
    truth = _labels(3000, 5, 1)
    frozen = truth.copy()
    moved = np.random.default_rng(2).random(3000) < 0.2
    frozen[moved] = (frozen[moved] + 1) % 5
    gap = staleness(frozen, [truth.copy() for _ in range(5)], seed=0)
    assert gap["low"] > 0.2 and gap["low"] <= gap["gap"] <= gap["high"]


def test_one_bad_retrain_does_not_decide():
    truth = _labels(3000, 5, 1)
    bad = _labels(3000, 5, 9)  # a re-train stuck in another optimum
    gap = staleness(truth.copy(), [truth.copy()] * 4 + [bad], seed=0)
    assert gap["low"] <= 0  # the frozen model agrees with the re-trains as they agree with each other


def test_the_test_is_deterministic_for_a_seed():
    truth, other = _labels(2000, 4, 1), _labels(2000, 4, 2)
    assert staleness(other, [truth, truth, other], seed=3) == staleness(other, [truth, truth, other], seed=3)


# -- the decision ---------------------------------------------------------------------------------

STALE = {"gap": 0.2, "low": 0.15, "high": 0.25}
FRESH = {"gap": 0.0, "low": -0.01, "high": 0.01}


def _decide(floor=0.99, gap=FRESH, changed=0.0, moves=None, psi=None, whole_history=True, **limits):
    return decide(floor, gap, changed, moves or {"0": 1.0, "1": -1.0}, psi or {"monetary": 0.05},
                  Triggers(**limits), whole_history)


def test_stale_and_material_calls_for_a_retrain_stale_alone_does_not():
    d = _decide(gap=STALE, changed=0.08)
    assert d.retrain and d.status == "retrain" and d.stale and d.material
    assert [r["trigger"] for r in d.reasons] == ["stale"]
    small = _decide(gap=STALE, changed=0.01)
    assert not small.retrain and small.stale and not small.material and small.status == "healthy"
    assert not _decide(gap=FRESH, changed=0.3).retrain  # re-trains disagree with the frozen as with each other


def test_share_and_psi_triggers_fire_on_their_own():
    d = _decide(moves={"0": 6.0, "1": -6.0}, psi={"monetary": 0.3})
    assert [r["trigger"] for r in d.reasons] == ["share_shift", "share_shift", "psi"]
    assert d.to_dict()["reasons"][2] == {"trigger": "psi", "feature": "monetary", "psi": 0.3, "limit": 0.2}


def test_recency_and_tenure_grow_with_the_calendar_under_a_whole_history_window_only():
    psi = {"recency_days": 0.9, "tenure_days": 0.7}
    assert not _decide(psi=psi, whole_history=True).retrain
    assert [r["feature"] for r in _decide(psi=psi, whole_history=False).reasons] == ["recency_days", "tenure_days"]


def test_unreliable_retrains_are_inconclusive_never_noise_and_never_hide_a_trigger():
    d = _decide(floor=0.5, gap=STALE, changed=0.3)
    assert d.status == "inconclusive" and d.stale is None and not d.retrain
    flagged = _decide(floor=0.5, gap=STALE, changed=0.3, moves={"0": 9.0})
    assert flagged.retrain and flagged.status == "retrain"
    assert "noise" not in decision_text(d.to_dict()) and "inconclusive" in decision_text(d.to_dict())


def test_triggers_are_checked():
    for bad in ({"changed_share": 0}, {"reliable_ari": 1.5}, {"psi_max": 0}):
        with pytest.raises(InputError):
            Triggers(**bad).checked()


# -- the verdict ------------------------------------------------------------------------------------


class _Model:
    algorithm = "kmeans"
    record = {"candidates": [{"algorithm": "kmeans", "k": 3, "stability": 0.95, "jaccard_min": 0.8},
                             {"algorithm": "kmeans", "k": 5, "stability": 0.6, "jaccard_min": 0.4}]}


def _result(statuses: list[str], floor_at_reference: float = 0.99) -> dict:
    steps = []
    for i, status in enumerate(statuses, start=1):
        retrain = status == "retrain"
        reasons = [{"trigger": "share_shift", "segment": "0", "points": 6.0, "limit": 5.0}] if retrain else []
        steps.append({"as_of": MONTH.after(D0, i).isoformat(), "drivers": [], "share_moves": {"0": 1.0},
                      "changed_share": {"median": 0.01 * i},
                      "decision": {"retrain": retrain, "status": status, "reasons": reasons}})
    return {"protocol": {"reference_date": D0.isoformat(), "step": "1M", "k": 5, "window": "all",
                         "triggers": Triggers().to_dict()},
            "reference": {"reliable": floor_at_reference >= 0.8, "floor": {"mean": floor_at_reference}},
            "steps": steps}


def test_no_flagged_step_is_stable_with_the_trend_in_numbers():
    result = _result(["healthy", "healthy", "inconclusive", "healthy"])
    rec = recommendation(result, _Model())
    assert rec["verdict"] == "stable" and rec["retrain_by"] is None and rec["retrain_every"] is None
    assert rec["trend"]["changed_share"] == 0.04 and rec["inconclusive_steps"] == ["2018-04-01"]
    result["recommendation"] = rec
    assert verdict_text(result).startswith("stable") and "4.0% of customers" in verdict_text(result)


def test_the_first_flagged_step_sets_the_interval_later_ones_are_listed():
    result = _result(["healthy", "inconclusive", "retrain", "healthy", "retrain"])
    rec = recommendation(result, _Model())
    assert rec["verdict"] == "retrain" and rec["retrain_by"] == "2018-04-01"
    assert rec["retrain_every"] == "3M" and rec["retrain_every_days"] == 90
    assert rec["later_flagged"] == ["2018-06-01"]
    result["recommendation"] = rec
    text = verdict_text(result)
    assert "every 3 months" in text and "noise" not in text


def test_retrains_that_disagree_at_the_reference_are_unstable_with_no_interval():
    rec = recommendation(_result(["retrain"], floor_at_reference=0.6), _Model())
    assert rec["verdict"] == "unstable" and rec["retrain_by"] is None and rec["retrain_every"] is None
    assert rec["stable_ks"] == [3]


def test_monitor_cadence():
    assert monitor_every_days(59, 243, 31) == 14
    assert monitor_every_days(None, 243, 31) == 31
    assert monitor_every_days(20, 243, 31) == 7


def test_the_monitor_line_says_how_often_in_the_calendar_and_names_a_real_model():
    from custseg.stability.views import every_text, monitor_command, monitor_text

    assert [every_text(d) for d in (31, 30, 28, 59, 61, 7, 14, 10)] == [
        "every month", "every month", "every month", "every 2 months", "every 2 months", "every week",
        "every 2 weeks", "every 10 days"]
    monitor = {"every_days": 31, "command": monitor_command("MODEL", "data", "all")}
    unsaved = monitor_text(monitor)
    assert unsaved.startswith("Check every month with: custseg monitor MODEL data --as-of YYYY-MM-DD")
    assert "did not save" in unsaved and "--save-model FILE" in unsaved and "31 days" not in unsaved
    saved = monitor_text(monitor, "out/ref model.json")
    assert "custseg monitor 'out/ref model.json' data" in saved and "MODEL" not in saved
    assert "save" not in saved
    deployed = {"every_days": 14, "command": monitor_command("model.json", "data", "12M")}
    assert monitor_text(deployed).startswith("Check every 2 weeks with: custseg monitor model.json data")
    assert "save" not in monitor_text(deployed)
