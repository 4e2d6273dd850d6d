"""A generic transaction log (not Olist) loads into the same tables, and downstream steps use it."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from custseg.cli import log_mapping
from custseg.errors import InputError
from custseg.features import customer_features
from custseg.ingest import load_log, open_data, summary
from custseg.schema import TABLES, LogMapping
from custseg.synth import cdnow_log

CDNOW = LogMapping(customer_col="id", date_col="date", amount_col="amount", date_format="%Y%m%d",
                   columns=("id", "date", "count", "amount"))
CDNOW_ARGS = ["--columns", "id,date,count,amount", "--customer-col", "id", "--date-col", "date",
              "--amount-col", "amount", "--date-format", "%Y%m%d"]


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory) -> Path:
    return cdnow_log(tmp_path_factory.mktemp("cdnow") / "CDNOW_sample.txt", customers=400, seed=3)


def parse_cdnow(path: Path) -> list[tuple[str, str, int, float]]:
    """The log's lines, read without DuckDB: (customer, YYYYMMDD, count, amount)."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            customer, day, count, amount = line.split()
            rows.append((customer, day, int(count), float(amount)))
    return rows


def test_cdnow_log_loads_as_delivered_orders(cdnow):
    lines = parse_cdnow(cdnow)
    ds = load_log(cdnow, CDNOW)
    per_customer = Counter(c for c, *_ in lines)
    assert len(per_customer) < len(lines)  # several lines per customer
    assert ds.rows["customers"] == len(per_customer)
    assert ds.rows["orders"] == ds.rows["order_items"] == ds.rows["payments"] == len(lines)
    assert all(ds.rows[t] == 0 for t in ("reviews", "products", "sellers", "geolocation", "category_translation"))
    assert ds.scalar("SELECT sum(payment_value) FROM payments") == pytest.approx(sum(a for *_, a in lines))
    assert ds.scalar("SELECT count(*) FROM orders WHERE order_status <> 'delivered'") == 0
    facts = summary(ds)
    assert facts["customers"] == len(per_customer)
    assert facts["first_purchase"] == min(d for _, d, *_ in lines)[:4] + "-" + min(d for _, d, *_ in lines)[4:6] \
        + "-" + min(d for _, d, *_ in lines)[6:] + " 00:00:00"
    assert not ds.warnings and not ds.problems
    # the empty tables still have the contract's columns
    for name, spec in TABLES.items():
        columns = [r[0] for r in ds.con.execute(f"DESCRIBE {name}").fetchall()]
        assert columns == list(spec.columns)


def test_features_run_unchanged_on_a_log(cdnow):
    lines = parse_cdnow(cdnow)
    spent, orders = defaultdict(float), Counter()
    for customer, _, _, amount in lines:
        spent[customer] += amount
        orders[customer] += 1
    table = customer_features(load_log(cdnow, CDNOW), "1998-07-01")
    assert list(table["customer_unique_id"]) == sorted(orders)
    assert dict(zip(table["customer_unique_id"], table["frequency"])) == dict(orders)
    for customer, monetary in zip(table["customer_unique_id"], table["monetary"]):
        assert monetary == pytest.approx(spent[customer])


def test_validate_a_cdnow_log(cdnow, tmp_path):
    lines = parse_cdnow(cdnow)
    result = run_cli("validate", cdnow, *CDNOW_ARGS, "--json", tmp_path / "v.json")
    assert result.code == 0, result.stderr
    assert "transaction log" in result.stdout
    assert f"{len({c for c, *_ in lines}):,}" in result.stdout
    assert "0 warnings" in result.stdout


def _order_lines() -> pd.DataFrame:
    return pd.DataFrame({
        "order": ["A", "A", "B", "C", "C", "C", "D"],
        "client": ["x", "x", "y", "x", "x", "x", "z"],
        "day": ["2020-01-05", "2020-01-05", "2020-02-01", "2020-03-01", "2020-03-01", "2020-03-01", "2020-03-02"],
        "total": [10.0, 5.5, 7.25, 1.0, 2.0, 3.0, 100.0],
    })


ORDER_MAPPING = LogMapping(customer_col="client", date_col="day", amount_col="total", order_col="order")


def _tables(ds) -> dict[str, list[tuple]]:
    return {t: ds.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}


def test_order_lines_are_grouped_into_orders(tmp_path):
    path = tmp_path / "lines.csv"
    _order_lines().to_csv(path, index=False)
    ds = load_log(path, ORDER_MAPPING)
    assert ds.rows["orders"] == 4 and ds.rows["order_items"] == 7 and ds.rows["customers"] == 3
    payments = dict(ds.con.execute("SELECT order_id, payment_value FROM payments").fetchall())
    assert payments == {"A": 15.5, "B": 7.25, "C": 6.0, "D": 100.0}
    items = ds.con.execute("SELECT order_id, order_item_id FROM order_items ORDER BY ALL").fetchall()
    assert [i for o, i in items if o == "C"] == [1, 2, 3]


def test_parquet_log_with_typed_columns_loads_like_csv(tmp_path):
    frame = _order_lines()
    frame.to_csv(tmp_path / "lines.csv", index=False)
    frame.assign(day=pd.to_datetime(frame["day"])).to_parquet(tmp_path / "lines.parquet", index=False)
    assert _tables(load_log(tmp_path / "lines.parquet", ORDER_MAPPING)) == _tables(
        load_log(tmp_path / "lines.csv", ORDER_MAPPING))


