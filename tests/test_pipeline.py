"""`custseg run` and `custseg demo`: every output, all-or-nothing, deterministic."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import run_cli
from custseg.errors import InputError
from custseg.pipeline import run
from custseg.stability import BacktestSettings, Period

OUTPUTS = {"validation.json", "features.parquet", "rfm.csv", "model.json", "segments.csv", "segments_by_rfm.csv",
           "stability.json", "report.html"}
# A cheap backtest: two-month steps, two re-trains per date.
QUICK = BacktestSettings(step=Period(2, "M"), seeds=2, measure_cost=False)


@pytest.fixture(scope="module")
def ran(synth_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return run(synth_dir, out, seed=3, stability=QUICK)


def test_run_writes_every_output_and_nothing_else(ran):
    assert {p.name for p in ran.out_dir.iterdir()} == OUTPUTS
    assert set(ran.files) == {"validation", "features", "rfm", "model", "segments", "segments_by_rfm", "stability",
                              "report"}


def test_run_outputs_agree_with_each_other(ran, synth_dir):
    features = pd.read_parquet(ran.files["features"])
    segments = pd.read_csv(ran.files["segments"])
    rfm = pd.read_csv(ran.files["rfm"])
    assert len(features) == len(segments) == len(rfm) == ran.customers
    assert list(segments["customer_unique_id"]) == list(features["customer_unique_id"])
    model = json.loads(ran.files["model"].read_text())
    assert sorted(segments["segment_id"].unique()) == [s["id"] for s in model["segments"]]
    stability = json.loads(ran.files["stability"].read_text())
    assert stability["steps"] and stability["recommendation"]["verdict"] in ("stable", "retrain", "unstable")
    # the contract speaks of the deployed model: its date, its file, re-train by its date + the interval
    contract = stability["contract"]
    assert contract["model_as_of"] == model["as_of"] == ran.as_of.isoformat()
    assert contract["monitor"]["command"][:4] == ["custseg", "monitor", "model.json", str(synth_dir.resolve())]
    if contract["retrain_by"]:
        steps = stability["recommendation"]["retrain_every_steps"]
        assert contract["retrain_by"] == (pd.Timestamp(ran.as_of) + pd.DateOffset(months=2 * steps)).date().isoformat()
    assert stability["protocol"]["seeds"] == QUICK.seeds
    # the segment x RFM table counts the same customers as segments.csv and rfm.csv joined by hand
    cross = pd.read_csv(ran.files["segments_by_rfm"]).set_index("segment_id")
    joined = pd.crosstab(segments["segment_id"], rfm["segment"])
    for rfm_segment in joined.columns:
        assert (cross[rfm_segment] == joined[rfm_segment].reindex(cross.index, fill_value=0)).all()
    assert (cross["total"] == segments["segment_id"].value_counts().reindex(cross.index)).all()
    # the summary: shares of customers and of revenue each add up, one action per segment
    summary = ran.summary
    assert sum(s.share for s in summary.segments) == pytest.approx(1)
    assert sum(s.revenue_share for s in summary.segments) == pytest.approx(1)
    assert sum(s.revenue for s in summary.segments) == pytest.approx(features["monetary"].sum())
    assert all(s.action for s in summary.segments) and summary.verdict is not None
    html = ran.files["report"].read_text()
    for section in ("Data", "Segments", "Stability"):
        assert f">{section}<" in html


def test_run_is_deterministic(synth_dir, ran, tmp_path):
    run(synth_dir, tmp_path, seed=3, stability=QUICK)
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (ran.out_dir / name).read_bytes(), name


def test_failed_run_leaves_previous_outputs_intact(synth_dir, tmp_path):
    previous = tmp_path / "model.json"
    previous.write_text("previous run")
    with pytest.raises(InputError):
        run(synth_dir, tmp_path, as_of="2000-01-01", stability=None)  # no customer before that date
    assert previous.read_text() == "previous run"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no staging folder left behind


def test_run_cli_without_stability(synth_dir, tmp_path):
    result = run_cli("run", synth_dir, "-o", tmp_path / "out", "--no-stability", "--k", "5")
    assert result.code == 0, result.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS - {"stability.json"}
    assert "Report:" in result.stdout and "5 segments" in result.stdout


def test_run_cli_bad_input_is_one_line(tmp_path):
    result = run_cli("run", tmp_path / "missing", "-o", tmp_path / "out")
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_report_of_a_run_is_the_report_of_its_outputs(synth_dir, ran, tmp_path):
    # run() drops its tables from memory during the backtest and reads them back for the report
    from custseg.features import customer_features
    from custseg.ingest import open_data
    from custseg.model import SegmentModel
    from custseg.report import build_report
    from custseg.rfm import rfm

    ds = open_data(synth_dir)
    model = SegmentModel.load(ran.files["model"])
    table = customer_features(ds, ran.as_of, model.statuses)
    again = build_report(ds, tmp_path / "report.html", as_of=ran.as_of, model=model, stability=ran.stability,
                         features_df=table, assignment_df=model.assign_features(table), rfm_df=rfm(table))
    assert again.read_bytes() == ran.files["report"].read_bytes()


def test_run_on_less_than_a_year_of_history_skips_the_backtest_and_says_so(make_synth, tmp_path):
    data = make_synth(customers=1500, seed=2, months=10)
    out = tmp_path / "short"
    run = run_cli("run", data, "-o", out, "--k", "3", "--seeds", "2", "--quiet")
    assert run.code == 0, run.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS - {"stability.json"}
    said = " ".join(run.stdout.split())
    assert "Maintenance: Not backtested: the counted purchases run from 2016-09-01 to" in said
    assert "No re-train interval is claimed" in said and "Re-train by" not in said and "Stable" not in said
    assert "--start" not in run.stdout + run.stderr
    page = (out / "report.html").read_text()
    assert "Not backtested" in page and "No re-train interval is claimed" in page


def test_short_history_says_why_a_backtest_cannot_run(make_synth, synth_dir):
    from custseg.ingest import open_data
    from custseg.stability import short_history

    with open_data(make_synth(customers=1500, seed=2, months=10)) as ds:
        why = short_history(ds, QUICK)
    assert why is not None and why.first_purchase == "2016-09-01" and why.reference == "2017-09-01"
    assert why.step == "2M" and why.needed == 20
    with open_data(synth_dir) as ds:
        assert short_history(ds, QUICK) is None
