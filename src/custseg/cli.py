"""The command line: a thin skin over the library.

Each command parses its arguments, calls the library, and prints with Rich. The app itself is the
error boundary (:class:`ErrorBoundary`), so the ``custseg`` script and an in-process runner see the
same exit codes: 0 success, 1 internal error (a bug), 2 bad input or options, 3 "action needed"
(monitor), 4 cannot write the output / out of resources, 130 interrupted. Every error is one
``error:`` line on stderr; the traceback only with ``--debug`` or ``CUSTSEG_DEBUG=1``.
"""
from __future__ import annotations

import functools
import inspect
import os
import re
import sys
import traceback
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from .errors import InternalError, as_user_error
from .schema import LogMapping
from .features import FEATURE_DOCS
from .rfm import MAX_BINS, MIN_BINS

try:  # typer >= 0.24 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef]

#: Seeds go to NumPy and scikit-learn, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

console = Console()
err_console = Console(stderr=True)
#: Whether progress is shown (the root option --quiet, or a command's own).
QUIET = {"on": False}


def _say_error(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


class ErrorBoundary(TyperGroup):
    """The root command: runs a command and turns whatever it raises into an exit code and one line.

    Usage errors (unknown option, value out of range) exit 2, :class:`custseg.errors.CustsegError`
    its own code, anything else 1 (a bug); Ctrl-C 130. ``--debug`` (or ``CUSTSEG_DEBUG=1``) adds
    the traceback.
    """

    debug = False

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        self.debug = os.environ.get("CUSTSEG_DEBUG", "") not in ("", "0")
        try:
            # not standalone: exceptions come back here instead of being printed by Typer
            result = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  windows_expand_args=windows_expand_args, **extra)
            code = result if isinstance(result, int) else 0
        except ClickException as exc:
            code = self._usage_error(exc)
        except Exception as exc:
            code = self._error(exc)
        if code == 130:
            err_console.print("interrupted")
        if not standalone_mode:
            return code
        sys.exit(code)

    def _usage_error(self, exc: ClickException) -> int:
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            _say_error(exc.format_message() + hint)
        return exc.exit_code

    def _error(self, exc: Exception) -> int:
        error = as_user_error(exc)
        if self.debug:
            traceback.print_exception(exc, file=sys.stderr)
        hint = " (run with --debug for the traceback)" if isinstance(error, InternalError) and not self.debug else ""
        _say_error(as_flags(error.message) + hint)
        return error.exit_code


#: Library parameters whose option is not ``--`` and the parameter's name with dashes.
_FLAG_OF = {"n_jobs": "--jobs", "statuses": "--statuses", "master": "--spark-master", "json_file": "--json"}


def as_flags(message: str) -> str:
    """A library message with the parameters it names in backquotes (`min_share`) shown as options
    (--min-share): the library speaks to Python callers, the command line to its users."""
    return re.sub(r"`(\w+)`", lambda m: _FLAG_OF.get(m.group(1), "--" + m.group(1).replace("_", "-")), message)


app = typer.Typer(
    name="custseg",
    cls=ErrorBoundary,
    help="Customer segments from marketplace order history, and how long they stay valid.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an error, also print the traceback (as does CUSTSEG_DEBUG=1).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress display (bars on a terminal, timestamped lines on stderr otherwise).")] = False,
) -> None:
    """Customer segments from marketplace order history, and how long they stay valid.

    Typical flow: synth (or your own Olist export) -> validate -> features -> fit -> assign;
    stability and monitor say how long the segments stay valid.
    """
    from .export import forget_inputs

    forget_inputs()  # the inputs of this command only (the app may run several times in one process)
    QUIET["on"] = quiet
    if debug and isinstance(ctx.command, ErrorBoundary):
        ctx.command.debug = True


def main() -> None:
    """Entry point of the ``custseg`` script."""
    from .errors import stop_on_signals

    stop_on_signals()  # SIGTERM and SIGHUP clean up as Ctrl-C does (the script's process only)
    app()


