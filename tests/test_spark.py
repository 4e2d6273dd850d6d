"""The spark engine gives what the DuckDB engine gives: same features, same segments.

One local SparkSession serves the whole module (starting a JVM takes seconds), and ``make
test`` runs every test here on the same worker (``--dist loadfile``), so the suite starts one JVM,
not one per worker. Skipped where pyspark or Java is missing.
"""
from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("the spark engine needs Java (java on PATH or JAVA_HOME)", allow_module_level=True)

from custseg import spark as engine  # noqa: E402
from custseg.errors import InputError  # noqa: E402
from custseg.features import features  # noqa: E402
from custseg.model import SegmentModel  # noqa: E402
from custseg.segment import fit  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

AS_OF = "2018-06-01"

#: Settings for a JVM that lives a minute on tables of a few thousand rows, on 2 shared cores: its
#: cost is start-up, planning and compiling, not computing. The optimising JIT compiler (C2) and
#: parallel GC threads would burn more CPU than they save here; adaptive query execution only
#: re-plans at every stage what 2 shuffle partitions leave nothing to tune in. None of them
#: changes what a query returns.
TEST_CONF = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="module")
def spark():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's note on pandas 3
        session = engine.spark_session("local[2]", shuffle_partitions=2, conf=TEST_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def duck_features(synth_dir) -> pd.DataFrame:
    return features(synth_dir, AS_OF)


@pytest.fixture(scope="module")
def spark_features(spark, synth_dir):
    engine.load_tables(spark, synth_dir)
    return engine.customer_features(spark, AS_OF).persist()


@pytest.fixture(scope="module")
def model_file(duck_features, tmp_path_factory) -> Path:
    model = fit(duck_features, AS_OF, k=4, algorithm="kmeans", seed=0, bootstrap=2, n_init=2)
    return model.save(tmp_path_factory.mktemp("model") / "model.json")


def assert_same_table(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same columns, dtypes and rows; strings and integers equal; floats within 1e-9 relative."""
    assert list(left.columns) == list(right.columns)
    assert left.dtypes.astype(str).tolist() == right.dtypes.astype(str).tolist()
    assert len(left) == len(right)
    for name in left.columns:
        a, b = left[name].to_numpy(), right[name].to_numpy()
        if left[name].dtype.kind == "f":
            assert (np.isnan(a) == np.isnan(b)).all(), name
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True, err_msg=name)
        else:
            assert (a == b).all(), name


def test_session_has_the_settings_given(spark):
    assert spark.conf.get("spark.sql.adaptive.enabled") == "false"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    options = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"} <= set(options)  # the JVM runs with them


def test_features_match_duckdb(spark_features, duck_features):
    assert len(duck_features) > 1000
    assert_same_table(spark_features.toPandas(), duck_features)


def test_assignments_match_duckdb(spark_features, duck_features, model_file, tmp_path):
    model = SegmentModel.load(model_file)
    out = engine.write_parquet(engine.assign(model, spark_features), tmp_path / "segments.parquet")
    on_spark = pd.read_parquet(out)
    on_duckdb = model.assign_features(duck_features)
    assert_same_table(on_spark, on_duckdb)
    assert on_spark["segment_id"].nunique() == model.k


def test_fit_sample_is_stratified_by_first_purchase_month(spark_features, duck_features):
    sample = engine.fit_sample(spark_features, AS_OF, size=1000, seed=0)
    assert 990 <= len(sample) <= 1010 and sample["customer_unique_id"].is_unique
    assert sample["customer_unique_id"].is_monotonic_increasing

    def month_shares(table: pd.DataFrame) -> pd.Series:
        first = pd.Timestamp(AS_OF) - pd.to_timedelta(table["tenure_days"], unit="D")
        return first.dt.to_period("M").value_counts(normalize=True)

    shares = pd.concat([month_shares(duck_features), month_shares(sample)], axis=1).fillna(0)
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() < 0.01
    again = engine.fit_sample(spark_features, AS_OF, size=1000, seed=0)
    assert again["customer_unique_id"].tolist() == sample["customer_unique_id"].tolist()


def test_missing_column_names_file_and_column(spark, synth_dir, tmp_path):
    for path in Path(synth_dir).glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    orders = tmp_path / "olist_orders_dataset.csv"
    pd.read_csv(orders, dtype=str).drop(columns="order_status").to_csv(orders, index=False)
    with pytest.raises(InputError, match=r"olist_orders_dataset\.csv: column order_status: missing"):
        engine.load_tables(spark, tmp_path)


def test_fit_job_fits_spark_sample_and_assigns_everyone(spark, synth_dir, duck_features, tmp_path):
    segments = tmp_path / "segments.parquet"
    model = engine.fit_job(synth_dir, AS_OF, sample_size=1000, assignments=segments, k=3, algorithm="kmeans",
                           bootstrap=2, n_init=2)
    assert model.record["input"]["customers"] == pytest.approx(1000, abs=10)  # fitted on Spark's sample
    on_spark = pd.read_parquet(segments)
    assert len(on_spark) == len(duck_features)  # everyone is assigned, not only the sample
    assert_same_table(on_spark, model.assign_features(duck_features))


def test_cli_assign_on_spark_writes_what_duckdb_assigns(synth_dir, duck_features, model_file, tmp_path, cli):
    out = tmp_path / "segments.parquet"
    result = cli("assign", model_file, synth_dir, "--as-of", AS_OF, "--engine", "spark",
                 "--spark-master", "local[2]", "-o", out)
    assert result.code == 0, result.stderr
    on_duckdb = SegmentModel.load(model_file).assign_features(duck_features)
    assert_same_table(pd.read_parquet(out), on_duckdb)
    assert f"{len(on_duckdb):,} customers as of {AS_OF}" in result.stdout


def test_cli_spark_engine_refuses_csv_output_before_starting(synth_dir, tmp_path, cli):
    result = cli("features", synth_dir, "--engine", "spark", "-o", tmp_path / "features.csv")
    assert result.code == 2
    assert "the spark engine writes Parquet" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "features.csv").exists()


def test_uri_restores_what_pathlib_shortened():
    assert engine.uri(Path("s3a://bucket/olist")) == "s3a://bucket/olist"
    assert engine.uri(Path("hdfs://namenode:8020/data/olist")) == "hdfs://namenode:8020/data/olist"
    assert engine.uri(Path("file:///tmp/olist")) == "file:/tmp/olist"
    assert engine.uri(Path("/tmp/olist")) == "/tmp/olist"
