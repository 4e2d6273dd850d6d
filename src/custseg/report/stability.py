"""The report's Stability section: how long the segments stay valid, from a backtest result.

Drawn from the JSON written by ``custseg stability`` (:func:`custseg.stability.backtest`): the
agreement (ARI) of the frozen model with re-trained ones at each step against the noise floor, the
share of customers who would change segment, each step's decision, feature drift (PSI), segment
shares, migration between frozen and re-trained labels, and the verdict in plain words.
"""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from ..cards import label as feature_label
from ..drift import PSI_MAJOR, PSI_MODERATE
from ..errors import ModelFileError
from ..model import SegmentModel
from ..stability import RESULT_FORMAT
from ..stability.views import monitor_text, reason_text, segment_label, span_text, verdict_text
from .charts import chart, plot_text
from .content import Block, ChartBlock, Facts, Part, Section, Table, Text, fmt_int, fmt_num, fmt_pct

#: Colour scale top of the drift heatmap: PSI beyond this is simply 'major'.
PSI_SCALE_MAX = 0.5


def load_stability(path: str | Path) -> dict:
    """A backtest result read from ``path``; ModelFileError (exit 2) when it is not one."""
    from ..jsonfile import read_json

    path = Path(path)
    doc = read_json(path, "stability result")
    return checked_result(doc, path)


def checked_result(doc: object, source: str | Path = "stability result") -> dict:
    """``doc`` when it is a backtest result this report can draw; ModelFileError otherwise."""
    if not isinstance(doc, dict) or doc.get("format") != RESULT_FORMAT:
        raise ModelFileError(f"not a custseg stability result (no \"format\": \"{RESULT_FORMAT}\")", file=source)
    missing = [k for k in ("protocol", "reference", "steps", "recommendation", "contract") if k not in doc]
    if missing:
        raise ModelFileError(f"missing key {missing[0]!r}", file=source)
    if not isinstance(doc["steps"], list) or not doc["steps"]:
        raise ModelFileError("no backtest step", file=source)
    return doc


def segment_names(result: dict, model: SegmentModel | None = None) -> dict[str, str]:
    """Label per segment id (as text): the reference model's names, as the result records them."""
    ids = sorted(result["reference"]["shares"], key=int)
    names = result["reference"].get("segments") or {}
    if not names and model is not None and model.as_of == result["protocol"]["reference_date"]:
        names = dict(zip(map(str, model.ids), model.names))
    return {i: segment_label(i, names) for i in ids}


def recommendation_part(result: dict) -> Part:
    """The verdict in plain words, with the contract's monitoring and triggers."""
    proto, rec, contract = result["protocol"], result["recommendation"], result["contract"]
    if rec["verdict"] == "stable":
        headline = (f"No re-train was called for in the {len(proto['dates'])} steps tested "
                    f"({proto['reference_date']} to {rec['horizon']}): keep the segments and keep monitoring.")
    elif rec["verdict"] == "retrain":
        headline = (f"Re-train the segmentation every {span_text(rec['retrain_every'])}"
                    + (f": the model of {contract['model_as_of']} by {contract['retrain_by']}."
                       if contract.get("retrain_by") else "."))
    else:
        headline = (f"Re-training is not reliable with {proto['k']} segments: re-trains on the same data disagree, "
                    "so no re-train interval can be given.")
    monitor = contract["monitor"]
    trig = contract["triggers"]
    blocks: list[Block] = [
        Text(headline, lead=True),
        Text(f"Why: {verdict_text(result)}"),
        Text(monitor_text(monitor) + "."),
        Table(["re-train early when"], [
            [f"the frozen model is stale and at least {trig['changed_share']:.0%} of customers would change segment"],
            [f"a segment's share moves more than {trig['share_points']:g} points from the reference"],
            [f"PSI above {trig['psi_max']:g} on a model feature"]]),
        Facts([("reference date", proto["reference_date"]), ("step", str(proto["step"])),
               ("horizon", rec["horizon"]), ("segments (k)", str(proto["k"])),
               ("feature window", str(proto["window"])), ("verdict", rec["verdict"])]),
    ]
    cost = contract.get("retrain_cost")
    if cost:
        blocks.append(Text(f"One re-train took {cost['seconds']:.1f} s and {cost['peak_memory_mb']:.0f} MB of memory "
                           f"for {cost['customers']:,} customers."))
    return Part("stab-recommendation", "Maintenance recommendation", blocks)


def _dates(result: dict) -> list[str]:
    return [result["reference"]["as_of"]] + [s["as_of"] for s in result["steps"]]


