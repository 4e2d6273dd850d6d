"""Commands on data: synth, validate, features, report, rfm."""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from ..features import FEATURE_DOCS
from ..rfm import MAX_BINS, MIN_BINS
from ..schema import LogMapping
from .boundary import MAX_SEED, say_default_as_of, say_error, step_progress, app, console, err_console
from .options import AsOf, DataArg, Engine, EngineOpt, SparkMaster, TableOutput, data_command, output_option


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Argument(help="Directory to write the nine Olist CSV files and truth.csv into.")],
    customers: Annotated[int | None, typer.Option(
        "--customers", min=1, metavar="N", help="People to generate (default 10000).")] = None,
    orders: Annotated[int | None, typer.Option(
        "--orders", min=1, metavar="N", help="Instead of --customers: about this many orders (about 1.14 orders per "
        "customer, 1.10 with --drift-month).")] = None,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, metavar="N",
        help="Random seed: same seed and options, byte-identical files.")] = 0,
    months: Annotated[int, typer.Option(
        "--months", min=1, metavar="N", help="Length of the purchase horizon in months.")] = 24,
    start: Annotated[str, typer.Option(
        "--start", metavar="DATE", help="First day of the horizon, YYYY-MM-DD.")] = "2016-09-01",
    drift_mix: Annotated[bool, typer.Option(
        "--drift-mix", help="The persona mix shifts over time: unhappy_late goes from 10% to 20% of new "
        "customers (taken from casual_one_timer). Proportions change, the personas do not.")] = False,
    drift_month: Annotated[int | None, typer.Option(
        "--drift-month", min=1, metavar="M",
        help="From this month of the horizon on (1-based) the structure changes: a voucher "
        "campaign triples new customers per day, a new persona voucher_deal_seeker takes 40% of them, and "
        "satisfied_big_spender orders arrive late with scores 1-2. Nothing changes before it.")] = None,
) -> None:
    """Generate Olist-format data with planted customer personas, for tests, demos and benchmarks.

    Writes the nine CSV files of the Olist export (same names, headers and quirks) and truth.csv
    (customer_unique_id, persona, first_purchase_month). Personas, by share of customers:
    casual_one_timer 52%, satisfied_big_spender 15%, unhappy_late 15%,
    installment_bargain_hunter 15%, frequent_small_buyer 3% (about 97% buy once).
    The export is dated the day after the horizon: later deliveries and reviews are not in it.
    """
    from ..errors import InputError
    from ..synth import CHUNK_CUSTOMERS, customers_for_orders, generate
    from rich.table import Table

    if customers is not None and orders is not None:
        raise InputError("give --customers or --orders, not both")
    if orders is not None:
        n_customers = customers_for_orders(orders, months, drift_mix, drift_month, start)
    else:
        n_customers = customers if customers is not None else 10_000
    large = n_customers > CHUNK_CUSTOMERS  # a bar only when there is more than one chunk to wait for
    with step_progress() if large else nullcontext() as tick:
        summary = generate(
            out, customers=n_customers, seed=seed, months=months, start=start,
            drift_mix=drift_mix, drift_month=drift_month,
            progress=(lambda done: tick("generating customers", done, n_customers)) if tick is not None else None,
        )
    table = Table(title=f"synthetic data {summary.start} .. {summary.end} (export date), seed {summary.seed}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, path in summary.files.items():
        table.add_row(path.name, f"{summary.rows[name]:,}")
    console.print(table)
    shares = ", ".join(f"{name} {count / summary.customers:.1%}" for name, count in summary.persona_counts.items())
    console.print(f"customers {summary.customers:,}, orders {summary.orders:,}, "
                  f"one-time buyers {summary.one_time_share:.1%}", markup=False, highlight=False)
    console.print(f"personas: {shares}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out}", markup=False, highlight=False)



def _print_validation(report: dict) -> None:
    from rich.table import Table

    facts = report["summary"]
    files = Table(title=f"{facts['data']} ({'transaction log' if facts['kind'] == 'log' else 'Olist export'})")
    files.add_column("table")
    files.add_column("file")
    files.add_column("rows", justify="right")
    for table, rows in facts["rows"].items():
        files.add_row(table, facts["files"].get(table, "-"), f"{rows:,}")
    console.print(files)
    overview = Table(show_header=False)
    overview.add_row("purchases", f"{facts['first_purchase']} .. {facts['last_purchase']}")
    overview.add_row("orders", f"{facts['orders']:,}")
    overview.add_row("delivered orders", f"{facts['delivered_orders']:,}")
    overview.add_row("customers (customer_unique_id)", f"{facts['customers']:,}")
    console.print(overview)
    warnings = report["warnings"]
    console.print(f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}" + (":" if warnings else ""))


@data_command("validate")
def validate(
    data: DataArg,
    json_file: Annotated[Path | None, typer.Option(
        "--json", help="Also write the result (summary and warnings) to this JSON file.")] = None,
    mapping: LogMapping | None = None,
) -> None:
    """Check DATA against the data contract; print a summary and the warnings.

    Exit 2, one line per problem, when DATA cannot be used (e.g. a missing column).

    Exit 0 when it can; survivable warts are then warnings, with up to three examples each.
    """
    from ..jobs import validate_job

    with err_console.status("reading and checking the data"):
        found = validate_job(data, mapping=mapping, json_file=json_file)
    if found.problems:
        for problem in found.problems:
            say_error(problem.message)
        raise typer.Exit(2)
    assert found.report is not None
    _print_validation(found.report)
    for warning in found.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if json_file is not None:
        console.print(f"wrote {json_file}")


def _feature_list() -> str:
    """The feature columns and their one-line docs, for ``custseg features --help``."""
    return "Columns:\n\n" + "\n\n".join(f"{name}: {doc}" for name, doc in FEATURE_DOCS.items())


@data_command("features", epilog=_feature_list())
def features_command(
    data: DataArg,
    output: TableOutput,
    as_of: AsOf = None,
    statuses: Annotated[
        str, typer.Option("--statuses", help="Comma-separated order statuses that count as purchases.")
    ] = "delivered",
    mapping: LogMapping | None = None,
    engine: EngineOpt = Engine.duckdb,
    spark_master: SparkMaster = None,
) -> None:
    """Write one row of features per customer (customer_unique_id) as of a date.

    An order counts when purchased before the as-of date with a counted status.

    Deliveries and reviews count only when dated before the as-of date.
    """
    from rich.table import Table

    from ..features import parse_statuses
    from ..jobs import features_job

    with err_console.status(f"computing features{' on Spark' if engine is Engine.spark else ''}"):
        result = features_job(data, output, as_of=as_of, statuses=parse_statuses(statuses), mapping=mapping,
                              engine=engine.value, master=spark_master)
    say_default_as_of(as_of, result.as_of)
    if not result.medians:  # Spark: the table stays where it was written
        console.print(f"{result.customers:,} customers as of {result.as_of} (statuses: {', '.join(result.statuses)})")
    else:
        summary = Table(title=f"customer features as of {result.as_of}", show_header=False)
        summary.add_row("customers", f"{result.customers:,}")
        summary.add_row("counted statuses", ", ".join(result.statuses))
        for name, value in result.medians.items():
            summary.add_row(f"median {name}", f"{value:,.2f}")
        console.print(summary)
    console.print(f"wrote {result.written}")


@data_command("report")
def report_command(
    data: DataArg,
    output: Annotated[Path, output_option("The HTML file to write.")],
    model: Annotated[
        Path | None, typer.Option("--model", help="Segment model JSON (custseg fit): adds the Segments section.")
    ] = None,
    stability: Annotated[
        Path | None,
        typer.Option("--stability", help="Backtest result JSON (custseg stability): adds the Stability section."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date YYYY-MM-DD the segments describe. Default: the model's as-of date, "
                     "else the day after the latest purchase."),
    ] = None,
    state: Annotated[Path | None, typer.Option(
        "--state", help="State directory of custseg update: adds the History section (and, without --model, "
        "the live model's Segments section).")] = None,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); "
        "default: BRL for an Olist export, none for a transaction log.")] = None,
    mapping: LogMapping | None = None,
) -> None:
    """Write one self-contained HTML page: the data, and the segments and their stability when given.

    The page works offline (no request to any other host) and is byte-identical for the same inputs.
    """
    from ..errors import InputError
    from ..report import build_report, check_output_path

    check_output_path(output)
    records = None
    if state is not None:
        from ..operate import history

        if not state.is_dir():
            raise InputError("not a state directory of custseg update", file=state)
        records = history(state)
        if records and model is None:
            model = state / records[-1]["model"]["file"]
    with err_console.status("building the report"):
        path = build_report(data, output, as_of=as_of, model=model, stability=stability, mapping=mapping,
                            history=records, currency=currency)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def _rfm_rules() -> str:
    """The named RFM segments and their score ranges, for ``custseg rfm --help``."""
    from ..rfm import SEGMENT_RULES, score_range

    lines = [f"{r.name}: R {score_range(r.r)}, FM {score_range(r.fm)} ({r.meaning})" for r in SEGMENT_RULES]
    head = "Segments (R = recency score, FM = ceil((F + M) / 2); every score pair has exactly one):"
    return head + "\n\n" + "\n\n".join(lines)


