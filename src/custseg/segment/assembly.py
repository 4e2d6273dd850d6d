"""The final model: stable ids (fresh, or matched with the previous model's), thresholds, names,
and the record of how it was found."""
from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import asdict
from datetime import date
from typing import cast

import numpy as np
import pandas as pd

from ..describe import describe_segments
from ..errors import InputError
from ..model import Preprocessing, SegmentModel, alignment, canonical, nearest_centroids, significant
from .candidates import Candidate
from .fits import nearest
from .settings import CHOICE_RULE, SearchSettings

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
    from .. import __version__

    libraries = ("numpy", "pandas", "scikit-learn", "scipy")
    return {"custseg": __version__, **{n: importlib.metadata.version(n) for n in libraries}}


def _ordered_centroids(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Centroids rounded as stored, largest segment first (a canonical order for fresh ids)."""
    centroids = np.vectorize(significant)(centroids)
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
    thresholds = np.array([significant(np.quantile(distance[position == i], settings.distance_quantile))
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
