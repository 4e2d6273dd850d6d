"""Jobs: one call per thing custseg does, from DATA to the result, on DuckDB or on Apache Spark.

DATA is an Olist export directory, a transaction-log file read through a :class:`LogMapping`, a
PostgreSQL URL, or (for fit and assign) a feature table written by ``custseg features``. A job
decides how to read it and on which engine, computes, writes the files it is asked for and
returns what a view needs to print. The command line (``cli.py``) parses its arguments, calls
one job and prints the result, so a notebook gets exactly what the command line does.

Each Dataset a job opens is closed when the job returns: its DuckDB tables can take gigabytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .export import write_json, write_table
from .features import (DEFAULT_STATUSES, customer_features, default_as_of, is_feature_table, parse_as_of,
                       read_feature_table, write_features)
from .ingest import open_data, validation_report
from .schema import FEATURE_COLUMNS, LogMapping

if TYPE_CHECKING:  # pandas only where a job makes a DataFrame: `custseg features` starts without it
    import pandas as pd

    from .model import SegmentModel

#: Where jobs run: ``duckdb`` on this machine, ``spark`` on Apache Spark (:mod:`custseg.spark`).
ENGINES = ("duckdb", "spark")
TABLE_SUFFIXES = (".csv", ".parquet")

Day = date | datetime | str
Progress = Callable[[str, int, int | None], None]


def checked_table_path(path: str | Path) -> Path:
    """``path`` when it names a table custseg writes (.csv or .parquet); InputError otherwise."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError("output must end in .csv or .parquet", file=path)
    return path


def _checked_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise InputError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    return engine


def _spark_data(data: str | Path, mapping: LogMapping | None) -> str:
    """DATA as a URI for the spark engine, which reads Olist export directories only."""
    from .pgsource import is_url
    from .spark import uri

    if is_url(data):
        raise InputError("the spark engine reads files: read PostgreSQL with `engine` duckdb")
    if mapping is not None:
        raise InputError("the spark engine reads an Olist export directory: read a transaction log with "
                         "`engine` duckdb")
    return uri(data)


def customer_table(data: str | Path, as_of: Day | None = None, statuses: tuple[str, ...] = DEFAULT_STATUSES,
                   mapping: LogMapping | None = None) -> tuple[date, pd.DataFrame]:
    """The as-of date and the feature table of DATA (an export, a log or a URL); the date defaults to
    the day after the latest purchase."""
    day = parse_as_of(as_of) if as_of is not None else None  # a bad date fails before any file is read
    with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
        day = day or default_as_of(ds)
        return day, customer_features(ds, day, statuses)


def _features_of(data: str | Path, as_of: Day | None, statuses: tuple[str, ...],
                 mapping: LogMapping | None) -> tuple[date | None, pd.DataFrame]:
    """The feature table DATA is, or gives: a written feature table is read as it is (its date is
    ``as_of``, None when not given); other DATA is computed as of ``as_of``."""
    if mapping is None and is_feature_table(data):
        return (parse_as_of(as_of) if as_of is not None else None), read_feature_table(data)
    return customer_table(data, as_of, statuses, mapping)


# ---------------------------------------------------------------------------------------------
# validate


@dataclass
class Validation:
    """What ``validate`` found: the problems that make DATA unusable, or its report (summary, warnings)."""

    problems: list[InputError]
    report: dict | None = None
    warnings: list[str] = field(default_factory=list)


def validate_job(data: str | Path, *, mapping: LogMapping | None = None,
                 json_file: str | Path | None = None) -> Validation:
    """Check DATA against the data contract; with ``json_file``, write the report there (usable DATA only)."""
    with open_data(data, mapping, strict=False) as ds:
        if ds.problems:
            return Validation(problems=list(ds.problems))
        report = validation_report(ds)
        warnings = [str(w) for w in ds.warnings]
    if json_file is not None:
        write_json(report, json_file)
    return Validation(problems=[], report=report, warnings=warnings)


# ---------------------------------------------------------------------------------------------
# features


@dataclass
class FeaturesResult:
    """A written feature table: its date, counted statuses, customers, where, and (DuckDB) medians."""

    as_of: date
    statuses: tuple[str, ...]
    customers: int
    written: str
    medians: dict[str, float] = field(default_factory=dict)


def features_job(data: str | Path, output: str | Path, *, as_of: Day | None = None,
                 statuses: tuple[str, ...] = DEFAULT_STATUSES, mapping: LogMapping | None = None,
                 engine: str = "duckdb", master: str | None = None) -> FeaturesResult:
    """Write one row of features per customer of DATA as of ``as_of`` to ``output`` (.csv or .parquet;
    Parquet on Spark, local or a cluster URI)."""
    checked_table_path(output)
    statuses = tuple(statuses)
    day = parse_as_of(as_of) if as_of is not None else None
    if _checked_engine(engine) == "spark":
        from . import spark

        day, customers = spark.features_job(_spark_data(data, mapping), spark.uri(output), day, statuses, master)
        return FeaturesResult(day, statuses, customers, spark.uri(output))
    with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
        day = day or default_as_of(ds)
        customers, medians = write_features(ds, day, output, statuses)  # DuckDB writes: no Python copy
    return FeaturesResult(day, statuses, customers, str(output), medians)


# ---------------------------------------------------------------------------------------------
# rfm


@dataclass
class RfmResult:
    """RFM scores per customer (``scores.attrs["notes"]``: what the scoring had to do) as of a date."""

    as_of: date
    scores: pd.DataFrame


