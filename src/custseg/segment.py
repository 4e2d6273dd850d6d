"""Find customer segments: preprocessing, candidate models, their metrics, the choice, the fit.

The procedure behind ``custseg fit`` (and :func:`fit`):

1. **Features.** By default the customer *type* features :data:`DEFAULT_FEATURES`: how much a
   customer spends per order, how often they buy, how satisfied they are, how late their
   deliveries were, how they pay and how much of the bill is freight. Recency and tenure are
   left out: they measure the lifecycle clock rather than the type (both grow by one every day,
   so segments built on them dissolve by construction), and for the 97% of one-time buyers they
   are the same number, so together they would double-weight one dimension. ``monetary`` is left
   out because it is ``frequency * mean_basket``. RFM (:mod:`custseg.rfm`) covers the clock;
   ``--features`` selects any numeric columns instead. A default feature without information in
   the data (all missing or constant) is left out (:func:`default_features`).
2. **Preprocessing** (:func:`fit_preprocessing`): heavy-tailed money and count features are
   ``log1p``-transformed (:data:`LOG1P_FEATURES`; an unknown non-negative column with skewness
   above 1 too), missing values are filled with the training median
   (:data:`custseg.model.MISSING_RULE`), and every column is standardised. The parameters are part
   of the model and are never refitted when it is applied.
3. **Sample.** Models are fitted on at most ``sample_size`` customers (default 200,000), drawn
   stratified by first-purchase month; everyone is then assigned by nearest centroid. k-means
   fits the whole sample; Gaussian mixtures, Ward and HDBSCAN, which do not scale linearly, fit a
   ``subsample`` (default 5,000) of it and are extended to the sample by nearest centroid.
4. **Candidates.** k-means (k-means++, ``n_init`` starts), Gaussian mixture (full covariance),
   Ward (one tree cut at every k) for k in ``k_min..k_max`` (default 2..10), and HDBSCAN at three
   minimum cluster sizes (1, 2 and 4 times the minimum share). Every candidate ends as centroids
   in model space (GMM means, cluster means) and its labels are nearest-centroid labels, exactly
   as the saved model will assign; HDBSCAN's noise points are counted (``noise_share``) and then
   assigned like everyone.
5. **Metrics** per candidate, on the fit sample: silhouette (on a fixed random subset of
   ``silhouette_size`` customers, the same for every candidate), Davies-Bouldin,
   Calinski-Harabasz, the smallest and largest segment's share, and bootstrap stability in the
   manner of Hennig's clusterboot: the same procedure refitted on ``bootstrap`` random subsets of
   the sample (``subsample`` customers, at most half of it, drawn without replacement), compared
   with the full fit on the subset's customers by the adjusted Rand index (mean: ``stability``)
   and per segment by the Jaccard index of its best-matching refit cluster (mean over refits;
   ``jaccard_min`` is the least stable segment's). The fits run in ``n_jobs`` processes, each
   seeded on its own, so the result does not depend on ``n_jobs``.
6. **Choice** (:func:`choose`): a candidate is *admissible* when every segment holds at least
   ``min_share`` of customers (default 2%: smaller groups are too small to act on) and at most
   ``max_share`` (default 80%: a split that leaves nearly everyone in one segment says nothing
   about most customers; on Olist, "97% one-timers, 3% repeat buyers" separates best of all but
   is a rule, frequency >= 2, not a segmentation), no segment dissolves under resampling
   (``jaccard_min >= 0.6``; Hennig reads < 0.5 as dissolved) and, for HDBSCAN, at most 25% of
   customers are noise. Among admissible candidates the highest
   ``score = silhouette * stability`` wins, separation and stability weighing alike; ties go to
   fewer segments. When none is admissible only because of stability, the best-scoring candidate
   whose segments are all large enough is taken and the choice says so; when no candidate has
   acceptable segment sizes, fitting fails with a message suggesting other share limits.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any, cast
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from sklearn.metrics.cluster import contingency_matrix
from sklearn.mixture import GaussianMixture
from joblib import Parallel, delayed
from joblib._parallel_backends import LokyBackend
from threadpoolctl import threadpool_limits

from .describe import describe_segments
from .errors import InputError
from .hooks import pause_point
from .features import features as feature_table
from .features import parse_as_of, released
from .model import (
    FeatureTransform,
    Preprocessing,
    SegmentModel,
    alignment,
    canonical,
    require_same_features,
    nearest_centroids,
    rounded,
)
from .schema import DEFAULT_STATUSES

#: The default model features (see the module docstring for why these).
DEFAULT_FEATURES: tuple[str, ...] = (
    "frequency",
    "mean_basket",
    "review_score_mean",
    "lateness_days_mean",
    "installments_mean",
    "freight_share",
)
#: Heavy-tailed, non-negative money and count features: modelled as log1p(x).
LOG1P_FEATURES = frozenset({
    "frequency", "monetary", "mean_basket", "mean_items", "total_items", "installments_mean", "n_categories",
    "delivery_days_mean",
})
#: Features whose scale is already meaningful as it is (scores, shares, signed day counts).
IDENTITY_FEATURES = frozenset({
    "recency_days", "tenure_days", "review_score_mean", "review_share", "lateness_days_mean",
    "late_share", "freight_share",
})
ALGORITHMS: tuple[str, ...] = ("kmeans", "gmm", "ward", "hdbscan")
#: Hennig's clusterboot reading: a segment whose mean Jaccard is below this dissolves.
JACCARD_MIN = 0.6
#: HDBSCAN candidates leaving more customers than this as noise are not admissible.
NOISE_MAX = 0.25
#: HDBSCAN minimum cluster sizes, as multiples of the minimum share.
HDBSCAN_SIZES = (1, 2, 4)
HDBSCAN_MIN_SAMPLES = 10
#: Fewer customers than this leave bootstrap refits too small to say anything.
MIN_CUSTOMERS = 100
#: Scores closer than this count as a tie (then fewer segments win).
SCORE_TIE = 1e-9
CHOICE_RULE = (
    "admissible: every segment >= min_share and <= max_share, jaccard_min >= 0.6 (no segment dissolves under "
    "resampling), HDBSCAN noise <= 25%; pick the highest score = silhouette * stability "
    "(mean bootstrap ARI); ties to fewer segments"
)


@dataclass(frozen=True)
class SearchSettings:
    """How the model search runs; recorded in the model file (but ``n_jobs``, which changes nothing)."""

    k: int | None = None  # None: choose k
    algorithm: str = "auto"
    seed: int = 0
    min_share: float = 0.02
    max_share: float = 0.8
    k_min: int = 2
    k_max: int = 10
    sample_size: int = 200_000
    subsample: int = 5_000
    bootstrap: int = 10
    silhouette_size: int = 5_000
    n_init: int = 3
    n_jobs: int = 2  # processes for the family fits (-1: all cores); results do not depend on it
    distance_quantile: float = 0.99

    def algorithms(self) -> tuple[str, ...]:
        return ALGORITHMS if self.algorithm == "auto" else (self.algorithm,)

    def ks(self) -> list[int]:
        return [self.k] if self.k is not None else list(range(self.k_min, self.k_max + 1))

    def checked(self) -> SearchSettings:
        """These settings, or InputError naming the first parameter outside :data:`SEARCH_CONSTRAINTS`."""
        for name, (allowed, what) in SEARCH_CONSTRAINTS.items():
            value = getattr(self, name)
            if not allowed(value):
                raise InputError(f"`{name}`: {value!r} must be {what}")
        if self.k_min > self.k_max:
            raise InputError(f"`k_min`: {self.k_min} is above `k_max` ({self.k_max})")
        if self.k is not None and self.algorithm == "hdbscan":
            raise InputError("`k`: HDBSCAN finds the number of segments itself; leave `k` to auto")
        return self


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: value >= low


#: What each search parameter may be (as scikit-learn's ``_parameter_constraints``): a test and
#: the words for it. Errors name the parameter in backquotes; the command line shows its option.
SEARCH_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "algorithm": (lambda v: v in ("auto", *ALGORITHMS), f"one of auto, {', '.join(ALGORITHMS)}"),
    "k": (lambda v: v is None or 2 <= v <= 50, "a number of segments in 2..50, or auto"),
    "k_min": (_at_least(2), "at least 2"),
    "seed": (lambda v: 0 <= v < 2**32, "between 0 and 2**32 - 1"),
    "min_share": (lambda v: 0 < v < 0.5, "between 0 and 0.5"),
    "max_share": (lambda v: 0.5 <= v <= 1, "between 0.5 and 1"),
    "sample_size": (_at_least(100), "at least 100 customers"),
    "subsample": (_at_least(100), "at least 100 customers"),
    "silhouette_size": (_at_least(100), "at least 100 customers"),
    "bootstrap": (_at_least(1), "at least 1"),
    "n_init": (_at_least(1), "at least 1"),
    "n_jobs": (lambda v: v != 0, "a number of processes, or -1 for all cores"),
    "distance_quantile": (lambda v: 0 < v <= 1, "in (0, 1]"),
}


# ---------------------------------------------------------------------------------------------
# Preprocessing


def default_transform(name: str, values: np.ndarray) -> str:
    """``log1p`` for the known heavy-tailed features, and for unknown ones that look it."""
    if name in LOG1P_FEATURES:
        return "log1p"
    if name in IDENTITY_FEATURES:
        return "identity"
    known = pd.Series(values[~np.isnan(values)])
    heavy = len(known) > 2 and known.min() >= 0 and known.max() > known.min() and known.skew() > 1
    return "log1p" if heavy else "identity"


def default_features(table: pd.DataFrame) -> list[str]:
    """:data:`DEFAULT_FEATURES` that carry information in ``table`` (present, not all missing, not constant).

    When that leaves fewer than three (a transaction log has no reviews, deliveries or
    installments), ``recency_days`` is added: then the lifecycle clock is all there is to use.
    """
    def informative(name: str) -> bool:
        if name not in table.columns:
            return False
        values = pd.to_numeric(table[name], errors="coerce").dropna()
        return values.nunique() > 1

    names = [n for n in DEFAULT_FEATURES if informative(n)]
    if len(names) < 3 and informative("recency_days"):
        names.append("recency_days")
    if not names:
        raise InputError("no default feature varies across customers; choose some with `features`",
                         file="feature table")
    return names


def checked_feature_names(names: list[str], numeric_columns: list[str]) -> list[str]:
    """``names``, or InputError naming the first that is not a numeric feature column."""
    unknown = [n for n in names if n not in numeric_columns]
    if unknown:
        raise InputError(f"not a feature (numeric features: {', '.join(numeric_columns)})", file="`features`",
                         column=unknown[0])
    return names


def fit_preprocessing(table: pd.DataFrame, names: list[str]) -> Preprocessing:
    """Per feature: transform, median fill, mean and scale of the transformed values (rounded)."""
    if not names:
        raise InputError("features: no feature selected")
    if len(set(names)) != len(names):
        raise InputError(f"features: {','.join(names)} names a feature twice")
    checked_feature_names(names, [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])])
    probe = Preprocessing(tuple(FeatureTransform(n, "identity", 0.0, 0.0, 1.0) for n in names))
    raw = probe.raw_matrix(table)
    steps = []
    for j, name in enumerate(names):
        column = raw[:, j]
        if np.isnan(column).all():
            raise InputError("has no value for any customer", file="feature table", column=name)
        transform = default_transform(name, column)
        fill = rounded(np.nanmedian(column))
        values = FeatureTransform(name, transform, fill, 0.0, 1.0).apply(column)
        scale = float(values.std())
        # a constant column carries no information; scale 1 keeps it at zero instead of dividing by 0
        steps.append(FeatureTransform(name, transform, fill, rounded(values.mean()),
                                      rounded(scale) if scale > 1e-12 else 1.0))
    return Preprocessing(tuple(steps))


# ---------------------------------------------------------------------------------------------
# Samples


def fit_sample(table: pd.DataFrame, as_of: date, size: int, seed: int) -> np.ndarray:
    """Row positions (sorted) of at most ``size`` customers, stratified by first-purchase month."""
    n = len(table)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng([seed, 1])
    if "tenure_days" in table.columns:
        first = pd.Timestamp(as_of) - pd.to_timedelta(table["tenure_days"].fillna(0).to_numpy(), unit="D")
        stratum = first.to_period("M").asi8  # month numbers: no text per customer for millions
    else:
        stratum = np.zeros(n, dtype=int)
    # every month keeps its share: take each stratum's first (share * count) rows in random order
    order = pd.Series(rng.random(n)).groupby(stratum).rank(method="first").to_numpy() - 1
    counts = pd.Series(stratum).map(pd.Series(stratum).value_counts()).to_numpy()
    return np.flatnonzero(order < np.floor(counts * size / n + 0.5))


def _subset(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(n, size), replace=False))


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
        return [rounded(m * settings.min_share) for m in HDBSCAN_SIZES]
    return settings.ks()


# ---------------------------------------------------------------------------------------------
# Candidates and their metrics


@dataclass
class Candidate:
    """One fitted candidate model and its metrics (a row of the candidate table)."""

    algorithm: str
    param: float  # k, or HDBSCAN's minimum cluster size as a share of the fitted customers
    k: int
    centroids: np.ndarray = field(repr=False)
    silhouette: float = float("nan")
    davies_bouldin: float = float("nan")
    calinski_harabasz: float = float("nan")
    min_share: float = 0.0
    max_share: float = 1.0
    noise_share: float = 0.0
    stability: float = float("nan")
    stability_sd: float = float("nan")
    jaccard: list[float] = field(default_factory=list)
    jaccard_min: float = float("nan")
    score: float = float("nan")
    admissible: bool = False
    note: str = ""
    chosen: bool = False

    def row(self) -> dict:
        """The candidate as a JSON-able dict (without centroids)."""
        out = {k: v for k, v in asdict(self).items() if k != "centroids"}
        out["param_name"] = "min_cluster_share" if self.algorithm == "hdbscan" else "k"
        return out


@dataclass(frozen=True)
class SilhouetteSubset:
    """The fixed customers silhouettes are computed on, with their distances computed once."""

    rows: np.ndarray
    distances: np.ndarray


def silhouette_subset(x: np.ndarray, size: int, seed: int) -> SilhouetteSubset:
    rows = _subset(len(x), size, np.random.default_rng([seed, 3]))
    return SilhouetteSubset(rows, pairwise_distances(x[rows]))


def _separation(x: np.ndarray, labels: np.ndarray, sil: SilhouetteSubset) -> tuple[float, float, float]:
    if len(np.unique(labels)) < 2 or len(np.unique(labels[sil.rows])) < 2:
        return float("nan"), float("nan"), float("nan")
    return (
        float(silhouette_score(sil.distances, labels[sil.rows], metric="precomputed")),
        float(davies_bouldin_score(x, labels)),
        float(calinski_harabasz_score(x, labels)),
    )


def _jaccard_best(reference: np.ndarray, refit: np.ndarray, k: int) -> np.ndarray:
    """Per reference segment (0..k-1): Jaccard index with its best-matching refit cluster."""
    ref_ids, ref_pos = np.unique(reference, return_inverse=True)
    table = contingency_matrix(ref_pos, refit).astype(float)
    union = table.sum(axis=1)[:, None] + table.sum(axis=0)[None, :] - table
    best = np.zeros(k)
    best[ref_ids] = (table / union).max(axis=1)
    return best


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
        rows = np.arange(n) if algorithm == "kmeans" else _subset(n, settings.subsample, rng)
        tasks.append(FitTask(algorithm, -1, rows))
        tasks += [FitTask(algorithm, b, _subset(n, boot_size, rng)) for b in range(settings.bootstrap)]
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
                   progress: bool | Callable[[str, int, int], None]) -> tuple[dict, list[FitTask]]:
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
    with _progress(progress, settings.algorithms(), settings.bootstrap) as advance, warnings.catch_warnings():
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


def measured(
    algorithm: str,
    x: np.ndarray,
    results: dict,
    tasks: list[FitTask],
    sil: SilhouetteSubset,
) -> list[Candidate]:
    """One algorithm family's candidates: separation on the fit sample, stability over refits."""
    found = []
    for param, (centroids, noise) in results[(algorithm, -1)].items():
        cand = Candidate(algorithm, param, len(centroids), centroids, noise_share=noise)
        if cand.k >= 2:
            labels = nearest(x, centroids)
            shares = np.bincount(labels, minlength=cand.k) / len(x)
            cand.min_share, cand.max_share = float(shares.min()), float(shares.max())
            cand.silhouette, cand.davies_bouldin, cand.calinski_harabasz = _separation(x, labels, sil)
            cand.stability, cand.stability_sd, cand.jaccard = _stability(x, labels, cand, results, tasks)
            cand.jaccard_min = float(min(cand.jaccard)) if cand.jaccard else float("nan")
        found.append(cand)
    return found


