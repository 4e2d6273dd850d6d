"""A validated, typed copy of DATA on disk, so that the next command on unchanged files skips the load.

Off unless ``CUSTSEG_CACHE`` names a directory. Loading an Olist export or a transaction log
(reading the CSV text, typing every value, checking keys and relations) is most of what a command
like ``custseg features`` does; the loaded tables, their row counts and the warnings found are
kept there as one DuckDB database per DATA and way of loading it (the tables and columns read, the
log mapping). The next command on the same files copies the tables back instead (about a tenth of
the work: 0.4 against 3.5 CPU seconds at 1M orders).

Never stale: a copy is used only when every input file read for it has the same path, size,
modification and change times and inode as when it was made, and the same custseg and DuckDB
versions made it; anything else loads from the files and replaces the copy. Data with problems that
refuse it is never kept. A copy that cannot be read is removed and the data loaded again; a cache
that cannot be written (full disk, no permission) only costs the time. Copies are written to a
temporary name and renamed into place, so two commands never read half a copy.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import duckdb

from ..checks import Finding
from ..errors import InputError
from ..schema import LOG_TABLES, TABLES, LogMapping
from .dataset import Dataset, connection, finish_pending
from .files import _quote, _sql_str, find_file
from .typed import define_text_macro

#: The environment variable naming the cache directory (unset or empty: no cache).
CACHE_VARIABLE = "CUSTSEG_CACHE"

#: Version of a cached copy's layout; a copy of another version is never read.
CACHE_FORMAT = 1

_META = "custseg_cache_meta"
_ATTACHED = "custseg_cache"


def cache_dir() -> Path | None:
    """The cache directory ``CUSTSEG_CACHE`` names, or None when caching is off."""
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def _files(root: Path, mapping: LogMapping | None, columns: dict[str, tuple[str, ...]] | None) -> dict[str, Path]:
    """The input file of each table a load reads (InputError when one is missing, as the load says)."""
    if mapping is not None:
        return {t: root for t in LOG_TABLES}
    return {t: find_file(root, TABLES[t]) for t in (columns or TABLES)}


def _stamp(path: Path) -> list:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def _names(root: Path, mapping: LogMapping | None, columns: dict[str, tuple[str, ...]] | None,
           files: dict[str, Path]) -> tuple[str, str]:
    """The cached copy's family (DATA and the way it is loaded) and its key (the files as they are now)."""
    from .. import __version__

    how = {"root": str(root.resolve()), "mapping": asdict(mapping) if mapping else None,
           "columns": {t: list(c) for t, c in columns.items()} if columns is not None else None}
    family = hashlib.sha256(json.dumps(how, sort_keys=True).encode()).hexdigest()[:16]
    now = {"format": CACHE_FORMAT, "custseg": __version__, "duckdb": duckdb.__version__, "how": how,
           "files": {t: _stamp(p) for t, p in sorted(files.items())}}
    return family, hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:32]


def cached_copy(root: Path, mapping: LogMapping | None, columns: dict[str, tuple[str, ...]] | None
                ) -> tuple[Dataset | None, Path | None]:
    """The Dataset of a valid cached copy of DATA (None when there is none), and where a copy of this
    load belongs (None when caching is off or the files cannot be stamped)."""
    directory = cache_dir()
    if directory is None or directory.resolve().is_relative_to(root.resolve()):
        return None, None  # off; or inside DATA, where custseg writes nothing
    try:
        files = _files(root, mapping, columns)
        family, key = _names(root, mapping, columns, files)
    except (InputError, OSError):  # a file the load will complain about, in its own words
        return None, None
    target = directory / f"{family}-{key}.duckdb"
    if not target.is_file():
        return None, target
    try:
        return _read(target, root, files, mapping), target
    except (duckdb.Error, OSError, ValueError, KeyError, TypeError):
        target.unlink(missing_ok=True)  # unreadable: load from the files and write it again
        return None, target


def _read(target: Path, root: Path, files: dict[str, Path], mapping: LogMapping | None) -> Dataset:
    con = connection()
    try:
        con.execute(f"ATTACH {_sql_str(target)} AS {_ATTACHED} (READ_ONLY)")
        meta = json.loads(con.execute(f"SELECT meta FROM {_ATTACHED}.{_META}").fetchall()[0][0])
        if meta["format"] != CACHE_FORMAT:
            raise ValueError("another cache format")
        for table in meta["rows"]:
            con.execute(f"CREATE TABLE main.{_quote(table)} AS SELECT * FROM {_ATTACHED}.{_quote(table)}")
        con.execute(f"DETACH {_ATTACHED}")
    except BaseException:
        con.close()
        raise
    define_text_macro(con)
    warnings = [Finding(**{**w, "examples": tuple(w["examples"])}) for w in meta["warnings"]]
    return finish_pending(Dataset(con=con, root=root, files=files, rows=dict(meta["rows"]), warnings=warnings,
                                  mapping=mapping))


def keep_copy(ds: Dataset, target: Path) -> None:
    """Write ``ds``'s tables, rows and warnings to ``target`` (data with problems is not kept).

    Any failure leaves no file behind and is not an error: the command has its data already.
    """
    if ds.problems:
        return
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": CACHE_FORMAT, "rows": ds.rows, "warnings": [asdict(w) for w in ds.warnings]}
        ds.con.execute(f"ATTACH {_sql_str(temporary)} AS {_ATTACHED}")
        try:
            for table in ds.rows:
                ds.con.execute(f"CREATE TABLE {_ATTACHED}.{_quote(table)} AS SELECT * FROM main.{_quote(table)}")
                # written to the file table by table: the copy shares the command's memory budget, and
                # held until the end it pushed the loaded tables out to disk (5M orders: the next query
                # took 12 s longer, and the copy itself twice as long)
                ds.con.execute(f"CHECKPOINT {_ATTACHED}")
            ds.con.execute(f"CREATE TABLE {_ATTACHED}.{_META} AS SELECT ? AS meta", [json.dumps(meta)])
        finally:
            ds.con.execute(f"DETACH {_ATTACHED}")
        os.replace(temporary, target)
        family = target.name.split("-")[0]
        for older in target.parent.glob(f"{family}-*.duckdb"):  # earlier copies of this DATA are stale
            if older != target:
                older.unlink(missing_ok=True)
        _remove_dead_writers(target.parent)
    except (duckdb.Error, OSError):
        pass
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError:  # its folder is not there (or not a folder): nothing was left
                pass
    finish_pending(ds)


def _remove_dead_writers(directory: Path) -> None:
    """Remove the temporary copies (``.NAME.PID.tmp`` and its ``.wal``) of commands no longer running,
    killed before they could clean up."""
    import psutil

    for leftover in directory.glob(".*.tmp*"):
        pid = leftover.name.split(".tmp")[0].rsplit(".", 1)[-1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            leftover.unlink(missing_ok=True)
