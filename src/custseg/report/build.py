"""Assemble the report sections into one self-contained, deterministic HTML page.

The page embeds Plotly's JavaScript once and every chart as escaped JSON under a fixed element id;
it loads nothing from any other host (its Content-Security-Policy forbids it) and holds no wall-clock
time, so the same inputs give byte-identical files.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd
from plotly.offline import get_plotlyjs

from .. import __version__
from ..errors import InputError, ModelFileError
from ..export import write_text
from ..features import default_as_of, features, parse_as_of, read_feature_table
from ..ingest import Dataset, idle, open_data
from ..model import SegmentModel
from ..rfm import rfm
from ..schema import LogMapping
from .charts import config_json, template_json
from ..currency import Money, money
from ..summary import NoBacktest, Summary, summarize
from .content import Section
from .data import data_section
from .segments import SegmentInputs, segments_section
from .stability import checked_result, load_stability, stability_section
from .summary import summary_section

TITLE = "Customer segments report"
#: Feature columns the summary reads besides the model's features (revenue per segment).
SUMMARY_COLUMNS = ("monetary",)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("custseg.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    js = get_plotlyjs()
    # Inlined as-is, so it must not be able to close its own <script> element.
    if "</script" in js.lower():
        raise RuntimeError("plotly.js contains '</script' and cannot be inlined")
    return js


def _check_unique_ids(sections: list[Section]) -> None:
    ids = [s.id for s in sections] + [p.id for s in sections for p in s.parts]
    ids += [c.div_id for s in sections for c in s.charts]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate element ids in the report: {', '.join(duplicates)}")


def render_page(sections: list[Section], meta: list[tuple[str, str]], title: str = TITLE,
                summary: Section | None = None) -> str:
    """The HTML page holding ``sections``, with ``meta`` (label, value) pairs under the title and
    the ``summary`` section, when given, above everything else."""
    _check_unique_ids(sections + ([summary] if summary else []))
    return _environment().get_template("report.html.j2").render(
        title=title,
        meta=meta,
        summary=summary,
        sections=sections,
        version=__version__,
        plotly_js=_plotly_js(),
        template_json=template_json(),
        config_json=config_json(),
    )


def check_output_path(path: str | Path) -> Path:
    """``path`` when it names an HTML file; InputError otherwise (checked before any work)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError("report output must end in .html", file=path)
    return path


def segment_inputs(
    ds: Dataset,
    model: SegmentModel,
    as_of: date,
    features_df: pd.DataFrame | None = None,
    assignment_df: pd.DataFrame | None = None,
    rfm_df: pd.DataFrame | None = None,
    money: Money = Money(),
    kind: str = "olist",
) -> SegmentInputs:
    """The customers as of ``as_of``, their segments and RFM scores: given ones, else computed."""
    table = features_df if features_df is not None else features(ds, as_of, model.statuses)
    if table.empty:
        raise InputError(f"no customer has a counted order before {as_of} (statuses: {', '.join(model.statuses)})")
    assignment = assignment_df if assignment_df is not None else model.assign_features(table)
    scored = rfm_df if rfm_df is not None else rfm(table)
    return SegmentInputs(model=model, as_of=as_of.isoformat(), features=table, assignment=assignment, rfm=scored,
                         money=money, kind=kind)


def summary_of(inputs: SegmentInputs, stability: dict | None, warnings: int,
               no_backtest: NoBacktest | None = None) -> Summary:
    """The report's summary: segments as of the report's date, with revenue, and the verdict (or why none)."""
    assert inputs.features is not None and inputs.assignment is not None  # a model's inputs have both
    monetary = inputs.features["monetary"].to_numpy() if "monetary" in inputs.features.columns else None
    return summarize(inputs.model, inputs.as_of, inputs.assignment["segment_id"].to_numpy(), monetary,
                     stability, warnings, no_backtest)


def _frame(value: pd.DataFrame | Path | None, columns: list[str] | None, features: bool = False) -> pd.DataFrame | None:
    """``value``, or when it is a Parquet file, the ``columns`` of it the report draws.

    A feature table is read with its checks and types. For millions of customers, reading only
    what the Segments section uses keeps gigabytes of unused columns out of memory.
    """
    if not isinstance(value, (str, Path)):
        return value
    return read_feature_table(value, columns) if features else pd.read_parquet(value, columns=columns)


