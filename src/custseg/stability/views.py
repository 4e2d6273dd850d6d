"""Words and tables rendered from a backtest result or a decision (the JSON holds numbers only)."""
from __future__ import annotations

import shlex

from rich.table import Table

_UNITS = {"D": ("day", "days"), "W": ("week", "weeks"), "M": ("month", "months"), "Y": ("year", "years")}
#: The model file in a contract's monitor command when the backtest's model was not saved.
MODEL_PLACEHOLDER = "MODEL"
#: Days in a month on average (a check interval of 28 to 31 days is "every month").
MONTH_DAYS = 30.4375


def monitor_command(model_path: str, data_path: str, window: str) -> list[str]:
    """The ``custseg monitor`` command line for a model file, its data and the window (as of the day it runs).

    The contract stores it for a scheduler to run; it is the one place outside the command line
    that spells the command's options.
    """
    return ["custseg", "monitor", model_path, data_path, "--as-of", "YYYY-MM-DD", "--window", window,
            "-o", "monitor.json"]


def span_text(period: str | None) -> str:
    """'6 months' from '6M'."""
    if not period:
        return ""
    n, unit = int(period[:-1]), period[-1]
    singular, plural = _UNITS[unit]
    return f"{n} {singular if n == 1 else plural}"


def every_text(days: int) -> str:
    """How often, in the calendar's words: 'every month' (28 to 31 days), 'every 2 weeks', 'every 10 days'."""
    if days >= 28:
        months = max(1, round(days / MONTH_DAYS))
        return "every month" if months == 1 else f"every {months} months"
    if days % 7 == 0:
        return "every week" if days == 7 else f"every {days // 7} weeks"
    return f"every {days} days"


def monitor_text(monitor: dict, model_path: str | None = None) -> str:
    """How often to run ``custseg monitor`` and its command line, with ``model_path`` for the
    placeholder when the model was saved; without it, how to save the model the command needs."""
    command = list(monitor["command"])
    placeholder = command[2] == MODEL_PLACEHOLDER
    if placeholder and model_path is not None:
        command[2], placeholder = model_path, False
    text = f"Check {every_text(monitor['every_days'])} with: {shlex.join(command)} (exit code 3: re-train now)"
    if placeholder:
        text += (f"; {MODEL_PLACEHOLDER} is the backtest's reference model, which this run did not save: "
                 "run custseg stability again with --save-model FILE to write it")
    return text


def segment_label(segment: str, names: dict[str, str] | None) -> str:
    """'3 · big spenders' when the reference model names segment 3, else 'segment 3'."""
    name = (names or {}).get(str(segment))
    return f"{segment} · {name}" if name else f"segment {segment}"


def reason_text(reason: dict, names: dict[str, str] | None = None) -> str:
    """One fired trigger in words (a reason already in words, such as update's "no model yet", as it is)."""
    if isinstance(reason, str):
        return reason
    kind = reason["trigger"]
    if kind == "stale":
        return (f"{reason['changed_share']:.1%} of customers would change segment if re-trained now (limit "
                f"{reason['limit']:.0%}); the frozen model agrees with re-trains {reason['gap']:.3f} ARI less than "
                f"they agree with each other (at least {reason['gap_low']:.3f}, 95% one-sided)")
    if kind == "share_shift":
        return (f"{segment_label(reason['segment'], names)}'s share moved {reason['points']:+.1f} points "
                f"(limit {reason['limit']:g})")
    if kind == "psi":
        return f"model feature {reason['feature']} has PSI {reason['psi']:.3f} (limit {reason['limit']:g})"
    return kind


def decision_text(decision: dict, names: dict[str, str] | None = None) -> str:
    """A date's decision in one line."""
    if decision["retrain"]:
        return "re-train: " + "; ".join(reason_text(r, names) for r in decision["reasons"])
    if decision["status"] == "inconclusive":
        return (f"inconclusive: re-trains at this date agree only {decision['floor']:.3f} with each other, so "
                "agreement says nothing about drift; no share or PSI trigger fired")
    return (f"healthy: {decision['changed_share']:.1%} of customers would change segment if re-trained now; "
            "no trigger fired")


