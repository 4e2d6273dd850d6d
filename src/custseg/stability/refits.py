"""Re-training: the reference model's procedure repeated at another date, and the agreement of labellings.

A re-train is the best of its starts by the algorithm's own objective (k-means: the lowest inertia
of ``n_init`` k-means++ starts; Gaussian mixture: the highest likelihood of ``n_init`` starts), so
the model compared with, and the one a re-train would deploy, is not a worse local optimum.
Ward and HDBSCAN are deterministic: one start.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from ..errors import InputError
from ..model import Preprocessing, SegmentModel, alignment
from ..segment import family_fits, fit_preprocessing, fit_sample, nearest

#: Decimals kept for statistics in the JSON: enough to compare, and stable bytes.
DECIMALS = 4
#: Starts per re-train (at least; more when the model was fitted with more). Ten k-means++ starts
#: make re-trains on Olist at k = 5 and k = 8 reproducible across seeds (same inertia to 0.1%);
#: the engine's three do not always (measured: see the README's stability section).
RETRAIN_STARTS = 10
#: Re-trains per date (the deployed re-train and bootstrap refits): the same for run, stability and monitor.
DEFAULT_REFITS = 5


def fixed_decimals(value: float) -> float:
    """``value`` rounded to :data:`DECIMALS` decimals (not significant digits, as the model file's
    floats: :func:`custseg.model.significant`), as a plain float (0.0 for a negative zero)."""
    return round(float(value), DECIMALS) + 0.0


def band(values: list[float] | np.ndarray) -> dict:
    """Summary of a set of agreement scores: n, mean, 5th and 95th percentiles, min, max."""
    x = np.asarray(values, dtype=float)
    if not x.size:
        return {"n": 0, "mean": None, "p05": None, "p95": None, "min": None, "max": None}
    return {
        "n": int(x.size),
        "mean": fixed_decimals(x.mean()),
        "p05": fixed_decimals(np.percentile(x, 5)),
        "p95": fixed_decimals(np.percentile(x, 95)),
        "min": fixed_decimals(x.min()),
        "max": fixed_decimals(x.max()),
    }


@dataclass(frozen=True)
class Procedure:
    """What a re-train repeats: the reference model's algorithm, k, features and fit settings.

    Read from the model's own record, so a re-train at t is the fit that produced the model,
    minus the search: same algorithm and k (HDBSCAN: same minimum cluster share), same features,
    preprocessing fitted afresh on the data at t, same fit sample rule; at least
    :data:`RETRAIN_STARTS` starts.
    """

    algorithm: str
    param: int | float
    features: tuple[str, ...]
    sample_size: int
    subsample: int
    n_init: int
    seed: int

    @classmethod
    def of(cls, model: SegmentModel, starts: int = RETRAIN_STARTS) -> Procedure:
        settings, choice = model.record["settings"], model.record["choice"]
        param = choice["param"] if choice["algorithm"] == "hdbscan" else int(choice["param"])
        return cls(choice["algorithm"], param, tuple(model.feature_names), int(settings["sample_size"]),
                   int(settings["subsample"]), max(int(settings["n_init"]), int(starts)), int(model.record["seed"]))


@dataclass(frozen=True)
class Refit:
    """A re-trained segmentation: its own preprocessing and centroids (model space)."""

    preprocessing: Preprocessing
    centroids: np.ndarray

    def labels(self, table: pd.DataFrame) -> np.ndarray:
        """Nearest-centroid segment (0..k-1) of every row of ``table``, with this refit's preprocessing."""
        return nearest(self.preprocessing.transform(table), self.centroids)


def best_centroids(x: np.ndarray, procedure: Procedure, seed: int) -> np.ndarray:
    """Centroids of the best of ``procedure.n_init`` starts on ``x`` by the algorithm's objective."""
    if procedure.algorithm == "gmm":
        # the engine's family fit has one start; a re-train takes the likeliest of n_init
        return GaussianMixture(int(procedure.param), covariance_type="full", reg_covar=1e-4,
                               n_init=procedure.n_init, random_state=seed).fit(x).means_
    # k-means: scikit-learn keeps the start with the lowest inertia
    return family_fits(x, procedure.algorithm, [procedure.param], seed, procedure.n_init)[procedure.param][0]


def refit(table: pd.DataFrame, as_of: date, procedure: Procedure, seed: int, resample: bool = False) -> Refit:
    """Fit ``procedure`` on ``table`` as of ``as_of`` with ``seed``; on a bootstrap resample if asked.

    The resample draws as many customers as there are, with replacement: the noise of a re-train
    on another sample of the same population, on top of the noise of the starts.
    """
    train = table
    if resample:
        rng = np.random.default_rng([seed, 11])
        train = table.iloc[np.sort(rng.integers(0, len(table), len(table)))].reset_index(drop=True)
    prep = fit_preprocessing(train, list(procedure.features))
    z = prep.transform(train)
    rows = fit_sample(train, as_of, procedure.sample_size, seed)
    if procedure.algorithm != "kmeans":
        # the engine fits the non-linear algorithms on a subsample of the fit sample
        rng = np.random.default_rng([seed, 12])
        rows = np.sort(rng.choice(rows, size=min(len(rows), procedure.subsample), replace=False))
    # one thread, as the engine's search: results do not depend on thread scheduling
    with threadpool_limits(limits=1):
        centroids = best_centroids(z[rows], procedure, seed)
    if len(centroids) < 2:
        raise InputError(f"re-training at {as_of} found fewer than 2 segments ({procedure.algorithm})")
    return Refit(prep, centroids)


def refits(table: pd.DataFrame, as_of: date, procedure: Procedure, count: int) -> list[Refit]:
    """The re-trained model (all customers, the model's seed) and ``count - 1`` bootstrap refits."""
    return [refit(table, as_of, procedure, procedure.seed + s, resample=s > 0) for s in range(count)]


def frozen_labels(model: SegmentModel, table: pd.DataFrame) -> np.ndarray:
    """The frozen model's segment ids for ``table``: its saved preprocessing and centroids, nothing refitted."""
    return model.assign_features(table)["segment_id"].to_numpy()


def aligned_ids(model: SegmentModel, retrained: Refit) -> np.ndarray:
    """For each re-trained segment (0..k-1), its id after matching with the frozen model's segments
    (Hungarian matching of centroids, as a fit with a ``previous`` model does)."""
    return np.asarray(alignment(retrained.centroids, retrained.preprocessing, model).ids, dtype=np.int64)


def agreement(frozen: np.ndarray, refit_labels: list[np.ndarray], mask: np.ndarray) -> dict:
    """ARI bands of the frozen labels against each re-train, and the noise floor among re-trains.

    ``mask`` selects the customers compared (all, or the reference cohort).
    """
    f = frozen[mask]
    others = [lab[mask] for lab in refit_labels]
    ari = [adjusted_rand_score(f, o) for o in others]
    floor = [adjusted_rand_score(a, b) for a, b in combinations(others, 2)]
    return {"ari": {**band(ari), "retrained": fixed_decimals(ari[0])}, "floor": band(floor)}


def peak_memory_mb() -> float:
    """Peak resident memory of this process (MB) since the last :func:`reset_peak_memory`."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # not on Windows; there the lifetime peak of psutil stands in

    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def reset_peak_memory() -> bool:
    """Reset the peak-memory mark (Linux); False where the peak can only be the process lifetime's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False
