"""Benchmark: ``custseg features`` beside DuckDB's bare scan and two peers computing the same table.

For synthetic Olist data of about 1M and 5M orders (generated once by ``custseg.synth`` and
cached outside the repository, see ``synthetic.py``), each of these runs as a whole process,
``--repeat`` times, interleaved (so that other load on a shared machine hits them alike):

* **scan**: DuckDB reading every CSV in full (``count`` of each file's last column), the floor;
* **custseg**: ``custseg features DATA --as-of D -o features.parquet``, the command as users run it
  (the checked load, the feature query, the written table), within the memory budget that follows
  the machine; **custseg 3GB**: the same with ``CUSTSEG_DUCKDB_MEMORY=3GB``; **custseg cached**: the
  same with ``CUSTSEG_CACHE`` set, after a first such command (shown once, as **custseg, writing the
  copy**) has kept the typed copy of the data: what the next command on unchanged files costs;
* **polars**: ``features_polars.py``, the same feature table as one lazy Polars plan;
* **pandas**: ``features_pandas.py``, the same table as a notebook computes it (up to
  ``--pandas-max-orders``, 1M by default: it needs about 3 GB per million orders).

Every output is read back and compared (customers and the sums of frequency and monetary). It
prints medians of wall seconds, CPU seconds (user + system of the process and its threads) and
peak RSS, and each as a ratio to the scan's median. Targets: custseg within 3.5x the scan at 1M
orders, 7x at 5M with a peak RSS under 6 GB.

Run: ``.venv/bin/python benchmarks/features.py [--orders 1000000,5000000] [--repeat 3]``
(``pip install -e '.[bench]'`` for Polars).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthetic import bare_scan, synthetic_data

HERE = Path(__file__).resolve().parent
TARGETS = {1_000_000: (3.5, None), 5_000_000: (7.0, 6.0)}  # orders: (wall ratio, peak RSS GB)


def commands(data: Path, as_of: str, out: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The measured processes: name -> (command line, extra environment)."""
    python = sys.executable
    custseg = [python, "-m", "custseg", "features", str(data), "--as-of", as_of, "-o", str(out / "custseg.parquet")]
    return {
        "scan": ([python, __file__, "--scan", str(data)], {}),
        "custseg": (custseg, {}),
        "custseg 3GB": (custseg[:-1] + [str(out / "custseg-3gb.parquet")], {"CUSTSEG_DUCKDB_MEMORY": "3GB"}),
        # the next command on unchanged files, from the typed copy a first command kept (ingest.cache)
        "custseg cached": (custseg[:-1] + [str(out / "custseg-cached.parquet")], {"CUSTSEG_CACHE": str(out / "cache")}),
        "polars": ([python, str(HERE / "features_polars.py"), str(data), as_of, str(out / "polars.parquet")], {}),
        "pandas": ([python, str(HERE / "features_pandas.py"), str(data), as_of, str(out / "pandas.parquet")], {}),
    }


