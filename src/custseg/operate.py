"""Run the maintenance contract: ``custseg update`` for a scheduler, and the history it leaves.

One call of :func:`update` is one day (or week) of operation on a state directory:

* no model yet: fit one (and, unless told not to, run the stability backtest: the contract);
* otherwise: the maintenance decision at the date for the live model (:func:`decision`, the
  monitor's); when it says re-train, fit a new model with the live one as ``previous`` (segment
  ids kept where segments persist, new ids never reused) and make it live;
* then assign every customer, write the assignment (and, with ``to``, the PostgreSQL table), and
  append a record to the history.

The state directory holds::

    models/0001.json ...  every model that was made live (write-once)
    live.json             the live model's version, file and date
    history.jsonl         one record per completed run (format custseg.history/1)
    segments.parquet      the last run's segment of every customer
    contract.json         the backtest of the first fit (the maintenance contract), when run
    .lock                 held while a run works: a second run refuses; the kernel releases it when
                          its process dies, so a dead run's lock is simply taken over
    .journal.json         the renames that commit a run (rolled forward by the next run if a
                          crash interrupted them)

A run builds every file in a staging folder and commits with a few renames listed first in the
journal: until the journal is written nothing visible has changed, so a run that fails or is
killed leaves the live model, the history, the last assignment and the target table as they were.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import InputError, ModelFileError, OutputError
from .export import write_json, write_table

if TYPE_CHECKING:
    from .stability import Period, Triggers

HISTORY_FORMAT = "custseg.history/1"
LIVE_FORMAT = "custseg.live/1"
MODELS = "models"
HISTORY = "history.jsonl"
LIVE = "live.json"
SEGMENTS = "segments.parquet"
CONTRACT = "contract.json"
#: Version of contract.json when the first run had no backtest (bump on an incompatible change).
SKIPPED_FORMAT = "custseg.contract-skipped/2"
LOCK = ".lock"
JOURNAL = ".journal.json"
STAGING_PREFIX = ".staging-"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class UpdateSettings:
    """How ``update`` fits, decides and checks. Fit settings apply to the first fit and re-trains."""

    k: int | str = "auto"
    algorithm: str = "auto"
    seed: int = 0
    statuses: tuple[str, ...] = ("delivered",)
    window: Period | None = None  # None: the whole history
    triggers: Triggers | None = None  # None: the defaults
    seeds: int = 5  # re-trains at the date behind the decision (as stability and monitor)
    backtest: bool = True  # run the stability backtest at the first fit (the contract)
    fit_options: dict = field(default_factory=dict)  # further fit() options (bootstrap, sample_size...)


# ---------------------------------------------------------------------------------------------
# The state directory
# ---------------------------------------------------------------------------------------------

@contextmanager
def holding_lock(state: Path) -> Iterator[Path]:
    """Hold ``state``'s lock while the block runs; OutputError when another run holds it."""
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise OutputError(f"another update is running on it (process {holder}); try again when it "
                              "has finished", path=state) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        recover(state)
        yield state
    finally:
        os.close(fd)  # releases the lock


def recover(state: Path) -> None:
    """Finish a commit a crash interrupted (the journal's renames) and drop dead runs' staging."""
    journal = state / JOURNAL
    if journal.exists():
        for staged, final in json.loads(journal.read_text())["renames"]:
            if (state / staged).exists():
                os.replace(state / staged, state / final)
        journal.unlink()
    for stale in state.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def history(state: str | Path) -> list[dict]:
    """The records of every completed run in ``state``, oldest first."""
    path = Path(state) / HISTORY
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise ModelFileError(f"line {number} is not JSON", file=path) from None
        if not isinstance(record, dict) or record.get("format") != HISTORY_FORMAT:
            raise ModelFileError(f"line {number} is not a {HISTORY_FORMAT} record", file=path)
        records.append(record)
    return records


def live_model(state: Path, records: list[dict]):
    """The live model (the last record's), or None before the first run."""
    from .model import SegmentModel

    if not records:
        return None
    return SegmentModel.load(state / records[-1]["model"]["file"])


def next_version(state: Path) -> int:
    """A version number never used in ``state`` (also not by a run that failed after writing one)."""
    used = [int(p.stem) for p in (state / MODELS).glob("*.json") if p.stem.isdigit()]
    return max(used, default=0) + 1


def _commit(state: Path, stage: Path, renames: list[tuple[str, str]]) -> None:
    """Move the staged files into place: journal first, so that a crash half-way is rolled forward."""
    pairs = [(str((stage / staged).relative_to(state)), final) for staged, final in renames]
    write_json({"renames": pairs}, state / JOURNAL)
    (state / MODELS).mkdir(exist_ok=True)
    for staged, final in pairs:
        os.replace(state / staged, state / final)
    (state / JOURNAL).unlink()


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------

