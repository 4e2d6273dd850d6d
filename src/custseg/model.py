"""A fitted segmentation as plain numbers: transform, centroids, names; saved as checked JSON.

A :class:`SegmentModel` is everything needed to place a customer in a segment, and nothing that
needs the training data again:

* :class:`Preprocessing`: per feature, the transform (``identity`` or ``log1p``), the value that
  fills a missing entry, and the mean and scale of the standardisation, all learned once at fit
  time. Applying a model never refits them. For feature ``x`` the model-space value is::

      z = (T(coalesce(x, fill)) - mean) / scale,   T = identity, or log1p(max(x, 0))

* centroids in that standardised space, one per segment, in ascending segment id order;
* per segment, a distance threshold (a quantile of the training customers' distances to their
  centroid): a customer farther than the threshold from *every* centroid is flagged ``outlier``;
* the segments as described by :func:`custseg.describe.describe_segments` (names, profiles, rules).

Assignment is nearest-centroid (Euclidean, model space) for every algorithm, ties to the lowest
segment id; each row is computed on its own, so chunking never changes a label, and the training
labels are by construction the labels that :func:`assign` gives the training data.

The file is JSON (never pickle): a format name and version, and a SHA-256 checksum over the
canonical content (keys sorted, compact separators, floats rounded to 12 significant digits), so
that an edited, truncated or foreign file is refused with :class:`~custseg.errors.ModelFileError`.
Re-training with ``previous`` keeps segment ids and names stable (:func:`alignment`).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .errors import InputError, ModelFileError
from .export import write_json
from .features import features as feature_table
from .features import parse_as_of

if TYPE_CHECKING:
    from .ingest import Dataset

FORMAT = "custseg-segment-model"
FORMAT_VERSION = 1
TRANSFORMS = ("identity", "log1p")
#: Rows transformed and compared with the centroids at a time: memory stays bounded for millions.
CHUNK_ROWS = 50_000
#: Stored floats keep this many significant digits, so that BLAS rounding noise never shows.
FLOAT_DIGITS = 12
ASSIGNMENT_COLUMNS = ["customer_unique_id", "segment_id", "segment_name", "distance", "outlier"]


# ---------------------------------------------------------------------------------------------
# Canonical numbers and checksums


def significant(value: float) -> float:
    """``value`` with :data:`FLOAT_DIGITS` significant digits (the form every stored float takes)."""
    return float(f"{float(value):.{FLOAT_DIGITS}g}")


def canonical(obj: object) -> object:
    """``obj`` as plain JSON values: numpy scalars unwrapped, floats rounded, NaN as None."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [canonical(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return significant(float(obj)) if math.isfinite(obj) else None
    if isinstance(obj, (date, datetime)):
        return obj.isoformat()
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a model file")