def ari_part(result: dict) -> Part:
    """Agreement of the frozen model with re-trains over time, beside the re-trains' agreement with each other."""
    ref, steps = result["reference"], result["steps"]
    dates = _dates(result)
    ari = [ref["ari"]["mean"]] + [s["ari"]["all"]["mean"] for s in steps]
    floor = [ref["floor"]["mean"]] + [s["floor"]["all"]["mean"] for s in steps]
    changed = [0.0] + [s["changed_share"]["median"] for s in steps]
    flagged = [s for s in steps if s["decision"]["retrain"]]
    fig = go.Figure([
        go.Scatter(x=dates, y=floor, mode="lines+markers", name="re-trains with each other (noise floor)",
                   line={"color": "#7f7f7f", "dash": "dot"}, hovertemplate="floor %{y:.3f}<extra></extra>"),
        go.Scatter(x=dates, y=ari, mode="lines+markers", name="frozen vs re-trains", line={"color": "#1f77b4"},
                   hovertemplate="frozen vs re-trains %{y:.3f}<extra></extra>"),
        go.Scatter(x=dates, y=changed, mode="lines", name="share of customers who would change segment",
                   yaxis="y2", line={"color": "#ff7f0e", "dash": "dash"},
                   hovertemplate="%{y:.1%} would change segment<extra></extra>"),
        go.Scatter(x=[s["as_of"] for s in flagged], y=[s["ari"]["all"]["mean"] for s in flagged], mode="markers",
                   name="re-train called for", marker={"color": "#d62728", "size": 11, "symbol": "x"},
                   hovertemplate="%{x}: re-train<extra></extra>"),
    ])
    lowest = min(*ari, *floor)
    fig.update_layout(xaxis={"title": "as-of date", "type": "date"},
                      yaxis={"title": "adjusted Rand index", "range": [max(-1.0, lowest - 0.05), 1.01]},
                      yaxis2={"title": "would change segment", "overlaying": "y", "side": "right",
                              "tickformat": ".0%", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.25})
    return Part("stab-ari", "Agreement with a re-trained model over time", [
        Text("At each date the frozen model (fitted at the reference date, never refitted) and models re-trained "
             "on the data of that date label the same customers. An ARI of 1 means identical segments. The noise "
             "floor is how much re-trains agree with each other: a frozen model measurably below it is stale. "
             "The dashed line is the share of customers whose segment a re-train would change."),
        ChartBlock(chart(fig, "fig-stab-ari", "Agreement of the frozen model with re-trained models", height=460)),
    ])


