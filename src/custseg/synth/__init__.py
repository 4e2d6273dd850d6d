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

The package follows the generation: :mod:`.personas` (who buys what, the horizon),
:mod:`.vocabulary` (data tables), :mod:`.columns` (random draws, CSV text), :mod:`.catalogue`
(places, products, sellers), :mod:`.chunk` (one chunk of customers) and :mod:`.files` (the files).
"""
from __future__ import annotations

from .files import SynthSummary, cdnow_log, generate
from .personas import (
                       BEHAVIOURS,
                       CHUNK_CUSTOMERS,
                       DAY,
                       DEFAULT_MONTHS,
                       DEFAULT_START,
                       DISAPPOINTED_BIG_SPENDER,
                       DRIFT_ARRIVAL_RATE,
                       DRIFT_MIX_FACTOR,
                       DRIFT_NEW_SHARE,
                       DRIFTED_BEHAVIOURS,
                       PAYMENT_TYPES,
                       PERSONAS,
                       TRUTH_FILE,
                       VOUCHER_DEAL_SEEKER,
                       Persona,
                       customers_for_orders,
                       orders_per_customer,
                       persona_shares,
)

__all__ = [
    "BEHAVIOURS", "CHUNK_CUSTOMERS", "DAY", "DEFAULT_MONTHS", "DEFAULT_START", "DISAPPOINTED_BIG_SPENDER",
    "DRIFTED_BEHAVIOURS", "DRIFT_ARRIVAL_RATE", "DRIFT_MIX_FACTOR", "DRIFT_NEW_SHARE", "PAYMENT_TYPES", "PERSONAS",
    "TRUTH_FILE", "VOUCHER_DEAL_SEEKER", "Persona", "SynthSummary", "cdnow_log", "customers_for_orders",
    "generate", "orders_per_customer", "persona_shares",
]
