"""Loading an Olist export into typed DuckDB tables: formats, warts, warnings and refusals."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.features import features
from custseg.checks import TEXT_MACRO
from custseg.ingest import KEY_COLUMNS, Dataset, idle, key_text, load, open_data, summary
from custseg.schema import FEATURE_COLUMNS, TABLES, LogMapping


def copy_export(src: Path, dst: Path) -> Path:
    """A private copy of the nine CSVs of ``src`` (tests edit it)."""
    dst.mkdir(parents=True, exist_ok=True)
    for spec in TABLES.values():
        shutil.copy(src / spec.csv_name, dst / spec.csv_name)
    return dst


def read(root: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(root / TABLES[table].csv_name, dtype=str, keep_default_na=False)


def write(root: Path, table: str, frame: pd.DataFrame) -> None:
    frame.to_csv(root / TABLES[table].csv_name, index=False)


def findings(ds: Dataset) -> dict[tuple[str, str, str | None], int]:
    return {(w.check, w.table, w.column): w.count for w in ds.warnings}


def table_rows(ds: Dataset, table: str) -> list[tuple]:
    return ds.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def real(olist_dir) -> Dataset:
    return load(olist_dir)


@pytest.fixture(scope="module")
def synth(synth_dir) -> Dataset:
    return load(synth_dir)


def test_real_export_loads_with_its_known_warts(real):
    assert real.rows == {
        "customers": 99_441, "orders": 99_441, "order_items": 112_650, "payments": 103_886,
        "reviews": 99_224, "products": 32_951, "sellers": 3_095, "geolocation": 1_000_163,
        "category_translation": 71,
    }
    found = findings(real)
    assert found[("order_without_items", "orders", None)] == 775
    assert found[("order_without_payment", "orders", None)] == 1
    assert found[("review_without_date", "reviews", "review_creation_date")] == 18
    assert found[("review_without_date", "reviews", "review_answer_timestamp")] == 65
    assert found[("product_without_category", "products", "product_category_name")] == 610
    untranslated = next(w for w in real.warnings if w.check == "category_without_translation")
    assert untranslated.count == 2
    assert set(untranslated.examples) == {"pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos"}
    assert not real.problems
    # the BOM of the translation file is not part of its first column's name
    assert real.scalar("SELECT count(product_category_name) FROM category_translation") == 71


def test_real_export_summary(real):
    facts = summary(real)
    assert facts["customers"] == 96_096
    assert facts["delivered_orders"] == 96_478
    assert facts["first_purchase"].startswith("2016-09-04")
    assert facts["last_purchase"].startswith("2018-10-17")


def test_real_export_types_and_multiline_comments(real):
    types = dict(real.con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'orders'").fetchall())
    assert types["order_purchase_timestamp"] == "TIMESTAMP"
    # comments spanning several lines stay inside one review
    assert real.scalar("SELECT count(*) FROM reviews WHERE review_comment_message LIKE '%' || chr(10) || '%'") > 0
    assert real.scalar("SELECT count(DISTINCT review_id) FROM reviews") == 98_410
    # zip prefixes keep their leading zeros
    assert real.scalar("SELECT min(customer_zip_code_prefix) FROM customers") == "01003"


def test_synthetic_export_is_clean_apart_from_untranslated_categories(synth):
    assert not synth.problems
    assert {w.check for w in synth.warnings} <= {"category_without_translation", "product_without_category"}


def _to_parquet(ds: Dataset, src: Path, dst: Path, typed: bool) -> Path:
    """Parquet files of ``src``: typed (from the loaded tables) or text (as read from the CSVs)."""
    dst.mkdir()
    for name, spec in TABLES.items():
        # ids are text in a user's files (the tables may hold hex ids as numbers)
        ids = ", ".join(f"{TEXT_MACRO}({c}) AS {c}" for c in spec.columns if c in KEY_COLUMNS)
        typed_table = f"(SELECT * REPLACE ({ids}) FROM {name})" if ids else name
        relation = typed_table if typed else f"read_csv('{src / spec.csv_name}', header=true, all_varchar=true)"
        ds.con.execute(f"COPY (SELECT * FROM {relation}) TO '{dst / spec.parquet_name}' (FORMAT parquet)")
    return dst


@pytest.mark.parametrize("typed", [True, False], ids=["typed-parquet", "text-parquet"])
def test_parquet_directory_loads_identically_to_csv(synth, synth_dir, tmp_path, typed):
    parquet = load(_to_parquet(synth, Path(synth_dir), tmp_path / "pq", typed))
    assert all(p.suffix == ".parquet" for p in parquet.files.values())
    assert parquet.rows == synth.rows
    for name in TABLES:
        assert table_rows(parquet, name) == table_rows(synth, name), name
    assert [str(w) for w in parquet.warnings] == [str(w) for w in synth.warnings]


def test_parquet_with_invalid_utf8_text_is_refused(synth_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = copy_export(Path(synth_dir), tmp_path / "badpq")
    sellers = read(root, "sellers")
    cities = [c.encode() for c in sellers["seller_city"]]
    cities[0] = b"s\xe3o paulo"  # Latin-1, not UTF-8
    table = pa.Table.from_pandas(sellers.drop(columns=["seller_city"]), preserve_index=False)
    table = table.append_column("seller_city", pa.array(cities, pa.binary()).view(pa.string()))
    pq.write_table(table, root / TABLES["sellers"].parquet_name)
    with pytest.raises(InputError, match="^olist_sellers_dataset.parquet: holds text that is not valid UTF-8$"):
        load(root)


def test_parquet_is_preferred_when_both_formats_are_present(synth, synth_dir, tmp_path):
    root = copy_export(Path(synth_dir), tmp_path / "both")
    synth.con.execute(f"COPY (SELECT * FROM orders LIMIT 10) TO '{root / TABLES['orders'].parquet_name}' "
                      "(FORMAT parquet)")
    assert load(root, strict=False).rows["orders"] == 10


def test_survivable_warts_are_counted_with_examples(synth_dir, tmp_path):
    root = copy_export(Path(synth_dir), tmp_path / "warts")
    items = read(root, "order_items")
    items.loc[0, "price"] = "-5.00"
    items.loc[1, "order_id"] = "no-such-order"
    write(root, "order_items", items)
    orders = read(root, "orders")
    delivered = orders.index[orders["order_status"] == "delivered"]
    orders.loc[delivered[0], "order_delivered_customer_date"] = "2016-01-01 00:00:00"  # before purchase
    orders.loc[delivered[1], "order_approved_at"] = "yesterday"  # does not parse: optional column
    orders.loc[delivered[2], "order_purchase_timestamp"] = "2081-01-01 10:00:00"  # a typo'd year
    write(root, "orders", orders)
    products = read(root, "products")
    write(root, "products", pd.concat([products, products.iloc[:2]]))  # two repeated products

    ds = load(root)
    found = findings(ds)
    assert found[("negative_value", "order_items", "price")] == 1
    assert found[("orphan_order_id", "order_items", "order_id")] == 1
    assert found[("event_before_purchase", "orders", "order_delivered_customer_date")] >= 1
    assert found[("unparsed_value", "orders", "order_approved_at")] == 1
    assert found[("purchase_after_last_event", "orders", "order_purchase_timestamp")] == 1
    assert found[("duplicate_key", "products", "product_id")] == 2
    unparsed = next(w for w in ds.warnings if w.check == "unparsed_value")
    assert unparsed.examples == ("yesterday",)
    assert str(unparsed) == "orders.order_approved_at: values that are not dates from 1990 to 2099: 1 (e.g. 'yesterday')"
    # repeated products are dropped (first row kept), so joins do not double items
    assert ds.rows["products"] == len(products)
    assert ds.scalar("SELECT count(*) FROM orders WHERE order_approved_at IS NULL AND order_id = ?",
                     [orders.loc[delivered[1], "order_id"]]) == 1


def test_empty_secondary_table_is_a_warning(synth_dir, tmp_path):
    root = copy_export(Path(synth_dir), tmp_path / "noreviews")
    write(root, "reviews", read(root, "reviews").iloc[:0])
    ds = load(root)
    assert findings(ds)[("empty_table", "reviews", None)] == 0
    assert ds.rows["reviews"] == 0


@pytest.mark.parametrize(
    "table, breakage, message",
    [
        ("orders", lambda f: f.drop(columns=["order_status"]),
         "olist_orders_dataset.csv: column order_status: missing column order_status"),
        ("orders", lambda f: pd.concat([f, f.iloc[:3]]),
         "olist_orders_dataset.csv: column order_id: duplicate order_id values: 3"),
        ("orders", lambda f: f.assign(order_purchase_timestamp=["31/12/2017"] + list(f.order_purchase_timestamp[1:])),
         "olist_orders_dataset.csv: column order_purchase_timestamp: values that are not dates from 1990 to 2099: 1 (e.g. '31/12/2017')"),
        ("orders", lambda f: f.assign(order_purchase_timestamp=[""] + list(f.order_purchase_timestamp[1:])),
         "olist_orders_dataset.csv: column order_purchase_timestamp: rows with an empty order_purchase_timestamp: 1"),
        ("customers", lambda f: f.iloc[:0],
         "olist_customers_dataset.csv: no rows: the table is empty"),
    ],
    ids=["missing-column", "duplicate-order", "bad-purchase-date", "empty-purchase-date", "no-customers"],
)
@pytest.mark.parametrize("columns", [None, FEATURE_COLUMNS], ids=["all-columns", "feature-columns"])
def test_load_refuses_unusable_data(synth_dir, tmp_path, table, breakage, message, columns):
    root = copy_export(Path(synth_dir), tmp_path / "broken")
    write(root, table, breakage(read(root, table)))
    with pytest.raises(InputError) as err:
        load(root, columns=columns)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_feature_columns_load_gives_the_same_features_from_less(synth, synth_dir):
    lean = load(synth_dir, columns=FEATURE_COLUMNS)
    assert set(lean.rows) == set(FEATURE_COLUMNS)  # sellers and geolocation are not read
    held = {r[0] for r in lean.con.execute("SELECT column_name FROM duckdb_columns() "
                                           "WHERE table_name = 'customers'").fetchall()}
    assert held == {"customer_id", "customer_unique_id", "customer_state"}
    assert {t: lean.rows[t] for t in lean.rows} == {t: synth.rows[t] for t in lean.rows}
    pd.testing.assert_frame_equal(features(lean, "2018-01-01"), features(synth, "2018-01-01"))


def test_all_problems_are_collected_when_not_strict(synth_dir, tmp_path):
    root = copy_export(Path(synth_dir), tmp_path / "many")
    (root / TABLES["sellers"].csv_name).unlink()
    write(root, "orders", pd.concat([read(root, "orders"), read(root, "orders").iloc[:1]]))
    ds = load(root, strict=False)
    assert [p.file for p in ds.problems] == ["olist_sellers_dataset.csv", str(root / TABLES["orders"].csv_name)]
    with pytest.raises(InputError, match=r"missing file .* \(and 1 more problem: run custseg validate\)"):
        load(root)


def test_quoting_bom_and_multiline_fields_in_small_files(synth_dir, tmp_path):
    root = copy_export(Path(synth_dir), tmp_path / "quirks")
    reviews = read(root, "reviews")
    reviews.loc[0, "review_comment_message"] = 'first line\nsecond line, with "quotes"'
    write(root, "reviews", reviews)
    translation = root / TABLES["category_translation"].csv_name
    assert translation.read_bytes().startswith(b"\xef\xbb\xbf")
    ds = load(root)
    assert ds.rows["reviews"] == len(reviews)
    review = key_text(ds.con, "reviews", "review_id")
    assert ds.scalar(f"SELECT review_comment_message FROM reviews WHERE {review} = ?",
                     [reviews.loc[0, "review_id"]]) == 'first line\nsecond line, with "quotes"'


def test_open_data_needs_a_mapping_for_a_file(synth_dir):
    with pytest.raises(InputError, match="is a file: give the directory of an Olist export"):
        open_data(Path(synth_dir) / TABLES["orders"].csv_name)


def test_load_into_a_given_connection(synth_dir):
    con = duckdb.connect()
    ds = load(synth_dir, con=con)
    assert ds.con is con
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == ds.rows["orders"]


def test_truncated_parquet_is_refused_in_one_line(synth, tmp_path):
    root = tmp_path / "truncated"
    root.mkdir()
    for name, spec in TABLES.items():
        synth.con.execute(f"COPY (SELECT * FROM {name}) TO '{root / spec.parquet_name}' (FORMAT parquet)")
    path = root / TABLES["payments"].parquet_name
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError) as err:
        load(root)
    assert str(err.value).startswith("olist_order_payments_dataset.parquet: cannot be read as Parquet: ")
    assert "\n" not in str(err.value)


def test_loaded_connection_is_ready_for_relational_calls(synth_dir):
    ds = load(synth_dir)
    assert ds.con.sql("SELECT count(*) FROM orders").fetchall()[0][0] == ds.rows["orders"]


def _key_types(ds: Dataset) -> dict[tuple[str, str], str]:
    return {(t, c): kind for t, c, kind in ds.con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main'").fetchall()
        if c in KEY_COLUMNS}


def test_hex_ids_are_held_as_numbers_and_read_back_as_their_text(synth, synth_dir):
    types = _key_types(synth)
    assert types[("orders", "order_id")] == types[("order_items", "order_id")] == "UHUGEINT"
    assert types[("customers", "customer_unique_id")] == "UHUGEINT"
    assert not [c for (_, c) in types if c.startswith("__custseg")]  # the text beside a key is gone
    expr = key_text(synth.con, "orders", "order_id")
    shown = [r[0] for r in synth.con.execute(f"SELECT {expr} FROM orders ORDER BY order_id").fetchall()]
    original = read(Path(synth_dir), "orders")["order_id"].tolist()
    assert shown == sorted(original)  # same values, and numbers sort like the text


def test_one_id_that_is_not_hex_keeps_the_key_as_text_in_every_table(synth_dir, tmp_path):
    data = copy_export(Path(synth_dir), tmp_path / "data")
    items = read(data, "order_items")
    odd = items.loc[0, "order_id"]
    items.loc[0, "order_id"] = "ORDER-1"  # an orphan item whose id is not hex
    write(data, "order_items", items)
    ds = load(data)
    types = _key_types(ds)
    assert types[("orders", "order_id")] == types[("order_items", "order_id")] == "VARCHAR"
    assert types[("payments", "order_id")] == types[("reviews", "order_id")] == "VARCHAR"
    assert types[("orders", "customer_id")] == "UHUGEINT"  # other keys are not affected
    got = [r[0] for r in ds.con.execute("SELECT order_id FROM order_items ORDER BY rowid").fetchall()]
    assert got == items["order_id"].tolist()
    assert ds.scalar("SELECT count(*) FROM orders WHERE order_id = ?", [odd]) == 1
    orphan = next(w for w in ds.warnings if w.check == "orphan_order_id")
    assert orphan.examples == ("ORDER-1",)


def test_upper_case_hex_ids_stay_text(synth_dir, tmp_path):
    data = copy_export(Path(synth_dir), tmp_path / "data")
    customers = read(data, "customers")
    customers["customer_unique_id"] = customers["customer_unique_id"].str.upper()
    write(data, "customers", customers)
    ds = load(data)
    assert _key_types(ds)[("customers", "customer_unique_id")] == "VARCHAR"
    assert set(features(ds, "2018-01-01")["customer_unique_id"]) <= set(customers["customer_unique_id"])


@pytest.mark.parametrize("odd", ["0000000000000000000000000000_abc", "000000000000000000000000000000 1",
                                 "0x000000000000000000000000000abc"])
def test_ids_a_hex_cast_would_misread_stay_text(synth_dir, tmp_path, odd):
    # 32 characters that DuckDB's hex cast reads (a digit separator) or that look like hex: kept as
    # written, never as a number that would read back as another text
    data = copy_export(Path(synth_dir), tmp_path / "data")
    customers = read(data, "customers")
    customers.loc[0, "customer_unique_id"] = odd
    write(data, "customers", customers)
    ds = load(data)
    assert _key_types(ds)[("customers", "customer_unique_id")] == "VARCHAR"
    assert ds.scalar("SELECT count(*) FROM customers WHERE customer_unique_id = ?", [odd]) == 1


def test_idle_puts_duckdb_on_a_small_budget_and_restores_it(synth_dir):
    ds = load(synth_dir)
    before = ds.scalar("SELECT current_setting('memory_limit')")
    totals = "SELECT count(*), sum(price) FROM order_items"
    expected = ds.con.execute(totals).fetchall()
    with idle(ds):
        assert ds.scalar("SELECT current_setting('memory_limit')") != before
        assert ds.con.execute(totals).fetchall() == expected  # the tables are still there
    assert ds.scalar("SELECT current_setting('memory_limit')") == before


def test_memory_budget_follows_the_machine_unless_set(monkeypatch):
    from types import SimpleNamespace

    import psutil

    from custseg.ingest import MEMORY_SHARE, MIN_MEMORY, connect, memory_budget

    monkeypatch.delenv("CUSTSEG_DUCKDB_MEMORY", raising=False)
    for available in (64 << 30, 12 << 30, 1 << 30):
        monkeypatch.setattr(psutil, "virtual_memory", lambda a=available: SimpleNamespace(available=a))
        assert memory_budget() == f"{max(MIN_MEMORY, int(available * MEMORY_SHARE)) >> 20}MiB"
    with connect() as con:  # the last one: the floor of 1 GiB
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "1.0 GiB"
    monkeypatch.setenv("CUSTSEG_DUCKDB_MEMORY", "3GB")
    assert memory_budget() == "3GB"
    with connect() as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "2.7 GiB"


@pytest.mark.parametrize("kind", ["export", "log"])
def test_a_refused_load_closes_the_connection_it_opened(small_export, tmp_path, monkeypatch, kind):
    import custseg.ingest

    opened = []
    real = custseg.ingest.connect

    def recording():
        opened.append(real())
        return opened[-1]

    monkeypatch.setattr(custseg.ingest, "connect", recording)
    if kind == "export":
        data = copy_export(Path(small_export), tmp_path / "data")
        orders = read(data, "orders")
        orders["order_purchase_timestamp"] = "not a date"
        write(data, "orders", orders)
        load_it = lambda: load(data)  # noqa: E731
    else:
        log = tmp_path / "log.csv"
        log.write_text("who,day,paid\na,2018-01-01,10\nb,yesterday,5\n")
        load_it = lambda: open_data(log, LogMapping("who", "day", "paid"))  # noqa: E731
    with pytest.raises(InputError):
        load_it()
    assert len(opened) == 1
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("SELECT 1")
