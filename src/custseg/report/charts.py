"""Plotly figures made safe and small for embedding in the report page.

A :class:`Chart` is a figure serialised once: its data and layout as JSON that can sit inside a
``<script>`` element (``<``, ``>``, ``&`` and the JavaScript line separators are escaped), under a
fixed element id so that the page is byte-identical from run to run. The shared Plotly template is
sent once per page instead of once per figure.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass

import plotly.graph_objects as go
import plotly.io as pio

#: The look of every chart; sent once per page (see :func:`template_json`).
TEMPLATE_NAME = "plotly_white"

#: Plotly options for every chart: no logo, no link to Plotly's cloud, static size per page width.
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False, "showSendToCloud": False}

# Characters that could end a <script> element or confuse an HTML parser, as JSON escapes.
_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_safe_json(obj: object) -> str:
    """``obj`` as compact JSON that cannot close or break the ``<script>`` element holding it."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escape in _SCRIPT_SAFE.items():
        text = text.replace(char, escape)
    return text


def plot_text(value: object) -> str:
    """A data string as Plotly label text: Plotly renders some HTML tags in labels, so escape them.

    Plotly decodes ``&lt;``, ``&gt;`` and ``&amp;`` back to characters when it draws a label, so
    the reader sees the original text, never markup.
    """
    return html.escape(str(value), quote=False)


@dataclass(frozen=True)
class Chart:
    """One figure ready for the page: element id, heading, explanation and Plotly JSON."""

    div_id: str
    title: str
    note: str
    figure_json: str
    height: int = 360


def chart(fig: go.Figure, div_id: str, title: str, note: str = "", height: int = 360) -> Chart:
    """Serialise ``fig`` for the page under the fixed element id ``div_id``."""
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 30, "b": 50})
    # long labels (segment names) widen the margin instead of being cut off
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    spec = json.loads(pio.to_json(fig, validate=True, remove_uids=True))
    spec["layout"].pop("template", None)
    return Chart(div_id=div_id, title=title, note=note, figure_json=script_safe_json(spec), height=height)


def template_json() -> str:
    """The shared Plotly template as script-safe JSON."""
    return script_safe_json(json.loads(pio.to_json(pio.templates[TEMPLATE_NAME], remove_uids=False)))


def config_json() -> str:
    """The Plotly config shared by every chart, as script-safe JSON."""
    return script_safe_json(PLOT_CONFIG)
