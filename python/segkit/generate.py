"""Deterministic, vectorised demo-data generator for the segmentation warehouse.

The generator simulates one coherent business: an online-learning platform that
sells individual courses (each with a category and a creator) and offers
subscriptions in ``Basic`` / ``Standard`` / ``Premium`` tiers.  Every customer
is assigned a *hidden* behavioural type that drives all of their behaviour, so
that segmentation downstream has real structure to discover:

======================  =====  ==============================================
type                    share  behaviour
======================  =====  ==============================================
``loyal_high_spender``   12%   buys often at full price, Premium, watches a
                               lot, completes courses, high NPS, rarely churns
``regular``              25%   steady moderate buyer, Standard, some lapse
``bargain_hunter``       20%   frequent small discounted purchases of cheap
                               courses, Basic, affiliate links, low completion
``one_time_buyer``       25%   exactly one purchase soon after sign-up, then
                               goes silent
``quiet_churner``        18%   active for a few months after sign-up, many
                               support contacts, low NPS, cancels, then silent
======================  =====  ==============================================

All randomness comes from a single ``numpy.random.default_rng(seed)`` that is
threaded through the code (no global state), so the same arguments always give
the same tables, and :func:`write` turns them into byte-identical files.

Everything is vectorised: per-customer counts are expanded into rows with
``numpy.repeat``/``cumsum`` tricks, and each event block is generated already
ordered by (customer, time) so that the final ordering is a cheap merge.
One million customers (~20M transactions, ~50M events) generate in well under
two minutes on a small machine.

Usage::

    python -m segkit.generate --customers 5000 --seed 42 --out seeds/demo
    python -m segkit.generate --customers 1000000 --out /tmp/big --format parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "CUSTOMER_TYPES",
    "DEFAULT_CUSTOMERS",
    "SCHEMAS",
    "TABLE_NAMES",
    "generate",
    "main",
    "write",
]

#: Default number of customers.  Sized so that the default CSVs stay small
#: enough to commit while keeping the full per-customer behaviour.
DEFAULT_CUSTOMERS = 3000

#: Output tables, in writing order.
TABLE_NAMES: tuple[str, ...] = (
    "customers",
    "transactions",
    "events",
    "subscriptions",
    "customer_types",
)

_TS = pa.timestamp("s")

#: Canonical output schemas (the project's input contract; do not rename).
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signed_up_at", _TS),
            ("country", pa.string()),
            ("region", pa.string()),
            ("age_group", pa.string()),
            ("gender", pa.string()),
            ("occupation", pa.string()),
            ("referral_channel", pa.string()),
        ]
    ),
    "transactions": pa.schema(
        [
            ("transaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("transacted_at", _TS),
            ("amount", pa.float64()),
            ("product_id", pa.string()),
            ("product_category", pa.string()),
            ("creator_id", pa.string()),
            ("channel", pa.string()),
            ("quantity", pa.int32()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("event_at", _TS),
            ("event_name", pa.string()),
            ("object_id", pa.string()),
            ("value", pa.float64()),
            ("properties", pa.string()),
        ]
    ),
    "subscriptions": pa.schema(
        [
            ("subscription_id", pa.string()),
            ("customer_id", pa.string()),
            ("plan_level", pa.string()),
            ("plan_type", pa.string()),
            ("monthly_amount", pa.float64()),
            ("started_at", _TS),
            ("ended_at", _TS),
            ("end_reason", pa.string()),
            ("is_churned", pa.bool_()),
        ]
    ),
    "customer_types": pa.schema(
        [
            ("customer_id", pa.string()),
            ("customer_type", pa.string()),
        ]
    ),
}

# Number of decimals used for floating columns when writing CSV.
_CSV_DECIMALS: dict[str, dict[str, int]] = {
    "transactions": {"amount": 2},
    "subscriptions": {"monthly_amount": 2},
    "events": {"value": 1},
}

_DAY = 86_400
_HOUR = 3_600
_MONTH = 30 * _DAY

# --------------------------------------------------------------------------
# Hidden customer types and their parameters (index = type code).
# --------------------------------------------------------------------------
CUSTOMER_TYPES: tuple[str, ...] = (
    "loyal_high_spender",
    "regular",
    "bargain_hunter",
    "one_time_buyer",
    "quiet_churner",
)
_LOYAL, _REGULAR, _BARGAIN, _ONE_TIME, _CHURNER = range(5)
_TYPE_SHARES = np.array([0.12, 0.25, 0.20, 0.25, 0.18])


def _p(*values: float) -> np.ndarray:
    """Per-type parameter vector (order of ``CUSTOMER_TYPES``)."""
    return np.asarray(values, dtype=np.float64)


# fmt: off
_SIGNUP_MAX      = _p(0.75, 0.92, 0.92, 0.97, 0.62)   # latest sign-up, share of the period
_ZERO_TX         = _p(0.00, 0.04, 0.02, 0.00, 0.20)   # P(never buys)
_TX_PER_MONTH    = _p(4.10, 1.65, 3.15, 0.00, 1.65)   # purchase rate while active
_FIRST_TX_DELAY  = _p(2.0, 6.0, 4.0, 3.0, 3.0)         # days, mean (when not same session)
_P_BASKET        = _p(0.14, 0.08, 0.18, 0.00, 0.08)   # P(purchase in same session as previous)
_P_MULTI_QTY     = _p(0.07, 0.03, 0.02, 0.02, 0.02)   # P(quantity > 1)
_P_DISCOUNT      = _p(0.10, 0.22, 0.85, 0.45, 0.30)
_DISC_LO         = _p(0.10, 0.10, 0.40, 0.20, 0.10)
_DISC_HI         = _p(0.25, 0.40, 0.80, 0.60, 0.50)
_PRICE_BETA      = _p(0.60, 0.00, -0.90, 0.00, 0.00)  # price preference in product choice
_P_REFUND        = _p(0.004, 0.009, 0.012, 0.020, 0.016)
# engagement (events)
_SESSIONS_PM     = _p(4.5, 1.7, 1.9, 1.6, 2.9)        # sessions per active month
_SESSION_MIN     = _p(34.0, 20.0, 15.0, 12.0, 13.0)   # mean session minutes
_VIDEOS_PM       = _p(2.8, 1.1, 0.70, 1.2, 1.6)       # videos per active month
_VIDEOS_PER_ENR  = _p(0.45, 0.50, 0.30, 1.50, 0.45)   # videos per enrolled course
_VIDEO_MIN       = _p(26.0, 17.0, 9.0, 10.0, 9.0)     # mean minutes per video
_QUIZ_PER_ENR    = _p(0.60, 0.45, 0.20, 0.60, 0.25)
_QUIZ_MEAN       = _p(82.0, 71.0, 61.0, 60.0, 55.0)
_P_COMPLETE      = _p(0.72, 0.45, 0.17, 0.30, 0.13)
_COMPLETE_DAYS   = _p(12.0, 20.0, 25.0, 14.0, 25.0)   # mean days enrolment -> completion
_SUPPORT_PM      = _p(0.05, 0.07, 0.12, 0.10, 0.55)
_SUPPORT_SKEW    = _p(1.0, 1.0, 1.0, 1.0, 0.45)       # <1: contacts pile up before churn
_NPS_PM          = _p(0.09, 0.05, 0.05, 0.25, 0.12)   # answered surveys per active month
_NPS_MEAN        = _p(9.0, 7.6, 6.6, 6.0, 3.6)
# subscriptions
_P_SUBSCRIBE     = _p(0.95, 0.66, 0.60, 0.35, 0.75)
_SUB_DELAY       = _p(15.0, 40.0, 30.0, 5.0, 7.0)     # days, mean (when not at sign-up)
_SUB_DURATION    = _p(420.0, 260.0, 170.0, 90.0, 90.0)  # days, mean length of a period
_P_ANNUAL        = _p(0.50, 0.30, 0.12, 0.08, 0.08)
_P_REACTIVATE    = _p(0.60, 0.35, 0.40, 0.10, 0.03)
_TIER_P = np.array([  # Basic, Standard, Premium
    [0.07, 0.28, 0.65],
    [0.25, 0.55, 0.20],
    [0.78, 0.19, 0.03],
    [0.60, 0.32, 0.08],
    [0.50, 0.40, 0.10],
])
_CHANGE_P = np.array([  # upgrade, downgrade, cancel
    [0.55, 0.20, 0.25],
    [0.30, 0.25, 0.45],
    [0.12, 0.28, 0.60],
    [0.10, 0.10, 0.80],
    [0.05, 0.15, 0.80],
])
# fmt: on

# --------------------------------------------------------------------------
# Customer attributes.
# --------------------------------------------------------------------------
_REGIONS = ("Europe", "North America", "Asia", "Africa", "South America", "Oceania")
_COUNTRIES: tuple[tuple[str, int, float], ...] = (  # name, region index, weight
    ("United States", 1, 18.0), ("Canada", 1, 4.0), ("Mexico", 1, 2.0),
    ("United Kingdom", 0, 7.0), ("Germany", 0, 6.0), ("France", 0, 4.0),
    ("Spain", 0, 3.0), ("Italy", 0, 2.5), ("Netherlands", 0, 2.0),
    ("Poland", 0, 2.0), ("Sweden", 0, 1.5),
    ("India", 2, 12.0), ("Japan", 2, 3.0), ("Indonesia", 2, 2.5),
    ("Philippines", 2, 2.0), ("Singapore", 2, 1.5), ("Vietnam", 2, 1.5),
    ("South Korea", 2, 1.5),
    ("Nigeria", 3, 2.5), ("South Africa", 3, 1.5), ("Egypt", 3, 1.3), ("Kenya", 3, 1.2),
    ("Brazil", 4, 4.0), ("Argentina", 4, 1.5), ("Colombia", 4, 1.5), ("Chile", 4, 1.0),
    ("Australia", 5, 3.0), ("New Zealand", 5, 0.8),
)
_REGION_MULT = np.array([  # per type, per region (Eu, NA, Asia, Af, SA, Oc)
    [1.2, 1.3, 0.8, 0.6, 0.7, 1.2],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [0.8, 0.7, 1.4, 1.5, 1.4, 0.8],
    [1.0, 1.0, 1.0, 1.1, 1.0, 1.0],
    [1.0, 1.0, 1.1, 1.1, 1.1, 1.0],
])
_AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55+")
_AGE_P = np.array([
    [0.07, 0.33, 0.32, 0.18, 0.10],
    [0.17, 0.33, 0.25, 0.15, 0.10],
    [0.35, 0.33, 0.16, 0.10, 0.06],
    [0.20, 0.30, 0.23, 0.15, 0.12],
    [0.24, 0.32, 0.21, 0.13, 0.10],
])
_STUDENT_AGE_P = np.array([0.70, 0.24, 0.04, 0.015, 0.005])
_GENDERS = ("Female", "Male", "Non-binary")
_GENDER_P = np.array([0.47, 0.50, 0.03])
_OCCUPATIONS = (
    "Student", "Software Engineer", "Data Analyst", "Teacher",
    "Manager", "Designer", "Healthcare", "Other",
)
_OCCUPATION_P = np.array([
    [0.05, 0.24, 0.20, 0.07, 0.20, 0.10, 0.06, 0.08],
    [0.14, 0.18, 0.13, 0.10, 0.13, 0.10, 0.09, 0.13],
    [0.38, 0.10, 0.08, 0.09, 0.05, 0.10, 0.06, 0.14],
    [0.18, 0.12, 0.09, 0.11, 0.11, 0.09, 0.11, 0.19],
    [0.22, 0.13, 0.10, 0.10, 0.10, 0.09, 0.09, 0.17],
])
_REFERRALS = ("organic_search", "paid_search", "social", "referral", "email", "partner")
_REFERRAL_P = np.array([
    [0.30, 0.10, 0.10, 0.30, 0.10, 0.10],
    [0.30, 0.18, 0.17, 0.15, 0.10, 0.10],
    [0.15, 0.25, 0.30, 0.08, 0.12, 0.10],
    [0.20, 0.30, 0.25, 0.07, 0.06, 0.12],
    [0.22, 0.25, 0.22, 0.10, 0.09, 0.12],
])
_CHANNELS = ("web", "mobile_app", "partner", "affiliate")
_CHANNEL_P = np.array([
    [0.50, 0.40, 0.05, 0.05],
    [0.55, 0.30, 0.08, 0.07],
    [0.35, 0.25, 0.10, 0.30],
    [0.50, 0.15, 0.18, 0.17],
    [0.50, 0.30, 0.10, 0.10],
])

# --------------------------------------------------------------------------
# Catalogue: 60 courses in 8 categories by 15 creators.
# --------------------------------------------------------------------------
_CATEGORIES = (
    "Data Science", "Programming", "Design", "Business",
    "Marketing", "Language", "Music", "Photography",
)
_PRODUCTS_PER_CATEGORY = np.array([9, 10, 7, 8, 7, 7, 6, 6])  # 60 courses
_CATEGORY_P = np.array([0.19, 0.22, 0.12, 0.12, 0.10, 0.11, 0.07, 0.07])
# Affinity: weights of the *secondary* interest given the primary one.
_AFFINITY = np.array([
    # DS    Prog  Dsgn  Bus   Mkt   Lang  Music Photo
    [0.00, 0.62, 0.04, 0.20, 0.06, 0.04, 0.02, 0.02],  # Data Science
    [0.62, 0.00, 0.15, 0.08, 0.05, 0.05, 0.03, 0.02],  # Programming
    [0.04, 0.14, 0.00, 0.06, 0.24, 0.04, 0.03, 0.45],  # Design
    [0.18, 0.05, 0.04, 0.00, 0.55, 0.12, 0.02, 0.04],  # Business
    [0.06, 0.04, 0.22, 0.50, 0.00, 0.06, 0.02, 0.10],  # Marketing
    [0.04, 0.04, 0.04, 0.30, 0.16, 0.00, 0.36, 0.06],  # Language
    [0.02, 0.04, 0.14, 0.02, 0.04, 0.36, 0.00, 0.38],  # Music
    [0.02, 0.02, 0.50, 0.04, 0.14, 0.04, 0.24, 0.00],  # Photography
])
_CREATOR_HOME = (  # category index of each creator CR01..CR15
    0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 7, 0,
)
_PRICE_LEVELS = (
    np.array([29.99, 49.99, 79.99, 99.99, 129.99, 199.99]),  # tech categories
    np.array([19.99, 29.99, 39.99, 49.99, 79.99, 99.99]),  # everything else
)
_TECH_CATEGORIES = (0, 1)

# --------------------------------------------------------------------------
# Events and subscriptions.
# --------------------------------------------------------------------------
# Codes are in "natural" order for events that share a timestamp.
_EVENT_NAMES = (
    "signed_up", "session_started", "enrolled_in_course", "video_watched",
    "quiz_submitted", "completed_course", "support_contact", "nps_answered",
)
(_EV_SIGNUP, _EV_SESSION, _EV_ENROLL, _EV_VIDEO,
 _EV_QUIZ, _EV_COMPLETE, _EV_SUPPORT, _EV_NPS) = range(8)
_SUPPORT_TOPICS = ("billing", "technical", "content", "account", "refund", "certificate")
_SUPPORT_TOPIC_P = np.array([
    [0.15, 0.30, 0.25, 0.15, 0.05, 0.10],
    [0.22, 0.30, 0.18, 0.15, 0.08, 0.07],
    [0.30, 0.22, 0.12, 0.13, 0.18, 0.05],
    [0.25, 0.25, 0.12, 0.15, 0.18, 0.05],
    [0.32, 0.28, 0.12, 0.12, 0.14, 0.02],
])
# properties strings: referral channels first, then support topics
_PROPERTIES = tuple(f'{{"referral_channel":"{r}"}}' for r in _REFERRALS) + tuple(
    f'{{"topic":"{t}"}}' for t in _SUPPORT_TOPICS
)
_OUT_OF_ORDER_SHARE = 0.003  # completions recorded before their enrolment

_PLAN_LEVELS = ("Basic", "Standard", "Premium")
_PLAN_TYPES = ("monthly", "annual")
_MONTHLY_PRICE = (Decimal("9.99"), Decimal("19.99"), Decimal("39.99"))
# monthly_amount[level, plan_type]; annual = 10 x monthly / 12, rounded half-up
_PLAN_AMOUNT = np.array(
    [
        [float(m), float((m * 10 / 12).quantize(Decimal("0.01"), ROUND_HALF_UP))]
        for m in _MONTHLY_PRICE
    ]
)
_END_REASONS = ("upgrade", "downgrade", "cancel")
_MAX_PERIODS = 12

ProgressFn = Callable[[str, int, float], None]


# ==========================================================================
# Small vectorised helpers
# ==========================================================================
def _categorical(rng: np.random.Generator, group: np.ndarray | int, probs: np.ndarray,
                 size: int | None = None) -> np.ndarray:
    """Draw one category per row, with a probability row chosen by ``group``.

    ``probs`` is a (G, K) matrix of (unnormalised, non-negative) weights.  All
    groups are searched at once in a single ``searchsorted`` over a flattened
    CDF in which group ``g`` occupies the interval ``[g, g + 1]``.
    """
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    n_groups, k = probs.shape
    if np.isscalar(group):
        group = np.full(int(size), int(group), dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    flat = (np.arange(n_groups, dtype=np.float64)[:, None] + cdf).ravel()
    u = rng.random(group.size) * (1.0 - 1e-9)
    idx = np.searchsorted(flat, group + u, side="right") - group * k
    last = k - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)  # last allowed column
    return np.minimum(idx, last[group]).astype(np.int16 if k < 32_000 else np.int64)


def _expand(counts: np.ndarray) -> np.ndarray:
    """Group index for every row when group ``i`` has ``counts[i]`` rows."""
    return np.repeat(np.arange(counts.size, dtype=np.int32), counts)


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start offset of every group (exclusive cumulative sum)."""
    out = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _sorted_fractions(rng: np.random.Generator, counts: np.ndarray,
                      grp: np.ndarray | None = None) -> np.ndarray:
    """Per group, ``counts[g]`` sorted uniform draws in (0, 1), in O(rows).

    Uses the fact that normalised partial sums of ``n + 1`` exponential
    spacings are distributed as the order statistics of ``n`` uniforms, so no
    sort is needed.
    """
    total_rows = int(counts.sum())
    if total_rows == 0:
        return np.zeros(0)
    if grp is None:
        grp = _expand(counts)
    cs = np.cumsum(rng.standard_exponential(total_rows))
    extra = rng.standard_exponential(counts.size)
    starts = _offsets(counts)
    ends = starts + counts
    base = np.zeros(counts.size)
    has_prev = starts > 0
    base[has_prev] = cs[starts[has_prev] - 1]
    total = extra.copy()
    nz = counts > 0
    total[nz] += cs[ends[nz] - 1] - base[nz]
    cs -= base[grp]
    cs /= total[grp]
    return cs


