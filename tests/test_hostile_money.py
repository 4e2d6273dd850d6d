"""Hostile input, class 1: non-finite and huge money (NaN, inf, -inf, 1e308, 1e16, ``1,5``).

The rule (README, "Money"): a money value must be a finite number below 1e15 in absolute value.
Otherwise it is counted like any value that does not parse: a warning where the column may be
empty (an Olist item's price or freight, a payment's value; the value is then unknown) and a
refusal where it may not (a transaction log's amount). ``validate`` and every command agree.
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hostile import assert_refused, copy_data, set_cells, snapshot

HOSTILE = ["NaN", "inf", "-inf", "1e308", "1e16", "1,5"]
PROBLEM = "values that are not amounts of money"
LOG = ["--customer-col", "cust", "--date-col", "day", "--amount-col", "amount"]


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    from custseg.synth import generate

    root = tmp_path_factory.mktemp("money") / "clean"
    generate(root, customers=300, seed=3)
    return root


def _log_frame() -> pd.DataFrame:
    return pd.DataFrame({"cust": [f"c{i % 40}" for i in range(120)],
                         "day": [f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(120)],
                         "amount": [f"{10 + i}.5" for i in range(120)]})


def test_olist_csv_money_is_a_counted_warning_and_every_command_agrees(cli, small_synth, tmp_path):
    data = copy_data(small_synth, tmp_path / "data")
    set_cells(data / "olist_order_items_dataset.csv", "price", HOSTILE)
    set_cells(data / "olist_order_payments_dataset.csv", "payment_value", HOSTILE[::-1])
    before = snapshot(data)
    checked = cli("validate", data)
    assert checked.code == 0, checked.stderr
    assert f"order_items.price: {PROBLEM}" in checked.stdout and ": 6 (e.g." in checked.stdout
    assert f"payments.payment_value: {PROBLEM}" in checked.stdout
    made = cli("features", data, "-o", tmp_path / "f.csv")
    assert made.code == 0 and "Traceback" not in made.stderr, made.stderr
    model = cli("fit", data, "-o", tmp_path / "m.json", "--k", "3")
    assert model.code == 0, model.stderr
    assert snapshot(data) == before


def test_olist_parquet_non_finite_doubles_are_counted(cli, small_synth, tmp_path):
    data = copy_data(small_synth, tmp_path / "data")
    items = pd.read_csv(data / "olist_order_items_dataset.csv", dtype=str)
    (data / "olist_order_items_dataset.csv").unlink()
    prices = items["price"].astype(float)
    prices[:5] = [float("nan"), float("inf"), float("-inf"), 1e308, 1e16]
    table = pa.Table.from_pandas(items.drop(columns="price"), preserve_index=False)
    table = table.append_column("price", pa.array(prices.to_numpy(), from_pandas=False))  # NaN, not null
    pq.write_table(table, data / "olist_order_items_dataset.parquet")
    checked = cli("validate", data)
    assert checked.code == 0, checked.stderr
    assert f"order_items.price: {PROBLEM}" in checked.stdout and ": 5 (e.g." in checked.stdout
    made = cli("features", data, "-o", tmp_path / "f.parquet")
    assert made.code == 0, made.stderr
    spent = pd.read_parquet(tmp_path / "f.parquet")
    assert spent.select_dtypes("number").abs().max().max() < 1e15


def test_a_log_amount_that_is_not_money_is_refused_by_validate_and_features_alike(cli, tmp_path):
    frame = _log_frame()
    frame.loc[range(7, 7 + len(HOSTILE)), "amount"] = HOSTILE
    log = tmp_path / "log.csv"
    frame.to_csv(log, index=False)
    before = snapshot(tmp_path)
    line = assert_refused(cli("validate", log, *LOG), 2, "log.csv: column amount", PROBLEM, ": 6 (e.g.")
    assert assert_refused(cli("features", log, *LOG, "-o", tmp_path / "f.csv"), 2) == line
    assert snapshot(tmp_path) == before


def test_a_parquet_log_with_infinite_amounts_is_refused(cli, tmp_path):
    frame = _log_frame()
    amounts = frame["amount"].astype(float)
    amounts[3], amounts[9] = float("inf"), -1e308
    frame["amount"] = amounts
    log = tmp_path / "log.parquet"
    frame.to_parquet(log, index=False)
    assert_refused(cli("validate", log, *LOG), 2, "log.parquet: column amount", PROBLEM, ": 2 (e.g.")
    assert_refused(cli("run", log, *LOG, "-o", tmp_path / "out"), 2, PROBLEM)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_legal_huge_amounts_do_not_overflow(cli, tmp_path):
    """Amounts just below the limit, summed over many lines, stay exact (DECIMAL(38, 2) sums)."""
    frame = _log_frame()
    frame["amount"] = "999999999999999"
    log = tmp_path / "log.csv"
    frame.to_csv(log, index=False)
    made = cli("features", log, *LOG, "-o", tmp_path / "f.parquet")
    assert made.code == 0, made.stderr
    spent = pd.read_parquet(tmp_path / "f.parquet")
    assert spent["monetary"].max() == pytest.approx(3 * 999999999999999)
