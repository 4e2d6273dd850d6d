"""Run custseg's steps on Apache Spark, for data larger than one machine.

Nothing here redefines a step: the nine tables are read with the contract's types
(:data:`custseg.schema.TABLES`), the features are :func:`custseg.features.feature_sql` transpiled
from DuckDB to Spark SQL by sqlglot, the model is fitted by :mod:`custseg.segment` on a sample the
cluster draws and the driver collects, and assignment applies the saved model (its preprocessing,
then the nearest centroid) as Spark column expressions built from the model file, over every
customer. The contract's checks (:mod:`custseg.checks`) are not repeated here: run ``custseg
validate`` on the export (or a slice of it) on one machine.

Paths may be local or any URI Spark reads (``s3a://``, ``hdfs://``, ``file:/``). Outputs are
Parquet datasets (a directory of part files); a local output is written beside its target and
renamed into place, so an interrupted run leaves the previous output intact.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import CustsegError, InputError
from .export import temp_prefix
from .features import FEATURE_DTYPES, feature_sql, parse_as_of, typed_features
from .ingest import typed_column
from .model import SegmentModel
from .schema import DEFAULT_STATUSES, ORDER_STATUSES, TABLES, TableSpec
from .segment import Progress, SearchSettings, fit

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: Tables whose free-text columns hold quoted line breaks (review comments): read record by record.
MULTILINE_TABLES = frozenset({"reviews"})


class SparkUnavailable(CustsegError):
    """pyspark, sqlglot or Java is missing: the spark engine cannot start."""

    exit_code = 1


def _require_spark() -> None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(
            f"the spark engine needs {exc.name}: pip install 'custseg[spark]'"
        ) from None


def spark_session(master: str | None = None, *, shuffle_partitions: int | None = None,
                  conf: Mapping[str, str] | None = None) -> SparkSession:
    """A SparkSession set up for custseg (UTC, no web UI); ``master`` defaults to local[*].

    ``conf`` holds further Spark settings (for the JVM's own ones, such as
    ``spark.driver.extraJavaOptions``, only when this starts the JVM). Under ``spark-submit``
    leave ``master`` unset: the session then uses the master spark-submit was given.
    """
    _require_spark()
    # pyspark warns on import that it does not yet support pandas 3; custseg collects only plain
    # columns (numbers, text), which convert correctly
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName("custseg")
        # timestamps in the export are wall-clock times without a zone: read and compare them as UTC
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master:
        builder = builder.master(master)
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # pyspark raises a bare runtime error when the JVM does not start
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkUnavailable(f"cannot start Spark (Java 17+ must be on PATH or JAVA_HOME): {first}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_sql(duckdb_sql: str) -> str:
    """``duckdb_sql`` transpiled to Spark SQL by sqlglot (one statement)."""
    import sqlglot

    return sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")[0]


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def _exists(spark: SparkSession, location: str) -> bool:
    """Whether ``location`` exists, asked of the Hadoop file system that Spark itself reads it with."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # a live session has its JVM
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path)


def table_file(spark: SparkSession, root: str, spec: TableSpec) -> str:
    """The Parquet or CSV file holding ``spec`` under ``root``; InputError when there is none."""
    for name in (spec.parquet_name, spec.csv_name):
        location = _join(root, name)
        if _exists(spark, location):
            return location
    raise InputError(f"missing file (expected {spec.csv_name} or {spec.parquet_name} in {root})",
                     file=spec.csv_name)


def _raw_table(spark: SparkSession, spec: TableSpec, location: str) -> DataFrame:
    """``location`` as read, every CSV column as text so that bad values become NULL, not a failed job."""
    if location.endswith(".parquet"):
        return spark.read.parquet(location)
    return (
        spark.read.option("header", True)
        .option("escape", '"')  # the export doubles quotes inside quoted text
        .option("multiLine", spec.name in MULTILINE_TABLES)
        .csv(location)
    )