def _monotone_within(grp: np.ndarray, ts: np.ndarray, origin: int) -> np.ndarray:
    """Running maximum of ``ts`` restarted for every group (rows grouped)."""
    span = int(ts.max() - origin) + 2 if ts.size else 2
    key = grp.astype(np.int64) * span + (ts - origin)
    np.maximum.accumulate(key, out=key)
    return key - grp.astype(np.int64) * span + origin


def _fixed_width_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """Build ``prefix + zero-padded number`` strings without Python loops."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    pfx = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    row_len = pfx.size + width
    buf = np.empty((n, row_len), dtype=np.uint8)
    buf[:, : pfx.size] = pfx
    rest = numbers.copy()
    for pos in range(row_len - 1, pfx.size - 1, -1):
        buf[:, pos] = 48 + (rest % 10)
        rest //= 10
    offsets = np.arange(0, (n + 1) * row_len, row_len, dtype=np.int64)
    if offsets[-1] < 2**31:
        offsets = offsets.astype(np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    return arr.cast(pa.string())


def _take(labels: Sequence[str] | pa.Array, codes: np.ndarray,
          null_mask: np.ndarray | None = None) -> pa.Array:
    """Map integer codes to strings (``null_mask`` rows become null)."""
    dictionary = labels if isinstance(labels, pa.Array) else pa.array(list(labels), pa.string())
    idx = pa.array(np.asarray(codes, dtype=np.int32), mask=null_mask)
    return dictionary.take(idx)


def _ts_array(seconds: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.int64(), mask=null_mask).cast(_TS)


def _parse_period(start: str, end: str) -> tuple[int, int]:
    """Return (first second, last second) of the period; a date ``end`` is inclusive."""
    s = np.datetime64(start)
    e = np.datetime64(end)
    start_s = int(s.astype("datetime64[s]").astype(np.int64))
    if np.datetime_data(e.dtype)[0] in ("D", "M", "Y", "W"):
        end_s = int((e.astype("datetime64[D]") + 1).astype("datetime64[s]").astype(np.int64)) - 1
    else:
        end_s = int(e.astype("datetime64[s]").astype(np.int64))
    if end_s - start_s < 60 * _DAY:
        raise ValueError("the period must span at least 60 days")
    return start_s, end_s


def _id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count, 1))))


# ==========================================================================
# Generation steps
# ==========================================================================
class _Catalogue:
    """The product catalogue (seed-dependent but fixed within a dataset)."""

    def __init__(self, rng: np.random.Generator) -> None:
        n_cat = len(_CATEGORIES)
        cats = np.repeat(np.arange(n_cat), _PRODUCTS_PER_CATEGORY)
        self.category = rng.permutation(cats).astype(np.int16)
        self.n = self.category.size
        # popularity: Zipf-like over random ranks -> best sellers and laggards
        ranks = rng.permutation(self.n)
        self.popularity = 1.0 / (ranks + 1.0) ** 1.05
        # price from category-specific levels
        self.price = np.empty(self.n)
        for c in range(n_cat):
            levels = _PRICE_LEVELS[0 if c in _TECH_CATEGORIES else 1]
            m = self.category == c
            self.price[m] = levels[rng.integers(0, levels.size, int(m.sum()))]
        # creators specialise in a home category
        home = np.asarray(_CREATOR_HOME)
        self.creator = np.empty(self.n, dtype=np.int16)
        for c in range(n_cat):
            pool = np.flatnonzero(home == c)
            m = self.category == c
            self.creator[m] = rng.choice(pool, int(m.sum()))
        # product-choice tables per (type, category): rows of padded weights
        k = int(_PRODUCTS_PER_CATEGORY.max())
        n_types = len(CUSTOMER_TYPES)
        self.choice_w = np.zeros((n_types * n_cat, k))
        self.choice_prod = np.zeros((n_types * n_cat, k), dtype=np.int16)
        rel_price = self.price / np.median(self.price)
        for t in range(n_types):
            w_all = self.popularity * rel_price ** _PRICE_BETA[t]
            for c in range(n_cat):
                prods = np.flatnonzero(self.category == c)
                self.choice_w[t * n_cat + c, : prods.size] = w_all[prods]
                self.choice_prod[t * n_cat + c, : prods.size] = prods
        # companion ("customers also bought") course for each course: a
        # popular course of the most affine other category.
        self.companion = np.empty(self.n, dtype=np.int16)
        for p in range(self.n):
            c2 = int(np.argmax(_AFFINITY[self.category[p]]))
            cands = np.flatnonzero(self.category == c2)
            w = self.popularity[cands] ** 0.5
            self.companion[p] = rng.choice(cands, p=w / w.sum())
        width = _id_width(self.n, 3)
        self.product_ids = _fixed_width_ids("P", np.arange(1, self.n + 1), width)
        self.creator_ids = _fixed_width_ids("CR", np.arange(1, len(_CREATOR_HOME) + 1), 2)


def _make_customers(rng: np.random.Generator, n: int, start: int, end: int) -> dict[str, np.ndarray]:
    """Per-customer hidden state and profile attributes (all numpy)."""
    period = end - start
    ctype = _categorical(rng, 0, _TYPE_SHARES, size=n).astype(np.int8)

    # sign-ups grow linearly over time (density 1 + a*x on [0, 1]), capped per type
    a = 1.0
    f = rng.random(n)
    x = (-1.0 + np.sqrt(1.0 + 2.0 * a * f * (1.0 + a / 2.0))) / a
    signup = start + (x * _SIGNUP_MAX[ctype] * period).astype(np.int64)

    # last activity ("goes silent after")
    active_end = np.full(n, end, dtype=np.int64)
    for t, mean_gap in ((_LOYAL, 6), (_REGULAR, 25), (_BARGAIN, 15)):
        m = ctype == t
        active_end[m] = end - (rng.exponential(mean_gap * _DAY, int(m.sum()))).astype(np.int64)
    lapsed = (ctype == _REGULAR) & (rng.random(n) < 0.15)
    active_end[lapsed] = signup[lapsed] + (
        rng.uniform(0.25, 0.85, int(lapsed.sum())) * (end - signup[lapsed])).astype(np.int64)
    m = ctype == _ONE_TIME
    active_end[m] = signup[m] + (7 * _DAY + rng.exponential(30 * _DAY, int(m.sum()))).astype(np.int64)
    m = ctype == _CHURNER
    active_end[m] = signup[m] + (30 * _DAY + rng.gamma(2.0, 50 * _DAY, int(m.sum()))).astype(np.int64)
    active_end = np.clip(active_end, signup + _DAY, end)
    signup = np.minimum(signup, active_end - _DAY)

    # profile
    region_w = np.array([w for _, _, w in _COUNTRIES])
    region_of = np.array([r for _, r, _ in _COUNTRIES])
    country_p = region_w[None, :] * _REGION_MULT[:, region_of]
    country = _categorical(rng, ctype, country_p)
    occupation = _categorical(rng, ctype, _OCCUPATION_P)
    age = _categorical(rng, ctype, _AGE_P)
    student = occupation == 0
    age[student] = _categorical(rng, 0, _STUDENT_AGE_P, size=int(student.sum()))
    gender = _categorical(rng, 0, _GENDER_P, size=n)
    referral = _categorical(rng, ctype, _REFERRAL_P)

    # latent per-customer multipliers (noise / overlap between types)
    purchase_mult = rng.gamma(3.0, 1.0 / 3.0, n)
    engage_mult = np.sqrt(purchase_mult) * rng.gamma(5.0, 1.0 / 5.0, n)
    primary_cat = _categorical(rng, 0, _CATEGORY_P, size=n)
    secondary_cat = _categorical(rng, primary_cat, _AFFINITY)

    return {
        "type": ctype, "signup": signup, "active_end": active_end,
        "country": country, "region": region_of[country], "age": age, "gender": gender,
        "occupation": occupation, "referral": referral,
        "purchase_mult": purchase_mult, "engage_mult": engage_mult,
        "primary_cat": primary_cat, "secondary_cat": secondary_cat,
    }


def _make_purchases(rng: np.random.Generator, cust: dict[str, np.ndarray],
                    cat: _Catalogue, start: int, end: int) -> dict[str, np.ndarray]:
    """Purchases grouped by customer and time-ordered within each customer."""
    ctype = cust["type"].astype(np.int64)
    n = ctype.size
    signup, active_end = cust["signup"], cust["active_end"]
    months = (active_end - signup) / _MONTH

    lam = _TX_PER_MONTH[ctype] * months * cust["purchase_mult"]
    n_tx = 1 + rng.poisson(lam)
    n_tx[ctype == _ONE_TIME] = 1
    n_tx[rng.random(n) < _ZERO_TX[ctype]] = 0

    # first purchase: often in the sign-up session, otherwise a few days later
    same_session = rng.random(n) < 0.35
    delay = np.where(same_session, rng.uniform(60, 2 * _HOUR, n),
                     rng.exponential(_FIRST_TX_DELAY[ctype] * _DAY))
    first = np.minimum(signup + delay.astype(np.int64), active_end)

    grp = _expand(n_tx)
    total = grp.size
    starts = _offsets(n_tx)
    is_first = np.zeros(total, dtype=bool)
    is_first[starts[n_tx > 0]] = True
    rest = ~is_first
    ts = np.empty(total, dtype=np.int64)
    ts[is_first] = first[n_tx > 0]
    g_rest = grp[rest]
    frac = _sorted_fractions(rng, np.maximum(n_tx - 1, 0), g_rest)
    ts[rest] = first[g_rest] + (frac * (active_end - first)[g_rest]).astype(np.int64)
    del frac, g_rest

    row_type = ctype[grp]
    # product: primary interest, affine secondary interest, or anything
    r = rng.random(total)
    any_cat = _categorical(rng, 0, _CATEGORY_P, size=total)
    category = np.where(r < 0.55, cust["primary_cat"][grp],
                        np.where(r < 0.85, cust["secondary_cat"][grp], any_cat))
    del r, any_cat
    choice_grp = row_type * len(_CATEGORIES) + category
    col = _categorical(rng, choice_grp, cat.choice_w)
    product = cat.choice_prod[choice_grp, col]
    del choice_grp, col, category
    channel = _categorical(rng, row_type, _CHANNEL_P)

    # same-session baskets: a few minutes after the previous purchase, often
    # the companion course of the previous one (cross-sell pairs)
    basket = rest & (rng.random(total) < _P_BASKET[row_type])
    b_idx = np.flatnonzero(basket)
    ts[b_idx] = ts[b_idx - 1] + rng.integers(60, 90 * 60, b_idx.size)
    companion = rng.random(b_idx.size) < 0.5
    product[b_idx[companion]] = cat.companion[product[b_idx[companion] - 1]]
    channel[b_idx] = channel[b_idx - 1]
    ts = np.minimum(_monotone_within(grp, ts, start), end)

    quantity = np.ones(total, dtype=np.int32)
    multi = rng.random(total) < _P_MULTI_QTY[row_type]
    quantity[multi] = rng.integers(2, 6, int(multi.sum()))
    disc = np.where(rng.random(total) < _P_DISCOUNT[row_type],
                    np.round(rng.uniform(_DISC_LO[row_type], _DISC_HI[row_type]) * 20) / 20, 0.0)
    amount = np.round(cat.price[product] * quantity * (1.0 - disc), 2)
    return {"cust": grp, "ts": ts, "product": product.astype(np.int16), "channel": channel,
            "quantity": quantity, "amount": amount}


def _make_transactions(rng: np.random.Generator, purchases: dict[str, np.ndarray],
                       cust: dict[str, np.ndarray], start: int, end: int) -> dict[str, np.ndarray]:
    """Add refunds and order everything by time (transaction ids follow time)."""
    ctype = cust["type"]
    grp, ts = purchases["cust"], purchases["ts"]
    refund = rng.random(grp.size) < _P_REFUND[ctype[grp]]
    r_idx = np.flatnonzero(refund)
    r_ts = ts[r_idx] + rng.integers(_HOUR, 14 * _DAY, r_idx.size)
    keep = r_ts <= end
    r_idx, r_ts = r_idx[keep], r_ts[keep]

    out = {
        "cust": np.concatenate([grp, grp[r_idx]]),
        "ts": np.concatenate([ts, r_ts]),
        "product": np.concatenate([purchases["product"], purchases["product"][r_idx]]),
        "channel": np.concatenate([purchases["channel"], purchases["channel"][r_idx]]),
        "quantity": np.concatenate([purchases["quantity"], purchases["quantity"][r_idx]]),
        "amount": np.concatenate([purchases["amount"], -purchases["amount"][r_idx]]),
    }
    total = out["ts"].size
    # unique key (time, row) -> deterministic order whatever the sort algorithm
    key = (out["ts"] - start) * np.int64(total) + np.arange(total, dtype=np.int64)
    order = np.argsort(key)
    del key
    return {k: v[order] for k, v in out.items()}


class _EventBlocks:
    """Collects event blocks; each block is ordered by (customer, time)."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []

    def add(self, cust: np.ndarray, ts: np.ndarray, code: int, obj: np.ndarray | None = None,
            value: np.ndarray | None = None, prop: np.ndarray | None = None) -> None:
        n = cust.size
        self.blocks.append({
            "cust": cust.astype(np.int32, copy=False),
            "ts": ts.astype(np.int64, copy=False),
            "code": np.full(n, code, dtype=np.int8),
            "obj": np.full(n, -1, np.int16) if obj is None else obj.astype(np.int16, copy=False),
            "value": np.full(n, np.nan) if value is None else value.astype(np.float64, copy=False),
            "prop": np.full(n, -1, np.int8) if prop is None else prop.astype(np.int8, copy=False),
        })

    def merge(self, start: int, n_products: int) -> dict[str, np.ndarray]:
        cols = {k: np.concatenate([b[k] for b in self.blocks]) for k in self.blocks[0]}
        self.blocks.clear()
        t_span = int(cols["ts"].max() - start) + 1
        obj_span = n_products + 1
        n_cust = int(cols["cust"].max()) + 1
        if n_cust * t_span * 8 * obj_span < 2**62:
            key = cols["cust"].astype(np.int64)
            key *= t_span
            key += cols["ts"] - start
            key *= 8
            key += cols["code"]
            key *= obj_span
            key += cols["obj"] + 1
            # blocks are pre-sorted runs -> the stable (tim)sort is a cheap merge
            order = np.argsort(key, kind="stable")
            del key
        else:  # pragma: no cover - only for enormous/long inputs
            order = np.lexsort((cols["obj"], cols["code"], cols["ts"], cols["cust"]))
        return {k: v[order] for k, v in cols.items()}