def _stability(x: np.ndarray, labels: np.ndarray, cand: Candidate, results: dict,
               tasks: list[FitTask]) -> tuple[float, float, list[float]]:
    """Mean and SD of the ARI over refits, and each segment's mean best-match Jaccard index."""
    aris, jaccards = [], []
    for task in tasks:
        if task.algorithm != cand.algorithm or task.replicate < 0:
            continue
        refit_centroids = results[(task.algorithm, task.replicate)][cand.param][0]
        if len(refit_centroids) == 0:
            refit = np.zeros(len(task.rows), dtype=int)
        else:
            refit = nearest(x[task.rows], refit_centroids)
        aris.append(adjusted_rand_score(labels[task.rows], refit))
        jaccards.append(_jaccard_best(labels[task.rows], refit, cand.k))
    if not aris:
        return float("nan"), float("nan"), []
    return float(np.mean(aris)), float(np.std(aris)), np.mean(jaccards, axis=0).tolist()


def judged(cands: list[Candidate], settings: SearchSettings) -> list[Candidate]:
    """Candidates with their admissibility, reason and score filled in."""
    for c in cands:
        problems = []
        if c.k < 2:
            problems.append("fewer than 2 segments")
        else:
            if c.min_share < settings.min_share:
                problems.append(f"a segment below {settings.min_share:.0%}")
            if c.max_share > settings.max_share:
                problems.append(f"a segment above {settings.max_share:.0%}")
            if not c.jaccard_min >= JACCARD_MIN:
                problems.append("a segment dissolves under resampling")
            if c.noise_share > NOISE_MAX:
                problems.append(f"noise above {NOISE_MAX:.0%}")
        c.score = c.silhouette * c.stability if c.k >= 2 else float("nan")
        c.admissible = not problems
        c.note = "; ".join(problems)
    return cands


