"""PostgreSQL as DATA: the same results as from files, the same refusals, and no password shown.

Every test runs against a real server (the ``postgres`` fixture: a temporary cluster of Debian's
PostgreSQL on a free local port), each in a schema of its own.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pgserver
import pytest

from custseg.pgsource import PgSource, redacted, scrubbed

PASSWORD = pgserver.PASSWORD


def _url(server, schema: str | None = None, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in (({"schema": schema} if schema else {}) | params).items())
    return server.url_with_password + (f"?{query}" if query else "")


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text


@pytest.fixture(scope="module")
def synth_schema(postgres, synth_dir) -> str:
    """The 3000-customer synthetic export, loaded as text tables into schema ``synth``."""
    pgserver.load_export(postgres.url_with_password, synth_dir, "synth")
    return "synth"


def test_redacted_and_scrubbed_urls():
    url = "postgresql://ann:p%40ss@db.example:5432/shop?sslmode=require&password=p@ss&schema=x"
    assert redacted(url) == "postgresql://ann@db.example:5432/shop?sslmode=require&schema=x"
    assert scrubbed(f"failed for {url}: password p@ss rejected", url) == (
        "failed for postgresql://ann@db.example:5432/shop?sslmode=require&schema=x: password *** rejected")
    src = PgSource.parse(url + "&orders=all_orders")
    assert (src.schema, dict(src.tables)) == ("x", {"orders": "all_orders"})
    assert "schema" not in src.url and "orders" not in src.url and "sslmode=require" in src.url


def _tables(data) -> tuple[dict[str, pd.DataFrame], list[str]]:
    from custseg.ingest import open_data

    ds = open_data(data)
    try:
        # as text, with the column types (128-bit ids have no NumPy type)
        tables = {t: ds.con.execute(f"SELECT COLUMNS(*)::VARCHAR FROM {t} ORDER BY ALL").df() for t in ds.rows}
        tables |= {f"{t} types": ds.con.execute(f"DESCRIBE {t}").df() for t in ds.rows}
        return tables, [str(w) for w in ds.warnings]
    finally:
        ds.con.close()


def test_same_tables_and_warnings_from_postgres_as_from_files(postgres, synth_schema, synth_dir):
    """Every command starts from these tables: equal tables, equal results (the run test checks one)."""
    pg, files = _tables(_url(postgres, synth_schema)), _tables(synth_dir)
    assert pg[1] == files[1] and pg[1]
    assert pg[0].keys() == files[0].keys() and len(pg[0]) == 18
    for name, table in files[0].items():
        pd.testing.assert_frame_equal(pg[0][name], table, check_dtype=True, obj=name)


def test_run_from_postgres(cli, postgres, synth_schema, synth_dir, tmp_path):
    """``run`` end to end from the database: the files' features, and no password in any output."""
    from custseg.features import customer_features
    from custseg.ingest import open_data

    r = cli("run", _url(postgres, synth_schema), "-o", tmp_path, "--no-stability", "--k", "3",
            "--algorithm", "kmeans", "--as-of", "2018-07-01")
    assert r.code == 0, r.stderr
    _no_secret(r.stdout, r.stderr, *(p.read_text(errors="replace") for p in tmp_path.iterdir() if p.is_file()))
    ds = open_data(synth_dir)
    expected = customer_features(ds, "2018-07-01")
    ds.con.close()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "features.parquet"), expected)
    assert len(pd.read_csv(tmp_path / "segments.csv")) == len(expected)
    assert "table synth.olist_orders_dataset" in (tmp_path / "validation.json").read_text()


def test_password_from_pgpassword(cli, postgres, synth_schema, tmp_path, monkeypatch):
    url = f"{postgres.url}?schema={synth_schema}"  # no password in the URL
    r = cli("features", url, "-o", tmp_path / "f.csv", "--as-of", "2018-06-01")
    assert r.code == 2 and "no password supplied" in r.stderr
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    r = cli("features", url, "-o", tmp_path / "f.csv", "--as-of", "2018-06-01")
    assert r.code == 0, r.stderr


