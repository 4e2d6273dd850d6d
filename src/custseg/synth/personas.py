"""The planted personas and the horizon: who buys what, how the mix drifts, how many orders to expect."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import cache

import numpy as np
import pandas as pd

from ..errors import InputError
from .vocabulary import _CATEGORIES

DAY = 86_400
#: Customers generated per chunk: the unit of memory use and of random streams.
CHUNK_CUSTOMERS = 50_000
DEFAULT_START = "2016-09-01"
DEFAULT_MONTHS = 24
TRUTH_FILE = "truth.csv"
PAYMENT_TYPES = ("credit_card", "boleto", "debit_card", "voucher")
#: Share of new customers taken by ``voucher_deal_seeker`` from the drift month on.
DRIFT_NEW_SHARE = 0.40
#: New customers per day from the drift month on, relative to before (a voucher campaign).
DRIFT_ARRIVAL_RATE = 3.0
#: ``unhappy_late`` share at the end of the horizon over its share at the start (``drift_mix``).
DRIFT_MIX_FACTOR = 2.0


@dataclass(frozen=True)
class Persona:
    """How one kind of customer buys. Ranges are (low, high); numbers inside are drawn humped."""

    name: str
    share: float  # of customers, without drift
    basket: tuple[float, float]  # R$ paid per order (price + freight), log scale
    freight_share: tuple[float, float]  # freight / (price + freight)
    items: tuple[float, ...]  # probabilities of 1, 2, 3, ... items in an order
    payment: tuple[float, float, float, float]  # main payment type, in PAYMENT_TYPES order
    installments: tuple[int, int]  # credit-card installments
    lateness_days: tuple[float, float]  # delivered minus estimated date (negative = early)
    estimate_days: tuple[int, int]  # estimated delivery date minus purchase day
    scores: tuple[float, float, float, float, float]  # review score 1..5 probabilities
    orders: tuple[int, int] = (1, 1)
    repeat_share: float = 0.0  # chance of one extra order
    review_share: float = 1.0  # chance that a delivered order gets a review
    voucher_addon: float = 0.04  # chance that a card payment is topped up by a voucher row
    categories: tuple[str, ...] = ()  # preferred categories (half of the items)


# A one-order customer's item count and review presence are 0/1 facts: a rare exception (a second
# item, a skipped review) would become a tiny far-away group once features are standardised, so
# one-order personas always buy one item and always review; multi-item orders and skipped reviews
# belong to frequent_small_buyer, whose averages over several orders vary smoothly.
#: What each persona buys: share of customers, R$ per order, freight share, item-count
#: probabilities, main payment type probabilities, card installments (fields of :class:`Persona`).
_BUYING: dict[str, tuple] = {
    "casual_one_timer": (0.52, (60, 120), (0.12, 0.25), (1.0,), (0.55, 0.40, 0.05, 0.0), (1, 1)),
    "satisfied_big_spender": (0.15, (500, 2000), (0.03, 0.08), (1.0,), (0.9, 0.1, 0.0, 0.0), (1, 4)),
    "unhappy_late": (0.15, (100, 200), (0.12, 0.25), (1.0,), (0.7, 0.3, 0.0, 0.0), (1, 3)),
    "installment_bargain_hunter": (0.15, (150, 400), (0.30, 0.40), (1.0,), (1.0, 0.0, 0.0, 0.0), (8, 10)),
    "frequent_small_buyer": (0.03, (20, 50), (0.15, 0.28), (0.6, 0.4), (0.5, 0.4, 0.1, 0.0), (1, 1)),
}
#: How each persona is served and reviews: lateness days, estimate days, review score probabilities.
_SERVICE: dict[str, tuple] = {
    "casual_one_timer": ((-14, -4), (18, 30), (0, 0, 0, 0.45, 0.55)),
    "satisfied_big_spender": ((-20, -12), (22, 32), (0, 0, 0, 0.07, 0.93)),
    "unhappy_late": ((7, 25), (15, 28), (0.7, 0.3, 0, 0, 0)),
    "installment_bargain_hunter": ((-12, -3), (18, 30), (0, 0, 0.5, 0.5, 0)),
    "frequent_small_buyer": ((-14, -4), (15, 25), (0, 0, 0, 0.4, 0.6)),
}
#: What else sets a persona apart: orders, repeat and review chances, vouchers, favourite categories.
_EXTRAS: dict[str, dict] = {
    "satisfied_big_spender": dict(repeat_share=0.02, categories=(
        "informatica_acessorios", "eletronicos", "eletrodomesticos", "moveis_decoracao", "telefonia", "climatizacao",
        "pc_gamer")),
    "unhappy_late": dict(categories=("moveis_decoracao", "cama_mesa_banho", "moveis_escritorio", "casa_construcao")),
    "installment_bargain_hunter": dict(voucher_addon=0.0, categories=(
        "telefonia", "relogios_presentes", "eletroportateis", "consoles_games",
        "portateis_cozinha_e_preparadores_de_alimentos")),
    "frequent_small_buyer": dict(orders=(3, 8), review_share=0.75, categories=(
        "beleza_saude", "perfumaria", "papelaria", "livros_interesse_geral", "pet_shop")),
}
PERSONAS: tuple[Persona, ...] = tuple(Persona(name, *_BUYING[name], *_SERVICE[name], **_EXTRAS.get(name, {}))
                                      for name in _BUYING)

#: The persona that appears from the drift month on (share 0 without drift).
VOUCHER_DEAL_SEEKER = Persona(
    name="voucher_deal_seeker", share=0.0, basket=(25, 70), freight_share=(0.55, 0.75),
    items=(0, 0, 0.3, 0.3, 0.25, 0.15), payment=(0, 0, 0, 1.0), installments=(1, 1),
    lateness_days=(-10, -2), estimate_days=(15, 25), scores=(0, 0.1, 0.4, 0.35, 0.15),
    voucher_addon=0.0,
    categories=("utilidades_domesticas", "cama_mesa_banho", "brinquedos", "fashion_bolsas_e_acessorios"),
)

#: How satisfied_big_spender orders behave from the drift month on: late and badly reviewed.
DISAPPOINTED_BIG_SPENDER = replace(
    PERSONAS[1], name="disappointed_big_spender", share=0.0, repeat_share=0.0,
    lateness_days=(8, 25), scores=(0.6, 0.4, 0, 0, 0),
)

#: How orders of a persona placed from the drift month on behave instead (the truth keeps the persona).
DRIFTED_BEHAVIOURS: dict[str, Persona] = {"satisfied_big_spender": DISAPPOINTED_BIG_SPENDER}

#: Behaviours by index: the truth personas first, then the drifted behaviours.
BEHAVIOURS: tuple[Persona, ...] = (*PERSONAS, VOUCHER_DEAL_SEEKER, *DRIFTED_BEHAVIOURS.values())
_TRUTH_PERSONAS = len(PERSONAS) + 1
_CASUAL, _UNHAPPY, _VOUCHER = 0, 2, len(PERSONAS)




@dataclass(frozen=True)
class _Horizon:
    """Month boundaries of the horizon, in seconds since the epoch (``months + 1`` of them)."""

    bounds: np.ndarray

    @property
    def start(self) -> int:
        return int(self.bounds[0])

    @property
    def end(self) -> int:
        return int(self.bounds[-1])

    def month_of(self, seconds: np.ndarray) -> np.ndarray:
        """1-based month index of each time."""
        return np.searchsorted(self.bounds, seconds, side="right")


def _horizon(start: str | date, months: int) -> _Horizon:
    first = pd.Timestamp(start)
    bounds = [first + pd.DateOffset(months=k) for k in range(months + 1)]
    return _Horizon(np.array([(b - pd.Timestamp(0)) // pd.Timedelta(seconds=1) for b in bounds], dtype=np.int64))


def _parse_start(start: str | date) -> date:
    """``start`` as a date: a ``date`` as it is, else text read as YYYY-MM-DD."""
    try:
        return start if isinstance(start, date) else date.fromisoformat(str(start).strip())
    except ValueError:
        raise InputError(f"start: {start!r} is not a date (expected YYYY-MM-DD)") from None


def _check_arguments(customers: int, months: int, drift_month: int | None) -> None:
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}")
    if not 1 <= months <= 240:
        raise InputError(f"months must be between 1 and 240, got {months}")
    if drift_month is not None and not 1 <= drift_month <= months:
        raise InputError(f"drift month must be between 1 and months ({months}), got {drift_month}")



# ---------------------------------------------------------------- persona parameters as arrays


@dataclass(frozen=True)
class _Table:
    """BEHAVIOURS as arrays indexed by behaviour, so draws are vectorised over orders."""

    basket_log: np.ndarray  # (B, 2)
    freight: np.ndarray
    items_cum: np.ndarray  # (B, K) cumulative
    payment_cum: np.ndarray
    installments: np.ndarray
    lateness: np.ndarray
    estimate: np.ndarray
    scores_cum: np.ndarray
    orders: np.ndarray
    repeat: np.ndarray
    voucher_addon: np.ndarray
    review: np.ndarray
    preferred: tuple[np.ndarray, ...]  # category indices per behaviour


def _cumulative(rows: list[tuple[float, ...]]) -> np.ndarray:
    width = max(len(r) for r in rows)
    padded = np.array([list(r) + [0.0] * (width - len(r)) for r in rows], dtype=float)
    return np.cumsum(padded / padded.sum(axis=1, keepdims=True), axis=1)


@cache
def _table() -> _Table:
    b = BEHAVIOURS
    category_index = {name: i for i, (name, _, _) in enumerate(_CATEGORIES)}
    return _Table(
        basket_log=np.log(np.array([p.basket for p in b], dtype=float)),
        freight=np.array([p.freight_share for p in b], dtype=float),
        items_cum=_cumulative([p.items for p in b]),
        payment_cum=_cumulative([p.payment for p in b]),
        installments=np.array([p.installments for p in b], dtype=np.int64),
        lateness=np.array([p.lateness_days for p in b], dtype=float),
        estimate=np.array([p.estimate_days for p in b], dtype=np.int64),
        scores_cum=_cumulative([p.scores for p in b]),
        orders=np.array([p.orders for p in b], dtype=np.int64),
        repeat=np.array([p.repeat_share for p in b], dtype=float),
        voucher_addon=np.array([p.voucher_addon for p in b], dtype=float),
        review=np.array([p.review_share for p in b], dtype=float),
        preferred=tuple(np.array([category_index[c] for c in p.categories], dtype=np.int64) for p in b),
    )


def persona_shares(position: np.ndarray, month: np.ndarray, drift_mix: bool = False,
                   drift_month: int | None = None) -> np.ndarray:
    """Probability of each truth persona (columns: PERSONAS, then voucher_deal_seeker) for new
    customers arriving at ``position`` (0..1 through the horizon) in 1-based ``month``."""
    base = np.array([p.share for p in PERSONAS] + [0.0])
    shares = np.tile(base, (len(position), 1))
    if drift_mix:
        # mean share stays base[_UNHAPPY]: start at 2/3 of it, end at 4/3 (factor 2)
        low = 2 * base[_UNHAPPY] / (1 + DRIFT_MIX_FACTOR)
        unhappy = low * (1 + (DRIFT_MIX_FACTOR - 1) * position)
        shares[:, _CASUAL] += shares[:, _UNHAPPY] - unhappy
        shares[:, _UNHAPPY] = unhappy
    if drift_month is not None:
        after = month >= drift_month
        shares[after] *= 1 - DRIFT_NEW_SHARE
        shares[after, _VOUCHER] = DRIFT_NEW_SHARE
    return shares


def _expected_orders(persona: int) -> float:
    p = BEHAVIOURS[persona]
    return (p.orders[0] + p.orders[1]) / 2 + p.repeat_share


def orders_per_customer(months: int = DEFAULT_MONTHS, drift_mix: bool = False, drift_month: int | None = None,
                        start: str | date = DEFAULT_START) -> float:
    """Expected orders per customer (about 1.14 by default) for turning an order count into a
    customer count."""
    _check_arguments(1, months, drift_month)
    horizon = _horizon(_parse_start(start), months)
    # customers spread over the horizon as generate() spreads them
    arrival = np.interp((np.arange(2000) + 0.5) / 2000, _arrival_cdf(horizon, drift_month), horizon.bounds)
    position = (arrival - horizon.start) / (horizon.end - horizon.start)
    shares = persona_shares(position, horizon.month_of(arrival), drift_mix, drift_month).mean(axis=0)
    return float(sum(s * _expected_orders(i) for i, s in enumerate(shares)))


def customers_for_orders(orders: int, months: int = DEFAULT_MONTHS, drift_mix: bool = False,
                         drift_month: int | None = None, start: str | date = DEFAULT_START) -> int:
    """The customer count that yields about ``orders`` orders."""
    if orders < 1:
        raise InputError(f"orders must be at least 1, got {orders}")
    return max(1, round(orders / orders_per_customer(months, drift_mix, drift_month, start)))


def _arrival_cdf(horizon: _Horizon, drift_month: int | None) -> np.ndarray:
    """Share of customers arrived by each month boundary: uniform in time, faster from the drift month."""
    rate = np.ones(len(horizon.bounds) - 1)
    if drift_month is not None:
        rate[drift_month - 1:] = DRIFT_ARRIVAL_RATE
    mass = np.concatenate([[0.0], np.cumsum(np.diff(horizon.bounds) * rate)])
    return mass / mass[-1]