def choose(cands: list[Candidate], settings: SearchSettings) -> tuple[Candidate, str]:
    """The chosen candidate and a sentence saying why (see the module docstring for the rule)."""
    def best(pool: list[Candidate]) -> Candidate:
        ranked = sorted(pool, key=lambda c: (-(c.score if math.isfinite(c.score) else -2.0), c.k,
                                             ALGORITHMS.index(c.algorithm), c.param))
        top = ranked[0]
        ties = [c for c in ranked if abs(c.score - top.score) <= SCORE_TIE]
        return min(ties, key=lambda c: (c.k, ALGORITHMS.index(c.algorithm), c.param))

    admissible = [c for c in cands if c.admissible]
    if admissible:
        chosen = best(admissible)
        reason = f"highest score among {len(admissible)} admissible candidates"
    else:
        big_enough = [c for c in cands if c.k >= 2 and c.min_share >= settings.min_share
                      and c.max_share <= settings.max_share and c.noise_share <= NOISE_MAX]
        if not big_enough:
            raise InputError(
                f"no candidate model has every segment between the minimum share {settings.min_share:.1%} "
                f"and the maximum share {settings.max_share:.0%}; lower `min_share`, raise `max_share` "
                f"or try another `k` or `algorithm`"
            )
        chosen = best(big_enough)
        reason = ("no candidate is stable under resampling (jaccard_min >= 0.6); took the highest score "
                  "among candidates whose segments are all large enough: treat these segments with care")
    chosen.chosen = True
    return chosen, reason


