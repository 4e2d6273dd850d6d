"""The summary's verdict line says what the backtest decided: its date, interval and triggers."""
from __future__ import annotations

from custseg.summary import verdict_of
from custseg.views.summary import verdict_headline


def _result(verdict: str, first: dict | None, every: str | None) -> dict:
    return {"recommendation": {"verdict": verdict, "retrain_by": first and first["as_of"], "retrain_every": every,
                               "horizon": "2018-08-01", "first": first},
            "contract": {"retrain_by": "2019-03-01" if verdict == "retrain" else None}}


def test_retrain_line_names_the_deployed_date_the_first_flagged_step_and_its_triggers():
    first = {"as_of": "2018-03-01", "reasons": [{"trigger": "stale"}, {"trigger": "psi", "feature": "x"}]}
    line = verdict_headline(verdict_of(_result("retrain", first, "6M"), "2018-09-01"))
    assert line == ("Re-train by 2019-03-01 (every 6 months: the backtest first flagged 2018-03-01: "
                    "customers would change segment, a model feature drifted)")


def test_stable_and_unstable_lines_give_no_date_to_re_train():
    assert verdict_headline(verdict_of(_result("stable", None, None), "2018-09-01")) == (
        "Stable: no re-train due up to 2018-08-01")
    assert "re-training is not reliable" in verdict_headline(verdict_of(_result("unstable", None, None), "2018-09-01"))


def test_a_stable_verdict_speaks_of_the_deployed_model_not_of_the_backtest_dates():
    result = {**_result("stable", None, None), "protocol": {"reference_date": "2017-10-01"}}
    line = verdict_headline(verdict_of(result, "2018-10-18"))
    assert line == "Stable: no re-train was needed over the 10 months backtested; keep monitoring, review by 2019-08-18"


def test_no_backtest_says_why_history_or_customers():
    from custseg.summary import NoBacktest
    from custseg.views.summary import no_backtest_text

    short = no_backtest_text(NoBacktest("2016-09-01", "2017-06-25", "2017-09-01", "1M", 900, 20))
    assert "the counted purchases run from 2016-09-01 to 2017-06-25" in short and "at least 1 month" in short
    assert "No re-train interval is claimed" in short
    sparse = no_backtest_text(NoBacktest("2016-09-01", "2018-06-25", "2017-09-01", "1M", 12, 20))
    assert "only 12 customers had a counted order before 2017-09-01" in sparse and "it needs 20" in sparse
