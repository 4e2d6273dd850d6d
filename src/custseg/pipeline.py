"""The whole job in one call: validate, features, RFM, fit, assign, stability, report.

:func:`run` writes every output into one directory, each file atomically:

====================  ==============================================================
validation.json       what was loaded and the warnings found (``custseg validate``)
features.parquet      the per-customer feature table as of the date (``custseg features``)
rfm.csv               RFM scores and named RFM segments (``custseg rfm``)
model.json            the fitted segment model (``custseg fit``)
segments.csv          every customer's segment, distance and outlier flag (``custseg assign``)
segments_by_rfm.csv   customers per segment (rows) and RFM segment (columns)
stability.json        backtest, noise floor, drift and maintenance contract (``custseg stability``)
report.html           the self-contained HTML report (``custseg report``)
====================  ==============================================================
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from .currency import Money, money
from .errors import OutputError
from .export import check_output_path, output_error, reading, write_json, write_table
from .features import default_as_of, parse_as_of, read_feature_table, release_freed_memory, write_features
from .hooks import pause_point
from .ingest import idle, open_data, validation_report
from .model import SegmentModel
from .pgsource import is_url, redacted
from .report import build_report
from .rfm import rfm
from .schema import DEFAULT_STATUSES, LogMapping
from .segment import fit
from .stability import BacktestSettings, backtest, maintenance_contract, short_history
from .summary import Summary, segments_by_rfm, summarize
from .views.progress import inside

#: The steps of :func:`run`, in order, as shown by a progress display.
STEPS = ("validate", "features", "rfm", "fit", "assign", "stability", "report")

Progress = Callable[[str, int, int], None]


@dataclass
class RunResult:
    """What :func:`run` produced: the output files, the model, and the stability result."""

    out_dir: Path
    as_of: date
    files: dict[str, Path]
    model: SegmentModel
    stability: dict | None
    customers: int
    warnings: list[str] = field(default_factory=list)
    summary: Summary | None = None
    money: Money = field(default_factory=Money)


def run(
    data: str | Path,
    out_dir: str | Path,
    *,
    as_of: date | str | None = None,
    k: int | str = "auto",
    algorithm: str = "auto",
    seed: int = 0,
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    stability: BacktestSettings | None = BacktestSettings(),
    mapping: LogMapping | None = None,
    progress: Progress | None = None,
    currency: str | None = None,
) -> RunResult:
    """Run every step on ``data`` and write the outputs into ``out_dir``.

    ``as_of`` defaults to the day after the latest purchase. ``stability`` holds the backtest's
    settings (``None`` skips the backtest; so does data with too little history for one, which the
    summary and the report then say, with no stability.json). ``progress`` is called as ``(step,
    done, total)``, and as ``("<step>: <detail>", done, total)`` for the work inside fit and the
    backtest.
    ``currency`` (a code or a symbol) labels amounts; default: BRL for an Olist export, none for a
    transaction log.
    """
    money(currency)  # refused before any work
    day = parse_as_of(as_of) if as_of is not None else None
    out = Path(out_dir)
    if not is_url(data):
        reading(data)
    check_output_path(out)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out)
    created = not out.exists()
    stage = staging_folder(out)
    try:
        result = _run_into(stage, data, day, k, algorithm, seed, statuses, stability, mapping, progress, currency)
        for name, staged in result.files.items():
            os.replace(staged, out / staged.name)
            result.files[name] = out / staged.name
        result.out_dir = out
        return result
    except OutputError as exc:  # name the output folder, not the staging one
        if exc.path is not None and stage in Path(exc.path).parents:
            raise OutputError(exc.problem, path=out / Path(exc.path).name) from None
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a failed first run leaves no empty folder behind


#: Prefix of the staging folder of a run inside its output folder; the owner's pid follows it.
STAGE_PREFIX = ".custseg-run-"
_OWNER_FILE = ".owner"


def staging_folder(out: Path) -> Path:
    """A new staging folder in ``out`` (created if missing), after removing those of dead runs.

    A run builds everything in a staging folder and moves the files in at the end: a failed run
    leaves the previous outputs as they were, never a mix of old and new files. The folder records
    its process (pid and start time): a run killed without a chance to clean up (SIGKILL, power
    loss) leaves it behind, and the next run into ``out`` removes it, but never the folder of a
    run still going.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob(f"{STAGE_PREFIX}*"):
            if old.is_dir() and not _owner_alive(old):
                shutil.rmtree(old, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=out))
        (stage / _OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n", encoding="ascii")
    except OSError as exc:
        raise output_error(exc, out) from None
    return stage


def _start_time(pid: int) -> str:
    """When process ``pid`` started (psutil's create_time), or '' when there is no such process."""
    import psutil

    try:
        return repr(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return ""


def _owner_alive(stage: Path) -> bool:
    """Whether the run that made staging folder ``stage`` may still be going (unknown owner: yes)."""
    try:
        pid, started = (stage / _OWNER_FILE).read_text(encoding="ascii").split()
        return _start_time(int(pid)) == started
    except (OSError, ValueError):  # no owner recorded (yet, or by an older custseg): leave it alone
        return True


def _run_into(out: Path, data, day, k, algorithm, seed, statuses, stability, mapping, progress,
              currency=None) -> RunResult:
    tick = progress or (lambda *_: None)
    files: dict[str, Path] = {}
    total = len(STEPS)

    def step(name: str) -> None:
        tick(name, STEPS.index(name), total)
        pause_point(name)  # a test hook (custseg.hooks)

    step("validate")
    with open_data(data, mapping) as ds:
        day = day or default_as_of(ds)
        cash = money(currency, ds.kind)
        files["validation"] = write_json(validation_report(ds), out / "validation.json")
        step("features")
        # DuckDB writes the table; Python reads it back while DuckDB's tables wait on disk (idle):
        # DuckDB's budget, its result and the frame never add up (6.4 GB at 10M orders otherwise)
        customers, _ = write_features(ds, day, out / "features.parquet", statuses)
        files["features"] = out / "features.parquet"
        with idle(ds):
            table = read_feature_table(files["features"])
        # With millions of customers the per-customer tables must not pile up in memory: each is
        # written, kept as Parquet in the staging folder (not an output) and read back for the
        # report; DuckDB's tables wait on disk while Python works (ingest.idle).
        with idle(ds):
            step("rfm")
            scored = rfm(table)
            files["rfm"] = write_table(scored, out / "rfm.csv")
            kept = {"features": files["features"], "rfm": write_table(scored, out / ".rfm.parquet")}
            rfm_names = scored["segment"].to_numpy()
            del scored
            step("fit")
            model = fit(table, day, k=k, algorithm=algorithm, seed=seed, statuses=statuses,
                        progress=inside("fit", tick))
            files["model"] = model.save(out / "model.json")
            step("assign")
            files["segments"] = write_table(model.assignment_, out / "segments.csv")
            kept["segments"] = write_table(model.assignment_, out / ".segments.parquet")
            assert model.assignment_ is not None  # a model just fitted has its training assignment
            segment_ids = model.assignment_["segment_id"].to_numpy()
            spend = table["monetary"].to_numpy() if "monetary" in table.columns else None
            files["segments_by_rfm"] = write_table(segments_by_rfm(model, segment_ids, rfm_names),
                                                   out / "segments_by_rfm.csv")
            model.assignment_ = None
            del table, rfm_names  # a Python string per customer: hundreds of MB at 10M orders
            release_freed_memory()
        result, no_backtest = None, None
        if stability is not None:
            step("stability")
            settings = replace(stability, seed=seed, statuses=tuple(statuses), keep_labels=False)
            # too little history is no failed run: the summary says so and claims no interval
            no_backtest = short_history(ds, settings)
            if no_backtest is None:
                result = _stability(ds, settings, data, day, inside("stability", tick))
                files["stability"] = write_json(result, out / "stability.json")
        step("report")
        # the report reads the tables back once its Data section (DuckDB's work) is done
        files["report"] = build_report(ds, out / "report.html", as_of=day, model=model, stability=result,
                                       features_df=kept["features"], assignment_df=kept["segments"],
                                       rfm_df=kept["rfm"], currency=currency, no_backtest=no_backtest)
        tick("done", total, total)
        summary = summarize(model, day.isoformat(), segment_ids, spend, result, len(ds.warnings), no_backtest)
        return RunResult(out_dir=out, as_of=day, files=files, model=model, stability=result,
                         customers=customers, warnings=[str(w) for w in ds.warnings], summary=summary, money=cash)


def _stability(ds, settings: BacktestSettings, data, day: date, progress: Progress | None) -> dict:
    """The backtest's result, its contract speaking of the model the run deploys as of ``day``.

    The backtest estimates how long a model fitted by this procedure stays valid (k chosen at its
    own reference date: the deployed k may not exist yet there); only the result is written.
    """
    result = backtest(ds, settings, progress=progress).result
    # the model file named as in the output folder, so that outputs do not depend on where it is
    result["contract"] = maintenance_contract(
        result, result["contract"]["retrain_cost"], model_path="model.json",
        data_path=redacted(data) if is_url(data) else str(Path(data).resolve()),
        deployed_as_of=day.isoformat())
    result["contract"]["monitor"]["run_in"] = "the output folder of custseg run"
    return result

