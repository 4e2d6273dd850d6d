"""How long segments stay valid: temporal backtest, noise floor and the maintenance contract.

Protocol (also written into every result's ``protocol`` block): a reference model is fitted at
the reference date D0 and then *frozen*: its preprocessing and centroids are never refitted. At
each later step t, the customer features are rebuilt as of t (with a sliding window, only orders
purchased in [t - window, t)), and the same customers are labelled twice: by the frozen model and
by a model *re-trained* at t by the same procedure with the same k. Their agreement (ARI, AMI) on
all customers present at t, and on the cohort already present at D0 (matched by
customer_unique_id), says how far the frozen segmentation has drifted from what a re-train would
give.

Re-training is noisy in itself, so each date is also fitted several times (seeds, and bootstrap
resamples of the customers): the ARIs among those refits are the *noise floor*, the agreement to
expect with no drift at all, and the ARIs of the frozen model against each refit give each step's
band. With no drift the frozen model is just one more refit, so its band matches the floor; drift
pushes the band below it. The recommended re-train interval is the longest stretch from D0 over
which the band's lower bound stays above the threshold (absolute, or the floor's lower bound minus
a margin).

On large data the comparisons follow a fixed share of the people (:func:`compared_customers`, by a
hash of customer_unique_id). The reference model is still fitted on everyone, but the step features
are then computed for that *panel* only: its persons' rows are copied once into a schema of their
own (:func:`compared_panel`) and each step's feature query reads them, so a step costs a query over
the panel rather than over millions of customers. Only the count of everyone at a step
(``customers_total``) is read from the full tables, in one small SQL count.
"""
from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from itertools import combinations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from rich.table import Table
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score
from threadpoolctl import threadpool_limits

from .drift import PSI_MAJOR, drift_drivers, feature_drift, migration_matrix, numeric_features, segment_shares
from .errors import InputError
from .features import FEATURE_DTYPES, customer_features, feature_sql, split_query
from .ingest import Dataset, idle, key_text
from .model import Preprocessing, SegmentModel, alignment
from .schema import DEFAULT_STATUSES, TABLES
from .segment import checked_feature_names, family_fits, fit, fit_preprocessing, fit_sample, nearest

#: Version of the JSON written by :func:`backtest` (bump on an incompatible change).
RESULT_FORMAT = "custseg.stability/1"
#: Default absolute threshold on the ARI band's lower bound.
DEFAULT_THRESHOLD = 0.8
#: Default margin under the noise floor's lower bound in ``--threshold floor`` mode.
DEFAULT_MARGIN = 0.1
#: Default trigger: a segment's share moving more than this many percentage points.
DEFAULT_SHARE_POINTS = 5.0
#: Digits kept for statistics in the JSON: enough to compare, and stable bytes.
DIGITS = 4

_UNITS = {"D": ("day", "days"), "W": ("week", "weeks"), "M": ("month", "months"), "Y": ("year", "years")}


# ---------------------------------------------------------------------------------------------
# Dates, periods and the feature window


