"""The catalogue shared by all customers: places, products, sellers, geolocation, category names."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from .columns import (
    _float_text,
    _group_starts,
    _hex_ids,
    _id_text,
    _int_text,
    _vocab_text,
    _zip_text,
)
from .vocabulary import _ACCENTED, _CATEGORIES, _NO_CATEGORY_WEIGHT, _STATES

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
