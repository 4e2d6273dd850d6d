"""One chunk of customers: their orders, timelines, items, payments and reviews, from one random stream."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .catalogue import _Catalogue, _cities
from .columns import (
    _group_starts,
    _hex_ids,
    _hump,
    _id_text,
    _int_text,
    _money_text,
    _pick,
    _rank_in_group,
    _split_cents,
    _time_text,
    _vocab_text,
    _zip_text,
)
from .personas import (
    _TRUTH_PERSONAS,
    BEHAVIOURS,
    DAY,
    DRIFTED_BEHAVIOURS,
    PAYMENT_TYPES,
    _arrival_cdf,
    _Horizon,
    _table,
    persona_shares,
)
from .vocabulary import (
    _CATEGORIES,
    _HOURLY,
    _MESSAGE_SHARE,
    _MESSAGES,
    _MOVE_SHARE,
    _NO_CATEGORY_WEIGHT,
    _OTHER_STATUS_SHARES,
    _OTHER_STATUSES,
    _STATUSES,
    _TITLE_SHARE,
    _TITLES,
    _UNDELIVERED_SCORES,
)

# ---------------------------------------------------------------- one chunk of customers


@dataclass
class _Chunk:
    tables: dict[str, list[pa.Array]]
    persona: np.ndarray  # per customer
    orders_per_customer: np.ndarray


def _people(rng: np.random.Generator, n: int, horizon: _Horizon, drift_mix: bool,
            drift_month: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids, arrival times (first purchase), months of arrival and personas of ``n`` customers."""
    ids = _hex_ids(rng, n)
    arrival = np.floor(np.interp(rng.random(n), _arrival_cdf(horizon, drift_month), horizon.bounds)).astype(np.int64)
    month = horizon.month_of(arrival)
    position = (arrival - horizon.start) / (horizon.end - horizon.start)
    shares = persona_shares(position, month, drift_mix, drift_month)
    persona = _pick(rng, np.cumsum(shares, axis=1))
    return ids, arrival, month, persona


def _order_counts(rng: np.random.Generator, persona: np.ndarray) -> np.ndarray:
    t = _table()
    low, high = t.orders[persona, 0], t.orders[persona, 1]
    base = low + np.floor(rng.random(len(persona)) * (high - low + 1)).astype(np.int64)
    return base + (rng.random(len(persona)) < t.repeat[persona])


def _purchase_times(rng: np.random.Generator, arrival: np.ndarray, counts: np.ndarray,
                    horizon: _Horizon) -> np.ndarray:
    """First order on the arrival day, later ones on days spread uniformly until the end of the
    horizon; the time of day follows the real export's daily rhythm."""
    start = np.repeat(arrival, counts)
    later = _rank_in_group(counts) > 0
    spread = np.floor(rng.random(len(start)) * (horizon.end - start)).astype(np.int64)
    moment = start + np.where(later, spread, 0)
    hourly = np.array(_HOURLY) / sum(_HOURLY)
    hour = rng.choice(24, size=len(start), p=hourly)
    return moment - moment % DAY + hour * 3600 + rng.integers(0, 3600, len(start))


