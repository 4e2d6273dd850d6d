"""Find customer segments: preprocessing, candidate models, their metrics, the choice, the fit.

The package, by topic: :mod:`.settings` (the search's settings and their constraints),
:mod:`.preprocessing` (transforms and the fit sample), :mod:`.fits` (the algorithms and their
worker processes), :mod:`.candidates` (metrics, bootstrap stability, the choice), :mod:`.assembly`
(stable ids, thresholds and the model's record); :func:`fit` here runs them in order.

The procedure behind ``custseg fit`` (and :func:`fit`):

1. **Features.** By default the customer *type* features :data:`DEFAULT_FEATURES`: how much a
   customer spends per order, how often they buy, how satisfied they are, how late their
   deliveries were, how they pay and how much of the bill is freight. Recency and tenure are
   left out: they measure the lifecycle clock rather than the type (both grow by one every day,
   so segments built on them dissolve by construction), and for the 97% of one-time buyers they
   are the same number, so together they would double-weight one dimension. ``monetary`` is left
   out because it is ``frequency * mean_basket``. RFM (:mod:`custseg.rfm`) covers the clock;
   ``features`` selects any numeric columns instead. A default feature without information in
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

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..features import features as feature_table
from ..features import parse_as_of, release_arrow_memory
from ..model import SegmentModel, require_same_features
from ..schema import DEFAULT_STATUSES
from .assembly import FINGERPRINT_CHUNK, assembled, input_fingerprint, library_versions
from .candidates import Candidate, SilhouetteSubset, choose, judged, measured, search, silhouette_subset
from .fits import (
    IDLE_WORKER_SECONDS, FitTask, Progress, die_with_parent, family_fits, family_params, family_results, fit_tasks,
    nearest, worker_backend,
)
from .preprocessing import (
    checked_feature_names, default_features, default_transform, fit_preprocessing, fit_sample, random_subset,
)
from .settings import (
    ALGORITHMS, CHOICE_RULE, DEFAULT_FEATURES, HDBSCAN_MIN_SAMPLES, HDBSCAN_SIZES, IDENTITY_FEATURES,
    JACCARD_MIN, LOG1P_FEATURES, MIN_CUSTOMERS, NOISE_MAX, SCORE_TIE, SEARCH_CONSTRAINTS, SearchSettings, parse_k,
)

__all__ = [
    "ALGORITHMS", "CHOICE_RULE", "Candidate", "DEFAULT_FEATURES", "FINGERPRINT_CHUNK", "FitTask",
    "HDBSCAN_MIN_SAMPLES", "HDBSCAN_SIZES", "IDENTITY_FEATURES", "IDLE_WORKER_SECONDS", "JACCARD_MIN",
    "LOG1P_FEATURES", "MIN_CUSTOMERS", "NOISE_MAX", "Progress", "SCORE_TIE", "SEARCH_CONSTRAINTS", "SearchSettings",
    "SilhouetteSubset", "assembled", "checked_feature_names", "choose", "default_features", "default_transform",
    "die_with_parent", "family_fits", "family_params", "family_results", "fit", "fit_preprocessing", "fit_sample",
    "fit_tasks", "input_fingerprint", "judged", "library_versions", "measured", "nearest", "parse_k",
    "random_subset", "search", "silhouette_subset", "worker_backend",
]


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
    progress: Progress | None = None,
    **search_options,
) -> SegmentModel:
    """Fit a segmentation of the customers of ``data`` as of ``as_of``.

    ``data`` is a data directory, a Dataset or a ready feature table. ``k`` is ``"auto"`` or a
    number of segments; ``algorithm`` is ``auto`` or one of :data:`ALGORITHMS`. With ``previous``
    (a model or its file), segment ids and names carry over (:func:`custseg.model.alignment`).
    ``search_options`` are further :class:`SearchSettings` fields (``sample_size``,
    ``subsample``, ``bootstrap``, ``silhouette_size``, ``n_init``, ``k_min``, ``k_max``...).
    ``progress``, when given, is called as ``(description, done, total)`` after each fit of the
    search (:mod:`custseg.views.progress` draws it). The returned model has ``assignment_``: the
    training customers' assignment.
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
    final.assignment_ = final.assign_features(release_arrow_memory(table))
    return final

