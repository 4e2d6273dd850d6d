"""Synthetic Olist data: files and formats of the real export, integrity, planted personas, drift."""
from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.ingest import key_text, load
from custseg.schema import TABLES
from custseg.synth import PERSONAS, TRUTH_FILE, cdnow_log, customers_for_orders, generate

START, END = date(2016, 9, 1), date(2018, 9, 1)  # the defaults: 24 months
DRIFT_MONTH = 13


@pytest.fixture(scope="module")
def ds(synth_dir):
    data = load(synth_dir)
    yield data
    data.con.close()


@pytest.fixture(scope="module")
def truth(synth_dir) -> pd.DataFrame:
    return pd.read_csv(synth_dir / TRUTH_FILE, dtype=str)


def rows(ds, sql: str) -> list[tuple]:
    return ds.con.execute(sql).fetchall()


def scalar(ds, sql: str):
    return ds.con.execute(sql).fetchone()[0]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = (generate(tmp_path / name, customers=400, seed=seed) for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "olist_orders_dataset.csv").read_bytes() != (tmp_path / "c" / "olist_orders_dataset.csv").read_bytes()
    assert a.rows == b.rows and a.files.keys() == c.files.keys()


def test_nine_files_with_the_official_headers_and_truth(synth_dir):
    for spec in TABLES.values():
        first = (synth_dir / spec.csv_name).read_bytes().split(b"\n", 1)[0].decode("utf-8")
        if spec.name == "category_translation":
            assert first == "\ufeff" + ",".join(spec.columns)  # the export's BOM, no quotes
        else:
            assert first == ",".join(f'"{c}"' for c in spec.columns)
    assert (synth_dir / TRUTH_FILE).read_text().splitlines()[0] == '"customer_unique_id","persona","first_purchase_month"'


@pytest.mark.realdata
def test_headers_match_the_real_export(synth_dir, olist_dir):
    for spec in TABLES.values():
        real = (olist_dir / spec.csv_name).read_bytes().split(b"\n", 1)[0].rstrip(b"\r")
        assert (synth_dir / spec.csv_name).read_bytes().split(b"\n", 1)[0] == real, spec.csv_name


def test_loads_with_the_contract_types(ds, truth):
    assert ds.rows["orders"] == ds.rows["customers"] > len(truth) == 3000
    assert all(ds.rows[name] > 0 for name in TABLES)
    assert scalar(ds, "SELECT count(DISTINCT customer_unique_id) FROM customers") == 3000


def test_referential_integrity(ds):
    orphans = {
        "order customer": "SELECT count(*) FROM orders o ANTI JOIN customers c USING (customer_id)",
        "item order": "SELECT count(*) FROM order_items i ANTI JOIN orders o USING (order_id)",
        "item product": "SELECT count(*) FROM order_items i ANTI JOIN products p USING (product_id)",
        "item seller": "SELECT count(*) FROM order_items i ANTI JOIN sellers s USING (seller_id)",
        "payment order": "SELECT count(*) FROM payments p ANTI JOIN orders o USING (order_id)",
        "review order": "SELECT count(*) FROM reviews r ANTI JOIN orders o USING (order_id)",
        "customer zip": "SELECT count(*) FROM customers c ANTI JOIN geolocation g "
                        "ON g.geolocation_zip_code_prefix = c.customer_zip_code_prefix",
        "seller zip": "SELECT count(*) FROM sellers s ANTI JOIN geolocation g "
                      "ON g.geolocation_zip_code_prefix = s.seller_zip_code_prefix",
        "order without items": "SELECT count(*) FROM orders o ANTI JOIN order_items i USING (order_id)",
        "order without payment": "SELECT count(*) FROM orders o ANTI JOIN payments p USING (order_id)",
    }
    assert {name: scalar(ds, sql) for name, sql in orphans.items()} == dict.fromkeys(orphans, 0)
    # customer_id is per order, customer_unique_id is the person
    assert scalar(ds, "SELECT count(DISTINCT customer_id) FROM orders") == ds.rows["orders"]
    for spec in TABLES.values():
        if spec.primary_key:
            key = ", ".join(spec.primary_key)
            assert scalar(ds, f"SELECT count(*) - count(DISTINCT ({key})) FROM {spec.name}") == 0, spec.name


