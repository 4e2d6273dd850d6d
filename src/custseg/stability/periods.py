"""Dates, periods, the feature window and the options that name them (the backtest's calendar).

A backtest compares a frozen model with re-trains at the dates reference + step, + 2 steps, ...;
the features at each date come from all counted orders before it (``window`` None) or only from
those purchased in a sliding window before it. The data are never copied for a window: a view named
``orders`` in a schema searched first narrows what the feature query reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd

from ..errors import InputError
from ..features import FEATURE_DTYPES, customer_features, feature_sql, split_query
from ..ingest import Dataset
from ..schema import TABLES
from ..segment import checked_feature_names

_UNITS = {"D": ("day", "days"), "W": ("week", "weeks"), "M": ("month", "months"), "Y": ("year", "years")}

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


def parse_period(text: str, parameter: str = "step") -> Period:
    """A :class:`Period` from ``"1M"``, ``"2W"``, ``"14D"``, ``"1Y"``; InputError naming ``parameter`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([DWMYdwmy])\s*", str(text))
    if not match or int(match.group(1)) < 1:
        raise InputError(f"`{parameter}`: {text!r} is not a period (expected e.g. 1M, 2W, 14D, 1Y)")
    return Period(int(match.group(1)), match.group(2).upper())


def parse_window(text: str, parameter: str = "window") -> Period | None:
    """The feature window: ``None`` for ``all`` (the whole history), else a :class:`Period`."""
    if str(text).strip().lower() == "all":
        return None
    return parse_period(text, parameter)


#: The published study's six features (``features="study"``): recency, monetary value, review score,
#: review answer delay, mean items per order and total items.
STUDY_FEATURES: tuple[str, ...] = ("recency_days", "monetary", "review_score_mean", "answer_days", "mean_items",
                                   "total_items")


def parse_features(text: str | None) -> tuple[str, ...] | None:
    """Model features from ``"a,b,c"``, :data:`STUDY_FEATURES` for ``"study"``, ``None`` (the engine's
    default) for nothing; InputError naming the first name that is not a numeric feature.

    The study scaled its features to [0, 1] (min-max); custseg keeps its own preprocessing (log1p of
    money and counts, standardisation), so a replay compares the features, not the scaling."""
    names = [f.strip() for f in str(text or "").split(",") if f.strip()]
    if names == ["study"]:
        return STUDY_FEATURES
    if not names:
        return None
    checked_feature_names(names, [c for c, t in FEATURE_DTYPES.items() if t != "str"])
    return tuple(names)


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


def window_view(ds: Dataset, since: date, source: str = "main") -> Dataset:
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
    with window_view(ds, window.before(as_of), source) if window is not None else searching(ds, source) as view:
        return customer_features(view, as_of, statuses)


def customers_at(ds: Dataset, as_of: date, window: Period | None, statuses: tuple[str, ...]) -> int:
    """How many persons have a counted order before ``as_of`` (inside the window): the rows of
    :func:`features_at` on the full tables, counted without computing any feature.

    Counted by the feature query's own first step (``counted_orders``), on the same view of the data.
    """
    steps, _ = split_query(feature_sql(as_of, statuses))
    with window_view(ds, window.before(as_of)) if window is not None else searching(ds) as view:
        # fetchall: a half-read result would block the next relational call on the connection
        return view.con.execute(f"SELECT COUNT(DISTINCT customer_unique_id) FROM ({dict(steps)['counted_orders']}) "
                                "counted").fetchall()[0][0]


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
