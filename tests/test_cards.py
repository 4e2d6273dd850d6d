"""Segment cards say only what is true: checked against planted personas and against the data.

A word in a segment's name or an action is a claim about its customers ("late delivery": most of
them had one); every number says which statistic it is; a transaction log's report says nothing
about reviews, deliveries or categories and speaks the currency it is given.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from custseg.features import customer_features, default_as_of
from custseg.ingest import load, open_data
from custseg.report import build_report
from custseg.schema import LogMapping
from custseg.segment import fit
from report_inputs import FAST_SEARCH


def _median(col):
    return lambda f: f[col] > f[col].median(), lambda f: f[col] < f[col].median()


_BASKET_UP, _BASKET_DOWN = _median("mean_basket")
_FREIGHT_UP, _FREIGHT_DOWN = _median("freight_share")
_RECENCY_UP, _RECENCY_DOWN = _median("recency_days")
_LATE_UP, _LATE_DOWN = _median("lateness_days_mean")

#: What each word of a name claims about a customer, written here independently of custseg's code.
CLAIMS = {
    "late delivery": lambda f: f["late_share"] > 0,
    "unhappy": lambda f: f["review_score_mean"] <= 3,
    "satisfied": lambda f: f["review_score_mean"] >= 4,
    "one-timers": lambda f: f["frequency"] == 1,
    "one-time": lambda f: f["frequency"] == 1,
    "repeat buyers": lambda f: f["frequency"] >= 2,
    "frequent": lambda f: f["frequency"] >= 2,
    "installment": lambda f: f["installments_mean"] > 1,
    "upfront": lambda f: f["installments_mean"] <= 1,
    "big-basket": _BASKET_UP, "big spenders": _BASKET_UP,
    "small-basket": _BASKET_DOWN,
    "freight-heavy": _FREIGHT_UP, "low-freight": _FREIGHT_DOWN,
    "dormant": _RECENCY_UP, "recent": _RECENCY_DOWN,
    "early-delivery": _LATE_DOWN,
}


@pytest.fixture(scope="module")
def fitted(synth_dir):
    as_of = default_as_of(load(synth_dir))
    table = customer_features(load(synth_dir), as_of)
    model = fit(table, as_of, k=5, algorithm="kmeans", **FAST_SEARCH)
    truth = pd.read_csv(synth_dir / "truth.csv", dtype=str).set_index("customer_unique_id")["persona"]
    return model, table, model.assignment_["segment_id"].to_numpy(), truth.reindex(table["customer_unique_id"]).to_numpy()


def test_every_word_of_every_name_holds_for_most_of_its_segment(fitted):
    model, table, labels, _ = fitted
    checked = 0
    for segment in model.segments:
        members = table[labels == segment["id"]]
        name = segment["name"].lower()
        for word, claim in CLAIMS.items():
            if word in name:
                share = float(claim(table)[labels == segment["id"]].mean())
                assert share > 0.5, f"{segment['name']!r}: {word!r} holds for {share:.0%} of {len(members)}"
                checked += 1
    assert checked >= 2 * model.k  # names do carry claims


def test_names_follow_the_planted_personas(fitted):
    model, _, labels, persona = fitted
    by_persona = pd.crosstab(persona, labels)
    home = {p: int(by_persona.loc[p].idxmax()) for p in by_persona.index}
    names = dict(zip(model.ids, (n.lower() for n in model.names)))
    assert "unhappy" in names[home["unhappy_late"]] and "late delivery" in names[home["unhappy_late"]]
    assert "repeat" in names[home["frequent_small_buyer"]] or "frequent" in names[home["frequent_small_buyer"]]
    assert "installment" in names[home["installment_bargain_hunter"]]
    assert "big" in names[home["satisfied_big_spender"]]


def test_actions_rest_on_traits_that_hold(fitted):
    model, table, labels, _ = fitted
    for segment in model.segments:
        mask = labels == segment["id"]
        if any("Service recovery" in a or "delivery promises" in a for a in segment["actions"]):
            assert (table["late_share"][mask] > 0).mean() > 0.5, segment["name"]
        if any("Reward repeat" in a for a in segment["actions"]):
            assert (table["frequency"][mask] >= 2).mean() > 0.5, segment["name"]
        if any("poor review" in a for a in segment["actions"]):
            assert (table["review_score_mean"][mask] <= 3).mean() > 0.5, segment["name"]


def test_every_number_says_which_statistic_it_is(fitted):
    model = fitted[0]
    for segment in model.segments:
        facts = segment["description"].split(". ")[1]  # the key numbers, after the size
        for fact in facts.split("; "):
            assert re.match(r"(median|mean) ", fact.lower()), fact
        for trait in segment["description"].split("stand out by ")[1].split("; "):
            assert ": mean " in trait and "(all customers: mean " in trait, trait
        assert not any("_" in rule for rule in segment["rules"])  # words, not field names


@pytest.fixture(scope="module")
def log_report(synth_dir, tmp_path_factory):
    """A report on a transaction log made of the synthetic orders, in US dollars."""
    tmp = tmp_path_factory.mktemp("log_report")
    orders = pd.read_csv(synth_dir / "olist_orders_dataset.csv", dtype=str)
    customers = pd.read_csv(synth_dir / "olist_customers_dataset.csv", dtype=str)
    payments = pd.read_csv(synth_dir / "olist_order_payments_dataset.csv", dtype={"order_id": str})
    paid = payments.groupby("order_id", as_index=False)["payment_value"].sum()
    log = (orders[orders["order_status"] == "delivered"].merge(customers, on="customer_id").merge(paid, on="order_id"))
    log = pd.DataFrame({"client": log["customer_unique_id"], "day": log["order_purchase_timestamp"].str[:10],
                        "paid": log["payment_value"].round(2)})
    log.to_csv(tmp / "log.csv", index=False)
    mapping = LogMapping(customer_col="client", date_col="day", amount_col="paid")
    ds = open_data(tmp / "log.csv", mapping)
    as_of = default_as_of(ds)
    model = fit(customer_features(ds, as_of), as_of, k=3, algorithm="kmeans", **FAST_SEARCH)
    ds.con.close()
    path = build_report(tmp / "log.csv", tmp / "report.html", model=model, mapping=mapping, currency="USD")
    return path.read_text(encoding="utf-8"), model


def test_a_log_report_says_nothing_a_log_cannot_know_and_uses_the_currency_given(log_report):
    page, model = log_report
    from plotly.offline import get_plotlyjs

    text = page.replace(get_plotlyjs(), "").replace('"type":"category"', "").lower()  # Plotly's axis type
    found = re.findall(r"\b(reviews?|reviewed|deliver\w*|categor\w*|freight|late|installments?)\b", text)
    assert not found, f"{sorted(set(found))} in a transaction log's report"
    assert "r$" not in text and "$ " in text
    for segment in model.segments:
        assert not {"review_score_mean", "late_share"} - set(segment["unknown_features"])


def test_a_bad_currency_is_refused_in_one_line(cli, synth_dir, tmp_path):
    result = cli("run", synth_dir, "-o", tmp_path / "out", "--currency", "12 dollars")
    assert result.code == 2 and "currency" in result.stderr and not (tmp_path / "out").exists()
