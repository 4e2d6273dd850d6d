"""The described segments as a table, Markdown and JSON."""
from __future__ import annotations

import json

import pandas as pd

from ..currency import Money
from .texts import rendered


def describe_table(segments: list[dict]) -> pd.DataFrame:
    """One row per segment: id, name, size, share, top traits, rule count and fidelity."""
    rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "size": s["size"],
            "share": s["share"],
            "traits": ", ".join(f"{t['direction']} {t['label']}" for t in s["distinguishing"][:3]),
            "rules": len(s["rules"]),
            "rule_accuracy": s["fidelity"]["accuracy"],
            "rule_precision": s["fidelity"]["precision"],
            "rule_recall": s["fidelity"]["recall"],
        }
        for s in segments
    ]
    return pd.DataFrame(rows, columns=[
        "id", "name", "size", "share", "traits", "rules", "rule_accuracy", "rule_precision", "rule_recall",
    ])


def fidelity_text(fidelity: dict) -> str:
    """The rules' fidelity in words: accuracy, precision and recall."""
    return (
        f"accuracy {fidelity['accuracy']:.1%}, precision {fidelity['precision']:.1%}, "
        f"recall {fidelity['recall']:.1%}"
    )


def to_markdown(segments: list[dict], money: Money = Money()) -> str:
    """The segments as a Markdown document: name, size, description, actions, rules."""
    blocks = []
    for s in (rendered(s, money) for s in segments):
        lines = [f"## {s['id']}. {s['name']} ({s['share']:.1%}, {s['size']:,} customers)", "", s["description"], ""]
        lines += ["**Suggested actions**", ""] + [f"- {a}" for a in s["actions"]] + [""]
        lines += [f"**Rules** (any of; {fidelity_text(s['fidelity'])})", ""]
        lines += [f"- {r}" for r in s["rules"]] or ["- (no rule isolates this segment)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_json(segments: list[dict]) -> str:
    """The segments as pretty, key-sorted JSON."""
    return json.dumps(segments, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
