"""The HTML report: one self-contained page on the data, the segments and their stability."""
from __future__ import annotations

from .build import build_report, check_output_path, render_page

__all__ = ["build_report", "check_output_path", "render_page"]