def decision(model, ds, day: date, table: pd.DataFrame, settings: UpdateSettings) -> dict:
    """The maintenance decision at ``day`` for the live ``model``: the monitor's, for one date.

    ``{"retrain": bool, "reasons": [...], "verdict": ..., ...}``. A model of ``day`` itself has
    nothing to be judged against yet: it is kept.
    """
    from .features import parse_as_of
    from .monitor import check
    from .stability import Triggers

    if day <= parse_as_of(model.as_of):
        return {"retrain": False, "verdict": "current", "reasons": [],
                "note": f"the live model is of {model.as_of}: nothing to judge at {day}"}
    record = check(model, ds, day, settings.window, settings.triggers or Triggers(), settings.seeds)
    # the monitor's decision object itself (reasons as data), with the numbers behind it
    return {**record["decision"], "verdict": record["verdict"], "ari": record["ari"], "floor": record["floor"],
            "share_moves": record["share_moves"]}


def _fit(table: pd.DataFrame, day: date, settings: UpdateSettings, previous=None):
    from .segment import fit

    options = dict(settings.fit_options)
    if previous is not None:
        options["features"] = previous.feature_names
    return fit(table, day, k=settings.k, algorithm=settings.algorithm, seed=settings.seed,
               statuses=settings.statuses, previous=previous, **options)


def _shares(assignment: pd.DataFrame, model) -> dict[str, float]:
    counts = assignment["segment_id"].value_counts()
    return {str(i): round(float(counts.get(i, 0)) / max(len(assignment), 1), 4) for i in model.ids}


def _moved(old, new_assignment: pd.DataFrame, table: pd.DataFrame) -> int:
    """Customers whose segment id differs between the old model's assignment and the new one."""
    before = old.assign_features(table)["segment_id"].to_numpy()
    return int((before != new_assignment["segment_id"].to_numpy()).sum())


def update(
    data: str | Path,
    state: str | Path,
    *,
    as_of: date | str | None = None,
    mapping=None,
    to: str | None = None,
    settings: UpdateSettings = UpdateSettings(),
    progress: Progress | None = None,
) -> dict:
    """One scheduled run on ``data`` into state directory ``state``; the history record it appended.

    ``as_of`` defaults to the day after the latest purchase. ``to`` is a ``postgresql://`` URL
    (:mod:`custseg.pgtarget`) that receives the assignment in one transaction. Raises OutputError
    when another run holds the state, InputError for bad data or a date before the live model's.
    """
    from .features import customer_features, default_as_of, parse_as_of
    from .ingest import open_data
    from .pgsource import redacted
    from .schema import FEATURE_COLUMNS

    tick = progress or (lambda *_: None)
    state = Path(state)
    if state.exists() and not state.is_dir():
        raise InputError("exists and is not a directory", file=state)
    clock = {"start": time.monotonic()}
    durations: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.monotonic()
        durations[name] = round(now - clock.pop("start"), 2)
        clock["start"] = now

    with holding_lock(state):
        records = history(state)
        live = live_model(state, records)
        tick("loading data", 0, 5)
        with open_data(data, mapping, columns=FEATURE_COLUMNS) as ds:
            day = parse_as_of(as_of) if as_of is not None else default_as_of(ds)
            if live is not None and day < parse_as_of(live.as_of):
                raise InputError(f"`as_of`: {day} is before the live model's date {live.as_of}")
            statuses = tuple(live.statuses) if live is not None else tuple(settings.statuses)
            table = customer_features(ds, day, statuses)
            if table.empty:
                raise InputError(f"no customer has a counted order before {day}")
            lap("load")
            tick("deciding", 1, 5)
            if live is None:
                verdict = {"retrain": True, "verdict": "first", "reasons": ["no model yet"]}
            else:
                verdict = decision(live, ds, day, table, replace(settings, statuses=statuses))
            lap("decide")
            contract = None
            model = live
            if verdict["retrain"]:
                tick("fitting", 2, 5)
                model = _fit(table, day, replace(settings, statuses=statuses), previous=live)
                lap("fit")
                if live is None and settings.backtest:
                    tick("backtest (the contract)", 2, 5)
                    contract = _contract(ds, day, settings)
                    lap("backtest")
        tick("assigning", 3, 5)
        assignment = model.assign_features(table)
        moved = _moved(live, assignment, table) if verdict["retrain"] and live is not None else None
        lap("assign")
        version = next_version(state) if verdict["retrain"] else records[-1]["model"]["version"]
        model_file = f"{MODELS}/{version:04d}.json"
        record = {
            "format": HISTORY_FORMAT,
            "run": len(records) + 1,
            "as_of": day.isoformat(),
            "data": redacted(str(data)) if isinstance(data, str) else str(data),
            "decision": verdict,
            "retrained": bool(verdict["retrain"]),
            "model": {"version": version, "file": model_file, "as_of": model.as_of, "k": model.k,
                      "previous_version": records[-1]["model"]["version"] if records else None},
            "customers": len(assignment),
            "outliers": int(assignment["outlier"].sum()),
            "segments": {str(s["id"]): s["name"] for s in model.segments},
            "shares": _shares(assignment, model),
            "moved": moved,
            "target": None,
            "contract": _contract_summary(contract),
            "durations": durations,
        }
        tick("writing", 4, 5)
        if to is not None:
            from .pgtarget import Target, write_assignments

            record["target"] = Target.parse(to).shown
        stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=state))
        try:
            renames = _write_stage(stage, record, model if verdict["retrain"] else None, assignment, contract, records)
            if to is not None:  # after staging (a full disk fails first), before the commit
                write_assignments(to, assignment, f"{version:04d}", day)
            _commit(state, stage, renames)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        tick("done", 5, 5)
        return record