def rfm_job(data: str | Path, output: str | Path, *, as_of: Day | None = None, bins: int = 5,
            mapping: LogMapping | None = None) -> RfmResult:
    """Score DATA's customers on recency, frequency and monetary value; write the table to ``output``."""
    from .rfm import rfm

    checked_table_path(output)
    day, table = customer_table(data, as_of, DEFAULT_STATUSES, mapping)
    scores = rfm(table, bins=bins)
    write_table(scores, output)
    return RfmResult(day, scores)


# ---------------------------------------------------------------------------------------------
# fit


def fit_job(data: str | Path, output: str | Path | None = None, *, as_of: Day | None = None,
            statuses: tuple[str, ...] = DEFAULT_STATUSES, mapping: LogMapping | None = None,
            previous: str | Path | SegmentModel | None = None, features: list[str] | None = None,
            assignments: str | Path | None = None, engine: str = "duckdb", master: str | None = None,
            progress: Progress | None = None, **fit_options: Any) -> SegmentModel:
    """Find segments in DATA and return the model; with ``output`` save it there, with ``assignments``
    write the customers' segments (on Spark: every customer, as Parquet). ``progress``, when given,
    is called as ``(step, done, total)`` as each step starts, and by the model search.

    DATA may be a feature table (then ``as_of`` is the date it was computed at, and required).
    ``fit_options`` go to :func:`custseg.segment.fit` (k, algorithm, seed, min_share, ...).
    """
    from .features import FEATURE_DTYPES
    from .model import SegmentModel
    from .segment import checked_feature_names, fit

    if assignments is not None:
        checked_table_path(assignments)
    statuses = tuple(statuses)
    old = SegmentModel.load(previous) if isinstance(previous, (str, Path)) else previous
    if features:
        checked_feature_names(features, [c for c, t in FEATURE_DTYPES.items() if t != "str"])
    if _checked_engine(engine) == "spark":
        from . import spark

        # Spark draws the stratified sample; scikit-learn fits it here; Spark assigns everyone
        model = spark.fit_job(_spark_data(data, mapping), as_of, statuses, master, progress=progress,
                              assignments=spark.uri(assignments) if assignments is not None else None,
                              features=features, previous=old, **fit_options)
    else:
        if as_of is None and mapping is None and is_feature_table(data):
            raise InputError("`as_of`: give the date the feature table was computed at", file=data)
        if progress is not None:
            progress("computing features", 0, 0)
        day, table = _features_of(data, as_of, statuses, mapping)
        assert day is not None  # a feature table has its date from as_of
        model = fit(table, day, features=features, previous=old, statuses=statuses, progress=progress,
                    **fit_options)
        if assignments is not None:
            write_table(model.assignment_, assignments)
    if output is not None:
        model.save(output)
    return model


# ---------------------------------------------------------------------------------------------
# assign


@dataclass
class AssignResult:
    """Written assignments: their date (None: a feature table's own), customers and outliers per
    segment id (``counts``, columns ``n`` and ``outliers``) and where they went."""

    model: SegmentModel
    as_of: date | None
    counts: pd.DataFrame
    written: list[str]

    @property
    def customers(self) -> int:
        return int(self.counts["n"].sum())


def assign_job(model: str | Path | SegmentModel, data: str | Path, output: str | Path | None = None, *,
               to: str | None = None, as_of: Day | None = None, mapping: LogMapping | None = None,
               engine: str = "duckdb", master: str | None = None) -> AssignResult:
    """Assign every customer of DATA (or of a feature table, as it is) to ``model``'s segments; write
    the table to ``output`` and/or to the PostgreSQL table of the URL ``to`` (in one transaction)."""
    from .model import SegmentModel, assign

    if output is None and to is None:
        raise InputError("give `output`, `to` or both")
    if output is not None:
        checked_table_path(output)
    fitted = SegmentModel.load(model) if isinstance(model, (str, Path)) else model
    if _checked_engine(engine) == "spark":
        from . import spark

        if to is not None or output is None:
            raise InputError("`to` needs `engine` duckdb; the spark engine writes `output`")
        day, counts = spark.assign_job(fitted, _spark_data(data, mapping), spark.uri(output), as_of, master)
        return AssignResult(fitted, day, counts, [spark.uri(output)])
    day, table = _features_of(data, as_of, fitted.statuses, mapping)
    if table.empty:
        raise InputError(f"no customer has a counted order before {day or 'the feature table date'}")
    if to is not None and day is None:
        raise InputError("`as_of`: give the date the feature table was computed at (for the as_of column of `to`)")
    assigned = assign(fitted, table)
    written = []
    if output is not None:
        written.append(str(write_table(assigned, output)))
    if to is not None:
        from .pgtarget import write_assignments

        assert day is not None
        written.append(write_assignments(to, assigned, fitted.to_dict()["checksum"][:12], day))
    counts = assigned.groupby("segment_id").agg(n=("outlier", "size"), outliers=("outlier", "sum"))
    return AssignResult(fitted, day, counts, written)


# ---------------------------------------------------------------------------------------------
# stability and monitor


def backtest_job(data: str | Path, settings: Any, *, mapping: LogMapping | None = None,
                 progress: Progress | None = None) -> Any:
    """The stability backtest of DATA (:func:`custseg.stability.backtest`) with ``settings``."""
    from .stability import backtest

    with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
        return backtest(ds, settings, progress=progress)


def monitor_job(model: str | Path | SegmentModel, data: str | Path, as_of: Day, *, mapping: LogMapping | None = None,
                **check_options: Any) -> dict:
    """The health record of ``model`` on DATA at ``as_of`` (:func:`custseg.monitor.check`)."""
    from .model import SegmentModel
    from .monitor import check

    fitted = SegmentModel.load(model) if isinstance(model, (str, Path)) else model
    day = parse_as_of(as_of)
    with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
        return check(fitted, ds, day, **check_options)