@app.command()
def version() -> None:
    """Print the version of custseg."""
    from . import __version__

    console.print(__version__)


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Argument(help="Directory to write the nine Olist CSV files and truth.csv into.")],
    customers: Annotated[Optional[int], typer.Option(
        "--customers", min=1, metavar="N", help="People to generate (default 10000).")] = None,
    orders: Annotated[Optional[int], typer.Option(
        "--orders", min=1, metavar="N", help="Instead of --customers: about this many orders (about 1.14 orders per "
        "customer, 1.10 with --drift-month).")] = None,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, metavar="N", help="Random seed: same seed and options, byte-identical files.")] = 0,
    months: Annotated[int, typer.Option(
        "--months", min=1, metavar="N", help="Length of the purchase horizon in months.")] = 24,
    start: Annotated[str, typer.Option(
        "--start", metavar="DATE", help="First day of the horizon, YYYY-MM-DD.")] = "2016-09-01",
    drift_mix: Annotated[bool, typer.Option(
        "--drift-mix", help="The persona mix shifts over time: unhappy_late goes from 10% to 20% of new "
        "customers (taken from casual_one_timer). Proportions change, the personas do not.")] = False,
    drift_month: Annotated[Optional[int], typer.Option(
        "--drift-month", min=1, metavar="M", help="From this month of the horizon on (1-based) the structure changes: a voucher "
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
    from .errors import InputError
    from .synth import CHUNK_CUSTOMERS, customers_for_orders, generate
    from rich.table import Table

    if customers is not None and orders is not None:
        raise InputError("give --customers or --orders, not both")
    if orders is not None:
        n_customers = customers_for_orders(orders, months, drift_mix, drift_month, start)
    else:
        n_customers = customers if customers is not None else 10_000
    large = n_customers > CHUNK_CUSTOMERS  # a bar only when there is more than one chunk to wait for
    with _step_progress() if large else nullcontext() as tick:
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


# DATA is an Olist export directory, or a transaction-log file read through the options below. A
# command taking DATA is decorated with @reads_data and receives a ready ``mapping: LogMapping | None``.
_LOG_PANEL = "Transaction log (when DATA is a file)"


def _data_source(text: str):
    """DATA as given: a path, or a ``postgresql://`` URL kept as text (a Path would fold its ``//``)."""
    from .pgsource import is_url

    return text if is_url(text) else Path(text)


DataArg = Annotated[Path, typer.Argument(
    parser=_data_source,
    help="An Olist export (a directory of the nine CSV or Parquet files), a transaction-log file, or a "
    "postgresql://user@host/db URL (see the README: ?schema=, ?table= or ?query= for a log).")]
CustomerCol = Annotated[Optional[str], typer.Option(
    "--customer-col", help="Log column holding the customer id.", rich_help_panel=_LOG_PANEL)]
DateCol = Annotated[Optional[str], typer.Option(
    "--date-col", help="Log column holding the purchase date.", rich_help_panel=_LOG_PANEL)]
AmountCol = Annotated[Optional[str], typer.Option(
    "--amount-col", help="Log column holding the amount paid.", rich_help_panel=_LOG_PANEL)]
OrderCol = Annotated[Optional[str], typer.Option(
    "--order-col", help="Log column holding the order id; rows sharing it are one order's lines. "
    "Without it each row is an order.", rich_help_panel=_LOG_PANEL)]
DateFormat = Annotated[Optional[str], typer.Option(
    "--date-format", help="strptime format of the dates, e.g. %Y%m%d (default: ISO, 2019-03-31).",
    rich_help_panel=_LOG_PANEL)]
LogColumns = Annotated[Optional[str], typer.Option(
    "--columns", help="The log's fields are separated by whitespace: their names, comma-separated, "
    "e.g. id,date,count,amount (the file has no header line, unless --header).", rich_help_panel=_LOG_PANEL)]
LogHeader = Annotated[Optional[bool], typer.Option(
    "--header/--no-header", help="Whether the log's first line names its fields. --header on a "
    "whitespace-separated log reads the names from it (or skips it, with --columns); --no-header needs "
    "--columns. Default: a CSV log has a header, a log read with --columns has none.",
    rich_help_panel=_LOG_PANEL)]

_LOG_OPTIONS: dict[str, Any] = {
    "customer_col": CustomerCol, "date_col": DateCol, "amount_col": AmountCol, "order_col": OrderCol,
    "date_format": DateFormat, "columns": LogColumns, "header": LogHeader,
}


def log_mapping(customer_col: Optional[str] = None, date_col: Optional[str] = None,
                amount_col: Optional[str] = None, order_col: Optional[str] = None,
                date_format: Optional[str] = None, columns: Optional[str] = None,
                header: Optional[bool] = None) -> LogMapping | None:
    """The LogMapping given by the transaction-log options; None when none of them is given."""
    from .errors import InputError

    if not any((customer_col, date_col, amount_col, order_col, date_format, columns, header is not None)):
        return None
    needed = {"--customer-col": customer_col, "--date-col": date_col, "--amount-col": amount_col}
    missing = [flag for flag, value in needed.items() if not value]
    if missing:
        raise InputError(f"a transaction log needs {', '.join(missing)} too")
    if header is False and not columns:
        raise InputError("--no-header: give the names of the log's fields with --columns")
    names = tuple(name.strip() for name in columns.split(",")) if columns else None
    assert customer_col and date_col and amount_col  # checked above; for mypy
    return LogMapping(customer_col=customer_col, date_col=date_col, amount_col=amount_col,
                      order_col=order_col, date_format=date_format, columns=names, header=header)


def reads_data(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command``, which takes ``mapping: LogMapping | None``, with the transaction-log options in
    its place: Typer sees the options, the command gets the mapping they give (None without them)."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "mapping"]
    params = kept + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
                     for name, hint in _LOG_OPTIONS.items()]

    @functools.wraps(command)
    def with_mapping(*args: Any, **kwargs: Any) -> Any:
        options = {name: kwargs.pop(name, None) for name in _LOG_OPTIONS}
        return command(*args, mapping=log_mapping(**options), **kwargs)

    del with_mapping.__wrapped__  # Typer must see the signature below, not the command's
    with_mapping.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_mapping.__annotations__ = {p.name: p.annotation for p in params}
    return with_mapping


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


# features, fit and assign run on DuckDB (one machine) or on Apache Spark (custseg.spark).
_ENGINE_PANEL = "Engine"
EngineOpt = Annotated[Engine, typer.Option(
    "--engine", help="duckdb: this machine. spark: Apache Spark (reads an Olist export directory, local or "
    "s3a://, hdfs://; writes Parquet datasets; needs the spark extra of custseg and Java 17).",
    rich_help_panel=_ENGINE_PANEL)]
SparkMaster = Annotated[Optional[str], typer.Option(
    "--spark-master", help="Spark master URL, e.g. spark://host:7077 (default local[*], or spark-submit's "
    "--master).", rich_help_panel=_ENGINE_PANEL)]


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


@app.command()
@reads_data
def validate(
    data: DataArg,
    json_file: Annotated[Optional[Path], typer.Option(
        "--json", help="Also write the result (summary and warnings) to this JSON file.")] = None,
    mapping: LogMapping | None = None,
) -> None:
    """Check DATA against the data contract; print a summary and the warnings.

    Exit 2, one line per problem, when DATA cannot be used (e.g. a missing column).

    Exit 0 when it can; survivable warts are then warnings, with up to three examples each.
    """
    from .jobs import validate_job

    with err_console.status("reading and checking the data"):
        found = validate_job(data, mapping=mapping, json_file=json_file)
    if found.problems:
        for problem in found.problems:
            _say_error(problem.message)
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


@app.command("features", epilog=_feature_list())
@reads_data
def features_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output table: .csv or .parquet.")],
    as_of: Annotated[
        Optional[str],
        typer.Option(
            "--as-of",
            help="Snapshot date YYYY-MM-DD: only facts dated before it count. "
            "Default: the day after the latest purchase in the data (printed).",
        ),
    ] = None,
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

    from .features import parse_statuses
    from .jobs import features_job

    with err_console.status(f"computing features{' on Spark' if engine is Engine.spark else ''}"):
        result = features_job(data, output, as_of=as_of, statuses=parse_statuses(statuses), mapping=mapping,
                              engine=engine.value, master=spark_master)
    _say_default_as_of(as_of, result.as_of)
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


@app.command("report")
@reads_data
def report_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    model: Annotated[
        Optional[Path], typer.Option("--model", help="Segment model JSON (custseg fit): adds the Segments section.")
    ] = None,
    stability: Annotated[
        Optional[Path],
        typer.Option("--stability", help="Backtest result JSON (custseg stability): adds the Stability section."),
    ] = None,
    as_of: Annotated[
        Optional[str],
        typer.Option("--as-of", help="Date YYYY-MM-DD the segments describe. Default: the model's as-of date, "
                     "else the day after the latest purchase."),
    ] = None,
    state: Annotated[Optional[Path], typer.Option(
        "--state", help="State directory of custseg update: adds the History section (and, without --model, "
        "the live model's Segments section).")] = None,
    currency: Annotated[Optional[str], typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); "
        "default: BRL for an Olist export, none for a transaction log.")] = None,
    mapping: LogMapping | None = None,
) -> None:
    """Write one self-contained HTML page: the data, and the segments and their stability when given.

    The page works offline (no request to any other host) and is byte-identical for the same inputs.
    """
    from .errors import InputError
    from .report import build_report, check_output_path

    check_output_path(output)
    records = None
    if state is not None:
        from .operate import history

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
    from .rfm import SEGMENT_RULES, score_range

    lines = [f"{r.name}: R {score_range(r.r)}, FM {score_range(r.fm)} ({r.meaning})" for r in SEGMENT_RULES]
    return "Segments (R = recency score, FM = ceil((F + M) / 2); every score pair has exactly one):\n\n" + "\n\n".join(lines)