def _uniform_times_sorted(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray,
                          hi: np.ndarray, power: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``counts[g]`` times per group in [lo, hi], sorted within each group.

    With ``power`` (per group, > 0) the fractions are raised to that power,
    which keeps them sorted but skews them (``< 1``: towards ``hi``).
    """
    grp = _expand(counts)
    frac = _sorted_fractions(rng, counts, grp)
    if power is not None:
        frac **= power[grp]
    ts = lo[grp] + (frac * (hi - lo)[grp]).astype(np.int64)
    return grp, ts


def _make_events(rng: np.random.Generator, cust: dict[str, np.ndarray], purchases: dict[str, np.ndarray],
                 cat: _Catalogue, start: int, end: int) -> dict[str, np.ndarray]:
    ctype = cust["type"].astype(np.int64)
    n = ctype.size
    signup, active_end = cust["signup"], cust["active_end"]
    months = (active_end - signup) / _MONTH
    engage = cust["engage_mult"]
    blocks = _EventBlocks()

    # signed_up -----------------------------------------------------------
    blocks.add(np.arange(n), signup, _EV_SIGNUP, prop=cust["referral"])

    # sessions (one right at sign-up, the rest over the active window) ---
    n_sess = 1 + rng.poisson(_SESSIONS_PM[ctype] * months * engage)
    grp, ts = _uniform_times_sorted(rng, n_sess, signup, active_end)
    first = _offsets(n_sess)
    ts[first] = signup + rng.integers(0, 120, n)
    ts = _monotone_within(grp, ts, start)
    minutes = np.round(rng.lognormal(np.log(_SESSION_MIN[ctype[grp]]) - 0.32, 0.8), 1)
    blocks.add(grp, ts, _EV_SESSION, value=np.maximum(minutes, 0.5))

    # enrolments: the first purchase of each (customer, course) -----------
    p_cust, p_prod, p_ts = purchases["cust"], purchases["product"], purchases["ts"]
    n_prod = cat.n
    key = p_cust.astype(np.int64) * n_prod + p_prod
    first_row = np.full(n * n_prod, p_cust.size, dtype=np.int64)
    np.minimum.at(first_row, key, np.arange(p_cust.size, dtype=np.int64))
    enr_rows = np.flatnonzero(first_row[key] == np.arange(p_cust.size))
    del key, first_row
    enr_cust = p_cust[enr_rows]
    enr_prod = p_prod[enr_rows]
    enr_ts = p_ts[enr_rows] + rng.integers(0, 20 * 60, enr_rows.size)
    enr_ts = np.minimum(_monotone_within(enr_cust, enr_ts, start), end)
    blocks.add(enr_cust, enr_ts, _EV_ENROLL, obj=enr_prod)
    n_enr = np.bincount(enr_cust, minlength=n)
    enr_start = _offsets(n_enr)
    first_enr_ts = signup.copy()
    has_enr = n_enr > 0
    first_enr_ts[has_enr] = enr_ts[enr_start[has_enr]]
    t_span = end - start + 2
    enr_key = enr_cust.astype(np.int64) * t_span + (enr_ts - start)

    def enrolled_before(g: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Number of enrolments of customer ``g`` at or before time ``t``."""
        pos = np.searchsorted(enr_key, g.astype(np.int64) * t_span + (t - start), side="right")
        return pos - enr_start[g]

    # video_watched: course already enrolled in (recent ones preferred), or
    # a free-preview / subscription course from the catalogue -------------
    n_vid = rng.poisson((_VIDEOS_PM[ctype] * months + _VIDEOS_PER_ENR[ctype] * n_enr) * engage)
    grp, ts = _uniform_times_sorted(rng, n_vid, signup, active_end)
    k = enrolled_before(grp, ts)
    own = (k > 0) & (rng.random(grp.size) < 0.85)
    obj = _categorical(rng, 0, cat.popularity, size=grp.size).astype(np.int16)
    j = enr_start[grp[own]] + (k[own] * rng.random(int(own.sum())) ** 0.6).astype(np.int64)
    obj[own] = enr_prod[j]
    minutes = np.round(rng.lognormal(np.log(_VIDEO_MIN[ctype[grp]]) - 0.18, 0.6), 1)
    blocks.add(grp, ts, _EV_VIDEO, obj=obj, value=np.maximum(minutes, 0.5))
    del grp, ts, k, own, obj, j, minutes

    # quiz_submitted on enrolled courses ----------------------------------
    n_quiz = rng.poisson(_QUIZ_PER_ENR[ctype] * n_enr * engage)
    n_quiz[n_enr == 0] = 0
    grp, ts = _uniform_times_sorted(rng, n_quiz, first_enr_ts, np.maximum(active_end, first_enr_ts))
    k = np.maximum(enrolled_before(grp, ts), 1)
    j = enr_start[grp] + (k * rng.random(grp.size) ** 0.5).astype(np.int64)
    skill = _QUIZ_MEAN[ctype] + rng.normal(0.0, 7.0, n)
    score = np.clip(np.round(rng.normal(skill[grp], 11.0)), 0, 100)
    blocks.add(grp, ts, _EV_QUIZ, obj=enr_prod[j], value=score)
    del grp, ts, k, j, score

    # completed_course: a share of enrolments, some weeks later -----------
    p_done = np.clip(_P_COMPLETE[ctype] + rng.normal(0.0, 0.10, n), 0.01, 0.97)
    done = rng.random(enr_cust.size) < p_done[enr_cust]
    c_cust, c_prod, c_enr_ts = enr_cust[done], enr_prod[done], enr_ts[done]
    c_type = ctype[c_cust]
    c_ts = c_enr_ts + rng.gamma(2.0, _COMPLETE_DAYS[c_type] * _DAY / 2.0).astype(np.int64) + _HOUR
    keep = c_ts <= np.minimum(active_end[c_cust] + 14 * _DAY, end)
    c_cust, c_prod, c_enr_ts, c_ts = c_cust[keep], c_prod[keep], c_enr_ts[keep], c_ts[keep]
    # a tiny share is recorded before the enrolment (late-arriving data)
    ooo = rng.random(c_cust.size) < _OUT_OF_ORDER_SHARE
    c_ts[ooo] = np.maximum(c_enr_ts[ooo] - rng.integers(_HOUR, 3 * _DAY, int(ooo.sum())),
                           signup[c_cust[ooo]])
    order = np.argsort(c_cust.astype(np.int64) * t_span + (c_ts - start))
    blocks.add(c_cust[order], c_ts[order], _EV_COMPLETE, obj=c_prod[order])
    del c_cust, c_prod, c_enr_ts, c_ts, order

    # support_contact (churners pile up contacts before going silent) -----
    n_sup = rng.poisson(_SUPPORT_PM[ctype] * months * (0.5 + 0.5 * engage))
    grp, ts = _uniform_times_sorted(rng, n_sup, signup, active_end, power=_SUPPORT_SKEW[ctype])
    topic = _categorical(rng, ctype[grp], _SUPPORT_TOPIC_P)
    blocks.add(grp, ts, _EV_SUPPORT, prop=topic + len(_REFERRALS))
    del grp, ts, topic

    # nps_answered --------------------------------------------------------
    n_nps = np.minimum(rng.poisson(_NPS_PM[ctype] * np.maximum(months, 1.0)), 6)
    grp, ts = _uniform_times_sorted(rng, n_nps, signup + _DAY, np.maximum(active_end, signup + _DAY))
    mood = _NPS_MEAN[ctype] + rng.normal(0.0, 1.0, n)
    nps = np.clip(np.round(rng.normal(mood[grp], 1.2)), 0, 10)
    blocks.add(grp, ts, _EV_NPS, value=nps)
    del grp, ts, nps

    events = blocks.merge(start, cat.n)
    events["ts"] = np.minimum(events["ts"], end)
    return events


def _make_subscriptions(rng: np.random.Generator, cust: dict[str, np.ndarray],
                        start: int, end: int) -> dict[str, np.ndarray]:
    """Subscription periods: tier changes are contiguous, cancels may reactivate."""
    ctype = cust["type"].astype(np.int64)
    n = ctype.size
    signup, active_end = cust["signup"], cust["active_end"]
    at_signup = rng.random(n) < 0.45
    delay = np.where(at_signup, rng.uniform(300, 3 * _HOUR, n), rng.exponential(_SUB_DELAY[ctype] * _DAY))
    first_start = signup + delay.astype(np.int64)
    subscribes = (rng.random(n) < _P_SUBSCRIBE[ctype]) & (first_start < np.minimum(active_end, end - _DAY))

    c = np.flatnonzero(subscribes)
    s = first_start[c]
    level = _categorical(rng, ctype[c], _TIER_P).astype(np.int64)
    plan = (rng.random(c.size) < _P_ANNUAL[ctype[c]]).astype(np.int64)
    seq = np.zeros(c.size, dtype=np.int64)
    rows: list[tuple[np.ndarray, ...]] = []
    for period in range(_MAX_PERIODS):
        if c.size == 0:
            break
        t = ctype[c]
        dur = rng.exponential(_SUB_DURATION[t] * _DAY) + 7 * _DAY
        dur = np.where(plan == 1, np.maximum(dur, 365 * _DAY), dur)
        e = s + dur.astype(np.int64)
        reason = _categorical(rng, t, _CHANGE_P).astype(np.int64)
        reason[(reason == 0) & (level == 2)] = 1  # Premium cannot upgrade
        reason[(reason == 1) & (level == 0)] = 2  # Basic "downgrade" = cancel
        # customers who go silent cancel around the time they stop being active
        silent_at = active_end[c] + rng.integers(0, 30 * _DAY, c.size)
        forced = (e > silent_at) & (silent_at < end - 30 * _DAY)
        e[forced] = np.maximum(silent_at[forced], s[forced] + _DAY)
        reason[forced] = 2
        if period == _MAX_PERIODS - 1:
            e[reason != 2] = end + 1  # stop the chain: leave the period open
        active = e > end
        rows.append((c, s, level, plan, np.where(active, -1, e), np.where(active, -1, reason), seq))

        change = ~active & (reason < 2)
        react = ~active & (reason == 2) & ~forced & (rng.random(c.size) < _P_REACTIVATE[t])
        gap = (7 * _DAY + rng.exponential(60 * _DAY, c.size)).astype(np.int64)
        react &= (e + gap) < np.minimum(active_end[c], end - _DAY)
        new_level = np.where(reason == 0, level + 1, level - 1)
        new_plan = np.where(rng.random(c.size) < 0.15, 1 - plan, plan)
        keep = change | react
        s = np.where(change, e, e + gap)[keep]
        level = np.where(change, new_level, level)[keep]
        plan = np.where(react, (rng.random(c.size) < _P_ANNUAL[t]).astype(np.int64), new_plan)[keep]
        c = c[keep]
        seq = seq[keep] + 1

    if rows:
        cols = [np.concatenate(x).astype(np.int64, copy=False) for x in zip(*rows)]
    else:
        cols = [np.zeros(0, dtype=np.int64) for _ in range(7)]
    c, s, level, plan, e, reason, seq = cols
    order = np.lexsort((seq, c, s))
    return {"cust": c[order], "start": s[order], "level": level[order], "plan": plan[order],
            "end": e[order], "reason": reason[order]}


# ==========================================================================
# Public API
# ==========================================================================
def generate(
    n_customers: int = DEFAULT_CUSTOMERS,
    seed: int = 42,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
    *,
    progress: ProgressFn | None = None,
) -> dict[str, pa.Table | pd.DataFrame]:
    """Generate the demo warehouse inputs.

    Parameters
    ----------
    n_customers:
        Number of customers (>= 1).
    seed:
        Seed for ``numpy.random.default_rng``; same arguments, same data.
    start, end:
        First and last day of the simulated period (``end`` is inclusive when
        given as a date).
    progress:
        Optional callback ``(step, rows, seconds)`` called after each step.

    Returns
    -------
    dict
        ``customers``, ``transactions``, ``events``, ``subscriptions`` and
        ``customer_types`` (the hidden truth) as :class:`pyarrow.Table` objects
        with the schemas in :data:`SCHEMAS`, each sorted by its key.
    """
    if int(n_customers) < 1:
        raise ValueError("n_customers must be >= 1")
    n = int(n_customers)
    start_s, end_s = _parse_period(start, end)
    rng = np.random.default_rng(seed)
    clock = time.perf_counter()

    def report(step: str, rows: int) -> None:
        nonlocal clock
        now = time.perf_counter()
        if progress is not None:
            progress(step, rows, now - clock)
        clock = now

    cat = _Catalogue(rng)
    cust = _make_customers(rng, n, start_s, end_s)
    cust_ids = _fixed_width_ids("C", np.arange(1, n + 1), _id_width(n, 6))
    customers = pa.table(
        [
            cust_ids,
            _ts_array(cust["signup"]),
            _take([c for c, _, _ in _COUNTRIES], cust["country"]),
            _take(_REGIONS, cust["region"]),
            _take(_AGE_GROUPS, cust["age"]),
            _take(_GENDERS, cust["gender"]),
            _take(_OCCUPATIONS, cust["occupation"]),
            _take(_REFERRALS, cust["referral"]),
        ],
        schema=SCHEMAS["customers"],
    )
    customer_types = pa.table([cust_ids, _take(CUSTOMER_TYPES, cust["type"])],
                              schema=SCHEMAS["customer_types"])
    report("customers", n)

    purchases = _make_purchases(rng, cust, cat, start_s, end_s)
    tx = _make_transactions(rng, purchases, cust, start_s, end_s)
    n_tx = tx["ts"].size
    transactions = pa.table(
        [
            _fixed_width_ids("T", np.arange(1, n_tx + 1), _id_width(n_tx, 8)),
            cust_ids.take(pa.array(tx["cust"])),
            _ts_array(tx["ts"]),
            pa.array(tx["amount"], pa.float64()),
            cat.product_ids.take(pa.array(tx["product"].astype(np.int32))),
            _take(_CATEGORIES, cat.category[tx["product"]]),
            cat.creator_ids.take(pa.array(cat.creator[tx["product"]].astype(np.int32))),
            _take(_CHANNELS, tx["channel"]),
            pa.array(tx["quantity"], pa.int32()),
        ],
        schema=SCHEMAS["transactions"],
    )
    del tx
    report("transactions", n_tx)

    ev = _make_events(rng, cust, purchases, cat, start_s, end_s)
    del purchases
    no_obj = ev["obj"] < 0
    no_val = np.isnan(ev["value"])
    no_prop = ev["prop"] < 0
    events = pa.table(
        [
            cust_ids.take(pa.array(ev.pop("cust"))),
            _ts_array(ev.pop("ts")),
            _take(_EVENT_NAMES, ev.pop("code")),
            cat.product_ids.take(pa.array(ev.pop("obj").astype(np.int32), mask=no_obj)),
            pa.array(ev.pop("value"), pa.float64(), mask=no_val),
            _take(_PROPERTIES, np.maximum(ev.pop("prop"), 0), null_mask=no_prop),
        ],
        schema=SCHEMAS["events"],
    )
    del ev, no_obj, no_val, no_prop
    report("events", events.num_rows)

    sub = _make_subscriptions(rng, cust, start_s, end_s)
    n_sub = sub["cust"].size
    open_ = sub["end"] < 0
    subscriptions = pa.table(
        [
            _fixed_width_ids("S", np.arange(1, n_sub + 1), _id_width(n_sub, 7)),
            cust_ids.take(pa.array(sub["cust"].astype(np.int32))),
            _take(_PLAN_LEVELS, sub["level"]),
            _take(_PLAN_TYPES, sub["plan"]),
            pa.array(_PLAN_AMOUNT[sub["level"], sub["plan"]], pa.float64()),
            _ts_array(sub["start"]),
            _ts_array(np.where(open_, 0, sub["end"]), null_mask=open_),
            _take(_END_REASONS, np.maximum(sub["reason"], 0), null_mask=open_),
            pa.array(sub["reason"] == 2, pa.bool_()),
        ],
        schema=SCHEMAS["subscriptions"],
    )
    report("subscriptions", n_sub)

    return {
        "customers": customers,
        "transactions": transactions,
        "events": events,
        "subscriptions": subscriptions,
        "customer_types": customer_types,
    }


def _to_arrow(table: pa.Table | pd.DataFrame, name: str) -> pa.Table:
    if isinstance(table, pd.DataFrame):
        schema = SCHEMAS.get(name)
        return pa.Table.from_pandas(table, schema=schema, preserve_index=False)
    return table


def _write_csv(table: pa.Table, name: str, path: Path) -> None:
    """Write one table as CSV with DuckDB (quotes only where needed).

    Floating columns get a fixed number of decimals (amounts: 2), timestamps
    are written as ``YYYY-MM-DD HH:MM:SS`` and nulls as empty fields.
    """
    places = _CSV_DECIMALS.get(name, {})
    select = []
    for field in table.schema:
        q = '"' + field.name.replace('"', '""') + '"'
        if field.name in places:
            select.append(f"CAST(ROUND({q}, {places[field.name]}) AS DECIMAL(18, {places[field.name]})) AS {q}")
        else:
            select.append(q)
    con = duckdb.connect(":memory:")
    try:
        con.register("src", table)
        target = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT {', '.join(select)} FROM src) TO '{target}' "
            "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR '', "
            "TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S', DATEFORMAT '%Y-%m-%d')"
        ).fetchall()
    finally:
        con.close()