@dataclass(frozen=True)
class Period:
    """A calendar length such as ``1M``, ``2W``, ``14D`` or ``1Y`` (months follow the calendar)."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def offset(self, times: int = 1) -> pd.DateOffset:
        n = self.count * times
        return {"D": pd.DateOffset(days=n), "W": pd.DateOffset(weeks=n),
                "M": pd.DateOffset(months=n), "Y": pd.DateOffset(years=n)}[self.unit]

    def after(self, day: date, times: int = 1) -> date:
        """``day`` plus ``times`` periods (counted from ``day``, so month ends do not creep)."""
        return (pd.Timestamp(day) + self.offset(times)).date()

    def before(self, day: date) -> date:
        return (pd.Timestamp(day) - self.offset()).date()

    def describe(self, times: int = 1) -> str:
        """Human length of ``times`` periods: '1 month', '6 weeks'."""
        n = self.count * times
        singular, plural = _UNITS[self.unit]
        return f"{n} {singular if n == 1 else plural}"


def parse_period(text: str, option: str) -> Period:
    """A :class:`Period` from ``"1M"``, ``"2W"``, ``"14D"``, ``"1Y"``; InputError naming ``option`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([DWMYdwmy])\s*", str(text))
    if not match or int(match.group(1)) < 1:
        raise InputError(f"{option}: {text!r} is not a period (expected e.g. 1M, 2W, 14D, 1Y)")
    return Period(int(match.group(1)), match.group(2).upper())


def parse_window(text: str) -> Period | None:
    """The feature window: ``None`` for ``all`` (the whole history), else a :class:`Period`."""
    if str(text).strip().lower() == "all":
        return None
    return parse_period(text, "--window")


#: The published study's six features (``--features study``): recency, monetary value, review score,
#: review answer delay, mean items per order and total items.
STUDY_FEATURES: tuple[str, ...] = ("recency_days", "monetary", "review_score_mean", "answer_days", "mean_items",
                                   "total_items")


def parse_features(text: str | None) -> tuple[str, ...] | None:
    """Model features from ``"a,b,c"``, :data:`STUDY_FEATURES` for ``"study"``, ``None`` (the engine's
    default) for nothing; InputError naming the first name that is not a numeric feature."""
    names = [f.strip() for f in str(text or "").split(",") if f.strip()]
    if names == ["study"]:
        return STUDY_FEATURES
    if not names:
        return None
    checked_feature_names(names, [c for c, t in FEATURE_DTYPES.items() if t != "str"])
    return tuple(names)


def parse_threshold(text: str) -> float | None:
    """An absolute ARI threshold in (0, 1], or ``None`` for ``floor`` (relative to the noise floor)."""
    if str(text).strip().lower() == "floor":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--threshold: {text!r} is neither a number in (0, 1] nor 'floor'") from None
    if not 0 < value <= 1:
        raise InputError(f"--threshold: {value} is outside (0, 1]")
    return value


def step_dates(reference: date, step: Period, until: date) -> list[date]:
    """The dates reference + step, reference + 2 steps, ... up to ``until`` included."""
    dates = []
    i = 1
    while (day := step.after(reference, i)) <= until:
        dates.append(day)
        i += 1
    return dates


def first_month_start_after(day: date) -> date:
    """``day`` when it is the 1st of a month, else the 1st of the next month (a month-end as-of date)."""
    ts = pd.Timestamp(day)
    return day if ts.day == 1 else (ts + pd.offsets.MonthBegin(1)).date()


#: DuckDB schema holding the windowed view of ``orders`` (the other tables pass through).
WINDOW_SCHEMA = "custseg_window"


def searching(ds: Dataset, *schemas: str) -> Dataset:
    """``ds`` on a cursor of its own that looks table names up in ``schemas`` first, then in ``main``."""
    cursor = ds.con.cursor()
    cursor.execute(f"SET search_path = '{','.join(dict.fromkeys((*schemas, 'main')))}'")
    return replace(ds, con=cursor)


def windowed(ds: Dataset, since: date, source: str = "main") -> Dataset:
    """``ds`` seen through a window: ``orders`` keeps only the orders purchased on or after ``since``.

    The feature query reads the contract's table names, so the window is a view named ``orders``
    in a schema searched first; everything about a customer (items, payments, reviews, deliveries)
    then follows from their orders inside the window. The data are not copied. ``source`` is the
    schema whose tables are windowed (``main``, or the backtest's panel).
    """
    ds.con.execute(f"CREATE SCHEMA IF NOT EXISTS {WINDOW_SCHEMA}")
    ds.con.execute(
        f"CREATE OR REPLACE VIEW {WINDOW_SCHEMA}.orders AS SELECT * FROM {source}.orders "
        f"WHERE order_purchase_timestamp >= TIMESTAMP '{since.isoformat()} 00:00:00'"
    )
    return searching(ds, WINDOW_SCHEMA, source)


def features_at(ds: Dataset, as_of: date, window: Period | None, statuses: tuple[str, ...],
                source: str = "main") -> pd.DataFrame:
    """The customer feature table as of ``as_of``: whole history, or only orders in [as_of - window, as_of).

    ``source`` is the schema the customers, orders and their contents are read from (``main``, or
    the backtest's panel); the other tables always come from ``main``.
    """
    if window is None and source == "main":
        return customer_features(ds, as_of, statuses)
    view = windowed(ds, window.before(as_of), source) if window is not None else searching(ds, source)
    try:
        return customer_features(view, as_of, statuses)
    finally:
        view.con.close()


def customers_at(ds: Dataset, as_of: date, window: Period | None, statuses: tuple[str, ...]) -> int:
    """How many persons have a counted order before ``as_of`` (inside the window): the rows of
    :func:`features_at` on the full tables, counted without computing any feature.

    Counted by the feature query's own first step (``counted_orders``), on the same view of the data.
    """
    view = windowed(ds, window.before(as_of)) if window is not None else searching(ds)
    steps, _ = split_query(feature_sql(as_of, statuses))
    try:
        # fetchall: a half-read result would block the next relational call on the connection
        return view.con.execute(f"SELECT COUNT(DISTINCT customer_unique_id) FROM ({dict(steps)['counted_orders']}) "
                                "counted").fetchall()[0][0]
    finally:
        view.con.close()


def counted_purchase_span(ds: Dataset, statuses: tuple[str, ...]) -> tuple[date, date]:
    """Dates of the first and the last counted purchase in the data; InputError when there is none."""
    marks = ", ".join("?" for _ in statuses)
    first, last = ds.con.execute(
        f"SELECT MIN(order_purchase_timestamp), MAX(order_purchase_timestamp) FROM orders "
        f"WHERE order_status IN ({marks})", list(statuses)).fetchall()[0]
    if first is None:
        raise InputError(f"no order with status {', '.join(statuses)} has a purchase date",
                         file=ds.files.get("orders", TABLES["orders"].csv_name), column="order_purchase_timestamp")
    return first.date(), last.date()


def default_reference(first_purchase: date, history: Period = Period(12, "M")) -> date:
    """The first month-end with ``history`` (12 months) of counted purchases before it."""
    return first_month_start_after(history.after(first_purchase))


def default_until(last_purchase: date) -> date:
    """The day after the last counted purchase: later as-of dates would only age the customers."""
    return last_purchase + timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Agreement bands, the pass rule and the recommendation


def band(values: list[float] | np.ndarray) -> dict:
    """Summary of a set of agreement scores: n, mean, 5th and 95th percentiles, min, max."""
    x = np.asarray(values, dtype=float)
    if not x.size:
        return {"n": 0, "mean": None, "p05": None, "p95": None, "min": None, "max": None}
    return {
        "n": int(x.size),
        "mean": rounded(x.mean()),
        "p05": rounded(np.percentile(x, 5)),
        "p95": rounded(np.percentile(x, 95)),
        "min": rounded(x.min()),
        "max": rounded(x.max()),
    }


def rounded(value: float) -> float:
    """``value`` rounded to :data:`DIGITS` decimals, as a plain float (0.0 for a negative zero)."""
    return round(float(value), DIGITS) + 0.0


def floor_limit(floor: dict, margin: float) -> float:
    """The lowest band lower bound still within the noise floor: the floor's own lower bound minus margin.

    Lower bound against lower bound: with no drift the frozen model's ARIs are drawn like the
    refits' ARIs among themselves, so their 5th percentiles match up to the margin.
    """
    return rounded(floor["p05"] - margin)


def step_threshold(floor: dict, threshold: float | None, margin: float) -> float:
    """The ARI a step's band must stay above: the absolute threshold, or :func:`floor_limit`."""
    return threshold if threshold is not None else floor_limit(floor, margin)


def step_verdict(ari: dict, floor: dict, threshold: float | None, margin: float) -> dict:
    """A step's threshold, whether the band's lower bound passes it, and whether it is within the floor.

    ``within_floor`` says whether the frozen model agrees with the re-trains about as well as the
    re-trains agree among themselves: a failing step within the floor is re-training noise (the
    segmentation is unstable at this k whatever its age), one below the floor is drift. In floor
    mode the threshold is the floor's limit, so both tests coincide.
    """
    limit = step_threshold(floor, threshold, margin)
    return {"threshold": limit, "passes": bool(ari["p05"] >= limit),
            "within_floor": bool(ari["p05"] >= floor_limit(floor, margin))}


def recommendation(
    steps: list[dict],
    reference: date,
    step: Period,
    threshold: float | None,
    margin: float = DEFAULT_MARGIN,
) -> dict:
    """The longest re-train interval from the reference over which the ARI band stays above threshold.

    ``steps`` are the backtest's step records (``as_of``, ``ari`` and ``floor`` bands of all
    customers, the fields of :func:`step_verdict`, ``drivers``). The test is on the band's lower
    bound (p05), so a step passes only when nearly every refit agrees with the frozen model. The
    answer names the step that crossed first and by how much, with the noise floor beside it (a
    crossing within the floor is re-training noise rather than drift), or says that the
    segmentation held over the whole horizon.
    """
    rule = ("ARI band lower bound (p05, all customers at t) >= "
            + (f"{threshold}" if threshold is not None else f"noise-floor p05 - {margin}"))
    crossed = next((i for i, s in enumerate(steps) if not s["passes"]), None)
    horizon = steps[-1]["as_of"] if steps else reference.isoformat()
    base = {"rule": rule, "horizon": horizon, "threshold": threshold if threshold is not None else "floor",
            "margin": margin}
    if crossed is None:
        n = len(steps)
        return {**base, "verdict": "stable", "retrain_every": None, "retrain_every_days": None,
                "evidence": None,
                "text": (f"stable over the whole horizon ({step.describe(n)}, {reference} to {horizon}): "
                         f"the frozen model never fell below the threshold; no scheduled re-train is needed "
                         f"within this horizon, monitor for the triggers")}
    bad = steps[crossed]
    lower, limit = bad["ari"]["all"]["p05"], bad["threshold"]
    evidence = {
        "as_of": bad["as_of"],
        "steps_after_reference": crossed + 1,
        "ari_lower": lower,
        "ari_mean": bad["ari"]["all"]["mean"],
        "threshold": limit,
        "below_by": rounded(limit - lower),
        "floor_lower": bad["floor"]["all"]["p05"],
        "floor_mean": bad["floor"]["all"]["mean"],
        "within_floor": bad["within_floor"],
        "drivers": bad["drivers"],
        "later_steps_below": [s["as_of"] for s in steps[crossed + 1:] if not s["passes"]],
    }
    found = (f"at {bad['as_of']} ({step.describe(crossed + 1)} after {reference}) the ARI lower bound "
             f"{lower:.3f} is {evidence['below_by']:.3f} below {limit:.3f}")
    if bad["within_floor"]:
        found += (f"; re-trains at that date agree among themselves only down to {evidence['floor_lower']:.3f} "
                  "(noise floor), so this is re-training noise rather than drift: the segmentation is "
                  "unstable at this k (fewer segments, or --threshold floor, may suit it better)")
    elif evidence["drivers"]:
        found += f", beyond the noise floor; drifting model features: {', '.join(evidence['drivers'])}"
    else:
        found += ", beyond the noise floor"
    if crossed == 0:
        every, days = step.describe(), (date.fromisoformat(bad["as_of"]) - reference).days
        text = f"re-train at every step ({every}) or more often: {found}"
    else:
        every, held = step.describe(crossed), steps[crossed - 1]["as_of"]
        days = (date.fromisoformat(held) - reference).days
        text = f"re-train every {every}: the frozen model held until {held}; {found}"
    return {**base, "verdict": "retrain", "retrain_every": every, "retrain_every_days": days,
            "evidence": evidence, "text": text}


# ---------------------------------------------------------------------------------------------
# The maintenance contract


@dataclass(frozen=True)
class Triggers:
    """When a segmentation calls for an early re-train (the maintenance contract's triggers)."""

    ari: float | None = DEFAULT_THRESHOLD  # None: relative to the noise floor (its p05 - margin)
    margin: float = DEFAULT_MARGIN
    psi_max: float = PSI_MAJOR
    share_points: float = DEFAULT_SHARE_POINTS

    def checked(self) -> Triggers:
        if not 0 <= self.margin < 1:
            raise InputError(f"--margin: {self.margin} must be in [0, 1)")
        if self.psi_max <= 0 or self.share_points <= 0:
            raise InputError("--psi-max and --share-points must be positive")
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "ari": self.ari if self.ari is not None else "floor"}


def monitor_every_days(retrain_days: int | None, horizon_days: int, step_days: int) -> int:
    """How often to run ``custseg monitor``: four checks per re-train interval, weekly at most.

    Four checks per interval catch a trigger within a quarter of it; more often than weekly adds
    little (a customer's features barely move in days); less often than one backtest step would
    miss what the backtest can see.
    """
    interval = retrain_days if retrain_days else horizon_days
    return int(min(max(interval // 4, 7), max(step_days, 7)))


def maintenance_contract(result: dict, triggers: Triggers, cost: dict | None) -> dict:
    """The maintenance contract of a backtest ``result``: re-train interval, monitoring, triggers, cost."""
    proto = result["protocol"]
    rec = result["recommendation"]
    reference = date.fromisoformat(proto["reference_date"])
    horizon_days = (date.fromisoformat(rec["horizon"]) - reference).days
    first_step = result["steps"][0]["as_of"] if result["steps"] else proto["reference_date"]
    step_days = (date.fromisoformat(first_step) - reference).days
    every = monitor_every_days(rec["retrain_every_days"], horizon_days, step_days)
    threshold = rec["threshold"]
    return {
        "retrain_every": rec["retrain_every"],
        "retrain_every_days": rec["retrain_every_days"],
        "stable_over_horizon": rec["verdict"] == "stable",
        "monitor": {
            "every_days": every,
            "command": "custseg monitor MODEL DATA --as-of YYYY-MM-DD -o record.json",
            "watch": ["frozen-vs-re-trained ARI (band lower bound)", "PSI of each model feature",
                      "segment shares of the frozen model"],
        },
        "triggers": [
            {"name": "ari_below_threshold", "threshold": threshold, "margin": rec["margin"],
             "text": ("ARI lower bound below " + (f"{threshold}" if threshold != "floor"
                                                   else f"the noise floor's lower bound - {rec['margin']}"))},
            {"name": "psi_above", "threshold": triggers.psi_max, "features": proto["model_features"],
             "text": f"PSI above {triggers.psi_max} on a model feature"},
            {"name": "share_shift", "threshold_points": triggers.share_points,
             "text": f"a segment's share moving more than {triggers.share_points:g} points from the reference"},
        ],
        "retrain_cost": cost,
    }


def contract_text(result: dict) -> str:
    """The maintenance contract as a few lines of plain text, for a terminal or a ticket."""
    proto = result["protocol"]
    rec = result["recommendation"]
    con = result["contract"]
    window = proto["window"]
    lines = [
        f"Maintenance contract: k={proto['k']}, reference {proto['reference_date']}, "
        f"window {window}, steps of {proto['step']} to {rec['horizon']}",
        "Re-train: " + rec["text"],
        f"Monitor: every {con['monitor']['every_days']} days: {con['monitor']['command']} "
        "(exit 3 = re-train now)",
        "Early re-train when: " + "; ".join(t["text"] for t in con["triggers"]),
    ]
    cost = con["retrain_cost"]
    if cost:
        lines.append(f"Cost of one re-train: {cost['seconds']:.1f} s, {cost['peak_memory_mb']:.0f} MB peak "
                     f"({cost['customers']:,} customers)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Re-training: the reference model's procedure, repeated at another date


@dataclass(frozen=True)
class Procedure:
    """What a re-train repeats: the reference model's algorithm, k, features and fit settings.

    Read from the model's own record, so a re-train at t is the fit that produced the model,
    minus the search: same algorithm and k (HDBSCAN: same minimum cluster share), same features,
    preprocessing fitted afresh on the data at t, same fit sample rule and k-means starts.
    """

    algorithm: str
    param: int | float
    features: tuple[str, ...]
    sample_size: int
    subsample: int
    n_init: int
    seed: int

    @classmethod
    def of(cls, model: SegmentModel) -> Procedure:
        settings, choice = model.record["settings"], model.record["choice"]
        param = choice["param"] if choice["algorithm"] == "hdbscan" else int(choice["param"])
        return cls(choice["algorithm"], param, tuple(model.feature_names), int(settings["sample_size"]),
                   int(settings["subsample"]), int(settings["n_init"]), int(model.record["seed"]))


@dataclass(frozen=True)
class Refit:
    """A re-trained segmentation: its own preprocessing and centroids (model space)."""

    preprocessing: Preprocessing
    centroids: np.ndarray

    def labels(self, table: pd.DataFrame) -> np.ndarray:
        """Nearest-centroid segment (0..k-1) of every row of ``table``, with this refit's preprocessing."""
        return nearest(self.preprocessing.transform(table), self.centroids)


def refit(table: pd.DataFrame, as_of: date, procedure: Procedure, seed: int, resample: bool = False) -> Refit:
    """Fit ``procedure`` on ``table`` as of ``as_of`` with ``seed``; on a bootstrap resample if asked.

    The resample draws as many customers as there are, with replacement: the noise of a re-train
    on another sample of the same population, on top of the noise of the k-means starts.
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
        fits = family_fits(z[rows], procedure.algorithm, [procedure.param], seed, procedure.n_init)
        centroids, _ = fits[procedure.param]
    if len(centroids) < 2:
        raise InputError(f"re-training at {as_of} found fewer than 2 segments ({procedure.algorithm})")
    return Refit(prep, centroids)


def refits(table: pd.DataFrame, as_of: date, procedure: Procedure, seeds: int) -> list[Refit]:
    """The re-trained model (all customers, the model's seed) and ``seeds - 1`` bootstrap refits."""
    return [refit(table, as_of, procedure, procedure.seed + s, resample=s > 0) for s in range(seeds)]


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


# ---------------------------------------------------------------------------------------------
# The backtest


#: Most customers compared at each date: agreement and drift on 200,000 customers are as precise as
#: on millions, and the re-trains, labels and metrics of millions would not fit in time or memory.
COMPARED_CUSTOMERS = 200_000


def in_compared_share(ids: pd.Series, share: float) -> np.ndarray:
    """Whether each customer id hashes into the first ``share`` of the hash range (one id at a time)."""
    hashes = pd.util.hash_pandas_object(ids, index=False).to_numpy()
    return hashes < np.uint64(share * 2.0**64)


def compared_customers(table: pd.DataFrame, share: float) -> pd.DataFrame:
    """The rows of ``table`` whose customer id hashes into the first ``share`` of the hash range.

    The choice depends on the id alone, so the same people are compared at every date (and the
    reference cohort stays matched); with ``share`` 1, every customer.
    """
    if share >= 1:
        return table
    return table[in_compared_share(table["customer_unique_id"], share)].reset_index(drop=True)


#: DuckDB schema holding the compared panel's tables while a backtest runs (see :func:`compared_panel`).
PANEL_SCHEMA = "custseg_panel"
#: Name under which the panel's person ids are registered while its tables are built.
PANEL_IDS = "custseg_panel_ids"
#: The panel's tables, in build order, with the rows each keeps: the panel persons' customer rows,
#: their orders, and those orders' items, payments and reviews. Keys are compared in their own
#: column types; only the person list is text. Products, sellers, categories and geolocation are
#: not copied: the search path falls through to ``main`` for them.
PANEL_TABLES = {
    "customers": "{key} IN (SELECT customer_unique_id FROM {ids})",
    "orders": "customer_id IN (SELECT customer_id FROM {panel}.customers)",
    "order_items": "order_id IN (SELECT order_id FROM {panel}.orders)",
    "payments": "order_id IN (SELECT order_id FROM {panel}.orders)",
    "reviews": "order_id IN (SELECT order_id FROM {panel}.orders)",
}


def panel_ids(con: duckdb.DuckDBPyConnection, share: float) -> pa.Table:
    """Every person of the ``customers`` table that :func:`compared_customers` keeps at ``share``,
    including those whose first purchase comes after the reference date.

    Hashed batch by batch (the hash is per id), so millions of ids are never all Python objects at once.
    """
    person = key_text(con, "customers", "customer_unique_id")  # the id as the feature table shows it
    # distinct on the stored key (a number for hex ids), then rendered as text
    reader = con.sql(f"SELECT {person} AS customer_unique_id FROM "
                     "(SELECT DISTINCT customer_unique_id FROM main.customers)").to_arrow_reader()
    kept = [batch.filter(pa.array(in_compared_share(batch.column(0).to_pandas().astype("str"), share)))
            for batch in reader]
    return pa.Table.from_batches(kept, schema=reader.schema)


def build_panel(ds: Dataset, share: float) -> int:
    """Copy the panel's rows of :data:`PANEL_TABLES` into :data:`PANEL_SCHEMA`; the number of persons."""
    con = ds.con.cursor()  # registrations stay on this cursor; ds.con may hold a half-read result
    try:
        ids = panel_ids(con, share)
        con.register(PANEL_IDS, ids)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {PANEL_SCHEMA}")
        key = key_text(con, "customers", "customer_unique_id")
        for table, rows in PANEL_TABLES.items():
            where = rows.format(key=key, ids=PANEL_IDS, panel=PANEL_SCHEMA)
            con.execute(f"CREATE OR REPLACE TABLE {PANEL_SCHEMA}.{table} AS SELECT * FROM main.{table} WHERE {where}")
        return ids.num_rows
    finally:
        con.close()


def drop_panel(ds: Dataset) -> None:
    """Remove the panel's schema, and the window view that may read from it."""
    con = ds.con.cursor()
    try:
        con.execute(f"DROP VIEW IF EXISTS {WINDOW_SCHEMA}.orders")
        con.execute(f"DROP SCHEMA IF EXISTS {PANEL_SCHEMA} CASCADE")
    finally:
        con.close()


@contextmanager
def compared_panel(ds: Dataset, share: float, note: Callable[[str], None]) -> Iterator[str]:
    """The schema the step features are read from: ``main`` when every customer is compared,
    else the panel's (:func:`build_panel`), dropped on exit. ``note`` hears what is being done.

    The panel holds the very persons :func:`compared_customers` keeps at every date, so the step
    features computed on it are the compared rows of the full feature table.
    """
    if share >= 1:
        yield "main"
        return
    try:
        note("panel: selecting customers")
        note(f"panel: {build_panel(ds, share):,} customers")
        yield PANEL_SCHEMA
    finally:
        drop_panel(ds)


@dataclass(frozen=True)
class BacktestSettings:
    """The backtest's protocol settings (every field ends in the result's ``protocol`` block)."""

    reference: date | None = None  # None: first month-end with 12 months of history
    step: Period = Period(1, "M")
    until: date | None = None  # None: the day after the last counted purchase
    window: Period | None = None  # None: whole history
    k: int | None = None  # None: chosen at the reference by the engine's search
    algorithm: str = "kmeans"
    features: tuple[str, ...] | None = None  # None: the engine's default features
    threshold: float | None = DEFAULT_THRESHOLD  # None: relative to the noise floor
    margin: float = DEFAULT_MARGIN
    seeds: int = 5
    seed: int = 0
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    psi_max: float = PSI_MAJOR
    share_points: float = DEFAULT_SHARE_POINTS
    measure_cost: bool = True
    jobs: int = 2  # processes for the engine's fit at the reference date (its n_jobs)
    min_share: float = 0.02  # the engine's smallest admissible segment share at the reference fit
    n_init: int | None = None  # k-means starts of the reference fit, kept by every re-train (None: engine's)
    compared: int = COMPARED_CUSTOMERS  # most customers compared per date (see compared_customers)
    keep_labels: bool = True  # keep every step's per-customer labels (Backtest.labels)

    @property
    def triggers(self) -> Triggers:
        return Triggers(self.threshold, self.margin, self.psi_max, self.share_points)

    def checked(self) -> BacktestSettings:
        if self.seeds < 2:
            raise InputError(f"--seeds: {self.seeds} is too few; the noise floor needs at least 2 refits")
        self.triggers.checked()
        return self


@dataclass
class Backtest:
    """A backtest's outcome: the JSON-ready ``result``, the frozen reference model, the labels.

    ``labels`` has one row per (as_of, customer): the frozen model's and the re-trained model's
    segment (the latter aligned with the frozen ids) and whether the customer was present at the
    reference date.
    """

    result: dict
    model: SegmentModel
    labels: pd.DataFrame = field(repr=False)


Progress = Callable[[str, int, int], None]


def _labels_of(refit_list: list[Refit], table: pd.DataFrame) -> list[np.ndarray]:
    return [r.labels(table) for r in refit_list]


def agreement(frozen: np.ndarray, refit_labels: list[np.ndarray], mask: np.ndarray) -> dict:
    """ARI and AMI bands of the frozen labels against each refit, and the noise floor among refits.

    ``mask`` selects the customers compared (all, or the reference cohort).
    """
    f = frozen[mask]
    others = [lab[mask] for lab in refit_labels]
    ari = [adjusted_rand_score(f, o) for o in others]
    ami = [adjusted_mutual_info_score(f, o) for o in others]
    floor = [adjusted_rand_score(a, b) for a, b in combinations(others, 2)]
    vs_retrained = [adjusted_rand_score(others[0], o) for o in others[1:]]
    return {
        "ari": {**band(ari), "retrained": rounded(ari[0])},
        "ami": {**band(ami), "retrained": rounded(ami[0])},
        "floor": {**band(floor), "vs_retrained": band(vs_retrained)},
    }


def frozen_labels(model: SegmentModel, table: pd.DataFrame) -> np.ndarray:
    """The frozen model's segment ids for ``table``: its saved preprocessing and centroids, nothing refitted."""
    return model.assign_features(table)["segment_id"].to_numpy()


def aligned_ids(model: SegmentModel, retrained: Refit) -> np.ndarray:
    """For each re-trained segment (0..k-1), its id after matching with the frozen model's segments."""
    return np.asarray(alignment(retrained.centroids, retrained.preprocessing, model).ids, dtype=np.int64)


def reference_fit(ds: Dataset, day: date, settings: BacktestSettings) -> tuple[pd.DataFrame, SegmentModel, dict]:
    """Features at the reference date, the reference model fitted by the engine, and its measured cost.

    This fit is exactly what ``custseg fit`` does (search included when k is not given), so its
    time and peak memory are the cost of one production re-train on this data.
    """
    reset = reset_peak_memory()
    start = time.perf_counter()
    table = features_at(ds, day, settings.window, settings.statuses)
    if len(table) < 20:
        raise InputError(f"only {len(table)} customers with a counted order before the reference date {day}: "
                         "choose a later --start")
    extra: dict[str, Any] = {"n_init": settings.n_init} if settings.n_init is not None else {}
    with idle(ds):  # the fit works in Python: DuckDB's tables wait on disk
        model = fit(table, day, k=settings.k if settings.k is not None else "auto", algorithm=settings.algorithm,
                    seed=settings.seed, features=list(settings.features) if settings.features else None,
                    statuses=settings.statuses, n_jobs=settings.jobs, min_share=settings.min_share,
                    **extra)
    cost = {
        "seconds": round(time.perf_counter() - start, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "peak_memory_scope": "this re-train" if reset else "process lifetime (this platform cannot reset the peak)",
        "customers": len(table),
        "what": "features as of the reference date + the engine's fit (search, metrics, descriptions)",
    }
    return table, model, cost


def backtest(ds: Dataset, settings: BacktestSettings = BacktestSettings(),
             progress: Progress | None = None) -> Backtest:
    """Run the temporal backtest on the ingested data ``ds`` (loaded once; features per step in SQL)."""
    settings = settings.checked()
    first, last = counted_purchase_span(ds, settings.statuses)
    reference = settings.reference or default_reference(first)
    until = settings.until or default_until(last)
    dates = step_dates(reference, settings.step, until)
    if not dates:
        raise InputError(f"no step between the reference date {reference} and {until} "
                         f"(step {settings.step}): choose an earlier --start or a later --until")
    total = len(dates) + 1
    tick = progress or (lambda *_: None)
    tick(f"reference {reference}: fit", 0, total)
    ref_all, model, cost = reference_fit(ds, reference, settings)
    # the model is fitted on everyone; the comparisons follow a fixed share of the customers
    share, ref_total = min(1.0, settings.compared / len(ref_all)), len(ref_all)
    ref_table = compared_customers(ref_all, share)
    del ref_all
    procedure = Procedure.of(model)
    ref_frozen = frozen_labels(model, ref_table)
    with idle(ds):
        ref_refits = refits(ref_table, reference, procedure, settings.seeds)
    everyone = np.ones(len(ref_table), dtype=bool)
    ref_block = {
        "as_of": reference.isoformat(),
        "customers": len(ref_table),
        "customers_total": ref_total,
        **agreement(ref_frozen, _labels_of(ref_refits, ref_table), everyone),
        "shares": {i: rounded(v) for i, v in segment_shares(ref_frozen, model.ids).items()},
    }
    tick(f"reference {reference}: done", 1, total)
    ref_ids = pd.Index(ref_table["customer_unique_id"])
    numeric = numeric_features(ref_table)
    steps, label_parts = [], []
    with compared_panel(ds, share, lambda text: tick(text, 1, total)) as source:
        for i, day in enumerate(dates, start=1):
            table, customers_total = step_table_at(ds, day, settings, share, source)
            with idle(ds):  # re-trains in Python: DuckDB's tables wait on disk until the next step
                step, labels = step_record(table, day, model, procedure, settings, ref_table, ref_ids, ref_block,
                                           numeric)
            step["customers_total"] = customers_total
            steps.append(step)
            if settings.keep_labels:
                label_parts.append(labels)
            tick(f"step {day}", i + 1, total)
    result = {
        "format": RESULT_FORMAT,
        "data": {"path": str(ds.root), "first_counted_purchase": first.isoformat(),
                 "last_counted_purchase": last.isoformat()},
        "protocol": {**protocol_block(settings, reference, until, dates, model), "compared_customers": (
            "every customer" if share >= 1 else
            f"the customers whose id hashes into the first {share:.6f} of the hash range (about "
            f"{settings.compared:,} at the reference date; the same people at every date); customer "
            "counts are of these customers, customers_total of everyone; the reference model is fitted "
            "on every customer, but step features are computed for the panel only: the persons this rule "
            "selects among all customers (also those who first buy later), whose customers, orders, items, "
            "payments and reviews are copied once; customers_total at a step is counted in SQL on all data")},
        "reference": ref_block,
        "steps": steps,
    }
    result["recommendation"] = recommendation(steps, reference, settings.step, settings.threshold, settings.margin)
    result["contract"] = maintenance_contract(result, settings.triggers, cost if settings.measure_cost else None)
    labels = pd.concat(label_parts, ignore_index=True) if label_parts else pd.DataFrame()
    return Backtest(result, model, labels)


def step_table_at(ds: Dataset, day: date, settings: BacktestSettings, share: float,
                  source: str) -> tuple[pd.DataFrame, int]:
    """The compared customers' features at ``day``, read from ``source``, and how many customers
    everyone at ``day`` is (the full feature table's rows)."""
    read = features_at(ds, day, settings.window, settings.statuses, source)
    # the selection itself on main; on the panel a safety net that keeps every row (the same people)
    table = compared_customers(read, share)
    total = len(read) if source == "main" else customers_at(ds, day, settings.window, settings.statuses)
    return table, total


def step_record(
    table: pd.DataFrame,
    day: date,
    model: SegmentModel,
    procedure: Procedure,
    settings: BacktestSettings,
    ref_table: pd.DataFrame,
    ref_ids: pd.Index,
    ref_block: dict,
    numeric: list[str],
) -> tuple[dict, pd.DataFrame]:
    """One step: frozen vs re-trained agreement with its band and floor, drift, shares, migration."""
    ids = table["customer_unique_id"]
    in_cohort = ids.isin(ref_ids).to_numpy()  # matched by customer_unique_id, never by row position
    frozen = frozen_labels(model, table)
    step_refits = refits(table, day, procedure, settings.seeds)
    refit_labels = _labels_of(step_refits, table)
    retrained = aligned_ids(model, step_refits[0])[refit_labels[0]]
    everyone = np.ones(len(table), dtype=bool)
    sets: dict[str, dict | None] = {"all": agreement(frozen, refit_labels, everyone)}
    sets["cohort"] = agreement(frozen, refit_labels, in_cohort) if in_cohort.sum() > 1 else None
    drift = feature_drift(ref_table, table, numeric)
    drift["in_model"] = drift["feature"].isin(model.feature_names)
    shares = {i: rounded(v) for i, v in segment_shares(frozen, model.ids).items()}
    moved = migration_matrix(frozen, retrained)
    step: dict[str, Any] = {
        "as_of": day.isoformat(),
        "customers": {"all": int(len(table)), "cohort": int(in_cohort.sum()), "new": int((~in_cohort).sum()),
                      "cohort_gone": int(len(ref_ids) - in_cohort.sum())},
        "ari": {name: (s["ari"] if s else None) for name, s in sets.items()},
        "ami": {name: (s["ami"] if s else None) for name, s in sets.items()},
        "floor": {name: (s["floor"] if s else None) for name, s in sets.items()},
        "shares": {"frozen": shares, "retrained": {i: rounded(v) for i, v in segment_shares(
            retrained, sorted(set(retrained.tolist()))).items()}},
        "share_moves": {i: rounded(100 * (shares[i] - ref_block["shares"][i])) for i in shares},
        "migration": {"frozen_ids": moved["from_ids"], "retrained_ids": moved["to_ids"], "counts": moved["counts"],
                      "same_id_share": rounded(moved["same_id_share"])},
        "drift": [{**row, "psi": rounded(row["psi"]), "ks": rounded(row["ks"])} for row in drift.to_dict("records")],
        "drivers": drift_drivers(drift, model.feature_names),
    }
    step.update(step_verdict(step["ari"]["all"], step["floor"]["all"], settings.threshold, settings.margin))
    labels = pd.DataFrame({"as_of": day.isoformat(), "customer_unique_id": ids.to_numpy(),
                           "in_reference_cohort": in_cohort, "frozen": frozen, "retrained": retrained})
    return step, labels


def protocol_block(settings: BacktestSettings, reference: date, until: date, dates: list[date],
                   model: SegmentModel) -> dict:
    """The protocol, stated in the result so that a reader knows exactly what was compared."""
    window = "all" if settings.window is None else str(settings.window)
    return {
        "reference_date": reference.isoformat(),
        "step": str(settings.step),
        "until": until.isoformat(),
        "dates": [d.isoformat() for d in dates],
        "window": window,
        "features_as_of": ("all counted orders purchased before t" if settings.window is None else
                           f"only counted orders purchased in [t - {window}, t)"),
        "statuses": list(settings.statuses),
        "k": model.k,
        "k_source": "given" if settings.k is not None else "chosen at the reference date by the engine's search",
        "algorithm": model.algorithm,
        "n_init": Procedure.of(model).n_init,
        "model_features": model.feature_names,
        "seed": settings.seed,
        "seeds": settings.seeds,
        "frozen": ("the reference model fitted at the reference date by the engine (custseg fit), then frozen: "
                   "its preprocessing (fill, log1p, standardisation) and centroids are applied unchanged "
                   "at every step (nearest centroid), never refitted"),
        "retrained": ("at each step t, the same procedure (same algorithm, k, features, fit settings) run "
                      "on the features at t with the model's seed: preprocessing and centroids fitted at t"),
        "noise_floor": (f"at every date, {settings.seeds - 1} more refits on bootstrap resamples of the "
                        "customers (seed + 1, seed + 2, ...); floor = ARI between every pair of refits "
                        "(the re-trained model included): the agreement to expect with no drift"),
        "band": ("ARI of the frozen model against each of the refits: mean, p05, p95, min, max; "
                 "'retrained' is the ARI against the re-trained model alone"),
        "customer_sets": {
            "all": "every customer present at t (new customers are labelled by both models)",
            "cohort": "customers present at the reference date and at t, matched by customer_unique_id",
        },
        "metrics": "adjusted Rand index (ARI) and adjusted mutual information (AMI), scikit-learn",
        "threshold": settings.threshold if settings.threshold is not None else "floor",
        "margin": settings.margin,
        "pass_rule": ("a step passes when the band's lower bound (p05, all customers) >= "
                      + (f"{settings.threshold}" if settings.threshold is not None
                         else f"the step's noise-floor p05 - {settings.margin}")
                      + "; the recommended interval ends before the first step that does not pass"),
        "within_floor_rule": (f"band p05 >= the step's noise-floor p05 - {settings.margin}: the frozen model "
                              "agrees with the re-trains about as well as they agree among themselves"),
        "drift": ("per numeric feature and step: PSI on decile bins of the reference date's values "
                  "(missing values in their own bin) and the two-sample Kolmogorov-Smirnov statistic "
                  "against the reference; drivers = model features with PSI > 0.1, largest first"),
        "migration": ("customers by frozen segment (rows) and re-trained segment (columns), the re-trained "
                      "segments matched to the frozen ids by Hungarian matching of centroids "
                      "(custseg.model.alignment; an unmatched segment gets a new id)"),
    }


# ---------------------------------------------------------------------------------------------
# Views


def step_table(result: dict) -> Table:
    """The backtest at a glance: per date, the ARI band beside the noise floor, shares and drift drivers.

    A failing step reads "noise" when its band is within the noise floor, "NO" when below it.
    """
    proto = result["protocol"]
    table = Table(title=f"Frozen model of {proto['reference_date']} vs re-trained: k={proto['k']}, "
                        f"window {proto['window']}, {proto['seeds']} refits per date", title_justify="left")
    for name in ("as of", "customers", "ARI", "p05", "cohort", "floor", "floor p05", "pass", "share move", "drivers"):
        table.add_column(name, justify="left" if name in ("as of", "drivers") else "right")
    ref = result["reference"]
    table.add_row(ref["as_of"], f"{ref['customers']:,}", *_numbers(ref["ari"]), "", *_numbers(ref["floor"]),
                  "D0", "", "")
    for s in result["steps"]:
        cohort = s["ari"]["cohort"]
        table.add_row(s["as_of"], f"{s['customers']['all']:,}", *_numbers(s["ari"]["all"]),
                      f"{cohort['mean']:.3f}" if cohort else "-", *_numbers(s["floor"]["all"]),
                      "yes" if s["passes"] else ("noise" if s["within_floor"] else "NO"),
                      f"{max(map(abs, s['share_moves'].values())):.1f} pts", ", ".join(s["drivers"]),
                      style=None if s["passes"] else "bold")
    return table


def _numbers(b: dict | None) -> tuple[str, str]:
    """Mean and lower bound of a band, as table cells."""
    return ("-", "-") if not b or b["mean"] is None else (f"{b['mean']:.3f}", f"{b['p05']:.3f}")
