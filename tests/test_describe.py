"""Segment descriptions: names that reflect planted traits, unique names, faithful rules, determinism."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from custseg.describe import (
    UNASSIGNED_NAME,
    compose_name,
    describe_segments,
    describe_table,
    to_json,
    to_markdown,
)
from custseg.errors import InputError
from custseg.views.segments import rich_view

FEATURES = [
    "recency_days", "frequency", "monetary", "mean_basket", "review_score_mean", "late_share",
    "lateness_days_mean", "installments_mean", "freight_share", "n_categories",
]
GROUP_SIZE = 150


def _base(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    basket = rng.normal(100, 15, n).clip(20)
    recency = rng.normal(200, 40, n).clip(1)
    return {
        "recency_days": recency,
        "frequency": np.ones(n, dtype=int),
        "monetary": basket,
        "mean_basket": basket,
        "review_score_mean": rng.choice([4.0, 5.0], n),
        "late_share": np.zeros(n),
        "lateness_days_mean": rng.normal(-10, 2, n),
        "installments_mean": rng.integers(1, 4, n).astype(float),
        "freight_share": rng.normal(0.2, 0.03, n),
        "n_categories": np.ones(n, dtype=int),
        "main_category": rng.choice(["bed_bath_table", "health_beauty"], n),
        "main_payment_type": np.full(n, "credit_card"),
        "customer_state": rng.choice(["SP", "RJ"], n),
        "tenure_days": recency,
    }


def planted() -> tuple[pd.DataFrame, np.ndarray]:
    """Four clearly separated groups: big spenders, late & unhappy, dormant, installment payers."""
    rng = np.random.default_rng(7)
    groups = []
    for label in range(4):
        g = _base(rng, GROUP_SIZE)
        if label == 0:
            g["monetary"] = g["mean_basket"] = rng.normal(900, 80, GROUP_SIZE)
            g["review_score_mean"] = np.full(GROUP_SIZE, 5.0)
        elif label == 1:
            g["late_share"] = np.ones(GROUP_SIZE)
            g["lateness_days_mean"] = rng.normal(12, 3, GROUP_SIZE)
            g["review_score_mean"] = rng.choice([1.0, 2.0], GROUP_SIZE)
        elif label == 2:
            g["recency_days"] = g["tenure_days"] = rng.normal(600, 30, GROUP_SIZE)
        else:
            g["installments_mean"] = rng.integers(9, 12, GROUP_SIZE).astype(float)
        groups.append(pd.DataFrame(g))
    df = pd.concat(groups, ignore_index=True)
    df.insert(0, "customer_unique_id", [f"c{i:04d}" for i in range(len(df))])
    # Customers without a review or a delivery: NaN, as in the feature table.
    no_review = rng.random(len(df)) < 0.05
    df.loc[no_review, "review_score_mean"] = np.nan
    df.loc[rng.random(len(df)) < 0.02, ["late_share", "lateness_days_mean"]] = np.nan
    return df, np.repeat(np.arange(4), GROUP_SIZE)


@pytest.fixture(scope="module")
def described() -> list[dict]:
    df, labels = planted()
    return describe_segments(df, labels, FEATURES)


def test_one_dict_per_segment_in_id_order_with_the_agreed_keys(described):
    assert [s["id"] for s in described] == [0, 1, 2, 3]
    for s in described:
        assert {"id", "size", "share", "name", "description", "actions", "profile", "distinguishing",
                "rules", "fidelity"} <= set(s)
        assert s["size"] == GROUP_SIZE and s["share"] == pytest.approx(0.25)
        assert 2 <= len(s["actions"]) <= 3
        entry = s["profile"]["numeric"]["mean_basket"]
        assert {"mean", "median", "population_mean", "population_median", "std_diff"} <= set(entry)
        assert set(s["profile"]["categorical"]) == {"main_category", "main_payment_type", "customer_state"}
    json.dumps(described, allow_nan=False)  # plain JSON: NaN became None


def test_names_reflect_the_planted_traits(described):
    names = [s["name"].lower() for s in described]
    assert "spender" in names[0]
    assert "late" in names[1] and "unhappy" in names[1]
    assert "dormant" in names[2]
    assert "installment" in names[3]
    assert described[0]["distinguishing"][0]["feature"] in {"monetary", "mean_basket"}
    assert described[0]["distinguishing"][0]["direction"] == "higher"
    assert described[2]["distinguishing"][0]["feature"] == "recency_days"


def test_actions_follow_the_traits(described):
    assert any("Service recovery" in a for a in described[1]["actions"])
    assert any("VIP" in a for a in described[0]["actions"])
    assert any("Win-back" in a for a in described[2]["actions"])
    assert any("installment" in a for a in described[3]["actions"])


def test_description_gives_size_and_key_numbers(described):
    text = described[1]["description"].lower()
    assert "150 customers (25.0% of all)" in text
    assert "mean share of deliveries late" in text and "mean review score" in text and "median basket" in text


def test_rules_are_readable_and_faithful_for_separated_groups(described):
    for s in described:
        assert s["rules"], s["name"]
        assert s["fidelity"]["accuracy"] > 0.9, (s["name"], s["rules"], s["fidelity"])
        assert s["fidelity"]["recall"] > 0.9 and s["fidelity"]["precision"] > 0.8
    assert any("total spend" in r or "basket value" in r for r in described[0]["rules"])
    assert any("payment installments" in r for r in described[3]["rules"])
    # rules read in words and the card's units, never as field names or fractions
    for r in (r for s in described for r in s["rules"]):
        assert "_" not in r and not any(op in r for op in ("<=", ">=", " > ", " < ")), r


def test_integer_features_get_integer_bounds():
    df, labels = planted()
    repeat = np.arange(len(df)) % 4 == 0
    df.loc[repeat, "frequency"] = 2
    segments = describe_segments(df, repeat.astype(int), FEATURES)
    assert segments[1]["rules"] == ["2 or more orders"]
    assert segments[1]["fidelity"]["accuracy"] == 1.0
    assert "repeat" in segments[1]["name"].lower()


def test_same_input_gives_identical_output():
    df, labels = planted()
    first = to_json(describe_segments(df, labels, FEATURES))
    assert to_json(describe_segments(df.copy(), labels.copy(), list(FEATURES))) == first


def test_look_alike_groups_get_distinct_names():
    df, labels = planted()
    # Split the dormant group in two halves that differ only slightly in basket value.
    dormant = np.flatnonzero(labels == 2)
    labels = labels.copy()
    labels[dormant[df.loc[dormant, "mean_basket"].to_numpy() > np.median(df.loc[dormant, "mean_basket"])]] = 4
    segments = describe_segments(df, labels, FEATURES)
    names = [s["name"] for s in segments]
    assert len(set(n.lower() for n in names)) == len(names), names
    assert all("dormant" in segments[i]["name"].lower() for i in (2, 4))


def test_identical_groups_are_numbered():
    df, labels = planted()
    labels = labels.copy()
    dormant = np.flatnonzero(labels == 2)
    labels[dormant[1::2]] = 4  # two random halves of one group: nothing tells them apart
    names = [s["name"] for s in describe_segments(df, labels, FEATURES)]
    assert len(set(names)) == len(names), names


def test_unassigned_group_is_described_as_its_own_group():
    df, labels = planted()
    labels = labels.copy()
    labels[::10] = -1
    segments = describe_segments(df, labels, FEATURES)
    assert [s["id"] for s in segments] == [-1, 0, 1, 2, 3]
    unassigned = segments[0]
    assert unassigned["name"] == UNASSIGNED_NAME
    assert unassigned["size"] == len(df[::10])
    assert "placed in no segment" in unassigned["description"]
    assert UNASSIGNED_NAME not in [s["name"] for s in segments[1:]]


def test_segment_without_any_review_gets_none_not_nan():
    df, labels = planted()
    df.loc[labels == 1, "review_score_mean"] = np.nan
    segments = describe_segments(df, labels, FEATURES)
    entry = segments[1]["profile"]["numeric"]["review_score_mean"]
    assert entry["mean"] is None and entry["std_diff"] is None and entry["missing_share"] == 1.0
    json.dumps(segments, allow_nan=False)


def test_missing_values_appear_in_rules_when_they_decide():
    df, labels = planted()
    df.loc[labels == 1, "late_share"] = np.nan  # the late group: no delivery known at all
    df.loc[labels == 1, "lateness_days_mean"] = np.nan
    df.loc[labels == 1, "review_score_mean"] = 5.0
    rules = describe_segments(df, labels, FEATURES)[1]["rules"]
    assert any("unknown" in r for r in rules), rules


def test_scaled_matrix_adds_model_space_differences():
    df, labels = planted()
    values = df[FEATURES].fillna(df[FEATURES].median())
    scaled = ((values - values.mean()) / values.std(ddof=0)).to_numpy()
    segments = describe_segments(df, labels, FEATURES, scaled=scaled)
    assert "model_std_diff" in segments[0]["profile"]["numeric"]["monetary"]
    assert "spender" in segments[0]["name"].lower()


def test_compose_name_orders_adjectives_noun_and_phrase():
    traits = [("recency_days", "lower", -1.0), ("review_score_mean", "higher", 0.8), ("mean_basket", "higher", 0.7)]
    assert compose_name(traits, "customers") == "Recent, satisfied big spenders"
    assert compose_name([("review_score_mean", "lower", -1), ("late_share", "higher", 1)], "one-timers") == (
        "Unhappy one-timers after late delivery"
    )
    assert compose_name([], "customers") == "Typical customers"


def test_missing_feature_column_is_an_input_error():
    df, labels = planted()
    with pytest.raises(InputError, match="column delivery_days_mean"):
        describe_segments(df, labels, FEATURES + ["delivery_days_mean"])


def test_views_show_every_segment(described):
    table = describe_table(described)
    assert list(table["id"]) == [0, 1, 2, 3] and list(table["name"]) == [s["name"] for s in described]
    markdown = to_markdown(described)
    assert all(s["name"] in markdown for s in described) and "**Suggested actions**" in markdown
    assert len(rich_view(described).renderables) == 4


def test_key_numbers_are_described_even_when_the_model_did_not_use_them():
    df, labels = planted()
    used = ["monetary", "installments_mean"]
    segments = describe_segments(df, labels, used)
    assert "review_score_mean" in segments[1]["profile"]["numeric"]
    assert "deliveries late" in segments[1]["description"]
    assert {t["feature"] for s in segments for t in s["distinguishing"]} <= set(used)
    assert all("total spend" in r or "payment installments" in r for s in segments for r in s["rules"])


def _saved_model(path, segments: list[dict]):
    """A minimal model file holding ``segments`` (the CLI only reads its segments)."""
    from custseg.model import RECORD_KEYS, FeatureTransform, Preprocessing, SegmentModel

    k = len(segments)
    record = {key: {} for key in RECORD_KEYS} | {"as_of": "2018-09-01", "statuses": ["delivered"]}
    model = SegmentModel(
        Preprocessing((FeatureTransform("monetary", "log1p", 100.0, 4.6, 0.8),)),
        centroids=np.arange(k, dtype=float).reshape(k, 1),
        thresholds=np.ones(k),
        segments=segments,
        record=record,
    )
    return model.save(path)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_cli_prints_the_segments_of_a_model(cli, tmp_path, described, fmt):
    path = _saved_model(tmp_path / "model.json", described)
    result = cli("describe", path, "--format", fmt)
    assert result.code == 0, result.stderr
    for s in described:
        assert s["name"] in result.stdout
    assert "Service recovery" in result.stdout and "accuracy" in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout) == json.loads(to_json(described))


def test_cli_refuses_a_damaged_model_file(cli, tmp_path, described):
    path = _saved_model(tmp_path / "model.json", described)
    path.write_text(path.read_text(encoding="utf-8")[:200], encoding="utf-8")
    result = cli("describe", path)
    assert result.code == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert cli("describe", path, "--format", "html").code == 2
