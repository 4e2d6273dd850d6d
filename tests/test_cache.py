"""The typed copy of DATA on disk (``CUSTSEG_CACHE``): the same data as a load, and never stale."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import custseg.ingest.olist
from custseg.features import features
from custseg.ingest import open_data
from custseg.schema import FEATURE_COLUMNS, TABLES
from tests.conftest import run_cli


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for spec in TABLES.values():
        shutil.copy(src / spec.csv_name, dst / spec.csv_name)
    return dst


def _tables(ds) -> dict[str, list[tuple]]:
    return {t: ds.con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in ds.rows}


@pytest.fixture
def data(small_export, tmp_path) -> Path:
    return _copy(small_export, tmp_path / "data")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CUSTSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_off_by_default(data, tmp_path, monkeypatch):
    monkeypatch.delenv("CUSTSEG_CACHE", raising=False)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with open_data(data):
        pass
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("columns", [None, FEATURE_COLUMNS], ids=["all", "features"])
def test_a_second_open_is_the_same_data_from_the_copy(data, cache, monkeypatch, columns):
    with open_data(data, columns=columns) as ds:
        first = (_tables(ds), ds.rows, ds.warnings, ds.files, ds.root)
        table = features(ds, "2018-06-01")
    assert len(list(cache.glob("*.duckdb"))) == 1
    monkeypatch.setattr(custseg.ingest.olist, "load_table", lambda *a, **k: pytest.fail("files read"))
    with open_data(data, columns=columns) as ds:
        assert (_tables(ds), ds.rows, ds.warnings, ds.files, ds.root) == first
        pd.testing.assert_frame_equal(features(ds, "2018-06-01"), table)


def test_a_changed_file_is_read_again_never_the_stale_copy(data, cache):
    with open_data(data) as ds:
        total = ds.scalar("SELECT sum(price) FROM order_items")
    items = data / TABLES["order_items"].csv_name
    text = items.read_bytes()
    line = text.split(b"\n")[1]
    cells = line.split(b",")
    price = next(i for i, c in enumerate(cells) if c.count(b".") == 1 and c.replace(b".", b"").isdigit())
    last = cells[price][-1:]
    cells[price] = cells[price][:-1] + (b"1" if last != b"1" else b"2")  # the same size, another price
    stat = items.stat()
    items.write_bytes(text.replace(line, b",".join(cells), 1))
    os.utime(items, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old modification time
    assert items.stat().st_size == stat.st_size
    with open_data(data) as ds:
        assert ds.scalar("SELECT sum(price) FROM order_items") != total
    assert len(list(cache.glob("*.duckdb"))) == 1  # the stale copy was replaced, not kept beside


def test_a_new_parquet_file_beside_the_csv_is_read(data, cache):
    with open_data(data, columns=FEATURE_COLUMNS) as ds:
        rows = ds.rows["payments"]
    frame = pd.read_csv(data / TABLES["payments"].csv_name).head(5)
    frame.to_parquet(data / TABLES["payments"].parquet_name, index=False)  # Parquet wins over CSV
    with open_data(data, columns=FEATURE_COLUMNS) as ds:
        assert ds.rows["payments"] == 5 != rows


def test_loads_of_other_columns_have_their_own_copy(data, cache, monkeypatch):
    with open_data(data, columns=FEATURE_COLUMNS):
        pass
    monkeypatch.setattr(custseg.ingest.olist, "load_table", lambda *a, **k: pytest.fail("files read"))
    with pytest.raises(pytest.fail.Exception, match="files read"):
        open_data(data)  # every table and column: not what the features' copy holds
    monkeypatch.undo()
    monkeypatch.setenv("CUSTSEG_CACHE", str(cache))
    with open_data(data) as ds:
        assert "geolocation" in ds.rows
    assert len(list(cache.glob("*.duckdb"))) == 2


def test_data_with_problems_is_never_kept(data, cache):
    orders = data / TABLES["orders"].csv_name
    frame = pd.read_csv(orders, dtype=str, keep_default_na=False)
    frame.loc[0, "order_purchase_timestamp"] = "not a date"
    frame.to_csv(orders, index=False)
    for _ in range(2):
        result = run_cli("validate", data)
        assert result.code == 2 and "order_purchase_timestamp" in result.stdout + result.stderr
    assert not list(cache.glob("*.duckdb"))


def test_an_unreadable_copy_is_replaced(data, cache):
    with open_data(data) as ds:
        first = _tables(ds)
    (copy,) = cache.glob("*.duckdb")
    copy.write_bytes(b"not a database")
    with open_data(data) as ds:
        assert _tables(ds) == first
    assert copy.read_bytes()[:4] != b"not "


def test_a_cache_that_cannot_be_written_costs_only_time(data, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CUSTSEG_CACHE", str(blocker / "cache"))  # a file where a folder is needed
    result = run_cli("features", data, "--as-of", "2018-06-01", "-o", tmp_path / "f.parquet")
    assert result.code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_features_are_byte_identical_from_the_copy(data, cache, tmp_path):
    outputs = []
    for i in range(2):
        out = tmp_path / f"features{i}.parquet"
        result = run_cli("features", data, "--as-of", "2018-06-01", "-o", out)
        assert result.code == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(list(cache.glob("*.duckdb"))) == 1


def test_a_log_is_cached_by_its_mapping(small_export, tmp_path, cache, monkeypatch):
    log = tmp_path / "log.csv"
    log.write_text("who,day,paid\na,2018-01-01,10\nb,2018-01-02,5\na,2018-02-01,7\n")
    with open_data(log, _mapping()) as ds:
        first = _tables(ds)
    log.write_text("who,day,paid\na,2018-01-01,10\nb,2018-01-02,5\na,2018-02-01,8\n")  # same size
    with open_data(log, _mapping()) as ds:
        assert _tables(ds) != first
        second = _tables(ds)
    import custseg.ingest.log

    monkeypatch.setattr(custseg.ingest.log, "_typed_table", lambda *a, **k: pytest.fail("file read"))
    with open_data(log, _mapping()) as ds:
        assert _tables(ds) == second


def _mapping():
    from custseg.schema import LogMapping

    return LogMapping(customer_col="who", date_col="day", amount_col="paid")


def test_a_cache_inside_the_data_is_not_written(data, monkeypatch):
    monkeypatch.setenv("CUSTSEG_CACHE", str(data / "cache"))
    with open_data(data):
        pass
    assert not (data / "cache").exists()


def test_a_killed_writers_temporary_copy_is_removed_by_the_next_one(data, cache):
    cache.mkdir()
    dead = cache / ".0123456789abcdef-00.99999999.tmp"
    dead.write_text("half a copy")
    (cache / ".0123456789abcdef-00.99999999.tmp.wal").write_text("")
    alive = cache / f".0123456789abcdef-00.{os.getpid()}.tmp"
    alive.write_text("a copy being written")
    with open_data(data):
        pass
    assert not dead.exists() and not (cache / ".0123456789abcdef-00.99999999.tmp.wal").exists()
    assert alive.exists()