# ---------------------------------------------------------------------------------------------
# Progress


@contextmanager
def _progress(show: bool | Callable[[str, int, int], None], algorithms: tuple[str, ...],
              bootstrap: int) -> Iterator[dict[str, Callable[[], None]]]:
    """Per algorithm, a function to call after each of its fits: advances Rich bars (``show`` True),
    or reports ``(description, done, total)`` to ``show`` when it is a callback."""
    if callable(show):
        done = dict.fromkeys(algorithms, 0)

        def advance(algorithm: str) -> None:
            done[algorithm] += 1
            show(f"{algorithm}: fit + {bootstrap} refits", done[algorithm], 1 + bootstrap)

        if algorithms:
            show(f"{algorithms[0]}: fit + {bootstrap} refits", 0, 1 + bootstrap)
        yield {a: functools.partial(advance, a) for a in algorithms}
        return
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not show, transient=False) as bar:
        tasks = {a: bar.add_task(f"{a}: fit + {bootstrap} refits", total=1 + bootstrap) for a in algorithms}
        yield {a: functools.partial(bar.advance, t) for a, t in tasks.items()}


# ---------------------------------------------------------------------------------------------
# The fit


def search(z: np.ndarray, settings: SearchSettings,
           progress: bool | Callable[[str, int, int], None] = False) -> list[Candidate]:
    """Every candidate of the search on the model-space fit sample ``z``, judged."""
    results, tasks = family_results(z, settings, progress)
    sil = silhouette_subset(z, settings.silhouette_size, settings.seed)
    cands = [c for a in settings.algorithms() for c in measured(a, z, results, tasks, sil)]
    return judged(cands, settings)


