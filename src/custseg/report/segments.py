"""The report's Segments section: sizes, profiles, one card per segment, a map, the choice of k, RFM.

Sizes, profiles and cards come from the model file (the segments as described at fit time). The
2-D map places a fixed-seed sample of customers, as of the report's date, in the model's space
projected on its first two principal components; RFM segments are scored on the same customers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.decomposition import PCA

from ..currency import Money
from ..cards import label as feature_label
from ..cards import trait_text, value_text
from ..describe import rendered
from ..summary import segments_by_rfm, summarize
from ..model import SegmentModel
from ..rfm import SEGMENT_RULES, segment_summary
from .charts import chart, plot_text
from .content import (Card, Cards, ChartBlock, Facts, Part, Section, Table, Text, fmt_int, fmt_num,
                      fmt_pct)

#: Customers drawn for the 2-D map: enough to see the shapes, few enough to keep the page light.
MAP_SAMPLE = 3000
MAP_SEED = 0
#: Customers (a fixed sample beyond this many) whose principal plane the map shows.
PLANE_SAMPLE = 500_000
#: Colour scale limit of the profile heatmap, in standard deviations from all customers.
HEATMAP_LIMIT = 2.0
#: Distinguishing traits listed on a card.
CARD_TRAITS = 4


@dataclass
class SegmentInputs:
    """What the Segments section is drawn from.

    ``features`` is the feature table as of ``as_of`` and ``assignment`` the model's assignment of
    those customers (``customer_unique_id, segment_id, ...`` in the same row order); ``rfm`` the
    RFM table of the same customers (:func:`custseg.rfm.rfm`). Any may be None: its parts are then
    left out.
    """

    model: SegmentModel
    as_of: str
    features: pd.DataFrame | None = None
    assignment: pd.DataFrame | None = None
    rfm: pd.DataFrame | None = None
    money: Money = field(default_factory=Money)
    kind: str = "olist"


def segment_label(segment: dict) -> str:
    """``"2 · Recent big spenders"``: id and name, as chart label text (escaped for Plotly)."""
    return plot_text(f"{segment['id']} · {segment['name']}")


def sizes_part(inputs: SegmentInputs) -> Part:
    """Customers per segment at fit time and, when the report's date differs, as of that date."""
    model = inputs.model
    labels = [segment_label(s) for s in model.segments]
    bars = [go.Bar(y=labels, x=[s["size"] for s in model.segments], orientation="h",
                   name=f"at fit ({model.as_of})", text=[fmt_pct(s["share"]) for s in model.segments],
                   textposition="auto")]
    if inputs.assignment is not None and inputs.as_of != model.as_of:
        counts = inputs.assignment["segment_id"].value_counts()
        now = [int(counts.get(i, 0)) for i in model.ids]
        total = max(sum(now), 1)
        bars.append(go.Bar(y=labels, x=now, orientation="h", name=f"as of {inputs.as_of}",
                           text=[fmt_pct(n / total) for n in now], textposition="auto"))
    fig = go.Figure(bars)
    fig.update_layout(barmode="group", xaxis={"title": "customers"},
                      yaxis={"type": "category", "autorange": "reversed"},
                      legend={"orientation": "h", "y": 1.08}, showlegend=len(bars) > 1)
    total = sum(s["size"] for s in model.segments)
    return Part("seg-sizes", "Segment sizes", [
        Facts([("segments", str(model.k)), ("customers at fit", fmt_int(total)),
               ("algorithm", str(model.algorithm)), ("fitted as of", model.as_of),
               ("features", str(len(model.feature_names)))]),
        ChartBlock(chart(fig, "fig-seg-sizes", "Customers per segment",
                         height=max(260, (34 if len(bars) > 1 else 26) * model.k + 90))),
    ])


