"""Customer features as of a date: exact values on hand-made data, the real export, no leakage."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from custseg.errors import InputError
from custseg.features import (
    FEATURE_DOCS,
    FEATURE_DTYPES,
    feature_sql,
    features,
    parse_as_of,
    parse_statuses,
    read_feature_table,
    run_staged,
    split_query,
)
from custseg.ingest import key_text, open_data
from custseg.schema import TABLES

AS_OF = "2018-03-01"


def write_tables(root: Path, rows: dict[str, list[dict]]) -> Path:
    """Write the nine contract tables as CSVs in ``root``; columns not given are left empty."""
    root.mkdir(parents=True, exist_ok=True)
    for name, spec in TABLES.items():
        frame = pd.DataFrame(rows.get(name, []), columns=list(spec.columns), dtype=object)
        frame.to_csv(root / spec.csv_name, index=False)
    return root


def _order(order_id, customer_id, status, purchased, delivered="", estimated=""):
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_status": status,
        "order_purchase_timestamp": purchased,
        "order_delivered_customer_date": delivered,
        "order_estimated_delivery_date": estimated,
    }


def _item(order_id, n, product_id, price, freight):
    return {"order_id": order_id, "order_item_id": n, "product_id": product_id, "seller_id": "s1",
            "price": price, "freight_value": freight}


def _payment(order_id, n, kind, installments, value):
    return {"order_id": order_id, "payment_sequential": n, "payment_type": kind,
            "payment_installments": installments, "payment_value": value}


def _review(review_id, order_id, score, created, answered=""):
    return {"review_id": review_id, "order_id": order_id, "review_score": score,
            "review_creation_date": created, "review_answer_timestamp": answered}


def _customer(customer_id, unique_id, state):
    return {"customer_id": customer_id, "customer_unique_id": unique_id, "customer_state": state}


TINY = {
    "customers": [
        _customer("c1a", "u1", "SP"),
        _customer("c1b", "u1", "RJ"),  # u1 moved: the latest counted order says RJ
        _customer("c1c", "u1", "MG"),  # ... and again after the as-of date: not known yet
        _customer("c2", "u2", "SP"),
        _customer("c3", "u3", "BA"),
        _customer("c4", "u4", "AM"),
        _customer("c5", "u5", "PE"),
        _customer("c6", "u6", "SC"),
        _customer("c7", "u7", "PR"),
    ],
    "orders": [
        _order("o1", "c1a", "delivered", "2018-01-10 12:00:00", "2018-01-20 12:00:00", "2018-01-25 00:00:00"),
        _order("o2", "c1b", "delivered", "2018-02-01 06:00:00", "2018-02-12 18:00:00", "2018-02-10 00:00:00"),
        _order("o3", "c1c", "delivered", "2018-03-01 00:00:00", "2018-03-05 00:00:00", "2018-03-10 00:00:00"),
        _order("o4", "c2", "canceled", "2018-02-15 10:00:00"),
        _order("o5", "c3", "delivered", "2018-02-20 00:00:00", "2018-03-02 00:00:00", "2018-03-10 00:00:00"),
        _order("o6", "c4", "shipped", "2018-02-25 12:00:00", "", "2018-03-05 00:00:00"),
        _order("o7", "c5", "delivered", "2018-01-15 00:00:00", "2018-01-18 00:00:00", "2018-01-30 00:00:00"),
        _order("o8", "c6", "delivered", "2017-12-01 00:00:00", "2017-12-11 00:00:00", "2017-12-20 00:00:00"),
        _order("o9", "c7", "delivered", "2018-01-01 00:00:00", "2018-01-05 15:00:00", "2018-01-05 00:00:00"),
    ],
    "order_items": [
        _item("o1", 1, "pA", "50.00", "10.00"),
        _item("o1", 2, "pB", "30.00", "5.00"),
        _item("o2", 1, "pA", "20.00", "4.00"),
        _item("o2", 2, "pB", "20.00", "4.00"),
        _item("o2", 3, "pC", "10.00", "2.00"),
        _item("o3", 1, "pA", "999.00", "99.00"),
        _item("o4", 1, "pA", "15.00", "3.00"),
        _item("o5", 1, "pD", "100.00", "20.00"),
        _item("o6", 1, "pB", "25.00", "5.00"),
        _item("o7", 1, "pE", "40.00", "10.00"),
        _item("o9", 1, "pA", "10.00", "0.00"),
    ],
    "payments": [
        _payment("o1", 1, "credit_card", 3, "70.00"),
        _payment("o1", 2, "voucher", 1, "25.00"),
        _payment("o2", 1, "boleto", 1, "60.00"),
        _payment("o3", 1, "credit_card", 10, "1098.00"),
        _payment("o4", 1, "credit_card", 2, "18.00"),
        _payment("o5", 1, "debit_card", 1, "120.00"),
        _payment("o6", 1, "credit_card", 1, "30.00"),
        _payment("o8", 1, "voucher", 1, "30.00"),
        _payment("o8", 2, "boleto", 0, "30.00"),  # a tie on value, and 0 installments
        _payment("o9", 1, "credit_card", 1, "10.00"),
    ],
    "reviews": [
        _review("r1", "o1", 4, "2018-01-21 00:00:00", "2018-01-22 10:00:00"),
        _review("r2", "o1", 2, "2018-02-15 00:00:00", "2018-02-16 10:00:00"),  # one review, two orders
        _review("r2", "o2", 2, "2018-02-15 00:00:00", "2018-02-16 10:00:00"),
        _review("r3", "o2", 5, "2018-02-28 00:00:00", "2018-03-02 09:00:00"),  # answered after the as-of
        _review("r4", "o3", 1, "2018-03-06 00:00:00", "2018-03-07 00:00:00"),
        _review("r5", "o5", 1, "2018-03-03 00:00:00", "2018-03-04 00:00:00"),
        _review("r6", "o7", 3, "2018-01-20 00:00:00", ""),  # answer time lost: the creation date stands in
        _review("r7", "o9", 5, "2018-01-06 00:00:00", "2018-01-07 00:00:00"),
    ],
    "products": [
        {"product_id": "pA", "product_category_name": "brinquedos"},
        {"product_id": "pB", "product_category_name": "beleza_saude"},
        {"product_id": "pC", "product_category_name": "pc_gamer"},  # no English name
        {"product_id": "pD", "product_category_name": ""},
        {"product_id": "pE", "product_category_name": "pc_gamer"},
    ],
    "sellers": [{"seller_id": "s1", "seller_zip_code_prefix": "01000", "seller_state": "SP"}],
    "geolocation": [{"geolocation_zip_code_prefix": "01000", "geolocation_lat": -23.5, "geolocation_lng": -46.6}],
    "category_translation": [
        {"product_category_name": "brinquedos", "product_category_name_english": "toys"},
        {"product_category_name": "beleza_saude", "product_category_name_english": "health_beauty"},
    ],
}

NAN = float("nan")

# Every value worked out by hand from TINY, as of 2018-03-01 (midnight), delivered orders only.
EXPECTED = pd.DataFrame(
    [
        # u1: o1 and o2 count (o3 is purchased at the as-of instant, not before it); reviews r1 and r2
        # (r3 is answered after the as-of date) were each answered 1 day 10 hours after their creation
        ["u1", 27.75, 2, 155.0, 77.5, 2.5, 5, 3.0, 1.0, 34 / 24, 10.75, -0.875, 0.5, 5 / 3, "credit_card",
         25 / 155, 3, "health_beauty", "RJ", 49.5],
        # u3: delivered and reviewed only after the as-of date; the category is unknown
        ["u3", 9.0, 1, 120.0, 120.0, 1.0, 1, NAN, 0.0, NAN, NAN, NAN, NAN, 1.0, "debit_card",
         20 / 120, 0, "unknown", "BA", 9.0],
        # u5: no payment recorded -> items' price + freight; untranslated category keeps its name;
        # the review's answer time is lost, so its answer delay is unknown
        ["u5", 45.0, 1, 50.0, 50.0, 1.0, 1, 3.0, 1.0, NAN, 3.0, -12.0, 0.0, 1.0, "unknown",
         0.2, 1, "pc_gamer", "PE", 45.0],
        # u6: no items; a tie between payment types goes to the alphabetically first
        ["u6", 90.0, 1, 60.0, 60.0, 0.0, 0, NAN, 0.0, NAN, 10.0, -9.0, 0.0, 1.0, "boleto",
         0.0, 0, "unknown", "SC", 90.0],
        # u7: delivered 15h into the estimated day: 0.625 days past the estimate, yet on time
        ["u7", 59.0, 1, 10.0, 10.0, 1.0, 1, 5.0, 1.0, 1.0, 4.625, 0.625, 0.0, 1.0, "credit_card",
         0.0, 1, "toys", "PR", 59.0],
    ],
    columns=list(FEATURE_DTYPES),
).astype(FEATURE_DTYPES)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tables(tmp_path / "tiny", TINY)


def test_tiny_dataset_every_value(tiny_dir: Path):
    got = features(tiny_dir, AS_OF)
    pd.testing.assert_frame_equal(got, EXPECTED, check_exact=False, rtol=1e-12)


def test_tiny_statuses_add_customers(tiny_dir: Path):
    got = features(tiny_dir, AS_OF, statuses=("delivered", "canceled", "shipped"))
    assert list(got.customer_unique_id) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    u2 = got.set_index("customer_unique_id").loc["u2"]
    assert u2.recency_days == pytest.approx(13 + 14 / 24)  # purchased 2018-02-15 10:00
    assert u2.monetary == 18.0 and math.isnan(u2.delivery_days_mean)
    u4 = got.set_index("customer_unique_id").loc["u4"]
    assert (u4.frequency, u4.monetary, u4.main_category) == (1, 30.0, "health_beauty")


def test_tiny_as_of_one_day_later_counts_the_boundary_order(tiny_dir: Path):
    u1 = features(tiny_dir, "2018-03-02").set_index("customer_unique_id").loc["u1"]
    assert (u1.frequency, u1.customer_state, u1.recency_days) == (3, "MG", 1.0)


def test_columns_docs_and_dtypes_follow_the_contract(tiny_dir: Path):
    got = features(tiny_dir, AS_OF)
    assert list(got.columns) == list(FEATURE_DOCS) == list(FEATURE_DTYPES)
    assert {c: str(t) for c, t in got.dtypes.items()} == {
        c: str(pd.Series([], dtype=t).dtype) for c, t in FEATURE_DTYPES.items()
    }
    assert all(doc and "\n" not in doc for doc in FEATURE_DOCS.values())


def test_no_customer_before_the_first_order_gives_an_empty_typed_table(tiny_dir: Path):
    got = features(tiny_dir, "2017-01-01")
    assert got.empty and list(got.columns) == list(FEATURE_DTYPES)


@pytest.mark.parametrize("bad", ["2018-13-01", "yesterday", "", "2018-03-01T10:00"])
def test_bad_as_of_is_an_input_error(bad: str):
    with pytest.raises(InputError, match="not a date"):
        parse_as_of(bad)


def test_statuses_are_parsed_and_checked(tiny_dir: Path):
    assert parse_statuses(" Delivered, shipped ,delivered") == ("delivered", "shipped")
    with pytest.raises(InputError):
        parse_statuses(" , ")
    with pytest.raises(InputError, match="column order_status: unknown order status 'delivred'"):
        features(tiny_dir, AS_OF, statuses=("delivred",))


def test_feature_sql_keeps_to_portable_constructs():
    sql = feature_sql("2018-09-01", ("delivered", "it's"))
    assert "TIMESTAMP '2018-09-01 00:00:00'" in sql and "'it''s'" in sql
    for duckdb_only in ("QUALIFY", "COLUMNS(", "LIST_", "EPOCH(", "::"):
        assert duckdb_only not in sql.upper()


def test_feature_sql_transpiles_to_spark():
    sqlglot = pytest.importorskip("sqlglot")
    spark_sql = sqlglot.transpile(feature_sql("2018-09-01"), read="duckdb", write="spark")[0]
    assert "WITH counted_orders AS" in spark_sql
    # DuckDB's ARG_MAX/ARG_MIN over a struct become Spark's MAX_BY/MIN_BY over a struct
    assert "MAX_BY(" in spark_sql and "MIN_BY(" in spark_sql and "ARG_M" not in spark_sql


def test_staged_run_gives_the_single_statement_result(synth_dir):
    ds = open_data(synth_dir)
    sql = feature_sql("2018-01-01", person_text=key_text(ds.con, "customers", "customer_unique_id", "h"))
    steps, final = split_query(sql)
    assert [name for name, _ in steps][:2] == ["counted_orders", "order_contents"] and final.startswith("SELECT")
    staged = run_staged(ds.con, sql)
    assert staged.equals(ds.con.sql(sql).to_arrow_table()) and staged.num_rows > 1000
    # the steps' temporary tables are gone
    assert ds.scalar("SELECT count(*) FROM duckdb_tables() WHERE temporary") == 0


def test_a_large_result_goes_through_a_file_and_gives_the_same_table(synth_dir, monkeypatch, tmp_path):
    import custseg.features as module

    direct = features(synth_dir, "2018-01-01", ("delivered", "shipped"))
    made: list[str] = []
    copy_query = module.copy_query

    def recorded(con, select, path, suffix):
        made.append(str(path))
        return copy_query(con, select, path, suffix)

    monkeypatch.setattr(module, "FILE_RESULT_ROWS", 0)  # every result counts as large
    monkeypatch.setattr(module, "copy_query", recorded)
    through_file = features(synth_dir, "2018-01-01", ("delivered", "shipped"))
    pd.testing.assert_frame_equal(through_file, direct, check_exact=True)
    assert len(direct) > 1000 and len(made) == 1 and made[0].endswith(".parquet")
    assert not Path(made[0]).exists() and not Path(made[0]).parent.exists()  # removed once read


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_small_data_run_as_one_statement_write_the_staged_table(synth_dir, monkeypatch, tmp_path, suffix):
    import custseg.features as module

    chosen: list[bool] = []
    staged_runs: list[str] = []
    decide, run = module.whole_query, module.run_staged

    def decided(ds):
        chosen.append(decide(ds))
        return chosen[-1]

    def recorded(con, sql, sink=None):
        staged_runs.append(sql)
        return run(con, sql, sink)

    monkeypatch.setattr(module, "whole_query", decided)
    monkeypatch.setattr(module, "run_staged", recorded)
    with open_data(synth_dir) as ds:
        whole = module.write_features(ds, "2018-06-01", tmp_path / f"whole{suffix}", ("delivered", "shipped"))
        frame = module.customer_features(ds, "2018-06-01", ("delivered", "shipped"))
        # with more orders than run as one statement, the same query runs step by step
        monkeypatch.setattr(module, "WHOLE_QUERY_ORDERS", 0)
        staged = module.write_features(ds, "2018-06-01", tmp_path / f"staged{suffix}", ("delivered", "shipped"))
        staged_frame = module.customer_features(ds, "2018-06-01", ("delivered", "shipped"))
        assert ds.scalar("SELECT count(*) FROM duckdb_tables() WHERE temporary") == 0
    assert chosen == [True, True, False, False] and len(staged_runs) == 2
    assert whole == staged and whole[0] > 1000
    if suffix == ".csv":  # DuckDB encodes the Parquet pages of the two ways differently: the values are equal
        assert (tmp_path / f"whole{suffix}").read_bytes() == (tmp_path / f"staged{suffix}").read_bytes()
    assert read_feature_table(tmp_path / f"whole{suffix}").equals(read_feature_table(tmp_path / f"staged{suffix}"))
    pd.testing.assert_frame_equal(frame, staged_frame, check_exact=True)


def test_the_way_the_query_runs_follows_the_number_of_orders(tiny_dir, monkeypatch):
    import custseg.features as module

    with open_data(tiny_dir) as ds:
        orders = ds.scalar("SELECT count(*) FROM orders")
        assert module.whole_query(ds)
        ds.con.execute("SET memory_limit = '300MB'")  # not the memory free at the time: the same way
        assert module.whole_query(ds)
        monkeypatch.setattr(module, "WHOLE_QUERY_ORDERS", orders - 1)
        assert not module.whole_query(ds)
        monkeypatch.setattr(module, "WHOLE_QUERY_ORDERS", orders)
        assert module.whole_query(ds)
        monkeypatch.setattr(module, "FILE_RESULT_ROWS", orders)  # a result that large goes through a file
        assert not module.whole_query(ds)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_writes_the_table_and_a_summary(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.csv"
    result = run_cli("features", tiny_dir, "--as-of", AS_OF, "-o", out)
    assert result.code == 0, result.stderr
    assert "customers" in result.stdout and "5" in result.stdout and "2018-03-01" in result.stdout
    assert f"wrote {out}" in result.stdout.replace("\n", "")
    written = pd.read_csv(out, dtype={"customer_unique_id": str})
    assert list(written.customer_unique_id) == ["u1", "u3", "u5", "u6", "u7"]


def test_cli_statuses_option_changes_counts(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.parquet"
    result = run_cli("features", tiny_dir, "--as-of", AS_OF, "-o", out, "--statuses", "delivered,shipped")
    assert result.code == 0, result.stderr
    assert list(pd.read_parquet(out).customer_unique_id) == ["u1", "u3", "u4", "u5", "u6", "u7"]


def test_cli_default_as_of_is_the_day_after_the_latest_purchase(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.parquet"
    result = run_cli("features", tiny_dir, "-o", out)
    assert result.code == 0, result.stderr
    assert "using 2018-03-02" in result.stdout
    assert pd.read_parquet(out).set_index("customer_unique_id").loc["u1", "frequency"] == 3


def test_cli_unparseable_as_of_exits_2_with_one_line(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.csv"
    result = run_cli("features", tiny_dir, "--as-of", "01/03/2018", "-o", out)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "not a date" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_cli_bad_output_extension_exits_2_and_writes_nothing(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.xlsx"
    result = run_cli("features", tiny_dir, "--as-of", AS_OF, "-o", out)
    assert result.code == 2 and "csv or .parquet" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == [tiny_dir]


def test_cli_no_counted_customer_exits_2_and_writes_nothing(tiny_dir: Path, tmp_path: Path):
    out = tmp_path / "features.csv"
    result = run_cli("features", tiny_dir, "--as-of", "2017-01-01", "-o", out)
    assert result.code == 2 and "no customer" in result.stderr and not out.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_output_is_byte_identical_across_runs(tiny_dir: Path, tmp_path: Path, suffix: str):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    for out in (first, second):
        assert run_cli("features", tiny_dir, "--as-of", AS_OF, "-o", out).code == 0
    assert first.read_bytes() == second.read_bytes()


def test_help_lists_every_feature():
    result = run_cli("features", "--help")
    assert result.code == 0
    assert all(name in result.stdout for name in FEATURE_DOCS)


# -- leakage: facts dated on or after D do not exist at D -----------------------------------


#: The tables holding dated facts (or facts of orders); the others are copied unchanged.
DATED_TABLES = ("customers", "orders", "order_items", "payments", "reviews")


def read_tables(root: Path) -> dict[str, pd.DataFrame]:
    """The dated tables of ``root`` as text, exactly as written (empty cells stay '')."""
    return {
        name: pd.read_csv(root / TABLES[name].csv_name, dtype=str, keep_default_na=False)
        for name in DATED_TABLES
    }


def _shift(stamps: pd.Series, days: int) -> pd.Series:
    shifted = pd.to_datetime(stamps.where(stamps != "")) + pd.Timedelta(days=days)
    return shifted.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")


def _review_known_at(reviews: pd.DataFrame) -> pd.Series:
    return reviews.review_answer_timestamp.where(reviews.review_answer_timestamp != "", reviews.review_creation_date)


def without_the_future(tables: dict[str, pd.DataFrame], day: str) -> dict[str, pd.DataFrame]:
    """``tables`` with every fact dated ``day`` or later removed or blanked."""
    t = {name: df.copy() for name, df in tables.items()}
    orders = t["orders"]
    late = orders.order_purchase_timestamp >= day
    gone = set(orders.order_id[late])
    t["orders"] = orders[~late]
    t["customers"] = t["customers"][t["customers"].customer_id.isin(t["orders"].customer_id)]
    for name in ("order_items", "payments", "reviews"):
        t[name] = t[name][~t[name].order_id.isin(gone)]
    delivered = t["orders"].order_delivered_customer_date
    t["orders"].loc[delivered >= day, "order_delivered_customer_date"] = ""
    t["reviews"] = t["reviews"][_review_known_at(t["reviews"]) < day]
    return t


def with_a_different_future(tables: dict[str, pd.DataFrame], day: str) -> dict[str, pd.DataFrame]:
    """``tables`` with every fact dated ``day`` or later changed (other values, later dates)."""
    t = {name: df.copy() for name, df in tables.items()}
    orders = t["orders"]
    late = orders.order_purchase_timestamp >= day
    gone = set(orders.order_id[late])
    orders.loc[late, "order_status"] = "delivered"
    orders.loc[late, "order_purchase_timestamp"] = _shift(orders.order_purchase_timestamp[late], 3)
    customers = t["customers"]
    customers.loc[customers.customer_id.isin(orders.customer_id[late]), "customer_state"] = "ZZ"
    items, payments = t["order_items"], t["payments"]
    items.loc[items.order_id.isin(gone), "price"] = "9999.99"
    payments.loc[payments.order_id.isin(gone), "payment_value"] = "8888.88"
    payments.loc[payments.order_id.isin(gone), "payment_type"] = "zz_future"
    delivered = orders.order_delivered_customer_date
    orders.loc[delivered >= day, "order_delivered_customer_date"] = _shift(delivered[delivered >= day], 30)
    reviews = t["reviews"]
    future = _review_known_at(reviews) >= day
    reviews.loc[future, "review_score"] = "1"
    for column in ("review_creation_date", "review_answer_timestamp"):
        reviews.loc[future, column] = _shift(reviews.loc[future, column], 1)
    return t


def write_text_tables(root: Path, tables: dict[str, pd.DataFrame], source: Path) -> Path:
    """``tables`` written as CSVs in ``root``, beside links to the other tables of ``source``."""
    root.mkdir(parents=True)
    for name, spec in TABLES.items():
        if name in tables:
            tables[name].to_csv(root / spec.csv_name, index=False)
        else:
            (root / spec.csv_name).symlink_to((source / spec.csv_name).resolve())
    return root


def assert_no_leakage(source: Path, tmp_path: Path, day: str, statuses: tuple[str, ...]) -> pd.DataFrame:
    baseline = features(source, day, statuses)
    tables = read_tables(source)
    for rewrite in (without_the_future, with_a_different_future):
        altered = write_text_tables(tmp_path / rewrite.__name__, rewrite(tables, day), source)
        pd.testing.assert_frame_equal(features(altered, day, statuses), baseline, check_exact=True)
    return baseline


@pytest.mark.parametrize("statuses", [("delivered",), ("delivered", "shipped", "canceled")])
def test_tiny_no_leakage(tiny_dir: Path, tmp_path: Path, statuses):
    baseline = assert_no_leakage(tiny_dir, tmp_path, AS_OF, statuses)
    assert len(baseline) >= 5


@pytest.mark.parametrize("day, statuses", [
    ("2017-06-01", ("delivered",)),
    ("2018-03-01", ("delivered", "shipped", "canceled", "invoiced")),
])
def test_synthetic_no_leakage(synth_dir: Path, tmp_path: Path, day: str, statuses):
    baseline = assert_no_leakage(synth_dir, tmp_path, day, statuses)
    assert len(baseline) > 500 and baseline.frequency.max() > 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_synthetic_output_is_byte_identical_across_runs(synth_dir: Path, tmp_path: Path, suffix: str):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    for out in (first, second):
        result = run_cli("features", synth_dir, "--as-of", "2018-06-01", "-o", out, "--statuses", "delivered,shipped")
        assert result.code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    # the table DuckDB wrote is the one the library computes, in its order (sorted by person), exactly
    expected = features(synth_dir, "2018-06-01", ("delivered", "shipped"))
    pd.testing.assert_frame_equal(read_feature_table(first), expected, check_exact=True)


# -- the real export --------------------------------------------------------------------------


def counted_orders_by_pandas(root: Path, day: str) -> pd.DataFrame:
    """Delivered orders purchased before ``day`` with their person and value, straight from CSVs."""
    orders = pd.read_csv(root / "olist_orders_dataset.csv", parse_dates=["order_purchase_timestamp"])
    customers = pd.read_csv(root / "olist_customers_dataset.csv", dtype=str)
    payments = pd.read_csv(root / "olist_order_payments_dataset.csv")
    items = pd.read_csv(root / "olist_order_items_dataset.csv")
    counted = orders[(orders.order_status == "delivered") & (orders.order_purchase_timestamp < day)]
    counted = counted.merge(customers, on="customer_id")
    paid = payments.groupby("order_id").payment_value.sum()
    item_value = (items.price + items.freight_value).groupby(items.order_id).sum()
    counted["value"] = counted.order_id.map(paid).fillna(counted.order_id.map(item_value)).fillna(0.0)
    return counted


@pytest.mark.realdata
def test_real_export_recency_frequency_monetary(olist_dir: Path):
    day = "2018-09-01"
    got = features(olist_dir, day).set_index("customer_unique_id")
    assert len(got) == 93_358

    counted = counted_orders_by_pandas(olist_dir, day)
    by_person = counted.groupby("customer_unique_id").agg(
        last=("order_purchase_timestamp", "max"), frequency=("order_id", "nunique"), monetary=("value", "sum")
    )
    by_person["recency_days"] = (pd.Timestamp(day) - by_person["last"]) / pd.Timedelta(days=1)
    assert sorted(by_person.index) == list(got.index)

    repeat = by_person.frequency.idxmax()  # the most frequent buyer
    once = by_person[by_person.frequency == 1].index[0]
    assert by_person.loc[repeat, "frequency"] > 2
    for person in (repeat, once):
        assert got.loc[person, "frequency"] == by_person.loc[person, "frequency"]
        assert got.loc[person, "recency_days"] == pytest.approx(by_person.loc[person, "recency_days"], abs=1e-9)
        assert got.loc[person, "monetary"] == pytest.approx(by_person.loc[person, "monetary"], rel=1e-12)
    # and everyone, at once
    assert (got.frequency == by_person.frequency.loc[got.index]).all()
    pd.testing.assert_series_equal(got.recency_days, by_person.recency_days.loc[got.index], check_names=False)
    pd.testing.assert_series_equal(got.monetary, by_person.monetary.loc[got.index], check_names=False, rtol=1e-9)


@pytest.mark.realdata
def test_real_export_statuses_option_counts(olist_dir: Path):
    day = "2018-09-01"
    orders = pd.read_csv(olist_dir / "olist_orders_dataset.csv", parse_dates=["order_purchase_timestamp"])
    customers = pd.read_csv(olist_dir / "olist_customers_dataset.csv", dtype=str)
    statuses = ("delivered", "shipped", "invoiced")
    counted = orders[orders.order_status.isin(statuses) & (orders.order_purchase_timestamp < day)]
    expected = counted.merge(customers, on="customer_id").customer_unique_id.nunique()
    got = features(olist_dir, day, statuses)
    assert len(got) == expected > 93_358
    assert got.isna().sum()[["monetary", "frequency", "main_category", "customer_state"]].sum() == 0


@pytest.mark.realdata
def test_real_export_no_leakage(olist_dir: Path, tmp_path: Path):
    baseline = assert_no_leakage(olist_dir, tmp_path, "2018-03-01", ("delivered", "shipped"))
    assert len(baseline) > 40_000


# -- a generic transaction log ----------------------------------------------------------------


def test_transaction_log_features(tmp_path: Path):
    log = tmp_path / "log.csv"
    log.write_text("client,day,paid\nA,2018-01-01,10.00\nA,2018-02-01,5.50\nB,2018-02-15,3.00\nB,2018-03-01,99\n")
    out = tmp_path / "features.csv"
    result = run_cli("features", log, "--as-of", AS_OF, "-o", out,
                     "--customer-col", "client", "--date-col", "day", "--amount-col", "paid")
    assert result.code == 0, result.stderr
    got = pd.read_csv(out, keep_default_na=False).set_index("customer_unique_id")
    assert list(got.index) == ["A", "B"]
    a = got.loc["A"]
    assert (a.frequency, a.monetary, a.recency_days, a.tenure_days) == (2, 15.5, 28.0, 59.0)
    assert (a.mean_items, a.review_share, a.installments_mean, a.freight_share) == (1.0, 0.0, 1.0, 0.0)
    assert a.review_score_mean == a.answer_days == a.delivery_days_mean == a.late_share == ""  # no reviews...
    assert a.total_items == 2  # a log line is one item
    assert (a.main_payment_type, a.main_category, a.customer_state) == ("unknown", "unknown", "unknown")
    assert got.loc["B", "monetary"] == 3.0  # the order of 2018-03-01 is not before the as-of date
