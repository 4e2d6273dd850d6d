"""The HTML report without a browser: sections by input, escaping, self-containment, size, determinism."""
from __future__ import annotations

import copy
import shlex
import json
import re
from datetime import date

import pytest
from markupsafe import escape
from plotly.offline import get_plotlyjs

from custseg.errors import InputError
from custseg.features import default_as_of
from custseg.ingest import load
from custseg.report import build_report
from custseg.report.charts import plot_text, script_safe_json
from custseg.stability import maintenance_contract, recommendation, verdict_text
from custseg.synth import cdnow_log
from report_inputs import XSS_CATEGORY, XSS_CITY, hostile_copy, small_model, small_stability

MAX_BYTES = 10_000_000
DATA_CHARTS = ["fig-data-missing", "fig-data-orders-week", "fig-data-order-status", "fig-data-delivery-days",
               "fig-data-lateness", "fig-data-review-scores", "fig-data-payment-types", "fig-data-installments",
               "fig-data-categories", "fig-data-states"]
SEGMENT_CHARTS = ["fig-seg-sizes", "fig-seg-profile", "fig-seg-map", "fig-seg-candidates", "fig-seg-rfm"]
STABILITY_CHARTS = ["fig-stab-ari", "fig-stab-drift", "fig-stab-shares", "fig-stab-migration"]


@pytest.fixture(scope="module")
def as_of(synth_dir) -> str:
    return default_as_of(load(synth_dir)).isoformat()


@pytest.fixture(scope="module")
def model_path(synth_dir, as_of, tmp_path_factory):
    return small_model(synth_dir, tmp_path_factory.mktemp("model") / "model.json", as_of)


@pytest.fixture(scope="module")
def stability_path(synth_dir, tmp_path_factory):
    return small_stability(synth_dir, tmp_path_factory.mktemp("stability") / "stability.json")


@pytest.fixture(scope="module")
def data_report(synth_dir, tmp_path_factory) -> str:
    path = build_report(synth_dir, tmp_path_factory.mktemp("data_report") / "report.html")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full_report(synth_dir, model_path, stability_path, tmp_path_factory):
    return build_report(synth_dir, tmp_path_factory.mktemp("full_report") / "report.html", model=model_path,
                        stability=stability_path)


def as_html(text: str) -> str:
    """``text`` as the page's template writes it (escaped)."""
    return str(escape(text))


def page_without_plotly(page: str) -> str:
    return page.replace(get_plotlyjs(), "")


def figure(page: str, div_id: str) -> dict:
    """The Plotly figure the page holds for the chart ``div_id``."""
    return json.loads(re.search(rf'<script type="application/json" id="{div_id}-spec">(.*?)</script>', page).group(1))


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section class="report-section" id="([^"]+)"', page)


def test_data_only_report_has_the_data_section_only(data_report):
    assert section_ids(data_report) == ["data"]
    for div_id in DATA_CHARTS:
        assert f'<div id="{div_id}" class="plot"' in data_report
    for part in ("data-loaded", "data-validation", "data-missing", "data-orders", "data-delivery", "data-reviews",
                 "data-payments", "data-categories", "data-states"):
        assert f'href="#{part}"' in data_report, f"{part} missing from the table of contents"
    assert "fig-seg-" not in data_report


def test_model_and_stability_add_their_sections(full_report, model_path):
    page = full_report.read_text(encoding="utf-8")
    assert section_ids(page) == ["summary", "data", "segments", "stability"]
    for div_id in DATA_CHARTS + SEGMENT_CHARTS + STABILITY_CHARTS:
        assert f'<div id="{div_id}" class="plot"' in page
    model = json.loads(model_path.read_text())
    for segment in model["segments"]:
        assert f'id="segment-{segment["id"]}"' in page
        assert as_html(segment["name"]) in page
        for action in segment["actions"]:
            assert as_html(action) in page


def failing_at_second_step(result: dict) -> dict:
    """``result`` as if a segment's share had moved 9 points at the second step (a retrain decision)."""
    out = copy.deepcopy(result)
    step = out["steps"][1]
    segment = next(iter(step["share_moves"]))
    step["decision"].update(retrain=True, status="retrain", reasons=[
        {"trigger": "share_shift", "segment": segment, "points": 9.0, "limit": 5.0}])
    out["recommendation"] = recommendation(out, _NoCandidates())
    out["contract"] = maintenance_contract(out, None)
    return out


