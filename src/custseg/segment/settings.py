"""The model search's settings: the default features, the algorithms, the limits, and what each
parameter may be."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

#: The default model features (see :mod:`custseg.segment` for why these).
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
        """The families searched: ``algorithm``, or (auto) every one that can give ``k`` segments when
        ``k`` is asked for (HDBSCAN finds its own number, so it is left out then)."""
        if self.algorithm != "auto":
            return (self.algorithm,)
        return tuple(a for a in ALGORITHMS if self.k is None or a != "hdbscan")

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


def parse_k(k: int | str | None) -> int | None:
    """The number of segments ``k`` asks for; None for ``"auto"``."""
    if k is None or str(k).strip().lower() == "auto":
        return None
    try:
        return int(str(k).strip())
    except ValueError:
        raise InputError(f"k: {k!r} is not a number of segments or 'auto'") from None
