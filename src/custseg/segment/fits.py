"""Candidate fitting: every algorithm ends as centroids in model space; the fits run in worker
processes, each seeded on its own."""
from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from joblib._parallel_backends import LokyBackend
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from ..hooks import pause_point
from ..model import nearest_centroids, significant
from .preprocessing import random_subset
from .settings import ALGORITHMS, HDBSCAN_MIN_SAMPLES, HDBSCAN_SIZES, SearchSettings

#: A progress callback, called as ``(description, done, total)``.
Progress = Callable[[str, int, int], None]

# ---------------------------------------------------------------------------------------------
# Algorithms: every one ends as centroids in model space


def nearest(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each row (ties to the lower index)."""
    return nearest_centroids(z, centroids)[0]


def _cluster_means(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    found = np.unique(labels[labels >= 0])
    return np.array([x[labels == c].mean(axis=0) for c in found]).reshape(len(found), x.shape[1])


def family_fits(x: np.ndarray, algorithm: str, params: list, seed: int, n_init: int) -> dict:
    """Centroids and noise share per parameter: k, or HDBSCAN's minimum cluster share.

    Ward builds one tree and cuts it at every k, so a family is fitted at once.
    """
    if algorithm == "kmeans":
        return {k: (KMeans(k, n_init=n_init, random_state=seed).fit(x).cluster_centers_, 0.0) for k in params}
    if algorithm == "gmm":
        return {k: (GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=seed)
                    .fit(x).means_, 0.0) for k in params}
    if algorithm == "ward":
        tree = linkage(x, method="ward")
        return {k: (_cluster_means(x, fcluster(tree, k, criterion="maxclust")), 0.0) for k in params}
    fits = {}
    for share in params:
        size = max(5, math.ceil(share * len(x)))
        labels = HDBSCAN(min_cluster_size=size, min_samples=HDBSCAN_MIN_SAMPLES, copy=True).fit(x).labels_
        fits[share] = (_cluster_means(x, labels), float((labels < 0).mean()))
    return fits


def family_params(algorithm: str, settings: SearchSettings) -> list:
    """The k values, or for HDBSCAN the minimum cluster sizes as shares of the fitted customers."""
    if algorithm == "hdbscan":
        return [significant(m * settings.min_share) for m in HDBSCAN_SIZES]
    return settings.ks()


@dataclass(frozen=True)
class FitTask:
    """One fit of an algorithm family: the fit itself (``replicate`` -1) or a bootstrap refit."""

    algorithm: str
    replicate: int
    rows: np.ndarray  # positions in the fit sample


def fit_tasks(n: int, settings: SearchSettings) -> list[FitTask]:
    """Every family fit the search needs, each with its own rows, independent of the others."""
    tasks = []
    boot_size = min(settings.subsample, n // 2)
    for algorithm in settings.algorithms():
        rng = np.random.default_rng([settings.seed, ALGORITHMS.index(algorithm), 2])
        rows = np.arange(n) if algorithm == "kmeans" else random_subset(n, settings.subsample, rng)
        tasks.append(FitTask(algorithm, -1, rows))
        tasks += [FitTask(algorithm, b, random_subset(n, boot_size, rng)) for b in range(settings.bootstrap)]
    return tasks


def _run_task(x: np.ndarray, algorithm: str, params: list, seed: int, n_init: int) -> dict:
    # One BLAS/OpenMP thread per process: results then never depend on thread scheduling, and
    # on a small shared machine oversubscribed threads cost far more than they give.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # GMM/k-means convergence chatter
        warnings.simplefilter("ignore", category=FutureWarning)
        return family_fits(x, algorithm, params, seed, n_init)


#: Seconds an idle worker of the model search waits for more work before it ends (joblib's default: 300).
IDLE_WORKER_SECONDS = 60


def die_with_parent(parent: int) -> None:
    """In a worker process: end when ``parent`` ends (Linux: a parent-death signal), even by SIGKILL.

    Without it, joblib's workers (about 200 MB each) outlive a parent killed by a scheduler's
    timeout or the OOM killer, holding its output pipes open.
    """
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def worker_backend() -> LokyBackend:
    """joblib's process backend, with workers that end with their parent and do not idle for long."""
    return LokyBackend(initializer=die_with_parent, initargs=(os.getpid(),),
                       idle_worker_timeout=IDLE_WORKER_SECONDS)


def family_results(x: np.ndarray, settings: SearchSettings,
                   progress: Progress | None = None) -> tuple[dict, list[FitTask]]:
    """Per task, centroids and noise share per parameter, keyed by (algorithm, replicate); the tasks.

    Tasks run in ``n_jobs`` processes; each is seeded by its own (seed, replicate), so the result
    does not depend on how many run at once.
    """
    tasks = fit_tasks(len(x), settings)
    jobs = (
        delayed(_run_task)(x[t.rows], t.algorithm, family_params(t.algorithm, settings),
                           settings.seed + 1 + t.replicate, settings.n_init)
        for t in tasks
    )
    results = {}
    advance = _advances(progress, settings.algorithms(), settings.bootstrap)
    with warnings.catch_warnings():
        # an interrupted search cancels the queued fits; joblib's advice about unused results is noise then
        warnings.filterwarnings("ignore", message=".*tasks have been successfully executed", category=UserWarning)
        # a worker that ended idle just as work came is replaced by joblib; its warning is noise too
        warnings.filterwarnings("ignore", message="A worker stopped while some jobs", category=UserWarning)
        outputs = Parallel(n_jobs=settings.n_jobs, backend=worker_backend(), return_as="generator")(jobs)
        for task, output in zip(tasks, outputs):
            results[(task.algorithm, task.replicate)] = output
            advance[task.algorithm]()
            pause_point("search")  # a test hook (custseg.hooks): stop while the workers are busy
    return results, tasks


def _advances(progress: Progress | None, algorithms: tuple[str, ...],
              bootstrap: int) -> dict[str, Callable[[], None]]:
    """Per algorithm, a function to call after each of its fits: reports ``(description, done, total)``
    to ``progress`` (a view draws it: :mod:`custseg.views.progress`)."""
    done = dict.fromkeys(algorithms, 0)

    def advance(algorithm: str) -> None:
        done[algorithm] += 1
        if progress is not None:
            progress(f"{algorithm}: fit + {bootstrap} refits", done[algorithm], 1 + bootstrap)

    if algorithms and progress is not None:
        progress(f"{algorithms[0]}: fit + {bootstrap} refits", 0, 1 + bootstrap)
    return {a: functools.partial(advance, a) for a in algorithms}