def profile_part(model: SegmentModel, money: Money = Money()) -> Part:
    """Heatmap of each segment's standardised difference from all customers, per feature."""
    names = model.feature_names
    numeric = [s["profile"]["numeric"] for s in model.segments]
    z = [[p[f]["std_diff"] for f in names] for p in numeric]
    means = [[value_text(f, p[f]["mean"], money) for f in names] for p in numeric]
    overall = [[value_text(f, p[f]["population_mean"], money) for f in names] for p in numeric]
    fig = go.Figure(go.Heatmap(
        z=z, x=[plot_text(feature_label(f)) for f in names], y=[segment_label(s) for s in model.segments],
        zmin=-HEATMAP_LIMIT, zmax=HEATMAP_LIMIT, zmid=0, colorscale="RdBu", reversescale=True,
        text=means, texttemplate="%{text}", customdata=overall,
        colorbar={"title": {"text": "std. diff."}},
        hovertemplate="%{y}<br>%{x}: %{text} (all customers %{customdata})<br>"
                      "%{z:+.2f} standard deviations<extra></extra>",
    ))
    fig.update_layout(xaxis={"type": "category", "tickangle": -35}, yaxis={"type": "category", "autorange": "reversed"},
                      margin={"b": 120})
    return Part("seg-profile", "Segment profiles", [
        ChartBlock(chart(fig, "fig-seg-profile", "Profile of each segment",
                         "Colour: the segment's mean minus all customers' mean, in standard deviations "
                         f"(red above, blue below; capped at ±{HEATMAP_LIMIT:g}). Numbers: the segment's mean.",
                         height=max(320, 40 * model.k + 190))),
    ])


def segment_card(segment: dict, money: Money = Money()) -> Card:
    """The card of one segment: name, description, key numbers, traits, rules, actions."""
    segment = rendered(segment, money)
    unknown = set(segment.get("unknown_features", []))
    fidelity = segment.get("fidelity") or {}
    facts = [("customers", fmt_int(segment["size"])), ("share", fmt_pct(segment["share"]))]
    if fidelity:
        facts += [("rule precision", fmt_pct(fidelity.get("precision"))),
                  ("rule recall", fmt_pct(fidelity.get("recall")))]
    traits = [trait_text(t, money) for t in segment.get("distinguishing", []) if t["feature"] not in unknown]
    traits = traits[:CARD_TRAITS]
    return Card(
        segment_id=str(segment["id"]),
        name=segment["name"],
        description=segment.get("description", ""),
        facts=facts,
        rules=list(segment.get("rules", [])),
        actions=list(segment.get("actions", [])),
        distinguishing=traits,
    )


def cards_part(model: SegmentModel, money: Money = Money()) -> Part:
    return Part("seg-cards", "The segments, one by one", [
        Text("Rules are read as 'any of': a customer matching one of a segment's rules most likely belongs "
             "to it. Precision is the share of customers matched by the rules who are in the segment; recall "
             "the share of the segment the rules find."),
        Cards([segment_card(s, money) for s in model.segments]),
    ])


def principal_plane(model: SegmentModel, features: pd.DataFrame, rng: np.random.Generator) -> PCA:
    """The first two principal components of the customers in the model's space.

    From the (d, d) covariance, of every customer up to :data:`PLANE_SAMPLE` and of a sample of that
    many drawn with ``rng`` beyond: millions of customers need not be transformed at once.
    """
    n = len(features)
    rows = slice(None) if n <= PLANE_SAMPLE else np.sort(rng.choice(n, size=PLANE_SAMPLE, replace=False))
    return PCA(n_components=2, svd_solver="covariance_eigh").fit(model.transform(features.iloc[rows]))


def projection_part(inputs: SegmentInputs) -> Part | None:
    """A fixed-seed sample of customers on the first two principal components of the model space."""
    if inputs.features is None or inputs.assignment is None or len(inputs.features) < 3:
        return None
    model = inputs.model
    if len(model.feature_names) < 2:  # a one-feature model has no plane to draw
        return None
    n = len(inputs.features)
    rng = np.random.default_rng(MAP_SEED)
    rows = np.sort(rng.choice(n, size=min(MAP_SAMPLE, n), replace=False))
    pca = principal_plane(model, inputs.features, rng)
    points = np.round(pca.transform(model.transform(inputs.features.iloc[rows])), 3)
    labels = inputs.assignment["segment_id"].to_numpy()[rows]
    traces = [
        go.Scatter(x=points[labels == s["id"], 0], y=points[labels == s["id"], 1], mode="markers",
                   name=segment_label(s), marker={"size": 5, "opacity": 0.6},
                   hovertemplate="%{fullData.name}<extra></extra>")
        for s in model.segments
    ]
    centres = np.round(pca.transform(model.centroids), 3)
    traces.append(go.Scatter(x=centres[:, 0], y=centres[:, 1], mode="markers+text", name="centroids",
                             text=[str(i) for i in model.ids], textposition="top center",
                             marker={"symbol": "x", "size": 11, "color": "black"},
                             hovertemplate="centroid of segment %{text}<extra></extra>"))
    share = pca.explained_variance_ratio_
    fig = go.Figure(traces)
    fig.update_layout(xaxis={"title": f"first component ({share[0]:.0%} of the variance)"},
                      yaxis={"title": f"second component ({share[1]:.0%} of the variance)"},
                      legend={"itemsizing": "constant"})
    return Part("seg-map", "Customers on a map", [
        ChartBlock(chart(fig, "fig-seg-map", "Segments in two dimensions",
                         f"{len(rows):,} of {n:,} customers as of {inputs.as_of} (fixed random sample), "
                         "in the model's standardised space projected on its first two principal components"
                         + ("" if n <= PLANE_SAMPLE else f" (those of a fixed sample of {PLANE_SAMPLE:,})") + "; "
                         "segments that overlap here may still be apart in the other dimensions.",
                         height=520)),
    ])


