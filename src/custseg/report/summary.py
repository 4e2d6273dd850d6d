"""The report's first section: the answer (segments and what to do, the verdict, data health).

Rendered from :class:`custseg.summary.Summary`, the same object ``custseg run`` prints, so the page
and the terminal say the same thing.
"""
from __future__ import annotations

from ..summary import Summary
from ..views.summary import no_backtest_text, verdict_headline
from .content import Part, Section, Table, Text, fmt_int, fmt_pct
from ..currency import Money


def summary_table(summary: Summary, money: Money) -> Table:
    """One row per segment: name, share of customers, revenue and its share, the first action."""
    revenue = any(line.revenue is not None for line in summary.segments)
    columns = ["segment", "customers", "share"] + (["revenue", "revenue share"] if revenue else []) + ["action"]
    rows = [
        [f"{line.id} · {line.name}", fmt_int(line.customers), fmt_pct(line.share)]
        + ([money.amount(line.revenue, 0), fmt_pct(line.revenue_share)] if revenue else [])
        + [line.action]
        for line in summary.segments
    ]
    return Table(columns, rows, numeric=frozenset({"customers", "share", "revenue", "revenue share"}))


def summary_section(summary: Summary, money: Money, has_stability_section: bool) -> Section:
    """The summary at the top of the page."""
    blocks: list = []
    if summary.verdict is not None:
        v = summary.verdict
        blocks.append(Text(f"Maintenance: {verdict_headline(v)}.", lead=True,
                           link=("details", "#stability") if has_stability_section else None))
    elif summary.no_backtest is not None:
        blocks.append(Text(f"Maintenance: {no_backtest_text(summary.no_backtest)}.", lead=True))
    blocks.append(summary_table(summary, money))
    health = (f"Data health: {summary.warnings} warning{'s' if summary.warnings != 1 else ''} from validation."
              if summary.warnings else "Data health: no validation warning.")
    blocks.append(Text(health, link=("see the checks", "#data-validation") if summary.warnings else None))
    return Section(
        id="summary",
        title="Summary",
        intro=f"{fmt_int(summary.customers)} customers as of {summary.as_of}, in {len(summary.segments)} segments.",
        parts=[Part("summary-segments", "Segments and what to do", blocks)],
    )
