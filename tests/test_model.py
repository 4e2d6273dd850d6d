"""The model file: deterministic bytes, validation of tampered files, stable ids across re-training."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custseg import InputError, ModelFileError, SegmentModel, fit
from custseg.model import FORMAT, FORMAT_VERSION, alignment, checksum

AS_OF = "2018-09-01"
SMALL = dict(bootstrap=3, subsample=1500, silhouette_size=1500, n_jobs=1)


@pytest.fixture(scope="module")
def model(synth_features) -> SegmentModel:
    return fit(synth_features, AS_OF, k=5, algorithm="kmeans", seed=0, **SMALL)


@pytest.fixture
def model_file(model, tmp_path) -> Path:
    return model.save(tmp_path / "model.json")


# --------------------------------------------------------------------------------------------
# Content and determinism


def test_file_holds_the_audit_trail(model_file, model):
    doc = json.loads(model_file.read_text())
    assert doc["format"] == FORMAT and doc["format_version"] == FORMAT_VERSION
    assert doc["as_of"] == AS_OF and doc["seed"] == 0 and doc["statuses"] == ["delivered"]
    assert doc["input"]["customers"] == len(model.labels_)
    assert doc["input"]["feature_table"].startswith("sha256:")
    assert set(doc["libraries"]) >= {"custseg", "numpy", "scikit-learn"}
    assert [f["name"] for f in doc["preprocessing"]["features"]] == model.feature_names
    assert {"transform", "fill", "mean", "scale"} <= set(doc["preprocessing"]["features"][0])
    assert len(doc["centroids"]) == len(doc["segments"]) == len(doc["distance"]["thresholds"]) == 5
    assert doc["candidates"] and doc["choice"]["rule"]
    for seg in doc["segments"]:
        assert {"id", "size", "share", "name", "description", "actions", "profile", "distinguishing",
                "rules", "fidelity"} <= set(seg)
    assert doc["checksum"] == checksum(doc)
    assert "time" not in json.dumps(doc["input"])  # no wall clock anywhere near the input record


def test_saved_and_loaded_models_are_equal(model, model_file):
    loaded = SegmentModel.load(model_file)
    assert loaded.to_dict() == model.to_dict()
    np.testing.assert_array_equal(loaded.centroids, model.centroids)


def test_same_seed_same_bytes(synth_dir, cli, tmp_path):
    """Acceptance: two fits with the same seed and input give byte-identical files (also with --jobs)."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out, jobs in ((first, "1"), (second, "2")):
        result = cli("fit", synth_dir, "--as-of", AS_OF, "-o", out, "--seed", "3", "--bootstrap", "2", "--jobs", jobs)
        assert result.code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()


# --------------------------------------------------------------------------------------------
# Refusing damaged and foreign files


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def _drop_centroid(doc):
    doc["centroids"].pop()


def _bump_version(doc):
    doc["format_version"] = FORMAT_VERSION + 1


def _edit_number(doc):
    doc["centroids"][0][0] += 1e-6


def _rename_segment(doc):
    doc["segments"][0]["name"] = "Best customers"


def _non_finite(doc):
    doc["preprocessing"]["features"][0]["scale"] = float("nan")