@app.command("rfm", epilog=_rfm_rules())
@reads_data
def rfm_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output table: .csv or .parquet.")],
    as_of: Annotated[
        Optional[str],
        typer.Option("--as-of", help="Snapshot date YYYY-MM-DD. Default: the day after the latest purchase (printed)."),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", min=MIN_BINS, max=MAX_BINS, help="Score levels per letter.")] = 5,
    mapping: LogMapping | None = None,
) -> None:
    """Score customers 1-5 on recency, frequency and monetary value and name their RFM segment.

    Scores are quantiles: equal values share a score, the most recent customers score highest.

    Where quantiles collapse (frequency in Olist: 97% bought once) the fallback used is printed.
    """
    from rich.table import Table

    from .jobs import rfm_job
    from .rfm import segment_summary

    with err_console.status("scoring customers"):
        result = rfm_job(data, output, as_of=as_of, bins=bins, mapping=mapping)
    _say_default_as_of(as_of, result.as_of)
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


def _say_default_as_of(given: Optional[str], used: object) -> None:
    """Say which as-of date was used when none was given (and the data gave one)."""
    if given is None and used is not None:
        console.print(f"as-of not given: using {used}, the day after the latest purchase in the data")


@app.command("fit")
@reads_data
def fit_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The model file to write (JSON).")],
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="Date YYYY-MM-DD the features describe. Default: the day after the latest purchase.")] = None,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or auto (2..10, chosen by the rule below).")] = "auto",
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="auto (all), kmeans, gmm, ward or hdbscan.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed: same seed and data, same file.")] = 0,
    features: Annotated[Optional[str], typer.Option(
        "--features", help="Comma-separated numeric feature columns (default: the type features above).")] = None,
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Smallest segment share worth acting on; smaller segments are refused.")] = 0.02,
    max_share: Annotated[float, typer.Option(
        "--max-share", help="Largest segment share; a model leaving more in one segment is refused.")] = 0.8,
    previous: Annotated[Optional[Path], typer.Option(
        "--previous", help="The model this one replaces: matched segments keep their ids and names.")] = None,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Comma-separated order statuses that count as purchases.")] = "delivered",
    sample_size: Annotated[int, typer.Option(
        "--sample-size", min=100, help="Fit on at most this many customers (stratified by first-purchase month); "
        "everyone is then assigned by nearest centroid.")] = 200_000,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=1, help="Refits per candidate for the stability score.")] = 10,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes for the model search (-1: all cores); "
                                      "the result does not depend on it.")] = 2,
    assignments: Annotated[Optional[Path], typer.Option(
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
    from .features import parse_statuses
    from .jobs import fit_job
    from .segment import candidate_table, segment_table

    names = [f.strip() for f in features.split(",") if f.strip()] if features else None
    with err_console.status("computing features") if engine is Engine.duckdb else nullcontext():
        model = fit_job(data, output, as_of=as_of, statuses=parse_statuses(statuses), mapping=mapping,
                        previous=previous, features=names, assignments=assignments, engine=engine.value,
                        master=spark_master, progress=True, k=k, algorithm=algorithm, seed=seed,
                        min_share=min_share, max_share=max_share, sample_size=sample_size, bootstrap=bootstrap,
                        n_jobs=jobs)
    console.print(candidate_table(model))
    console.print(segment_table(model))
    console.print(f"chosen: {model.algorithm}, k={model.k} ({model.record['choice']['reason']})",
                  markup=False, highlight=False)
    console.print(f"wrote {output}" + (f" and {assignments}" if assignments is not None else ""))


@app.command("assign")
@reads_data
def assign_command(
    model: Annotated[Path, typer.Argument(help="Segment model JSON (custseg fit).")],
    data: DataArg,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Output table: .csv or .parquet.")] = None,
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="Date YYYY-MM-DD to assign customers as of. Default: the day after the latest purchase.")] = None,
    to: Annotated[Optional[str], typer.Option(
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

    from .jobs import assign_job

    with err_console.status(f"assigning customers{' on Spark' if engine is Engine.spark else ''}"):
        result = assign_job(model, data, output, to=to, as_of=as_of, mapping=mapping, engine=engine.value,
                            master=spark_master)
    _say_default_as_of(as_of, result.as_of)
    fitted, counts, total = result.model, result.counts, result.customers
    day = result.as_of or "the feature table's date"
    summary = Table(title=f"{total:,} customers as of {day}, model of {fitted.as_of}")
    for column in ("id", "segment", "customers", "share", "outliers"):
        summary.add_column(column, justify="left" if column == "segment" else "right")
    for seg_id, name in zip(fitted.ids, fitted.names):
        n, out = (int(counts.loc[seg_id, "n"]), int(counts.loc[seg_id, "outliers"])) if seg_id in counts.index else (0, 0)
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
    currency: Annotated[Optional[str], typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); default: BRL for a "
        "model of an Olist export, none for one of a transaction log.")] = None,
) -> None:
    """Print each segment of a model: name, share, description, suggested actions, rules and fidelity.

    Rules come from a depth-3 decision tree per segment (a customer matches when any rule holds).

    Fidelity: accuracy = share of all customers the rules place correctly, with precision, recall.
    """
    from .currency import money
    from .describe import data_kind, rich_view, to_json, to_markdown
    from .model import SegmentModel

    segments = SegmentModel.load(model).segments
    cash = money(currency, data_kind(segments))
    if output_format is DescribeFormat.json:
        typer.echo(to_json(segments), nl=False)
    elif output_format is DescribeFormat.markdown:
        typer.echo(to_markdown(segments, cash), nl=False)
    else:
        console.print(rich_view(segments, cash))


