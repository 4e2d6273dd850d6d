"""Synthetic benchmark data, generated once and cached in bench-output/ (shared by the benchmarks)."""
from __future__ import annotations

import json
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / "bench-output"


def synthetic_data(orders: int) -> Path:
    """A cached synthetic dataset of about ``orders`` orders."""
    from custseg.synth import customers_for_orders, generate

    data = CACHE / f"synth-{orders // 1000}k-orders"
    ready = data / "benchmark-ready.json"
    if ready.is_file():
        return data
    customers = customers_for_orders(orders)
    print(f"generating {customers:,} customers (~{orders:,} orders) into {data} ...", flush=True)
    start = time.perf_counter()
    summary = generate(data, customers=customers, seed=0)
    ready.write_text(json.dumps({"customers": customers, "orders": summary.orders,
                                 "generate_seconds": round(time.perf_counter() - start, 1)}))
    return data
