"""The report's History section: what ``custseg update`` did, run by run.

Drawn from the history of a state directory (:func:`custseg.operate.history`): the model versions
and the decision of every run with its reasons, each segment's share over time, and how many
customers changed segment at each re-train.
"""
from __future__ import annotations

import plotly.graph_objects as go

from ..operate import retrain_count
from ..stability.views import reason_text
from .charts import chart, plot_text
from .content import ChartBlock, Facts, Part, Section, Table, Text, fmt_int, fmt_pct

#: Runs listed in the table besides every first fit and re-train: the latest ones.
LATEST_RUNS = 12


def _decision(record: dict) -> str:
    if record["decision"].get("verdict") == "first":
        return "first fit"
    return "re-trained" if record["retrained"] else "kept"


def versions_part(records: list[dict]) -> Part:
    """Key numbers and the table of runs: every first fit and re-train, and the latest runs."""
    live = records[-1]
    facts = Facts([("runs", fmt_int(len(records))), ("re-trains", fmt_int(retrain_count(records))),
                   ("live model", f"{live['model']['version']:04d} of {live['model']['as_of']}"),
                   ("last run", live["as_of"])])
    shown = [i for i, r in enumerate(records) if r["retrained"] or i >= len(records) - LATEST_RUNS]
    rows = [[str(r["run"]), r["as_of"], f"{r['model']['version']:04d}", _decision(r),
             "; ".join(map(reason_text, r["decision"].get("reasons", []))) or "–", fmt_int(r["customers"]),
             fmt_int(r["moved"])] for r in (records[i] for i in shown)]
    highlight = frozenset(n for n, i in enumerate(shown) if records[i]["retrained"])
    caption = (f"Every first fit and re-train, and the latest {LATEST_RUNS} runs; 'moved': customers whose "
               "segment changed with the new model.")
    return Part("hist-versions", "Model versions and decisions", [
        facts,
        Table(["run", "as of", "model", "decision", "reasons", "customers", "moved"], rows, caption,
              numeric=frozenset({"run", "customers", "moved"}), highlight=highlight),
    ])


def shares_part(records: list[dict]) -> Part:
    """Each segment's share of the customers at every run (a segment appears with its model)."""
    names: dict[str, str] = {}
    for r in records:
        names.update(r["segments"])
    dates = [r["as_of"] for r in records]
    fig = go.Figure([
        go.Scatter(x=dates, y=[r["shares"].get(i) for r in records], mode="lines+markers",
                   name=plot_text(f"{i} · {name}"), hovertemplate="%{fullData.name}: %{y:.1%} at %{x}<extra></extra>")
        for i, name in sorted(names.items(), key=lambda kv: int(kv[0]))
    ])
    for r in records[1:]:
        if r["retrained"]:
            fig.add_vline(x=r["as_of"], line={"dash": "dot", "width": 1})
    fig.update_layout(xaxis={"title": "run date", "type": "date"},
                      yaxis={"title": "share of customers", "tickformat": ".0%"})
    return Part("hist-shares", "Segment shares over time", [
        ChartBlock(chart(fig, "fig-hist-shares", "Share of customers per segment at each run",
                         "Dotted lines: re-trains. A segment id keeps its meaning across versions; a new id is a "
                         "new segment.", height=400)),
    ])


def moved_part(records: list[dict]) -> Part:
    """Customers who changed segment at each re-train."""
    retrains = [r for r in records if r["retrained"] and r["moved"] is not None]
    if not retrains:
        return Part("hist-moved", "Customers moved at re-trains", [Text("No re-train since the first fit.")])
    fig = go.Figure(go.Bar(x=[r["as_of"] for r in retrains], y=[r["moved"] for r in retrains],
                           text=[fmt_pct(r["moved"] / max(r["customers"], 1)) for r in retrains],
                           hovertemplate="%{y:,} customers at %{x}<extra></extra>"))
    fig.update_layout(xaxis={"title": "re-train date", "type": "category"}, yaxis={"title": "customers moved"})
    return Part("hist-moved", "Customers moved at re-trains", [
        ChartBlock(chart(fig, "fig-hist-moved", "Customers whose segment changed at each re-train",
                         "Bar labels: share of all customers assigned that day.")),
    ])


def history_section(records: list[dict]) -> Section:
    """The History section of the report (``records`` oldest first, at least one)."""
    return Section(
        id="history",
        title="History",
        intro=(f"What custseg update did in {len(records)} runs from {records[0]['as_of']} to "
               f"{records[-1]['as_of']}: the model versions, each decision and its reasons, and the segments "
               "over time."),
        parts=[versions_part(records), shares_part(records), moved_part(records)],
    )