def _step_progress():
    """Progress of a long command on stderr: bars on a terminal, timestamped lines otherwise."""
    from .views.progress import progress_view

    return progress_view(err_console, quiet=QUIET["on"])


@app.command("stability")
@reads_data
def stability_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The result file to write (JSON).")],
    start: Annotated[Optional[str], typer.Option(
        "--start", help="Reference date D0 YYYY-MM-DD, where the frozen model is fitted. "
        "Default: the first month-end with 12 months of counted purchases before it.")] = None,
    step: Annotated[str, typer.Option("--step", help="Time between comparisons: 1M, 2W, 14D, 1Y...")] = "1M",
    until: Annotated[Optional[str], typer.Option(
        "--until", help="Last comparison date YYYY-MM-DD. Default: the day after the last counted purchase.")] = None,
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the features at t: all (whole history) or a sliding window "
        "such as 12M (only orders purchased in [t - 12M, t)).")] = "all",
    k: Annotated[str, typer.Option(
        "--k", help="Number of segments, or auto (chosen at D0 by the fit's rule and then kept).")] = "auto",
    algorithm: Annotated[str, typer.Option("--algorithm", help="kmeans, gmm, ward, hdbscan or auto.")] = "kmeans",
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Smallest segment share the reference fit accepts (as in custseg fit).")] = 0.02,
    features: Annotated[Optional[str], typer.Option(
        "--features", help="Model features, comma-separated, or study (recency_days, monetary, "
        "review_score_mean, answer_days, mean_items, total_items). Default: the fit's.")] = None,
    n_init: Annotated[Optional[int], typer.Option(
        "--n-init", min=1, help="k-means starts per fit (default: the fit's); more starts, fewer local optima, "
        "a tighter noise floor, slower.")] = None,
    threshold: Annotated[str, typer.Option(
        "--threshold", help="ARI the band's lower bound must keep: a number, or floor (the noise floor's "
        "lower bound minus --margin).")] = "0.8",
    margin: Annotated[float, typer.Option("--margin", help="Margin under the noise floor (floor mode).")] = 0.1,
    seeds: Annotated[int, typer.Option(
        "--seeds", min=2, help="Refits per date for the noise floor and the band: the re-trained model and "
        "N-1 bootstrap refits.")] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed: same seed and data, same result.")] = 0,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Comma-separated order statuses that count as purchases.")] = "delivered",
    psi_max: Annotated[float, typer.Option("--psi-max", help="Trigger: PSI of a model feature above this.")] = 0.2,
    share_points: Annotated[float, typer.Option(
        "--share-points", help="Trigger: a segment's share moving more than this many points.")] = 5.0,
    save_model: Annotated[Optional[Path], typer.Option(
        "--save-model", help="Also write the frozen reference model (JSON), e.g. for custseg monitor.")] = None,
    labels: Annotated[Optional[Path], typer.Option(
        "--labels", help="Also write every step's frozen and re-trained segment per customer (.csv or .parquet).")] = None,
    cost: Annotated[bool, typer.Option(
        "--cost/--no-cost", help="Measure one re-train's time and peak memory (varies run to run; "
        "--no-cost gives byte-identical output).")] = True,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes for the reference fit's model search "
                                      "(-1: all cores); the result does not depend on it.")] = 2,
    mapping: LogMapping | None = None,
) -> None:
    """Backtest how long segments stay valid, and write the maintenance contract.

    Frozen: a model fitted at D0; its preprocessing and centroids are never refitted.

    Re-trained: at each step t, the same procedure and k fitted on the features as of t.

    Compared: their labels of all customers at t, and of the cohort present at D0 (ARI, AMI).

    Noise floor: the ARI between refits (seeds, bootstrap resamples) at each date; each step's ARI is a band over the refits.

    Recommendation: the longest interval from D0 over which the band's lower bound stays above --threshold.

    Drift: PSI and Kolmogorov-Smirnov per feature, segment shares, migration matrix.
    """
    from . import features as feats
    from .errors import InputError
    from .export import write_json, write_table
    from .jobs import backtest_job
    from .segment import parse_k
    from .stability import (BacktestSettings, contract_text, parse_features, parse_period,
                            parse_threshold, parse_window, step_table)

    if labels is not None and labels.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("output must end in .csv or .parquet", file=labels)
    k_value = parse_k(k)
    settings = BacktestSettings(
        reference=feats.parse_as_of(start) if start else None, step=parse_period(step, "--step"),
        until=feats.parse_as_of(until) if until else None, window=parse_window(window), k=k_value,
        algorithm=algorithm.strip().lower(), features=parse_features(features),
        threshold=parse_threshold(threshold), margin=margin, seeds=seeds,
        seed=seed, statuses=feats.parse_statuses(statuses), psi_max=psi_max, share_points=share_points,
        measure_cost=cost, jobs=jobs, min_share=min_share, n_init=n_init, keep_labels=labels is not None,
    ).checked()
    with _step_progress() as tick:
        run = backtest_job(data, settings, mapping=mapping, progress=tick)
    write_json(run.result, output)
    if save_model is not None:
        run.model.save(save_model)
    if labels is not None:
        write_table(run.labels, labels)
    console.print(step_table(run.result))
    console.print(contract_text(run.result), markup=False, highlight=False, soft_wrap=True)
    written = [output] + [p for p in (save_model, labels) if p is not None]
    console.print("wrote " + ", ".join(map(str, written)), markup=False, highlight=False)


