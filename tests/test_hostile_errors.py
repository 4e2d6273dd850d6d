"""as_user_error: every exception becomes one line with a documented exit code."""
from __future__ import annotations

import errno

import duckdb
import pyarrow as pa
import pytest

from custseg.errors import InputError, InternalError, OutputError, ResourceError, as_user_error


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
    (errno.ENOTDIR, "is a file"), (errno.EEXIST, "not a folder"), (errno.ENAMETOOLONG, "too long"),
])
def test_os_errors_at_a_path_are_output_errors(code, words):
    error = as_user_error(OSError(code, "whatever", "/out/dir/table.csv"))
    assert isinstance(error, OutputError) and error.exit_code == 4
    assert error.message.startswith("cannot write /out/dir/table.csv: ") and words in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize("exc", [MemoryError(), duckdb.OutOfMemoryException("Out of Memory Error: failed"),
                                 pa.ArrowMemoryError("malloc of size 64 failed")])
def test_memory_errors_become_advice(exc):
    error = as_user_error(exc)
    assert isinstance(error, ResourceError) and error.exit_code == 4
    assert "out of memory" in error.message and "CUSTSEG_DUCKDB_MEMORY" in error.message


def test_a_full_disk_seen_by_duckdb_is_an_output_error():
    error = as_user_error(duckdb.IOException("IO Error: Could not write file: No space left on device"))
    assert isinstance(error, OutputError) and "free disk space" in error.message


def test_custseg_errors_are_kept_and_the_unknown_is_an_internal_error():
    known = InputError("bad", file="x.csv")
    assert as_user_error(known) is known
    error = as_user_error(KeyError("segments"))
    assert isinstance(error, InternalError) and error.exit_code == 1
    assert error.message == "internal error: KeyError: 'segments'"
    assert len(as_user_error(ValueError("x" * 5000)).message) < 400