def test_formats_of_ids_zips_money_and_timestamps(synth_dir, ds):
    hex32 = re.compile(r'^"?[0-9a-f]{32}"?$')
    for line in (synth_dir / "olist_order_items_dataset.csv").read_text().splitlines()[1:200]:
        order_id, item, product, seller, limit, price, freight = line.split(",")
        assert hex32.match(order_id) and hex32.match(product) and hex32.match(seller)
        assert order_id.startswith('"') == order_id.strip('"')[0].isdigit()  # the export's quoting
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", limit)
        assert re.fullmatch(r"\d+\.\d\d", price) and re.fullmatch(r"\d+\.\d\d", freight)
    zips = [r[0] for r in rows(ds, "SELECT DISTINCT customer_zip_code_prefix FROM customers")]
    assert all(re.fullmatch(r"\d{5}", z) for z in zips)
    assert any(z.startswith("0") for z in zips)  # leading zeros kept (Sao Paulo)
    states = {r[0] for r in rows(ds, "SELECT DISTINCT customer_state FROM customers")}
    assert {"SP", "RJ", "MG"} <= states and all(re.fullmatch(r"[A-Z]{2}", s) for s in states)
    assert scalar(ds, "SELECT count(*) FROM orders WHERE order_estimated_delivery_date <> "
                      "date_trunc('day', order_estimated_delivery_date)") == 0


def test_only_delivered_orders_have_a_delivery_date(ds):
    by_status = dict(rows(ds, "SELECT order_status, count(*) FROM orders GROUP BY 1"))
    assert scalar(ds, "SELECT count(*) FROM orders WHERE (order_status = 'delivered') <> "
                      "(order_delivered_customer_date IS NOT NULL)") == 0
    others = sum(n for s, n in by_status.items() if s != "delivered") / sum(by_status.values())
    assert 0.01 < others < 0.10
    assert {"canceled", "shipped", "unavailable"} <= set(by_status)
    assert scalar(ds, "SELECT max(order_purchase_timestamp) FROM orders") < pd.Timestamp(END)
    # nothing in the export happens after its date
    assert scalar(ds, "SELECT max(order_delivered_customer_date) FROM orders") < pd.Timestamp(END)
    assert scalar(ds, "SELECT max(review_answer_timestamp) FROM reviews") < pd.Timestamp(END)
    assert scalar(ds, "SELECT count(*) FROM orders WHERE order_delivered_carrier_date > order_delivered_customer_date "
                      "OR order_approved_at < order_purchase_timestamp") == 0


def test_reviews_are_created_the_midnight_after_delivery(ds):
    mismatched = scalar(ds, """
        SELECT count(*) FROM reviews r JOIN orders o USING (order_id)
        WHERE o.order_status = 'delivered'
          AND r.review_creation_date <> date_trunc('day', o.order_delivered_customer_date) + INTERVAL 1 DAY""")
    assert mismatched == 0
    assert scalar(ds, "SELECT count(*) FROM reviews WHERE review_answer_timestamp < review_creation_date") == 0
    assert scalar(ds, "SELECT count(*) FROM reviews WHERE review_answer_timestamp > "
                      "review_creation_date + INTERVAL 3 DAY") > 0  # some answered later
    assert scalar(ds, "SELECT count(*) FROM reviews WHERE review_comment_message IS NOT NULL") > 0
    unreviewed = scalar(ds, "SELECT count(*) FROM orders o ANTI JOIN reviews r USING (order_id) "
                            "WHERE o.order_status = 'delivered'")
    assert unreviewed > 0


def test_payments_pay_for_the_items(ds):
    assert scalar(ds, """
        WITH paid AS (SELECT order_id, sum(CAST(payment_value AS DECIMAL(18, 2))) AS v FROM payments GROUP BY 1),
             cost AS (SELECT order_id, sum(CAST(price AS DECIMAL(18, 2)) + CAST(freight_value AS DECIMAL(18, 2))) AS v
                      FROM order_items GROUP BY 1)
        SELECT count(*) FROM paid JOIN cost USING (order_id) WHERE paid.v <> cost.v""") == 0
    types = dict(rows(ds, "SELECT payment_type, max(payment_installments) FROM payments GROUP BY 1"))
    assert types == {"credit_card": 10, "boleto": 1, "voucher": 1, "debit_card": 1}
    assert scalar(ds, "SELECT min(payment_installments) FROM payments") == 1
    split = scalar(ds, """SELECT count(*) FROM (SELECT order_id FROM payments GROUP BY 1
                          HAVING count(*) > 1 AND bool_or(payment_type = 'voucher')
                             AND bool_or(payment_type = 'credit_card'))""")
    assert split > 0
    assert scalar(ds, "SELECT count(*) FROM (SELECT order_id FROM order_items GROUP BY 1 HAVING count(*) > 1)") > 0