@app.command("monitor")
@reads_data
def monitor_command(
    model: Annotated[Path, typer.Argument(help="Segment model JSON (custseg fit, or custseg stability --save-model).")],
    data: DataArg,
    as_of: Annotated[str, typer.Option("--as-of", help="Date YYYY-MM-DD to check the model at (after its own).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the record (JSON).")] = None,
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the features: all, or a sliding window such as 12M (use the "
        "backtest's).")] = "all",
    threshold: Annotated[str, typer.Option(
        "--threshold", help="ARI the band's lower bound must keep: a number, or floor.")] = "0.8",
    margin: Annotated[float, typer.Option("--margin", help="Margin under the noise floor (floor mode).")] = 0.1,
    psi_max: Annotated[float, typer.Option("--psi-max", help="Trigger: PSI of a model feature above this.")] = 0.2,
    share_points: Annotated[float, typer.Option(
        "--share-points", help="Trigger: a segment's share moving more than this many points.")] = 5.0,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains at the date (noise floor and band).")] = 3,
    mapping: LogMapping | None = None,
) -> None:
    """Check a saved model at a date: exit 0 when healthy, 3 when a re-train is due, 2 on bad input.

    For a daily or weekly scheduler. The reference is the model's own as-of date, recomputed from DATA.

    Re-train is due when the frozen-vs-re-trained ARI lower bound falls below --threshold, a model feature's PSI exceeds --psi-max, or a segment's share moves more than --share-points.
    """
    from . import features as feats
    from .export import write_json
    from .jobs import monitor_job
    from .model import SegmentModel
    from .monitor import Triggers, record_text
    from .stability import parse_threshold, parse_window

    day = feats.parse_as_of(as_of)
    triggers = Triggers(ari=parse_threshold(threshold), margin=margin, psi_max=psi_max,
                        share_points=share_points).checked()
    fitted = SegmentModel.load(model)
    with err_console.status("checking the model"):
        record = monitor_job(fitted, data, day, mapping=mapping, window=parse_window(window), triggers=triggers,
                             seeds=seeds)
    if output is not None:
        write_json(record, output)
    console.print(record_text(record), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(record["exit_code"])


@app.command("update")
@reads_data
def update_command(
    data: DataArg,
    state: Annotated[Path, typer.Option("--state", help="State directory: model versions, history, last assignment "
                                        "(created if missing).")],
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="Date YYYY-MM-DD of this run (default: the day after the latest purchase).")] = None,
    to: Annotated[Optional[str], typer.Option(
        "--to", help="Also write every customer's segment to PostgreSQL in one transaction: "
        "postgresql://user@host/db?table=customer_segments.")] = None,
    k: Annotated[str, typer.Option("--k", help="Segments of a new model, or auto (first fit and re-trains).")] = "auto",
    algorithm: Annotated[str, typer.Option("--algorithm", help="auto, kmeans, gmm, ward or hdbscan.")] = "auto",
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Order statuses that count as purchases (first fit; later runs keep the model's).")] = "delivered",
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the decision's features: all, or a sliding window such as 12M.")] = "all",
    threshold: Annotated[str, typer.Option(
        "--threshold", help="ARI the band's lower bound must keep: a number, or floor.")] = "0.8",
    margin: Annotated[float, typer.Option("--margin", help="Margin under the noise floor (floor mode).")] = 0.1,
    psi_max: Annotated[float, typer.Option("--psi-max", help="Trigger: PSI of a model feature above this.")] = 0.2,
    share_points: Annotated[float, typer.Option(
        "--share-points", help="Trigger: a segment's share moving more than this many points.")] = 5.0,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains at the date behind the decision.")] = 3,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED,
                                      help="Random seed of the fits and the decision's re-trains.")] = 0,
    backtest: Annotated[bool, typer.Option(
        "--backtest/--no-backtest", help="Run the stability backtest at the first fit (contract.json).")] = True,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes for a fit's model search (-1: all cores); "
                                      "the result does not depend on it.")] = 2,
    mapping: LogMapping | None = None,
) -> None:
    """Run the maintenance contract once, for a daily or weekly scheduler.

    No model yet: fit one (and backtest it: contract.json). Otherwise: the monitor's decision for
    the live model at the date; on re-train, a new model with the live one as --previous (same ids
    where segments persist) becomes live. Then every customer is assigned (segments.parquet, and
    --to) and a record is appended to history.jsonl.

    Exit 0 when the run completed (re-trained or not: the record says which), 2 on bad input, 4
    when the state or the target cannot be written or another update holds the state's lock. A
    failed run leaves the live model, the history, the last assignment and the table as they were.
    """
    from . import features as feats
    from .monitor import Triggers
    from .operate import UpdateSettings, update
    from .stability import parse_threshold, parse_window

    settings = UpdateSettings(
        k=k, algorithm=algorithm, seed=seed, statuses=feats.parse_statuses(statuses), window=parse_window(window),
        triggers=Triggers(ari=parse_threshold(threshold), margin=margin, psi_max=psi_max,
                          share_points=share_points).checked(), seeds=seeds, backtest=backtest,
        fit_options={"n_jobs": jobs})
    with _step_progress() as tick:
        record = update(data, state, as_of=feats.parse_as_of(as_of) if as_of else None, mapping=mapping, to=to,
                        settings=settings, progress=tick)
    _print_update(record, state)


