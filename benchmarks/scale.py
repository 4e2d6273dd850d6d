"""Benchmark: custseg's steps on one machine at 1M and 10M orders, beside DuckDB's bare scan.

For synthetic Olist data of about 1M and 10M orders (``custseg.synth``, seed 0, generated once and
cached outside the repository, shared with ``benchmarks/features.py``: see ``synthetic.py``), every step runs as a user
runs it, the ``custseg`` command in a fresh process, so that each step's peak RSS is its own:

* ``scan``: the baseline, DuckDB reading every CSV of the data in full (count of each file's last
  column), measured in the same run on the same files;
* ``features``: ``custseg features DATA -o features.parquet``;
* ``fit``: ``custseg fit DATA -o model.json`` (default search; the fit sample is 200,000 customers);
* ``assign``: ``custseg assign model.json features.parquet -o segments.parquet`` (the feature table
  written by ``features``; ``assign+features`` is the same from DATA);
* ``stability``: ``custseg stability DATA -o stability.json`` (12 monthly steps, the defaults);
* ``run``: ``custseg run DATA -o OUT`` (the whole job), when the command exists.

Targets on 2 cores: features within 3x the bare scan, peak RSS under 6 GB for every step, assign
under 60 s, run under 15 minutes. It prints a table per size and how each figure grows from the
smallest size to the largest, and writes ``bench-output/scale/results.json``.

Run: ``.venv/bin/python benchmarks/scale.py [--orders 1000000,10000000] [--steps scan,features,...]``;
``--report`` prints the figures of earlier runs again, both sizes side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from synthetic import bare_scan, synthetic_data

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench-output"
OUT = CACHE / "scale"
STEPS = ("scan", "features", "fit", "assign", "assign+features", "stability", "run")
TARGET_SCAN_RATIO = 3.0
TARGET_RSS_GB = 6.0
TARGET_SECONDS = {"assign": 60.0, "run": 15 * 60.0}


def command(step: str, data: Path, out: Path) -> list[str] | None:
    """The command line of ``step`` on ``data``, writing into ``out``; None when custseg lacks it."""
    custseg = [sys.executable, "-m", "custseg"]
    return {
        "scan": [sys.executable, __file__, "--scan", str(data)],
        "features": [*custseg, "features", str(data), "-o", str(out / "features.parquet")],
        "fit": [*custseg, "fit", str(data), "-o", str(out / "model.json")],
        "assign": [*custseg, "assign", str(out / "model.json"), str(out / "features.parquet"),
                   "-o", str(out / "segments.parquet")],
        "assign+features": [*custseg, "assign", str(out / "model.json"), str(data),
                            "-o", str(out / "segments-from-data.parquet")],
        "stability": [*custseg, "stability", str(data), "-o", str(out / "stability.json")],
        "run": [*custseg, "run", str(data), "-o", str(out / "run")],
    }[step]


def has_command(name: str) -> bool:
    proc = subprocess.run([sys.executable, "-m", "custseg", name, "--help"], capture_output=True, check=False)
    return proc.returncode == 0


def measured(step: str, data: Path, out: Path) -> dict:
    """Seconds and peak RSS of ``step`` in its own process (wait4 gives that process's peak)."""
    argv = command(step, data, out)
    log = out / f"{step}.log"
    start = time.perf_counter()
    with log.open("w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "160", "NO_COLOR": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    result = {"seconds": round(seconds, 1), "peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2), "exit": code}
    if code != 0:
        result["error"] = log.read_text(errors="replace").strip().splitlines()[-1:]
    return result


def run_size(orders: int, steps: list[str]) -> dict:
    data = synthetic_data(orders)
    out = OUT / data.name
    out.mkdir(parents=True, exist_ok=True)
    facts = json.loads((data / "benchmark-ready.json").read_text())
    results = {"data": data.name, "orders": facts["orders"], "customers": facts["customers"],
               "csv_gb": round(sum(f.stat().st_size for f in data.glob("*.csv")) / 1e9, 2), "steps": {}}
    if "scan" in steps:
        measured("scan", data, out)  # warm the page cache: every step then reads from memory alike
    for step in steps:
        if step == "run" and not has_command("run"):
            results["steps"][step] = {"skipped": "custseg has no run command"}
            continue
        print(f"{data.name}: {step} ...", flush=True)
        results["steps"][step] = measured(step, data, out)
        print(f"  {results['steps'][step]}", flush=True)
        # kept as it goes: a long run that is stopped still leaves its figures
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def verdicts(size: dict) -> dict[str, str]:
    """Per step, the targets it meets or misses."""
    steps, notes = size["steps"], {}
    scan = steps.get("scan", {}).get("seconds")
    for name, r in steps.items():
        if "seconds" not in r:
            notes[name] = r.get("skipped", "")
            continue
        parts = []
        if r["exit"] != 0:
            parts.append(f"FAILED (exit {r['exit']})")
        parts.append(f"RSS {'ok' if r['peak_rss_gb'] < TARGET_RSS_GB else 'MISSED'}")
        if name == "features" and scan:
            ratio = r["seconds"] / scan
            parts.append(f"{ratio:.1f}x scan {'ok' if ratio <= TARGET_SCAN_RATIO else 'MISSED'}")
        if name in TARGET_SECONDS:
            parts.append(f"time {'ok' if r['seconds'] <= TARGET_SECONDS[name] else 'MISSED'}")
        notes[name] = ", ".join(parts)
    return notes


def print_report(sizes: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for size in sizes:
        table = Table(title=f"{size['data']}: {size['orders']:,} orders, {size['customers']:,} customers, "
                            f"{size['csv_gb']} GB of CSV (each step in its own process, 2 cores)")
        for column in ("step", "seconds", "peak RSS GB", "targets"):
            table.add_column(column, justify="left" if column in ("step", "targets") else "right")
        notes = verdicts(size)
        for name, r in size["steps"].items():
            table.add_row(name, f"{r['seconds']:.1f}" if "seconds" in r else "-",
                          f"{r['peak_rss_gb']:.2f}" if "peak_rss_gb" in r else "-", notes[name])
        console.print(table)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        growth = Table(title=f"growth from {small['data']} to {large['data']} "
                             f"(orders x{large['orders'] / small['orders']:.1f})")
        for column in ("step", "seconds x", "peak RSS x"):
            growth.add_column(column, justify="left" if column == "step" else "right")
        for name, r in large["steps"].items():
            s = small["steps"].get(name, {})
            if "seconds" in r and "seconds" in s and s["seconds"] > 0:
                growth.add_row(name, f"{r['seconds'] / s['seconds']:.1f}", f"{r['peak_rss_gb'] / s['peak_rss_gb']:.1f}")
        console.print(growth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", default="1000000,10000000", help="comma-separated dataset sizes in orders")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated steps of {', '.join(STEPS)}")
    parser.add_argument("--report", action="store_true",
                        help="print the figures of earlier runs (bench-output/scale/*/results.json), run nothing")
    parser.add_argument("--scan", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scan:
        bare_scan(Path(args.scan))
        return
    if args.report:
        earlier = [json.loads(p.read_text()) for p in OUT.glob("*/results.json")]
        print_report(sorted(earlier, key=lambda size: size["orders"]))
        return
    steps = [s for s in STEPS if s in args.steps.split(",")]
    sizes = [run_size(int(n), steps) for n in args.orders.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(sizes, indent=2) + "\n")
    print_report(sizes)


if __name__ == "__main__":
    main()