def _olist_extract(olist: Path, out: Path, orders: int = 3000) -> Path:
    """The first ``orders`` orders of the real export (by id) with every row that refers to them."""
    out.mkdir()
    con = duckdb.connect()

    def read(stem: str) -> str:
        return f"read_csv('{olist / stem}.csv', all_varchar = true, header = true)"

    views = {
        "olist_orders_dataset": f"SELECT * FROM {read('olist_orders_dataset')} ORDER BY order_id LIMIT {orders}",
        "olist_customers_dataset": f"SELECT * FROM {read('olist_customers_dataset')} WHERE customer_id IN "
                                   "(SELECT customer_id FROM olist_orders_dataset)",
        "olist_order_items_dataset": f"SELECT * FROM {read('olist_order_items_dataset')} WHERE order_id IN "
                                     "(SELECT order_id FROM olist_orders_dataset)",
        "olist_order_payments_dataset": f"SELECT * FROM {read('olist_order_payments_dataset')} WHERE order_id IN "
                                        "(SELECT order_id FROM olist_orders_dataset)",
        "olist_order_reviews_dataset": f"SELECT * FROM {read('olist_order_reviews_dataset')} WHERE order_id IN "
                                       "(SELECT order_id FROM olist_orders_dataset)",
        "olist_products_dataset": f"SELECT * FROM {read('olist_products_dataset')} WHERE product_id IN "
                                  "(SELECT product_id FROM olist_order_items_dataset)",
        "olist_sellers_dataset": f"SELECT * FROM {read('olist_sellers_dataset')} WHERE seller_id IN "
                                 "(SELECT seller_id FROM olist_order_items_dataset)",
        "olist_geolocation_dataset": f"SELECT * FROM {read('olist_geolocation_dataset')} WHERE "
                                     "geolocation_zip_code_prefix IN (SELECT customer_zip_code_prefix FROM "
                                     "olist_customers_dataset) LIMIT 5000",
        "product_category_name_translation": f"SELECT * FROM {read('product_category_name_translation')}",
    }
    for name, sql in views.items():
        con.execute(f"CREATE TABLE {name} AS {sql}")
        con.execute(f"COPY {name} TO '{out / name}.csv' (HEADER, DELIMITER ',')")
    return out


@pytest.mark.realdata
def test_real_olist_extract_same_from_postgres(cli, postgres, olist_dir, tmp_path):
    extract = _olist_extract(olist_dir, tmp_path / "extract")
    pgserver.load_export(postgres.url_with_password, extract, "olist")
    url = _url(postgres, "olist")
    results = {}
    for name, data in (("pg", url), ("files", extract)):
        r = cli("validate", data, "--json", tmp_path / f"{name}.json")
        assert r.code == 0, r.stderr
        results[name] = [line for line in r.stdout.splitlines() if line.startswith("warning")]
        r = cli("features", data, "-o", tmp_path / f"{name}.parquet", "--as-of", "2018-01-01")
        assert r.code == 0, r.stderr
    assert results["pg"] == results["files"] and results["pg"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pg.parquet"), pd.read_parquet(tmp_path / "files.parquet"))


def test_log_from_table_and_query_same_as_file(cli, postgres, tmp_path):
    log = tmp_path / "sales.csv"
    log.write_text("client,day,total,ref\n" + "".join(
        f"c{i // 2 % 37},2019-{1 + i // 2 % 12:02d}-{1 + i // 2 % 28:02d} 10:00:00,{(i * 7) % 90 + 0.5},o{i // 2}\n"
        for i in range(600)))
    pgserver.load_csv(postgres.url_with_password, log, "sales", "logs",
                      types={"day": "timestamptz", "total": "numeric(10,2)"})
    opts = ("--customer-col", "client", "--date-col", "day", "--amount-col", "total", "--order-col", "ref",
            "--as-of", "2020-01-01")
    sources = {"file": log, "table": _url(postgres, "logs", table="sales"),
               "query": _url(postgres, query="SELECT%20*%20FROM%20logs.sales%20WHERE%20total%20%3E%3D%200")}
    for name, data in sources.items():
        r = cli("features", data, "-o", tmp_path / f"{name}.parquet", *opts)
        assert r.code == 0, r.stderr
    expected = pd.read_parquet(tmp_path / "file.parquet")
    assert len(expected) == 37
    for name in ("table", "query"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), expected)


def _hostile_schema(server, schema: str, synth_dir: Path, tmp_path: Path, edit) -> str:
    """The synthetic export in ``schema``, after ``edit(directory)`` changed its files."""
    copy = tmp_path / schema
    shutil.copytree(synth_dir, copy)
    edit(copy)
    pgserver.load_export(server.url_with_password, copy, schema)
    return schema


def _edit_csv(name: str, change):
    def edit(directory: Path) -> None:
        path = directory / f"{name}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        change(df).to_csv(path, index=False)
    return edit