def _timeline(rng: np.random.Generator, purchase: np.ndarray, behaviour: np.ndarray, boleto: np.ndarray,
              horizon: _Horizon) -> dict[str, np.ndarray]:
    """Status and dates of each order as the export on the horizon's end date shows them."""
    t = _table()
    n = len(purchase)
    # boleto is paid at a bank: approval takes days instead of minutes
    card_approval = np.minimum(np.exp(rng.normal(np.log(1200), 1.5, n)), 2 * DAY)
    approval = np.where(boleto, _hump(rng, 0.8, 3.0, n) * DAY, card_approval)
    approved = purchase + approval.astype(np.int64)
    day = purchase - purchase % DAY
    est_low, est_high = t.estimate[behaviour, 0], t.estimate[behaviour, 1]
    estimated = day + (est_low + np.floor(rng.random(n) * (est_high - est_low + 1)).astype(np.int64)) * DAY
    lateness = _hump(rng, t.lateness[behaviour, 0], t.lateness[behaviour, 1], n)
    delivered = estimated + (lateness * DAY).astype(np.int64)
    delivered = np.maximum(delivered, approved + (_hump(rng, 1.5, 4.0, n) * DAY).astype(np.int64))
    carrier = approved + np.minimum(_hump(rng, 0.3, 5.0, n) * DAY, 0.7 * (delivered - approved)).astype(np.int64)

    other_cum = np.cumsum(_OTHER_STATUS_SHARES)
    u = rng.random(n)
    other = np.searchsorted(other_cum, u, side="right")  # len(_OTHER_STATUSES) = delivered
    status = np.where(other < len(_OTHER_STATUSES), other + 1, 0)
    name = np.array(_STATUSES)[status]
    has_approval = name != "created"
    has_approval &= ~((name == "canceled") & (rng.random(n) < 0.23))
    has_carrier = (name == "delivered") | (name == "shipped") | ((name == "canceled") & (rng.random(n) < 0.12))
    has_carrier &= has_approval
    has_delivery = name == "delivered"

    # the export is taken at the end of the horizon: later events have not happened yet
    has_approval &= approved < horizon.end
    has_carrier &= carrier < horizon.end
    pending = has_delivery & (delivered >= horizon.end)
    has_delivery &= ~pending
    status = np.where(pending, np.where(has_carrier, _STATUSES.index("shipped"),
                                        np.where(has_approval, _STATUSES.index("invoiced"),
                                                 _STATUSES.index("created"))), status)
    return {
        "status": status, "pending": pending, "purchase": purchase,
        "approved": approved, "has_approval": has_approval, "carrier": carrier, "has_carrier": has_carrier,
        "delivered": delivered, "has_delivery": has_delivery, "estimated": estimated,
    }


def _items(rng: np.random.Generator, behaviour: np.ndarray, totals: np.ndarray, freight_share: np.ndarray,
           cat: _Catalogue) -> dict[str, np.ndarray]:
    """Items of each order: products, sellers, prices and freight adding up to the basket."""
    t = _table()
    n_orders = len(behaviour)
    counts = _pick(rng, t.items_cum[behaviour]) + 1
    order = np.repeat(np.arange(n_orders), counts)
    n = len(order)
    item_behaviour = behaviour[order]

    # half of a persona's items come from its preferred categories
    weights = np.array([w for _, _, w in _CATEGORIES] + [_NO_CATEGORY_WEIGHT])
    category = rng.choice(len(weights), size=n, p=weights / weights.sum())
    u = rng.random(n)
    for b, preferred in enumerate(t.preferred):
        chosen = (item_behaviour == b) & (u < 0.5)
        if len(preferred) and chosen.any():
            category[chosen] = preferred[rng.integers(0, len(preferred), chosen.sum())]
    slot = np.floor(rng.random(n) * cat.category_counts[category]).astype(np.int64)
    product = cat.category_products[cat.category_starts[category] + slot]

    # several items of one order are often the same product at the same price
    same = rng.random(n_orders) < 0.5
    first = np.repeat(_group_starts(counts), counts)
    product = np.where(same[order], product[first], product)
    share = np.where(same[order], 1.0, rng.gamma(2.0, 1.0, n) + 0.2)
    freight_total = np.rint(totals * freight_share).astype(np.int64)
    return {
        "order": order,
        "item_number": _rank_in_group(counts) + 1,
        "product": product,
        "price": _split_cents(totals - freight_total, order, share),
        "freight": _split_cents(freight_total, order, share),
    }


