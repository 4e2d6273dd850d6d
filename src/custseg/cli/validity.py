"""Commands on how long segments stay valid, and on running them: stability, monitor, update, history, run, demo."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..schema import LogMapping
from .boundary import MAX_SEED, QUIET, step_progress, app, console, err_console
from .options import AsOf, DataArg, data_command, output_option

#: The decision's trigger options, shared by stability, monitor and update.
ChangedShare = Annotated[float, typer.Option(
    "--changed-share", help="Trigger: a stale model is re-trained when at least this share of customers "
    "would change segment.")]
ReliableAri = Annotated[float, typer.Option(
    "--reliable-ari", help="Re-training is reliable when re-trains at a date agree at least this well (ARI).")]
PsiMax = Annotated[float, typer.Option("--psi-max", help="Trigger: PSI of a model feature above this.")]
SharePoints = Annotated[float, typer.Option(
    "--share-points", help="Trigger: a segment's share moving more than this many points.")]


@data_command("stability")
def stability_command(
    data: DataArg,
    output: Annotated[Path, output_option("The result file to write (JSON).")],
    start: Annotated[str | None, typer.Option(
        "--start", help="Reference date D0 YYYY-MM-DD, where the frozen model is fitted. "
        "Default: the first month-end with 12 months of counted purchases before it.")] = None,
    step: Annotated[str, typer.Option("--step", help="Time between comparisons: 1M, 2W, 14D, 1Y...")] = "1M",
    until: Annotated[str | None, typer.Option(
        "--until", help="Last comparison date YYYY-MM-DD. Default: the day after the last counted purchase.")] = None,
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the features at t: all (whole history) or a sliding window "
        "such as 12M (only orders purchased in [t - 12M, t)).")] = "all",
    k: Annotated[str, typer.Option(
        "--k", help="Number of segments, or auto (chosen at D0 by the fit's rule and then kept).")] = "auto",
    algorithm: Annotated[str, typer.Option("--algorithm", help="kmeans, gmm, ward, hdbscan or auto.")] = "kmeans",
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Smallest segment share the reference fit accepts (as in custseg fit).")] = 0.02,
    features: Annotated[str | None, typer.Option(
        "--features", help="Model features, comma-separated, or study (recency_days, monetary, "
        "review_score_mean, answer_days, mean_items, total_items). Default: the fit's.")] = None,
    n_init: Annotated[int | None, typer.Option(
        "--n-init", min=1, help="k-means starts per fit (default: the fit's); more starts, fewer local optima, "
        "a tighter noise floor, slower.")] = None,
    changed_share: ChangedShare = 0.05,
    reliable_ari: ReliableAri = 0.8,
    seeds: Annotated[int, typer.Option(
        "--seeds", min=2, help="Refits per date for the noise floor and the band: the re-trained model and "
        "N-1 bootstrap refits.")] = 5,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Random seed: same seed and data, same result.")] = 0,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Comma-separated order statuses that count as purchases.")] = "delivered",
    psi_max: PsiMax = 0.2,
    share_points: SharePoints = 5.0,
    save_model: Annotated[Path | None, typer.Option(
        "--save-model", help="Also write the frozen reference model (JSON), e.g. for custseg monitor.")] = None,
    labels: Annotated[Path | None, typer.Option(
        "--labels",
        help="Also write every step's frozen and re-trained segment per customer (.csv or .parquet).")] = None,
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

    Re-trained: the best of at least 10 starts; --seeds re-trains per date (the deployed one and
    bootstrap refits).

    Decision at each step (the one custseg monitor makes with the reference model): re-train when the
    frozen model is stale (agrees with re-trains measurably less than they agree with each other, a
    bootstrap test) and at least --changed-share of customers would change segment, or a segment's
    share moves more than --share-points, or a model feature's PSI exceeds --psi-max.

    Verdict: unstable (re-trains disagree at D0: no interval), retrain (every D0 to the first flagged
    step) or stable (no step flagged).

    Drift: PSI and Kolmogorov-Smirnov per feature, segment shares, migration matrix.
    """
    from .. import features as feats
    from ..errors import InputError
    from ..export import write_json, write_table
    from ..jobs import backtest_job
    from ..segment import parse_k
    from ..stability import BacktestSettings, contract_text, parse_features, parse_period, parse_window, step_table

    if labels is not None and labels.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("output must end in .csv or .parquet", file=labels)
    k_value = parse_k(k)
    settings = BacktestSettings(
        reference=feats.parse_as_of(start) if start else None, step=parse_period(step, "step"),
        until=feats.parse_as_of(until) if until else None, window=parse_window(window, "window"), k=k_value,
        algorithm=algorithm.strip().lower(), features=parse_features(features),
        changed_share=changed_share, reliable_ari=reliable_ari, seeds=seeds,
        seed=seed, statuses=feats.parse_statuses(statuses), psi_max=psi_max, share_points=share_points,
        measure_cost=cost, jobs=jobs, min_share=min_share, n_init=n_init, keep_labels=labels is not None,
    ).checked()
    with step_progress() as tick:
        run = backtest_job(data, settings, mapping=mapping, progress=tick)
    write_json(run.result, output)
    if save_model is not None:
        run.model.save(save_model)
    if labels is not None:
        write_table(run.labels, labels)
    console.print(step_table(run.result))
    console.print(contract_text(run.result, str(save_model) if save_model is not None else None), markup=False,
                  highlight=False, soft_wrap=True)
    written = [output] + [p for p in (save_model, labels) if p is not None]
    console.print("wrote " + ", ".join(map(str, written)), markup=False, highlight=False)