@data_command("rfm", epilog=_rfm_rules())
def rfm_command(
    data: DataArg,
    output: TableOutput,
    as_of: AsOf = None,
    bins: Annotated[int, typer.Option("--bins", min=MIN_BINS, max=MAX_BINS, help="Score levels per letter.")] = 5,
    mapping: LogMapping | None = None,
) -> None:
    """Score customers 1-5 on recency, frequency and monetary value and name their RFM segment.

    Scores are quantiles: equal values share a score, the most recent customers score highest.

    Where quantiles collapse (frequency in Olist: 97% bought once) the fallback used is printed.
    """
    from rich.table import Table

    from ..jobs import rfm_job
    from ..rfm import segment_summary

    with err_console.status("scoring customers"):
        result = rfm_job(data, output, as_of=as_of, bins=bins, mapping=mapping)
    say_default_as_of(as_of, result.as_of)
    scored = result.scores
    table = Table(title=f"RFM segments as of {result.as_of} ({len(scored):,} customers)")
    table.add_column("segment")
    for column in ("R", "FM"):
        table.add_column(column, justify="center")
    for column in ("customers", "share"):
        table.add_column(column, justify="right")
    for row in segment_summary(scored).itertuples(index=False):
        table.add_row(row.segment, row.R, row.FM, f"{row.customers:,}", f"{row.share:.1%}")
    console.print(table)
    for note in scored.attrs["notes"]:
        console.print(f"note: {note}", markup=False, highlight=False)
    console.print(f"wrote {output}")