def _payments(rng: np.random.Generator, behaviour: np.ndarray, main_type: np.ndarray,
              totals: np.ndarray) -> dict[str, np.ndarray]:
    """Payment rows: one per order, several vouchers, or a card topped up by a voucher."""
    t = _table()
    n_orders = len(behaviour)
    voucher = main_type == PAYMENT_TYPES.index("voucher")
    card = main_type == PAYMENT_TYPES.index("credit_card")
    addon = card & (rng.random(n_orders) < t.voucher_addon[behaviour])
    counts = np.where(voucher, _pick(rng, np.tile([0.6, 0.9, 1.0], (n_orders, 1))) + 1, 1 + addon)
    order = np.repeat(np.arange(n_orders), counts)
    rank = _rank_in_group(counts)
    kind = np.where(rank > 0, PAYMENT_TYPES.index("voucher"), main_type[order])
    # a top-up voucher pays 5-30% of the order
    top_up = _hump(rng, 0.05, 0.30, len(order))
    share = np.where(addon[order], np.where(rank == 0, 1 - top_up, top_up), rng.gamma(2.0, 1.0, len(order)) + 0.2)
    low, high = t.installments[behaviour[order], 0], t.installments[behaviour[order], 1]
    installments = low + np.floor(rng.random(len(order)) * (high - low + 1)).astype(np.int64)
    return {
        "order": order,
        "sequential": rank + 1,
        "type": kind,
        "installments": np.where(kind == PAYMENT_TYPES.index("credit_card"), installments, 1),
        "value": _split_cents(totals, order, share),
    }


def _reviews(rng: np.random.Generator, behaviour: np.ndarray, timeline: dict[str, np.ndarray],
             horizon: _Horizon) -> dict[str, np.ndarray]:
    """Reviews: created the midnight after delivery, answered hours to weeks later."""
    t = _table()
    n = len(behaviour)
    delivered = timeline["has_delivery"]
    # orders that never arrived get a review some days after purchase, mostly a bad one
    purchase_day = timeline["purchase"] - timeline["purchase"] % DAY
    created = np.where(delivered, timeline["delivered"] - timeline["delivered"] % DAY + DAY,
                       purchase_day + rng.integers(5, 26, n) * DAY)
    answered = created + np.exp(rng.normal(np.log(1.7 * DAY), 0.9, n)).astype(np.int64)
    undelivered_cum = np.tile(np.cumsum(_UNDELIVERED_SCORES), (n, 1))
    score = np.where(delivered, _pick(rng, t.scores_cum[behaviour]), _pick(rng, undelivered_cum)) + 1
    # an order still on its way at the export date has no review yet
    exists = (rng.random(n) < np.where(delivered, t.review[behaviour], 0.9)) & (answered < horizon.end)
    exists &= ~timeline["pending"]
    band = np.where(score <= 2, "low", np.where(score == 3, "mid", "high"))
    has_title = rng.random(n) < _TITLE_SHARE
    has_message = rng.random(n) < np.array(_MESSAGE_SHARE)[score - 1]
    return {
        "exists": exists, "ids": _hex_ids(rng, n), "score": score, "created": created, "answered": answered,
        "band": band, "title": rng.integers(0, 1 << 30, n), "has_title": has_title,
        "message": rng.integers(0, 1 << 30, n), "has_message": has_message,
    }


def _comment_text(band: np.ndarray, pick: np.ndarray, present: np.ndarray,
                  bank: dict[str, tuple[str, ...]]) -> pa.Array:
    vocabulary: list[str] = []
    index = np.zeros(len(band), dtype=np.int64)
    for name, phrases in bank.items():
        rows = band == name
        index[rows] = len(vocabulary) + pick[rows] % len(phrases)
        vocabulary.extend(phrases)
    return _vocab_text(vocabulary, index, present)