def write(
    tables: dict[str, pa.Table | pd.DataFrame],
    out_dir: str | Path,
    fmt: Literal["csv", "parquet"] = "csv",
    *,
    progress: ProgressFn | None = None,
) -> dict[str, Path]:
    """Write every table to ``out_dir/<name>.<fmt>`` and return the paths.

    CSV files have an unquoted header, strings quoted only when needed, empty
    fields for nulls, timestamps as ``YYYY-MM-DD HH:MM:SS`` and amounts with
    exactly two decimals.  Parquet files are zstd-compressed.  Output is
    byte-identical for identical input tables.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; use 'csv' or 'parquet'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in tables.items():
        clock = time.perf_counter()
        t = _to_arrow(table, name)
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(t, path, compression="zstd", compression_level=1,
                           row_group_size=1_000_000, use_dictionary=True)
        else:
            _write_csv(t, name, path)
        paths[name] = path
        if progress is not None:
            progress(f"write {path.name}", t.num_rows, time.perf_counter() - clock)
    return paths


def _stderr_progress(step: str, rows: int, seconds: float) -> None:
    print(f"[segkit.generate] {step:<28} {rows:>12,} rows {seconds:8.2f}s", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m segkit.generate --customers N --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m segkit.generate",
        description="Generate deterministic demo data for the segmentation warehouse.",
    )
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help=f"number of customers (default {DEFAULT_CUSTOMERS})")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--format", choices=("csv", "parquet"), default=None,
                        help="output format (default: csv up to 50,000 customers, else parquet)")
    parser.add_argument("--start", default="2023-01-01", help="first day (default 2023-01-01)")
    parser.add_argument("--end", default="2024-12-31", help="last day, inclusive (default 2024-12-31)")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be >= 1")
    fmt = args.format or ("csv" if args.customers <= 50_000 else "parquet")
    t0 = time.perf_counter()
    tables = generate(args.customers, args.seed, args.start, args.end, progress=_stderr_progress)
    write(tables, args.out, fmt, progress=_stderr_progress)
    _stderr_progress("total", sum(t.num_rows for t in tables.values()), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