def verdict_text(result: dict) -> str:
    """The backtest's verdict in a few sentences, for a terminal, a ticket or the report."""
    proto, rec, ref = result["protocol"], result["recommendation"], result["reference"]
    names = ref.get("segments")
    trend = rec.get("trend")
    trend_text = (f"By {trend['as_of']} {trend['changed_share']:.1%} of customers would change segment if re-trained, "
                  f"and the largest segment share moved {trend['largest_share_move']:.1f} points."
                  if trend else "")
    if rec["verdict"] == "unstable":
        ks = rec.get("stable_ks") or []
        other = (f"k values the fit's bootstrap found stable: {', '.join(map(str, ks))}" if ks
                 else "run custseg fit with k auto to find a k whose re-trains agree")
        return (f"unstable: at the reference date {proto['reference_date']} re-trains with k={proto['k']} agree "
                f"with each other only {ref['floor']['mean']:.3f} (ARI; reliable from "
                f"{proto['triggers']['reliable_ari']}), so no re-train interval can be given; {other}.")
    if rec["verdict"] == "stable":
        text = (f"stable: no step from {proto['reference_date']} to {rec['horizon']} called for a re-train; "
                "keep monitoring. " + trend_text)
    else:
        first = rec["first"]
        text = (f"retrain every {span_text(rec['retrain_every'])}: the monitor with the model of "
                f"{proto['reference_date']} would first have said re-train at {first['as_of']}: "
                + "; ".join(reason_text(r, names) for r in first["reasons"]) + ".")
        if rec["later_flagged"]:
            text += f" Later flagged steps: {', '.join(rec['later_flagged'])}."
        text += " " + trend_text
    if rec["inconclusive_steps"]:
        text += (f" Inconclusive steps (re-trains disagree, no trigger): {', '.join(rec['inconclusive_steps'])}.")
    return text.strip()


def contract_text(result: dict, model_path: str | None = None) -> str:
    """The maintenance contract as a few lines of plain text (``model_path``: where the reference
    model was saved, for the monitor's command line)."""
    proto, con = result["protocol"], result["contract"]
    trig = con["triggers"]
    lines = [
        f"Maintenance contract: k={proto['k']}, reference {proto['reference_date']}, window {proto['window']}, "
        f"steps of {proto['step']} to {result['recommendation']['horizon']}",
        "Verdict: " + verdict_text(result),
    ]
    if con["retrain_by"]:
        lines.append(f"Re-train the model of {con['model_as_of']} by {con['retrain_by']} "
                     f"(every {span_text(con['retrain_every'])}), earlier if the monitor says so.")
    lines += [
        monitor_text(con["monitor"], model_path),
        (f"Re-train early when: the model is stale and at least {trig['changed_share']:.0%} of customers would change "
         f"segment; a segment's share moves more than {trig['share_points']:g} points; PSI above {trig['psi_max']:g} "
         "on a model feature"),
    ]
    cost = con["retrain_cost"]
    if cost:
        lines.append(f"Cost of one re-train: {cost['seconds']:.1f} s, {cost['peak_memory_mb']:.0f} MB peak "
                     f"({cost['customers']:,} customers)")
    return "\n".join(lines) + "\n"


def step_table(result: dict) -> Table:
    """The backtest at a glance: per date, agreement beside the floor, the change share, the decision."""
    proto = result["protocol"]
    table = Table(title=f"Frozen model of {proto['reference_date']} vs re-trained: k={proto['k']}, "
                        f"window {proto['window']}, {proto['seeds']} re-trains per date", title_justify="left")
    for name in ("as of", "customers", "ARI", "floor", "gap low", "changed", "share move", "decision"):
        table.add_column(name, justify="left" if name in ("as of", "decision") else "right")
    ref = result["reference"]
    table.add_row(ref["as_of"], f"{ref['customers']:,}", f"{ref['ari']['mean']:.3f}", f"{ref['floor']['mean']:.3f}",
                  "", "", "", "reference" + ("" if ref["reliable"] else " (unreliable)"))
    for s in result["steps"]:
        d = s["decision"]
        table.add_row(s["as_of"], f"{s['customers']['all']:,}", f"{s['ari']['all']['mean']:.3f}",
                      f"{s['floor']['all']['mean']:.3f}", f"{d['gap']['low']:.3f}", f"{d['changed_share']:.1%}",
                      f"{max(map(abs, s['share_moves'].values())):.1f} pts", d["status"],
                      style="bold" if d["retrain"] else None)
    return table
