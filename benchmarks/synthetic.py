"""Synthetic benchmark data, generated once and cached outside the repository (shared by the benchmarks).

The cache is ``$CUSTSEG_BENCH_DATA`` when set, else ``~/.cache/custseg-bench``: several gigabytes
at 5M and 10M orders, kept out of every working copy and shared by them. A dataset is generated
into a temporary folder and renamed into place when complete, under a lock, so that two benchmarks
started at once generate it once and never read half a dataset.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

CACHE = Path(os.environ.get("CUSTSEG_BENCH_DATA", Path.home() / ".cache" / "custseg-bench"))


def synthetic_data(orders: int) -> Path:
    """A cached synthetic dataset of about ``orders`` orders (generated on first use)."""
    from custseg.synth import customers_for_orders, generate

    data = CACHE / f"synth-{orders // 1000}k-orders"
    ready = data / "benchmark-ready.json"
    if ready.is_file():
        return data
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{data.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.is_file():  # made by another process while this one waited
            return data
        customers = customers_for_orders(orders)
        print(f"generating {customers:,} customers (~{orders:,} orders) into {data} ...", flush=True)
        start = time.perf_counter()
        partial = CACHE / f".{data.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        summary = generate(partial, customers=customers, seed=0)
        (partial / ready.name).write_text(json.dumps({"customers": customers, "orders": summary.orders,
                                                      "generate_seconds": round(time.perf_counter() - start, 1)}))
        shutil.rmtree(data, ignore_errors=True)
        partial.rename(data)
    return data


def bare_scan(data: Path) -> int:
    """Rows of every CSV of ``data`` as DuckDB reads them in full (the baseline's work)."""
    import duckdb

    con = duckdb.connect()
    rows = 0
    for csv in sorted(data.glob("*.csv")):
        if csv.name == "truth.csv":
            continue
        relation = f"read_csv('{csv}', header = true, quote = '\"', escape = '\"')"
        last = con.execute(f"SELECT * FROM {relation} LIMIT 0").description[-1][0]
        rows += con.execute(f'SELECT count("{last}") FROM {relation}').fetchone()[0]
    return rows
