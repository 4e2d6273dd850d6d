"""The building blocks of a report section: text, key numbers, tables, charts and segment cards.

A section is a list of parts (each with an anchor for the table of contents); a part is a list of
blocks rendered in order by the page template. Every string here is plain text: the template
escapes it, so a value taken from the data can never become markup.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .charts import Chart


@dataclass(frozen=True)
class Text:
    """A paragraph; a ``lead`` one is set apart (a verdict, a recommendation).

    ``link`` is an optional (label, ``#anchor``) pair shown after the text, pointing inside the page.
    """

    text: str
    lead: bool = False
    link: tuple[str, str] | None = None
    kind: str = "text"


@dataclass(frozen=True)
class Facts:
    """Key numbers: (label, formatted value) pairs shown as tiles."""

    items: list[tuple[str, str]]
    kind: str = "facts"


@dataclass(frozen=True)
class Table:
    """A small table; ``numeric`` names the columns to right-align, ``highlight`` the rows to stress."""

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: frozenset[str] = frozenset()
    highlight: frozenset[int] = frozenset()
    kind: str = "table"


@dataclass(frozen=True)
class Card:
    """One segment: what it is, how big, how to recognise it, what to do."""

    segment_id: str
    name: str
    description: str
    facts: list[tuple[str, str]]
    rules: list[str]
    actions: list[str]
    distinguishing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cards:
    """A grid of segment cards."""

    cards: list[Card]
    kind: str = "cards"


@dataclass(frozen=True)
class ChartBlock:
    """A chart placed in a part."""

    chart: Chart
    kind: str = "chart"


Block = Text | Facts | Table | Cards | ChartBlock


@dataclass
class Part:
    """A titled part of a section, listed in the table of contents."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def charts(self) -> list[Chart]:
        return [b.chart for b in self.blocks if isinstance(b, ChartBlock)]


@dataclass
class Section:
    """A top-level section of the report (Data, Segments, Stability)."""

    id: str
    title: str
    intro: str
    parts: list[Part]

    @property
    def charts(self) -> list[Chart]:
        return [c for p in self.parts for c in p.charts]


def fmt_int(value: float | int | None) -> str:
    """``12,345``; an en dash for a missing value."""
    return "–" if value is None else f"{int(round(value)):,}"


def fmt_num(value: float | None, digits: int = 1) -> str:
    """``1,234.5``; an en dash for a missing value."""
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def fmt_pct(share: float | None, digits: int = 1) -> str:
    """``12.3%`` from a share in [0, 1]; an en dash for a missing value."""
    return "–" if share is None or share != share else f"{100 * share:.{digits}f}%"
