"""Benchmark: load + customer features against DuckDB's bare scan of the same files.

For synthetic Olist data of about 1M and 5M orders (generated once by ``custseg.synth`` and
cached under ``bench-output/``), measure in a fresh subprocess each:

* the baseline: DuckDB reading every CSV in full (``count`` of each file's last column);
* what ``custseg features`` does: the contract load of the tables and columns the features read
  (``FEATURE_COLUMNS``, with the same refusals as a full load), then the feature query, into a
  pandas DataFrame;
* for reference, the floor: the same query on the files read straight into typed tables, with no
  contract (ids as text, nothing checked, no pandas), within the same memory budget.

It prints seconds, peak RSS and the ratio. Targets: features within 3x the bare scan; peak RSS
under 4 GB at 5M orders. Run: ``.venv/bin/python benchmarks/features.py [--orders 1000000,5000000]``.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from synthetic import synthetic_data

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench-output"
TARGET_RATIO = 3.0
TARGET_RSS_GB = 4.0


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_scan(data: Path) -> dict:
    """Seconds and peak RSS of DuckDB reading every CSV of ``data`` in full."""
    import duckdb

    con = duckdb.connect()
    start, cpu_start = time.perf_counter(), cpu_seconds()
    rows = 0
    for csv in sorted(data.glob("*.csv")):
        if csv.name == "truth.csv":
            continue
        last = con.execute(f"SELECT * FROM read_csv('{csv}', header=true) LIMIT 0").description[-1][0]
        rows += con.execute(f"SELECT count(\"{last}\") FROM read_csv('{csv}', header=true)").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu_start,
            "peak_rss_mb": peak_rss_mb(), "rows": rows}


def measure_features(data: Path) -> dict:
    """Seconds (load, features, total) and peak RSS of loading ``data`` and computing its features."""
    from custseg.features import customer_features, default_as_of
    from custseg.ingest import load
    from custseg.schema import FEATURE_COLUMNS

    start, cpu_start = time.perf_counter(), cpu_seconds()
    ds = load(data, columns=FEATURE_COLUMNS)  # as custseg features (and fit, assign...) load DATA
    loaded = time.perf_counter()
    as_of = default_as_of(ds)
    table = customer_features(ds, as_of)
    done = time.perf_counter()
    return {
        "seconds": done - start,
        "cpu_seconds": cpu_seconds() - cpu_start,
        "load_seconds": loaded - start,
        "features_seconds": done - loaded,
        "peak_rss_mb": peak_rss_mb(),
        "customers": len(table),
        "orders": ds.rows["orders"],
        "as_of": as_of.isoformat(),
    }


def measure_floor(data: Path) -> dict:
    """Seconds of the feature query alone, with no contract: the files read with their types
    straight into tables (ids as text, nothing checked), within the same memory budget.

    Not something custseg offers (unchecked data); it shows what the computation itself costs
    beside the bare scan, whatever the load does.
    """
    from custseg.features import default_as_of, feature_sql, run_staged
    from custseg.ingest import connect, find_file
    from custseg.schema import FEATURE_COLUMNS, TABLES

    con = connect()
    start, cpu_start = time.perf_counter(), cpu_seconds()
    for name, wanted in FEATURE_COLUMNS.items():
        spec = TABLES[name]
        types = ", ".join(f"'{c}': '{t}'" for c, t in spec.columns.items() if c in wanted)
        select = ", ".join(f'"{c}"' for c in spec.columns if c in wanted)
        con.execute(f"CREATE TABLE {name} AS SELECT {select} FROM read_csv('{find_file(data, spec)}', "
                    f"header = true, types = {{{types}}}, quote = '\"', escape = '\"')")
    loaded = time.perf_counter()
    as_of = con.execute("SELECT CAST(max(order_purchase_timestamp) AS DATE) + 1 FROM orders").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    rows = run_staged(con, feature_sql(as_of)).num_rows
    done = time.perf_counter()
    return {"seconds": done - start, "cpu_seconds": cpu_seconds() - cpu_start, "load_seconds": loaded - start,
            "features_seconds": done - loaded, "peak_rss_mb": peak_rss_mb(), "customers": rows}


def in_subprocess(kind: str, data: Path) -> dict:
    """Run one measurement in a fresh interpreter, so that each peak RSS is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(data)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} measurement failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(orders: int) -> dict:
    data = synthetic_data(orders)
    in_subprocess("scan", data)  # warm the page cache so that both measurements read from memory
    scan = in_subprocess("scan", data)
    feats = in_subprocess("features", data)
    floor = in_subprocess("floor", data)
    size_mb = sum(f.stat().st_size for f in data.glob("*.csv")) / 1e6
    return {"data": data.name, "size_mb": size_mb, "scan": scan, "features": feats, "floor": floor,
            "ratio": feats["seconds"] / scan["seconds"], "cpu_ratio": feats["cpu_seconds"] / scan["cpu_seconds"],
            "floor_ratio": floor["seconds"] / scan["seconds"],
            "query_floor_ratio": floor["features_seconds"] / scan["seconds"]}


def print_report(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="custseg features vs DuckDB bare CSV scan (each in its own process)")
    for column in ("data", "orders", "customers", "CSV MB", "scan s", "scan CPU s", "scan RSS MB",
                   "load s", "features s", "load+features s", "CPU s", "RSS MB", "ratio", "CPU ratio"):
        table.add_column(column, justify="right")
    for r in rows:
        f, s = r["features"], r["scan"]
        table.add_row(r["data"], f"{f['orders']:,}", f"{f['customers']:,}", f"{r['size_mb']:,.0f}",
                      f"{s['seconds']:.1f}", f"{s['cpu_seconds']:.1f}", f"{s['peak_rss_mb']:,.0f}",
                      f"{f['load_seconds']:.1f}", f"{f['features_seconds']:.1f}", f"{f['seconds']:.1f}",
                      f"{f['cpu_seconds']:.1f}", f"{f['peak_rss_mb']:,.0f}", f"{r['ratio']:.2f}",
                      f"{r['cpu_ratio']:.2f}")
    # wall-clock seconds suffer when other processes share the cores; CPU seconds much less
    console = Console(width=200)
    console.print(table)
    for r in rows:
        fl = r["floor"]
        console.print(f"{r['data']}: without the contract (typed read, text ids, no checks) "
                      f"{fl['load_seconds']:.1f} s load + {fl['features_seconds']:.1f} s query = "
                      f"{r['floor_ratio']:.2f}x the scan; the query alone {r['query_floor_ratio']:.2f}x")
    for r in rows:
        ratio_ok = r["ratio"] <= TARGET_RATIO
        rss_ok = r["features"]["peak_rss_mb"] / 1024 <= TARGET_RSS_GB
        console.print(f"{r['data']}: ratio {r['ratio']:.2f} (target <= {TARGET_RATIO}: "
                      f"{'met' if ratio_ok else 'MISSED'}), peak RSS {r['features']['peak_rss_mb'] / 1024:.2f} GB "
                      f"(target <= {TARGET_RSS_GB} GB: {'met' if rss_ok else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", default="1000000,5000000", help="comma-separated dataset sizes in orders")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, data = args.measure
        measure = {"scan": measure_scan, "features": measure_features, "floor": measure_floor}[kind]
        print(json.dumps(measure(Path(data))))
        return
    print_report([report(int(n)) for n in args.orders.split(",")])


if __name__ == "__main__":
    main()