#: Text values joined at a time when fingerprinting a feature table.
FINGERPRINT_CHUNK = 500_000


def input_fingerprint(table: pd.DataFrame) -> str:
    """SHA-256 of the feature table in canonical form.

    The form: for each column in order, its name, then its values as little-endian float64
    (numeric columns, one NaN for every missing value) or as UTF-8 text separated by U+001F
    (other columns, U+0000 for missing).
    """
    digest = hashlib.sha256()
    for name in table.columns:
        column = table[name]
        digest.update(f"\x1e{name}\x1e".encode())
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(dtype="float64", na_value=np.nan)
            digest.update(np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes())
        else:
            text = column.astype("string").fillna("\x00")
            # the same bytes as one join of the whole column, made a chunk at a time for millions of rows
            for start in range(0, len(text), FINGERPRINT_CHUNK):
                digest.update(("\x1f" if start else "").encode() +
                              "\x1f".join(text.iloc[start:start + FINGERPRINT_CHUNK].tolist()).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of custseg and of the libraries whose numbers end up in the model."""
    from . import __version__

    libraries = ("numpy", "pandas", "scikit-learn", "scipy")
    return {"custseg": __version__, **{n: importlib.metadata.version(n) for n in libraries}}


def _load_table(data, as_of: date, statuses: tuple[str, ...]) -> pd.DataFrame:
    table = data if isinstance(data, pd.DataFrame) else feature_table(data, as_of, statuses)
    if "customer_unique_id" not in table.columns:
        raise InputError("missing", file="feature table", column="customer_unique_id")
    if len(table) < MIN_CUSTOMERS:
        raise InputError(f"only {len(table)} customers with a counted order before {as_of}: "
                         f"too few to segment (at least {MIN_CUSTOMERS})")
    return table.reset_index(drop=True)


def _previous(previous) -> SegmentModel | None:
    if previous is None or isinstance(previous, SegmentModel):
        return previous
    return SegmentModel.load(previous)


def fit(
    data: str | Path | pd.DataFrame | object,
    as_of: date | datetime | str,
    k: int | str = "auto",
    algorithm: str = "auto",
    seed: int = 0,
    features: list[str] | tuple[str, ...] | None = None,
    min_share: float = 0.02,
    previous: SegmentModel | str | Path | None = None,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
    progress: bool | Callable[[str, int, int], None] = False,
    **search_options,
) -> SegmentModel:
    """Fit a segmentation of the customers of ``data`` as of ``as_of``.

    ``data`` is a data directory, a Dataset or a ready feature table. ``k`` is ``"auto"`` or a
    number of segments; ``algorithm`` is ``auto`` or one of :data:`ALGORITHMS`. With ``previous``
    (a model or its file), segment ids and names carry over (:func:`custseg.model.alignment`).
    ``search_options`` are further :class:`SearchSettings` fields (``sample_size``,
    ``subsample``, ``bootstrap``, ``silhouette_size``, ``n_init``, ``k_min``, ``k_max``...).
    The returned model has ``assignment_``: the training customers' assignment.
    """
    day = parse_as_of(as_of)
    unknown = set(search_options) - set(SearchSettings.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown search option {sorted(unknown)[0]!r}")
    settings = SearchSettings(k=parse_k(k), algorithm=str(algorithm).lower(), seed=int(seed),
                              min_share=float(min_share), **search_options).checked()
    old = _previous(previous)
    statuses = tuple(statuses)
    table = _load_table(data, day, statuses)
    names = list(features) if features else default_features(table)
    if old is not None:
        require_same_features(names, old)
    prep = fit_preprocessing(table, names)
    z = prep.transform(table)
    rows = fit_sample(table, day, settings.sample_size, settings.seed)
    cands = search(z[rows], settings, progress)
    chosen, reason = choose(cands, settings)
    model = assembled(table, z, prep, chosen, cands, reason, settings, day, statuses, old, len(rows))
    # the in-memory model is exactly what the file holds: rebuilt from its own canonical content
    final = SegmentModel.from_dict(model.to_dict(), source="fitted model")
    del z
    final.assignment_ = final.assign_features(released(table))
    return final


def parse_k(k: int | str | None) -> int | None:
    """The number of segments ``k`` asks for; None for ``"auto"``."""
    if k is None or str(k).strip().lower() == "auto":
        return None
    try:
        return int(str(k).strip())
    except ValueError:
        raise InputError(f"k: {k!r} is not a number of segments or 'auto'") from None


def _ordered_centroids(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Centroids rounded as stored, largest segment first (a canonical order for fresh ids)."""
    centroids = np.vectorize(rounded)(centroids)
    sizes = np.bincount(nearest(z, centroids), minlength=len(centroids))
    return centroids[np.lexsort((np.arange(len(sizes)), -sizes))]


def assembled(
    table: pd.DataFrame,
    z: np.ndarray,
    prep: Preprocessing,
    chosen: Candidate,
    cands: list[Candidate],
    reason: str,
    settings: SearchSettings,
    as_of: date,
    statuses: tuple[str, ...],
    previous: SegmentModel | None,
    fit_rows: int,
) -> SegmentModel:
    """The final model: ids (fresh, or aligned with ``previous``), thresholds, described segments."""
    centroids = _ordered_centroids(z, chosen.centroids)
    if previous is not None:
        match = alignment(centroids, prep, previous)
        ids, carried, next_id = list(match.ids), list(match.previous_names), match.next_id
        align_record = {**match.record, "segments": [
            {"id": i, "matched": n is not None, "moved": m} for i, n, m in zip(ids, carried, match.moved)
        ]}
    else:
        ids, carried, next_id, align_record = list(range(len(centroids))), [None] * len(centroids), len(centroids), None
    order = np.argsort(ids, kind="stable")
    ids = [ids[i] for i in order]
    carried = [carried[i] for i in order]
    centroids = centroids[order]
    position, distance = nearest_centroids(z, centroids)
    labels = np.asarray(ids, dtype=np.int64)[position]
    thresholds = np.array([rounded(np.quantile(distance[position == i], settings.distance_quantile))
                           if (position == i).any() else 0.0 for i in range(len(ids))])
    segments = describe_segments(table, labels, prep.names, z)
    if [s["id"] for s in segments] != ids:
        raise InputError("a segment of the chosen model holds no customer; try another `k` or `seed`")
    segments = _with_carried_names(segments, carried)
    record = {
        "as_of": as_of.isoformat(),
        "statuses": list(statuses),
        "seed": settings.seed,
        "algorithm": chosen.algorithm,
        "input": {"customers": len(table), "fit_sample": fit_rows, "feature_table": input_fingerprint(table)},
        "libraries": library_versions(),
        # n_jobs changes nothing in the result, so the file does not record it
        "settings": {**{k: v for k, v in asdict(settings).items() if k != "n_jobs"},
                     "k": settings.k if settings.k is not None else "auto", "features": prep.names},
        "candidates": [c.row() for c in cands],
        "choice": {"rule": CHOICE_RULE, "reason": reason, "algorithm": chosen.algorithm, "param": chosen.param,
                   "k": chosen.k},
        "alignment": align_record,
        "next_id": next_id,
        "distance": {"metric": "euclidean in model space", "quantile": settings.distance_quantile,
                     "outlier_rule": "farther than its threshold from every centroid"},
    }
    return SegmentModel(prep, centroids, thresholds, segments, cast(dict, canonical(record)))


def _with_carried_names(segments: list[dict], carried: list[str | None]) -> list[dict]:
    """Segments named as before where matched; a fresh name clashing with a carried one is marked new."""
    taken = {n.lower() for n in carried if n}
    out = []
    for seg, old_name in zip(segments, carried):
        name = old_name or seg["name"]
        if old_name is None:
            base, n = seg["name"], 1
            while name.lower() in taken:
                n += 1
                name = f"{base} (new{'' if n == 2 else f' {n - 1}'})"
            taken.add(name.lower())
        out.append({**seg, "name": name})
    return out


# ---------------------------------------------------------------------------------------------
# Views


def _num(value: float, fmt: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


#: Short forms of the reasons a candidate is not admissible, for the terminal table.
_SHORT = {"fewer than 2": "k<2", "noise": "noise", "below": "small", "above": "large", "dissolves": "unstable"}


def _short(note: str) -> str:
    return ",".join(next(v for k, v in _SHORT.items() if k in part) for part in note.split("; "))


def candidate_table(model: SegmentModel) -> Table:
    """The model's candidate table as a Rich table (the chosen row in bold), the rule as caption."""
    table = Table(title=f"Candidate models (fit as of {model.as_of})", title_justify="left", box=box.SIMPLE_HEAD,
                  caption=f"sil = silhouette, DB = Davies-Bouldin, CH = Calinski-Harabasz, ARI = bootstrap "
                          f"stability, Jmin = least stable segment's Jaccard. Rule: {CHOICE_RULE}.",
                  caption_justify="left", pad_edge=False)
    for name in ("algorithm", "k", "sil", "DB", "CH", "min", "max", "noise", "ARI", "Jmin", "score", "status"):
        table.add_column(name, justify="left" if name in ("algorithm", "status") else "right")
    for c in model.candidates:
        status = "CHOSEN" if c["chosen"] else ("ok" if c["admissible"] else _short(c["note"]))
        algorithm = f"hdbscan {c['param']:.0%}" if c["algorithm"] == "hdbscan" else c["algorithm"]
        table.add_row(
            algorithm, str(c["k"]), _num(c["silhouette"], ".3f"), _num(c["davies_bouldin"], ".2f"),
            _num(c["calinski_harabasz"], ".0f"), _num(c["min_share"], ".1%"), _num(c["max_share"], ".0%"),
            _num(c["noise_share"], ".0%"), _num(c["stability"], ".3f"), _num(c["jaccard_min"], ".2f"),
            _num(c["score"], ".3f"), status, style="bold" if c["chosen"] else None,
        )
    return table


def segment_table(model: SegmentModel) -> Table:
    """The model's segments: id, name, size, share, distance threshold."""
    table = Table(title=f"Segments ({model.algorithm}, k={model.k})", title_justify="left")
    for name in ("id", "name", "customers", "share", "outlier beyond"):
        table.add_column(name, justify="left" if name == "name" else "right")
    for seg, threshold in zip(model.segments, model.thresholds):
        table.add_row(str(seg["id"]), seg["name"], f"{seg['size']:,}", f"{seg['share']:.1%}", f"{threshold:.2f}")
    return table
