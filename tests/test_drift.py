"""Drift statistics: PSI on reference quantile bins, KS, shares, migration, drivers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.drift import (
    ReferenceBins,
    bin_shares,
    drift_drivers,
    feature_drift,
    ks_statistic,
    migration_matrix,
    psi,
    psi_against,
    reference_bins,
    segment_shares,
)


def test_psi_is_zero_for_the_same_sample_and_grows_with_a_shift():
    x = np.random.default_rng(0).normal(size=5000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    small = psi(x, x + 0.1)
    large = psi(x, x + 1.0)
    assert 0 < small < 0.1 < 0.2 < large


def test_psi_uses_deciles_of_the_reference():
    bins = reference_bins(np.arange(1000.0))
    assert len(bins.edges) == 9
    assert bins.shares[:-1] == pytest.approx([0.1] * 10, abs=0.002)
    assert bins.shares[-1] == 0.0  # no missing values


def test_discrete_feature_keeps_each_cut_point_once():
    # 97% buy once: most deciles of frequency are 1
    freq = np.array([1] * 970 + [2] * 25 + [3] * 5, dtype=float)
    bins = reference_bins(freq)
    assert bins.edges == (1.0,)
    assert psi_against(bins, freq) == pytest.approx(0.0, abs=1e-12)
    more_repeat = np.array([1] * 800 + [2] * 200, dtype=float)
    assert psi_against(bins, more_repeat) > 0.2


def test_a_change_in_missing_share_counts_as_drift():
    ref = np.array([4.0, 5.0, 3.0, 5.0] * 250)
    cur = ref.copy()
    cur[:400] = np.nan  # many customers without a review yet
    assert bin_shares(reference_bins(ref).edges, cur)[-1] == pytest.approx(0.4)
    assert psi(ref, cur) > 0.2


def test_reference_bins_round_trip_through_json_dict():
    bins = reference_bins(np.random.default_rng(1).exponential(size=300))
    assert ReferenceBins.from_dict(bins.to_dict()) == bins


def test_ks_statistic_matches_scipy_and_ignores_missing():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=400), rng.normal(0.5, size=300)
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic)
    assert ks_statistic(np.append(a, np.nan), b) == pytest.approx(ks_2samp(a, b).statistic)
    assert ks_statistic([np.nan], b) == 0.0


def test_feature_drift_sorts_by_psi_and_names_model_drivers():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000), "c": rng.normal(size=2000)})
    cur = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(2, size=2000), "c": rng.normal(0.6, size=2000)})
    table = feature_drift(ref, cur, ["a", "b", "c"])
    assert list(table["feature"]) == ["b", "c", "a"]
    assert list(table["level"]) == ["major", "major", "none"]
    assert drift_drivers(table, ["a", "c"]) == ["c"]
    stored = {f: reference_bins(ref[f]) for f in ["a", "b", "c"]}
    from_bins = feature_drift(stored, cur, ["a", "b", "c"])
    assert from_bins["psi"].tolist() == pytest.approx(table["psi"].tolist())
    assert from_bins["ks"].isna().all()


def test_shares_and_migration_matrix_use_segment_ids():
    before = np.array([0, 0, 1, 1, 4, 4])
    after = np.array([0, 1, 1, 1, 4, 9])  # 9: a re-trained segment matched to no frozen one
    assert segment_shares(before, [0, 1, 4, 7]) == pytest.approx({"0": 2 / 6, "1": 2 / 6, "4": 2 / 6, "7": 0})
    m = migration_matrix(before, after)
    assert m["from_ids"] == [0, 1, 4] and m["to_ids"] == [0, 1, 4, 9]
    assert m["counts"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 1]]
    assert m["same_id_share"] == pytest.approx(4 / 6)
