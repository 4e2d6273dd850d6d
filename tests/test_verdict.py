"""The maintenance verdict on planted truth, and one decision for the backtest and the monitor.

Synthetic Olist data (custseg.synth, 4,000 customers from 2016-09) with a structure change from
month 18 (2018-02-01), with and without a shifting persona mix, and without drift at three seeds;
a transaction log with no structure at all (one Gaussian blob); and a log whose model features
include recency. Backtests run once per session and are shared by the assertions (kept small:
k = 5, 3 re-trains per date, steps up to 2018-04-01).
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custseg.ingest import load, open_data
from custseg.model import SegmentModel
from custseg.monitor import check
from custseg.schema import LogMapping
from custseg.stability import BacktestSettings, Period, Triggers, backtest, contract_text, verdict_text

ONSET = "2018-02-01"  # month 18 of the synthetic horizon
FIRST_AFTER = "2018-03-01"  # the first monthly step with drifted data
QUICK = BacktestSettings(k=5, min_share=0.01, jobs=1, seeds=3, measure_cost=False, until=date(2018, 4, 1))
LOG = LogMapping("client", "day", "paid")


@pytest.fixture(scope="session")
def planted(make_synth):
    """name -> (data directory, Backtest) for the planted-drift and no-drift data."""
    made = {}
    for name, options in {"drift": {"drift_month": 18}, "drift+mix": {"drift_month": 18, "drift_mix": True},
                          "none-1": {"seed": 1}, "none-2": {"seed": 2}, "none-3": {"seed": 3}}.items():
        data = make_synth(**{"customers": 4000, "seed": 1, **options})
        made[name] = (data, backtest(load(data), QUICK))
    return made


@pytest.mark.parametrize("name", ["drift", "drift+mix"])
def test_planted_drift_is_retrain_from_the_first_drifted_step_and_never_before(planted, name):
    result = planted[name][1].result
    rec = result["recommendation"]
    assert rec["verdict"] == "retrain" and rec["retrain_by"] == FIRST_AFTER
    assert [s["as_of"] for s in result["steps"] if s["decision"]["retrain"]][0] == FIRST_AFTER
    assert not any(s["decision"]["retrain"] for s in result["steps"] if s["as_of"] <= ONSET)
    assert rec["retrain_every"] == "6M" and rec["retrain_every_days"] == (date(2018, 3, 1) - date(2017, 9, 1)).days
    first = next(s for s in result["steps"] if s["as_of"] == FIRST_AFTER)["decision"]
    assert first["stale"] and first["material"]  # the frozen model is stale, not only a share that moved
    text = verdict_text(result) + contract_text(result)
    assert "noise" not in text and f"re-train at {FIRST_AFTER}" in text


@pytest.mark.parametrize("name", ["none-1", "none-2", "none-3"])
def test_without_drift_the_verdict_is_stable_and_no_step_is_flagged(planted, name):
    result = planted[name][1].result
    assert result["recommendation"]["verdict"] == "stable" and result["recommendation"]["retrain_by"] is None
    assert not any(s["decision"]["retrain"] for s in result["steps"])
    assert result["reference"]["reliable"] and result["contract"]["retrain_by"] is None
    assert verdict_text(result).startswith("stable")


def test_the_result_names_segments_and_states_its_rule(planted):
    data, run = planted["drift"]
    result = json.loads(json.dumps(run.result))  # plain JSON
    assert result["reference"]["segments"] == {str(i): n for i, n in zip(run.model.ids, run.model.names)}
    assert {"reliable", "stale", "material", "retrain"} <= set(result["protocol"]["decision"])
    assert "bootstrap" in result["protocol"]["decision"]["stale"]
    assert result["protocol"]["n_init"] >= 10
    step = result["steps"][-1]
    assert set(step["decision"]) >= {"retrain", "reasons", "status", "reliable", "stale", "material",
                                     "changed_share"}
    assert all(isinstance(r, dict) for r in step["decision"]["reasons"])  # data, no prose


def test_monitor_with_the_saved_reference_model_says_what_each_step_decided(planted, tmp_path):
    data, run = planted["drift"]
    model = SegmentModel.load(run.model.save(tmp_path / "reference.json"))
    ds = load(data)
    for step in run.result["steps"]:
        record = check(model, ds, date.fromisoformat(step["as_of"]), None, Triggers(), seeds=3)
        assert record["decision"] == step["decision"], step["as_of"]
        assert record["exit_code"] == (3 if step["decision"]["retrain"] else 0)


def test_monitor_cli_exit_codes_follow_the_backtest(planted, cli, tmp_path):
    data, run = planted["drift"]
    path = run.model.save(tmp_path / "reference.json")
    for day in ("2018-02-01", FIRST_AFTER):
        step = next(s for s in run.result["steps"] if s["as_of"] == day)
        out = tmp_path / f"{day}.json"
        done = cli("monitor", path, data, "--as-of", day, "--seeds", "3", "-o", out)
        assert done.code == (3 if step["decision"]["retrain"] else 0), done.stdout + done.stderr
        assert json.loads(out.read_text())["decision"] == step["decision"]


# -- no structure: one Gaussian blob ------------------------------------------------------------


def _write_log(path: Path, rows: dict) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_one_gaussian_blob_at_k5_is_unstable_with_no_interval(tmp_path):
    rng = np.random.default_rng(5)
    n = 3000
    days = np.clip(rng.normal(0, 50, n), -150, 150).round()  # purchase dates: a bell around 2017-07-01
    log = _write_log(tmp_path / "blob.csv", {
        "client": [f"c{i}" for i in range(n)],
        "day": (pd.Timestamp("2017-07-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
        "paid": np.exp(rng.normal(4, 0.5, n)).round(2)})
    settings = BacktestSettings(reference=date(2018, 1, 1), until=date(2018, 3, 1), k=5, min_share=0.01, jobs=1,
                                seeds=3, measure_cost=False, features=("recency_days", "mean_basket"))
    result = backtest(open_data(log, LOG), settings).result
    rec = result["recommendation"]
    assert not result["reference"]["reliable"]
    assert rec["verdict"] == "unstable" and rec["retrain_by"] is None and rec["retrain_every"] is None
    assert result["contract"]["retrain_by"] is None
    assert verdict_text(result).startswith("unstable") and "noise" not in verdict_text(result)


# -- recency as a model feature (a CDNOW-like log) ------------------------------------------------


@pytest.fixture(scope="session")
def recency_log(tmp_path_factory) -> Path:
    """A cohort that first buys in early 2017 and repeats at exponential gaps until it churns."""
    rng = np.random.default_rng(3)
    rows = []
    for c in range(1500):
        day = pd.Timestamp("2017-01-01") + pd.Timedelta(days=int(rng.integers(0, 90)))
        gap, alive = rng.choice([20, 60, 150]), 0.9 if c % 3 else 0.6
        while day < pd.Timestamp("2018-07-01"):
            rows.append((f"c{c}", day.strftime("%Y-%m-%d"), round(float(np.exp(rng.normal(3, 0.7))), 2)))
            if rng.random() > alive:
                break
            day += pd.Timedelta(days=int(rng.exponential(gap)) + 1)
    path = tmp_path_factory.mktemp("recency") / "log.csv"
    return _write_log(path, {"client": [r[0] for r in rows], "day": [r[1] for r in rows],
                             "paid": [r[2] for r in rows]})


def test_with_recency_in_the_model_the_monitor_replays_every_step(recency_log, tmp_path):
    settings = BacktestSettings(reference=date(2018, 1, 1), step=Period(1, "M"), until=date(2018, 6, 1), k=4,
                                jobs=1, seeds=3, measure_cost=False,
                                features=("recency_days", "frequency", "monetary"))
    ds = open_data(recency_log, LOG)
    run = backtest(ds, settings)
    model = SegmentModel.load(run.model.save(tmp_path / "reference.json"))
    decisions = [s["decision"] for s in run.result["steps"]]
    for step in run.result["steps"]:
        record = check(model, ds, date.fromisoformat(step["as_of"]), None, Triggers(), seeds=3)
        assert record["decision"] == step["decision"], step["as_of"]
    # recency grows with the calendar under a whole-history window: its PSI never triggers by itself
    assert not any(r.get("feature") == "recency_days" for d in decisions for r in d["reasons"])
