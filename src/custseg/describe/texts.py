"""Segment texts: the description paragraph, the suggested actions, and both rendered in a currency."""
from __future__ import annotations

from collections.abc import Set as AbstractSet

from ..cards import key_facts, rule_text, trait_text
from ..currency import Money
from .names import CLAIM_MIN, NAME_MIN
from .profiles import UNASSIGNED, trait_effect

#: Names a suggested action's condition may use for a group of features: any of them will do.
TRAIT_GROUPS: dict[str, tuple[str, ...]] = {
    "delivery": ("late_share", "lateness_days_mean", "delivery_days_mean"),
    "spend": ("mean_basket", "monetary"),
    "review": ("review_score_mean",),
}

#: Suggested actions, most specific first. Each holds when all of its traits do: a feature or a
#: group of :data:`TRAIT_GROUPS`, ``+`` for higher than all customers, ``-`` for lower.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("delivery+ review-", "Service recovery: apology voucher and proactive delivery updates on the next order"),
    ("spend+ review+", "VIP / loyalty programme with early access to new products"),
    ("recency_days+", "Win-back campaign: personalised reminder with a time-limited discount"),
    ("installments_mean+", "Promote interest-free installment offers on higher-priced items"),
    ("review-", "Follow up on the poor review: ask what went wrong and offer a fix"),
    ("delivery+", "Set realistic delivery promises and send proactive tracking updates"),
    ("frequency+", "Reward repeat purchases: loyalty points and replenishment reminders"),
    ("recency_days-", "Second-purchase journey: recommendations based on the first order, within 30 days"),
    ("spend+", "Premium cross-sell: higher-end products in their favourite categories"),
    ("spend-", "Bundles and free-shipping thresholds to raise the basket value"),
    ("freight_share+", "Free or discounted shipping offers; favour sellers close to them"),
    ("n_categories+", "Cross-category recommendations and marketplace-wide promotions"),
    ("review+", "Ask for reviews and referrals while they are happy"),
)


def action_holds(condition: str, present: AbstractSet[tuple[str, str]]) -> bool:
    """Whether every trait of an :data:`ACTIONS` condition is among ``present`` (feature, direction) pairs."""
    return all(
        any((feature, "higher" if trait[-1] == "+" else "lower") in present
            for feature in TRAIT_GROUPS.get(trait[:-1], (trait[:-1],)))
        for trait in condition.split()
    )


UNASSIGNED_ACTIONS = [
    "Keep them in broad, untargeted campaigns rather than segment-specific offers",
    "Watch this group at each re-fit: a growing unassigned share means the segments are drifting",
]


# ---------------------------------------------------------------------------------------------
# Descriptions and actions


def unknown_features(population: dict[str, dict[str, float]], categorical: dict) -> set[str]:
    """Columns the data cannot know: numbers missing or constant for everyone (a transaction log
    has no reviews or deliveries), text columns that are "unknown" for everyone (no categories)."""
    numeric = {name for name, stats in population.items()
               if ":" not in name and (stats["missing"] >= 1 or not stats["std"] > 0)}
    text = {name for name, (_, shares) in categorical.items() if set(shares[shares > 0].index) <= {"unknown"}}
    return numeric | text


def describe_text(segment: dict, money: Money = Money()) -> str:
    """One paragraph in plain words with the segment's key numbers, each labelled."""
    seg_id, profile = segment["id"], segment["profile"]
    unknown = set(segment.get("unknown_features", []))
    lead = (
        f"{segment['size']:,} customers ({segment['share']:.1%} of all) that the model placed in no segment."
        if seg_id == UNASSIGNED
        else f"{segment['size']:,} customers ({segment['share']:.1%} of all)."
    )
    sentences = [lead]
    known = set(profile["numeric"]) - unknown
    facts = "; ".join(key_facts(profile["numeric"], known, money))
    if facts:
        sentences.append(facts[0].upper() + facts[1:] + ".")
    traits = [t for t in segment["distinguishing"] if t["feature"] not in unknown][:3]
    if traits:
        sentences.append("Compared with all customers they stand out by " + "; ".join(trait_text(t, money)
                                                                                      for t in traits) + ".")
    else:
        sentences.append("They look much like the customer base as a whole.")
    top_category = profile["categorical"].get("main_category")
    if top_category and "main_category" not in unknown and top_category[0]["value"] != "unknown":
        sentences.append(f"Most common main category: {top_category[0]['value']} "
                         f"({top_category[0]['share']:.0%} of them).")
    return " ".join(sentences)


def suggested_actions(seg_id: int, traits: list[dict], categorical: dict, claims: dict[str, float] | None = None,
                      unknown: AbstractSet[str] = frozenset()) -> list[str]:
    """Two or three actions tied to the segment's distinguishing traits that hold for most of it."""
    if seg_id == UNASSIGNED:
        return list(UNASSIGNED_ACTIONS)
    # Only clear differences, true of most of the segment, justify spending money on an action.
    present = {(t["feature"], t["direction"]) for t in traits
               if abs(trait_effect(t) or 0.0) >= NAME_MIN and t["feature"] not in unknown
               and (claims is None or claims.get(f"{t['feature']}:{t['direction']}", 0.0) > CLAIM_MIN)}
    actions = [text for condition, text in ACTIONS if action_holds(condition, present)][:3]
    fallbacks = []
    top = categorical.get("main_category")
    if top and "main_category" not in unknown and top[0]["value"] != "unknown":
        fallbacks.append(f"Cross-sell within their favourite category ({top[0]['value']})")
    fallbacks.append("Keep in the regular newsletter and test offers to learn what moves them")
    for text in fallbacks:
        if len(actions) < 2:
            actions.append(text)
    return actions


def data_kind(segments: list[dict]) -> str:
    """``"log"`` when the described customers had no reviews and no deliveries (a transaction log),
    else ``"olist"``: the kind of data whose default currency a view uses."""
    lacking = {"review_score_mean", "lateness_days_mean"}
    return "log" if segments and lacking <= set(segments[0].get("unknown_features", [])) else "olist"


def rendered(segment: dict, money: Money) -> dict:
    """``segment`` with its description and rules written again in ``money``'s currency.

    A segment described before rules were kept as conditions keeps its stored texts.
    """
    if "rule_conditions" not in segment:
        return segment
    return {**segment, "description": describe_text(segment, money),
            "rules": [rule_text(r, money) for r in segment["rule_conditions"]]}
