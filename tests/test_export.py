"""Outputs: written whole or not at all, and CSV cells a spreadsheet would run are defused."""
from __future__ import annotations

import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.export import FORMULA_PREFIXES, rounded_for_csv, safe_for_spreadsheet, write_table

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("dtype", ["str", object, "category"])
def test_text_cells_that_a_spreadsheet_would_run_get_a_quote(dtype):
    values = HOSTILE + ["plain", "a=b", None]
    df = pd.DataFrame({"name": pd.Series(values, dtype=dtype), "n": range(len(values))})
    before = df.copy()
    safe = safe_for_spreadsheet(df)
    assert safe["name"].tolist()[:len(HOSTILE)] == ["'" + v for v in HOSTILE]
    assert safe["name"].tolist()[len(HOSTILE):-1] == ["plain", "a=b"]
    assert pd.isna(safe["name"].iloc[-1])
    assert safe["n"].tolist() == list(range(len(values)))  # numbers (even negative ones) are not text
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is left alone


def test_every_prefix_is_covered():
    assert set(FORMULA_PREFIXES) == {v[0] for v in HOSTILE}


def test_csv_output_is_defused_and_parquet_keeps_values(tmp_path):
    df = pd.DataFrame({"customer_unique_id": pd.Series(HOSTILE + ["ok"], dtype="str"), "x": -1.5})
    write_table(df, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype={"customer_unique_id": str}, keep_default_na=False)
    assert back["customer_unique_id"].tolist() == ["'" + v for v in HOSTILE] + ["ok"]
    assert (back["x"] == -1.5).all()
    write_table(df, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet")["customer_unique_id"].tolist() == HOSTILE + ["ok"]


def test_a_table_goes_only_to_csv_or_parquet_and_nothing_is_left_behind(tmp_path):
    with pytest.raises(InputError, match="must end in .csv or .parquet"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype", ["str", object])  # written by DuckDB, by pandas
def test_a_carriage_return_in_a_cell_does_not_split_its_row(tmp_path, dtype):
    df = pd.DataFrame({"city": pd.Series(["a\rb", "c\nd", "plain"], dtype=dtype), "n": [1, 2, 3]})
    write_table(df, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype={"city": str})
    assert back["city"].tolist() == ["a\rb", "c\nd", "plain"]
    assert back["n"].tolist() == [1, 2, 3]
    write_table(df.iloc[1:], tmp_path / "u.csv")  # without one, only cells that need it are quoted
    assert (tmp_path / "u.csv").read_text() == 'city,n\n"c\nd",2\nplain,3\n'


def test_large_tables_are_written_as_pandas_would_write_them(tmp_path, monkeypatch):
    import numpy as np

    rng = np.random.default_rng(0)
    floats = np.concatenate([rng.random(2000) * 1000, rng.standard_normal(500) * 1e8, rng.random(500) * 1e-6,
                             [1e16, 1e22, 0.1, 1 / 3, 2.0, 1e-05, np.nan, -0.0, 5e-324, 123456789012345678.0]])
    n = len(floats)
    df = pd.DataFrame({
        "customer_unique_id": pd.Series([None if i % 11 == 0 else f"c{i:05x}, \"{i}\"" for i in range(n)], dtype="str"),
        "segment_id": np.arange(n, dtype=np.int64) % 5,
        "distance": floats,
        "outlier": np.arange(n) % 3 == 0,
        "frequency": pd.array([None if i % 13 == 0 else i for i in range(n)], dtype="Int64"),
    })
    expected = rounded_for_csv(df).to_csv(index=False, lineterminator="\n")

    def slow(*args, **kwargs):
        raise AssertionError("written by pandas, not DuckDB")

    monkeypatch.setattr(pd.DataFrame, "to_csv", slow)
    write_table(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == expected
    back = pd.read_csv(tmp_path / "t.csv", dtype={"customer_unique_id": str})
    np.testing.assert_array_equal(back["distance"].to_numpy(), np.round(floats, 3))  # rounded as written
    assert back["outlier"].tolist() == df["outlier"].tolist()


def test_other_columns_are_written_by_pandas(tmp_path):
    df = pd.DataFrame({"when": pd.to_datetime(["2018-01-02 00:00:00", "2018-03-04 05:06:07"]),
                       "mixed": pd.Series(["=1+1", 3], dtype=object)})
    write_table(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "when,mixed\n2018-01-02 00:00:00,'=1+1\n2018-03-04 05:06:07,3\n"


def test_csv_rounds_money_to_cents_and_other_numbers_to_three_decimals_parquet_keeps_all(tmp_path):
    df = pd.DataFrame({"customer_unique_id": pd.Series(["a", "b"], dtype="str"),
                       "monetary": [160.54413194444444, 3.005], "recency_days": [12.123456, 0.33333333],
                       "frequency": [1, 2]})
    write_table(df, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text()
    assert "160.54," in text and "12.123," in text and "0.333," in text and "160.544" not in text
    write_table(df, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_duckdb_table_is_written_like_the_same_frame_defused_unrounded(tmp_path, suffix):
    import duckdb
    import numpy as np

    from custseg.export import copy_table

    rng = np.random.default_rng(3)
    n = 5000
    df = pd.DataFrame({
        "customer_unique_id": pd.array([HOSTILE[i % len(HOSTILE)] + str(i) if i % 7 == 0 else f"c{i}"
                                        for i in range(n)], dtype="str"),
        "frequency": np.arange(n, dtype="int64"),
        "monetary": np.concatenate([rng.random(n - 6) * 1000, [2.675, 1.005, -0.001, 0.125, np.nan, 1e6 / 3]]),
        "late_share": np.concatenate([rng.integers(0, 64, n - 4) / 64, [-0.0001, 0.0625, np.nan, 0.0005]]),
        "main_category": pd.array([None if i % 11 == 0 else "toys" for i in range(n)], dtype="str"),
    })
    con = duckdb.connect()
    con.register("frame", df)
    con.execute("CREATE TEMP TABLE t AS SELECT * FROM frame")
    copy_table(con, "t", tmp_path / f"duck{suffix}")
    write_table(df, tmp_path / f"pandas{suffix}")
    if suffix == ".csv":
        from custseg.export import _copy_csv

        assert _copy_csv(safe_for_spreadsheet(df), tmp_path / "frame.csv")  # the frame, defused, unrounded
        assert (tmp_path / "duck.csv").read_text() == (tmp_path / "frame.csv").read_text()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "pandas.parquet"))