def _print_update(record: dict, state: Path) -> None:
    from rich.table import Table

    decided, model = record["decision"], record["model"]
    if decided.get("verdict") == "first":
        head = f"first fit: model {model['version']:04d} ({model['k']} segments) is live"
    elif record["retrained"]:
        head = (f"re-trained: model {model['version']:04d} replaces {model['previous_version']:04d} "
                f"({record['moved']:,} customers changed segment)")
    else:
        head = f"kept model {model['version']:04d} of {model['as_of']} ({decided.get('verdict')})"
    console.print(f"{record['as_of']}: {head}", markup=False, highlight=False)
    for reason in decided.get("reasons", []):
        console.print(f"  reason: {reason}", markup=False, highlight=False, soft_wrap=True)
    table = Table(title=f"{record['customers']:,} customers assigned")
    for column in ("id", "segment", "share"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for seg_id, share in record["shares"].items():
        table.add_row(seg_id, record["segments"][seg_id], f"{share:.1%}")
    console.print(table)
    written = [state / "history.jsonl", state / "segments.parquet"] + ([record["target"]] if record["target"] else [])
    console.print("wrote " + ", ".join(map(str, written)), markup=False, highlight=False)


@app.command("history")
def history_command(
    state: Annotated[Path, typer.Option("--state", help="State directory of custseg update.")],
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Also write the records (JSON list).")] = None,
) -> None:
    """Print the timeline of custseg update runs: dates, model versions, decisions and reasons, shares."""
    from rich.table import Table

    from .errors import InputError
    from .export import write_json
    from .operate import history, retrain_count

    if not state.is_dir():
        raise InputError("not a state directory of custseg update", file=state)
    records = history(state)
    table = Table(title=f"{len(records)} runs in {state}, {retrain_count(records)} re-trains")
    for column in ("run", "as of", "model", "decision", "customers", "moved", "shares"):
        table.add_column(column, justify="left" if column in ("decision", "shares") else "right")
    for r in records:
        decided = r["decision"]
        what = ("first fit" if decided.get("verdict") == "first" else
                f"re-trained ({len(decided.get('reasons', []))} reasons)" if r["retrained"] else "kept")
        shares = ", ".join(f"{i} {s:.0%}" for i, s in r["shares"].items())
        table.add_row(str(r["run"]), r["as_of"], f"{r['model']['version']:04d}", what, f"{r['customers']:,}",
                      "" if r["moved"] is None else f"{r['moved']:,}", shares)
    console.print(table)
    for r in records:
        for reason in r["decision"].get("reasons", []) if r["retrained"] and r["model"]["previous_version"] else []:
            console.print(f"run {r['run']} ({r['as_of']}) re-trained: {reason}", markup=False, highlight=False,
                          soft_wrap=True)
    if json_file is not None:
        write_json(records, json_file)
        console.print(f"wrote {json_file}", markup=False, highlight=False)


@app.command("run")
@reads_data
def run_command(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for every output (created if missing).")],
    as_of: Annotated[Optional[str], typer.Option(
        "--as-of", help="Date YYYY-MM-DD the segments describe (default: the day after the latest purchase).")] = None,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or auto (chosen with evidence).")] = "auto",
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="auto, kmeans, gmm, ward or hdbscan.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed: same data and seed, same outputs.")] = 0,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Order statuses that count as purchases, comma-separated.")] = "delivered",
    stability: Annotated[bool, typer.Option(
        "--stability/--no-stability", help="Run the stability backtest (the slowest step).")] = True,
    step: Annotated[str, typer.Option("--step", help="Backtest step: 1M, 2W, ...")] = "1M",
    window: Annotated[str, typer.Option("--window", help="Backtest feature window: all, or e.g. 12M.")] = "all",
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains per backtest date (noise floor).")] = 3,
    currency: Annotated[Optional[str], typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); "
        "default: BRL for an Olist export, none for a transaction log.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    mapping: LogMapping | None = None,
) -> None:
    """Everything in one go: validate, features, RFM, fit, assign, stability and the HTML report.

    Writes into OUTPUT: validation.json, features.parquet, rfm.csv, model.json, segments.csv,
    stability.json and report.html. A failed run leaves OUTPUT's previous files as they were.
    """
    from . import features as feats
    from .pipeline import run
    from .stability import BacktestSettings, parse_period, parse_window

    settings = BacktestSettings(step=parse_period(step, "--step"), window=parse_window(window), seeds=seeds)
    QUIET["on"] = QUIET["on"] or quiet
    with _step_progress() as tick:
        result = run(data, output, as_of=feats.parse_as_of(as_of) if as_of else None, k=k, algorithm=algorithm,
                     seed=seed, statuses=feats.parse_statuses(statuses), stability=settings if stability else None,
                     mapping=mapping, progress=tick, currency=currency)
    _print_run_summary(result)


