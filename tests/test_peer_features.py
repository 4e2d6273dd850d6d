"""The benchmark's peers (benchmarks/features_pandas.py, features_polars.py) compute custseg's feature table.

Each peer is written independently of custseg (its own reading of the CSVs, its own joins and
groupings), so equal tables check the peers, which the benchmark compares against, and give a
second and third reading of the feature definition. Compared on the hand-made edge cases of
test_features (a review covering two orders, orders with two reviews, an order without payment,
one without items, tied payment types, an untranslated and an unknown category, a move between
states) and on synthetic data at two as-of dates, with delivered only and with three statuses;
custseg's feature query both as one statement (small data) and step by step (large data).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from custseg.features import FEATURE_DTYPES, features
from test_features import TINY, write_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import features_pandas  # noqa: E402
import features_polars  # noqa: E402

import custseg.features as custseg_features  # noqa: E402

STATUSES = [("delivered",), ("delivered", "shipped", "canceled")]


def _pandas(root: Path, day: str, statuses: tuple[str, ...]) -> pd.DataFrame:
    return features_pandas.customer_features(root, day, statuses)


def _polars(root: Path, day: str, statuses: tuple[str, ...]) -> pd.DataFrame:
    return features_polars.customer_features(root, day, statuses).to_pandas()


PEERS = [_pandas, _polars]


def assert_same_table(peer: pd.DataFrame, custseg: pd.DataFrame) -> None:
    """Same rows, columns and values: text and counts exactly, floats within 1e-12 (NaN where NaN)."""
    assert list(peer.columns) == list(FEATURE_DTYPES)
    peer = peer.astype(FEATURE_DTYPES)
    pd.testing.assert_frame_equal(peer, custseg, check_exact=False, rtol=1e-12, atol=0)


@pytest.fixture(params=["one statement", "step by step"])
def way(request, monkeypatch) -> str:
    """How custseg runs its feature query: as one statement (data of up to 1.5M orders) or step by step."""
    if request.param == "step by step":
        monkeypatch.setattr(custseg_features, "WHOLE_QUERY_ORDERS", 0)
    return request.param


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("statuses", STATUSES)
def test_peers_equal_custseg_on_the_edge_cases(tmp_path: Path, peer, statuses, way):
    root = write_tables(tmp_path / "tiny", TINY)
    for day in ("2018-03-01", "2018-03-02"):
        expected = features(root, day, statuses)
        assert len(expected) >= 5
        assert_same_table(peer(root, day, statuses), expected)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("statuses", STATUSES)
def test_peers_equal_custseg_on_synthetic_data(synth_dir: Path, peer, statuses, way):
    for day in ("2017-06-01", "2018-06-01"):
        expected = features(synth_dir, day, statuses)
        assert len(expected) > 500 and expected.frequency.max() > 1
        assert_same_table(peer(synth_dir, day, statuses), expected)