def _chunk(ss: np.random.SeedSequence, n: int, horizon: _Horizon, cat: _Catalogue, drift_mix: bool,
           drift_month: int | None) -> _Chunk:
    """Every row generated by ``n`` new customers, rendered as CSV columns."""
    rng = np.random.default_rng(ss)
    t = _table()
    uid, arrival, month, persona = _people(rng, n, horizon, drift_mix, drift_month)
    counts = _order_counts(rng, persona)
    customer = np.repeat(np.arange(n), counts)
    n_orders = len(customer)
    purchase = _purchase_times(rng, arrival, counts, horizon)
    behaviour = persona[customer]
    if drift_month is not None:
        after = horizon.month_of(purchase) >= drift_month
        names = [p.name for p in BEHAVIOURS]
        for k, name in enumerate(DRIFTED_BEHAVIOURS):
            behaviour = np.where(after & (behaviour == names.index(name)), _TRUTH_PERSONAS + k, behaviour)

    basket = np.exp(_hump(rng, t.basket_log[behaviour, 0], t.basket_log[behaviour, 1], n_orders))
    totals = np.rint(basket * 100).astype(np.int64)
    freight_share = _hump(rng, t.freight[behaviour, 0], t.freight[behaviour, 1], n_orders)
    main_type = _pick(rng, t.payment_cum[behaviour])
    timeline = _timeline(rng, purchase, behaviour, main_type == PAYMENT_TYPES.index("boleto"), horizon)
    items = _items(rng, behaviour, totals, freight_share, cat)  # items add up to the totals
    payments = _payments(rng, behaviour, main_type, totals)
    reviews = _reviews(rng, behaviour, timeline, horizon)

    order_ids = _hex_ids(rng, n_orders)
    customer_ids = _hex_ids(rng, n_orders)
    home = rng.integers(0, len(cat.zip_prefix), n)
    moved = (_rank_in_group(counts) > 0) & (rng.random(n_orders) < _MOVE_SHARE)
    zip_index = np.where(moved, rng.integers(0, len(cat.zip_prefix), n_orders), home[customer])
    city = cat.zip_city[zip_index]
    cities = _cities()
    # the seller ships within a few days of approval: the limit is per order, copied to its items
    limit = np.where(timeline["has_approval"], timeline["approved"], timeline["purchase"]) \
        + rng.integers(3, 8, n_orders) * DAY
    io, r = items["order"], reviews["exists"]
    tables = {
        "customers": [
            _id_text(customer_ids), _id_text(uid[customer]), _zip_text(cat.zip_prefix[zip_index]),
            _vocab_text([c[0] for c in cities], city), _vocab_text([c[1] for c in cities], city),
        ],
        "orders": [
            _id_text(order_ids), _id_text(customer_ids),
            _vocab_text(_STATUSES, timeline["status"]),
            _time_text(purchase), _time_text(timeline["approved"], timeline["has_approval"]),
            _time_text(timeline["carrier"], timeline["has_carrier"]),
            _time_text(timeline["delivered"], timeline["has_delivery"]), _time_text(timeline["estimated"]),
        ],
        "order_items": [
            _id_text(order_ids[io]), _int_text(items["item_number"]),
            _id_text(cat.product_ids[items["product"]]),
            _id_text(cat.seller_ids[cat.product_seller[items["product"]]]),
            _time_text(limit[io]), _money_text(items["price"]), _money_text(items["freight"]),
        ],
        "payments": [
            _id_text(order_ids[payments["order"]]), _int_text(payments["sequential"]),
            _vocab_text(PAYMENT_TYPES, payments["type"]), _int_text(payments["installments"]),
            _money_text(payments["value"]),
        ],
        "reviews": [
            _id_text(reviews["ids"][r]), _id_text(order_ids[r]), _int_text(reviews["score"][r]),
            _comment_text(reviews["band"][r], reviews["title"][r], reviews["has_title"][r], _TITLES),
            _comment_text(reviews["band"][r], reviews["message"][r], reviews["has_message"][r], _MESSAGES),
            _time_text(reviews["created"][r]), _time_text(reviews["answered"][r]),
        ],
        "truth": [
            _id_text(uid), _vocab_text([p.name for p in BEHAVIOURS], persona), _int_text(month),
        ],
    }
    return _Chunk(tables=tables, persona=persona, orders_per_customer=counts)