def _contract(ds, day: date, settings: UpdateSettings) -> dict:
    """The stability backtest on the data before ``day`` (the contract), or why there is none.

    Too little history for a backtest (it needs a year before its reference date) is not a failed
    run: the record says so, with the dates (:func:`custseg.stability.short_history`), and the
    monitor's triggers still apply; nor is data the backtest refuses otherwise (its problem kept).
    """
    from .stability import BacktestSettings, backtest, short_history

    backtest_settings = BacktestSettings(until=day, window=settings.window, seed=settings.seed,
                                         statuses=settings.statuses, seeds=settings.seeds, measure_cost=False,
                                         keep_labels=False)
    why = short_history(ds, backtest_settings)
    if why is not None:
        return {"format": SKIPPED_FORMAT, "skipped": "short_history", **asdict(why)}
    try:
        return backtest(ds, backtest_settings).result
    except InputError as exc:
        return {"format": SKIPPED_FORMAT, "skipped": "refused", "problem": exc.message}


def _contract_summary(contract: dict | None) -> dict | None:
    """What the first run's backtest predicted: the re-train interval, or why there is none."""
    if contract is None:
        return None
    if "skipped" in contract:
        return {key: value for key, value in contract.items() if key != "format"}
    terms = contract["contract"]
    return {"file": CONTRACT, "retrain_every_days": terms.get("retrain_every_days"),
            "stable_over_horizon": terms.get("stable_over_horizon"), "verdict": terms.get("verdict"),
            "retrain_by": terms.get("retrain_by"),
            "horizon": contract["recommendation"]["horizon"]}


def _write_stage(stage: Path, record: dict, model, assignment: pd.DataFrame, contract: dict | None,
            records: list[dict]) -> list[tuple[str, str]]:
    """Write the run's files into ``stage``; the (staged, final) renames that commit them."""
    renames = []
    if model is not None:
        model.save(stage / "model.json")
        renames.append(("model.json", record["model"]["file"]))
    if contract is not None:
        write_json(contract, stage / CONTRACT)
        renames.append((CONTRACT, CONTRACT))
    write_table(assignment, stage / SEGMENTS)
    renames.append((SEGMENTS, SEGMENTS))
    write_json({"format": LIVE_FORMAT, **record["model"], "since_run": record["run"]}, stage / LIVE)
    renames.append((LIVE, LIVE))
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records + [record]]
    (stage / HISTORY).write_text("\n".join(lines) + "\n", encoding="utf-8")
    renames.append((HISTORY, HISTORY))
    return renames


# ---------------------------------------------------------------------------------------------
# The timeline
# ---------------------------------------------------------------------------------------------

def timeline(records: list[dict]) -> pd.DataFrame:
    """One row per run: date, version, what was decided and why, customers, moved, shares."""
    from .stability.views import reason_text

    rows = []
    for r in records:
        decided = r["decision"]
        what = ("first fit" if decided.get("verdict") == "first" else "re-trained" if r["retrained"] else "kept")
        rows.append({"run": r["run"], "as_of": r["as_of"], "version": r["model"]["version"], "decision": what,
                     "reasons": "; ".join(map(reason_text, decided.get("reasons", []))), "customers": r["customers"],
                     "moved": r["moved"], **{f"share {r['segments'].get(i, i)}": s for i, s in r["shares"].items()}})
    return pd.DataFrame(rows)


def share_series(records: list[dict]) -> pd.DataFrame:
    """Long table: as_of, segment id, segment name, share (for the report's chart)."""
    rows = [{"as_of": r["as_of"], "segment_id": int(i), "segment": r["segments"].get(i, f"segment {i}"), "share": s}
            for r in records for i, s in r["shares"].items()]
    return pd.DataFrame(rows, columns=["as_of", "segment_id", "segment", "share"])


def retrain_count(records: list[dict]) -> int:
    """Re-trains after the first fit."""
    return sum(1 for r in records if r["retrained"] and r["model"]["previous_version"] is not None)
