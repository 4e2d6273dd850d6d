"""Write outputs safely: all-or-nothing files, and CSV cells that spreadsheets will not execute.

Every output goes to a temporary file in the target's directory and is renamed over the target
only when complete, so an interrupted or failed run leaves the previous output intact. An output
is never one of the inputs being read, nor inside an input directory (:func:`reading`); a write
that fails (read-only or full disk, a file where a folder is needed, a name too long) raises an
:class:`~custseg.errors.OutputError` naming the output.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, OutputError, as_user_error
from .ingest import connect

if TYPE_CHECKING:  # pandas is imported where a frame is written: DuckDB writes the feature table
    import pandas as pd

#: Decimals kept in CSV outputs (Parquet keeps full precision): money to the cent, other numbers
#: (days, shares, scores, distances) to three decimals, enough to read and to sort by.
MONEY_COLUMNS = frozenset({"monetary", "mean_basket", "revenue", "price", "freight_value", "payment_value"})
MONEY_DIGITS = 2
FLOAT_DIGITS = 3

#: A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: DuckDB's CSV writer as custseg writes CSV: a header, quotes doubled inside quoted cells, '\n' line ends.
_CSV_OPTIONS = "(FORMAT csv, HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NEW_LINE '\\n')"


#: Inputs this process reads (files, and directories read as a whole): outputs must stay clear of them.
_INPUTS: set[Path] = set()

#: Bytes of the target's name kept in a temporary name: with mkstemp's 8 characters and ".tmp" it
#: stays under the usual 255-byte limit of a file name whatever the target's length.
_TEMP_NAME_BYTES = 200


def reading(path: str | Path) -> None:
    """Record that ``path`` (a file, or a directory read as a whole) is an input of this process."""
    _INPUTS.add(Path(path).resolve())


def forget_inputs() -> None:
    """Forget the inputs recorded by :func:`reading` (a new command starts)."""
    _INPUTS.clear()


def check_output_path(target: str | Path) -> Path:
    """``target`` as an output path; InputError when it is an input or lies inside an input directory."""
    target = Path(target)
    where = target.resolve()
    for source in _INPUTS:
        if where == source:
            raise InputError("is an input being read: write the output elsewhere", file=str(target))
        if source in where.parents and source.is_dir():
            raise InputError(f"lies inside the input directory {source}: write the output elsewhere", file=str(target))
    return target


def temp_prefix(name: str) -> str:
    """A prefix for a temporary name beside file ``name`` (hidden, within file-name limits)."""
    short = name.encode("utf-8")[:_TEMP_NAME_BYTES].decode("utf-8", errors="ignore")
    return f".{short}."


def output_error(exc: BaseException, target: Path) -> OutputError:
    """An exception raised while writing ``target`` as the OutputError naming ``target``."""
    error = as_user_error(exc)
    if isinstance(error, OutputError):  # its advice, at the output's name rather than a temporary one
        return OutputError(error.problem, path=target)
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    return OutputError(text, path=target)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    OutputError when ``target`` cannot be written; InputError when it is an input (see above).
    """
    target = check_output_path(target)
    if target.is_dir():
        raise OutputError("is a folder, expected a file path", path=target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(exc, target) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp creates 0600; outputs are meant to be shared, so give them the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        yield tmp_path
        os.replace(tmp_path, target)
    except Exception as exc:
        if isinstance(exc, OSError) or type(exc).__name__ == "IOException":  # DuckDB's writer: disk full
            raise output_error(exc, target) from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def neutralise_formula(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _is_text(dtype) -> bool:
    """Whether ``dtype`` is pandas' text dtype (object columns may hold anything)."""
    import pandas as pd

    return not pd.api.types.is_object_dtype(dtype) and pd.api.types.is_string_dtype(dtype)


def safe_for_spreadsheet(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its text cells that a spreadsheet program would execute prefixed with a quote.

    ``df`` itself is left alone; columns without such a cell are shared, not copied. Text columns
    are searched in bulk: millions of rows are not turned into Python strings one by one.
    """
    import pandas as pd

    out = df.copy(deep=False)  # copy-on-write: replacing a column below leaves df as it is
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):  # its text is what a spreadsheet reads
            values = values.astype(object if values.cat.categories.dtype == object else "str")
            out[col] = values
        if _is_text(values.dtype):
            hit = values.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if hit.any():
                out[col] = values.mask(hit, "'" + values[hit])
        elif values.dtype == object:  # mixed cells: only the text ones can be formulas
            out[col] = values.map(neutralise_formula)
    return out


def rounded_for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with float columns rounded for reading (:data:`MONEY_DIGITS`, :data:`FLOAT_DIGITS`).

    ``df`` itself is left alone; only float columns are copied.
    """
    import pandas as pd

    out = df.copy(deep=False)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = out[col].round(MONEY_DIGITS if col in MONEY_COLUMNS else FLOAT_DIGITS)
    return out


def _has_carriage_return(df: pd.DataFrame) -> bool:
    """Whether a text cell of ``df`` holds a carriage return."""
    for col in df.columns:
        values = df[col]
        if _is_text(values.dtype):
            if values.str.contains("\r", regex=False).fillna(False).astype(bool).any():
                return True
        elif values.dtype == object and any(isinstance(v, str) and "\r" in v for v in values):
            return True
    return False


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` as CSV (formula-safe, rounded: :func:`rounded_for_csv`) or Parquet
    (values as they are), chosen by the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError("output must end in .csv or .parquet", file=path)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            safe = safe_for_spreadsheet(rounded_for_csv(df))
            if not _copy_csv(safe, tmp):
                # Python's csv writer quotes a cell holding a newline, but not one holding a lone carriage
                # return, which readers take for a line end: where there is one, every text cell is quoted
                quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(df) else csv.QUOTE_MINIMAL
                safe.to_csv(tmp, index=False, lineterminator="\n", quoting=quoting)
        else:
            df.to_parquet(tmp, index=False)
    return path


def _plain_columns(df: pd.DataFrame) -> bool:
    """Whether every column of ``df`` is text (not object), an integer, a float64 or a boolean."""
    import pandas as pd

    def plain(dtype) -> bool:
        return (_is_text(dtype) or pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)
                or dtype == "float64")
    return df.columns.is_unique and all(isinstance(c, str) for c in df.columns) and all(map(plain, df.dtypes))


def _copy_csv(df: pd.DataFrame, path: Path) -> bool:
    """Write ``df`` as CSV with DuckDB's writer; False (nothing written) when its columns are not plain.

    The same text as pandas' writer for plain columns (booleans as True/False, a missing value as
    an empty cell, floats in their shortest exact form), about 8x faster: millions of rows in
    seconds. A text cell holding a line break, a quote or a comma is quoted, and an empty text
    (not a missing one) is written "".
    """
    if not _plain_columns(df):
        return False
    import pandas as pd
    import pyarrow as pa

    def column(name: str) -> str:
        quoted = '"' + name.replace('"', '""') + '"'
        if pd.api.types.is_bool_dtype(df[name].dtype):
            return f"CASE WHEN {quoted} THEN 'True' WHEN NOT {quoted} THEN 'False' END AS {quoted}"
        return quoted

    with connect() as con:  # within custseg's memory budget, spilling to a temporary folder
        con.register("frame", pa.Table.from_pandas(df, preserve_index=False))
        target = _sql_text(path)
        con.execute(f"COPY (SELECT {', '.join(map(column, df.columns))} FROM frame) TO {target} {_CSV_OPTIONS}")
    return True


def _sql_text(value: str | Path) -> str:
    """``value`` as an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _defused(column: str) -> str:
    """SQL: text ``column`` with a cell a spreadsheet would run as a formula prefixed with a quote
    (what :func:`safe_for_spreadsheet` does to a frame)."""
    prefixes = ", ".join(f"chr({ord(p)})" for p in FORMULA_PREFIXES)
    name = _sql_name(column)
    return f"CASE WHEN left({name}, 1) IN ({prefixes}) THEN chr(39) || {name} ELSE {name} END AS {name}"


def _csv_cell(column: str, kind: str) -> str:
    """SQL: ``column`` (of DuckDB type ``kind``) as a CSV cell: text defused, numbers as they are."""
    if kind == "VARCHAR":
        return _defused(column)
    return _sql_name(column)


def copy_table(con, table: str, path: str | Path) -> Path:
    """Write DuckDB table ``table`` to ``path``, CSV (formula-safe) or Parquet by the extension, in the
    table's order, with DuckDB's writers and no Python copy of the rows.

    Floats are written exactly, not rounded as :func:`write_table` rounds them for reading: the
    table written here is a feature table, read back by fit and assign, which must get the values
    the Parquet file would give."""
    path = Path(path)
    with atomic_path(table_output_path(path)) as tmp:
        copy_query(con, f"SELECT * FROM {table}", tmp, path.suffix)
    return path


def table_output_path(path: Path) -> Path:
    """``path``, when it names a table file (.csv or .parquet); InputError otherwise."""
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("output must end in .csv or .parquet", file=path)
    return path


def copy_query(con, select: str, tmp: Path, suffix: str) -> dict[str, str]:
    """Write the rows of query ``select``, in its order, to file ``tmp`` as ``suffix`` says (``.csv``,
    formula-safe, or ``.parquet``); the DuckDB type of each column. See :func:`copy_table`."""
    kinds = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {select}").fetchall()}
    target = _sql_text(tmp)
    if suffix.lower() == ".csv":
        cells = ", ".join(_csv_cell(c, t) for c, t in kinds.items())
        con.execute(f"COPY (SELECT {cells} FROM ({select})) TO {target} {_CSV_OPTIONS}")
    else:
        con.execute(f"COPY ({select}) TO {target} (FORMAT parquet)")
    return kinds


def written_rows(tmp: Path, suffix: str, kinds: dict[str, str]) -> str:
    """SQL reading back file ``tmp`` written by :func:`copy_query` (columns of types ``kinds``)."""
    path = _sql_text(tmp)
    if suffix.lower() == ".csv":
        types = ", ".join(f"{_sql_text(c)}: {_sql_text(t)}" for c, t in kinds.items())
        return f"read_csv({path}, header = true, quote = '\"', escape = '\"', columns = {{{types}}})"
    return f"read_parquet({path})"


def write_json(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as pretty, key-sorted JSON (deterministic bytes)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
