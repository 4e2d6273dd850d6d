"""Hostile input, class 4: JSON files we read (models, stability results) are data, not Python.

Each case: exit 2, one ``error:`` line naming the file, no traceback, no output written, the
file itself and previous outputs untouched.
"""
from __future__ import annotations

import json
import time

import pytest

from custseg.model import checksum
from hostile import assert_refused, snapshot


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A small export and a model fitted on it (library calls: cheap)."""
    from custseg.segment import fit
    from custseg.features import features
    from custseg.synth import generate

    root = tmp_path_factory.mktemp("json")
    generate(root / "data", customers=300, seed=5)
    table = features(root / "data", "2018-09-01")
    fit(table, "2018-09-01", k=3, seed=0).save(root / "model.json")
    return root


def _resealed(doc: dict) -> str:
    """``doc`` with its checksum recomputed: a file edited by someone who knows the format."""
    doc = {k: v for k, v in doc.items() if k != "checksum"}
    doc["checksum"] = checksum(doc)
    return json.dumps(doc)


def _model(fitted) -> dict:
    return json.loads((fitted / "model.json").read_text())


def _assign_refused(cli, fitted, tmp_path, text: str, *words: str) -> str:
    bad = tmp_path / "model.json"
    bad.write_text(text) if isinstance(text, str) else None
    out = tmp_path / "out"
    out.mkdir()
    (out / "segments.csv").write_text("previous\n")
    before = snapshot(tmp_path)
    line = assert_refused(cli("assign", bad, fitted / "data", "-o", out / "segments.csv"), 2, "model.json", *words)
    assert snapshot(tmp_path) == before
    return line


def test_deeply_nested_model_is_refused(cli, fitted, tmp_path):
    doc = _model(fitted)
    text = json.dumps(doc)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _assign_refused(cli, fitted, tmp_path, text, "nested more than")


def test_a_5000_digit_integer_is_refused(cli, fitted, tmp_path):
    text = json.dumps(_model(fitted)).replace('"seed": 0', '"seed": ' + "9" * 5000)
    assert "9" * 5000 in text
    _assign_refused(cli, fitted, tmp_path, text, "a number of 5,000 characters")


def test_an_absurd_centroid_with_a_valid_checksum_is_refused(cli, fitted, tmp_path):
    doc = _model(fitted)
    doc["centroids"][0][0] = 1e308
    _assign_refused(cli, fitted, tmp_path, _resealed(doc), "centroid", "outside the training data")


def test_a_subnormal_scale_with_a_valid_checksum_is_refused(cli, fitted, tmp_path):
    doc = _model(fitted)
    doc["preprocessing"]["features"][0]["scale"] = 1e-320
    _assign_refused(cli, fitted, tmp_path, _resealed(doc), "scale of")


def test_a_huge_model_file_is_refused_before_it_is_read(cli, fitted, tmp_path):
    bad = tmp_path / "model.json"
    with bad.open("wb") as fh:  # sparse: 500 MB on paper, nothing on disk
        fh.truncate(500 << 20)
    started = time.monotonic()
    line = _assign_refused(cli, fitted, tmp_path, None, "larger than any model file")
    assert time.monotonic() - started < 30, line  # a subprocess on a busy machine; parsing took 21 s at 3.4 GB


def test_monitor_refuses_a_model_holding_nan(cli, fitted, tmp_path):
    text = (fitted / "model.json").read_text().replace('"seed": 0', '"seed": NaN')
    bad = tmp_path / "model.json"
    bad.write_text(text)
    assert_refused(cli("monitor", bad, fitted / "data", "--as-of", "2018-10-01", "-o", tmp_path / "rec.json"),
                   2, "model.json", "NaN, which is not a JSON number")
    assert not (tmp_path / "rec.json").exists()


@pytest.mark.parametrize("text, words", [
    ('{"format": "custseg.stability/2", "protocol": {}, "reference": {}, "steps": [{}], '
     '"recommendation": {}, "contract": {}}', "malformed stability result (KeyError"),
    ("[" * 50_000 + "]" * 50_000, "nested more than"),
    ('{"format": "custseg.stability/2", "steps": [1e999]}', "a number too large for a float"),
])
def test_report_refuses_a_stability_result_that_is_not_one(cli, fitted, tmp_path, text, words):
    bad = tmp_path / "stability.json"
    bad.write_text(text)
    before = snapshot(tmp_path)
    assert_refused(cli("report", fitted / "data", "-o", tmp_path / "r.html", "--stability", bad), 2,
                   "stability.json", words)
    assert snapshot(tmp_path) == before


def test_report_refuses_a_stability_result_whose_summary_dates_are_not_dates(cli, fitted, tmp_path):
    """The summary at the top reads the verdict's dates too: an edited one is the same refusal."""
    doc = {"format": "custseg.stability/2", "protocol": {"reference_date": "2017-10-01"}, "reference": {},
           "steps": [{}], "recommendation": {"verdict": "stable", "horizon": "not-a-date"}, "contract": {}}
    bad = tmp_path / "stability.json"
    bad.write_text(json.dumps(doc))
    before = snapshot(tmp_path)
    assert_refused(cli("report", fitted / "data", "-o", tmp_path / "r.html", "--model", fitted / "model.json",
                       "--stability", bad), 2, "stability.json", "malformed stability result (ValueError")
    assert snapshot(tmp_path) == before
