"""Read a data directory into DuckDB and check it against the data contract.

:func:`load` returns a :class:`Dataset`: a DuckDB connection holding one typed table per contract
table (``customers``, ``orders``, ``order_items``, ...), plus what was read (files, row counts)
and the warnings found on the way. Problems that make the data unusable raise
:class:`~custseg.errors.InputError` with a one-line message naming the file and column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .errors import InputError
from .schema import TABLES, TableSpec


@dataclass
class Warning_:
    """A survivable problem: counted, with a few examples."""

    table: str
    column: str | None
    problem: str
    count: int
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.table}" + (f".{self.column}" if self.column else "")
        ex = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{where}: {self.problem}: {self.count:,}{ex}"


@dataclass
class Dataset:
    """Ingested tables in a DuckDB connection, and what was learned while reading them."""

    con: duckdb.DuckDBPyConnection
    root: Path
    files: dict[str, Path]
    rows: dict[str, int]
    warnings: list[Warning_] = field(default_factory=list)

    def scalar(self, sql: str, params: list | None = None):
        """The first column of the first row of ``sql``."""
        return self.con.execute(sql, params or []).fetchone()[0]


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def find_file(root: Path, spec: TableSpec) -> Path:
    """The CSV or Parquet file holding ``spec`` in ``root``; InputError when there is none."""
    for name in (spec.parquet_name, spec.csv_name):
        path = root / name
        if path.is_file():
            return path
    raise InputError(
        f"missing file (expected {spec.csv_name} or {spec.parquet_name} in {root})",
        file=spec.csv_name,
    )


def _raw_relation(path: Path) -> str:
    """SQL reading ``path`` with every column as text, so that type problems can be named."""
    if path.suffix == ".parquet":
        return f"read_parquet({_sql_str(path)})"
    return f"read_csv({_sql_str(path)}, header=true, all_varchar=true, auto_detect=true)"


def _typed_expr(column: str, sql_type: str) -> str:
    col = f'"{column}"'
    if sql_type == "VARCHAR":
        return f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '') AS {col}"
    return f"TRY_CAST(NULLIF(TRIM(CAST({col} AS VARCHAR)), '') AS {sql_type}) AS {col}"


def load_table(con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path) -> int:
    """Create table ``spec.name`` from ``path`` with the contract's types; return its row count."""
    raw = f"raw_{spec.name}"
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM {_raw_relation(path)}")
        present = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot be read as {path.suffix.lstrip('.').upper()}: {first}", file=path) from None
    missing = [c for c in spec.columns if c not in present]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, column=missing[0])
    select = ", ".join(_typed_expr(c, t) for c, t in spec.columns.items())
    con.execute(f"CREATE OR REPLACE TABLE {spec.name} AS SELECT {select} FROM {raw}")
    return con.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0]


def load(root: str | Path, *, con: duckdb.DuckDBPyConnection | None = None) -> Dataset:
    """Load the nine Olist tables found in ``root`` into DuckDB tables named as in the contract."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a directory", file=root)
    con = con or duckdb.connect()
    files = {name: find_file(root, spec) for name, spec in TABLES.items()}
    rows = {name: load_table(con, TABLES[name], files[name]) for name in TABLES}
    return Dataset(con=con, root=root, files=files, rows=rows)