@data_command("monitor")
def monitor_command(
    model: Annotated[Path, typer.Argument(help="Segment model JSON (custseg fit, or custseg stability --save-model).")],
    data: DataArg,
    as_of: Annotated[str, typer.Option("--as-of", help="Date YYYY-MM-DD to check the model at (after its own).")],
    output: Annotated[Path | None, output_option("Also write the record (JSON).")] = None,
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the features: all, or a sliding window such as 12M (use the "
        "backtest's).")] = "all",
    changed_share: ChangedShare = 0.05,
    reliable_ari: ReliableAri = 0.8,
    psi_max: PsiMax = 0.2,
    share_points: SharePoints = 5.0,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains at the date (as the backtest's).")] = 5,
    mapping: LogMapping | None = None,
) -> None:
    """Check a saved model at a date: exit 0 when healthy, 3 when a re-train is due (all codes below).

    For a daily or weekly scheduler. The reference is the model's own as-of date, recomputed from DATA.

    Re-train is due when the model is stale (agrees with re-trains measurably less than they agree
    with each other) and at least --changed-share of customers would change segment, a model
    feature's PSI exceeds --psi-max, or a segment's share moves more than --share-points: the
    decision each step of custseg stability records.
    """
    from .. import features as feats
    from ..export import write_json
    from ..jobs import monitor_job
    from ..model import SegmentModel
    from ..monitor import Triggers, record_text
    from ..stability import parse_window

    day = feats.parse_as_of(as_of)
    triggers = Triggers(changed_share=changed_share, reliable_ari=reliable_ari, psi_max=psi_max,
                        share_points=share_points).checked()
    fitted = SegmentModel.load(model)
    with err_console.status("checking the model"):
        record = monitor_job(fitted, data, day, mapping=mapping, window=parse_window(window, "window"),
                             triggers=triggers,
                             seeds=seeds)
    if output is not None:
        write_json(record, output)
    console.print(record_text(record), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(record["exit_code"])


@data_command("update")
def update_command(
    data: DataArg,
    state: Annotated[Path, typer.Option("--state", help="State directory: model versions, history, last assignment "
                                        "(created if missing).")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Date YYYY-MM-DD of this run (default: the day after the latest purchase).")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="Also write every customer's segment to PostgreSQL in one transaction: "
        "postgresql://user@host/db?table=customer_segments.")] = None,
    k: Annotated[str, typer.Option("--k", help="Segments of a new model, or auto (first fit and re-trains).")] = "auto",
    algorithm: Annotated[str, typer.Option("--algorithm", help="auto, kmeans, gmm, ward or hdbscan.")] = "auto",
    statuses: Annotated[str, typer.Option(
        "--statuses",
        help="Order statuses that count as purchases (first fit; later runs keep the model's).")] = "delivered",
    window: Annotated[str, typer.Option(
        "--window", help="Orders behind the decision's features: all, or a sliding window such as 12M.")] = "all",
    changed_share: ChangedShare = 0.05,
    reliable_ari: ReliableAri = 0.8,
    psi_max: PsiMax = 0.2,
    share_points: SharePoints = 5.0,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains at the date behind the decision.")] = 5,
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
    from .. import features as feats
    from ..monitor import Triggers
    from ..operate import UpdateSettings, update
    from ..stability import parse_window

    settings = UpdateSettings(
        k=k, algorithm=algorithm, seed=seed, statuses=feats.parse_statuses(statuses),
        window=parse_window(window, "window"),
        triggers=Triggers(changed_share=changed_share, reliable_ari=reliable_ari, psi_max=psi_max,
                          share_points=share_points).checked(), seeds=seeds, backtest=backtest,
        fit_options={"n_jobs": jobs})
    with step_progress() as tick:
        record = update(data, state, as_of=feats.parse_as_of(as_of) if as_of else None, mapping=mapping, to=to,
                        settings=settings, progress=tick)
    _print_update(record, state)


def _print_update(record: dict, state: Path) -> None:
    from rich.table import Table

    from ..stability.views import reason_text

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
        console.print(f"  reason: {reason_text(reason)}", markup=False, highlight=False, soft_wrap=True)
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
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the records (JSON list).")] = None,
) -> None:
    """Print the timeline of custseg update runs: dates, model versions, decisions and reasons, shares."""
    from rich.table import Table

    from ..errors import InputError
    from ..export import write_json
    from ..operate import history, retrain_count
    from ..stability.views import reason_text

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
            console.print(f"run {r['run']} ({r['as_of']}) re-trained: {reason_text(reason)}", markup=False,
                          highlight=False,
                          soft_wrap=True)
    if json_file is not None:
        write_json(records, json_file)
        console.print(f"wrote {json_file}", markup=False, highlight=False)