def typed_table(spark: SparkSession, spec: TableSpec, location: str) -> DataFrame:
    """Table ``spec`` from ``location`` with the contract's columns and types, as ingest gives DuckDB.

    Each column is :func:`custseg.ingest.typed_column` transpiled: empty text and a value that
    does not parse as its type are NULL.
    """
    from pyspark.errors import AnalysisException

    try:
        raw = _raw_table(spark, spec, location)
    except AnalysisException as exc:
        raise InputError(f"cannot be read: {str(exc).strip().splitlines()[0]}", file=location) from None
    missing = [c for c in spec.columns if c not in raw.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=location, column=missing[0])
    # the source type as ingest names it: text is VARCHAR (CSV columns are all text)
    source = {f.name: "VARCHAR" if f.dataType.typeName() == "string" else f.dataType.simpleString().upper()
              for f in raw.schema.fields}
    return raw.selectExpr(*(
        spark_sql(f"SELECT {typed_column(c, t, source[c])} AS {_quoted(c)}").removeprefix("SELECT ")
        for c, t in spec.columns.items()
    ))


def load_tables(spark: SparkSession, root: str | Path) -> dict[str, DataFrame]:
    """Register the nine contract tables found under ``root`` as temp views named as in the contract.

    Each table is kept (memory, then disk) once first computed: the feature query reads orders
    and customers several times.
    """
    from pyspark import StorageLevel

    root = uri(root)
    uris = {name: table_file(spark, root, spec) for name, spec in TABLES.items()}
    # every table is checked before any view is replaced: a bad directory leaves the session as it was
    tables = {name: typed_table(spark, spec, uris[name]) for name, spec in TABLES.items()}
    for name, table in tables.items():
        table.persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(name)
    return tables


def default_as_of(spark: SparkSession) -> date:
    """The day after the latest purchase in the loaded orders, any status: the export's 'today'."""
    row = spark.sql("SELECT MAX(order_purchase_timestamp) AS latest FROM orders").first()
    latest = row["latest"] if row is not None else None
    if latest is None:
        raise InputError("no order has a purchase date", file="orders", column="order_purchase_timestamp")
    return latest.date() + timedelta(days=1)


def check_statuses(spark: SparkSession, statuses: tuple[str, ...]) -> None:
    """Raise InputError for a status that is neither an Olist status nor present in the orders."""
    present = {r[0] for r in spark.sql("SELECT DISTINCT order_status FROM orders").collect() if r[0] is not None}
    known = sorted(set(ORDER_STATUSES) | present)
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise InputError(f"unknown order status {unknown[0]!r} (known: {', '.join(known)})",
                         file="orders", column="order_status")


def customer_features(
    spark: SparkSession,
    as_of: date | datetime | str,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
) -> DataFrame:
    """The feature table of :func:`custseg.features.customer_features`, computed by Spark.

    Reads the tables registered by :func:`load_tables`; sorted by customer_unique_id.
    """
    statuses = tuple(statuses)
    check_statuses(spark, statuses)
    table = spark.sql(spark_sql(feature_sql(parse_as_of(as_of), statuses)))
    return table.selectExpr(*(f"CAST(`{c}` AS {_FEATURE_SPARK_TYPES[t]}) AS `{c}`" for c, t in FEATURE_DTYPES.items()))


#: Spark type of each pandas dtype of the feature table.
_FEATURE_SPARK_TYPES = {"str": "STRING", "float64": "DOUBLE", "int64": "BIGINT"}


def uri(location: str | Path) -> str:
    """``location`` as Spark reads it; a ``scheme://host/...`` URI that pathlib shortened is restored.

    pathlib turns ``s3a://bucket/key`` into ``s3a:/bucket/key``; the CLI's path arguments pass
    through it. ``file:/x`` is kept (a local path); on a cluster a path without a scheme is on the
    default file system (HDFS).
    """
    text = str(location)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/(?!/)", text) and not text.startswith("file:"):
        return text.replace(":/", "://", 1)
    return text