def run_once(argv: list[str], env: dict[str, str]) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MB) of one process running ``argv``."""
    environ = {k: v for k, v in os.environ.items() if k != "CUSTSEG_DUCKDB_MEMORY"}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env={**environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def outputs_agree(out: Path) -> dict[str, tuple]:
    """Per written table: customers, sum of frequency, sum of monetary (rounded to cents)."""
    import duckdb

    found = {}
    for path in sorted(out.glob("*.parquet")):
        n, f, m = duckdb.sql(f"SELECT count(*), sum(frequency), round(sum(monetary), 2) FROM '{path}'").fetchall()[0]
        found[path.stem] = (n, int(f), float(m))
    return found


def latest_day(data: Path) -> str:
    """The day after the latest purchase: the as-of date every process is given."""
    import duckdb

    day = duckdb.sql(f"SELECT CAST(max(order_purchase_timestamp) AS DATE) + 1 FROM read_csv("
                     f"'{data / 'olist_orders_dataset.csv'}', header=true)").fetchall()[0][0]
    return day.isoformat()


#: The first command with ``CUSTSEG_CACHE`` set: it loads the files and writes the typed copy.
COLD = "custseg, writing the copy"


def measure(orders: int, repeat: int, only: list[str] | None, pandas_max: int) -> dict:
    data = synthetic_data(orders)
    as_of = latest_day(data)
    with tempfile.TemporaryDirectory(prefix="custseg-bench-") as tmp:
        out = Path(tmp)
        todo = {k: v for k, v in commands(data, as_of, out).items() if not only or k in only or k == "scan"}
        if orders > pandas_max:  # pandas holds every table several times over: ~3 GB per 1M orders
            todo.pop("pandas", None)
        run_once(*todo["scan"])  # warm the page cache: every process reads the files from memory
        runs: dict[str, list[dict]] = {name: [] for name in todo}
        if "custseg cached" in todo:  # the first command loads the files and writes the copy
            first = run_once(*todo["custseg cached"])
            runs = {name: [] for name in todo if name != "custseg cached"}
            runs.update({COLD: [first], "custseg cached": []})
        for _ in range(repeat):
            for name in [n for n in runs if n != COLD]:
                runs[name].append(run_once(*todo[name]))
        agree = outputs_agree(out)
    ready = json.loads((data / "benchmark-ready.json").read_text())
    medians = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss_mb")}
               for name, rs in runs.items()}
    return {"data": data.name, "orders": ready["orders"], "as_of": as_of, "medians": medians, "runs": runs,
            "outputs": agree, "size_mb": sum(f.stat().st_size for f in data.glob("*.csv")) / 1e6}


def print_report(results: list[dict], repeat: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160, force_terminal=False)
    for r in results:
        table = Table(title=f"{r['data']}: {r['orders']:,} orders, {r['size_mb']:,.0f} MB of CSV, as of {r['as_of']} "
                            f"(medians of {repeat} runs, whole processes)")
        for column in ("process", "wall s", "CPU s", "peak RSS GB", "wall / scan", "CPU / scan", "customers"):
            table.add_column(column, justify="right")
        base = r["medians"]["scan"]
        for name, m in r["medians"].items():
            stem = {COLD: "custseg-cached"}.get(name, name.replace(" 3GB", "-3gb").replace(" cached", "-cached"))
            customers = r["outputs"].get(stem, ("",))[0]
            table.add_row(name, f"{m['wall']:.2f}", f"{m['cpu']:.2f}", f"{m['rss_mb'] / 1024:.2f}",
                          f"{m['wall'] / base['wall']:.2f}x", f"{m['cpu'] / base['cpu']:.2f}x",
                          f"{customers:,}" if customers != "" else "")
        console.print(table)
        sums = set(r["outputs"].values())
        console.print(f"outputs {'agree' if len(sums) == 1 else 'DIFFER'}: {r['outputs']}")
        ratio, rss = TARGETS.get(r["orders"] // 1_000_000 * 1_000_000, (None, None))
        c = r["medians"].get("custseg")
        if ratio and c:
            met = c["wall"] / base["wall"] <= ratio and (rss is None or c["rss_mb"] / 1024 < rss)
            console.print(f"target: custseg <= {ratio}x the scan" + (f", peak RSS < {rss} GB" if rss else "")
                          + f": {'met' if met else 'MISSED'}")
    console.print("Wall seconds suffer when other processes share the cores; CPU seconds much less.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", default="1000000,5000000", help="comma-separated dataset sizes in orders")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each process (the median is shown)")
    parser.add_argument("--only", help="comma-separated processes to run besides the scan (e.g. custseg,polars)")
    parser.add_argument("--pandas-max-orders", type=int, default=1_000_000,
                        help="run the pandas peer only up to this size (it needs ~3 GB per 1M orders)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this JSON file")
    parser.add_argument("--scan", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scan:
        print(bare_scan(args.scan))
        return
    only = args.only.split(",") if args.only else None
    results = []
    for n in args.orders.split(","):  # each size reported (and saved) as soon as it is measured
        results.append(measure(int(n), args.repeat, only, args.pandas_max_orders))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        print_report(results[-1:], args.repeat)


if __name__ == "__main__":
    main()
