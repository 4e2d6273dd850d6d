"""Assignment: the saved model reproduces training labels, works in chunks, flags outliers."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from custseg import InputError, SegmentModel, assign, fit
from custseg.model import ASSIGNMENT_COLUMNS

AS_OF = "2018-09-01"
SMALL = dict(bootstrap=2, subsample=1500, silhouette_size=1500, n_jobs=1)


@pytest.fixture(scope="module")
def model(synth_features) -> SegmentModel:
    return fit(synth_features, AS_OF, seed=1, **SMALL)


def test_saved_model_reproduces_training_labels(model, synth_features, synth_dir, tmp_path):
    """Acceptance: assign with the saved model gives exactly the training labels."""
    loaded = SegmentModel.load(model.save(tmp_path / "model.json"))
    assigned = assign(loaded, synth_dir, AS_OF)
    assert list(assigned.columns) == ASSIGNMENT_COLUMNS
    assert assigned["customer_unique_id"].tolist() == synth_features["customer_unique_id"].tolist()
    np.testing.assert_array_equal(assigned["segment_id"].to_numpy(), model.labels_)
    pd.testing.assert_frame_equal(assigned, model.assignment_)
    sizes = assigned["segment_id"].value_counts()
    assert [int(sizes[s["id"]]) for s in loaded.segments] == [s["size"] for s in loaded.segments]


def test_cli_assign_matches_fit_assignments(synth_dir, cli, tmp_path):
    model_file, train, out = tmp_path / "m.json", tmp_path / "train.csv", tmp_path / "segments.csv"
    result = cli("fit", synth_dir, "--as-of", AS_OF, "-o", model_file, "--algorithm", "kmeans", "--bootstrap", "2",
                 "--jobs", "1", "--assignments", train)
    assert result.code == 0, result.stderr
    result = cli("assign", model_file, synth_dir, "--as-of", AS_OF, "-o", out)
    assert result.code == 0, result.stderr
    assert out.read_bytes() == train.read_bytes()
    assert "outliers" in result.stdout and f"wrote {out}" in result.stdout


def test_chunks_do_not_change_anything(model, synth_features):
    whole = model.assign_features(synth_features)
    pd.testing.assert_frame_equal(model.assign_features(synth_features, chunk_rows=7), whole)
    pd.testing.assert_frame_equal(model.assign_features(synth_features.iloc[::-1]).iloc[::-1].reset_index(drop=True), whole)


def test_distance_and_outlier_flag(model, synth_features):
    assigned = model.assign_features(synth_features)
    assert (assigned["distance"] >= 0).all()
    # the thresholds are the 99th percentiles of training distances: about 1% are beyond their own
    assert 0 < assigned["outlier"].mean() <= 0.02
    extreme = synth_features.iloc[:2].copy()
    extreme["mean_basket"] = [1e9, synth_features["mean_basket"].median()]
    extreme["frequency"] = [500, synth_features["frequency"].median()]
    flagged = model.assign_features(extreme)
    assert flagged["outlier"].tolist()[0] is True
    assert flagged["distance"].iloc[0] > model.thresholds.max()


def test_other_dates_and_new_customers_are_assigned(model, synth_dir):
    earlier = assign(model, synth_dir, "2017-09-01")
    assert 0 < len(earlier) < len(model.labels_)
    assert set(earlier["segment_id"]) <= set(model.ids)
    assert earlier["segment_name"].isin(model.names).all()


def test_feature_table_without_a_model_column_is_refused(model, synth_features):
    with pytest.raises(InputError, match="column installments_mean: missing"):
        assign(model, synth_features.drop(columns=["installments_mean"]))
    with pytest.raises(InputError, match="as-of date is needed"):
        assign(model, "some/dir")


def test_bad_output_is_refused_before_any_work(model, synth_dir, cli, tmp_path):
    model_file = model.save(tmp_path / "m.json")
    result = cli("assign", model_file, synth_dir, "--as-of", AS_OF, "-o", tmp_path / "segments.xlsx")
    assert result.code == 2
    assert result.stderr.strip() == "error: segments.xlsx: output must end in .csv or .parquet"
