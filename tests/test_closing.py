"""Every job that opens DATA closes it (DuckDB's tables hold gigabytes), also when a step fails."""
from __future__ import annotations

import duckdb
import pytest

import custseg.features
import custseg.ingest
import custseg.pipeline
import custseg.report.build
from custseg.operate import update
from custseg.pipeline import run
from custseg.report.build import build_report


def _is_closed(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("SELECT 1")
    except duckdb.ConnectionException:
        return True
    return False


def _fail(*_args, **_kwargs):
    raise RuntimeError("a step failed")


@pytest.fixture
def opened(monkeypatch):
    """The datasets the jobs open, recorded."""
    found = []
    original = custseg.ingest.open_data

    def recording(*args, **kwargs):
        ds = original(*args, **kwargs)
        found.append(ds)
        return ds

    for module in (custseg.pipeline, custseg.report.build, custseg.ingest):
        monkeypatch.setattr(module, "open_data", recording)
    return found


@pytest.mark.parametrize("job, failing", [
    (lambda data, out: run(data, out / "run", stability=None), (custseg.pipeline, "write_features")),
    (lambda data, out: build_report(data, out / "report.html"), (custseg.report.build, "data_section")),
    (lambda data, out: update(data, out / "state"), (custseg.features, "customer_features")),
], ids=["run", "build_report", "update"])
def test_a_failed_job_closes_its_data(synth_dir, tmp_path, monkeypatch, opened, job, failing):
    monkeypatch.setattr(*failing, _fail)
    with pytest.raises(RuntimeError, match="a step failed"):
        job(synth_dir, tmp_path)
    assert len(opened) == 1 and _is_closed(opened[0].con)


def test_a_report_leaves_a_given_dataset_open(synth_dir, tmp_path):
    with custseg.ingest.open_data(synth_dir) as ds:
        build_report(ds, tmp_path / "report.html")
        assert not _is_closed(ds.con)
    assert _is_closed(ds.con)
