"""Pure logic of the stability module: periods, bands, the recommendation, the monitor's verdict."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.monitor import EXIT_HEALTHY, EXIT_RETRAIN, Triggers, share_moves, verdict
from custseg.stability import (
    Period,
    band,
    first_month_start_after,
    monitor_every_days,
    parse_period,
    parse_threshold,
    parse_window,
    recommendation,
    step_dates,
    step_verdict,
)

D0 = date(2018, 1, 1)
MONTH = Period(1, "M")


def test_periods_parse_and_follow_the_calendar():
    assert parse_period("1M", "--step") == MONTH
    assert parse_period(" 2w", "--step") == Period(2, "W")
    assert parse_window("all") is None
    assert parse_window("12M") == Period(12, "M")
    for bad in ("", "M", "0M", "1.5M", "3X", "12 months"):
        with pytest.raises(InputError, match="--step"):
            parse_period(bad, "--step")
    assert step_dates(date(2018, 1, 31), MONTH, date(2018, 4, 30)) == [
        date(2018, 2, 28), date(2018, 3, 31), date(2018, 4, 30)]
    assert step_dates(D0, Period(2, "W"), date(2018, 1, 29)) == [date(2018, 1, 15), date(2018, 1, 29)]
    assert Period(12, "M").before(date(2018, 3, 1)) == date(2017, 3, 1)
    assert Period(3, "M").describe(2) == "6 months" and MONTH.describe() == "1 month"
    assert first_month_start_after(date(2017, 9, 4)) == date(2017, 10, 1)
    assert first_month_start_after(date(2017, 10, 1)) == date(2017, 10, 1)


def test_threshold_is_a_number_or_floor():
    assert parse_threshold("0.8") == 0.8
    assert parse_threshold("floor") is None
    for bad in ("x", "0", "1.2", "-0.1"):
        with pytest.raises(InputError, match="--threshold"):
            parse_threshold(bad)


def test_band_summarises_scores():
    b = band([0.9, 0.8, 1.0, 0.7, 0.6])
    assert b["n"] == 5 and b["mean"] == 0.8 and b["min"] == 0.6 and b["max"] == 1.0
    assert b["min"] <= b["p05"] <= b["mean"] <= b["p95"] <= b["max"]
    assert band([])["mean"] is None


def _steps(lowers: list[float], floor_lower: float = 0.95, threshold: float | None = 0.8, margin: float = 0.1):
    steps = []
    for i, lower in enumerate(lowers, start=1):
        ari, floor = {"p05": lower, "mean": lower + 0.02}, {"p05": floor_lower, "mean": floor_lower + 0.02}
        steps.append({
            "as_of": MONTH.after(D0, i).isoformat(),
            "ari": {"all": ari},
            "floor": {"all": floor},
            "drivers": ["monetary"] if lower < 0.8 else [],
            **step_verdict(ari, floor, threshold, margin),
        })
    return steps


def test_step_verdict_compares_the_band_lower_bound_with_the_threshold_and_the_floor():
    floor = {"p05": 0.95}
    assert step_verdict({"p05": 0.82}, floor, 0.8, 0.1) == {"threshold": 0.8, "passes": True, "within_floor": False}
    assert step_verdict({"p05": 0.7}, floor, 0.8, 0.1)["passes"] is False
    noisy = step_verdict({"p05": 0.6}, {"p05": 0.65}, 0.8, 0.1)
    assert noisy["within_floor"] and not noisy["passes"]
    assert step_verdict({"p05": 0.86}, floor, None, 0.1) == {"threshold": 0.85, "passes": True, "within_floor": True}


def test_never_crossing_means_stable_over_the_horizon_not_retrain_every_n():
    rec = recommendation(_steps([0.95, 0.9, 0.92, 0.85]), D0, MONTH, 0.8)
    assert rec["verdict"] == "stable"
    assert rec["retrain_every"] is None and rec["evidence"] is None
    assert "stable over the whole horizon" in rec["text"] and "re-train every" not in rec["text"]
    assert rec["horizon"] == "2018-05-01"


def test_first_failing_step_sets_the_interval_and_the_evidence():
    rec = recommendation(_steps([0.95, 0.9, 0.7, 0.93, 0.6]), D0, MONTH, 0.8)
    assert rec["verdict"] == "retrain"
    assert rec["retrain_every"] == "2 months"
    assert rec["retrain_every_days"] == 59
    ev = rec["evidence"]
    assert ev["as_of"] == "2018-04-01" and ev["steps_after_reference"] == 3
    assert ev["below_by"] == pytest.approx(0.1)
    assert ev["drivers"] == ["monetary"] and not ev["within_floor"]
    assert ev["later_steps_below"] == ["2018-06-01"]
    assert "beyond the noise floor; drifting model features: monetary" in rec["text"]


def test_a_crossing_within_the_noise_floor_is_called_noise_not_drift():
    rec = recommendation(_steps([0.95, 0.7], floor_lower=0.72), D0, MONTH, 0.8)
    assert rec["retrain_every"] == "1 month"
    assert rec["evidence"]["within_floor"] and "re-training noise rather than drift" in rec["text"]


def test_crossing_at_the_first_step_asks_for_every_step():
    rec = recommendation(_steps([0.5, 0.9]), D0, MONTH, 0.8)
    assert rec["retrain_every"] == "1 month" and "every step" in rec["text"]


def test_floor_mode_compares_with_the_floor_lower_bound_minus_margin():
    steps = _steps([0.86, 0.84, 0.7], floor_lower=0.95, threshold=None, margin=0.1)
    assert [s["threshold"] for s in steps] == [0.85, 0.85, 0.85]
    rec = recommendation(steps, D0, MONTH, None, 0.1)
    assert rec["threshold"] == "floor" and rec["retrain_every"] == "1 month"
    assert "noise-floor" in rec["rule"]


def test_monitor_cadence():
    assert monitor_every_days(59, 243, 31) == 14
    assert monitor_every_days(None, 243, 31) == 31
    assert monitor_every_days(20, 243, 31) == 7


def test_verdict_fires_each_trigger_and_maps_to_exit_codes():
    drift = pd.DataFrame({"feature": ["recency_days", "monetary", "customer_age"], "psi": [0.05, 0.1, 0.9]})
    ok = verdict({"p05": 0.9}, {"p05": 0.95}, drift, ["recency_days", "monetary"], [1.0, -2.0], Triggers())
    assert ok["verdict"] == "healthy" and ok["exit_code"] == EXIT_HEALTHY and ok["reasons"] == []
    drift.loc[1, "psi"] = 0.3
    bad = verdict({"p05": 0.7}, {"p05": 0.95}, drift, ["recency_days", "monetary"], [6.0, -6.0], Triggers())
    assert bad["exit_code"] == EXIT_RETRAIN
    assert len(bad["reasons"]) == 4
    assert "ARI" in bad["reasons"][0] and "monetary" in bad["reasons"][1]
    floor = verdict({"p05": 0.8}, {"p05": 0.95}, drift.iloc[:1], ["recency_days"], [0.0], Triggers(ari=None))
    assert floor["ari_limit"] == 0.85 and floor["exit_code"] == EXIT_RETRAIN
    noisy = verdict({"p05": 0.6}, {"p05": 0.62}, drift.iloc[:1], ["recency_days"], [0.0], Triggers())
    assert noisy["exit_code"] == EXIT_RETRAIN and "within (re-training noise)" in noisy["reasons"][0]


def test_share_moves_in_points():
    assert share_moves([0.5, 0.5], [0.45, 0.55]) == [-5.0, 5.0]