def _metric(value: float | None, digits: int = 3) -> str:
    return fmt_num(value, digits) if value is not None else "–"


def _candidate_row(c: dict) -> list[str]:
    status = ("chosen" if c.get("chosen")
              else "admissible" if c.get("admissible") else c.get("note") or "not admissible")
    size = fmt_pct(c["param"], 0) if c.get("param_name") == "min_cluster_share" else ""
    return [
        str(c["algorithm"]), str(c["k"]), size, _metric(c.get("silhouette")), _metric(c.get("davies_bouldin"), 2),
        _metric(c.get("calinski_harabasz"), 0), fmt_pct(c.get("min_share")), fmt_pct(c.get("noise_share")),
        _metric(c.get("stability")), _metric(c.get("jaccard_min"), 2), _metric(c.get("score")), status,
    ]


def candidates_part(model: SegmentModel) -> Part | None:
    """The candidate models behind the choice of k: their score by k, and the full table."""
    candidates = model.candidates
    if not candidates:
        return None
    fig = go.Figure()
    for algorithm in dict.fromkeys(c["algorithm"] for c in candidates):
        rows = sorted((c for c in candidates if c["algorithm"] == algorithm), key=lambda c: (c["k"], c["param"]))
        ks = [c["k"] for c in rows]
        # a line joins k = 2, 3, ...; several candidates at one k (HDBSCAN's minimum sizes) are points
        fig.add_trace(go.Scatter(
            x=ks, y=[c.get("score") for c in rows], mode="lines+markers" if len(set(ks)) == len(ks) else "markers",
            name=plot_text(algorithm),
            marker={"symbol": ["circle" if c.get("admissible") else "circle-open" for c in rows], "size": 8},
            hovertemplate="%{fullData.name}, k=%{x}: score %{y:.3f}<extra></extra>",
        ))
    chosen = [c for c in candidates if c.get("chosen")]
    fig.add_trace(go.Scatter(
        x=[c["k"] for c in chosen], y=[c.get("score") for c in chosen], mode="markers", name="chosen",
        marker={"symbol": "star", "size": 16, "color": "black"},
        hovertemplate="chosen: k=%{x}, score %{y:.3f}<extra></extra>",
    ))
    fig.update_layout(xaxis={"title": "number of segments (k)", "dtick": 1},
                      yaxis={"title": "score = silhouette × stability"})
    choice = model.record.get("choice") or {}
    columns = ["algorithm", "k", "min size", "silhouette", "davies-bouldin", "calinski-harabasz", "smallest share",
               "noise", "stability", "jaccard min", "score", "status"]
    table = Table(columns, [_candidate_row(c) for c in candidates],
                  numeric=frozenset(columns[1:-1]),
                  highlight=frozenset(i for i, c in enumerate(candidates) if c.get("chosen")))
    blocks: list = []
    if choice.get("rule"):
        blocks.append(Text(f"Rule: {choice['rule']}."))
    if choice.get("reason"):
        blocks.append(Text(f"Chosen: {choice.get('algorithm', model.algorithm)} with k = "
                           f"{choice.get('k', model.k)}, {choice['reason']}."))
    blocks += [
        ChartBlock(chart(fig, "fig-seg-candidates", "Score of each candidate by number of segments",
                         "Open markers: not admissible (a segment too small, or dissolving under resampling).")),
        table,
    ]
    return Part("seg-candidates", "How the number of segments was chosen", blocks)


