"""Candidates and their metrics (separation, bootstrap stability), the admissibility rule and the choice."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from sklearn.metrics.cluster import contingency_matrix

from ..errors import InputError
from .fits import FitTask, Progress, family_results, nearest
from .preprocessing import random_subset
from .settings import ALGORITHMS, JACCARD_MIN, NOISE_MAX, SCORE_TIE, SearchSettings

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
    rows = random_subset(len(x), size, np.random.default_rng([seed, 3]))
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
    """The chosen candidate and a sentence saying why (see :mod:`custseg.segment` for the rule)."""
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
# The search


def search(z: np.ndarray, settings: SearchSettings,
           progress: Progress | None = None) -> list[Candidate]:
    """Every candidate of the search on the model-space fit sample ``z``, judged."""
    results, tasks = family_results(z, settings, progress)
    sil = silhouette_subset(z, settings.silhouette_size, settings.seed)
    cands = [c for a in settings.algorithms() for c in measured(a, z, results, tasks, sil)]
    return judged(cands, settings)