HOSTILE = {
    "missing_column": (_edit_csv("olist_orders_dataset", lambda df: df.drop(columns=["order_status"])),
                       "table h_missing_column.olist_orders_dataset: column order_status: missing column"),
    "unparsed_date": (_edit_csv("olist_orders_dataset", lambda df: df.assign(
        order_purchase_timestamp=["yesterday"] + list(df["order_purchase_timestamp"][1:]))),
        "table h_unparsed_date.olist_orders_dataset: column order_purchase_timestamp: values that are not dates"),
    "duplicate_key": (_edit_csv("olist_orders_dataset", lambda df: pd.concat([df, df.head(2)])),
                      "table h_duplicate_key.olist_orders_dataset: column order_id: duplicate"),
    "empty_table": (_edit_csv("olist_orders_dataset", lambda df: df.head(0)),
                    "table h_empty_table.olist_orders_dataset: no rows"),
    "missing_table": (lambda d: (d / "olist_order_payments_dataset.csv").unlink(),
                      "no table olist_order_payments_dataset or payments in schema h_missing_table"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_refusals_name_the_table_and_never_the_password(cli, postgres, synth_dir, tmp_path, case):
    edit, expected = HOSTILE[case]
    schema = _hostile_schema(postgres, f"h_{case}", synth_dir, tmp_path, edit)
    commands = [("validate",)] + ([("features", "-o", tmp_path / "f.csv")] if case == "unparsed_date" else [])
    for command in commands:
        r = cli(command[0], _url(postgres, schema), *command[1:])
        assert r.code == 2, (case, r.stdout, r.stderr)
        assert expected in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) >= 1
        _no_secret(r.stdout, r.stderr)
    assert not (tmp_path / "f.csv").exists()


def test_binary_column_and_database_down_refused(cli, postgres, tmp_path):
    log = tmp_path / "blob.csv"
    log.write_text("client,day,total\nc1,2019-01-01,\\x0102\n")
    pgserver.load_csv(postgres.url_with_password, log, "blobs", "logs2", types={"total": "bytea"})
    opts = ("--customer-col", "client", "--date-col", "day", "--amount-col", "total")
    r = cli("validate", _url(postgres, "logs2", table="blobs"), *opts)
    assert r.code == 2 and "table logs2.blobs: column total: binary values" in r.stderr, r.stderr
    down = _url(postgres).replace(f":{postgres.port}/", f":{pgserver.free_port()}/")
    r = cli("validate", down)
    assert r.code == 2 and "cannot connect" in r.stderr and "Connection refused" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "postgresql://custseg@127.0.0.1" in r.stderr
    _no_secret(r.stdout, r.stderr)
    r = cli("validate", _url(postgres).replace(PASSWORD, "wrong-" + PASSWORD))
    assert r.code == 2 and "password authentication failed" in r.stderr, r.stderr
    _no_secret(r.stderr)


def test_assign_to_postgres_replaces_rows_in_one_transaction(cli, postgres, synth_schema, synth_dir, tmp_path):
    import psycopg

    from custseg.segment import fit

    model = fit(synth_dir, "2018-03-01", k=3, algorithm="kmeans", bootstrap=2)
    model.save(tmp_path / "model.json")
    to = postgres.url_with_password + "?schema=crm&table=segments"
    with psycopg.connect(postgres.url_with_password, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS crm")
    for day in ("2018-03-01", "2018-06-01"):
        r = cli("assign", tmp_path / "model.json", _url(postgres, synth_schema), "--to", to, "--as-of", day,
                "-o", tmp_path / f"{day}.csv")
        assert r.code == 0, r.stderr
        _no_secret(r.stdout, r.stderr)
    expected = pd.read_csv(tmp_path / "2018-06-01.csv", dtype={"customer_unique_id": str})
    with psycopg.connect(postgres.url_with_password) as conn:
        rows = pd.DataFrame(conn.execute("SELECT * FROM crm.segments ORDER BY customer_unique_id").fetchall(),
                            columns=["customer_unique_id", "segment_id", "segment_name", "distance", "outlier",
                                     "model_version", "as_of"])
    assert len(rows) == len(expected) and set(rows["as_of"].astype(str)) == {"2018-06-01"}
    assert set(rows["model_version"]) == {model.to_dict()["checksum"][:12]}
    merged = rows.merge(expected, on="customer_unique_id", suffixes=("", "_csv"))
    assert len(merged) == len(expected) and (merged["segment_id"] == merged["segment_id_csv"]).all()
    r = cli("assign", tmp_path / "model.json", synth_dir, "--to", to.replace(str(postgres.port), "1"))
    assert r.code == 4 and "cannot write postgresql://custseg@127.0.0.1:1/shop" in r.stderr, r.stderr
    _no_secret(r.stderr)


def test_update_same_from_postgres_as_from_files(postgres, synth_schema, synth_dir, tmp_path):
    """Two runs of ``update`` (first fit, then a kept day) from each source: the same assignment."""
    from custseg.operate import UpdateSettings, update

    settings = UpdateSettings(k=3, algorithm="kmeans", backtest=False, fit_options={"bootstrap": 2, "n_jobs": 1})
    for name, data in (("pg", _url(postgres, synth_schema)), ("files", synth_dir)):
        for day in ("2018-05-01", "2018-05-08"):
            record = update(data, tmp_path / name, as_of=day, settings=settings)
        _no_secret(json.dumps(record), (tmp_path / name / "history.jsonl").read_text())
    for name in ("segments.parquet", "models/0001.json"):
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "files" / name).read_bytes(), name
