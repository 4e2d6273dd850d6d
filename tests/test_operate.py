"""``custseg update`` operated week by week on planted truth, and its state surviving faults.

The replays run ``update`` in-process (about 0.5 s a week on 3,000 synthetic customers); the
fault tests run it as a real process and kill it (SIGKILL) at a chosen point.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pgserver
import psycopg
import pytest

from custseg.errors import InputError
from custseg.operate import UpdateSettings, history, retrain_count, update
from custseg.stability import Triggers

#: Fixed k, k-means and one process keep each fit cheap; a lower minimum share keeps k = 4 admissible
#: after the drift. The maintenance decision's default triggers (custseg.stability.decision).
SETTINGS = UpdateSettings(k=4, algorithm="kmeans", backtest=False, fit_options={"min_share": 0.01, "n_jobs": 1},
                          triggers=Triggers())
ONSET = date(2018, 2, 1)  # month 18 of a horizon starting 2016-09-01
#: The "monitoring period" the acceptance counts in: the backtest's step (one month).
PERIOD = timedelta(days=31)


def _weeks(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def _counted_customers(data: Path, day: date) -> int:
    from custseg.ingest import open_data

    with open_data(data) as ds:
        return ds.scalar("SELECT count(DISTINCT c.customer_unique_id) FROM orders o JOIN customers c USING "
                         "(customer_id) WHERE o.order_status = 'delivered' AND o.order_purchase_timestamp < ?", [day])


def _replay(data: Path, state: Path, days: list[date], backtest: bool = False) -> list[dict]:
    """``update`` at each date, as if it were today; every customer assigned at every run."""
    records = []
    for i, day in enumerate(days):
        settings = UpdateSettings(**{**SETTINGS.__dict__, "backtest": backtest and i == 0})
        records.append(update(data, state, as_of=day, settings=settings))
        segments = pd.read_parquet(state / "segments.parquet")
        assert len(segments) == records[-1]["customers"] and segments["segment_id"].notna().all()
        assert segments["customer_unique_id"].is_unique
    return records


def test_a_first_run_on_too_little_history_records_why_it_has_no_contract(make_synth, tmp_path):
    data = make_synth(customers=1500, seed=2, months=10)
    record = update(data, tmp_path / "state", settings=UpdateSettings(**{**SETTINGS.__dict__, "backtest": True}))
    assert record["decision"]["verdict"] == "first" and record["model"]["version"] == 1
    why = record["contract"]
    assert set(why) == {"skipped", "first_purchase", "last_purchase", "reference", "step", "customers", "needed"}
    assert (why["skipped"], why["first_purchase"], why["reference"], why["step"]) == (
        "short_history", "2016-09-01", "2017-09-01", "1M")
    assert why["last_purchase"] < why["reference"] and why["customers"] == record["customers"]
    saved = json.loads((tmp_path / "state" / "contract.json").read_text())
    assert saved["format"] == "custseg.contract-skipped/2" and saved["skipped"] == "short_history"


def _modal_segment(segments: pd.DataFrame, truth: pd.DataFrame, persona: str) -> int:
    ids = segments.merge(truth[truth["persona"] == persona], on="customer_unique_id")["segment_id"]
    return int(ids.mode()[0])


def test_weekly_replay_with_planted_drift(make_synth, tmp_path):
    """Weekly from 2017-12-01 (two months before the onset) to 2018-04-13 (ten weeks after).

    Why this horizon: every week before the onset must keep the model (so a pre-onset stretch of
    nine weeks is replayed), and the re-train must come within two monitoring periods (the
    backtest's one-month step) after the onset; the rest of the 24 months would cost CPU without
    testing anything more. The data are cut at each date by the as-of rule (only orders purchased
    before it count; deliveries and reviews only once dated before it).
    """
    data = make_synth(customers=3000, seed=7, drift_month=18)
    truth = pd.read_csv(data / "truth.csv", dtype=str)
    state = tmp_path / "state"
    days = _weeks(date(2017, 12, 1), date(2018, 4, 13))
    records = _replay(data, state, days[:1], backtest=True)
    first_version = pd.read_parquet(state / "segments.parquet")
    records += _replay(data, state, days[1:])
    for i in (0, -1):  # every customer with a counted order is assigned
        assert records[i]["customers"] == _counted_customers(data, days[i])
    retrains = [date.fromisoformat(r["as_of"]) for r in records[1:] if r["retrained"]]
    assert retrains, "no re-train after the planted drift"
    assert min(retrains) >= ONSET, f"re-trained before the onset: {retrains}"
    assert min(retrains) <= ONSET + 2 * PERIOD, f"first re-train {min(retrains)} too late"
    # the history is complete: one record per run, in order, each naming a model file that exists
    logged = history(state)
    assert [r["run"] for r in logged] == list(range(1, len(days) + 1))
    assert [r["as_of"] for r in logged] == [d.isoformat() for d in days]
    assert all((state / r["model"]["file"]).is_file() for r in logged)
    versions = sorted({r["model"]["version"] for r in logged})
    assert versions == list(range(1, len(versions) + 1)) and len(versions) == 1 + retrain_count(logged)
    # personas the drift leaves alone keep their segment id across versions
    latest = pd.read_parquet(state / "segments.parquet")
    before = truth[truth["first_purchase_month"].astype(int) < 18]
    for persona in ("casual_one_timer", "unhappy_late"):
        assert _modal_segment(first_version, before, persona) == _modal_segment(latest, before, persona), persona
    # the report's History section tells the same story as the history
    from custseg.report.history import history_section

    section = history_section(logged)
    table = section.parts[0].blocks[1]
    retrained_rows = [row for row in table.rows if row[3] == "re-trained"]
    assert [row[1] for row in retrained_rows] == [d.isoformat() for d in retrains]
    assert all(row[4] != "–" for row in retrained_rows)  # each with its reasons
    shares_chart = json.loads(section.parts[1].charts[0].figure_json)
    assert len(shares_chart["data"]) == len({i for r in logged for i in r["segments"]})
    moved_chart = json.loads(section.parts[2].charts[0].figure_json)
    assert list(moved_chart["data"][0]["y"]) == [r["moved"] for r in logged[1:] if r["retrained"]]
    first = logged[0]["contract"]
    predicted = "none (stable)" if first.get("stable_over_horizon") else f"every {first.get('retrain_every_days')} days"
    print(f"re-trains in the replay: {retrain_count(logged)} ({', '.join(map(str, retrains))}); "
          f"the first run's backtest predicted: {predicted} (its horizon ends before the onset)")


def test_weekly_replay_without_drift_never_retrains(make_synth, tmp_path):
    """The same span on data without drift, every third week: every run keeps the first model."""
    data = make_synth(customers=3000, seed=7)
    state = tmp_path / "state"
    records = _replay(data, state, _weeks(date(2017, 12, 1), date(2018, 4, 13))[::3])
    assert [r["as_of"] for r in records if r["retrained"]] == [records[0]["as_of"]], \
        [(r["as_of"], r["decision"]["reasons"]) for r in records if r["retrained"]]
    # the same day again: the same assignment; a day before the live model's: refused, nothing changed
    before = (state / "segments.parquet").read_bytes()
    again = update(data, state, as_of=records[-1]["as_of"], settings=SETTINGS)
    assert not again["retrained"] and (state / "segments.parquet").read_bytes() == before
    with pytest.raises(InputError, match="before the live model's date"):
        update(data, state, as_of=date(2017, 10, 1), settings=SETTINGS)
    assert len(history(state)) == len(records) + 1


# ---------------------------------------------------------------------------------------------
# Faults: real processes, killed
# ---------------------------------------------------------------------------------------------

#: Runs the CLI after making one step pause (touching a marker file), so that the test can kill it there.
PAUSING = """
import sys, time, pathlib
marker, where = pathlib.Path(sys.argv[1]), sys.argv[2]
def pause(*args, **kwargs):
    marker.write_text("paused")
    time.sleep(300)
if where == "fit":
    import custseg.segment
    custseg.segment.fit = pause
else:
    import adbc_driver_manager.dbapi
    adbc_driver_manager.dbapi.Connection.commit = pause
sys.argv = ["custseg", *sys.argv[3:]]
from custseg.cli import main
main()
"""


def _snapshot(state: Path) -> dict[str, bytes]:
    """Every file of the state a reader sees (not the lock, not a run's staging folder)."""
    return {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*"))
            if p.is_file() and p.name != ".lock" and not str(p.relative_to(state)).startswith(".staging-")}


def _table(server, table: str) -> list[tuple]:
    with psycopg.connect(server.url_with_password) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY customer_unique_id").fetchall()


def _killed_at(where: str, args: list[str], tmp_path: Path, while_paused=lambda: None) -> None:
    """Run ``custseg ARGS``, pausing at ``where``; call ``while_paused()`` there, then SIGKILL it."""
    marker = tmp_path / f"paused-{where}"
    proc = subprocess.Popen([sys.executable, "-c", PAUSING, str(marker), where, *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        while_paused()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def operated(make_synth, postgres, tmp_path_factory):
    """A state with a live model and the PostgreSQL table it wrote; a later date that re-trains."""
    data = make_synth(customers=3000, seed=7, drift_month=18)
    state = tmp_path_factory.mktemp("operated") / "state"
    to = postgres.url_with_password + "?table=segments_now"
    update(data, state, as_of=date(2017, 12, 1), settings=SETTINGS, to=to)
    return data, state, to


UPDATE = ["--k", "4", "--algorithm", "kmeans", "--no-backtest", "--jobs", "1"]


@pytest.mark.parametrize("where", ["fit", "commit"])
def test_update_killed_leaves_state_and_table_unchanged(operated, postgres, tmp_path, cli, where):
    data, state, to = operated
    before, rows = _snapshot(state), _table(postgres, "segments_now")
    # 2018-04-13 re-trains (fit); 2017-12-08 keeps the model and goes straight to the write (commit)
    day = "2018-04-13" if where == "fit" else "2017-12-08"

    def readers_see_the_old_rows() -> None:  # the new rows are sent, not committed: invisible
        assert _table(postgres, "segments_now") == rows

    _killed_at(where, ["update", str(data), "--state", str(state), "--as-of", day, "--to", to, *UPDATE], tmp_path,
               readers_see_the_old_rows)
    assert _snapshot(state) == before
    assert _table(postgres, "segments_now") == rows
    r = cli("update", data, "--state", state, "--as-of", "2017-12-08", "--to", to, *UPDATE)
    assert r.code == 0, r.stderr
    assert pgserver.PASSWORD not in r.stdout + r.stderr + (state / "history.jsonl").read_text()
    assert not list(state.glob(".staging-*"))
    assert history(state)[-1]["as_of"] == "2017-12-08"
    assert {row[6] for row in _table(postgres, "segments_now")} == {date(2017, 12, 8)}


def test_database_down_and_concurrent_run_refused(operated, cli, tmp_path):
    data, state, _ = operated
    before = _snapshot(state)
    down = f"postgresql://custseg:{pgserver.PASSWORD}@127.0.0.1:{pgserver.free_port()}/shop?table=t"
    r = cli("update", data, "--state", state, "--as-of", "2017-12-15", "--to", down, *UPDATE)
    assert r.code == 4 and "cannot write postgresql://custseg@127.0.0.1" in r.stderr, r.stderr
    assert pgserver.PASSWORD not in r.stderr and "Traceback" not in r.stderr
    assert _snapshot(state) == before
    down_data = down.replace("?table=t", "")
    r = cli("update", down_data, "--state", state, "--as-of", "2017-12-15", *UPDATE)
    assert r.code == 2 and "cannot connect" in r.stderr and pgserver.PASSWORD not in r.stderr, r.stderr
    assert _snapshot(state) == before
    with open(state / ".lock", "a+") as held:  # another update at work
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        r = cli("update", data, "--state", state, "--as-of", "2017-12-15", *UPDATE)
    assert r.code == 4 and "another update is running" in r.stderr, r.stderr
    assert _snapshot(state) == before
    # the lock file of a dead run (still naming its process) is taken over
    r = cli("update", data, "--state", state, "--as-of", "2017-12-15", *UPDATE)
    assert r.code == 0, r.stderr
    r = cli("history", "--state", state)
    assert r.code == 0 and "2017-12-15" in r.stdout


def test_commit_interrupted_after_journal_is_rolled_forward(operated, tmp_path):
    """A crash between the journal and the last rename: the next run completes the commit first."""
    import shutil

    from custseg.operate import JOURNAL, _write_stage, holding_lock

    state = operated[1]
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    records = history(copy)
    stage = copy / ".staging-crashed"
    stage.mkdir()
    record = {**records[-1], "run": len(records) + 1, "as_of": "2099-01-01"}
    segments = pd.read_parquet(copy / "segments.parquet")
    renames = _write_stage(stage, record, None, segments, None, records)
    (copy / JOURNAL).write_text(json.dumps({"renames": [[f".staging-crashed/{a}", b] for a, b in renames]}))
    os.replace(stage / "segments.parquet", copy / "segments.parquet")  # the crash came after this rename
    with holding_lock(copy):
        pass
    assert history(copy)[-1]["as_of"] == "2099-01-01" and not (copy / JOURNAL).exists() and not stage.exists()
