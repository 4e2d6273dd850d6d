"""What lets custseg handle millions of customers on one machine, checked on small data.

Features computed once and reused by fit and assign, bounded memory when assigning, and a
backtest that follows a fixed share of the customers. The figures at 1M and 10M orders come
from benchmarks/scale.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg import model as model_module
from custseg.errors import InputError
from custseg.features import features, read_feature_table
from custseg.stability import compared_customers

AS_OF = "2018-06-01"


@pytest.fixture(scope="module")
def table(synth_dir) -> pd.DataFrame:
    return features(synth_dir, AS_OF)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_feature_table_reads_back_as_written(table, tmp_path, cli, synth_dir, suffix):
    out = tmp_path / f"features{suffix}"
    assert cli("features", synth_dir, "--as-of", AS_OF, "-o", out).code == 0
    # the feature table keeps exact values in CSV too: fit and assign read it back
    pd.testing.assert_frame_equal(read_feature_table(out), table)


def test_feature_table_missing_a_column_names_file_and_column(table, tmp_path):
    path = tmp_path / "features.parquet"
    table.drop(columns="frequency").to_parquet(path)
    with pytest.raises(InputError, match=r"features\.parquet: column frequency: missing"):
        read_feature_table(path)


def test_fit_and_assign_take_a_feature_table_instead_of_data(synth_dir, tmp_path, cli):
    feats, model = tmp_path / "features.parquet", tmp_path / "model.json"
    assert cli("features", synth_dir, "--as-of", AS_OF, "-o", feats).code == 0
    refused = cli("fit", feats, "-o", model, "--k", "3", "--algorithm", "kmeans")
    assert refused.code == 2 and "--as-of" in refused.stderr
    fitted = cli("fit", feats, "--as-of", AS_OF, "-o", model, "--k", "3", "--algorithm", "kmeans", "--bootstrap", "2")
    assert fitted.code == 0, fitted.stderr
    from_table = cli("assign", model, feats, "-o", tmp_path / "a.parquet")
    from_data = cli("assign", model, synth_dir, "--as-of", AS_OF, "-o", tmp_path / "b.parquet")
    assert from_table.code == 0 and from_data.code == 0, from_table.stderr + from_data.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))


def test_centroid_distances_do_not_depend_on_the_chunk(monkeypatch):
    rng = np.random.default_rng(0)
    z, centroids = rng.normal(size=(1001, 6)), rng.normal(size=(5, 6))
    whole = model_module.centroid_distances(z, centroids)
    monkeypatch.setattr(model_module, "CHUNK_ROWS", 64)
    assert np.array_equal(model_module.centroid_distances(z, centroids), whole)


def test_backtest_compares_the_same_customers_at_every_date(table):
    assert compared_customers(table, 1.0) is table
    half = compared_customers(table, 0.5)
    assert 0.4 < len(half) / len(table) < 0.6
    # a later date has other rows (new customers, other values): the people chosen stay chosen
    later = pd.concat([table.iloc[::-1], table.assign(customer_unique_id=table["customer_unique_id"] + "x")])
    chosen_later = set(compared_customers(later, 0.5)["customer_unique_id"])
    assert set(half["customer_unique_id"]) <= chosen_later


def test_input_fingerprint_does_not_depend_on_the_chunk(table, monkeypatch):
    from custseg import segment

    whole = segment.input_fingerprint(table)
    monkeypatch.setattr(segment.assembly, "FINGERPRINT_CHUNK", 7)
    assert segment.input_fingerprint(table) == whole
