"""Properties of the code itself: the library speaks in parameters, not in command-line flags; layers; module sizes."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import custseg

PACKAGE = Path(custseg.__file__).parent
#: The command line and the views may name options; nothing else may.
VIEWS = ("cli", "views", "stability/views.py")
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _library_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if not any(p.relative_to(PACKAGE).as_posix().startswith(view) for view in VIEWS)]


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants in ``tree`` (they document the code; they never reach a user)."""
    owners = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _messages(path: Path) -> list[tuple[int, str]]:
    """Every string constant of ``path`` but its docstrings: raised, printed, returned or stored,
    f-strings' parts included (any of them may reach a user)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def test_library_messages_name_parameters_not_flags():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}" for path in _library_modules()
             for line, text in _messages(path) if FLAG.search(text)]
    assert not found, "library text naming a command-line flag (name the parameter in `backquotes`):\n" + \
        "\n".join(found)


def test_the_check_finds_a_flag_in_any_message(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('''"""A module about --seeds (a docstring: not a message)."""
def f(x):
    """--seeds in a docstring is not a message."""
    raise ValueError(f"--seeds: {x} is too few")


def g(x, log):
    print(f"{x} seeds: try --seeds 5")
    log.warning("use " + "--start")
    return ["custseg", "monitor", "--as-of", x]
''')
    assert sorted(line for line, text in _messages(sample) if FLAG.search(text)) == [4, 8, 9, 10]


def test_the_views_are_the_only_modules_left_out():
    names = {path.relative_to(PACKAGE).as_posix() for path in _library_modules()}
    assert "stability/views.py" not in names and "views/summary.py" not in names and "cli/boundary.py" not in names
    assert {"stability/backtest.py", "monitor.py", "operate.py", "report/build.py", "jobs.py"} <= names


def test_the_cli_shows_parameters_as_its_options():
    from custseg.cli import as_flags

    assert as_flags("`min_share`: 0.7 must be between 0 and 0.5; or try another `k`") == (
        "--min-share: 0.7 must be between 0 and 0.5; or try another --k")
    assert as_flags("`n_jobs` and `as_of`") == "--jobs and --as-of"


#: The layers of README's "Layout", lowest first: a module imports only from its own layer and lower ones.
LAYERS = [
    {"errors", "schema", "currency", "jsonfile", "hooks"},  # foundation
    {"checks", "ingest", "pgsource", "export", "pgtarget"},  # data in and out
    {"features", "rfm", "rfm_scores", "synth"},  # features (and the synthetic data)
    {"cards", "describe", "model", "segment", "summary"},  # segments
    {"drift", "stability", "monitor", "operate"},  # validity and operation
    {"views", "report"},  # views and the report
    {"spark", "jobs", "pipeline", "__init__"},  # jobs and engines, the package's API
    {"cli", "__main__"},  # the command line
]


def _layer(name: str) -> int:
    found = [i for i, layer in enumerate(LAYERS) if name in layer]
    assert found, f"{name} is in no layer of README's Layout (tests/test_codebase.py LAYERS)"
    return found[0]


def _imported(path: Path) -> set[str]:
    """The top-level custseg modules ``path`` imports (at the top or inside functions)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(parts[:-1])[:len(parts) - node.level]
            for name in [node.module] if node.module else [a.name for a in node.names]:
                target = (base + name.split("."))[0] if base or name else ""
                if (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").is_file():
                    found.add(target)
    return found - {parts[0]}


def test_every_module_imports_only_from_its_layer_or_lower():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        wrong += [f"{path.relative_to(PACKAGE)} imports {other}" for other in sorted(_imported(path))
                  if _layer(other) > _layer(me)]
    assert not wrong, "\n".join(wrong)


#: The most lines a module of the package may have: past it, a module holds several topics (split it
#: into a package by topic, as segment/ and describe/ are).
MAX_LINES = 600
#: Modules allowed over MAX_LINES, each with its reason: pure data tables only. None today.
DATA_TABLES: dict[str, str] = {}


def _oversized(root: Path) -> dict[str, int]:
    """The modules under ``root`` with more than :data:`MAX_LINES` lines, with their line counts."""
    counts = {p.relative_to(root).as_posix(): len(p.read_text().splitlines()) for p in sorted(root.rglob("*.py"))}
    return {name: n for name, n in counts.items() if n > MAX_LINES}


def test_no_module_is_over_the_size_limit():
    over = _oversized(PACKAGE)
    assert not {name: n for name, n in over.items() if name not in DATA_TABLES}, \
        f"modules over {MAX_LINES} lines (split them by topic): {over}"


def test_the_size_check_finds_a_long_module(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "short.py").write_text("x = 1\n" * MAX_LINES)
    assert _oversized(tmp_path) == {"pkg/long.py": MAX_LINES + 1}