@data_command("run")
def run_command(
    data: DataArg,
    output: Annotated[Path, output_option("Directory for every output (created if missing).")],
    as_of: AsOf = None,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or auto (chosen with evidence).")] = "auto",
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="auto, kmeans, gmm, ward or hdbscan.")] = "auto",
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Random seed: same data and seed, same outputs.")] = 0,
    statuses: Annotated[str, typer.Option(
        "--statuses", help="Order statuses that count as purchases, comma-separated.")] = "delivered",
    stability: Annotated[bool, typer.Option(
        "--stability/--no-stability", help="Run the stability backtest (the slowest step).")] = True,
    step: Annotated[str, typer.Option("--step", help="Backtest step: 1M, 2W, ...")] = "1M",
    window: Annotated[str, typer.Option("--window", help="Backtest feature window: all, or e.g. 12M.")] = "all",
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Re-trains per backtest date (as stability's).")] = 5,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Currency of the amounts, a code or a symbol (BRL, USD, $, €); "
        "default: BRL for an Olist export, none for a transaction log.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    mapping: LogMapping | None = None,
) -> None:
    """Everything in one go: validate, features, RFM, fit, assign, stability and the HTML report.

    Writes into OUTPUT: validation.json, features.parquet, rfm.csv, model.json, segments.csv,
    stability.json and report.html. A failed run leaves OUTPUT's previous files as they were.
    """
    from .. import features as feats
    from ..pipeline import run
    from ..stability import BacktestSettings, parse_period, parse_window

    settings = BacktestSettings(step=parse_period(step, "step"), window=parse_window(window, "window"), seeds=seeds)
    QUIET["on"] = QUIET["on"] or quiet
    with step_progress() as tick:
        result = run(data, output, as_of=feats.parse_as_of(as_of) if as_of else None, k=k, algorithm=algorithm,
                     seed=seed, statuses=feats.parse_statuses(statuses), stability=settings if stability else None,
                     mapping=mapping, progress=tick, currency=currency)
    _print_run_summary(result)


def _print_run_summary(result) -> None:
    """The files written, then the summary in a few short lines (the same as the report's)."""
    from ..views.summary import summary_lines

    for name, path in result.files.items():
        console.print(f"  {name:<15} {path}", markup=False, highlight=False)
    for line in summary_lines(result.summary, result.money, str(result.files["report"].resolve())):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Argument(
        help="Directory for the generated data and every output.")] = Path("demo-output"),
    customers: Annotated[int, typer.Option("--customers", help="Synthetic customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Random seed of the synthetic data and the models.")] = 42,
    drift_month: Annotated[int | None, typer.Option(
        "--drift-month", help="Plant a change of behaviour from this month (see synth --help); 0 for none.")] = 18,
) -> None:
    """The main job on built-in synthetic data: synth, then run (validate ... report).

    Generates Olist-format data with planted personas (and, by default, a change of behaviour
    from month 18, which the stability analysis should catch) into OUTPUT/data, then runs every
    step into OUTPUT/results and prints where the report is.
    """
    from ..pipeline import run
    from ..stability import BacktestSettings
    from ..synth import generate

    data_dir = output / "data"
    with step_progress() as tick:
        tick("generating synthetic data", 0, customers)
        summary = generate(data_dir, customers=customers, seed=seed, drift_month=drift_month or None,
                           progress=lambda done: tick("generating synthetic data", done, customers))
    console.print(f"synthetic data: {summary.orders:,} orders of {summary.customers:,} customers, "
                  f"{summary.start} to {summary.end}, in {data_dir}", markup=False, highlight=False)
    with step_progress() as tick:
        result = run(data_dir, output / "results", seed=seed, stability=BacktestSettings(), progress=tick)
    _print_run_summary(result)
