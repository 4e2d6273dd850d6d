"""Segments on a terminal: the model search's candidates, the segments, and their descriptions as
Rich tables and panels (the library computes them: :mod:`custseg.segment`, :mod:`custseg.describe`)."""
from __future__ import annotations

import math

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..currency import Money
from ..describe import rendered
from ..describe.tables import fidelity_text
from ..model import SegmentModel
from ..segment import CHOICE_RULE


def _num(value: float, fmt: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


#: Short forms of the reasons a candidate is not admissible, for the terminal table.
_SHORT = {"fewer than 2": "k<2", "noise": "noise", "below": "small", "above": "large", "dissolves": "unstable"}


def _short(note: str) -> str:
    return ",".join(next(v for k, v in _SHORT.items() if k in part) for part in note.split("; "))


def candidate_table(model: SegmentModel) -> Table:
    """The model's candidate table as a Rich table (the chosen row in bold), the rule as caption."""
    table = Table(title=f"Candidate models (fit as of {model.as_of})", title_justify="left", box=box.SIMPLE_HEAD,
                  caption=f"sil = silhouette, DB = Davies-Bouldin, CH = Calinski-Harabasz, ARI = bootstrap "
                          f"stability, Jmin = least stable segment's Jaccard. Rule: {CHOICE_RULE}.",
                  caption_justify="left", pad_edge=False)
    for name in ("algorithm", "k", "sil", "DB", "CH", "min", "max", "noise", "ARI", "Jmin", "score", "status"):
        table.add_column(name, justify="left" if name in ("algorithm", "status") else "right")
    for c in model.candidates:
        status = "CHOSEN" if c["chosen"] else ("ok" if c["admissible"] else _short(c["note"]))
        algorithm = f"hdbscan {c['param']:.0%}" if c["algorithm"] == "hdbscan" else c["algorithm"]
        table.add_row(
            algorithm, str(c["k"]), _num(c["silhouette"], ".3f"), _num(c["davies_bouldin"], ".2f"),
            _num(c["calinski_harabasz"], ".0f"), _num(c["min_share"], ".1%"), _num(c["max_share"], ".0%"),
            _num(c["noise_share"], ".0%"), _num(c["stability"], ".3f"), _num(c["jaccard_min"], ".2f"),
            _num(c["score"], ".3f"), status, style="bold" if c["chosen"] else None,
        )
    return table


def segment_table(model: SegmentModel) -> Table:
    """The model's segments: id, name, size, share, distance threshold."""
    table = Table(title=f"Segments ({model.algorithm}, k={model.k})", title_justify="left")
    for name in ("id", "name", "customers", "share", "outlier beyond"):
        table.add_column(name, justify="left" if name == "name" else "right")
    for seg, threshold in zip(model.segments, model.thresholds):
        table.add_row(str(seg["id"]), seg["name"], f"{seg['size']:,}", f"{seg['share']:.1%}", f"{threshold:.2f}")
    return table


def rich_view(segments: list[dict], money: Money = Money()) -> Group:
    """The segments as Rich panels; text is never read as markup."""
    panels = []
    for s in (rendered(s, money) for s in segments):
        body = Text(s["description"] + "\n\nSuggested actions:\n")
        body.append("\n".join(f"  - {a}" for a in s["actions"]))
        body.append(f"\n\nRules (any of; {fidelity_text(s['fidelity'])}):\n", style="bold")
        body.append("\n".join(f"  - {r}" for r in s["rules"]) or "  (no rule isolates this segment)")
        title = Text(f"{s['id']}. {s['name']} - {s['share']:.1%} ({s['size']:,})", style="bold")
        panels.append(Panel(body, title=title, title_align="left"))
    return Group(*panels)
