"""RFM: scores that survive ties and collapsed quantiles, rules that partition the grid, the CLI."""
from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.rfm import (
    OUTPUT_COLUMNS,
    SEGMENT_RULES,
    matching_segments,
    quantile_scores,
    rfm,
    rules_markdown,
    segment_summary,
)

ROOT = Path(__file__).resolve().parents[1]
NAMES = {rule.name for rule in SEGMENT_RULES}


def table(n: int = 200, seed: int = 0, **overrides) -> pd.DataFrame:
    """A feature table with the columns RFM reads (plus one it ignores)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "customer_unique_id": [f"c{i:05d}" for i in range(n)],
        "recency_days": rng.uniform(1, 700, n),
        "frequency": rng.choice([1, 1, 1, 1, 2, 3, 4, 6, 9], n),
        "monetary": rng.lognormal(4.7, 0.8, n),
        "review_score_mean": rng.choice([1.0, 5.0, np.nan], n),
    })
    for column, value in overrides.items():
        df[column] = value
    return df


def test_rules_partition_every_score_combination():
    hits = {name: 0 for name in NAMES}
    for r, f, m in product(range(1, 6), repeat=3):
        names = matching_segments(r, f, m)
        assert len(names) == 1, (r, f, m, names)
        hits[names[0]] += 1
    assert all(hits.values()), f"rules that no score combination reaches: {hits}"


def test_quantile_scores_split_evenly_and_ties_share_a_score():
    scores = quantile_scores(pd.Series(np.arange(10.0)), 5)
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    tied = quantile_scores(pd.Series([1.0, 1, 1, 1, 2, 3, 4, 5, 6, 7]), 5)
    assert tied.iloc[:4].nunique() == 1


def test_scores_codes_and_segments_are_consistent():
    out = rfm(table())
    assert list(out.columns) == OUTPUT_COLUMNS
    assert out["customer_unique_id"].is_monotonic_increasing and out["customer_unique_id"].is_unique
    for letter in "RFM":
        assert out[letter].between(1, 5).all()
    assert (out["rfm_code"] == out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)).all()
    assert out["segment"].isin(NAMES).all()
    for row in out.itertuples():
        assert matching_segments(row.R, row.F, row.M) == [row.segment]
    # R is inverted: the most recent customer scores 5, the least recent 1.
    assert out.loc[out["recency_days"].idxmin(), "R"] == 5
    assert out.loc[out["recency_days"].idxmax(), "R"] == 1
    assert out.loc[out["monetary"].idxmax(), "M"] == 5


def test_equal_frequencies_score_without_error_and_say_so():
    out = rfm(table(frequency=1))
    assert (out["F"] == 1).all()
    notes = out.attrs["notes"]
    assert any(note.startswith("F:") and "100.0% of customers have frequency 1" in note for note in notes)
    assert out["segment"].isin(NAMES).all()


def test_collapsed_frequency_falls_back_to_fixed_order_counts():
    df = table(n=1000)
    df["frequency"] = np.where(np.arange(1000) < 970, 1, [2, 3, 4, 5, 6, 7, 9, 15, 2, 2] * 100)
    out = rfm(df)
    expected = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 5, 7: 5, 9: 5, 15: 5}
    assert (out["F"] == out["frequency"].map(expected)).all()
    assert any("1 | 2 | 3 | 4-5 | 6+" in note for note in out.attrs["notes"])


def test_constant_monetary_scores_everyone_in_the_middle():
    out = rfm(table(monetary=50.0))
    assert (out["M"] == 3).all()
    assert any(note.startswith("M: every customer has the same monetary") for note in out.attrs["notes"])


def test_other_bins_are_placed_on_the_grid():
    out = rfm(table(), bins=3)
    assert out["R"].between(1, 3).all() and out["rfm_code"].str.len().eq(3).all()
    assert out["segment"].isin(NAMES).all()
    assert any("1-5 grid" in note for note in out.attrs["notes"])


def test_same_input_gives_identical_output():
    df = table()
    pd.testing.assert_frame_equal(rfm(df), rfm(df.sample(frac=1, random_state=3)))


@pytest.mark.parametrize(
    "df, bins, match",
    [
        (table().drop(columns="monetary"), 5, "column monetary"),
        (table(monetary=np.nan), 5, "column monetary: 200 missing"),
        (table(frequency=0), 5, "column frequency"),
        (table().iloc[:0], 5, "no customers"),
        (table(), 1, "bins must be between 2 and 9"),
    ],
)
def test_bad_input_is_an_input_error(df, bins, match):
    with pytest.raises(InputError, match=match):
        rfm(df, bins=bins)


def test_data_path_needs_an_as_of_date(tmp_path):
    with pytest.raises(InputError, match="as-of"):
        rfm(tmp_path)


def test_summary_lists_every_segment_in_rule_order():
    out = rfm(table())
    summary = segment_summary(out)
    assert list(summary["segment"]) == [rule.name for rule in SEGMENT_RULES]
    assert summary["customers"].sum() == len(out)
    assert summary["share"].sum() == pytest.approx(1.0)


def test_readme_and_help_document_the_rules(cli):
    assert rules_markdown() in (ROOT / "README.md").read_text(encoding="utf-8")
    result = cli("rfm", "--help")
    assert result.code == 0
    assert all(rule.name in result.stdout for rule in SEGMENT_RULES)


def test_public_api_reexports_rfm():
    import custseg

    assert custseg.rfm is rfm


@pytest.mark.realdata
def test_real_olist_every_customer_in_exactly_one_segment(olist_dir):
    out = rfm(olist_dir, "2018-09-01")
    assert len(out) > 90_000 and out["customer_unique_id"].is_unique
    assert out["segment"].isin(NAMES).all() and out[["R", "F", "M"]].notna().all().all()
    for r, f, m in out[["R", "F", "M"]].drop_duplicates().itertuples(index=False):
        assert len(matching_segments(r, f, m)) == 1
    # Olist: ~97% bought once, so F falls back to fixed order counts, and says so.
    assert (out["F"] == out["frequency"].clip(upper=6).map({1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 5})).all()
    assert any(note.startswith("F: frequency quantiles collapse") for note in out.attrs["notes"])
    assert out["R"].value_counts().min() > 0.19 * len(out)


@pytest.mark.realdata
def test_cli_writes_the_scores_and_prints_segments_and_notes(olist_dir, cli, tmp_path):
    target = tmp_path / "rfm.csv"
    result = cli("rfm", olist_dir, "--as-of", "2018-09-01", "-o", target)
    assert result.code == 0, result.stderr
    written = pd.read_csv(target, dtype={"rfm_code": str})
    assert list(written.columns) == OUTPUT_COLUMNS and len(written) > 90_000
    assert "Champions" in result.stdout and "note: F: frequency quantiles collapse" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "--as-of", "2018-09-01"], "nowhere: no such file or directory"),
        (["{data}", "--as-of", "2018-13-01"], "is not a date"),
        (["{data}", "--as-of", "2018-09-01", "--bins", "12"], "'--bins': Input should be less than or equal to 9"),
    ],
)
def test_cli_bad_input_exits_2_without_output(cli, tmp_path, args, message):
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "rfm.csv"
    filled = [a.format(missing=tmp_path / "nowhere", data=data) for a in args]
    result = cli("rfm", *filled, "-o", target)
    assert result.code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == [data]


def test_cli_rejects_an_unknown_output_format(cli, tmp_path):
    target = tmp_path / "rfm.xlsx"
    result = cli("rfm", tmp_path, "--as-of", "2018-09-01", "-o", target)
    assert result.code == 2 and ".csv or .parquet" in result.stderr
    assert not target.exists()
