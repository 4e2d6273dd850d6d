"""Benchmark: load + every contract check against DuckDB's bare scan of the same files.

For the real export (``../shared/olist``, when present) and synthetic data of about 1M orders
(generated once by ``custseg.synth``, cached outside the repository as in ``features.py``, see ``synthetic.py``),
measure in a fresh subprocess each:

* the baseline: DuckDB reading every CSV in full (``count`` of each file's last column), as in
  ``benchmarks/features.py``;
* a second baseline: DuckDB loading every CSV into a table with its own type detection, no checks;
* ``custseg.ingest.load(dir)``: typed tables of the nine files and all checks (what ``custseg
  validate`` does before printing).

Prints wall seconds, CPU seconds (all threads; steadier than wall time on a shared machine), peak
RSS and the ratios. Target: load within about 2x of the bare scan (materialising the tables alone
costs about 2x the count scan, so the load/table ratio shows what the checks and typing add).
Run: ``.venv/bin/python benchmarks/ingest.py [--orders 1000000] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import scan  # noqa: E402  (the bare scan features.py measures)
from synthetic import synthetic_data  # noqa: E402  (the shared data cache)

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("CUSTSEG_OLIST_DIR", ROOT.parent / "shared" / "olist"))
TARGET_RATIO = 2.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_load(data: Path) -> dict:
    """Seconds of ``load(data)`` (tables and checks), with the number of warnings found."""
    from custseg.ingest import load

    start, cpu = time.perf_counter(), cpu_seconds()
    ds = load(data)
    return {"seconds": time.perf_counter() - start, "cpu": cpu_seconds() - cpu,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "orders": ds.rows["orders"], "warnings": len(ds.warnings)}


def measure_scan_cpu(data: Path) -> dict:
    """Seconds of DuckDB reading every CSV of ``data`` in full (see ``features.scan``)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    rows = scan(data)
    return {"seconds": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "rows": rows,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_tables(data: Path) -> dict:
    """Seconds of DuckDB loading every CSV of ``data`` into a table, types detected, no checks."""
    import duckdb

    from custseg.schema import TABLES

    con = duckdb.connect()
    start, cpu = time.perf_counter(), cpu_seconds()
    for spec in TABLES.values():
        con.execute(f"CREATE TABLE {spec.name} AS SELECT * FROM read_csv('{data / spec.csv_name}', "
                    "header = true, quote = '\"', escape = '\"')")
    return {"seconds": time.perf_counter() - start, "cpu": cpu_seconds() - cpu}


def in_subprocess(kind: str, data: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--measure", kind, str(data)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} measurement failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(kind: str, data: Path, repeat: int) -> dict:
    """The fastest of ``repeat`` runs (the others were slowed down by something else)."""
    return min((in_subprocess(kind, data) for _ in range(repeat)), key=lambda r: r["seconds"])


MEASURES = {"scan": measure_scan_cpu, "tables": measure_tables, "load": measure_load}


def report(name: str, data: Path, repeat: int) -> dict:
    in_subprocess("scan", data)  # warm the page cache
    runs = {kind: best_of(kind, data, repeat) for kind in MEASURES}
    return {"data": name, **runs, "ratio": runs["load"]["seconds"] / runs["scan"]["seconds"],
            "cpu_ratio": runs["load"]["cpu"] / runs["scan"]["cpu"],
            "tables_cpu_ratio": runs["load"]["cpu"] / runs["tables"]["cpu"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="1000000", help="comma-separated synthetic sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, data = args.measure
        print(json.dumps(MEASURES[kind](Path(data))))
        return
    datasets = [("real Olist export", REAL)] if (REAL / "olist_orders_dataset.csv").is_file() else []
    datasets += [(f"synthetic, {int(n):,} orders", synthetic_data(int(n))) for n in args.orders.split(",")]
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"load + checks vs bare DuckDB (best of {args.repeat}; target: {TARGET_RATIO}x the scan)",
                  width=200)
    for col in ("data", "orders", "scan s", "tables s", "load s", "load/scan", "scan cpu s", "tables cpu s",
                "load cpu s", "load/scan cpu", "load/tables cpu", "load peak RSS MB", "warnings"):
        table.add_column(col, justify="left" if col == "data" else "right")
    for name, data in datasets:
        r = report(name, data, args.repeat)
        table.add_row(r["data"], f"{r['load']['orders']:,}", f"{r['scan']['seconds']:.2f}",
                      f"{r['tables']['seconds']:.2f}", f"{r['load']['seconds']:.2f}", f"{r['ratio']:.2f}x",
                      f"{r['scan']['cpu']:.2f}", f"{r['tables']['cpu']:.2f}", f"{r['load']['cpu']:.2f}",
                      f"{r['cpu_ratio']:.2f}x", f"{r['tables_cpu_ratio']:.2f}x",
                      f"{r['load']['peak_rss_mb']:.0f}", str(r["load"]["warnings"]))
    Console().print(table)


if __name__ == "__main__":
    main()
