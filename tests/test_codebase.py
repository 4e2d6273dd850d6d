"""Properties of the code itself: the library speaks in parameters, not in command-line flags."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import custseg

PACKAGE = Path(custseg.__file__).parent
#: The command line and its views may name options; nothing else may.
VIEWS = ("cli",)
#: Modules being split and reworded by the verdict issue (#11); to be empty once that has landed.
PENDING = ("stability", "monitor")
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _library_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if p.relative_to(PACKAGE).parts[0].removesuffix(".py") not in VIEWS + PENDING]


def _texts(node: ast.AST) -> list[str]:
    """The string constants in ``node`` (f-strings included)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _raised_messages(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(node.lineno, text) for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc is not None
            for text in _texts(node.exc)]


def test_library_errors_name_parameters_not_flags():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}" for path in _library_modules()
             for line, text in _raised_messages(path) if FLAG.search(text)]
    assert not found, "library errors naming a command-line flag (name the parameter in `backquotes`):\n" + \
        "\n".join(found)


def test_the_check_finds_a_flag(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def f(x):\n    raise ValueError(f"--seeds: {x} is too few")\n')
    assert [line for line, text in _raised_messages(sample) if FLAG.search(text)] == [2]


def test_the_cli_shows_parameters_as_its_options():
    from custseg.cli import as_flags

    assert as_flags("`min_share`: 0.7 must be between 0 and 0.5; or try another `k`") == (
        "--min-share: 0.7 must be between 0 and 0.5; or try another --k")
    assert as_flags("`n_jobs` and `as_of`") == "--jobs and --as-of"
