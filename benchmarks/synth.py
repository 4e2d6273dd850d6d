"""Benchmark: synthetic data generation (``custseg.synth.generate``) against copying its output.

For each size (about ``--orders`` orders, default 10k customers worth and 1M orders), measure in a
fresh subprocess:

* ``generate(dir, customers, seed=0)``: seconds and peak RSS;
* the baseline: ``shutil.copytree`` of the files it wrote, the least any writer of the same bytes
  pays on this disk.

It prints seconds, peak RSS, megabytes written and the ratio. Targets: 5M orders in under 5
minutes with peak RSS under 1 GB (generation is chunked, so memory does not grow with size).
Run: ``.venv/bin/python benchmarks/synth.py [--orders 11380,1000000,5000000]``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_SECONDS_5M = 300
TARGET_RSS_MB = 1024

_CHILD = """
import json, resource, shutil, sys, time
from custseg.synth import customers_for_orders, generate
orders, out, copy = int(sys.argv[1]), sys.argv[2], sys.argv[3]
customers = customers_for_orders(orders)
start = time.perf_counter()
summary = generate(out, customers=customers, seed=0)
generated = time.perf_counter()
shutil.copytree(out, copy)
copied = time.perf_counter()
print(json.dumps({"customers": customers, "orders": summary.orders, "seconds": generated - start,
                  "copy_seconds": copied - generated,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(orders: int) -> dict:
    """Seconds, peak RSS and bytes of generating about ``orders`` orders, and of copying them."""
    with tempfile.TemporaryDirectory(prefix="custseg-bench-synth-") as tmp:
        out, copy = Path(tmp) / "data", Path(tmp) / "copy"
        run = subprocess.run([sys.executable, "-c", _CHILD, str(orders), str(out), str(copy)],
                             capture_output=True, text=True, check=True)
        result = json.loads(run.stdout)
        result["megabytes"] = sum(p.stat().st_size for p in out.iterdir()) / 1e6
        shutil.rmtree(copy)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="11380,1000000", help="comma-separated order counts")
    args = parser.parse_args()
    print(f"{'orders':>10} {'customers':>10} {'MB':>7} {'generate s':>11} {'copy s':>7} {'ratio':>6} {'peak RSS MB':>12}")
    for orders in (int(n) for n in args.orders.split(",")):
        r = measure(orders)
        ratio = r["seconds"] / max(r["copy_seconds"], 1e-9)
        print(f"{r['orders']:>10,} {r['customers']:>10,} {r['megabytes']:>7.0f} {r['seconds']:>11.2f} "
              f"{r['copy_seconds']:>7.2f} {ratio:>6.1f} {r['peak_rss_mb']:>12.0f}")
    print(f"targets: 5M orders under {TARGET_SECONDS_5M} s, peak RSS under {TARGET_RSS_MB} MB")


if __name__ == "__main__":
    main()