class _NoCandidates:
    algorithm = "kmeans"
    record: dict = {"candidates": []}


def test_stability_alone_adds_its_section_with_the_recommendation(synth_dir, stability_path, tmp_path):
    page = build_report(synth_dir, tmp_path / "r.html", stability=stability_path).read_text(encoding="utf-8")
    assert section_ids(page) == ["data", "stability"]
    for div_id in STABILITY_CHARTS:
        assert f'<div id="{div_id}" class="plot"' in page
    result = json.loads(stability_path.read_text())
    assert as_html(verdict_text(result)) in page
    assert as_html(shlex.join(result["contract"]["monitor"]["command"])) in page


def test_a_flagged_step_gives_a_retrain_recommendation_naming_the_segment(synth_dir, stability_path, tmp_path):
    result = failing_at_second_step(json.loads(stability_path.read_text()))
    page = build_report(synth_dir, tmp_path / "r.html", stability=result).read_text(encoding="utf-8")
    assert result["recommendation"]["verdict"] == "retrain"
    assert "Re-train the segmentation every 6 months" in page  # two steps of 3M
    ari = figure(page, "fig-stab-ari")
    flagged = next(t for t in ari["data"] if t.get("name") == "re-train called for")
    assert flagged["x"] == [result["steps"][1]["as_of"]]
    segment = next(iter(result["steps"][1]["share_moves"]))
    name = result["reference"]["segments"][segment]
    assert as_html(f"{segment} · {name}'s share moved +9.0 points") in page


def test_as_of_is_stated_and_used(synth_dir, model_path, tmp_path):
    page = build_report(synth_dir, tmp_path / "r.html", model=model_path, as_of="2018-03-01").read_text()
    assert "<b>as of</b> 2018-03-01" in page
    assert "customers as of 2018-03-01" in page


def test_plotly_is_inlined_once_and_nothing_is_loaded_from_elsewhere(full_report):
    page = full_report.read_text(encoding="utf-8")
    assert page.count(get_plotlyjs()) == 1
    rest = page_without_plotly(page)
    assert "Content-Security-Policy" in rest and "default-src 'none'" in rest
    assert not re.search(r"<(link|img|iframe|object|embed)\b", rest, re.I)
    assert not re.search(r"<script[^>]*\bsrc=", rest, re.I)
    assert "http://" not in rest and "https://" not in rest
    assert "mathjax" not in rest.lower()


def test_figure_json_cannot_close_its_script_element():
    text = script_safe_json({"label": "</script><!-- & \u2028 \u2029"})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"label": "</script><!-- & \u2028 \u2029"}


def test_chart_labels_are_escaped_for_plotly():
    assert plot_text("<b>bold</b> & co") == "&lt;b&gt;bold&lt;/b&gt; &amp; co"


def test_hostile_strings_from_the_data_are_escaped(synth_dir, tmp_path):
    data = hostile_copy(synth_dir, tmp_path / "data")
    model = small_model(data, tmp_path / "model.json", default_as_of(load(data)).isoformat())
    page = build_report(data, tmp_path / "report.html", model=model).read_text(encoding="utf-8")
    rest = page_without_plotly(page)
    assert XSS_CATEGORY not in page and XSS_CITY not in page
    assert "<img" not in rest
    # the city as escaped text in the top-cities table, the category as escaped label text in chart JSON
    assert as_html(XSS_CITY) in rest
    assert script_safe_json(plot_text(XSS_CATEGORY)).strip('"') in rest
    # the only script elements are plotly.js, the chart setup and one per chart
    charts = len(re.findall(r'class="plot"', rest))
    assert len(re.findall(r"<script\b", rest, re.I)) == charts + 2


def test_report_is_deterministic(synth_dir, model_path, stability_path, full_report, tmp_path):
    again = build_report(synth_dir, tmp_path / "again.html", model=model_path, stability=stability_path)
    assert again.read_bytes() == full_report.read_bytes()


def test_report_is_small(full_report):
    assert full_report.stat().st_size < MAX_BYTES