@contextmanager
def _stability_read(source: str | Path) -> Iterator[None]:
    """Turn what an edited or foreign stability result breaks while it is read into a refusal naming it."""
    try:
        yield
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        # a file may be edited or from another version: a block it lacks is an input problem
        raise ModelFileError(f"malformed stability result ({exc.__class__.__name__}: {exc})", file=source) from None


def build_report(
    data: Dataset | str | Path,
    out_path: str | Path,
    *,
    as_of: date | str | None = None,
    model: SegmentModel | str | Path | None = None,
    stability: dict | str | Path | None = None,
    features_df: pd.DataFrame | Path | None = None,
    assignment_df: pd.DataFrame | Path | None = None,
    rfm_df: pd.DataFrame | Path | None = None,
    mapping: LogMapping | None = None,
    currency: str | None = None,
    history: list[dict] | str | Path | None = None,
    no_backtest: NoBacktest | None = None,
) -> Path:
    """Write the HTML report on ``data`` to ``out_path``.

    ``data`` is a Dataset, an Olist export directory, or a transaction-log file read with
    ``mapping`` (:func:`custseg.ingest.open_data`).

    The Data section is always there; the Segments section when a ``model`` (object or file) is
    given, the Stability section when a ``stability`` result (dict or file) is given. ``as_of``
    is the date customers are placed in segments (default: the model's as-of date, else the day
    after the latest purchase). A caller that already holds the feature table as of that date,
    its assignment (``model.assign_features``) or its RFM table (``custseg.rfm.rfm``) may pass
    them to save recomputing; they must describe the same customers in the same row order. Each
    may also be a Parquet file of it, read only once the Data section is done (for millions of
    customers, the tables and DuckDB's then need not be in memory at once). ``currency`` (a code
    such as ``BRL`` or a symbol) labels every amount; default: BRL for an Olist export, none for a
    transaction log. ``history`` (the records of :func:`custseg.operate.history`, or the state
    directory of ``custseg update``) adds the History section. ``no_backtest``
    (:func:`custseg.stability.short_history`) has the summary say why there is no verdict.
    """
    out_path = check_output_path(out_path)
    if isinstance(history, (str, Path)):
        from ..operate import history as read_history

        history = read_history(history)
    day = parse_as_of(as_of) if as_of is not None else None
    if model is not None and not isinstance(model, SegmentModel):
        model = SegmentModel.load(model)
    stability_source = stability if isinstance(stability, (str, Path)) else "stability result"
    if stability is not None:
        stability = checked_result(stability) if isinstance(stability, dict) else load_stability(stability)
    # a Dataset given is the caller's to close; one opened here is closed here
    with nullcontext(data) if isinstance(data, Dataset) else open_data(data, mapping) as ds:
        day = day or (parse_as_of(model.as_of) if model is not None else default_as_of(ds))
        cash = money(currency, ds.kind)
        sections = [data_section(ds, cash)]
        meta = [("data", ds.root.name or str(ds.root)), ("as of", day.isoformat())]
        top = None
        if model is not None:
            # what the Segments section draws: the model's features, segments, RFM names
            derive = assignment_df is None or rfm_df is None  # from the whole feature table
            drawn = list(dict.fromkeys([*model.feature_names, *SUMMARY_COLUMNS]))
            features_df = _frame(features_df, None if derive else drawn, features=True)
            assignment_df, rfm_df = _frame(assignment_df, ["segment_id"]), _frame(rfm_df, ["segment"])
            given = features_df is not None and assignment_df is not None and rfm_df is not None
            # with every table given, this section is Python's work: DuckDB's tables may wait on disk
            with idle(ds) if given else nullcontext():
                inputs = segment_inputs(ds, model, day, features_df, assignment_df, rfm_df, cash, ds.kind)
                sections.append(segments_section(inputs))
                with _stability_read(stability_source):
                    summary = summary_of(inputs, stability, len(ds.warnings), no_backtest)
                top = summary_section(summary, cash, stability is not None)
            meta.append(("segments", f"{model.k}, fitted as of {model.as_of}"))
        if stability is not None:
            with _stability_read(stability_source):
                sections.append(stability_section(stability, model))
                meta.append(("stability", f"from {stability['protocol']['reference_date']} "
                                          f"to {stability['recommendation']['horizon']}"))
        if history:
            from .history import history_section

            sections.append(history_section(history))
            meta.append(("history", f"{len(history)} runs to {history[-1]['as_of']}"))
        page = render_page(sections, meta, summary=top)
    return write_text(page, out_path)