def test_negative_amounts_are_a_warning(tmp_path):
    path = tmp_path / "returns.csv"
    _order_lines().assign(total=[10.0, -5.5, 7.25, 1.0, 2.0, 3.0, 100.0]).to_csv(path, index=False)
    ds = load_log(path, ORDER_MAPPING)
    assert [str(w) for w in ds.warnings] == ["returns.csv.total: negative amounts: 1 (e.g. '-5.5')"]


def assert_refused(result, *fragments: str) -> None:
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, result.stderr
    for fragment in fragments:
        assert fragment in line, line


def test_unknown_column_exits_2_naming_file_and_column(cdnow):
    args = [a if a != "amount" else "price" for a in CDNOW_ARGS[2:]]  # --amount-col price
    result = run_cli("validate", cdnow, "--columns", "id,date,count,amount", *args)
    assert_refused(result, "CDNOW_sample.txt: column price: no such column",
                   "the file has: id, date, count, amount")


def test_dates_that_need_a_format_are_refused_with_a_hint(cdnow):
    args = CDNOW_ARGS[:-2]  # without --date-format
    assert_refused(run_cli("validate", cdnow, *args),
                   "CDNOW_sample.txt: column date: values that are not dates from 1990 to 2099 (set the date format")


def test_log_options_must_fit_the_data(cdnow, synth_dir):
    assert log_mapping(None, None, None) is None
    assert log_mapping("id", "date", "amount", columns="id, date,count,amount") == LogMapping(
        "id", "date", "amount", columns=("id", "date", "count", "amount"))
    with pytest.raises(InputError, match="a transaction log needs --date-col too"):
        log_mapping("id", None, "amount")
    with pytest.raises(InputError, match="CDNOW_sample.txt: is a file"):
        open_data(cdnow)
    with pytest.raises(InputError, match=r"is a directory \(an Olist export\)"):
        open_data(synth_dir, CDNOW)


@pytest.mark.parametrize(
    "frame, message",
    [
        (_order_lines().assign(client=["x", "w", "y", "x", "x", "x", "z"]),
         "column order: orders whose lines name different customers: 1 (e.g. 'A')"),
        (_order_lines().assign(total=["10", "", "7", "1", "2", "3", "4"]),
         "column total: rows with an empty total: 1"),
        (_order_lines().assign(total=["10", "1,5", "7", "1", "2", "3", "4"]),
         "column total: values that are not amounts of money (finite numbers below 1e15 in absolute value): 1 (e.g. '1,5')"),
        (_order_lines().iloc[:0], "no rows"),
    ],
    ids=["order-of-two-customers", "empty-amount", "bad-amount", "no-rows"],
)
def test_unusable_logs_are_refused(tmp_path, frame, message):
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        open_data(path, ORDER_MAPPING)
    assert str(err.value).startswith(f"log.csv: {message}")


def test_lines_with_a_wrong_number_of_fields_are_refused(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("   00001 19970101  1  11.77\n   00002 19970102  2\n\n")
    with pytest.raises(InputError, match=r"^short.txt: lines without exactly 4 fields: 1 \(e.g. '00002 19970102 2'\)$"):
        load_log(path, CDNOW)


def test_headerless_layout_does_not_apply_to_parquet(tmp_path):
    path = tmp_path / "log.parquet"
    _order_lines().to_parquet(path, index=False)
    with pytest.raises(InputError, match="do not apply to Parquet"):
        load_log(path, LogMapping("client", "day", "total", columns=("client", "day", "total", "order")))


def test_binary_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _order_lines()
    table = pa.Table.from_pandas(frame.drop(columns=["client"]), preserve_index=False)
    table = table.append_column("client", pa.array([c.encode() for c in frame["client"]], pa.binary()))
    pq.write_table(table, tmp_path / "log.parquet")
    with pytest.raises(InputError, match=r"^log.parquet: column client: binary values \(BLOB\)"):
        load_log(tmp_path / "log.parquet", ORDER_MAPPING)


@pytest.fixture(scope="module")
def cdnow_with_header(cdnow, tmp_path_factory) -> Path:
    """The lifetimes layout: the same log with a header line ``customer_id date number_of_cds dollar_value``."""
    path = tmp_path_factory.mktemp("cdnow_header") / "CDNOW_master.txt"
    path.write_text("customer_id date number_of_cds dollar_value\n" + cdnow.read_text())
    return path


def test_header_line_names_the_fields_of_a_whitespace_log(cdnow, cdnow_with_header):
    named = LogMapping(customer_col="customer_id", date_col="date", amount_col="dollar_value",
                       date_format="%Y%m%d", header=True)
    skipped = LogMapping(**{**CDNOW.__dict__, "header": True})
    expected = summary(load_log(cdnow, CDNOW))
    for mapping in (named, skipped):
        ds = load_log(cdnow_with_header, mapping)
        assert not ds.problems and summary(ds)["orders"] == expected["orders"] == len(parse_cdnow(cdnow))


def test_header_options_through_the_cli(cdnow, cdnow_with_header, tmp_path):
    args = ["--customer-col", "customer_id", "--date-col", "date", "--amount-col", "dollar_value",
            "--date-format", "%Y%m%d"]
    result = run_cli("rfm", cdnow_with_header, "-o", tmp_path / "rfm.csv", "--header", *args)
    assert result.code == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "rfm.csv")) == len({line[0] for line in parse_cdnow(cdnow)})
    # without --header, the header line is data: refused as a value that is not a date
    as_data = run_cli("validate", cdnow_with_header, *CDNOW_ARGS, "--no-header")
    assert as_data.code == 2 and "not dates" in as_data.stderr, as_data.stderr
    no_names = run_cli("validate", cdnow_with_header, "--no-header", *args)
    assert no_names.code == 2 and no_names.stderr.strip() == (
        "error: --no-header: give the names of the log's fields with --columns")
