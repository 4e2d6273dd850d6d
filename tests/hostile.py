"""Helpers of the hostile-input suite (tests/test_hostile_*.py): small data, and what every case asserts.

Every case checks the exit code, exactly one ``error:`` line, no traceback, and that inputs and
previous outputs are untouched with no stray file beside them (:func:`snapshot`).
"""
from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (hidden ones too) with a hash of its bytes."""
    found = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
        for p in paths:
            found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
    return found


def assert_refused(result, code: int, *words: str) -> str:
    """``result`` ended with exit ``code`` and one ``error:`` line holding ``words``; that line."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.code == code, (result.code, output)
    assert len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def import_everything() -> None:
    """Import every custseg module, so that a monkeypatched function cannot be bound by name by a
    module imported during the patch (and stay patched for the rest of the session)."""
    import importlib
    import pkgutil

    import custseg

    for module in pkgutil.walk_packages(custseg.__path__, "custseg."):
        if module.name.endswith("__main__"):  # importing it runs the CLI
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra (pyspark, ADBC) that is not installed
            pass


def copy_data(src: Path, dst: Path) -> Path:
    """A copy of the Olist export ``src`` (without truth.csv) at ``dst``."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth.csv"))
    return dst


def set_cells(path: Path, column: str, values: list[str]) -> None:
    """Overwrite ``column`` of the first len(values) data rows of CSV ``path`` with ``values``."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index(column)
    for row, value in zip(rows[1:], values):
        row[at] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
