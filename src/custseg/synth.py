"""Synthetic Olist-format data with planted customer personas and optional drift.

:func:`generate` writes the nine CSV files of the Olist export (official file names, headers,
column order and quirks: ids of 32 hex characters quoted when they start with a digit, zip
prefixes as quoted 5-digit strings, money with two decimals, ``YYYY-MM-DD HH:MM:SS`` timestamps,
a BOM on the translation table) plus ``truth.csv`` (``customer_unique_id, persona,
first_purchase_month``): the persona each person was drawn from.

Every person belongs to one planted persona (:data:`PERSONAS`). Personas differ by several
standard deviations on at least two numeric features of the feature table (log scale for money
and counts), so k-means can recover them; recency, tenure, state and category are noise.

The data describe the export taken on the horizon's end date E (``start`` + ``months``): orders
are placed in [start, E); an order not yet delivered at E is ``shipped``/``invoiced``/``created``
and has no delivery date; a review exists only when answered before E. About 3% of orders end
canceled, unavailable, shipped (lost), invoiced or processing, as in the real export.

Drift (for stability backtests):

- ``drift_mix``: the persona mix shifts linearly over the horizon: the ``unhappy_late`` share
  doubles from start to end (10% -> 20%, 15% on average), taken from ``casual_one_timer``
  (57% -> 47%). Proportions change, the personas themselves do not.
- ``drift_month=M`` (1-based month of the horizon): from the first day of month M on, the
  structure changes. A voucher campaign brings :data:`DRIFT_ARRIVAL_RATE` (3x) as many new
  customers per day as before; a new persona ``voucher_deal_seeker`` (paid only with vouchers,
  baskets of R$25-70 in 3-6 items, freight 55-75% of the basket) takes :data:`DRIFT_NEW_SHARE`
  (40%) of new customers, the other personas shrinking in proportion; and orders of
  ``satisfied_big_spender`` placed from month M on arrive 8-25 days late and get scores of 1-2
  (:data:`DISAPPOINTED_BIG_SPENDER`; the truth keeps the persona). Before month M the behaviour
  is unchanged (same personas, shares and order behaviour); there are only fewer customers
  per month than without drift, since ``customers`` is the total and month M on gets more.
  With features over all history, a k-means model (k=5) frozen at M and one re-trained with
  the same k agree with ARI ~0.80 two months after M, ~0.75 after three, ~0.70 after four
  (10,000 customers, M=13; without drift or with ``drift_mix`` the ARI stays ~1.0).

Determinism: the output depends only on (seed, customers, months, start, drift options): the
same arguments give byte-identical files. Customers are generated in chunks of
:data:`CHUNK_CUSTOMERS`, each from its own child of ``SeedSequence(seed)``, so memory stays flat
whatever the size. There are about 1.14 orders per customer (:func:`orders_per_customer`).

:func:`cdnow_log` writes a generic transaction log in the layout of the classic CDNOW file.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError
from .export import atomic_path
from .schema import TABLES

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
PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="casual_one_timer", share=0.52, basket=(60, 120), freight_share=(0.12, 0.25),
        items=(1.0,), payment=(0.55, 0.40, 0.05, 0.0), installments=(1, 1),
        lateness_days=(-14, -4), estimate_days=(18, 30), scores=(0, 0, 0, 0.45, 0.55),
    ),
    Persona(
        name="satisfied_big_spender", share=0.15, basket=(500, 2000), freight_share=(0.03, 0.08),
        items=(1.0,), payment=(0.9, 0.1, 0.0, 0.0), installments=(1, 4),
        lateness_days=(-20, -12), estimate_days=(22, 32), scores=(0, 0, 0, 0.07, 0.93),
        repeat_share=0.02,
        categories=("informatica_acessorios", "eletronicos", "eletrodomesticos", "moveis_decoracao",
                    "telefonia", "climatizacao", "pc_gamer"),
    ),
    Persona(
        name="unhappy_late", share=0.15, basket=(100, 200), freight_share=(0.12, 0.25),
        items=(1.0,), payment=(0.7, 0.3, 0.0, 0.0), installments=(1, 3),
        lateness_days=(7, 25), estimate_days=(15, 28), scores=(0.7, 0.3, 0, 0, 0),
        categories=("moveis_decoracao", "cama_mesa_banho", "moveis_escritorio", "casa_construcao"),
    ),
    Persona(
        name="installment_bargain_hunter", share=0.15, basket=(150, 400), freight_share=(0.30, 0.40),
        items=(1.0,), payment=(1.0, 0.0, 0.0, 0.0), installments=(8, 10),
        lateness_days=(-12, -3), estimate_days=(18, 30), scores=(0, 0, 0.5, 0.5, 0),
        voucher_addon=0.0,
        categories=("telefonia", "relogios_presentes", "eletroportateis", "consoles_games",
                    "portateis_cozinha_e_preparadores_de_alimentos"),
    ),
    Persona(
        name="frequent_small_buyer", share=0.03, basket=(20, 50), freight_share=(0.15, 0.28),
        items=(0.6, 0.4), payment=(0.5, 0.4, 0.1, 0.0), installments=(1, 1),
        lateness_days=(-14, -4), estimate_days=(15, 25), scores=(0, 0, 0, 0.4, 0.6),
        orders=(3, 8), review_share=0.75,
        categories=("beleza_saude", "perfumaria", "papelaria", "livros_interesse_geral", "pet_shop"),
    ),
)

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

# Order statuses other than delivered, with their shares of orders (the real export: ~3%).
_OTHER_STATUSES = ("canceled", "unavailable", "shipped", "invoiced", "processing", "created", "approved")
_STATUSES = ("delivered", *_OTHER_STATUSES)
_OTHER_STATUS_SHARES = (0.0063, 0.0061, 0.0111, 0.0032, 0.0030, 0.0001, 0.0001)
_UNDELIVERED_SCORES = (0.62, 0.08, 0.1, 0.05, 0.15)  # reviews of orders that never arrived
_TITLE_SHARE = 0.12
_MESSAGE_SHARE = (0.77, 0.68, 0.43, 0.31, 0.36)  # by score
_MOVE_SHARE = 0.1  # later orders of a person shipped to another address
# Share of purchases by hour of the day (the real export: few at night, flat from 10h to 22h)
_HOURLY = (2.4, 1.2, 0.5, 0.3, 0.2, 0.2, 0.5, 1.2, 3.0, 4.8, 6.2, 6.6, 6.0, 6.6, 6.6, 6.5, 6.7, 6.2, 5.8,
           6.0, 6.2, 6.3, 5.8, 4.1)

# (state, weight ~ real customers, [(city, zip prefix low, high, lat, lng), ...]); first city = capital
_STATES: tuple[tuple[str, int, tuple[tuple[str, int, int, float, float], ...]], ...] = (
    ("SP", 41746, (("sao paulo", 1000, 5999, -23.55, -46.63), ("guarulhos", 7000, 7399, -23.46, -46.53),
                   ("osasco", 6000, 6299, -23.53, -46.79), ("sao bernardo do campo", 9600, 9899, -23.69, -46.56),
                   ("campinas", 13000, 13139, -22.91, -47.06), ("santos", 11000, 11249, -23.96, -46.33),
                   ("ribeirao preto", 14000, 14114, -21.18, -47.81), ("franca", 14400, 14414, -20.54, -47.40),
                   ("sorocaba", 18000, 18109, -23.50, -47.46),
                   ("sao jose dos campos", 12200, 12249, -23.19, -45.88))),
    ("RJ", 12852, (("rio de janeiro", 20000, 23799, -22.91, -43.17), ("niteroi", 24000, 24399, -22.88, -43.10),
                   ("nova iguacu", 26000, 26099, -22.76, -43.45), ("petropolis", 25600, 25779, -22.51, -43.18),
                   ("campos dos goytacazes", 28000, 28099, -21.75, -41.32))),
    ("MG", 11635, (("belo horizonte", 30000, 31999, -19.92, -43.94), ("contagem", 32000, 32399, -19.93, -44.05),
                   ("uberlandia", 38400, 38415, -18.92, -48.28), ("juiz de fora", 36000, 36099, -21.76, -43.35),
                   ("montes claros", 39400, 39409, -16.73, -43.86))),
    ("RS", 5466, (("porto alegre", 90000, 91999, -30.03, -51.23), ("caxias do sul", 95000, 95124, -29.17, -51.18),
                  ("pelotas", 96000, 96099, -31.77, -52.34), ("canoas", 92000, 92499, -29.92, -51.18))),
    ("PR", 5045, (("curitiba", 80000, 82999, -25.43, -49.27), ("londrina", 86000, 86099, -23.31, -51.16),
                  ("maringa", 87000, 87099, -23.42, -51.94), ("ponta grossa", 84000, 84099, -25.09, -50.16))),
    ("SC", 3637, (("florianopolis", 88000, 88099, -27.59, -48.55), ("joinville", 89200, 89239, -26.30, -48.85),
                  ("blumenau", 89000, 89099, -26.92, -49.07))),
    ("BA", 3380, (("salvador", 40000, 42599, -12.97, -38.50), ("feira de santana", 44000, 44099, -12.27, -38.97),
                  ("vitoria da conquista", 45000, 45099, -14.86, -40.84))),
    ("DF", 2140, (("brasilia", 70000, 72799, -15.79, -47.88),)),
    ("ES", 2033, (("vitoria", 29000, 29099, -20.32, -40.34), ("vila velha", 29100, 29129, -20.33, -40.29),
                  ("serra", 29160, 29184, -20.13, -40.31))),
    ("GO", 2020, (("goiania", 74000, 74899, -16.68, -49.25), ("anapolis", 75000, 75149, -16.33, -48.95),
                  ("aparecida de goiania", 74900, 74999, -16.82, -49.24))),
    ("PE", 1652, (("recife", 50000, 52999, -8.05, -34.88), ("jaboatao dos guararapes", 54000, 54499, -8.11, -35.01),
                  ("caruaru", 55000, 55099, -8.28, -35.98))),
    ("CE", 1336, (("fortaleza", 60000, 61599, -3.73, -38.52), ("juazeiro do norte", 63000, 63099, -7.21, -39.32))),
    ("PA", 975, (("belem", 66000, 66999, -1.46, -48.50), ("santarem", 68000, 68109, -2.44, -54.71))),
    ("MT", 907, (("cuiaba", 78000, 78109, -15.60, -56.10), ("rondonopolis", 78700, 78749, -16.47, -54.64))),
    ("MA", 747, (("sao luis", 65000, 65109, -2.53, -44.30), ("imperatriz", 65900, 65919, -5.53, -47.48))),
    ("MS", 715, (("campo grande", 79000, 79124, -20.47, -54.62), ("dourados", 79800, 79849, -22.22, -54.81))),
    ("PB", 536, (("joao pessoa", 58000, 58099, -7.12, -34.86), ("campina grande", 58400, 58449, -7.23, -35.88))),
    ("PI", 495, (("teresina", 64000, 64099, -5.09, -42.80), ("parnaiba", 64200, 64219, -2.90, -41.78))),
    ("RN", 485, (("natal", 59000, 59159, -5.79, -35.21), ("mossoro", 59600, 59649, -5.19, -37.34))),
    ("AL", 413, (("maceio", 57000, 57099, -9.67, -35.74), ("arapiraca", 57300, 57319, -9.75, -36.66))),
    ("SE", 350, (("aracaju", 49000, 49099, -10.91, -37.07),)),
    ("TO", 280, (("palmas", 77000, 77299, -10.18, -48.33), ("araguaina", 77800, 77829, -7.19, -48.21))),
    ("RO", 253, (("porto velho", 76800, 76834, -8.76, -63.90), ("ji-parana", 76900, 76919, -10.88, -61.95))),
    ("AM", 148, (("manaus", 69000, 69099, -3.12, -60.02),)),
    ("AC", 81, (("rio branco", 69900, 69923, -9.97, -67.81),)),
    ("AP", 68, (("macapa", 68900, 68911, -0.03, -51.07),)),
    ("RR", 46, (("boa vista", 69300, 69339, 2.82, -60.67),)),
)
# The geolocation table spells some cities with accents, some without (as the real one does).
_ACCENTED = {
    "sao paulo": "são paulo", "niteroi": "niterói", "florianopolis": "florianópolis",
    "brasilia": "brasília", "goiania": "goiânia", "belem": "belém", "cuiaba": "cuiabá",
    "sao luis": "são luís", "maceio": "maceió", "joao pessoa": "joão pessoa", "macapa": "macapá",
    "maringa": "maringá", "ribeirao preto": "ribeirão preto", "vitoria": "vitória",
}

# (Portuguese category, English translation or None, popularity weight)
_CATEGORIES: tuple[tuple[str, str | None, float], ...] = (
    ("cama_mesa_banho", "bed_bath_table", 11.1), ("beleza_saude", "health_beauty", 9.7),
    ("esporte_lazer", "sports_leisure", 8.7), ("moveis_decoracao", "furniture_decor", 7.4),
    ("informatica_acessorios", "computers_accessories", 6.9), ("utilidades_domesticas", "housewares", 6.2),
    ("relogios_presentes", "watches_gifts", 5.3), ("telefonia", "telephony", 4.0),
    ("ferramentas_jardim", "garden_tools", 3.9), ("automotivo", "auto", 3.8),
    ("brinquedos", "toys", 3.7), ("cool_stuff", "cool_stuff", 3.4), ("perfumaria", "perfumery", 3.1),
    ("bebes", "baby", 2.7), ("eletronicos", "electronics", 2.5), ("papelaria", "stationery", 2.3),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories", 1.8), ("pet_shop", "pet_shop", 1.7),
    ("moveis_escritorio", "office_furniture", 1.5), ("consoles_games", "consoles_games", 1.0),
    ("malas_acessorios", "luggage_accessories", 1.0),
    ("construcao_ferramentas_construcao", "construction_tools_construction", 0.8),
    ("eletrodomesticos", "home_appliances", 0.7), ("instrumentos_musicais", "musical_instruments", 0.6),
    ("eletroportateis", "small_appliances", 0.6), ("casa_construcao", "home_construction", 0.5),
    ("livros_interesse_geral", "books_general_interest", 0.5), ("alimentos", "food", 0.4),
    ("moveis_sala", "furniture_living_room", 0.4), ("casa_conforto", "home_confort", 0.4),
    ("bebidas", "drinks", 0.3), ("audio", "audio", 0.3), ("market_place", "market_place", 0.3),
    ("climatizacao", "air_conditioning", 0.3), ("artes", "art", 0.2), ("flores", "flowers", 0.05),
    # the real export has these two without an English name
    ("pc_gamer", None, 0.1), ("portateis_cozinha_e_preparadores_de_alimentos", None, 0.1),
)
_NO_CATEGORY_WEIGHT = 1.8  # products without a category (their name/description fields are empty too)

_TITLES = {
    "low": ("Não recomendo", "Péssimo", "Não chegou", "Atrasou", "Ruim"),
    "mid": ("Regular", "Razoável", "Mais ou menos"),
    "high": ("Recomendo", "Ótimo", "Super recomendo", "Muito bom", "Excelente"),
}
_MESSAGES = {
    "low": (
        "Produto não chegou até agora, estou aguardando.",
        "Entrega atrasada, muito tempo esperando",
        "Comprei e o produto veio com defeito, quero a devolução.",
        "Péssimo atendimento. Não recomendo a loja",
        "O prazo de entrega não foi cumprido",
        "Recebi apenas um dos produtos que comprei.\nAguardo o restante.",
    ),
    "mid": (
        "Produto ok, mas a entrega demorou",
        "Veio diferente da foto, mas serve.",
        "Bom produto, porém o frete é caro",
        "Razoável pelo preço",
    ),
    "high": (
        "Recebi bem antes do prazo estipulado.",
        "Produto de ótima qualidade, chegou rápido",
        "Tudo certo, recomendo!",
        "Vendedor confiável, produto ok e entrega antes do prazo.",
        "Adorei o produto",
        "Muito bom, superou minhas expectativas",
    ),
}


@dataclass
class SynthSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    files: dict[str, Path]  # table name (and "truth") -> file
    rows: dict[str, int]
    customers: int
    orders: int
    start: date
    end: date  # first day after the horizon: the export's date
    months: int
    seed: int
    drift_mix: bool
    drift_month: int | None
    persona_counts: dict[str, int] = field(default_factory=dict)
    one_time_share: float = 0.0


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
    if isinstance(start, date):
        return start
    try:
        return date.fromisoformat(str(start).strip())
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


# ---------------------------------------------------------------- random helpers


def _hump(rng: np.random.Generator, low: np.ndarray | float, high: np.ndarray | float, n: int) -> np.ndarray:
    """Values in [low, high], most often near the middle (mean of two uniforms)."""
    return low + (high - low) * (rng.random(n) + rng.random(n)) / 2


def _pick(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Index drawn from each row of cumulative probabilities (n, K)."""
    u = rng.random(len(cumulative))
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1)


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random ids of 32 lower-case hex characters, as an (n, 32) array of ASCII codes."""
    return np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[rng.integers(0, 16, size=(n, 32), dtype=np.uint8)]


def _group_starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first row of each group when groups of ``counts`` rows are laid end to end."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _rank_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of rows."""
    return np.arange(int(counts.sum())) - np.repeat(_group_starts(counts), counts)