def checksum(doc: dict) -> str:
    """SHA-256 of ``doc`` without its ``checksum`` key, in canonical JSON."""
    content = {k: v for k, v in doc.items() if k != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Preprocessing


@dataclass(frozen=True)
class FeatureTransform:
    """How one raw feature becomes one model-space coordinate."""

    name: str
    transform: str
    fill: float
    mean: float
    scale: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Model-space values of ``raw`` (NaN filled, transformed, standardised)."""
        values = np.where(np.isnan(raw), self.fill, raw)
        if self.transform == "log1p":
            # counts and money cannot be negative: a negative value is bad data, read as 0
            values = np.log1p(np.maximum(values, 0.0))
        return (values - self.mean) / self.scale

    def invert(self, z: np.ndarray) -> np.ndarray:
        """Raw values whose model-space value is ``z`` (fill and clipping cannot be undone)."""
        values = z * self.scale + self.mean
        return np.expm1(values) if self.transform == "log1p" else values


@dataclass(frozen=True)
class Preprocessing:
    """The fitted transform of the feature table into model space (never refitted)."""

    features: tuple[FeatureTransform, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def raw_matrix(self, df: pd.DataFrame, source: str = "feature table") -> np.ndarray:
        """The model's feature columns of ``df`` as a float matrix (NaN where missing)."""
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise InputError("missing (the model needs it)", file=source, column=missing[0])
        columns = []
        for name in self.names:
            try:
                column = pd.to_numeric(df[name]).to_numpy(dtype="float64", na_value=np.nan)
            except (TypeError, ValueError):
                raise InputError("is not numeric", file=source, column=name) from None
            if np.isinf(column).any():
                raise InputError("holds an infinite value", file=source, column=name)
            columns.append(column)
        return np.column_stack(columns) if columns else np.empty((len(df), 0))

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Model-space matrix (rows of ``df``, columns in :attr:`names` order), saved parameters only."""
        return self.transform_matrix(self.raw_matrix(df))

    def transform_matrix(self, raw: np.ndarray) -> np.ndarray:
        return np.column_stack([f.apply(raw[:, j]) for j, f in enumerate(self.features)])

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Raw feature values of model-space points ``z`` (n, d)."""
        return np.column_stack([f.invert(z[:, j]) for j, f in enumerate(self.features)])

    def to_dict(self) -> dict:
        return {
            "formula": "z = (T(coalesce(x, fill)) - mean) / scale; T = identity or log1p(max(x, 0))",
            "missing_rule": MISSING_RULE,
            "features": [
                {"name": f.name, "transform": f.transform, "fill": f.fill, "mean": f.mean, "scale": f.scale}
                for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, doc: dict) -> Preprocessing:
        return cls(tuple(FeatureTransform(f["name"], f["transform"], f["fill"], f["mean"], f["scale"])
                         for f in doc["features"]))


#: The documented rule for missing values; written into every model file.
MISSING_RULE = (
    "a missing value (no review before the as-of date, no delivery before it) is filled with the "
    "feature's training median, i.e. the customer is typical on what is unknown and the gap "
    "pushes no one into a segment; whether a customer reviewed at all is carried by review_share"
)


# ---------------------------------------------------------------------------------------------
# The model


def nearest_centroids(z: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row's nearest centroid (ties to the lower position) and its distance.

    Computed :data:`CHUNK_ROWS` rows at a time from :func:`centroid_distances`, so that the full
    (n, k) distance matrix of millions of customers is never held.
    """
    position, distance = np.empty(len(z), dtype=np.int64), np.empty(len(z))
    for start in range(0, len(z), CHUNK_ROWS):
        d = centroid_distances(z[start:start + CHUNK_ROWS], centroids)
        position[start:start + len(d)] = np.argmin(d, axis=1)
        distance[start:start + len(d)] = d[np.arange(len(d)), position[start:start + len(d)]]
    return position, distance


def centroid_distances(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Euclidean distances (n, k) of rows to centroids, each row on its own.

    Computed as the plain sum of squared differences rather than the faster dot-product
    expansion: a row's distances then never depend on which other rows share its chunk.
    Rows go :data:`CHUNK_ROWS` at a time: the (rows, k, d) differences of millions of customers
    would not fit in memory at once.
    """
    distances = np.empty((len(z), len(centroids)))
    for start in range(0, len(z), CHUNK_ROWS):
        diff = z[start:start + CHUNK_ROWS, None, :] - centroids[None, :, :]
        distances[start:start + CHUNK_ROWS] = np.sqrt(np.einsum("nkd,nkd->nk", diff, diff))
    return distances


@dataclass
class SegmentModel:
    """A fitted segmentation: preprocessing, centroids (model space), thresholds, segments.

    ``segments[i]``, ``centroids[i]`` and ``thresholds[i]`` describe segment ``ids[i]``; ids
    ascend. ``record`` holds the audit trail written to the file (as-of date, statuses, seed,
    input fingerprint, library versions, settings, candidate table, choice, alignment).
    ``assignment_`` is the training customers' assignment when the model was just fitted.
    """

    preprocessing: Preprocessing
    centroids: np.ndarray
    thresholds: np.ndarray
    segments: list[dict]
    record: dict
    assignment_: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def ids(self) -> list[int]:
        return [int(s["id"]) for s in self.segments]

    @property
    def names(self) -> list[str]:
        return [s["name"] for s in self.segments]

    @property
    def k(self) -> int:
        return len(self.segments)

    @property
    def feature_names(self) -> list[str]:
        return self.preprocessing.names

    @property
    def as_of(self) -> str:
        return self.record["as_of"]

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(self.record["statuses"])

    @property
    def algorithm(self) -> str:
        return self.record["algorithm"]

    @property
    def candidates(self) -> list[dict]:
        return self.record["candidates"]

    @property
    def labels_(self) -> np.ndarray | None:
        """Training labels (segment ids, rows of the training feature table) of a just-fitted model."""
        return None if self.assignment_ is None else self.assignment_["segment_id"].to_numpy()

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Model-space matrix of a feature table, with the saved preprocessing."""
        return self.preprocessing.transform(df)

    def distances(self, z: np.ndarray) -> np.ndarray:
        """Euclidean distance of each row of ``z`` to each centroid, (n, k)."""
        return centroid_distances(z, self.centroids)

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Segment id of each model-space row (nearest centroid; ties to the lowest id)."""
        return np.asarray(self.ids, dtype=np.int64)[np.argmin(self.distances(z), axis=1)]

    def assign_features(self, df: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
        """Segment id, name, distance and outlier flag for each row of a feature table, in chunks."""
        if "customer_unique_id" not in df.columns:
            raise InputError("missing", file="feature table", column="customer_unique_id")
        # the feature columns are read chunk by chunk too: millions of rows are never copied at once
        parts = [self._assigned_rows(self.preprocessing.raw_matrix(df.iloc[start:start + chunk_rows]))
                 for start in range(0, len(df), chunk_rows)]
        if not parts:
            self.preprocessing.raw_matrix(df)  # the same checks of the columns
        ids, dist, outlier = (np.concatenate(p) for p in zip(*parts)) if parts else ([], [], [])
        position = pd.Index(self.ids).get_indexer(np.asarray(ids, dtype=np.int64))
        person = df["customer_unique_id"]
        return pd.DataFrame({
            # kept as pandas text columns: a Python object per id would cost ~80 bytes per customer
            "customer_unique_id": (person if person.dtype == "str" else person.astype(str)).reset_index(drop=True),
            "segment_id": np.asarray(ids, dtype=np.int64),
            # looked up from the k names, not built row by row
            "segment_name": pd.Series(np.asarray(self.names, dtype=object)[position], dtype="str"),
            "distance": np.asarray(dist, dtype="float64"),
            "outlier": np.asarray(outlier, dtype=bool),
        }, columns=ASSIGNMENT_COLUMNS)

    def _assigned_rows(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dist = self.distances(self.preprocessing.transform_matrix(raw))
        nearest = np.argmin(dist, axis=1)
        ids = np.asarray(self.ids, dtype=np.int64)[nearest]
        return ids, dist[np.arange(len(dist)), nearest], np.asarray((dist > self.thresholds[None, :]).all(axis=1))

    # -- the file ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The model file's content, canonical, with its checksum."""
        doc = cast(dict, canonical({
            **self.record,
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "preprocessing": self.preprocessing.to_dict(),
            "centroids": self.centroids.tolist(),
            "distance": {**self.record.get("distance", {}), "thresholds": self.thresholds.tolist()},
            "segments": self.segments,
        }))
        doc["checksum"] = checksum(doc)
        return doc

    @classmethod
    def from_dict(cls, doc: object, source: str = "model") -> SegmentModel:
        """A model from a file's content, validated; ModelFileError naming ``source`` otherwise."""
        return _validated(doc, source)

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically (key-sorted JSON: same model, same bytes)."""
        return write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> SegmentModel:
        """Read and validate a model file; ModelFileError (exit 2) for anything off."""
        from .jsonfile import read_json

        path = Path(path)
        return _validated(read_json(path, "model file", MAX_MODEL_BYTES), path)


# ---------------------------------------------------------------------------------------------
# Validation of a model file


#: Largest model file read: k x d numbers and the search's record take kilobytes.
MAX_MODEL_BYTES = 16 << 20

#: Bounds of a feature's fill and mean (raw or log1p units: nothing legal comes near) and its scale
#: (fit gives a standard deviation above 1e-12, or 1 for a constant feature).
PARAMETER_LIMIT = 1e15
MIN_SCALE = 1e-12

RECORD_KEYS = ("as_of", "statuses", "seed", "algorithm", "input", "libraries", "settings",
               "candidates", "choice", "alignment", "next_id", "distance")


def _validated(doc: object, source: str | Path) -> SegmentModel:
    def fail(problem: str) -> ModelFileError:
        return ModelFileError(problem, file=source)

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise fail(f"not a custseg segment model (no \"format\": \"{FORMAT}\")")
    if doc.get("format_version") != FORMAT_VERSION:
        raise fail(f"unsupported format version {doc.get('format_version')!r} (this custseg reads {FORMAT_VERSION})")
    missing = [k for k in ("preprocessing", "centroids", "segments", "checksum", *RECORD_KEYS) if k not in doc]
    if missing:
        raise fail(f"missing key {missing[0]!r}")
    try:
        preprocessing = _checked_preprocessing(doc["preprocessing"])
        centroids = _finite_matrix(doc["centroids"], "centroids")
        thresholds = _finite_matrix([doc["distance"].get("thresholds")], "distance thresholds")[0]
        segments = _checked_segments(doc["segments"])
        parse_as_of(doc["as_of"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, InputError) as exc:
        raise fail(f"malformed content ({_reason(exc)})") from None
    k, d = len(segments), len(preprocessing.features)
    if centroids.shape != (k, d):
        raise fail(f"{centroids.shape[0]} centroids of {centroids.shape[1]} features, "
                   f"but {k} segments of {d} features")
    if thresholds.shape != (k,) or (thresholds < 0).any():
        raise fail(f"{thresholds.size} distance thresholds for {k} segments")
    reach = _model_space_reach(doc.get("input"))
    if np.abs(centroids).max() > reach:
        raise fail(f"a centroid coordinate of {np.abs(centroids).max():.3g} lies outside the training data's "
                   f"range in model space (at most {reach:.3g} from 0)")
    if thresholds.max() > 2 * reach * math.sqrt(d):
        raise fail(f"a distance threshold of {thresholds.max():.3g} exceeds any distance within the training data")
    if doc["checksum"] != checksum(doc):
        raise fail("checksum mismatch: the file was edited or damaged after it was written")
    record = {key: doc[key] for key in RECORD_KEYS}
    return SegmentModel(preprocessing, centroids, thresholds, segments, record)


def _model_space_reach(facts: object) -> float:
    """How far from 0 a training customer can lie on one standardised feature: sqrt(N) for N customers.

    A feature standardised by its mean and standard deviation over N values has no value farther
    than sqrt(N - 1) from 0, and a centroid is a mean of such values; 1e5 is the reach when N is
    not recorded (ten billion customers).
    """
    customers = facts.get("customers") if isinstance(facts, dict) else None
    if isinstance(customers, int) and not isinstance(customers, bool) and 0 < customers <= 10**10:
        return math.sqrt(customers) * (1 + 1e-6) + 1e-6
    return 1e5


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, InputError) else f"{exc.__class__.__name__}: {exc}"


def _finite_matrix(rows: object, what: str) -> np.ndarray:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise ValueError(f"{what} must be a non-empty list of lists")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for r in rows for v in r):
        raise ValueError(f"{what} must hold numbers only")
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"{what} rows differ in length")
    matrix = np.asarray(rows, dtype="float64")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{what} hold a non-finite number")
    return matrix


def _checked_preprocessing(doc: dict) -> Preprocessing:
    items = doc["features"]
    if not isinstance(items, list) or not items:
        raise ValueError("preprocessing has no features")
    prep = Preprocessing.from_dict(doc)
    names = prep.names
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError("feature names must be unique, non-empty strings")
    for f in prep.features:
        if f.transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {f.transform!r} for {f.name}")
        fill, mean, scale = _finite_matrix([[f.fill, f.mean, f.scale]], f"parameters of {f.name}")[0]
        if not MIN_SCALE <= scale <= PARAMETER_LIMIT:
            raise ValueError(f"scale of {f.name} must be between {MIN_SCALE:g} and {PARAMETER_LIMIT:g}, not {scale:g}")
        if max(abs(fill), abs(mean)) > PARAMETER_LIMIT:
            raise ValueError(f"fill and mean of {f.name} must be below {PARAMETER_LIMIT:g} in absolute value")
    return prep


def _checked_segments(segments: object) -> list[dict]:
    if not isinstance(segments, list) or not segments:
        raise ValueError("segments must be a non-empty list")
    ids = [s["id"] for s in segments]
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
        raise ValueError("segment ids must be integers >= 0")
    if ids != sorted(set(ids)):
        raise ValueError("segment ids must be unique and ascending")
    names = [s["name"] for s in segments]
    if not all(isinstance(n, str) and n for n in names) or len({n.lower() for n in names}) != len(names):
        raise ValueError("segment names must be unique, non-empty strings")
    return segments


# ---------------------------------------------------------------------------------------------
# Assignment (the API's ``custseg.assign``)


def assign(
    model: SegmentModel | str | Path,
    data: str | Path | pd.DataFrame | object,
    as_of: date | datetime | str | None = None,
    statuses: tuple[str, ...] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Assign every customer of ``data`` at ``as_of`` to the model's segments.

    ``data`` is a data directory, a :class:`~custseg.ingest.Dataset` or a ready feature table
    (then ``as_of`` is not needed). Statuses default to the model's. Returns one row per customer:
    ``customer_unique_id, segment_id, segment_name, distance, outlier``.
    """
    if not isinstance(model, SegmentModel):
        model = SegmentModel.load(model)
    if isinstance(data, pd.DataFrame):
        table = data
    else:
        if as_of is None:
            raise InputError("an as-of date is needed to compute features (e.g. as_of='2018-09-01')")
        table = feature_table(cast("str | Path | Dataset", data), as_of, statuses or model.statuses)
    return model.assign_features(table, chunk_rows)


# ---------------------------------------------------------------------------------------------
# Stable ids across re-training


@dataclass(frozen=True)
class Alignment:
    """New segment ids (and carried-over names) for a re-trained model's segments, in its order."""

    ids: tuple[int, ...]
    previous_names: tuple[str | None, ...]
    moved: tuple[float | None, ...]
    next_id: int
    record: dict


def require_same_features(names: list[str], previous: SegmentModel) -> None:
    """InputError unless ``names`` are the previous model's features (in any order)."""
    if sorted(names) != sorted(previous.feature_names):
        raise InputError(
            f"previous model uses features {','.join(previous.feature_names)}; this fit uses "
            f"{','.join(names)} (segments can only be matched on the same features)",
            file="previous model",
        )


def alignment(new_centroids: np.ndarray, new_prep: Preprocessing, previous: SegmentModel) -> Alignment:
    """Match new segments to ``previous`` ones (Hungarian matching on centroids, previous space).

    The new centroids are taken back to raw feature values with the new preprocessing's inverse
    and forward through the previous model's preprocessing, so both sets of centroids live in the
    space the previous model measured distances in. A pair is matched by minimum total distance,
    and only kept when the new centroid lies within the previous segment's outlier threshold
    (else the new segment is new, and the old one retired). Matched segments keep the previous id
    and name; new ones get ids from the previous model's ``next_id`` on, so an id is never reused.
    """
    require_same_features(new_prep.names, previous)
    raw = pd.DataFrame(new_prep.inverse(new_centroids), columns=new_prep.names)
    in_previous_space = previous.transform(raw)
    cost = centroid_distances(in_previous_space, previous.centroids)
    rows, cols = linear_sum_assignment(cost)
    matched = {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] <= previous.thresholds[c]}
    next_id = int(previous.record["next_id"])
    ids: list[int] = []
    names: list[str | None] = []
    moved: list[float | None] = []
    for i in range(len(new_centroids)):
        if i in matched:
            j = matched[i]
            ids.append(previous.ids[j])
            names.append(previous.names[j])
            moved.append(float(cost[i, j]))
        else:
            ids.append(next_id)
            names.append(None)
            moved.append(None)
            next_id += 1
    record = {
        "method": "hungarian matching of centroids in the previous model's space "
                  "(new centroids -> raw values -> previous preprocessing); a match needs the new "
                  "centroid within the previous segment's outlier threshold",
        "previous": {"as_of": previous.as_of, "checksum": previous.to_dict()["checksum"],
                     "ids": previous.ids, "names": previous.names},
        "retired_ids": sorted(set(previous.ids) - set(ids)),
    }
    return Alignment(tuple(ids), tuple(names), tuple(moved), next_id, record)

