"""Outputs: written whole or not at all, and CSV cells a spreadsheet would run are defused."""
from __future__ import annotations

import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.export import FORMULA_PREFIXES, safe_for_spreadsheet, write_table

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


def test_a_carriage_return_in_a_cell_does_not_split_its_row(tmp_path):
    df = pd.DataFrame({"city": pd.Series(["a\rb", "c\nd", "plain"], dtype="str"), "n": [1, 2, 3]})
    write_table(df, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype={"city": str})
    assert back["city"].tolist() == ["a\rb", "c\nd", "plain"]
    assert back["n"].tolist() == [1, 2, 3]
    write_table(df.iloc[1:], tmp_path / "u.csv")  # without one, only cells that need it are quoted
    assert (tmp_path / "u.csv").read_text() == 'city,n\n"c\nd",2\nplain,3\n'