def test_cli_writes_the_report(cli, synth_dir, model_path, tmp_path):
    out = tmp_path / "report.html"
    result = cli("report", synth_dir, "-o", out, "--model", model_path)
    assert result.code == 0, result.stderr
    assert "wrote" in result.stdout
    assert section_ids(out.read_text(encoding="utf-8")) == ["summary", "data", "segments"]
    result = cli("report", synth_dir, "-o", out, "--stability", model_path)
    assert result.code == 2
    assert "model.json: not a custseg stability result" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/report.txt"], "report.txt: report output must end in .html"),
        (["-o", "{tmp}/report.html", "--model", "{tmp}/absent.json"], "absent.json: model file not found"),
        (["-o", "{tmp}/report.html", "--as-of", "2018-13-01"], "not a date"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(cli, synth_dir, tmp_path, args, message):
    result = cli("report", synth_dir, *[a.format(tmp=tmp_path) for a in args])
    assert result.code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


def test_report_on_a_transaction_log_leaves_out_what_a_log_lacks(cli, tmp_path):
    log = cdnow_log(tmp_path / "CDNOW_sample.txt", customers=300, seed=1)
    out = tmp_path / "log.html"
    result = cli("report", log, "-o", out, "--columns", "id,date,count,amount", "--customer-col", "id",
                 "--date-col", "date", "--amount-col", "amount", "--date-format", "%Y%m%d")
    assert result.code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert section_ids(page) == ["data"]
    assert "fig-data-orders-week" in page
    for absent in ("fig-data-delivery-days", "fig-data-review-scores", "fig-data-categories", "fig-data-states"):
        assert absent not in page


@pytest.mark.realdata
def test_data_report_on_real_olist_is_small(olist_dir, tmp_path):
    path = build_report(olist_dir, tmp_path / "olist.html")
    assert path.stat().st_size < MAX_BYTES
    page = path.read_text(encoding="utf-8")
    assert section_ids(page) == ["data"]
    assert "99,441" in page  # orders loaded


def test_map_plane_of_many_customers_comes_from_a_fixed_sample(synth_dir, model_path, as_of, monkeypatch):
    import numpy as np

    from custseg.model import SegmentModel
    from custseg.report import segments
    from custseg.report.build import segment_inputs

    inputs = segment_inputs(load(synth_dir), SegmentModel.load(model_path), date.fromisoformat(as_of))
    n = len(inputs.features)
    whole = segments.principal_plane(inputs.model, inputs.features, np.random.default_rng(0))
    assert "fixed sample of" not in segments.projection_part(inputs).blocks[0].chart.note
    monkeypatch.setattr(segments, "PLANE_SAMPLE", n // 3)
    sampled = segments.principal_plane(inputs.model, inputs.features, np.random.default_rng(0))
    again = segments.principal_plane(inputs.model, inputs.features, np.random.default_rng(0))
    np.testing.assert_array_equal(sampled.components_, again.components_)
    assert not np.array_equal(sampled.components_, whole.components_)  # a sample, not everyone
    # the same plane, near enough: each sampled axis lies (almost) in the plane of all customers
    in_plane = np.linalg.norm(sampled.components_ @ whole.components_.T, axis=1)
    assert (in_plane > 0.95).all(), in_plane
    assert f"fixed sample of {n // 3:,}" in segments.projection_part(inputs).blocks[0].chart.note


def test_report_reads_only_what_it_draws_from_parquet_tables(synth_dir, model_path, as_of, tmp_path):
    from custseg.features import features, read_feature_table
    from custseg.model import SegmentModel
    from custseg.rfm import rfm

    model = SegmentModel.load(model_path)
    table = features(synth_dir, as_of)
    paths = {"features_df": tmp_path / "f.parquet", "assignment_df": tmp_path / "a.parquet",
             "rfm_df": tmp_path / "r.parquet"}
    table.to_parquet(paths["features_df"])
    model.assign_features(table).to_parquet(paths["assignment_df"])
    rfm(table).to_parquet(paths["rfm_df"])
    from_frames = build_report(synth_dir, tmp_path / "frames.html", model=model,
                               features_df=table, assignment_df=model.assign_features(table), rfm_df=rfm(table))
    from_files = build_report(synth_dir, tmp_path / "files.html", model=model, **paths)
    assert from_files.read_bytes() == from_frames.read_bytes()
    subset = read_feature_table(paths["features_df"], model.feature_names)
    assert list(subset.columns) == model.feature_names
    assert subset.equals(table[model.feature_names])
    with pytest.raises(InputError, match="not a column of a feature table") as refused:
        read_feature_table(paths["features_df"], ["monetary", "lifetime_value"])
    assert refused.value.column == "lifetime_value"