def _local_path(spark: SparkSession, location: str) -> Path | None:
    """The local path of ``location`` when Spark's file system for it is the local one, else None."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # a live session has its JVM
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if fs.getScheme() != "file":
        return None
    return Path(fs.makeQualified(path).toUri().getPath())


def check_parquet_target(target: str | Path) -> str:
    """``target`` as a URI; InputError unless it names a Parquet output."""
    target = uri(target)
    if not target.rstrip("/").endswith(".parquet"):
        raise InputError("the spark engine writes Parquet: the output must end in .parquet", file=target)
    return target


def write_parquet(table: DataFrame, target: str | Path) -> str:
    """Write ``table`` as a Parquet dataset (a directory of part files) at ``target``; return it.

    A local target is written beside itself and renamed into place; a remote one relies on
    Spark's output committer.
    """
    target = check_parquet_target(target)
    local = _local_path(table.sparkSession, target)
    if local is None:
        table.write.mode("overwrite").parquet(target)
        return target
    local.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(local.name), suffix=".tmp", dir=local.parent))
    try:
        table.write.mode("overwrite").parquet(str(staging.resolve()))
        _swap_into_place(staging, local)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _swap_into_place(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target`` (file or directory), keeping the old one until the rename is done."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()


def model_space(model: SegmentModel) -> list[Column]:
    """One Spark column per model feature: the saved preprocessing, as :class:`custseg.model.FeatureTransform`.

    ``z = (T(coalesce(x, fill)) - mean) / scale`` with ``T`` identity or ``log1p(max(x, 0))``;
    a NaN (as pandas writes a missing value) is missing too. Constants are double literals, so
    Spark computes in the same doubles as numpy.
    """
    from pyspark.sql import functions as F

    columns = []
    for f in model.preprocessing.features:
        raw = F.col(f"`{f.name}`").cast("double")
        x = F.when(raw.isNull() | F.isnan(raw), F.lit(float(f.fill))).otherwise(raw)
        if f.transform == "log1p":
            x = F.log1p(F.greatest(x, F.lit(0.0)))
        columns.append((x - F.lit(float(f.mean))) / F.lit(float(f.scale)))
    return columns


def centroid_distances(model: SegmentModel, z: list[Column]) -> list[Column]:
    """Euclidean distance to each centroid, summed feature by feature as :func:`custseg.model.centroid_distances`."""
    from pyspark.sql import functions as F

    distances = []
    for centroid in model.centroids:
        squares = [(zj - F.lit(float(c))) * (zj - F.lit(float(c))) for zj, c in zip(z, centroid)]
        total = squares[0]
        for square in squares[1:]:
            total = total + square
        distances.append(F.sqrt(total))
    return distances


def assign(model: SegmentModel, features: DataFrame) -> DataFrame:
    """Every row of a Spark feature table assigned to ``model``'s nearest segment.

    Columns as :func:`custseg.model.assign`: customer_unique_id, segment_id, segment_name,
    distance, outlier; ties go to the lowest segment id; sorted by customer_unique_id.
    """
    from pyspark.sql import functions as F

    missing = [n for n in ("customer_unique_id", *model.feature_names) if n not in features.columns]
    if missing:
        raise InputError("missing (the model needs it)", file="feature table", column=missing[0])
    names = [f"_d{i}" for i in range(model.k)]
    with_distances = features.select(
        F.col("customer_unique_id").cast("string").alias("customer_unique_id"),
        *(d.alias(n) for d, n in zip(centroid_distances(model, model_space(model)), names)),
    )
    nearest = F.least(*map(F.col, names)) if model.k > 1 else F.col(names[0])
    segment_id = F.lit(model.ids[-1]).cast("bigint")
    segment_name = F.lit(model.names[-1])
    # the first centroid at the least distance wins, as numpy's argmin
    for i in reversed(range(model.k - 1)):
        at_min = F.col(names[i]) == nearest
        segment_id = F.when(at_min, F.lit(model.ids[i]).cast("bigint")).otherwise(segment_id)
        segment_name = F.when(at_min, F.lit(model.names[i])).otherwise(segment_name)
    outlier = F.lit(True)
    for name, threshold in zip(names, model.thresholds):
        outlier = outlier & (F.col(name) > F.lit(float(threshold)))
    return with_distances.select(
        "customer_unique_id",
        segment_id.alias("segment_id"),
        segment_name.alias("segment_name"),
        nearest.alias("distance"),
        outlier.alias("outlier"),
    ).orderBy("customer_unique_id")


def fit_sample(features: DataFrame, as_of: date | datetime | str, size: int, seed: int) -> pd.DataFrame:
    """At most ``size`` customers of a Spark feature table, collected to the driver, sorted by id.

    Drawn as :func:`custseg.segment.fit_sample` draws them: stratified by first-purchase month
    (``as_of - tenure_days``), every month keeping its share of the table. The order inside a
    month is a hash of (seed, customer id), so the sample depends on the data and the seed only,
    not on how Spark partitions the data.
    """
    from pyspark.sql import functions as F

    day = parse_as_of(as_of)
    midnight = float((day - date(1970, 1, 1)).days * 86400)
    month = F.date_format(
        F.timestamp_seconds(F.lit(midnight) - F.coalesce(F.col("tenure_days"), F.lit(0.0)) * F.lit(86400.0)), "yyyy-MM")
    # kept for the two passes below (counting the months, then drawing), not computed twice
    stratified = features.withColumn("_month", month).persist()
    try:
        return _stratified_draw(stratified, size, seed)
    finally:
        stratified.unpersist()


def _stratified_draw(stratified: DataFrame, size: int, seed: int) -> pd.DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = {r["_month"]: r["count"] for r in stratified.groupBy("_month").count().collect()}
    total = sum(counts.values())
    if total <= size:
        return typed_features(stratified.drop("_month").orderBy("customer_unique_id").toPandas())
    # every month keeps its share: as many of its customers as its share of the sample
    quotas = stratified.sparkSession.createDataFrame(
        [(m, int(c * size / total + 0.5)) for m, c in sorted(counts.items())], "_month string, _quota bigint")
    order = Window.partitionBy("_month").orderBy(F.xxhash64(F.lit(seed), "customer_unique_id"), "customer_unique_id")
    picked = (stratified.join(F.broadcast(quotas), "_month")
              .withColumn("_rank", F.row_number().over(order))
              .where(F.col("_rank") <= F.col("_quota")))
    return typed_features(picked.drop("_month", "_quota", "_rank").orderBy("customer_unique_id").toPandas())


# ---------------------------------------------------------------------------------------------
# The CLI's jobs: what `custseg features|fit|assign` run on the spark engine


def prepared_features(
    spark: SparkSession,
    data: str | Path,
    as_of: date | datetime | str | None,
    statuses: tuple[str, ...] | list[str],
) -> tuple[date | None, DataFrame]:
    """The as-of date (given, or the day after the latest purchase) and the feature table of ``data``.

    ``data`` is an Olist export directory, or a feature table written by ``custseg features``
    (a path ending in .parquet): then its features are taken as they are, and the as-of date is
    the one given (None when not given).
    """
    location = uri(data)
    if location.rstrip("/").endswith(".parquet"):
        table = spark.read.parquet(location)
        missing = [c for c in FEATURE_DTYPES if c not in table.columns]
        if missing:
            raise InputError("missing: not a feature table written by custseg features", file=location,
                             column=missing[0])
        return (parse_as_of(as_of) if as_of is not None else None), table.select(*FEATURE_DTYPES)
    return export_features(spark, location, as_of, statuses)


def export_features(
    spark: SparkSession,
    data: str | Path,
    as_of: date | datetime | str | None,
    statuses: tuple[str, ...] | list[str],
) -> tuple[date, DataFrame]:
    """The as-of date (given, or the day after the latest purchase) and the feature table of the
    Olist export directory ``data``."""
    load_tables(spark, data)
    day = parse_as_of(as_of) if as_of is not None else default_as_of(spark)
    return day, customer_features(spark, day, statuses)


def _kept_non_empty(table: DataFrame, day: date | None, statuses: tuple[str, ...] | list[str]) -> DataFrame:
    """``table`` kept for the passes that follow; InputError when it has no customer."""
    from pyspark import StorageLevel

    table = table.persist(StorageLevel.MEMORY_AND_DISK)
    if table.isEmpty():
        raise InputError(f"no customer has a counted order before {day} (statuses: {', '.join(statuses)})")
    return table


def features_job(
    data: str | Path,
    output: str | Path,
    as_of: date | datetime | str | None = None,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
    master: str | None = None,
) -> tuple[date, int]:
    """Compute the feature table of ``data`` on Spark and write it to ``output`` (Parquet).

    Returns the as-of date and the number of customers written.
    """
    output = check_parquet_target(output)
    spark = spark_session(master)
    day, table = export_features(spark, data, as_of, statuses)
    table = _kept_non_empty(table, day, statuses)
    write_parquet(table, output)
    return day, table.count()


def fit_job(
    data: str | Path,
    as_of: date | datetime | str | None = None,
    statuses: tuple[str, ...] | list[str] = DEFAULT_STATUSES,
    master: str | None = None,
    *,
    sample_size: int = SearchSettings.sample_size,
    seed: int = 0,
    assignments: str | Path | None = None,
    progress: Progress | None = None,
    **fit_options,
) -> SegmentModel:
    """Fit a model on Spark's stratified sample of ``data``'s customers (scikit-learn on the driver).

    ``fit_options`` go to :func:`custseg.segment.fit`. With ``assignments``, every customer (not
    only the sample) is assigned on Spark and written there as Parquet. ``progress``, when given,
    is called as ``(step, done, total)`` as each step starts, and by the model search.
    """
    tick = progress or (lambda *_: None)
    if assignments is not None:
        assignments = check_parquet_target(assignments)
    spark = spark_session(master)
    tick("computing features and drawing the fit sample on Spark", 0, 0)
    day, table = prepared_features(spark, data, as_of, statuses)
    if day is None:
        raise InputError("`as_of`: give the date the feature table was computed at", file=uri(data))
    table = _kept_non_empty(table, day, statuses)
    sample = fit_sample(table, day, sample_size, seed)
    model = fit(sample, day, seed=seed, statuses=tuple(statuses), sample_size=sample_size, progress=progress,
                **fit_options)
    if assignments is not None:
        tick("assigning every customer on Spark", 0, 0)
        write_parquet(assign(model, table), assignments)
    return model


def assign_job(
    model: SegmentModel,
    data: str | Path,
    output: str | Path,
    as_of: date | datetime | str | None = None,
    master: str | None = None,
) -> tuple[date | None, pd.DataFrame]:
    """Assign every customer of ``data`` to ``model``'s segments on Spark; write Parquet to ``output``.

    Returns the as-of date (None for a feature table without ``as_of``) and, per segment id, the
    customers and outliers written (columns ``n``, ``outliers``).
    """
    from pyspark.sql import functions as F

    output = check_parquet_target(output)
    spark = spark_session(master)
    day, table = prepared_features(spark, data, as_of, model.statuses)
    table = _kept_non_empty(table, day, model.statuses)
    written = write_parquet(assign(model, table), output)
    counts = pd.DataFrame(spark.read.parquet(written).groupBy("segment_id")
                          .agg(F.count("*").alias("n"), F.sum(F.col("outlier").cast("int")).alias("outliers"))
                          .toPandas())
    counts = counts.set_index("segment_id").sort_index()
    return day, counts
