"""An Olist export: the nine tables of a directory, loaded and checked."""
from __future__ import annotations

from pathlib import Path

import duckdb

from ..checks import Finding, drop_duplicate_keys, duplicate_key_check, relation_checks, run_checks
from ..errors import InputError
from ..schema import TABLES
from .dataset import Dataset, closed_on_error, connection, finish_pending
from .files import check_file, find_file
from .typed import define_text_macro, load_table

def _deduplicated(ds: Dataset, found: list[Finding]) -> list[Finding]:
    """Drop the repeated keys that ``found`` reports in non-essential tables, saying so."""
    out = []
    for f in found:
        if f.check == "duplicate_key" and not f.refuse:
            drop_duplicate_keys(ds.con, TABLES[f.table])
            ds.rows[f.table] = ds.scalar(f"SELECT count(*) FROM {f.table}")
            f = Finding(f.check, f.table, f.column, f"{f.problem} (kept the first row of each)", f.count,
                        f.examples)
        out.append(f)
    return out


def load(root: str | Path, *, con: duckdb.DuckDBPyConnection | None = None, strict: bool = True,
         columns: dict[str, tuple[str, ...]] | None = None) -> Dataset:
    """Load and check the nine Olist tables found in directory ``root``.

    Raises InputError for unusable data; with ``strict=False`` the problems are returned in
    ``Dataset.problems`` instead (the tables of files that could not be read are then missing).

    ``columns`` (e.g. :data:`~custseg.schema.FEATURE_COLUMNS`) loads only those tables and columns
    (plus keys and required columns): the same refusals, a fraction of the memory and time; the
    checks across tables, which only warn, are then left to a full load (``custseg validate``).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a directory (an Olist export is a directory of CSV or Parquet files)",
                         file=root)
    ds = Dataset(con=connection(con), root=root, files={}, rows={})
    with closed_on_error(ds, owned=con is None):
        _load_tables(ds, columns)
        if strict:
            ds.refuse_if_unusable()
    return finish_pending(ds)


def _load_tables(ds: Dataset, columns: dict[str, tuple[str, ...]] | None) -> None:
    """Fill ``ds`` with the tables of its export (all, or those of ``columns``) and what checking finds."""
    root = ds.root
    define_text_macro(ds.con)
    wanted = {t: (columns or {}).get(t) for t in (columns or TABLES)}
    outcome: dict[str, tuple[int, list[Finding], dict[str, int]] | InputError] = {}
    for name, only in wanted.items():
        spec = TABLES[name]
        try:
            ds.files[name] = find_file(root, spec)
            check_file(ds.files[name])
            outcome[name] = load_table(ds.con, spec, ds.files[name], only=only)
        except InputError as exc:
            outcome[name] = exc
    # A key is compared across tables (orders.order_id with order_items.order_id...): one value
    # that is not hex, anywhere, makes that key text in every table (read again, as it was written).
    loaded = {t: r for t, r in outcome.items() if not isinstance(r, InputError)}
    text_keys = frozenset(k for r in loaded.values() for k, n in r[2].items() if n)
    for name in [t for t in loaded if text_keys & set(TABLES[t].columns)]:
        outcome[name] = load_table(ds.con, TABLES[name], ds.files[name], text_keys, wanted[name])
    for name, result in outcome.items():
        if isinstance(result, InputError):
            ds.problems.append(result)
        else:
            ds.rows[name] = result[0]
            ds.record(result[1])
    keyed = [duplicate_key_check(TABLES[t]) for t in ds.rows if TABLES[t].primary_key]
    ds.record(_deduplicated(ds, run_checks(ds.con, keyed)))
    if columns is None and len(ds.rows) == len(TABLES):
        ds.record(run_checks(ds.con, relation_checks()))
