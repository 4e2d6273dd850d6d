"""Commands on segments: fit, assign, describe."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..schema import LogMapping
from .boundary import MAX_SEED, say_default_as_of, app, console, err_console, step_progress
from .options import AsOf, DataArg, Engine, EngineOpt, SparkMaster, data_command, output_option


@data_command("fit")
def fit_command(
    data: DataArg,
    output: Annotated[Path, output_option("The model file to write (JSON).")],
    as_of: AsOf = None,
    k: Annotated[str, typer.Option(
        "--k", help="Number of segments, or auto (2..10, chosen by the rule below).")] = "auto",
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="auto (all), kmeans, gmm, ward or hdbscan.")] = "auto",
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Random seed: same seed and data, same file.")] = 0,
    features: Annotated[str | None, typer.Option(
        "--features", help="Comma-separated numeric feature columns (default: the type features above).")] = None,
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Smallest segment share worth acting on; smaller segments are refused.")] = 0.02,
    max_share: Annotated[float, typer.Option(
        "--max-share", help="Largest segment share; a model leaving more in one segment is refused.")] = 0.8,
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="The model this one replaces: matched segments keep their ids and names.")] = None,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Comma-separated order statuses that count as purchases.")] = "delivered",
    sample_size: Annotated[int, typer.Option(
        "--sample-size", min=100, help="Fit on at most this many customers (stratified by first-purchase month); "
        "everyone is then assigned by nearest centroid.")] = 200_000,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", min=1, help="Refits per candidate for the stability score.")] = 10,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes for the model search (-1: all cores); "
                                      "the result does not depend on it.")] = 2,
    assignments: Annotated[Path | None, typer.Option(
        "--assignments", help="Also write the training customers' segments (.csv or .parquet).")] = None,
    mapping: LogMapping | None = None,
    engine: EngineOpt = Engine.duckdb,
    spark_master: SparkMaster = None,
) -> None:
    """Find customer segments in DATA and save them as a model file.

    Candidates: k-means, Gaussian mixture, Ward and HDBSCAN over k = 2..10, each scored on
    separation (silhouette, Davies-Bouldin, Calinski-Harabasz) and bootstrap stability (ARI and
    per-segment Jaccard over refits). Chosen: every segment between --min-share and --max-share,
    no segment dissolving under resampling (Jaccard >= 0.6), highest silhouette x stability.

    Default features: frequency, mean_basket, review_score_mean, lateness_days_mean,
    installments_mean, freight_share (money and counts log1p, missing values filled with the
    training median, all standardised). Assignment is by nearest centroid for every algorithm.

    DATA may also be a feature table written by custseg features (.parquet or .csv) with the
    --as-of date it was computed at.
    """
    from ..features import parse_statuses
    from ..jobs import fit_job
    from ..views.segments import candidate_table, segment_table

    names = [f.strip() for f in features.split(",") if f.strip()] if features else None
    with step_progress() as tick:
        model = fit_job(data, output, as_of=as_of, statuses=parse_statuses(statuses), mapping=mapping,
                        previous=previous, features=names, assignments=assignments, engine=engine.value,
                        master=spark_master, progress=tick, k=k, algorithm=algorithm, seed=seed,
                        min_share=min_share, max_share=max_share, sample_size=sample_size, bootstrap=bootstrap,
                        n_jobs=jobs)
    console.print(candidate_table(model))
    console.print(segment_table(model))
    console.print(f"chosen: {model.algorithm}, k={model.k} ({model.record['choice']['reason']})",
                  markup=False, highlight=False)
    console.print(f"wrote {output}" + (f" and {assignments}" if assignments is not None else ""))


@data_command("assign")
def assign_command(
    model: Annotated[Path, typer.Argument(help="Segment model JSON (custseg fit).")],
    data: DataArg,
    output: Annotated[Path | None, output_option("Output table: .csv or .parquet.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of",
        help="Date YYYY-MM-DD to assign customers as of. Default: the day after the latest purchase.")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="Also write the assignment to PostgreSQL, replacing the rows of a table in one transaction: "
        "postgresql://user@host/db?table=customer_segments (with model_version and as_of columns).")] = None,
    mapping: LogMapping | None = None,
    engine: EngineOpt = Engine.duckdb,
    spark_master: SparkMaster = None,
) -> None:
    """Assign every customer of DATA to the model's segments (nearest centroid).

    Writes customer_unique_id, segment_id, segment_name, distance (to the centroid, in model
    space: a confidence proxy) and outlier (farther than every segment's 99th-percentile training
    distance). The model's preprocessing is applied as saved, never refitted.

    DATA may also be a feature table written by custseg features (.parquet or .csv): its
    customers are assigned as they are, without recomputing their features.
    """
    from rich.table import Table

    from ..jobs import assign_job

    with err_console.status(f"assigning customers{' on Spark' if engine is Engine.spark else ''}"):
        result = assign_job(model, data, output, to=to, as_of=as_of, mapping=mapping, engine=engine.value,
                            master=spark_master)
    say_default_as_of(as_of, result.as_of)
    fitted, counts, total = result.model, result.counts, result.customers
    day = result.as_of or "the feature table's date"
    summary = Table(title=f"{total:,} customers as of {day}, model of {fitted.as_of}")
    for column in ("id", "segment", "customers", "share", "outliers"):
        summary.add_column(column, justify="left" if column == "segment" else "right")
    for seg_id, name in zip(fitted.ids, fitted.names):
        known = seg_id in counts.index
        n, out = (int(counts.loc[seg_id, "n"]), int(counts.loc[seg_id, "outliers"])) if known else (0, 0)
        summary.add_row(str(seg_id), name, f"{n:,}", f"{n / total:.1%}", f"{out:,}")
    console.print(summary)
    console.print(f"wrote {', '.join(result.written)}")


class DescribeFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command("describe")
def describe_command(
    model: Annotated[Path, typer.Argument(help="Segment model JSON (custseg fit).")],
    output_format: Annotated[
        DescribeFormat, typer.Option("--format", help="text (panels), json or markdown.")
    ] = DescribeFormat.text,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); default: BRL for a "
        "model of an Olist export, none for one of a transaction log.")] = None,
) -> None:
    """Print each segment of a model: name, share, description, suggested actions, rules and fidelity.

    Rules come from a depth-3 decision tree per segment (a customer matches when any rule holds).

    Fidelity: accuracy = share of all customers the rules place correctly, with precision, recall.
    """
    from ..currency import money
    from ..describe import data_kind, to_json, to_markdown
    from ..views.segments import rich_view
    from ..model import SegmentModel

    segments = SegmentModel.load(model).segments
    cash = money(currency, data_kind(segments))
    if output_format is DescribeFormat.json:
        typer.echo(to_json(segments), nl=False)
    elif output_format is DescribeFormat.markdown:
        typer.echo(to_markdown(segments, cash), nl=False)
    else:
        console.print(rich_view(segments, cash))