TAMPERING = {
    "edited centroid count": (lambda p: _edit(p, _drop_centroid), "4 centroids of 6 features, but 5 segments"),
    "wrong version": (lambda p: _edit(p, _bump_version), f"unsupported format version {FORMAT_VERSION + 1}"),
    "truncated JSON": (lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]), "not valid JSON"),
    "edited number": (lambda p: _edit(p, _edit_number), "checksum mismatch"),
    "edited name": (lambda p: _edit(p, _rename_segment), "checksum mismatch"),
    "non-finite number": (lambda p: _edit(p, _non_finite), "not a JSON number"),
    "foreign JSON": (lambda p: p.write_text('{"hello": "world"}'), "not a custseg segment model"),
    "empty file": (lambda p: p.write_text(""), "not valid JSON"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampered_model_is_refused(case, model_file, synth_dir, cli, tmp_path):
    damage, expected = TAMPERING[case]
    damage(model_file)
    with pytest.raises(ModelFileError, match=expected):
        SegmentModel.load(model_file)
    out = tmp_path / "segments.csv"
    result = cli("assign", model_file, synth_dir, "--as-of", AS_OF, "-o", out)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model.json: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_missing_model_file_is_refused(tmp_path, synth_dir, cli):
    result = cli("assign", tmp_path / "nope.json", synth_dir, "--as-of", AS_OF, "-o", tmp_path / "s.csv")
    assert result.code == 2
    assert result.stderr.strip() == "error: nope.json: model file not found"


def test_consistent_edit_without_checksum_is_still_refused(model_file):
    """Dropping a segment everywhere (centroid, threshold, segment) keeps shapes right: the checksum catches it."""
    def drop_segment(doc):
        for key in ("centroids", "segments"):
            doc[key].pop()
        doc["distance"]["thresholds"].pop()
    _edit(model_file, drop_segment)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        SegmentModel.load(model_file)


# --------------------------------------------------------------------------------------------
# Stable ids across re-training


def test_refit_with_another_seed_keeps_ids_and_names(synth_features, model, model_file, synth_dir, cli, tmp_path):
    """Acceptance: --previous maps ids back; agreement with the old labels >= 0.95 on the same data."""
    new_file, new_labels = tmp_path / "new.json", tmp_path / "new.csv"
    result = cli("fit", synth_dir, "--as-of", AS_OF, "-o", new_file, "--k", "5", "--algorithm", "kmeans",
                 "--seed", "42", "--bootstrap", "2", "--jobs", "1", "--previous", model_file,
                 "--assignments", new_labels)
    assert result.code == 0, result.stderr
    new = SegmentModel.load(new_file)
    labels = pd.read_csv(new_labels, dtype={"customer_unique_id": str})
    assert (labels["segment_id"].to_numpy() == model.labels_).mean() >= 0.95
    assert new.ids == model.ids and new.names == model.names
    record = new.record["alignment"]
    assert record["previous"]["checksum"] == json.loads(model_file.read_text())["checksum"]
    assert all(s["matched"] and s["moved"] < 0.5 for s in record["segments"])
    assert record["retired_ids"] == []


def test_permuted_centroids_map_back_exactly(model):
    perm = [3, 0, 4, 1, 2]
    match = alignment(model.centroids[perm], model.preprocessing, model)
    assert list(match.ids) == [model.ids[p] for p in perm]
    assert list(match.previous_names) == [model.names[p] for p in perm]
    assert max(match.moved) < 1e-9
    assert match.next_id == model.record["next_id"] == 5


def test_permuted_model_fitted_again_gets_the_old_ids(synth_features, model):
    """A model whose segments are numbered differently is renumbered back through fit(previous=...)."""
    order = [2, 4, 0, 3, 1]
    shuffled = replace(
        model,
        centroids=model.centroids[order],
        thresholds=model.thresholds[order],
        segments=[{**model.segments[o], "id": i} for i, o in enumerate(order)],
        record={**model.record, "next_id": 5},
    )
    refit = fit(synth_features, AS_OF, k=5, algorithm="kmeans", seed=0, previous=shuffled, **SMALL)
    mapping = dict(zip(model.labels_, refit.labels_))
    assert all(mapping[old] == order.index(old) for old in model.ids)
    assert refit.names == [model.names[o] for o in order]


def test_new_segments_get_new_ids_and_lost_ones_are_retired(synth_features, model):
    fewer = fit(synth_features, AS_OF, k=4, algorithm="kmeans", seed=0, previous=model, **SMALL)
    retired = fewer.record["alignment"]["retired_ids"]
    assert len(retired) == 1 and set(fewer.ids) == set(model.ids) - set(retired)
    assert fewer.record["next_id"] == 5
    more = fit(synth_features, AS_OF, k=5, algorithm="kmeans", seed=0, previous=fewer, **SMALL)
    new = [s for s in more.record["alignment"]["segments"] if not s["matched"]]
    assert [s["id"] for s in new] == [5]  # never reuses the retired id
    assert more.record["next_id"] == 6
    assert len({n.lower() for n in more.names}) == 5


def test_previous_model_on_other_features_is_refused(synth_features, model):
    with pytest.raises(InputError, match="previous model uses features"):
        fit(synth_features, AS_OF, k=3, algorithm="kmeans", features=["frequency", "mean_basket"], previous=model, **SMALL)
