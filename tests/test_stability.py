"""The temporal backtest on planted data: no drift stays in the noise floor, planted drift leaves it.

Synthetic data (custseg.synth, 4,000 customers over 2016-09..2018-08) with and without a structure
change from month 18 (2018-02-01); reference 2017-09-01, monthly steps, 12-month window, k=5 (the
planted personas; the smallest holds about 2% of customers, hence min_share=0.01).
"""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from hostile import assert_refused
from custseg.ingest import load
from custseg.model import SegmentModel
from custseg.segment import fit_preprocessing
from custseg.stability import BacktestSettings, Period, backtest, features_at

DRIFT_MONTH = 18  # 1-based month of the synthetic horizon starting 2016-09: 2018-02
DRIFT_START = "2018-02-01"
SETTINGS = BacktestSettings(window=Period(12, "M"), k=5, seeds=4, jobs=1, measure_cost=False, min_share=0.01)


@pytest.fixture(scope="module")
def nodrift_dir(make_synth):
    return make_synth(customers=4000, seed=1)


@pytest.fixture(scope="module")
def drift_dir(make_synth):
    return make_synth(customers=4000, seed=1, drift_month=DRIFT_MONTH)


@pytest.fixture(scope="module")
def stable_run(nodrift_dir):
    return backtest(load(nodrift_dir), SETTINGS)


@pytest.fixture(scope="module")
def drift_run(drift_dir):
    return backtest(load(drift_dir), SETTINGS)


def test_without_drift_every_step_is_healthy_and_the_verdict_is_stable(stable_run):
    result = stable_run.result
    assert result["protocol"]["reference_date"] == "2017-09-01"  # first month-end with 12 months of history
    assert [s["as_of"] for s in result["steps"]] == [f"{y}-{m:02d}-01" for y, m in
                                                      [(2017, 10), (2017, 11), (2017, 12)] + [(2018, m) for m in range(1, 9)]]
    for step in result["steps"]:
        assert not step["decision"]["retrain"], step["as_of"]
        assert step["ari"]["all"]["n"] == 4 and step["floor"]["all"]["n"] == 6
        assert step["ari"]["all"]["min"] <= step["ari"]["all"]["mean"] <= step["ari"]["all"]["max"]
    # the re-train procedure is the engine's fit with more starts: at D0 it gives nearly the frozen labels
    assert result["reference"]["ari"]["retrained"] >= 0.95 and result["reference"]["reliable"]
    assert result["recommendation"]["verdict"] == "stable"
    assert result["recommendation"]["retrain_every"] is None
    assert result["contract"]["stable_over_horizon"]


def test_planted_drift_is_flagged_after_the_drift_month_with_a_sliding_window_too(drift_run):
    steps = drift_run.result["steps"]
    assert not any(s["decision"]["retrain"] for s in steps if s["as_of"] <= DRIFT_START)
    rec = drift_run.result["recommendation"]
    assert rec["verdict"] == "retrain" and rec["retrain_by"] > DRIFT_START
    # the planted persona is a tiny-basket, freight-heavy voucher payer: segment shares move
    last = steps[-1]
    assert max(abs(v) for v in last["share_moves"].values()) > 5
    assert {"mean_basket", "freight_share"} & set(last["drivers"])


def test_frozen_model_is_never_refitted_its_labels_are_the_saved_models_assign(drift_run, drift_dir, tmp_path):
    path = drift_run.model.save(tmp_path / "reference.json")
    saved = SegmentModel.load(path)
    ds = load(drift_dir)
    day = date(2018, 6, 1)
    table = features_at(ds, day, Period(12, "M"), ("delivered",))
    expected = saved.assign_features(table)[["customer_unique_id", "segment_id"]]
    got = drift_run.labels[drift_run.labels["as_of"] == day.isoformat()]
    merged = expected.merge(got, on="customer_unique_id", validate="one_to_one")
    assert len(merged) == len(table) == len(got)
    assert (merged["segment_id"] == merged["frozen"]).all()
    # teeth: preprocessing refitted at t with the same centroids would label customers differently
    refitted = fit_preprocessing(table, saved.feature_names)
    moved = saved.predict(refitted.transform(table)) != expected["segment_id"].to_numpy()
    assert moved.any()
    # and the reference model's parameters are those fitted at the reference date
    assert saved.as_of == "2017-09-01"
    assert saved.to_dict()["checksum"] == drift_run.model.to_dict()["checksum"]


def test_cohort_is_matched_by_customer_id_and_new_customers_get_both_labels(drift_run, drift_dir):
    ds = load(drift_dir)
    reference_ids = set(features_at(ds, date(2017, 9, 1), Period(12, "M"), ("delivered",))["customer_unique_id"])
    labels = drift_run.labels
    for step in drift_run.result["steps"]:
        at = labels[labels["as_of"] == step["as_of"]]
        cohort = at["customer_unique_id"].isin(reference_ids)
        assert (at["in_reference_cohort"] == cohort).all()
        assert step["customers"]["cohort"] == int(cohort.sum())
        assert step["customers"]["new"] == int((~cohort).sum()) > 0
        assert step["customers"]["cohort_gone"] == len(reference_ids) - int(cohort.sum())
    assert labels[["frozen", "retrained"]].notna().all().all()
    assert (labels[["frozen", "retrained"]] >= 0).all().all()
    assert not labels.duplicated(["as_of", "customer_unique_id"]).any()


