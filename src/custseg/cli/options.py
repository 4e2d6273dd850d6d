"""Options defined once: DATA and the transaction-log options (a ready LogMapping), the engine."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..schema import LogMapping
from .boundary import app


# DATA is an Olist export directory, or a transaction-log file read through the options below. A
# command taking DATA is registered with @data_command (@reads_data) and receives a ready
# ``mapping: LogMapping | None``.
_LOG_PANEL = "Transaction log (when DATA is a file)"


def _data_source(text: str):
    """DATA as given: a path, or a ``postgresql://`` URL kept as text (a Path would fold its ``//``)."""
    from ..pgsource import is_url

    return text if is_url(text) else Path(text)


DataArg = Annotated[Path, typer.Argument(
    parser=_data_source,
    help="An Olist export (a directory of the nine CSV or Parquet files), a transaction-log file, or a "
    "postgresql://user@host/db URL (see the README: ?schema=, ?table= or ?query= for a log).")]
CustomerCol = Annotated[str | None, typer.Option(
    "--customer-col", help="Log column holding the customer id.", rich_help_panel=_LOG_PANEL)]
DateCol = Annotated[str | None, typer.Option(
    "--date-col", help="Log column holding the purchase date.", rich_help_panel=_LOG_PANEL)]
AmountCol = Annotated[str | None, typer.Option(
    "--amount-col", help="Log column holding the amount paid.", rich_help_panel=_LOG_PANEL)]
OrderCol = Annotated[str | None, typer.Option(
    "--order-col", help="Log column holding the order id; rows sharing it are one order's lines. "
    "Without it each row is an order.", rich_help_panel=_LOG_PANEL)]
DateFormat = Annotated[str | None, typer.Option(
    "--date-format", help="strptime format of the dates, e.g. %Y%m%d (default: ISO, 2019-03-31).",
    rich_help_panel=_LOG_PANEL)]
LogColumns = Annotated[str | None, typer.Option(
    "--columns", help="The log's fields are separated by whitespace: their names, comma-separated, "
    "e.g. id,date,count,amount (the file has no header line, unless --header).", rich_help_panel=_LOG_PANEL)]
LogHeader = Annotated[bool | None, typer.Option(
    "--header/--no-header", help="Whether the log's first line names its fields. --header on a "
    "whitespace-separated log reads the names from it (or skips it, with --columns); --no-header needs "
    "--columns. Default: a CSV log has a header, a log read with --columns has none.",
    rich_help_panel=_LOG_PANEL)]

#: --as-of where it may be left out and means the snapshot (features, rfm, fit, run).
AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="Snapshot date YYYY-MM-DD: only facts dated before it count. "
    "Default: the day after the latest purchase in the data.")]
#: --output of a command writing one table.
TableOutput = Annotated[Path, typer.Option("--output", "-o", help="Output table: .csv or .parquet.")]


def output_option(help: str) -> Any:
    """The --output (-o) option, with what the command writes there as its help."""
    return typer.Option("--output", "-o", help=help)


_LOG_OPTIONS: dict[str, Any] = {
    "customer_col": CustomerCol, "date_col": DateCol, "amount_col": AmountCol, "order_col": OrderCol,
    "date_format": DateFormat, "columns": LogColumns, "header": LogHeader,
}


def log_mapping(customer_col: str | None = None, date_col: str | None = None,
                amount_col: str | None = None, order_col: str | None = None,
                date_format: str | None = None, columns: str | None = None,
                header: bool | None = None) -> LogMapping | None:
    """The LogMapping given by the transaction-log options; None when none of them is given."""
    from ..errors import InputError

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


def data_command(name: str | None = None, **settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register a command taking DATA as ``custseg NAME`` (Typer's ``settings``), with the
    transaction-log options of :func:`reads_data`."""
    def register(command: Callable[..., Any]) -> Any:
        return app.command(name, **settings)(reads_data(command))

    return register


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


# features, fit and assign run on DuckDB (one machine) or on Apache Spark (custseg.spark).
_ENGINE_PANEL = "Engine"
EngineOpt = Annotated[Engine, typer.Option(
    "--engine", help="duckdb: this machine. spark: Apache Spark (reads an Olist export directory, local or "
    "s3a://, hdfs://; writes Parquet datasets; needs the spark extra of custseg and Java 17).",
    rich_help_panel=_ENGINE_PANEL)]
SparkMaster = Annotated[str | None, typer.Option(
    "--spark-master", help="Spark master URL, e.g. spark://host:7077 (default local[*], or spark-submit's "
    "--master).", rich_help_panel=_ENGINE_PANEL)]