def test_products_categories_and_translation(ds):
    untranslated = {r[0] for r in rows(ds, """
        SELECT DISTINCT p.product_category_name FROM products p
        ANTI JOIN category_translation t USING (product_category_name)
        WHERE p.product_category_name IS NOT NULL""")}
    assert 1 <= len(untranslated) <= 2
    assert scalar(ds, "SELECT count(*) FROM products WHERE product_category_name IS NULL") > 0
    assert scalar(ds, "SELECT count(*) FROM category_translation") > 30


def test_about_97_percent_buy_once(ds):
    once = scalar(ds, """SELECT avg(CASE WHEN n = 1 THEN 1.0 ELSE 0 END)
                         FROM (SELECT customer_unique_id, count(*) AS n FROM customers GROUP BY 1)""")
    assert 0.95 <= once <= 0.985


def test_truth_holds_every_person_once_with_the_planted_shares(ds, truth):
    person = key_text(ds.con, "customers", "customer_unique_id")
    people = {r[0] for r in rows(ds, f"SELECT DISTINCT {person} FROM customers")}
    assert set(truth.customer_unique_id) == people and truth.customer_unique_id.is_unique
    shares = truth.persona.value_counts(normalize=True)
    assert set(shares.index) == {p.name for p in PERSONAS}
    for persona in PERSONAS:
        assert abs(shares[persona.name] - persona.share) < 0.03, persona.name
    assert shares.min() >= 0.025
    month = truth.first_purchase_month.astype(int)
    assert month.min() == 1 and month.max() == 24


def test_k_means_recovers_the_personas_from_the_features(synth_dir, truth):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    from custseg.features import features

    table = features(synth_dir, END).merge(truth, on="customer_unique_id")
    assert len(table) > 0.9 * len(truth)
    numeric = ["frequency", "monetary", "mean_basket", "mean_items", "review_score_mean", "review_share",
               "delivery_days_mean", "lateness_days_mean", "late_share", "installments_mean", "freight_share",
               "n_categories"]
    x = table[numeric].copy()
    for column in ("frequency", "monetary", "mean_basket", "mean_items", "n_categories"):
        x[column] = np.log1p(x[column])
    z = np.clip(StandardScaler().fit_transform(x.fillna(x.median())), -3, 3)
    labels = KMeans(len(PERSONAS), n_init=4, random_state=0).fit_predict(z)
    assert adjusted_rand_score(table.persona, labels) >= 0.95


def test_drift_month_brings_voucher_deal_seekers_only_from_that_month(make_synth):
    drifted = make_synth(drift_month=DRIFT_MONTH)
    truth = pd.read_csv(drifted / TRUTH_FILE, dtype=str)
    month = truth.first_purchase_month.astype(int)
    seekers = truth.persona == "voucher_deal_seeker"
    assert seekers.any() and month[seekers].min() >= DRIFT_MONTH
    assert 0.33 < seekers[month >= DRIFT_MONTH].mean() < 0.47
    # the campaign: three times as many new customers per month from the drift month on
    per_month = month.value_counts()
    assert per_month[per_month.index >= DRIFT_MONTH].mean() > 2.4 * per_month[per_month.index < DRIFT_MONTH].mean()
    # before the drift month every person has the persona it has without drift
    plain = pd.read_csv(make_synth() / TRUTH_FILE, dtype=str).set_index("customer_unique_id").persona
    before = truth[month < DRIFT_MONTH]
    assert len(before) > 300
    assert (plain.loc[before.customer_unique_id].to_numpy() == before.persona.to_numpy()).all()


