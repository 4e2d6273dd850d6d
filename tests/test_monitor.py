"""custseg monitor: healthy (0) without drift, re-train (3) after planted drift, bad input (2)."""
from __future__ import annotations

import json
from datetime import date

import pytest

from custseg.ingest import load
from custseg.monitor import RECORD_FORMAT, check
from custseg.segment import fit

DRIFT_MONTH = 18  # 2018-02 in the synthetic horizon 2016-09..2018-08
MODEL_AS_OF = "2017-10-01"


def _model(data, out) -> tuple:
    # k=5: the planted personas (the smallest holds about 2% of customers)
    model = fit(data, MODEL_AS_OF, k=5, algorithm="kmeans", n_jobs=1, min_share=0.01)
    return data, model.save(out / "model.json"), model


@pytest.fixture(scope="module")
def nodrift(make_synth, tmp_path_factory):
    return _model(make_synth(customers=4000, seed=1), tmp_path_factory.mktemp("nodrift"))


@pytest.fixture(scope="module")
def drift(make_synth, tmp_path_factory):
    return _model(make_synth(customers=4000, seed=1, drift_month=DRIFT_MONTH), tmp_path_factory.mktemp("drift"))


def test_no_false_alarm_without_drift(nodrift):
    data, _, model = nodrift
    ds = load(data)
    for day in ("2017-11-01", "2018-01-15", "2018-04-01", "2018-06-01", "2018-08-01"):
        record = check(model, ds, date.fromisoformat(day))
        assert record["verdict"] == "healthy", (day, record["decision"])
        assert record["exit_code"] == 0


def test_monitor_cli_healthy_exit_0_and_record(cli, nodrift, tmp_path):
    data, model_path, model = nodrift
    out = tmp_path / "record.json"
    run = cli("monitor", model_path, data, "--as-of", "2018-05-01", "-o", out)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("HEALTHY at 2018-05-01")
    record = json.loads(out.read_text())
    assert record["format"] == RECORD_FORMAT and record["verdict"] == "healthy" and record["decision"]["reasons"] == []
    assert record["model"]["as_of"] == MODEL_AS_OF and record["model"]["k"] == model.k
    assert record["reference"]["customers"] == record["reference"]["model_customers"]
    assert {d["feature"] for d in record["drift"] if d["in_model"]} == set(model.feature_names)
    assert sum(record["shares"]["current"].values()) == pytest.approx(1, abs=1e-3)


def test_planted_drift_exit_3_after_the_drift_month_and_0_before(cli, drift, tmp_path):
    data, model_path, _ = drift
    before = cli("monitor", model_path, data, "--as-of", "2018-01-20")
    assert before.code == 0, before.stdout + before.stderr
    out = tmp_path / "record.json"
    after = cli("monitor", model_path, data, "--as-of", "2018-08-01", "-o", out)
    assert after.code == 3, after.stdout + after.stderr
    assert after.stdout.startswith("RETRAIN at 2018-08-01")
    record = json.loads(out.read_text())
    assert record["verdict"] == "retrain" and record["exit_code"] == 3
    assert record["decision"]["retrain"] and record["decision"]["stale"] and record["decision"]["material"]
    assert "re-train: " in after.stdout and "would change segment" in after.stdout


def test_sliding_window_also_flags_the_drift(drift):
    data, _, model = drift
    from custseg.monitor import Triggers
    from custseg.stability import Period

    record = check(model, load(data), date(2018, 6, 1), window=Period(12, "M"), triggers=Triggers(), seeds=3)
    assert record["window"] == "12M" and record["triggers"]["changed_share"] == 0.05
    assert record["exit_code"] == 3


@pytest.mark.parametrize("problem", ["early", "tampered", "no-data", "bad-trigger"])
def test_bad_input_exits_2_without_a_record(cli, drift, tmp_path, problem):
    data, model_path, _ = drift
    out = tmp_path / "record.json"
    args = [model_path, data, "--as-of", "2018-06-01"]
    if problem == "early":
        args[2:] = ["--as-of", "2017-06-01"]
    elif problem == "tampered":
        doc = json.loads(model_path.read_text())
        doc["centroids"][0][0] += 1.0
        bad = tmp_path / "model.json"
        bad.write_text(json.dumps(doc))
        args[0] = bad
    elif problem == "no-data":
        args[1] = tmp_path / "missing"
    else:
        args += ["--changed-share", "high"]
    run = cli("monitor", *args, "-o", out)
    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr.startswith("error: ") and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()
