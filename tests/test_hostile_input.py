"""Hostile input, classes 5-7: options out of range, memory, and refusals that used to mislead.

Each case: the documented exit code, one ``error:`` line saying what is wrong (and where, or what
to do), no traceback, nothing written, inputs untouched.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from hostile import assert_refused, copy_data, snapshot


# -- class 5: options out of range ------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["synth", "OUT/s", "--customers", "10", "--seed", "-1"],
    ["synth", "OUT/s", "--customers", "10", "--seed", "4294967296"],
    ["fit", "DATA", "-o", "OUT/m.json", "--seed", "-1"],
    ["run", "DATA", "-o", "OUT/run", "--seed", "4294967296"],
])
def test_a_seed_out_of_range_is_refused_before_any_work(cli, small_export, tmp_path, args):
    args = [str(small_export) if a == "DATA" else a.replace("OUT", str(tmp_path)) for a in args]
    assert_refused(cli(*args), 2, "--seed")
    assert not list(tmp_path.iterdir())


# -- class 6: memory ----------------------------------------------------------------------------


def test_duckdb_out_of_memory_becomes_advice(cli, small_export, tmp_path, monkeypatch):
    monkeypatch.setenv("CUSTSEG_DUCKDB_MEMORY", "1MB")
    line = assert_refused(cli("features", small_export, "-o", tmp_path / "f.csv"), 4, "out of memory",
                          "CUSTSEG_DUCKDB_MEMORY=1MB", "raise the budget")
    assert "lower it" in line and not list(tmp_path.iterdir())


def test_python_out_of_memory_becomes_advice(cli, small_export, tmp_path, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError()

    # a method: patched on the class, whoever imported what by name (a module function would leak)
    monkeypatch.setattr("custseg.model.SegmentModel.save", exhausted)
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("previous\n")
    before = snapshot(out)
    assert_refused(cli("run", small_export, "-o", out, "--no-stability"), 4, "out of memory", "CUSTSEG_DUCKDB_MEMORY")
    assert snapshot(out) == before


def test_a_memory_budget_that_is_not_a_size_is_refused(cli, small_export, tmp_path, monkeypatch):
    monkeypatch.setenv("CUSTSEG_DUCKDB_MEMORY", "lots")
    assert_refused(cli("validate", small_export), 2, "CUSTSEG_DUCKDB_MEMORY: 'lots' is not a memory size")


# -- class 7: refusals that used to mislead -----------------------------------------------------


def _rewrite(path: Path, row: int, column: str, value: str, **options) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows[row][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n", **options).writerows(rows)


def test_a_huge_field_is_reported_at_its_line(cli, small_export, tmp_path):
    copy = copy_data(small_export, tmp_path / "data")
    _rewrite(copy / "olist_products_dataset.csv", 61, "product_category_name", "x" * 3_000_000)
    assert_refused(cli("validate", copy), 2, "olist_products_dataset.csv", "a line of 3,000,", "at line 62")


def test_a_carriage_return_in_a_cell(cli, small_export, tmp_path):
    """Quoted: read as text. Not quoted: refused as such, not as 'not UTF-8'."""
    copy = copy_data(small_export, tmp_path / "data")
    reviews = copy / "olist_order_reviews_dataset.csv"
    _rewrite(reviews, 5, "review_comment_message", "avaliação\rótima", quoting=csv.QUOTE_NONNUMERIC)
    assert cli("validate", copy).code == 0
    _rewrite(reviews, 5, "review_comment_message", "avaliação\rótima")  # csv leaves a lone \r unquoted
    line = assert_refused(cli("validate", copy), 2, "olist_order_reviews_dataset.csv", "carriage return")
    assert "UTF-8" not in line


@pytest.mark.parametrize("kind, words", [("directory", "a directory"), ("fifo", "a named pipe (FIFO)"),
                                         ("loop", "a symbolic link that leads nowhere")])
def test_something_else_in_place_of_a_table_is_named(cli, small_export, tmp_path, kind, words):
    copy = copy_data(small_export, tmp_path / "data")
    table = copy / "olist_orders_dataset.csv"
    table.unlink()
    {"directory": table.mkdir, "fifo": lambda: os.mkfifo(table),
     "loop": lambda: table.symlink_to(table.name)}[kind]()
    assert_refused(cli("validate", copy), 2, "olist_orders_dataset.csv", words, "expected a file to read")


def test_what_validate_accepts_every_command_processes_purchases_in_1900(cli, small_export, tmp_path):
    """A placeholder date is refused by validate with the line every command gives (not by run later)."""
    copy = copy_data(small_export, tmp_path / "data")
    _rewrite(copy / "olist_orders_dataset.csv", 1, "order_purchase_timestamp", "1900-01-05 10:00:00")
    line = assert_refused(cli("validate", copy), 2, "order_purchase_timestamp", "not dates from 1990 to 2099",
                          "1900-01-05")
    assert assert_refused(cli("run", copy, "-o", tmp_path / "out"), 2) == line
    assert assert_refused(cli("features", copy, "-o", tmp_path / "f.csv"), 2) == line