def rfm_part(scored: pd.DataFrame | None, as_of: str) -> Part | None:
    """Named RFM segments as labelled bars, and their R and FM score ranges."""
    if scored is None or scored.empty:
        return None
    summary = segment_summary(scored)
    shown = summary[summary["customers"] > 0]
    meaning = {r.name: r.meaning for r in SEGMENT_RULES}
    fig = go.Figure(go.Bar(
        y=[plot_text(s) for s in shown["segment"]], x=shown["customers"].astype(int).tolist(), orientation="h",
        text=[f"{int(n):,} ({fmt_pct(sh)})" for n, sh in zip(shown["customers"], shown["share"])],
        textposition="auto", customdata=[plot_text(meaning.get(s, "")) for s in shown["segment"]],
        hovertemplate="%{y}: %{x:,} customers<br>%{customdata}<extra></extra>",
    ))
    fig.update_layout(xaxis={"title": "customers"}, yaxis={"type": "category", "autorange": "reversed"})
    table = Table(["segment", "R", "FM", "customers", "share", "meaning"],
                  [[r.segment, r.R, r.FM, fmt_int(r.customers), fmt_pct(r.share), meaning.get(r.segment, "")]
                   for r in summary.itertuples()],
                  numeric=frozenset({"customers", "share"}))
    notes = [Text(n) for n in scored.attrs.get("notes", [])]
    return Part("seg-rfm", "RFM segments", [
        Text(f"The classic recency-frequency-monetary segmentation of the same customers as of {as_of}, "
             "for comparison with the segments above."),
        ChartBlock(chart(fig, "fig-seg-rfm", "RFM segments", height=max(300, 28 * len(shown) + 90))),
        table,
        *notes,
    ])


def campaign_part(inputs: SegmentInputs) -> Part | None:
    """Customers and revenue per segment, and the segments against the RFM segments."""
    if inputs.assignment is None or inputs.features is None:
        return None
    model, money = inputs.model, inputs.money
    ids = inputs.assignment["segment_id"].to_numpy()
    summary = summarize(model, inputs.as_of, ids,
                        inputs.features["monetary"].to_numpy() if "monetary" in inputs.features.columns else None)
    columns = ["segment", "customers", "share", "revenue", "revenue share", "revenue per customer"]
    rows = [[f"{s.id} · {s.name}", fmt_int(s.customers), fmt_pct(s.share), money.amount(s.revenue, 0),
             fmt_pct(s.revenue_share), money.amount(s.revenue / s.customers if s.revenue is not None and s.customers
                                                    else None)]
            for s in summary.segments]
    blocks: list = [Table(columns, rows, caption=f"Customers as of {inputs.as_of}; revenue: their total spend "
                          "on counted orders up to that date.", numeric=frozenset(columns[1:]))]
    if inputs.rfm is not None and "segment" in inputs.rfm.columns:
        cross = segments_by_rfm(model, ids, inputs.rfm["segment"].to_numpy())
        rfm_columns = [c for c in cross.columns[2:-1] if cross[c].sum() > 0]
        blocks.append(Table(["segment", *rfm_columns, "total"],
                            [[f"{row['segment_id']} · {row['segment_name']}", *(fmt_int(row[c]) for c in rfm_columns),
                              fmt_int(row["total"])] for row in cross.to_dict("records")],
                            caption="Customers per segment (rows) and RFM segment (columns): who to reach "
                                    "within each campaign segment.",
                            numeric=frozenset([*rfm_columns, "total"])))
    return Part("seg-campaign", "Revenue per segment, and segments by RFM", blocks)


def segments_section(inputs: SegmentInputs) -> Section:
    """The Segments section of the report."""
    model = inputs.model
    parts = [
        sizes_part(inputs),
        campaign_part(inputs),
        profile_part(model, inputs.money),
        cards_part(model, inputs.money),
        projection_part(inputs),
        candidates_part(model),
        rfm_part(inputs.rfm, inputs.as_of),
    ]
    return Section(
        id="segments",
        title="Segments",
        intro=(f"{model.k} segments fitted as of {model.as_of} on {len(model.feature_names)} features "
               f"({model.algorithm}); customers placed as of {inputs.as_of}."),
        parts=[p for p in parts if p is not None],
    )