def drift_part(result: dict) -> Part:
    """Heatmap of the population stability index per model feature and step (readable names)."""
    steps = result["steps"]
    model_features = result["protocol"]["model_features"]
    seen = [d["feature"] for d in steps[0]["drift"]]
    features = [f for f in model_features if f in seen]
    # the others (recency, tenure...) grow with the calendar by construction: named, not drawn
    psi = [{d["feature"]: d["psi"] for d in s["drift"]} for s in steps]
    # ... and those the data does not know (no value, or the same for everyone: no shift) unnamed
    others = sorted(f for f in seen if f not in model_features and any(p.get(f) for p in psi))
    z = [[p.get(f) for p in psi] for f in features]
    fig = go.Figure(go.Heatmap(
        z=z, x=[s["as_of"] for s in steps], y=[plot_text(feature_label(f)) for f in features], zmin=0,
        zmax=PSI_SCALE_MAX, colorscale="YlOrRd", text=[[fmt_num(v, 2) for v in row] for row in z],
        texttemplate="%{text}", colorbar={"title": {"text": "PSI"}},
        hovertemplate="%{y} at %{x}: PSI %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(xaxis={"type": "category", "title": "as-of date"},
                      yaxis={"type": "category", "autorange": "reversed"})
    note = (f"Against the reference date, for the features the segmentation uses. Above {PSI_MODERATE:g}: "
            f"moderate shift; above {PSI_MAJOR:g}: major.")
    if others:
        note += (" Not drawn: " + ", ".join(feature_label(f) for f in others) + " (not used by the model; "
                 "recency and tenure grow with time by construction).")
    return Part("stab-drift", "Feature drift", [
        ChartBlock(chart(fig, "fig-stab-drift", "Population stability index per model feature and date", note,
                         height=max(280, 30 * len(features) + 120))),
    ])


def shares_part(result: dict, names: dict[str, str]) -> Part:
    """Each segment's share of customers under the frozen model, date by date."""
    dates = _dates(result)
    ref, steps = result["reference"], result["steps"]
    shares = [ref["shares"]] + [s["shares"]["frozen"] for s in steps]
    fig = go.Figure([
        go.Scatter(x=dates, y=[s.get(i) for s in shares], mode="lines+markers", name=plot_text(label),
                   hovertemplate="%{fullData.name}: %{y:.1%} at %{x}<extra></extra>")
        for i, label in names.items()
    ])
    fig.update_layout(xaxis={"title": "as-of date", "type": "date"}, yaxis={"title": "share of customers",
                                                                            "tickformat": ".0%"})
    points = result["protocol"]["triggers"]["share_points"]
    note = f"A move of more than {points:g} points from the reference date triggers a re-train." if points else ""
    return Part("stab-shares", "Segment shares over time", [
        ChartBlock(chart(fig, "fig-stab-shares", "Share of customers per segment (frozen model)", note, height=400)),
    ])


def _migration_trace(step: dict, names: dict[str, str]) -> dict:
    moved = step["migration"]
    rows = [plot_text(names.get(str(i), f"segment {i}")) for i in moved["frozen_ids"]]
    cols = [plot_text(names.get(str(i), f"segment {i} (new)")) for i in moved["retrained_ids"]]
    totals = [max(sum(r), 1) for r in moved["counts"]]
    return {
        "z": [[c / t for c in r] for r, t in zip(moved["counts"], totals)],
        "x": cols, "y": rows,
        "text": [[fmt_int(c) for c in r] for r in moved["counts"]],
    }


def migration_part(result: dict, names: dict[str, str]) -> Part:
    """Where each frozen segment's customers land under the re-trained model, one matrix per step."""
    steps = result["steps"]
    last = _migration_trace(steps[-1], names)
    fig = go.Figure(go.Heatmap(
        **last, zmin=0, zmax=1, colorscale="Blues", texttemplate="%{text}", colorbar={"title": {"text": "row share"}},
        hovertemplate="frozen %{y} → re-trained %{x}: %{text} customers (%{z:.1%} of the row)<extra></extra>",
    ))
    buttons = [{"label": s["as_of"], "method": "restyle",
                "args": [{key: [value] for key, value in _migration_trace(s, names).items()}]} for s in steps]
    fig.update_layout(
        xaxis={"type": "category", "title": "re-trained model's segment"},
        yaxis={"type": "category", "title": "frozen model's segment", "autorange": "reversed"},
        updatemenus=[{"buttons": buttons, "active": len(steps) - 1, "x": 0, "xanchor": "left", "y": 1.15,
                      "yanchor": "top", "direction": "down"}],
        margin={"t": 60},
    )
    table = Table(["as of", "customers", "of them already there at the reference", "keep their segment"],
                  [[s["as_of"], fmt_int(s["customers"]["all"]), fmt_int(s["customers"]["cohort"]),
                    fmt_pct(s["migration"]["same_id_share"])] for s in steps],
                  numeric=frozenset({"customers", "of them already there at the reference", "keep their segment"}))
    return Part("stab-migration", "Migration between frozen and re-trained segments", [
        ChartBlock(chart(fig, "fig-stab-migration", "Frozen segment (rows) against re-trained segment (columns)",
                         "Pick the date in the menu (the last one is shown). Numbers: customers; colour: share of "
                         "the frozen segment. Re-trained segments are matched to frozen ones by their centroids.",
                         height=max(380, 40 * len(last["y"]) + 160))),
        table,
    ])


def steps_part(result: dict) -> Part:
    """The backtest's figures step by step, with each step's decision (what the monitor would have said)."""
    names = result["reference"].get("segments")
    rows = [
        [s["as_of"], fmt_int(s["customers"]["all"]), fmt_num(s["ari"]["all"]["mean"], 3),
         fmt_num(s["floor"]["all"]["mean"], 3), fmt_pct(s["changed_share"]["median"]), s["decision"]["status"],
         "; ".join(reason_text(r, names) for r in s["decision"]["reasons"])]
        for s in result["steps"]
    ]
    columns = ["as of", "customers", "ARI frozen vs re-trains", "noise floor", "would change segment", "decision",
               "reasons"]
    return Part("stab-steps", "Step by step", [
        Table(columns, rows, numeric=frozenset(columns[1:5]),
              highlight=frozenset(i for i, s in enumerate(result["steps"]) if s["decision"]["retrain"])),
        Text(f"Protocol: {result['protocol']['frozen']}; {result['protocol']['retrained']}."),
    ])


def stability_section(result: dict, model: SegmentModel | None = None) -> Section:
    """The Stability section of the report."""
    names = segment_names(result, model)
    proto = result["protocol"]
    return Section(
        id="stability",
        title="Stability",
        intro=(f"How long {proto['k']} segments fitted at {proto['reference_date']} stay valid: a backtest in steps "
               f"of {proto['step']} up to {result['recommendation']['horizon']}."),
        parts=[
            recommendation_part(result),
            ari_part(result),
            drift_part(result),
            shares_part(result, names),
            migration_part(result, names),
            steps_part(result),
        ],
    )
