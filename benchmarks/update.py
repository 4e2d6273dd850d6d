"""Benchmark: ``custseg update`` on an unchanged day at 1M orders, from files and from PostgreSQL.

An unchanged day is the scheduler's usual one: the monitor's decision for the live model and the
assignment of every customer, no re-train. For synthetic Olist data of about 1M orders (cached,
shared with the other benchmarks) loaded into a temporary PostgreSQL cluster (Debian's package, as
the tests start it), it measures, each in a fresh process (its own peak RSS):

* ``update (files)``: ``custseg update DATA --state S --as-of D`` on a copy of a prepared state;
* ``update (postgres)``: the same with DATA a ``postgresql://`` URL of the same tables;

and, in the same run, the baselines of reading the same data:

* ``scan (files)``: DuckDB reading every CSV in full (as ``benchmarks/scale.py``);
* ``COPY TO STDOUT``: PostgreSQL's bare ``COPY (SELECT <the columns update reads>) TO STDOUT`` of
  the same tables, every byte received by the client (psycopg) and discarded.

The prepared state holds a model fitted at D - 7 days (k = 5, k-means, no backtest); the decision
uses ``--threshold floor`` so that the day stays unchanged (re-training noise is not a trigger).
Each update runs ``--repeat`` times per source, alternating the sources; the fastest run of each
is shown (every run is in the JSON). Prints the figures and the ratios; writes ``bench-output/update/results.json``. On a shared
machine, the figures vary with the other load: compare the ratios, measured in the same run.

Run: ``.venv/bin/python benchmarks/update.py [--orders 1000000] [--as-of 2018-08-08]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from synthetic import bare_scan, synthetic_data

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-output" / "update"
sys.path.insert(0, str(ROOT / "tests"))

import pgserver  # (the tests' server: Debian's PostgreSQL in a temporary cluster)

CUSTSEG = [sys.executable, "-m", "custseg"]
DECISION = ["--threshold", "floor"]


def measured(argv: list[str], log: Path) -> dict:
    """Seconds and peak RSS of ``argv`` in its own process."""
    start = time.perf_counter()
    with log.open("w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "160", "NO_COLOR": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv[2:4])} failed ({code}): see {log}")
    return {"seconds": round(time.perf_counter() - start, 2), "peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2)}


def copy_to_stdout(url: str, schema: str) -> dict:
    """Seconds and bytes of ``COPY (SELECT <update's columns>) TO STDOUT`` of every table update reads."""
    import psycopg
    from psycopg import sql

    from custseg.schema import FEATURE_COLUMNS, TABLES

    received = 0
    start = time.perf_counter()
    with psycopg.connect(url) as conn:
        for name, columns in FEATURE_COLUMNS.items():
            spec = TABLES[name]
            wanted = list(dict.fromkeys([*columns, *spec.primary_key, *spec.required]))
            query = sql.SQL("COPY (SELECT {} FROM {}.{}) TO STDOUT").format(
                sql.SQL(", ").join(map(sql.Identifier, wanted)), sql.Identifier(schema), sql.Identifier(spec.stem))
            with conn.cursor().copy(query) as copy:
                for chunk in copy:
                    received += len(chunk)
    return {"seconds": round(time.perf_counter() - start, 2), "bytes": received}


def run(orders: int, day: date, repeat: int = 2) -> dict:
    data = synthetic_data(orders)
    out = OUT / data.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server = pgserver.start()
    try:
        start = time.perf_counter()
        pgserver.load_export(server.url_with_password, data, "bench")
        loaded = round(time.perf_counter() - start, 1)
        with __import__("psycopg").connect(server.url_with_password, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        url = f"{server.url_with_password}?schema=bench"
        prepared = out / "prepared"
        prep = measured([*CUSTSEG, "update", str(data), "--state", str(prepared), "--as-of",
                         (day - timedelta(days=7)).isoformat(), "--no-backtest", "--k", "5", "--algorithm", "kmeans",
                         *DECISION], out / "prepare.log")
        results: dict = {"orders": orders, "as_of": day.isoformat(), "postgres_load_seconds": loaded,
                         "prepare": prep}
        results["scan (files)"] = {"seconds": round(_timed(bare_scan, data), 2)}
        results["COPY TO STDOUT"] = copy_to_stdout(server.url_with_password, "bench")
        sources = {"files": str(data), "postgres": url}
        # alternated (files, postgres, postgres, files, ...): both meet the same share of the machine's other load
        order = [name for i in range(repeat) for name in (("files", "postgres") if i % 2 == 0 else ("postgres", "files"))]
        for run_number, name in enumerate(order):
            state = out / f"state-{name}-{run_number}"
            shutil.copytree(prepared, state)
            log = out / f"update-{name}-{run_number}.log"
            figures = measured([*CUSTSEG, "update", sources[name], "--state", str(state), "--as-of", day.isoformat(),
                                *DECISION], log)
            record = json.loads((state / "history.jsonl").read_text().splitlines()[-1])
            assert not record["retrained"], f"{name}: the day re-trained ({record['decision']['reasons']})"
            assert pgserver.PASSWORD not in log.read_text() + (state / "history.jsonl").read_text()
            runs = results.setdefault(f"update ({name})", {"runs": []})["runs"]
            runs.append({**figures, "durations": record["durations"], "customers": record["customers"]})
        for name in sources:  # the fastest run of each: the one least slowed by other processes
            runs = results[f"update ({name})"]["runs"]
            results[f"update ({name})"].update(min(runs, key=lambda r: r["seconds"]))
    finally:
        server.remove()
    return results


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def print_report(r: dict) -> None:
    files, pg = r["update (files)"], r["update (postgres)"]
    scan, copy = r["scan (files)"]["seconds"], r["COPY TO STDOUT"]["seconds"]
    print(f"\nupdate on an unchanged day, {r['orders']:,} orders ({files['customers']:,} customers), as of {r['as_of']}")
    print(f"{'':28}{'seconds':>9}{'peak GB':>9}  inside update (s); fastest of {len(files['runs'])} runs")
    for name in ("update (files)", "update (postgres)"):
        fig = r[name]
        inside = ", ".join(f"{k} {v}" for k, v in fig["durations"].items())
        print(f"{name:28}{fig['seconds']:>9.1f}{fig['peak_rss_gb']:>9.2f}  {inside}")
    print(f"{'scan (files)':28}{scan:>9.1f}")
    print(f"{'COPY TO STDOUT (postgres)':28}{copy:>9.1f}   ({r['COPY TO STDOUT']['bytes'] / 1e6:,.0f} MB received)")
    print(f"\nupdate (files) / scan: {files['seconds'] / scan:.1f}x; update (postgres) / COPY TO STDOUT: "
          f"{pg['seconds'] / copy:.1f}x; update postgres / files: {pg['seconds'] / files['seconds']:.2f}x")
    print(f"load of the CSVs into PostgreSQL (setup, not measured above): {r['postgres_load_seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--as-of", default="2018-08-08", help="the unchanged day (the model is fitted 7 days before)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of update per source (the fastest is shown)")
    args = parser.parse_args()
    results = run(args.orders, date.fromisoformat(args.as_of), args.repeat)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)


if __name__ == "__main__":
    main()