def test_result_states_its_protocol_drift_and_migration(drift_run):
    result = json.loads(json.dumps(drift_run.result))  # plain JSON values only
    proto = result["protocol"]
    for key in ("reference_date", "step", "window", "k", "seeds", "frozen", "retrained", "noise_floor", "decision",
                "customer_sets", "metrics", "drift", "migration", "interval"):
        assert key in proto
    assert proto["window"] == "12M" and proto["k"] == 5
    step = result["steps"][-1]
    features = {d["feature"] for d in step["drift"]}
    assert set(proto["model_features"]) <= features
    assert all(d["psi"] >= 0 and 0 <= d["ks"] <= 1 for d in step["drift"])
    counts = np.array(step["migration"]["counts"])
    assert counts.sum() == step["customers"]["all"]
    assert sum(step["shares"]["frozen"].values()) == pytest.approx(1, abs=1e-3)
    contract = result["contract"]
    assert set(contract["triggers"]) == {"share_points", "psi_max", "changed_share", "reliable_ari"}
    assert contract["retrain_cost"] is None  # measure_cost=False


def test_cli_writes_the_result_and_contract_deterministically(cli, nodrift_dir, tmp_path):
    args = ["stability", nodrift_dir, "--start", "2018-01-01", "--step", "3M", "--window", "12M", "--k", "5",
            "--min-share", "0.01", "--seeds", "3", "--jobs", "1", "--no-cost"]
    first = cli(*args, "-o", tmp_path / "a.json", "--save-model", tmp_path / "model.json",
                "--labels", tmp_path / "labels.csv")
    assert first.code == 0, first.stderr
    second = cli(*args, "-o", tmp_path / "b.json")
    assert second.code == 0, second.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    result = json.loads((tmp_path / "a.json").read_text())
    assert [s["as_of"] for s in result["steps"]] == ["2018-04-01", "2018-07-01"]
    assert "Maintenance contract" in first.stdout
    # the monitor's line names the model saved, or says how to save it
    said_first, said_second = " ".join(first.stdout.split()), " ".join(second.stdout.split())
    assert f"custseg monitor {tmp_path / 'model.json'} " in said_first and "did not save" not in said_first
    assert "custseg monitor MODEL " in said_second and "--save-model FILE" in said_second
    assert SegmentModel.load(tmp_path / "model.json").as_of == "2018-01-01"
    assert set(pd.read_csv(tmp_path / "labels.csv")["as_of"]) == {"2018-04-01", "2018-07-01"}


def test_cli_measures_the_cost_of_one_retrain_and_replays_the_study_features(cli, nodrift_dir, tmp_path):
    run = cli("stability", nodrift_dir, "--start", "2018-05-01", "--step", "3M", "--k", "5", "--min-share", "0.01",
              "--seeds", "2", "--features", "study", "--jobs", "1", "-o", tmp_path / "r.json")
    assert run.code == 0, run.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["protocol"]["model_features"] == ["recency_days", "monetary", "review_score_mean", "answer_days",
                                                    "mean_items", "total_items"]
    cost = result["contract"]["retrain_cost"]
    assert cost["seconds"] > 0 and cost["peak_memory_mb"] > 0 and cost["customers"] > 0
    assert "Cost of one re-train" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["--window", "1 year"], "--window"),
    (["--changed-share", "1.5"], "--changed-share must be in (0, 1)"),
    (["--seeds", "1"], "--seeds"),
    (["--features", "frequency,nope"], "nope"),
    (["--start", "2020-01-01"], "no step between"),
    (["--start", "2016-01-01"], "choose a later --start"),
])
def test_cli_bad_input_exits_2_with_one_line_and_no_output(cli, nodrift_dir, tmp_path, args, message):
    out = tmp_path / "r.json"
    run = cli("stability", nodrift_dir, "-o", out, "--k", "4", "--jobs", "1", *args)
    # one error line (a progress line may come before it on a slow machine: the work had begun)
    assert_refused(run, 2, message)
    assert not out.exists()


@pytest.mark.realdata
@pytest.mark.parametrize("window", ["12M", "all"])
def test_olist_backtest_from_2018_01_to_2018_09(cli, olist_dir, tmp_path, window):
    out = tmp_path / f"olist_{window}.json"
    # every second month: the same checks at half the cost of a monthly replay; one process (the
    # results do not depend on --jobs, test_model checks it; starting workers costs more than they save)
    run = cli("stability", olist_dir, "-o", out, "--start", "2018-01-01", "--until", "2018-09-01",
              "--step", "2M", "--window", window, "--k", "8", "--seeds", "2", "--jobs", "1")
    assert run.code == 0, run.stderr
    result = json.loads(out.read_text())
    assert [s["as_of"] for s in result["steps"]] == [f"2018-{m:02d}-01" for m in range(3, 10, 2)]
    for step in result["steps"]:
        for name in ("all", "cohort"):
            assert 0 < step["ari"][name]["mean"] <= 1
        assert step["customers"]["cohort"] > 0 and step["customers"]["new"] > 0
    if window == "all":
        # whole history: nobody present at the reference date ever leaves
        assert all(s["customers"]["cohort_gone"] == 0 for s in result["steps"])
    assert result["recommendation"]["verdict"] in ("stable", "retrain", "unstable")
    assert result["contract"]["retrain_cost"]["customers"] > 40_000