def _split_cents(totals: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each group's total (cents) over its rows in proportion to ``weights``, exactly."""
    running = np.cumsum(weights)
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    # running weight before each group, so that each group's running share ends at exactly 1
    before = np.zeros(len(totals))
    before[group[first]] = (running - weights)[first]
    group_sum = np.bincount(group, weights, minlength=len(totals))
    cum = np.rint((running - before[group]) / group_sum[group] * totals[group]).astype(np.int64)
    previous = np.concatenate([[0], cum[:-1]])
    return cum - np.where(first, 0, previous)


# ---------------------------------------------------------------- CSV rendering


def _strings(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """A string array from the concatenated UTF-8 bytes of its values and their lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)))


def _id_text(ids: np.ndarray) -> pa.Array:
    """Ids as the export writes them: quoted when they start with a digit."""
    n = len(ids)
    quoted = ids[:, 0] <= ord("9")
    full = np.empty((n, 34), dtype=np.uint8)
    full[:, 0] = full[:, 33] = ord('"')
    full[:, 1:33] = ids
    keep = np.ones((n, 34), dtype=bool)
    keep[~quoted, 0] = keep[~quoted, 33] = False
    return _strings(full[keep], np.where(quoted, 34, 32))


def _zip_text(prefixes: np.ndarray) -> pa.Array:
    """Zip prefixes as quoted 5-digit strings ("01037")."""
    digits = (prefixes[:, None] // 10 ** np.arange(4, -1, -1)) % 10 + ord("0")
    full = np.full((len(prefixes), 7), ord('"'), dtype=np.uint8)
    full[:, 1:6] = digits
    return _strings(full.ravel(), np.full(len(prefixes), 7))


def _time_text(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS``; empty where not valid."""
    n = len(seconds)
    valid = np.ones(n, dtype=bool) if valid is None else valid
    chars = seconds.astype("datetime64[s]").astype("S19").view(np.uint8).reshape(n, 19).copy()
    chars[:, 10] = ord(" ")
    return _strings(chars[valid].ravel(), np.where(valid, 19, 0))


def _int_text(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    text = pc.cast(pa.array(values), pa.string())
    return text if valid is None else pc.if_else(pa.array(valid), text, "")


def _money_text(cents: np.ndarray) -> pa.Array:
    """Cents as reais with two decimals (58.90)."""
    whole = pc.cast(pa.array(cents // 100), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, fraction, ".")


def _float_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r') or text[:1].isdigit():
        return '"' + text.replace('"', '""') + '"'
    return text


def _vocab_text(vocabulary: list[str] | tuple[str, ...], index: np.ndarray,
                valid: np.ndarray | None = None) -> pa.Array:
    """Words of a small vocabulary picked by ``index``; empty where not valid."""
    words = pa.array([_csv_field(w) for w in vocabulary], type=pa.string())
    text = words.take(pa.array(np.clip(index, 0, len(vocabulary) - 1)))
    return text if valid is None else pc.if_else(pa.array(valid), text, "")


def _header(columns: list[str] | tuple[str, ...]) -> bytes:
    return (",".join(f'"{c}"' for c in columns) + "\n").encode()


def _write_rows(handle: BinaryIO, columns: list[pa.Array]) -> int:
    """Append rows (one rendered string array per column) to ``handle``; return the row count."""
    n = len(columns[0])
    if n == 0:
        return 0
    lines = pc.binary_join_element_wise(*columns, ",")
    text = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), lines), "\n")
    handle.write(text[0].as_buffer())
    handle.write(b"\n")
    return n


# ---------------------------------------------------------------- the catalogue: places, products, sellers


@dataclass
class _Catalogue:
    zip_prefix: np.ndarray
    zip_city: np.ndarray  # index into _CITIES
    product_ids: np.ndarray
    product_category: np.ndarray  # index into _CATEGORIES; len(_CATEGORIES) = no category
    product_seller: np.ndarray
    category_products: np.ndarray  # product indices grouped by category
    category_starts: np.ndarray
    category_counts: np.ndarray
    seller_ids: np.ndarray
    seller_zip: np.ndarray  # index into zip_prefix


@cache
def _cities() -> tuple[tuple[str, str, int, int, float, float, float], ...]:
    """(city, state, zip low, zip high, lat, lng, weight) for every city; capitals weigh most."""
    out = []
    for state, weight, cities in _STATES:
        rest = len(cities) - 1
        for k, (city, low, high, lat, lng) in enumerate(cities):
            share = 1.0 if rest == 0 else (0.6 if k == 0 else 0.4 / rest)
            out.append((city, state, low, high, lat, lng, weight * share))
    return tuple(out)


def _catalogue(rng: np.random.Generator, customers: int) -> _Catalogue:
    cities = _cities()
    n_zips = int(np.clip(customers // 4, 300, 15_000))
    n_products = int(np.clip(customers // 3, 2 * len(_CATEGORIES), 60_000))
    n_sellers = int(np.clip(customers // 30, 30, 5_000))

    city_weight = np.array([c[6] for c in cities])
    draws = 4 * n_zips
    city = rng.choice(len(cities), size=draws, p=city_weight / city_weight.sum())
    low = np.array([c[2] for c in cities])[city]
    high = np.array([c[3] for c in cities])[city]
    prefix = low + np.floor(rng.random(draws) * (high - low + 1)).astype(np.int64)
    _, first = np.unique(prefix, return_index=True)
    keep = np.sort(first)[:n_zips]  # unique prefixes, in the order drawn

    n_categories = len(_CATEGORIES)
    weights = np.array([w for _, _, w in _CATEGORIES] + [_NO_CATEGORY_WEIGHT])
    # every category gets at least one product, so any preferred category can be bought
    category = np.concatenate([
        np.arange(n_categories + 1),
        rng.choice(n_categories + 1, size=n_products - n_categories - 1, p=weights / weights.sum()),
    ])
    order = np.argsort(category, kind="stable")
    counts = np.bincount(category, minlength=n_categories + 1)

    seller_state_sp = np.array([cities[c][1] == "SP" for c in city[keep]])
    seller_weight = np.where(seller_state_sp, 3.0, 1.0)  # sellers concentrate in SP
    return _Catalogue(
        zip_prefix=prefix[keep],
        zip_city=city[keep],
        product_ids=_hex_ids(rng, n_products),
        product_category=category,
        # a few sellers carry many products
        product_seller=np.floor(n_sellers * rng.random(n_products) ** 2).astype(np.int64),
        category_products=order,
        category_starts=_group_starts(counts),
        category_counts=counts,
        seller_ids=_hex_ids(rng, n_sellers),
        seller_zip=rng.choice(len(keep), size=n_sellers, p=seller_weight / seller_weight.sum()),
    )


def _product_columns(rng: np.random.Generator, cat: _Catalogue) -> list[pa.Array]:
    n = len(cat.product_ids)
    named = cat.product_category < len(_CATEGORIES)
    names = [c for c, _, _ in _CATEGORIES]
    weight = np.rint(np.exp(rng.normal(6.5, 1.1, n))).clip(50, 30_000).astype(np.int64)
    return [
        _id_text(cat.product_ids),
        _vocab_text(names, cat.product_category, named),
        _int_text(rng.integers(20, 65, n), named),
        _int_text(np.rint(np.exp(rng.normal(6.4, 0.8, n))).clip(20, 4000).astype(np.int64), named),
        _int_text(rng.integers(1, 7, n), named),
        _int_text(weight),
        _int_text(rng.integers(12, 90, n)),
        _int_text(rng.integers(2, 60, n)),
        _int_text(rng.integers(10, 60, n)),
    ]


def _seller_columns(cat: _Catalogue) -> list[pa.Array]:
    cities = _cities()
    city = cat.zip_city[cat.seller_zip]
    return [
        _id_text(cat.seller_ids),
        _zip_text(cat.zip_prefix[cat.seller_zip]),
        _vocab_text([c[0] for c in cities], city),
        _vocab_text([c[1] for c in cities], city),
    ]


def _geolocation_columns(rng: np.random.Generator, cat: _Catalogue) -> list[pa.Array]:
    """Several points per zip prefix around its city, city names sometimes accented."""
    cities = _cities()
    repeats = 1 + rng.poisson(1.5, len(cat.zip_prefix))
    zip_index = np.repeat(np.arange(len(cat.zip_prefix)), repeats)
    city = cat.zip_city[zip_index]
    n = len(zip_index)
    lat = np.array([c[4] for c in cities])[city] + rng.normal(0, 0.04, n)
    lng = np.array([c[5] for c in cities])[city] + rng.normal(0, 0.04, n)
    names = [c[0] for c in cities]
    spelled = names + [_ACCENTED.get(c, c) for c in names]
    accented = rng.random(n) < 0.15
    return [
        _zip_text(cat.zip_prefix[zip_index]),
        _float_text(lat),
        _float_text(lng),
        _vocab_text(spelled, city + accented * len(names)),
        _vocab_text([c[1] for c in cities], city),
    ]


def _translation_bytes() -> bytes:
    """The translation table as the export writes it: a BOM, no quotes, no final newline."""
    rows = ["product_category_name,product_category_name_english"]
    rows += [f"{pt},{en}" for pt, en, _ in _CATEGORIES if en is not None]
    return "\ufeff".encode() + "\n".join(rows).encode()


# ---------------------------------------------------------------- one chunk of customers


@dataclass
class _Chunk:
    tables: dict[str, list[pa.Array]]
    persona: np.ndarray  # per customer
    orders_per_customer: np.ndarray


def _arrival_cdf(horizon: _Horizon, drift_month: int | None) -> np.ndarray:
    """Share of customers arrived by each month boundary: uniform in time, faster from the drift month."""
    rate = np.ones(len(horizon.bounds) - 1)
    if drift_month is not None:
        rate[drift_month - 1:] = DRIFT_ARRIVAL_RATE
    mass = np.concatenate([[0.0], np.cumsum(np.diff(horizon.bounds) * rate)])
    return mass / mass[-1]


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


# ---------------------------------------------------------------- the whole data set


def _chunk_sizes(customers: int) -> list[int]:
    full, rest = divmod(customers, CHUNK_CUSTOMERS)
    return [CHUNK_CUSTOMERS] * full + ([rest] if rest else [])


_TRUTH_COLUMNS = ("customer_unique_id", "persona", "first_purchase_month")


def generate(
    out_dir: str | Path,
    customers: int = 10_000,
    seed: int = 0,
    months: int = DEFAULT_MONTHS,
    *,
    start: str | date = DEFAULT_START,
    drift_mix: bool = False,
    drift_month: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write the nine Olist CSV files and ``truth.csv`` for ``customers`` people into ``out_dir``.

    ``start`` is the first day of a horizon of ``months`` months; ``drift_mix`` and
    ``drift_month`` (1-based) plant drift as described in the module docstring. ``progress`` is
    called with the number of customers done after each chunk. Files are written to temporary
    names and renamed when all are complete.
    """
    _check_arguments(customers, months, drift_month)
    first_day = _parse_start(start)
    horizon = _horizon(first_day, months)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", file=out)
    root = np.random.SeedSequence(seed)
    catalogue_ss, *chunk_ss = root.spawn(1 + len(_chunk_sizes(customers)))
    cat_rng = np.random.default_rng(catalogue_ss)
    cat = _catalogue(cat_rng, customers)

    targets = {name: out / spec.csv_name for name, spec in TABLES.items()}
    targets["truth"] = out / TRUTH_FILE
    rows = dict.fromkeys(targets, 0)
    persona_counts = np.zeros(_TRUTH_PERSONAS, dtype=np.int64)
    one_timers = 0
    with ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(path)) for name, path in targets.items()}
        handles = {name: stack.enter_context(open(tmp[name], "wb")) for name in targets if name != "category_translation"}
        for name, handle in handles.items():
            columns = _TRUTH_COLUMNS if name == "truth" else tuple(TABLES[name].columns)
            handle.write(_header(columns))
        rows["products"] = _write_rows(handles["products"], _product_columns(cat_rng, cat))
        rows["sellers"] = _write_rows(handles["sellers"], _seller_columns(cat))
        rows["geolocation"] = _write_rows(handles["geolocation"], _geolocation_columns(cat_rng, cat))
        tmp["category_translation"].write_bytes(_translation_bytes())
        rows["category_translation"] = sum(1 for c in _CATEGORIES if c[1] is not None)
        done = 0
        for ss, size in zip(chunk_ss, _chunk_sizes(customers)):
            chunk = _chunk(ss, size, horizon, cat, drift_mix, drift_month)
            for name, columns in chunk.tables.items():
                rows[name] += _write_rows(handles[name], columns)
            persona_counts += np.bincount(chunk.persona, minlength=_TRUTH_PERSONAS)
            one_timers += int((chunk.orders_per_customer == 1).sum())
            done += size
            if progress is not None:
                progress(done)
    return SynthSummary(
        out_dir=out,
        files=targets,
        rows=rows,
        customers=customers,
        orders=rows["orders"],
        start=first_day,
        end=pd.Timestamp(horizon.end, unit="s").date(),
        months=months,
        seed=seed,
        drift_mix=drift_mix,
        drift_month=drift_month,
        persona_counts={BEHAVIOURS[i].name: int(c) for i, c in enumerate(persona_counts) if c},
        one_time_share=one_timers / customers,
    )


# ---------------------------------------------------------------- a generic transaction log


def cdnow_log(path: str | Path, customers: int = 1_000, seed: int = 0) -> Path:
    """Write a CDNOW-style log: whitespace-separated, no header, ``customer_id date count amount``.

    Ids are zero-padded numbers (00001), dates ``YYYYMMDD`` in 1997-01-01..1998-06-30, counts 1-12 CDs,
    amounts with two decimals (some 0.00, as in the original). Rows are sorted by customer and
    date; most customers buy once, a third buy again. Deterministic from ``seed``.
    """
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    first_day = np.datetime64("1997-01-01")
    span = int((np.datetime64("1998-07-01") - first_day).astype(int))
    # customers joined during the first quarter, as in CDNOW's cohort
    arrival = rng.integers(0, 90, customers)
    extra = np.where(rng.random(customers) < 0.35, rng.geometric(0.3, customers), 0)
    counts = 1 + extra
    customer = np.repeat(np.arange(customers), counts)
    start = arrival[customer]
    day = np.where(_rank_in_group(counts) > 0, start + np.floor(rng.random(len(customer)) * (span - start)), start)
    order = np.lexsort((day, customer))
    customer, day = customer[order], day[order].astype(np.int64)
    cds = np.minimum(rng.geometric(0.55, len(customer)), 12)
    amount = np.round(cds * rng.uniform(9.0, 16.0, len(customer)), 2)
    amount[rng.random(len(customer)) < 0.002] = 0.0
    dates = (first_day + day).astype("datetime64[D]").astype(str)
    lines = [
        f"   {c + 1:05d} {d.replace('-', '')} {k:>2d} {a:>6.2f}"
        for c, d, k, a in zip(customer, dates, cds, amount)
    ]
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
    return target
