"""Benchmark: the full model search (``custseg fit``) and assignment, against one bare k-means fit.

On the real Olist export (``../shared/olist``, 93k customers as of 2018-09-01) when present, else
on synthetic data of ``--customers`` people (generated once under ``bench-output/``):

* the baseline: the default preprocessing and one scikit-learn ``KMeans(k=5, n_init=10)`` on
  everyone, the least a segmentation costs;
* ``custseg.fit(table, as_of)`` with its defaults: k-means, GMM, Ward and HDBSCAN over k = 2..10,
  10 bootstrap refits each, silhouettes, descriptions;
* ``model.assign_features`` on the feature table repeated to ``--assign-rows`` rows (chunked).

It prints seconds (wall and CPU of this process), the chosen model and the assignment
throughput. Targets: the full search in under 60 s on 2 cores; assignment of 1M customers in
under 10 s. Run: ``.venv/bin/python benchmarks/fit.py [--customers 100000] [--jobs 2]``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OLIST = ROOT.parent / "shared" / "olist"
CACHE = ROOT / "bench-output"
TARGET_FIT_SECONDS = 60.0
TARGET_ASSIGN_SECONDS = 10.0


def timed(call):
    """(result, wall seconds, CPU seconds of this process) of ``call()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def feature_table(customers: int) -> tuple[pd.DataFrame, str, str]:
    from custseg.features import features
    from custseg.synth import generate

    if (OLIST / "olist_orders_dataset.csv").is_file():
        return features(OLIST, "2018-09-01"), "2018-09-01", f"real Olist export ({OLIST})"
    data = CACHE / f"synth-{customers}"
    if not (data / "truth.csv").is_file():
        summary = generate(data, customers=customers, seed=0)
        as_of = summary.end.isoformat()
    else:
        as_of = "2018-09-01"
    return features(data, as_of), as_of, f"synthetic, {customers:,} customers ({data})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="synthetic customers when Olist is absent")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the search")
    parser.add_argument("--assign-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from sklearn.cluster import KMeans

    from custseg.segment import default_features, fit, fit_preprocessing

    (table, as_of, source), wall, _ = timed(lambda: feature_table(args.customers))
    print(f"data: {source}; {len(table):,} customers as of {as_of} (features in {wall:.1f} s)")

    def baseline():
        prep = fit_preprocessing(table, default_features(table))
        return KMeans(5, n_init=10, random_state=0).fit(prep.transform(table))

    _, base_wall, base_cpu = timed(baseline)
    model, fit_wall, fit_cpu = timed(lambda: fit(table, as_of, n_jobs=args.jobs))
    print(f"baseline (preprocessing + one KMeans k=5, n_init=10): {base_wall:6.1f} s wall, {base_cpu:6.1f} s CPU")
    print(f"custseg fit (full search, n_jobs={args.jobs}):          {fit_wall:6.1f} s wall, {fit_cpu:6.1f} s CPU "
          f"(main process), {fit_wall / base_wall:.0f}x the baseline; target < {TARGET_FIT_SECONDS:.0f} s: "
          f"{'met' if fit_wall < TARGET_FIT_SECONDS else 'MISSED'}")
    print(f"chosen: {model.algorithm}, k={model.k}: " + "; ".join(
        f"{s['name']} ({s['share']:.1%})" for s in model.segments))

    repeat = int(np.ceil(args.assign_rows / len(table)))
    big = pd.concat([table] * repeat, ignore_index=True).iloc[: args.assign_rows]
    _, assign_wall, _ = timed(lambda: model.assign_features(big))
    print(f"assign {len(big):,} customers: {assign_wall:.1f} s ({len(big) / assign_wall:,.0f} per second); "
          f"target < {TARGET_ASSIGN_SECONDS:.0f} s: {'met' if assign_wall < TARGET_ASSIGN_SECONDS else 'MISSED'}")


if __name__ == "__main__":
    main()
