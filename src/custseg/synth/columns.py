"""Random draws and the text of CSV columns (ids, zip prefixes, times, money), rendered with Arrow."""
from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# ---------------------------------------------------------------- random helpers


def _hump(rng: np.random.Generator, low: np.ndarray | float, high: np.ndarray | float, n: int) -> np.ndarray:
    """Values in [low, high], most often near the middle (mean of two uniforms)."""
    return low + (high - low) * (rng.random(n) + rng.random(n)) / 2


def _pick(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Index drawn from each row of cumulative probabilities (n, K)."""
    u = rng.random(len(cumulative))
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1)


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random ids of 32 lower-case hex characters, as an (n, 32) array of ASCII codes."""
    return np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[rng.integers(0, 16, size=(n, 32), dtype=np.uint8)]


def _group_starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first row of each group when groups of ``counts`` rows are laid end to end."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _rank_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of rows."""
    return np.arange(int(counts.sum())) - np.repeat(_group_starts(counts), counts)


def _split_cents(totals: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each group's total (cents) over its rows in proportion to ``weights``, exactly."""
    running = np.cumsum(weights)
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    # running weight before each group, so that each group's running share ends at exactly 1
    before = np.zeros(len(totals))
    before[group[first]] = (running - weights)[first]
    group_sum = np.bincount(group, weights, minlength=len(totals))
    cum = np.rint((running - before[group]) / group_sum[group] * totals[group]).astype(np.int64)
    previous = np.concatenate([[0], cum[:-1]])
    return cum - np.where(first, 0, previous)


# ---------------------------------------------------------------- CSV rendering


def _strings(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """A string array from the concatenated UTF-8 bytes of its values and their lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))


def _id_text(ids: np.ndarray) -> pa.Array:
    """Ids as the export writes them: quoted when they start with a digit."""
    n = len(ids)
    quoted = ids[:, 0] <= ord("9")
    full = np.empty((n, 34), dtype=np.uint8)
    full[:, 0] = full[:, 33] = ord('"')
    full[:, 1:33] = ids
    keep = np.ones((n, 34), dtype=bool)
    keep[~quoted, 0] = keep[~quoted, 33] = False
    return _strings(full[keep], np.where(quoted, 34, 32))


def _zip_text(prefixes: np.ndarray) -> pa.Array:
    """Zip prefixes as quoted 5-digit strings ("01037")."""
    digits = (prefixes[:, None] // 10 ** np.arange(4, -1, -1)) % 10 + ord("0")
    full = np.full((len(prefixes), 7), ord('"'), dtype=np.uint8)
    full[:, 1:6] = digits
    return _strings(full.ravel(), np.full(len(prefixes), 7))


def _time_text(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS``; empty where not valid."""
    n = len(seconds)
    valid = np.ones(n, dtype=bool) if valid is None else valid
    chars = seconds.astype("datetime64[s]").astype("S19").view(np.uint8).reshape(n, 19).copy()
    chars[:, 10] = ord(" ")
    return _strings(chars[valid].ravel(), np.where(valid, 19, 0))


def _int_text(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    text = pc.cast(pa.array(values), pa.string())
    return text if valid is None else pc.if_else(pa.array(valid), text, "")


def _money_text(cents: np.ndarray) -> pa.Array:
    """Cents as reais with two decimals (58.90)."""
    whole = pc.cast(pa.array(cents // 100), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, fraction, ".")


def _float_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r') or text[:1].isdigit():
        return '"' + text.replace('"', '""') + '"'
    return text


def _vocab_text(vocabulary: list[str] | tuple[str, ...], index: np.ndarray,
                valid: np.ndarray | None = None) -> pa.Array:
    """Words of a small vocabulary picked by ``index``; empty where not valid."""
    words = pa.array([_csv_field(w) for w in vocabulary], type=pa.string())
    text = words.take(pa.array(np.clip(index, 0, len(vocabulary) - 1)))
    return text if valid is None else pc.if_else(pa.array(valid), text, "")


def _header(columns: list[str] | tuple[str, ...]) -> bytes:
    return (",".join(f'"{c}"' for c in columns) + "\n").encode()


def _write_rows(handle: BinaryIO, columns: list[pa.Array]) -> int:
    """Append rows (one rendered string array per column) to ``handle``; return the row count."""
    n = len(columns[0])
    if n == 0:
        return 0
    lines = pc.binary_join_element_wise(*columns, ",")
    text = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), lines), "\n")
    handle.write(text[0].as_buffer())
    handle.write(b"\n")
    return n