def _print_run_summary(result) -> None:
    """The files written, then the summary in a few short lines (the same as the report's)."""
    from .views.summary import summary_lines

    for name, path in result.files.items():
        console.print(f"  {name:<15} {path}", markup=False, highlight=False)
    for line in summary_lines(result.summary, result.money, str(result.files["report"].resolve())):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Argument(help="Directory for the generated data and every output.")] = Path("demo-output"),
    customers: Annotated[int, typer.Option("--customers", help="Synthetic customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed of the synthetic data and the models.")] = 42,
    drift_month: Annotated[Optional[int], typer.Option(
        "--drift-month", help="Plant a change of behaviour from this month (see synth --help); 0 for none.")] = 18,
) -> None:
    """The main job on built-in synthetic data: synth, then run (validate ... report).

    Generates Olist-format data with planted personas (and, by default, a change of behaviour
    from month 18, which the stability analysis should catch) into OUTPUT/data, then runs every
    step into OUTPUT/results and prints where the report is.
    """
    from .pipeline import run
    from .stability import BacktestSettings
    from .synth import generate

    data_dir = output / "data"
    with _step_progress() as tick:
        tick("generating synthetic data", 0, customers)
        summary = generate(data_dir, customers=customers, seed=seed, drift_month=drift_month or None,
                           progress=lambda done: tick("generating synthetic data", done, customers))
    console.print(f"synthetic data: {summary.orders:,} orders of {summary.customers:,} customers, "
                  f"{summary.start} to {summary.end}, in {data_dir}", markup=False, highlight=False)
    with _step_progress() as tick:
        result = run(data_dir, output / "results", seed=seed, stability=BacktestSettings(seeds=3), progress=tick)
    _print_run_summary(result)
