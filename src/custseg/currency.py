"""Money as a reader sees it: amounts in the shop's currency, in text, chart axes and tables.

A currency is given as an ISO 4217 code (``BRL``, ``USD``) or as a symbol (``R$``, ``$``, ``€``).
An Olist export is in Brazilian reais; a transaction log has no currency of its own, so its
amounts are shown as plain numbers unless one is given.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

#: Symbols of common codes; any other code is shown as the code itself ("CHF 12.50").
SYMBOLS = {"BRL": "R$", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹",
           "AUD": "A$", "CAD": "C$", "MXN": "MX$", "KRW": "₩"}
#: The currency of data when none is given, by kind of data.
DEFAULTS = {"olist": "BRL", "log": ""}
MAX_LENGTH = 5


@dataclass(frozen=True)
class Money:
    """How amounts read: ``symbol`` before the number (empty: a plain number)."""

    symbol: str = ""

    def amount(self, value: float | None, digits: int = 2) -> str:
        """``R$ 1,234.50``; an en dash for a missing value."""
        if value is None or value != value:
            return "–"
        number = f"{value:,.{digits}f}"
        return f"{self.symbol} {number}" if self.symbol else number

    def unit(self, label: str) -> str:
        """An axis or column title with the currency: ``basket value (R$)``."""
        return f"{label} ({self.symbol})" if self.symbol else label


def money(currency: str | None = None, kind: str = "olist") -> Money:
    """The :class:`Money` of ``currency`` (a code or a symbol), or of the data ``kind``'s default."""
    text = DEFAULTS.get(kind, "") if currency is None else str(currency).strip()
    if len(text) > MAX_LENGTH or any(c.isspace() or c.isdigit() for c in text):
        raise InputError(f"currency: {currency!r} is not a currency code or symbol (e.g. BRL, USD, $, €)")
    return Money(SYMBOLS.get(text.upper(), text))
