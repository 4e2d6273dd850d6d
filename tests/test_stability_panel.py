"""The backtest's compared panel: step features computed for the panel alone give exactly the results
of computing them for everyone and then keeping the compared customers (the way before the panel).

Synthetic data (custseg.synth, 4,000 customers over 2016-09..2018-08, ids of 32 hex digits), and a
copy whose person ids and order customer ids are not hex, so that ingest keeps them as text.
"""
from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from custseg import stability
from custseg.ingest import load
from custseg.stability import (PANEL_SCHEMA, WINDOW_SCHEMA, BacktestSettings, Period, backtest, compared_customers,
                               compared_panel, customers_at, features_at)

# about 2,000 customers at the reference date: 700 compared means a panel of about a third of them
SETTINGS = BacktestSettings(reference=date(2018, 1, 1), step=Period(3, "M"), k=5, seeds=2, jobs=1,
                            measure_cost=False, min_share=0.01, compared=700)
STATUSES = ("delivered",)


@pytest.fixture(scope="module")
def hex_dir(make_synth):
    return make_synth(customers=4000, seed=1)


@pytest.fixture(scope="module")
def text_dir(hex_dir, tmp_path_factory):
    """``hex_dir`` with one person id and every order's customer id made non-hex (kept as text)."""
    out = tmp_path_factory.mktemp("text_keys")
    for path in hex_dir.iterdir():
        shutil.copy(path, out / path.name)
    for name, columns in (("olist_customers_dataset.csv", ("customer_id", "customer_unique_id")),
                          ("olist_orders_dataset.csv", ("customer_id",))):
        table = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        for column in columns:
            table[column] = "person-" + table[column] if column == "customer_unique_id" else "x" + table[column]
        table.to_csv(out / name, index=False)
    return out


def key_types(ds) -> set[str]:
    return {t for (t,) in ds.con.execute(
        "SELECT DISTINCT data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = 'customers' "
        "AND column_name IN ('customer_id', 'customer_unique_id')").fetchall()}


def catalog(ds) -> list[tuple]:
    """Every schema, table and view of the database, with each view's SQL."""
    schemas = ds.con.execute("SELECT schema_name FROM duckdb_schemas() WHERE NOT internal ORDER BY 1").fetchall()
    tables = ds.con.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2").fetchall()
    views = ds.con.execute("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
                           "ORDER BY 1, 2").fetchall()
    return schemas + tables + views


@contextmanager
def everyone_read(ds, share, note):
    """The old way: every step computes the features of everyone in ``main``."""
    yield "main"


@pytest.mark.parametrize("window", [Period(12, "M"), None], ids=["window-12M", "window-all"])
def test_backtest_on_the_panel_equals_features_of_everyone_then_compared(hex_dir, monkeypatch, window):
    settings = replace(SETTINGS, window=window)
    ds = load(hex_dir)
    assert key_types(ds) == {"UHUGEINT"}
    notes = []
    run = backtest(ds, settings, progress=lambda text, done, total: notes.append((text, done, total)))
    built = [m for text, _, _ in notes if (m := re.fullmatch(r"panel: ([\d,]+) customers", text))]
    assert len(built) == 1
    panel_size = int(built[0].group(1).replace(",", ""))
    steps = run.result["steps"]
    assert [s["as_of"] for s in steps] == ["2018-04-01", "2018-07-01"]
    # the panel has the later buyers too (more persons than compared at the reference), and is a
    # small part of all 4,000 persons
    assert run.result["reference"]["customers"] < panel_size < 2000
    assert max(s["customers"]["all"] for s in steps) <= panel_size
    assert all(s["customers"]["all"] < s["customers_total"] for s in steps)
    assert "panel only" in run.result["protocol"]["compared_customers"]
    # the CLI's bar: one total (reference + steps), done counts never going back, ending at the total
    totals, done = {t for _, _, t in notes}, [d for _, d, _ in notes]
    assert totals == {len(steps) + 1} and done == sorted(done) and done[-1] == len(steps) + 1
    # nothing is left of the panel
    assert not ds.con.execute("SELECT * FROM duckdb_schemas() WHERE schema_name = ?", [PANEL_SCHEMA]).fetchall()
    assert not [row for row in catalog(ds) if PANEL_SCHEMA in " ".join(map(str, row))]

    monkeypatch.setattr(stability, "compared_panel", everyone_read)
    before = load(hex_dir)
    old = backtest(before, settings)
    assert run.result == old.result
    pd.testing.assert_frame_equal(run.labels, old.labels)


@pytest.mark.parametrize("data", ["hex_dir", "text_dir"])
def test_panel_features_are_the_compared_rows_of_everyones_and_the_panel_is_dropped(request, data):
    ds = load(request.getfixturevalue(data))
    assert key_types(ds) == ({"UHUGEINT"} if data == "hex_dir" else {"VARCHAR"})
    before = catalog(ds)
    share, notes, days = 0.3, [], [date(2017, 6, 1), date(2018, 8, 1)]
    with pytest.raises(RuntimeError, match="step failed"):
        with compared_panel(ds, share, notes.append) as source:
            assert source == PANEL_SCHEMA
            persons = ds.con.execute(f"SELECT count(DISTINCT customer_unique_id) FROM {source}.customers").fetchall()
            assert notes[-1] == f"panel: {persons[0][0]:,} customers"
            for window in (Period(12, "M"), None):
                for day in days:
                    everyone = features_at(ds, day, window, STATUSES)
                    on_panel = features_at(ds, day, window, STATUSES, source)
                    assert 0 < len(on_panel) < len(everyone) == customers_at(ds, day, window, STATUSES)
                    pd.testing.assert_frame_equal(on_panel, compared_customers(everyone, share))
                    # the safety net keeps every row of the panel's table
                    assert len(compared_customers(on_panel, share)) == len(on_panel)
            raise RuntimeError("step failed")
    after = [row for row in catalog(ds) if WINDOW_SCHEMA not in row]
    assert after == [row for row in before if WINDOW_SCHEMA not in row]
    assert not [row for row in catalog(ds) if PANEL_SCHEMA in " ".join(map(str, row))]


def test_no_panel_when_every_customer_is_compared(hex_dir):
    ds = load(hex_dir)
    before, notes = catalog(ds), []
    with compared_panel(ds, 1.0, notes.append) as source:
        assert source == "main"
        assert catalog(ds) == before
    assert notes == [] and catalog(ds) == before