def test_drift_month_changes_behaviour_after_it_only(make_synth):
    data = load(make_synth(drift_month=DRIFT_MONTH))
    con = data.con.cursor()
    con.register("truth", pd.read_csv(data.root / TRUTH_FILE, dtype=str))
    drift_start = pd.Timestamp(START) + pd.DateOffset(months=DRIFT_MONTH - 1)
    person = key_text(data.con, "customers", "customer_unique_id", "c")
    late = dict(con.execute(f"""
        SELECT o.order_purchase_timestamp >= ? AS after,
               avg(CASE WHEN o.order_delivered_customer_date > o.order_estimated_delivery_date THEN 1.0 ELSE 0 END)
        FROM orders o JOIN customers c USING (customer_id) JOIN truth t ON t.customer_unique_id = {person}
        WHERE t.persona = 'satisfied_big_spender' AND o.order_status = 'delivered'
        GROUP BY 1""", [drift_start]).fetchall())
    assert late[False] < 0.05 and late[True] > 0.95
    seeker_payments = {r[0] for r in con.execute(f"""
        SELECT DISTINCT p.payment_type FROM payments p JOIN orders o USING (order_id)
        JOIN customers c USING (customer_id) JOIN truth t ON t.customer_unique_id = {person}
        WHERE t.persona = 'voucher_deal_seeker'""").fetchall()}
    assert seeker_payments == {"voucher"}
    con.close()
    data.con.close()


def test_drift_mix_doubles_unhappy_late_and_adds_no_persona(make_synth):
    truth = pd.read_csv(make_synth(drift_mix=True) / TRUTH_FILE, dtype=str)
    month = truth.first_purchase_month.astype(int)
    unhappy = truth.persona == "unhappy_late"
    early, late = unhappy[month <= 6].mean(), unhappy[month > 18].mean()
    assert late > 1.4 * early
    assert set(truth.persona) == {p.name for p in PERSONAS}


def test_orders_option_aims_at_an_order_count(tmp_path):
    summary = generate(tmp_path, customers=customers_for_orders(2000), seed=1)
    assert abs(summary.orders - 2000) < 150


def test_bad_arguments_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="customers"):
        generate(tmp_path / "x", customers=0)
    with pytest.raises(InputError, match="drift month"):
        generate(tmp_path / "x", customers=10, months=6, drift_month=7)
    with pytest.raises(InputError, match="start"):
        generate(tmp_path / "x", customers=10, start="2016-02-30")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        generate(tmp_path / "file", customers=10)
    assert not (tmp_path / "x").exists()


def test_progress_is_reported_per_chunk(tmp_path):
    seen: list[int] = []
    generate(tmp_path, customers=50, seed=0, progress=seen.append)
    assert seen == [50]


def test_cli_writes_the_files(cli, tmp_path):
    result = cli("synth", tmp_path / "out", "--customers", "300", "--seed", "2", "--months", "6",
                 "--start", "2017-01-01", "--drift-month", "4")
    assert result.code == 0, result.stderr
    assert "voucher_deal_seeker" in result.stdout
    assert len(list((tmp_path / "out").glob("*.csv"))) == 10
    orders = pd.read_csv(tmp_path / "out" / "olist_orders_dataset.csv", dtype=str)
    assert orders.order_purchase_timestamp.min() >= "2017-01-01"
    assert orders.order_purchase_timestamp.max() < "2017-07-01"


@pytest.mark.parametrize("args", [
    ["--customers", "abc"], ["--drift-month", "30"], ["--customers", "5", "--orders", "10"],
])
def test_cli_bad_arguments_exit_2_with_one_line(cli, tmp_path, args):
    result = cli("synth", tmp_path / "out", *args)
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_cdnow_log_layout(tmp_path):
    path = cdnow_log(tmp_path / "cdnow.txt", customers=200, seed=5)
    assert cdnow_log(tmp_path / "again.txt", customers=200, seed=5).read_bytes() == path.read_bytes()
    lines = path.read_text().splitlines()
    fields = [line.split() for line in lines]
    assert all(re.fullmatch(r"\s*\d{5} \d{8}\s+\d+\s+\d+\.\d\d", line) for line in lines)
    ids = [f[0] for f in fields]
    assert len(set(ids)) == 200 and len(lines) > 250  # several lines for some customers
    assert [(f[0], f[1]) for f in fields] == sorted((f[0], f[1]) for f in fields)
    assert all("19970101" <= f[1] <= "19980630" for f in fields)
