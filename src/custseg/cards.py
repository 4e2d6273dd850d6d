"""Segment texts in a reader's words and units: key numbers, traits and rules.

Every number says what it is: which statistic (median or mean), its unit (days, %, orders) and,
for money, the currency. Rules read in the same words and units as the text ("freight share of
the bill over 25%", "3 or more orders"), never as field names and fractions. A feature the data
cannot know (a transaction log has no reviews, deliveries or categories) is never mentioned.
The texts are rendered from the numbers of :func:`custseg.describe.describe_segments`, so that
any view (report, terminal, Markdown) can render them again in another currency.
"""
from __future__ import annotations

import math

from .currency import Money

#: Plain labels for numbers in descriptions.
LABELS: dict[str, str] = {
    "recency_days": "time since last purchase",
    "tenure_days": "time since first purchase",
    "frequency": "orders",
    "monetary": "total spend",
    "mean_basket": "basket value",
    "mean_items": "items per order",
    "total_items": "items bought",
    "review_score_mean": "review score",
    "review_share": "share of orders reviewed",
    "answer_days": "time to answer a review survey",
    "delivery_days_mean": "delivery time",
    "lateness_days_mean": "delivery vs. promised date",
    "late_share": "share of deliveries late",
    "installments_mean": "payment installments",
    "freight_share": "freight share of the bill",
    "n_categories": "categories bought",
}
MONEY = {"monetary", "mean_basket"}
SHARES = {"review_share", "late_share", "freight_share"}
DAYS = {"recency_days", "tenure_days", "delivery_days_mean", "answer_days"}
#: Signed days: negative is early, positive late.
LATENESS = {"lateness_days_mean"}
#: Features that only an Olist export can know: reviews, deliveries, categories.
ONLY_OLIST = {"review_score_mean", "review_share", "answer_days", "delivery_days_mean", "lateness_days_mean",
              "late_share", "n_categories"}

#: Key numbers every description gives (segment vs all), when the data knows them: (feature, statistic).
KEY_FACTS = (
    ("mean_basket", "median"),
    ("frequency", "mean"),
    ("review_score_mean", "mean"),
    ("late_share", "mean"),
    ("recency_days", "median"),
)


def label(feature: str) -> str:
    """The plain words for ``feature``."""
    return LABELS.get(feature, feature.replace("_", " "))


def _number(value: float) -> str:
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_text(feature: str, value: float | None, money: Money) -> str:
    """A number as a marketer reads it: money in the currency, % for shares, days, early/late."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if feature in MONEY:
        return money.amount(value, 0 if abs(value) >= 100 else 2)
    if feature in SHARES:
        return f"{value:.0%}"
    if feature in LATENESS:
        days = abs(value)
        if days < 0.5:
            return "on the promised date"
        return f"{_number(days)} day{'' if _number(days) == '1' else 's'} {'late' if value > 0 else 'early'}"
    if feature in DAYS:
        return f"{_number(value)} days"
    if feature == "review_score_mean":
        return f"{value:.1f} of 5"
    return _number(value)


def fact_text(feature: str, stat: str, entry: dict, money: Money) -> str:
    """``median basket value R$ 85 (all customers: R$ 102)``: statistic, label, value, population."""
    own = value_text(feature, entry[stat], money)
    whole = value_text(feature, entry[f"population_{stat}"], money)
    return f"{stat} {label(feature)} {own} (all customers: {whole})"


def key_facts(profile: dict[str, dict], known: set[str], money: Money) -> list[str]:
    """The key numbers of a segment that the data knows, each labelled with its statistic."""
    return [fact_text(f, stat, profile[f], money) for f, stat in KEY_FACTS
            if f in profile and f in known and profile[f][stat] is not None]


#: How a direction reads for signed features ("higher delivery vs. promised date" would not).
DIRECTION_WORDS = {("lateness_days_mean", "higher"): "later delivery than promised",
                   ("lateness_days_mean", "lower"): "earlier delivery than promised"}


def trait_name(feature: str, direction: str) -> str:
    """``higher basket value``, ``later delivery than promised``."""
    return DIRECTION_WORDS.get((feature, direction), f"{direction} {label(feature)}")


def trait_text(trait: dict, money: Money) -> str:
    """``higher basket value: mean R$ 1,044 (all customers: mean R$ 256)``."""
    name = trait_name(trait["feature"], trait["direction"])
    return (f"{name}: mean {value_text(trait['feature'], trait['mean'], money)} "
            f"(all customers: mean {value_text(trait['feature'], trait['population_mean'], money)})")


# ---------------------------------------------------------------------------------------------
# Rules


def _count_words(feature: str, low: int | None, high: int | None) -> str:
    noun = label(feature)
    if low is not None and low == high:
        return f"exactly {low} {noun}"
    if low is not None and high is not None:
        return f"{low} to {high} {noun}"
    return f"{low} or more {noun}" if low is not None else f"at most {high} {noun}"


#: How a rule's bounds on a measured feature read: (both bounds, lower only, upper only). Lateness
#: speaks of delivery, every other feature of its name.
BOUND_WORDS: dict[bool, tuple[str, str, str]] = {
    True: ("delivered between {low} and {high} on average", "delivered later than {low} on average",
           "delivered {high} or earlier on average"),
    False: ("{name} over {low} and at most {high}", "{name} over {low}", "{name} at most {high}"),
}


def _bound_words(feature: str, low: float | None, high: float | None, money: Money) -> str:
    both, above, below = BOUND_WORDS[feature in LATENESS]
    assert low is not None or high is not None  # a rule has a bound
    template = both if low is not None and high is not None else above if low is not None else below
    return template.format(name=label(feature), low=None if low is None else value_text(feature, low, money),
                           high=None if high is None else value_text(feature, high, money))


def condition_text(cond: dict, money: Money) -> str:
    """One condition of a rule in words: ``3 or more orders``, ``freight share of the bill over 25%``.

    ``cond`` holds ``feature``, ``low`` (exclusive) and ``high`` (inclusive) bounds (None when
    open), ``integer`` (the feature takes whole values: bounds become inclusive whole numbers),
    ``missing`` (customers without the value match too) and ``only_missing``.
    """
    feature, low, high = cond["feature"], cond.get("low"), cond.get("high")
    if cond.get("only_missing"):
        return f"{label(feature)} unknown"
    if low is None and high is None:
        return f"{label(feature)} known" if not cond.get("missing") else ""
    if cond.get("integer"):
        low_i = None if low is None else math.floor(low) + 1
        high_i = None if high is None else math.floor(high)
        text = _count_words(feature, low_i, high_i)
    else:
        text = _bound_words(feature, low, high, money)
    return f"{text} (or unknown)" if cond.get("missing") else text


def rule_text(conditions: list[dict], money: Money) -> str:
    """A rule (all of its conditions) in words."""
    parts = [t for t in (condition_text(c, money) for c in conditions) if t]
    return " and ".join(parts) or "all customers"
