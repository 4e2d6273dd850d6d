"""Finding, vetting and opening the files of DATA; DuckDB's read errors in words."""
from __future__ import annotations

import codecs
import re
from pathlib import Path

import duckdb

from ..errors import InputError
from ..schema import TableSpec

#: Bytes read from the start of a text file to recognise binary data and other encodings.
SNIFF_BYTES = 1 << 16


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def find_file(root: Path, spec: TableSpec) -> Path:
    """The CSV or Parquet file holding ``spec`` in ``root`` (Parquet first); InputError when none."""
    found = sorted(root.glob(f"{spec.stem}.*"))
    candidates = {p.suffix.lower(): p for p in found if p.is_file()}
    for suffix in (".parquet", ".csv"):
        if suffix in candidates:
            return candidates[suffix]
    for p in found:  # the name is there, but not as a file to read
        if p.suffix.lower() in (".parquet", ".csv"):
            raise InputError(f"{_not_a_file(p)}, expected a file to read", file=p)
    others = sorted(p.name for p in candidates.values())
    if others:
        raise InputError(f"found {others[0]}, which is not CSV or Parquet: export it as "
                         f"{spec.csv_name} or {spec.parquet_name}", file=spec.csv_name)
    raise InputError(f"missing file (expected {spec.csv_name} or {spec.parquet_name} in {root})",
                     file=spec.csv_name)


def _not_a_file(path: Path) -> str:
    """What ``path``, which is not a regular file, is instead."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as exc:  # a symlink loop (ELOOP) or a link to nothing
        return "a symbolic link that leads nowhere" if path.is_symlink() else exc.strerror or "unreadable"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    return "not a regular file"


def check_file(path: Path) -> None:
    """Refuse an empty file, and a text file that is binary or not UTF-8 (judged on its start).

    DuckDB checks the encoding of the rest while reading; :func:`_read_error` words its complaint.
    """
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file", file=path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if path.suffix.lower() == ".parquet":
        if not head.startswith(b"PAR1"):
            raise InputError("not a Parquet file", file=path)
        return
    if head.startswith(b"PK\x03\x04"):
        raise InputError("a ZIP archive or Excel workbook, not CSV text: export it as CSV", file=path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("UTF-16 text, not UTF-8: save it as UTF-8", file=path)
    if b"\x00" in head:
        raise InputError("binary data, not CSV text", file=path)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{head[exc.start]:02x} at offset {exc.start}): "
                         "save it as UTF-8", file=path) from None
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise InputError("empty file", file=path)


def _read_error(exc: duckdb.Error, path: Path) -> InputError:
    """DuckDB's multi-line complaint about ``path`` as one line a user can act on."""
    text = str(exc)
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if too_long:  # DuckDB's line number is that of its buffer, not the file's: find the line
        limit, size = int(too_long.group(1)), int(too_long.group(2))
        return InputError(f"a line of {size:,} bytes{_long_line(path, limit)}, longer than the {limit:,} "
                          "a CSV line may hold: a damaged file, or a field holding a whole document", file=path)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    at = f" at line {line.group(1)}" if line else ""
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if "sniffing" in text:  # its list of options names the encoding: not a complaint about it
        if _lone_carriage_return(path):
            return InputError("not CSV that can be read: it holds a carriage return that ends no line (a line "
                              "break in a cell that is not quoted?): quote such cells, or remove the breaks",
                              file=path)
        return InputError("not CSV text: no delimiter or quoting could be recognised", file=path)
    if re.search(r"invalid unicode|invalid string encoding|not (valid )?utf-?8|unicode (error|decode)", text.lower()):
        if path.suffix.lower() == ".parquet":
            return InputError("holds text that is not valid UTF-8", file=path)
        return InputError(f"not UTF-8 text{at}: save it as UTF-8", file=path)
    if fields:
        return InputError(f"malformed CSV{at}: {fields.group(2)} fields where the header has "
                          f"{fields.group(1)}", file=path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    return InputError(f"cannot be read as {kind}{at}: {first}", file=path)


def _lone_carriage_return(path: Path) -> bool:
    """Whether the start of ``path`` holds a carriage return not followed by a line feed."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return re.search(rb"\r(?!\n)", head[:-1]) is not None


def _long_line(path: Path, limit: int) -> str:
    """`` at line N``: the first line of ``path`` longer than ``limit`` bytes ('' if none is found)."""
    with path.open("rb") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(limit + 1), b""), 1):
            if len(line) > limit:
                return f" at line {number:,}"
            while line and not line.endswith(b"\n"):  # the rest of a long line: not a line of its own
                line = fh.readline(limit + 1)
    return ""


def _file_relation(path: Path) -> str:
    """SQL reading ``path`` (CSV: every column as text, so that bad values can be counted)."""
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({_sql_str(path)})"
    # Quote and escape are fixed: the sniffer guesses "no quoting" when the first rows have none.
    return f"read_csv({_sql_str(path)}, header = true, all_varchar = true, quote = '\"', escape = '\"')"


def _columns_of(con: duckdb.DuckDBPyConnection, view: str, relation: str, path: Path) -> dict[str, str]:
    """Create ``view`` over ``relation``; return its column names and types (binary ones refused)."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {relation}")
        present = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {view}").fetchall()}
    except duckdb.Error as exc:
        raise _read_error(exc, path) from None
    binary = [name for name, kind in present.items() if kind == "BLOB"]
    if binary:
        raise InputError("binary values (BLOB), expected text or numbers", file=path, column=binary[0])
    return present
