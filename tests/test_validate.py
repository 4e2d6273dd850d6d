"""``custseg validate``: a summary and warnings for usable data, one line per problem otherwise."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from custseg.schema import TABLES

ORDERS = TABLES["orders"].csv_name


def copy_export(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for spec in TABLES.values():
        shutil.copy(src / spec.csv_name, dst / spec.csv_name)
    return dst


def assert_refused(result, *fragments: str) -> str:
    """Exit 2 with one ``error:`` line per problem and no traceback; the first line of stderr."""
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def export(synth_dir, tmp_path) -> Path:
    return copy_export(Path(synth_dir), tmp_path / "export")


def test_real_export_is_usable_with_warnings(olist_dir, tmp_path):
    out = tmp_path / "validation.json"
    result = run_cli("validate", olist_dir, "--json", out)
    assert result.code == 0, result.stderr
    assert "96,096" in result.stdout  # distinct customer_unique_id
    assert "96,478" in result.stdout  # delivered orders
    assert "2016-09-04 21:15:19 .. 2018-10-17 17:30:18" in result.stdout
    for line in [
        "warning: orders: orders without items: 775",
        "warning: orders: orders without a payment: 1",
        "warning: reviews.review_creation_date: reviews without a creation date: 18",
        "warning: reviews.review_answer_timestamp: reviews without an answer timestamp: 65",
        "warning: products.product_category_name: product categories without an English translation: 2 "
        "(e.g. 'pc_gamer', 'portateis_cozinha_e_preparadores_de_alimentos')",
        "warning: products.product_category_name: products without a category: 610",
    ]:
        assert line in result.stdout
    report = json.loads(out.read_text())
    assert report["status"] == "warnings"
    assert report["summary"]["customers"] == 96_096
    assert report["summary"]["rows"]["geolocation"] == 1_000_163
    assert {"check": "order_without_items", "table": "orders", "column": None, "count": 775} \
        .items() <= report["warnings"][0].items()


def test_json_is_written_only_when_asked_and_is_deterministic(export, tmp_path):
    assert run_cli("validate", export, cwd=tmp_path).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run_cli("validate", export, "--json", first).code == 0
    assert run_cli("validate", export, "--json", second).code == 0
    assert first.read_bytes() == second.read_bytes()


def _drop_column(root: Path) -> None:
    pd.read_csv(root / ORDERS, dtype=str, keep_default_na=False).drop(columns=["order_purchase_timestamp"]) \
        .to_csv(root / ORDERS, index=False)


def _bad_purchase_date(root: Path) -> None:
    frame = pd.read_csv(root / ORDERS, dtype=str, keep_default_na=False)
    frame.loc[5, "order_purchase_timestamp"] = "2017-02-30 10:00:00"
    frame.to_csv(root / ORDERS, index=False)


def _duplicate_order(root: Path) -> None:
    frame = pd.read_csv(root / ORDERS, dtype=str, keep_default_na=False)
    pd.concat([frame, frame.iloc[[7]]]).to_csv(root / ORDERS, index=False)


def _excel_instead_of_csv(root: Path) -> None:
    (root / ORDERS).unlink()
    (root / "olist_orders_dataset.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)


def _binary_junk(root: Path) -> None:
    (root / ORDERS).write_bytes(bytes(range(256)) * 64)


def _latin1_late_in_file(root: Path) -> None:
    text = (root / ORDERS).read_bytes()
    # a Latin-1 byte far beyond the start: found by DuckDB while reading, not by the sniff
    (root / ORDERS).write_bytes(text + b'"abc","def","entregue \xe0 tarde",2017-01-01 00:00:00,,,,\n')


def _latin1_at_start(root: Path) -> None:
    path = root / TABLES["sellers"].csv_name
    header, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header + b'\n"seller-x","01001","s\xe3o paulo","SP"\n' + rest)


def _empty_file(root: Path) -> None:
    (root / TABLES["payments"].csv_name).write_bytes(b"")


def _header_only_orders(root: Path) -> None:
    path = root / ORDERS
    path.write_bytes(path.read_bytes().split(b"\n")[0] + b"\n")


REFUSALS = {
    "missing-file": (lambda root: (root / TABLES["products"].csv_name).unlink(),
                     ["olist_products_dataset.csv: missing file"]),
    "missing-column": (_drop_column, ["olist_orders_dataset.csv: column order_purchase_timestamp: missing column"]),
    "unparseable-purchase-date": (_bad_purchase_date, [
        "olist_orders_dataset.csv: column order_purchase_timestamp: values that are not dates from 1990 to 2099: 1",
        "'2017-02-30 10:00:00'"]),
    "duplicate-order-id": (_duplicate_order, ["olist_orders_dataset.csv: column order_id: duplicate order_id values: 1"]),
    "xlsx-instead-of-csv": (_excel_instead_of_csv, [
        "olist_orders_dataset.csv: found olist_orders_dataset.xlsx, which is not CSV or Parquet"]),
    "binary-junk": (_binary_junk, ["olist_orders_dataset.csv: binary data, not CSV text"]),
    "not-utf8-late": (_latin1_late_in_file, ["olist_orders_dataset.csv: not UTF-8 text at line", "save it as UTF-8"]),
    "not-utf8-start": (_latin1_at_start, ["olist_sellers_dataset.csv: not UTF-8 text (byte 0xe3"]),
    "empty-file": (_empty_file, ["olist_order_payments_dataset.csv: empty file"]),
    "header-only": (_header_only_orders, ["olist_orders_dataset.csv: no rows: the table is empty"]),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_exit_2_with_one_line_naming_the_file(export, tmp_path, case):
    breakage, fragments = REFUSALS[case]
    breakage(export)
    out = tmp_path / "result.json"
    result = run_cli("validate", export, "--json", out)
    assert_refused(result, *fragments)
    assert not out.exists()  # a refused run writes nothing
    assert result.stdout.strip() == ""


def test_every_problem_gets_its_own_line(export):
    _duplicate_order(export)
    _empty_file(export)
    (export / TABLES["sellers"].csv_name).unlink()
    result = run_cli("validate", export)
    assert_refused(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert any("olist_sellers_dataset.csv: missing file" in line for line in lines)
    assert any("olist_order_payments_dataset.csv: empty file" in line for line in lines)
    assert any("duplicate order_id values" in line for line in lines)


def test_data_that_does_not_exist(tmp_path):
    assert_refused(run_cli("validate", tmp_path / "nowhere"), "nowhere: no such file or directory")


def test_other_commands_refuse_what_validate_refuses(export, tmp_path):
    _duplicate_order(export)
    result = run_cli("features", export, "--output", tmp_path / "f.csv")
    assert_refused(result, "olist_orders_dataset.csv: column order_id: duplicate order_id values: 1")
    assert not (tmp_path / "f.csv").exists()
