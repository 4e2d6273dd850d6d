"""Read a JSON file that custseg wrote (a model, a stability result) as data, never trusting it.

A file that was edited, truncated, swapped or made hostile is refused with one line (a
:class:`~custseg.errors.ModelFileError`, exit 2) before it can cost much:

* its size is checked before anything is read (a model is kilobytes; a 500 MB file is not one);
* nesting deeper than :data:`MAX_DEPTH`, a number literal longer than :data:`MAX_DIGITS`
  characters (a 5,000-digit integer), a number that does not fit a float (``1e999``), ``NaN``
  and ``Infinity`` (not JSON), and a key given twice in one object are refused;
* what the caller then checks (every block, numbers within bounds) is plain Python data.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import ModelFileError

#: Largest file read, by default (model files are kilobytes, stability results a few megabytes).
MAX_BYTES = 64 << 20

#: Deepest nesting of arrays and objects accepted (custseg's files nest about 6 deep).
MAX_DEPTH = 32

#: Longest number literal accepted, in characters (a float's shortest form is at most 24).
MAX_DIGITS = 40


class _Refused(ValueError):
    """A reason to refuse the document, raised from inside the JSON parser's hooks."""


def _number(text: str, parse) -> object:
    if len(text) > MAX_DIGITS:
        raise _Refused(f"a number of {len(text):,} characters (more than {MAX_DIGITS})")
    value = parse(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused(f"a number too large for a float ({text})")
    return value


def _constant(name: str) -> object:
    raise _Refused(f"{name}, which is not a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        twice = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _Refused(f"the key {twice!r} twice in one object")
    return out


def _depth(doc: object) -> int:
    """Deepest nesting of lists and dicts in ``doc`` (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (list, dict)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_json(path: str | Path, what: str = "JSON file", max_bytes: int = MAX_BYTES) -> object:
    """The content of JSON file ``path``, within the limits above; ModelFileError naming ``what``.

    ``what`` names the file in messages ("model file", "stability result").
    """
    path = Path(path)
    try:
        if not path.is_file():  # checked before opening: a FIFO would block the open
            problem = "is a directory" if path.is_dir() else "not a regular file" if path.exists() else None
            raise ModelFileError(f"{problem} (expected a {what})" if problem else f"{what} not found", file=path)
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelFileError(f"{size / 1e6:,.0f} MB, larger than any {what} ({max_bytes >> 20} MiB at most)",
                                 file=path)
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ModelFileError(f"cannot read {what} ({exc.strerror or exc.__class__.__name__})", file=path) from None
    if len(raw) > max_bytes:  # grew while read, or a special file
        raise ModelFileError(f"larger than any {what} ({max_bytes >> 20} MiB at most)", file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"not UTF-8 text (byte at offset {exc.start}): not a {what}", file=path) from None
    try:
        doc = json.loads(text, parse_int=lambda s: _number(s, int), parse_float=lambda s: _number(s, float),
                         parse_constant=_constant, object_pairs_hook=_unique_keys)
    except _Refused as exc:
        raise ModelFileError(f"holds {exc}: not a {what}", file=path) from None
    except RecursionError:
        raise ModelFileError(f"nested more than {MAX_DEPTH} deep: not a {what}", file=path) from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"not valid JSON (truncated or damaged?) at line {exc.lineno}, column {exc.colno}",
                             file=path) from None
    if _depth(doc) > MAX_DEPTH:
        raise ModelFileError(f"nested more than {MAX_DEPTH} deep: not a {what}", file=path)
    return doc
