"""The whole data set: the nine Olist CSV files and truth.csv, chunk by chunk; and a CDNOW-style log."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..export import atomic_path
from ..schema import TABLES
from .catalogue import (
    _catalogue,
    _geolocation_columns,
    _product_columns,
    _seller_columns,
    _translation_bytes,
)
from .chunk import _chunk
from .columns import _header, _rank_in_group, _write_rows
from .personas import (
    _TRUTH_PERSONAS,
    BEHAVIOURS,
    CHUNK_CUSTOMERS,
    DEFAULT_MONTHS,
    DEFAULT_START,
    TRUTH_FILE,
    _check_arguments,
    _horizon,
    _parse_start,
)
from .vocabulary import _CATEGORIES


@dataclass
class SynthSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    files: dict[str, Path]  # table name (and "truth") -> file
    rows: dict[str, int]
    customers: int
    orders: int
    start: date
    end: date  # first day after the horizon: the export's date
    months: int
    seed: int
    drift_mix: bool
    drift_month: int | None
    persona_counts: dict[str, int] = field(default_factory=dict)
    one_time_share: float = 0.0

# ---------------------------------------------------------------- the whole data set


def _chunk_sizes(customers: int) -> list[int]:
    full, rest = divmod(customers, CHUNK_CUSTOMERS)
    return [CHUNK_CUSTOMERS] * full + ([rest] if rest else [])


_TRUTH_COLUMNS = ("customer_unique_id", "persona", "first_purchase_month")


def generate(
    out_dir: str | Path,
    customers: int = 10_000,
    seed: int = 0,
    months: int = DEFAULT_MONTHS,
    *,
    start: str | date = DEFAULT_START,
    drift_mix: bool = False,
    drift_month: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write the nine Olist CSV files and ``truth.csv`` for ``customers`` people into ``out_dir``.

    ``start`` is the first day of a horizon of ``months`` months; ``drift_mix`` and
    ``drift_month`` (1-based) plant drift as described in the module docstring. ``progress`` is
    called with the number of customers done after each chunk. Files are written to temporary
    names and renamed when all are complete.
    """
    _check_arguments(customers, months, drift_month)
    first_day = _parse_start(start)
    horizon = _horizon(first_day, months)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", file=out)
    root = np.random.SeedSequence(seed)
    catalogue_ss, *chunk_ss = root.spawn(1 + len(_chunk_sizes(customers)))
    cat_rng = np.random.default_rng(catalogue_ss)
    cat = _catalogue(cat_rng, customers)

    targets = {name: out / spec.csv_name for name, spec in TABLES.items()}
    targets["truth"] = out / TRUTH_FILE
    rows = dict.fromkeys(targets, 0)
    persona_counts = np.zeros(_TRUTH_PERSONAS, dtype=np.int64)
    one_timers = 0
    with ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(path)) for name, path in targets.items()}
        handles = {name: stack.enter_context(open(tmp[name], "wb"))
                   for name in targets if name != "category_translation"}
        for name, handle in handles.items():
            columns = _TRUTH_COLUMNS if name == "truth" else tuple(TABLES[name].columns)
            handle.write(_header(columns))
        rows["products"] = _write_rows(handles["products"], _product_columns(cat_rng, cat))
        rows["sellers"] = _write_rows(handles["sellers"], _seller_columns(cat))
        rows["geolocation"] = _write_rows(handles["geolocation"], _geolocation_columns(cat_rng, cat))
        tmp["category_translation"].write_bytes(_translation_bytes())
        rows["category_translation"] = sum(1 for c in _CATEGORIES if c[1] is not None)
        done = 0
        for ss, size in zip(chunk_ss, _chunk_sizes(customers)):
            chunk = _chunk(ss, size, horizon, cat, drift_mix, drift_month)
            for name, arrays in chunk.tables.items():
                rows[name] += _write_rows(handles[name], arrays)
            persona_counts += np.bincount(chunk.persona, minlength=_TRUTH_PERSONAS)
            one_timers += int((chunk.orders_per_customer == 1).sum())
            done += size
            if progress is not None:
                progress(done)
    return SynthSummary(
        out_dir=out,
        files=targets,
        rows=rows,
        customers=customers,
        orders=rows["orders"],
        start=first_day,
        end=pd.Timestamp(horizon.end, unit="s").date(),
        months=months,
        seed=seed,
        drift_mix=drift_mix,
        drift_month=drift_month,
        persona_counts={BEHAVIOURS[i].name: int(c) for i, c in enumerate(persona_counts) if c},
        one_time_share=one_timers / customers,
    )


# ---------------------------------------------------------------- a generic transaction log


def cdnow_log(path: str | Path, customers: int = 1_000, seed: int = 0) -> Path:
    """Write a CDNOW-style log: whitespace-separated, no header, ``customer_id date count amount``.

    Ids are zero-padded numbers (00001), dates ``YYYYMMDD`` in 1997-01-01..1998-06-30, counts 1-12 CDs,
    amounts with two decimals (some 0.00, as in the original). Rows are sorted by customer and
    date; most customers buy once, a third buy again. Deterministic from ``seed``.
    """
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    first_day = np.datetime64("1997-01-01")
    span = int((np.datetime64("1998-07-01") - first_day).astype(int))
    # customers joined during the first quarter, as in CDNOW's cohort
    arrival = rng.integers(0, 90, customers)
    extra = np.where(rng.random(customers) < 0.35, rng.geometric(0.3, customers), 0)
    counts = 1 + extra
    customer = np.repeat(np.arange(customers), counts)
    start = arrival[customer]
    day = np.where(_rank_in_group(counts) > 0, start + np.floor(rng.random(len(customer)) * (span - start)), start)
    order = np.lexsort((day, customer))
    customer, day = customer[order], day[order].astype(np.int64)
    cds = np.minimum(rng.geometric(0.55, len(customer)), 12)
    amount = np.round(cds * rng.uniform(9.0, 16.0, len(customer)), 2)
    amount[rng.random(len(customer)) < 0.002] = 0.0
    dates = (first_day + day).astype("datetime64[D]").astype(str)
    lines = [
        f"   {c + 1:05d} {d.replace('-', '')} {k:>2d} {a:>6.2f}"
        for c, d, k, a in zip(customer, dates, cds, amount)
    ]
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
    return target
