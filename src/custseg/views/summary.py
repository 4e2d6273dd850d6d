"""The summary in words: the verdict's headline and ``custseg run``'s closing lines.

The report's summary section uses the same headline, so the page and the terminal agree.
"""
from __future__ import annotations

from ..currency import Money
from ..stability.views import span_text
from ..summary import NoBacktest, Summary, Verdict


#: The triggers of the maintenance decision in a marketer's words.
TRIGGER_WORDS = {"stale": "customers would change segment", "share_shift": "a segment's share moved",
                 "psi": "a model feature drifted"}


def verdict_headline(verdict: Verdict) -> str:
    """The verdict in one short line: ``Re-train by 2018-11-18``, ``Stable: ...``, ``Unstable: ...``."""
    if verdict.verdict == "retrain":
        head = f"Re-train by {verdict.retrain_by}" if verdict.retrain_by else "Re-train now"
        if verdict.first_flagged is None:
            return head
        why = ", ".join(TRIGGER_WORDS.get(r, r) for r in verdict.reasons)
        every = span_text(verdict.interval)
        return f"{head} (every {every}: the backtest first flagged {verdict.first_flagged}: {why})"
    if verdict.verdict == "stable":
        if verdict.valid_until and verdict.tested_days:
            months = max(1, round(verdict.tested_days / 30.4375))
            return (f"Stable: no re-train was needed over the {months} months backtested; "
                    f"keep monitoring, review by {verdict.valid_until}")
        return f"Stable: no re-train due up to {verdict.horizon}" if verdict.horizon else "Stable"
    if verdict.verdict == "unstable":
        return "Unstable: re-training is not reliable at this number of segments"
    return verdict.verdict


def no_backtest_text(why: NoBacktest) -> str:
    """Why there is no verdict, and what to do instead: no interval is claimed."""
    if why.customers < why.needed and why.reference <= why.last_purchase:  # steps, but too few customers
        short = (f"only {why.customers:,} customers had a counted order before {why.reference}, the backtest's "
                 f"reference date (it needs {why.needed})")
    else:
        short = (f"the counted purchases run from {why.first_purchase} to {why.last_purchase}; a backtest needs "
                 f"12 months of history before its reference date ({why.reference}) and at least "
                 f"{span_text(why.step)} after it")
    return (f"Not backtested: {short}. No re-train interval is claimed: check the model with custseg monitor, "
            "and run custseg stability once the data cover more")


def summary_lines(summary: Summary, money: Money, report: str | None = None) -> list[str]:
    """A few short lines: one per segment (share, revenue share, action), the verdict, data health."""
    lines = [f"{len(summary.segments)} segments of {summary.customers:,} customers as of {summary.as_of}:"]
    width = max(len(f"{s.id} {s.name}") for s in summary.segments)
    for s in summary.segments:
        revenue = f", {s.revenue_share:.0%} of revenue" if s.revenue_share is not None else ""
        lines.append(f"  {f'{s.id} {s.name}':<{width}}  {s.share:.0%} of customers{revenue}. {s.action}")
    if summary.verdict is not None:
        lines.append(f"Maintenance: {verdict_headline(summary.verdict)} (details: stability.json, the report)")
    elif summary.no_backtest is not None:
        lines.append(f"Maintenance: {no_backtest_text(summary.no_backtest)}.")
    lines.append(f"Data health: {summary.warnings} warning{'s' if summary.warnings != 1 else ''} (validation.json)"
                 if summary.warnings else "Data health: no validation warning")
    if report:
        lines.append(f"Report: {report}")
    return lines
