"""Progress for people and for logs, from the library's ``(description, done, total)`` callbacks.

On a terminal: a Rich bar for the current step and, below it, one for the work inside it (fit's
search and bootstrap, the backtest's dates). Anywhere else (cron, CI, a log file): plain,
timestamped lines on stderr, one when a step or a part of it starts and at most one every
:data:`LINE_SECONDS` while it runs, so that a log shows the job moving (nothing for a command
that ends within :data:`GRACE_SECONDS`). Quiet: nothing.

A description ``"<step>: <detail>"`` whose prefix is the current step is the work inside that
step; any other description starts a step.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, UTC
from typing import IO

from rich.console import Console

Callback = Callable[[str, int, int], None]

#: Seconds between two lines about the same piece of work, in plain mode.
LINE_SECONDS = 10.0
#: Lines of a command's first second are held back, written once it lasts longer: a command that
#: ends at once (a refusal) leaves its one ``error:`` line alone on stderr.
GRACE_SECONDS = 1.0


def inside(step: str, callback: Callback | None) -> Callback | None:
    """A callback reporting the work inside ``step`` through ``callback`` (None stays None)."""
    if callback is None:
        return None
    return lambda detail, done, total: callback(f"{step}: {detail}", done, total)


class PlainLines:
    """Timestamped progress lines on a stream (a log), throttled per piece of work."""

    def __init__(self, stream: IO[str], prefix: str = "custseg"):
        self.stream, self.prefix = stream, prefix
        self.started = time.monotonic()
        self.last: tuple[str, float] = ("", 0.0)
        self.held: list[str] = []

    def __call__(self, description: str, done: int, total: int) -> None:
        now = time.monotonic()
        same, when = self.last[0] == description, self.last[1]
        if same and now - when < LINE_SECONDS and done < total:
            return
        self.last = (description, now)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        count = f" {done}/{total}" if total else ""
        self.held.append(f"{stamp} {self.prefix}: {description}{count} ({now - self.started:.0f} s)\n")
        if now - self.started >= GRACE_SECONDS:
            self.stream.write("".join(self.held))
            self.stream.flush()
            self.held = []


class Bars:
    """Two Rich bars: the step, and the work inside it."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.step_task = progress.add_task("starting", total=None)
        self.detail_task = progress.add_task("", total=None, visible=False)
        self.step = ""

    def __call__(self, description: str, done: int, total: int) -> None:
        if self.step and description.startswith(f"{self.step}: "):
            self.progress.update(self.detail_task, description="  " + description[len(self.step) + 2:],
                                 completed=done, total=total or None, visible=True)
            return
        self.step = description
        self.progress.update(self.step_task, description=description, completed=done, total=total or None)
        self.progress.update(self.detail_task, visible=False)


@contextmanager
def progress_view(console: Console | None = None, quiet: bool = False) -> Iterator[Callback]:
    """A progress callback for the duration of the block: bars on a terminal, lines otherwise."""
    if quiet:
        yield lambda *_: None
        return
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield PlainLines(console.file if console.file is not None else sys.stderr)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # transient: once done, the terminal keeps the summary, not bar frames
    with Progress(*columns, console=console, transient=True) as progress:
        yield Bars(progress)
