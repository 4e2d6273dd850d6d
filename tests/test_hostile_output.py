"""Hostile conditions, class 3: outputs that cannot be written, and outputs that would hurt inputs.

Read-only and full disks are real: a small tmpfs mounted here when the tests run as root and may
mount (CI), else a read-only folder by chmod and a full disk by ``ulimit -f`` in a subprocess.
Each case: the exit code (4 cannot write, 2 an output that is an input), one ``error:`` line
naming the path, no traceback, nothing left in the output folder, inputs and previous outputs
untouched.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from hostile import assert_refused, snapshot


def _mount(where: Path, options: str) -> bool:
    """Mount a tmpfs at ``where`` with ``options``; False when this process may not."""
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@contextmanager
def read_only_folder(where: Path):
    """``where``: an empty folder nobody may write to (a read-only tmpfs, or chmod 0555 when not root)."""
    where.mkdir()
    mounted = _mount(where, "ro,size=64k")
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root, and mounting is not permitted: chmod cannot make a folder read-only")
        where.chmod(0o555)
    try:
        yield where
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)
        else:
            where.chmod(0o755)


@contextmanager
def full_disk(where: Path):
    """``where``: a folder on a 12 KiB tmpfs (None when mounting is not possible: use ulimit -f)."""
    where.mkdir()
    mounted = _mount(where, "size=12k")
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)


def test_a_read_only_output_folder(cli, small_export, tmp_path):
    with read_only_folder(tmp_path / "ro") as ro:
        line = assert_refused(cli("features", small_export, "-o", ro / "f.csv"), 4, f"cannot write {ro / 'f.csv'}")
        assert "read-only" in line or "permission denied" in line
        assert_refused(cli("validate", small_export, "--json", ro / "v.json"), 4, str(ro / "v.json"))
        assert_refused(cli("run", small_export, "-o", ro / "out", "--no-stability"), 4, str(ro / "out"))
        assert not list(ro.iterdir())


def test_a_full_disk(cli, small_export, tmp_path):
    with full_disk(tmp_path / "full") as full:
        if full is None:  # no mount: the process may not write more than 4 KiB per file
            limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # noqa: E731
            target = tmp_path / "f.parquet"
            done = subprocess.run([sys.executable, "-m", "custseg", "features", small_export, "-o", target],
                                  capture_output=True, text=True, preexec_fn=limit)
            assert done.returncode == 4 and "Traceback" not in done.stderr, done.stderr
            assert not target.exists()
            return
        for name in ("f.csv", "f.parquet"):
            line = assert_refused(cli("features", small_export, "-o", full / name), 4, f"cannot write {full / name}")
            assert "no space left" in line
        (full / "out").mkdir()
        (full / "out" / "model.json").write_text("previous\n")
        before = snapshot(full)
        assert_refused(cli("run", small_export, "-o", full / "out", "--no-stability"), 4, "no space left", str(full / "out"))
        assert snapshot(full) == before


def test_a_file_where_a_folder_is_needed(cli, small_export, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("a file\n")
    before = snapshot(tmp_path)
    assert_refused(cli("features", small_export, "-o", afile / "f.csv"), 4, str(afile / "f.csv"), "not a folder")
    assert_refused(cli("run", small_export, "-o", afile, "--no-stability"), 4, str(afile), "not a folder")
    assert_refused(cli("validate", small_export, "--json", afile / "sub" / "v.json"), 4, "not a folder")
    assert snapshot(tmp_path) == before


def test_monitor_cannot_write_its_record_exit_4_not_1(cli, small_export, tmp_path):
    from custseg.features import features
    from custseg.segment import fit

    fit(features(small_export, "2018-03-01"), "2018-03-01", k=3, seed=0).save(tmp_path / "model.json")
    afile = tmp_path / "afile"
    afile.write_text("a file\n")
    assert_refused(cli("monitor", tmp_path / "model.json", small_export, "--as-of", "2018-06-01", "--seeds", "2",
                       "-o", afile / "rec.json"), 4, str(afile / "rec.json"))


def test_a_long_legal_file_name_is_written_without_overflowing_its_temporary_name(cli, small_export, tmp_path):
    target = tmp_path / ("x" * 245 + ".csv")  # 249 bytes: legal; the old temporary name was 260
    made = cli("features", small_export, "-o", target)
    assert made.code == 0, made.stderr
    assert target.is_file() and [p.name for p in tmp_path.iterdir()] == [target.name]
    too_long = tmp_path / ("y" * 300 + ".csv")
    assert_refused(cli("features", small_export, "-o", too_long), 4, "too long")


def test_outputs_never_overwrite_inputs(cli, small_export, tmp_path):
    before = snapshot(small_export)
    assert_refused(cli("features", small_export, "-o", small_export / "olist_orders_dataset.csv"), 2,
                   "olist_orders_dataset.csv", "inside the input directory")
    assert_refused(cli("validate", small_export, "--json", small_export / "v.json"), 2, "inside the input directory")
    assert_refused(cli("run", small_export, "-o", small_export, "--no-stability"), 2, "is an input being read")
    assert_refused(cli("run", small_export, "-o", small_export / "out", "--no-stability"), 2, "inside the input directory")
    assert snapshot(small_export) == before
    table = tmp_path / "f.parquet"
    assert cli("features", small_export, "-o", table).code == 0
    from custseg.features import read_feature_table
    from custseg.segment import fit

    fit(read_feature_table(table), "2018-09-01", k=3, seed=0).save(tmp_path / "model.json")
    kept = snapshot(tmp_path)
    assert_refused(cli("assign", tmp_path / "model.json", table, "-o", table), 2, "is an input being read")
    assert snapshot(tmp_path) == kept
