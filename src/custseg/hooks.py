"""A test hook for fault injection: make a process stop at a named point and wait to be signalled.

``CUSTSEG_PAUSE_AT=<point>`` (a step of ``custseg run``: ``features``, ``fit``, ``report``...; or
``search``: inside the model search, once its first fit is back and the workers are busy) makes
the process print ``paused at <point>`` on stderr when it gets there and wait (up to ten minutes);
the tests then send SIGTERM or SIGKILL and check what is left. Without the variable a pause
point costs one dictionary look-up. It exists for the test-suite only (tests/test_hostile_signals.py).
"""
from __future__ import annotations

import os
import sys
import time

PAUSE_VARIABLE = "CUSTSEG_PAUSE_AT"


def pause_point(name: str) -> None:
    """Wait here when ``CUSTSEG_PAUSE_AT`` names ``name`` (test hook; see the module's docstring)."""
    if os.environ.get(PAUSE_VARIABLE) != name:
        return
    print(f"paused at {name}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.05)
