"""Out-of-time backtest of "who will be high value NEXT period?" (segment_backtest).

The value-tier study (docs/STUDIES.md section 4) says the old two-feature score
found high-value customers with 68% accuracy and a new model must exceed 85%,
where "high value" is judged on the *next* period (the top 10% of next-window
value) and measured as precision and recall.  :func:`run_backtest` makes that
comparison honest: a dbt SQL model builds one snapshot row per
``(cutoff_date, customer_id)`` with features computed only from data up to the
cutoff plus the label input ``next_value`` (net spend in
``(cutoff, cutoff + window]``); this module flags a predicted "High" set per
method and scores it against the realised next-window top set::

    metrics, predictions = run_backtest(
        snapshots, top_share=0.10, horizon_periods=13.0, time_unit="week")

Methods (each flags a predicted High set per cutoff)
----------------------------------------------------
``baseline_two_feature``
    The old score: ``z(frequency) + z(monetary_value)`` (z-scores with the
    population std, ddof=0; a constant column scores 0; nulls count as 0), top
    ``top_share`` by score.
``rfm_segments``
    ``rfm_segment`` in ``rfm_high_segments`` (the setting backtest_rfm_high_segments).  The
    set size is whatever the segments hold; score = 1.0 / 0.0.
``kmeans_tiers``
    :func:`segkit.clustering.cluster_customers` (``method="kmeans"``) on
    ``kmeans_features``, clusters ranked by mean ``total_spend``;
    High = ``value_tier == "High"``.  Score = the mean ``total_spend`` of the
    customer's cluster.
``predicted_clv``
    BG/NBD (:class:`segkit.btyd.BetaGeoFitter`) on ``(frequency, recency, T)``
    and Gamma-Gamma (:class:`segkit.btyd.GammaGammaFitter`) on the repeat
    buyers, both fitted on that cutoff's population only.  Score =
    ``E[X(T, T + horizon_periods) | x, t_x, T] * E[Z | x, zbar]`` (expected
    purchases in the next window times expected spend per purchase, no
    discounting: the undiscounted CLV over exactly the label window).  Top
    ``top_share`` by score.
``predicted_purchases``
    The BG/NBD expected purchases in the window alone (no spend model).

Stated rules
------------
* **Population.**  Per cutoff, only customers with at least one purchase up to
  the cutoff (``orders > 0``; null counts as 0) are scored.  Customers without
  one have no BTYD summary (``T`` is undefined) and are not what the study
  ranks; they are excluded and counted in ``excluded_customers``.  All shares,
  quantiles, z-scores and model fits use the population of that cutoff only.
* **Actual High.**  ``next_value`` (null = 0) is ranked over the population;
  with ``k = ceil(top_share * n)`` the threshold is the k-th largest value (the
  ``1 - top_share`` quantile, numpy method ``"higher"``).  Actual High =
  ``next_value >= threshold AND next_value > 0``: ties at the threshold are
  all included (never split arbitrarily), so the set can hold more than k
  customers, and customers who spend nothing next window are never High (so
  it can hold fewer than k when few customers buy).
* **Top-share methods** (baseline, predicted_clv, predicted_purchases) use the
  same rule on their score without the positivity condition: score >= the
  k-th largest score, ties included.
* **A method that cannot run** on a cutoff (BG/NBD with no repeat buyer,
  Gamma-Gamma with no usable repeat spend or q <= 1, K-Means with too few
  customers, invalid BTYD inputs) gives a metrics row with null counts/rates
  and a ``note``, and prediction rows with null ``is_predicted_high`` and
  ``score``; it never raises.  Optimiser non-convergence warnings are kept in
  ``note`` while the predictions are still used.
* **Determinism.**  Rows are processed per cutoff in ``customer_id`` order, the
  BTYD fits run on unique input rows with counts (order-free and fast; the
  same estimates as the expanded data) and K-Means takes ``random_state``, so
  permuting the input rows changes nothing.

Metrics (one row per cutoff and method)
---------------------------------------
With TP = predicted and actual High, n = ``customers``:

* ``precision = TP / predicted_high`` (null when nothing is predicted),
* ``recall = TP / actual_high`` (null when nobody is actually High),
* ``f1 = 2 P R / (P + R)`` (0 when P = R = 0, null when either is null),
* ``accuracy = (TP + TN) / n``: the share of all customers classified
  correctly.  With a 10% base rate, flagging nobody already scores 0.9, so
  this is *not* the study's figure;
* ``base_rate = actual_high / n``, ``lift = precision / base_rate``;
* ``study_accuracy = precision``: the study's "identified high-value customers
  with 68% accuracy" is read as the share of the customers a method calls High
  who really are in the next-period top set; ``meets_study_target`` is
  ``study_accuracy > 0.85`` (:data:`STUDY_TARGET`).

``details`` is a JSON string with the method's run facts (thresholds, k and
silhouettes, BG/NBD and Gamma-Gamma parameters).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from segkit._common import (
    canonical_order,
    check_names,
    check_random_state,
    finite_column,
    json_default,
    json_float,
    unique_rows,
)
from segkit.btyd import BetaGeoFitter, GammaGammaFitter
from segkit.clustering import cluster_customers

__all__ = [
    "METHODS",
    "METRIC_COLUMNS",
    "PREDICTION_COLUMNS",
    "STUDY_OLD_SCORE",
    "STUDY_TARGET",
    "classification_metrics",
    "run_backtest",
    "top_share_flags",
    "two_feature_score",
]

METHODS: tuple[str, ...] = (
    "baseline_two_feature",
    "rfm_segments",
    "kmeans_tiers",
    "predicted_clv",
    "predicted_purchases",
)
STUDY_TARGET = 0.85  # the new model must exceed this precision
STUDY_OLD_SCORE = 0.68  # what the study says the old two-feature score achieved

BASELINE_FEATURES: tuple[str, ...] = ("frequency", "monetary_value")  # the old score's features
KMEANS_FEATURES: tuple[str, ...] = ("days_since_last_purchase", "orders", "total_spend")
KMEANS_LOG_FEATURES: tuple[str, ...] = ("orders", "total_spend")
KMEANS_VALUE_COLUMN = "total_spend"
BTYD_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T", "monetary_value")
TIME_UNITS: tuple[str, ...] = ("week", "day")
#: the snapshot columns every method reads: cutoff, customer, the label (next window's
#: net spend) and the orders that decide the population
KEY_COLUMNS: tuple[str, ...] = ("cutoff_date", "customer_id", "next_value", "orders")

METRIC_COLUMNS: tuple[str, ...] = (
    "cutoff_date",
    "method",
    "customers",
    "excluded_customers",
    "actual_high",
    "predicted_high",
    "true_positives",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "base_rate",
    "lift",
    "study_accuracy",
    "meets_study_target",
    "actual_threshold",
    "note",
    "details",
)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "cutoff_date",
    "customer_id",
    "method",
    "is_predicted_high",
    "is_actual_high",
    "score",
)

#: the kmeans_tiers method's K-Means: fixed by the backtest (its own features
#: above, k by silhouette over 2..8 unless backtest_kmeans_k), not the cluster_*
#: settings of customer_clusters
KMEANS_OPTIONS: dict[str, Any] = {"scaling": "zscore", "k_range": range(2, 9), "eps": None, "min_samples": 5,
                                  "tier_names": ("High", "Medium", "Low"), "max_fit_size": None}

# relative slack when turning top_share * n into a count, so that 0.1 * 30
# (= 3.0000000000000004 in floating point) gives k = 3, not 4
_K_TOL = 1e-9


class _MethodUnavailable(Exception):
    """A method cannot produce predictions on this cutoff (becomes a note)."""


# --------------------------------------------------------------------------- #
# Building blocks (public, unit-tested)
# --------------------------------------------------------------------------- #
def top_share_flags(
    values: npt.ArrayLike, top_share: float, *, require_positive: bool = False
) -> tuple[np.ndarray, float | None]:
    """Flag the top ``top_share`` of ``values``, ties at the threshold included.

    ``k = max(1, ceil(top_share * n))``; the threshold is the k-th largest
    value (the ``1 - top_share`` quantile with numpy's ``"higher"`` method);
    every value ``>= threshold`` is flagged, so ties are never split and more
    than k rows can be flagged.  With ``require_positive`` only values ``> 0``
    are flagged.  NaN values are never flagged and do not count in n.

    Returns ``(flags, threshold)``; threshold is None when nothing is ranked.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {v.shape}")
    _check_share(top_share)
    ok = ~np.isnan(v)
    n = int(ok.sum())
    if n == 0:
        return np.zeros(v.shape[0], dtype=bool), None
    k = min(n, max(1, math.ceil(top_share * n * (1.0 - _K_TOL))))
    ranked = np.sort(v[ok])  # ascending
    threshold = float(ranked[n - k])
    flags = ok & (v >= threshold)
    if require_positive:
        flags &= v > 0
    return flags, threshold


def two_feature_score(df: pd.DataFrame, features: Sequence[str] = ("frequency", "monetary_value")) -> np.ndarray:
    """The old score: sum of per-feature z-scores (population std, ddof=0).

    Nulls count as 0; a constant column contributes 0.
    """
    total = np.zeros(len(df), dtype=np.float64)
    for col in features:
        x = np.nan_to_num(_numeric(df, col), nan=0.0)
        if x.size == 0 or x.min() == x.max():
            continue
        total += (x - x.mean()) / x.std()
    return total


def classification_metrics(
    predicted: npt.ArrayLike, actual: npt.ArrayLike
) -> dict[str, float | int | None]:
    """Confusion counts and rates of a predicted High set against the actual one.

    Keys: customers, predicted_high, actual_high, true_positives, precision,
    recall, f1, accuracy, base_rate, lift, study_accuracy (= precision).
    Undefined ratios (0 / 0) are None.
    """
    p = np.asarray(predicted, dtype=bool)
    a = np.asarray(actual, dtype=bool)
    if p.shape != a.shape or p.ndim != 1:
        raise ValueError("predicted and actual must be 1-D and of the same length")
    n = int(p.size)
    n_pred = int(p.sum())
    n_act = int(a.sum())
    tp = int((p & a).sum())
    tn = int((~p & ~a).sum())
    precision = tp / n_pred if n_pred else None
    recall = tp / n_act if n_act else None
    if precision is None or recall is None:
        f1 = None
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2.0 * precision * recall / (precision + recall)
    base_rate = n_act / n if n else None
    lift = precision / base_rate if precision is not None and base_rate else None
    return {
        "customers": n,
        "predicted_high": n_pred,
        "actual_high": n_act,
        "true_positives": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / n if n else None,
        "base_rate": base_rate,
        "lift": lift,
        "study_accuracy": precision,
    }


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #
def _check_share(top_share: Any) -> float:
    if isinstance(top_share, (bool, np.bool_)) or not isinstance(top_share, (int, float, np.integer, np.floating)):
        raise ValueError(f"top_share must be a number in (0, 1), got {top_share!r}")
    top_share = float(top_share)
    if not (0.0 < top_share < 1.0):
        raise ValueError(f"top_share must be in (0, 1), got {top_share!r}")
    return top_share


def _names(name: str, value: Any, *, allow_empty: bool = True) -> tuple[str, ...]:
    return tuple(check_names(name, value, allow_empty=allow_empty))


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    return finite_column(df[col], col)


# --------------------------------------------------------------------------- #
# Per-cutoff methods
# --------------------------------------------------------------------------- #
class _BTYDCache:
    """BG/NBD (+ Gamma-Gamma) fitted once per cutoff, shared by two methods."""

    def __init__(self, pop: pd.DataFrame, horizon: float) -> None:
        self.pop = pop
        self.horizon = horizon
        self._bg: tuple[np.ndarray, dict[str, Any], list[str]] | Exception | None = None
        self._gg: tuple[np.ndarray, dict[str, Any], list[str]] | Exception | None = None

    def _inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = _numeric(self.pop, "frequency")
        t_x = _numeric(self.pop, "recency")
        T = _numeric(self.pop, "T")
        for name, arr in (("frequency", x), ("recency", t_x), ("T", T)):
            if np.isnan(arr).any():
                raise _MethodUnavailable(
                    f"BTYD input {name} is null for {int(np.isnan(arr).sum())} customer(s) with a purchase")
        m = np.nan_to_num(_numeric(self.pop, "monetary_value"), nan=0.0)
        return x, t_x, T, m

    def _cached(self, attr: str, fit: Any, model: str) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        """The result of ``fit`` (or the error it raised), computed once per cutoff."""
        if getattr(self, attr) is None:
            try:
                setattr(self, attr, fit())
            except (_MethodUnavailable, ValueError) as exc:
                setattr(self, attr, exc)
        value = getattr(self, attr)
        if isinstance(value, Exception):
            raise _MethodUnavailable(f"{model} not fitted: {value}")
        return value

    def purchases(self) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        """Expected purchases in the next ``horizon`` periods, per customer."""
        return self._cached("_bg", self._fit_bg, "BG/NBD")

    def _fit_bg(self) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        x, t_x, T, _ = self._inputs()
        (ux, ut, uT), inv, counts = unique_rows(x, t_x, T)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bgf = BetaGeoFitter().fit(ux, ut, uT, weights=counts)
            expected_u = bgf.conditional_expected_number_of_purchases_up_to_time(self.horizon, ux, ut, uT)
        notes = [f"BG/NBD: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
        if not np.all(np.isfinite(expected_u)):
            raise _MethodUnavailable("BG/NBD expected purchases are not finite")
        details = {
            "bgnbd_params": {k: float(v) for k, v in (bgf.params_ or {}).items()},
            "bgnbd_converged": bool(bgf.converged_),
            "repeat_buyers": int((x > 0).sum()),
        }
        return expected_u[inv], details, notes

    def spend(self) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        """Gamma-Gamma expected spend per purchase, per customer."""
        return self._cached("_gg", self._fit_gg, "Gamma-Gamma")

    def _fit_gg(self) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        x, _, _, m = self._inputs()
        use = (x > 0) & (m > 0)
        if not use.any():
            raise _MethodUnavailable("no repeat buyer with a positive monetary_value")
        (ux, um), _, counts = unique_rows(x[use], m[use])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ggf = GammaGammaFitter().fit(ux, um, weights=counts)
            params = ggf.params_ or {}
            if not params.get("q", 0.0) > 1.0:
                raise _MethodUnavailable(
                    f"Gamma-Gamma q = {params.get('q')!r} <= 1: the population mean spend is infinite")
            spend = ggf.conditional_expected_average_profit(x, m)
        notes = [f"Gamma-Gamma: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
        if not np.all(np.isfinite(spend)):
            raise _MethodUnavailable("Gamma-Gamma expected spend is not finite")
        details = {
            "gamma_gamma_params": {k: float(v) for k, v in params.items() if k != "gamma"},
            "gamma_gamma_converged": bool(ggf.converged_),
            "gamma_gamma_customers": int(use.sum()),
        }
        return spend, details, notes


def _run_method(
    method: str,
    pop: pd.DataFrame,
    btyd: _BTYDCache,
    *,
    top_share: float,
    rfm_high_segments: tuple[str, ...],
    kmeans_k: int | None,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], list[str]]:
    """(is_predicted_high, score, details, notes) for one method on one cutoff."""
    n = len(pop)
    if n == 0:
        raise _MethodUnavailable("no customer with a purchase before the cutoff")
    if method == "baseline_two_feature":
        score = two_feature_score(pop, BASELINE_FEATURES)
        flags, thr = top_share_flags(score, top_share)
        return flags, score, {"score_threshold": thr, "features": list(BASELINE_FEATURES)}, []
    if method == "rfm_segments":
        flags = pop["rfm_segment"].isin(rfm_high_segments).to_numpy(dtype=bool, na_value=False)
        return flags, flags.astype(np.float64), {"segments": list(rfm_high_segments)}, []
    if method == "kmeans_tiers":
        cols = list(dict.fromkeys(["customer_id", *KMEANS_FEATURES, KMEANS_VALUE_COLUMN]))
        try:
            labels, info = cluster_customers(
                pop[cols],
                "kmeans",
                list(KMEANS_FEATURES),
                value_column=KMEANS_VALUE_COLUMN,
                log_features=list(KMEANS_LOG_FEATURES),
                k=kmeans_k,
                random_state=random_state,
                id_column="customer_id",
                **KMEANS_OPTIONS,
            )
        except ValueError as exc:
            raise _MethodUnavailable(f"K-Means not run: {exc}") from None
        top_tier = next(iter(KMEANS_OPTIONS["tier_names"]))
        flags = (labels["value_tier"] == top_tier).to_numpy(dtype=bool)
        prof = info.cluster_profile.set_index("cluster_id")["value_mean"]
        score = prof.reindex(labels["cluster_id"].to_numpy()).to_numpy(dtype=np.float64)
        details = {
            "k": info.k,
            "k_source": info.k_source,
            "silhouette": {int(k): json_float(v) for k, v in info.silhouette.items()},
            "high_clusters": int((info.cluster_profile["value_tier"] == top_tier).sum()),
        }
        return flags, score, details, []
    if method in ("predicted_clv", "predicted_purchases"):
        purchases, details, notes = btyd.purchases()
        details = dict(details, horizon_periods=btyd.horizon)
        notes = list(notes)
        if method == "predicted_clv":
            spend, gg_details, gg_notes = btyd.spend()
            details.update(gg_details)
            notes.extend(gg_notes)
            score = purchases * spend
        else:
            score = purchases.copy()
        flags, thr = top_share_flags(score, top_share)
        details["score_threshold"] = thr
        return flags, score, details, notes
    raise ValueError(f"unknown method {method!r}")  # pragma: no cover - validated earlier


# --------------------------------------------------------------------------- #
# Orchestration
# --------------------------------------------------------------------------- #
def required_columns(methods: Sequence[str] = METHODS) -> list[str]:
    """The snapshot columns :func:`run_backtest` reads for ``methods`` (the step reads
    only these from backtest_cutoff_features: 11 of its 41 columns)."""
    required = list(KEY_COLUMNS)
    if "baseline_two_feature" in methods:
        required += BASELINE_FEATURES
    if "rfm_segments" in methods:
        required.append("rfm_segment")
    if "kmeans_tiers" in methods:
        required += [*KMEANS_FEATURES, KMEANS_VALUE_COLUMN]
    if "predicted_clv" in methods or "predicted_purchases" in methods:
        required += BTYD_COLUMNS
    return list(dict.fromkeys(required))


def run_backtest(
    snapshots: pd.DataFrame,
    *,
    top_share: float,
    rfm_high_segments: Sequence[str],
    kmeans_k: int | None,
    horizon_periods: float,
    time_unit: str,
    methods: Sequence[str] = METHODS,
    random_state: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest value-tier methods against the realised next-window top set.

    Parameters
    ----------
    snapshots : backtest_cutoff_features: one row per ``(cutoff_date, customer_id)``;
        features computed from data up to the cutoff; ``next_value`` = net
        spend in the window after the cutoff (null = 0); ``orders`` = orders up
        to the cutoff (rows with 0 / null are excluded from the population).
        The columns a method needs must be present: baseline ->
        BASELINE_FEATURES; rfm -> ``rfm_segment``; kmeans -> KMEANS_FEATURES
        and KMEANS_VALUE_COLUMN; BTYD methods -> ``frequency, recency, T,
        monetary_value`` (in ``time_unit``; null monetary_value = 0).
    top_share : share of the population called High (actual and top-share
        methods); the setting backtest_top_share.
    rfm_high_segments : RFM segments the ``rfm_segments`` method calls High
        (backtest_rfm_high_segments).
    kmeans_k : backtest_kmeans_k; None picks k by silhouette (KMEANS_OPTIONS;
        the first tier name is the predicted High tier).
    horizon_periods : length of the label window in ``time_unit`` (e.g. 13.0
        weeks for a 91-day window); the BTYD prediction horizon.
    time_unit : ``"week"`` or ``"day"``, the unit of frequency/recency/T.
    methods : subset of :data:`METHODS`, in output order.
    random_state : K-Means seed (cluster_random_state).

    Returns
    -------
    metrics : one row per cutoff and method, columns :data:`METRIC_COLUMNS`
        (see the module docstring for the definitions).
    predictions : one row per cutoff, method and population customer,
        columns :data:`PREDICTION_COLUMNS`; ``is_predicted_high`` (nullable
        boolean) and ``score`` are null where the method could not run.
    """
    # ---- validation
    if not isinstance(snapshots, pd.DataFrame):
        raise ValueError(f"snapshots must be a pandas DataFrame, got {type(snapshots).__name__}")
    top_share = _check_share(top_share)
    rfm_high_segments = _names("rfm_high_segments", rfm_high_segments)
    methods = _names("methods", methods, allow_empty=False)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected a subset of {list(METHODS)}")
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {list(TIME_UNITS)}, got {time_unit!r}")
    if isinstance(horizon_periods, (bool, np.bool_)) or not isinstance(
            horizon_periods, (int, float, np.integer, np.floating)):
        raise ValueError(f"horizon_periods must be a positive number, got {horizon_periods!r}")
    horizon_periods = float(horizon_periods)
    if not (math.isfinite(horizon_periods) and horizon_periods > 0):
        raise ValueError(f"horizon_periods must be a positive finite number, got {horizon_periods!r}")
    random_state = check_random_state(random_state)
    cutoff_column, id_column, label_column, orders_column = KEY_COLUMNS

    required = required_columns(methods)
    missing = [c for c in required if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshots is missing columns: {missing}")
    for col in (cutoff_column, id_column):
        if snapshots[col].isna().any():
            raise ValueError(f"{col} has {int(snapshots[col].isna().sum())} missing value(s)")
    dup = snapshots.duplicated([cutoff_column, id_column], keep=False)
    if dup.any():
        ex = snapshots.loc[dup, [cutoff_column, id_column]].drop_duplicates().head(5)
        raise ValueError(f"({cutoff_column}, {id_column}) must be unique; duplicated pairs include "
                         f"{list(ex.itertuples(index=False, name=None))}")
    numeric_cols = [c for c in required if c not in (cutoff_column, id_column, "rfm_segment")]
    for col in numeric_cols:  # fail early on non-numeric / infinite columns
        _numeric(snapshots, col)

    work = snapshots[required]
    cutoffs = pd.Series(pd.unique(work[cutoff_column])).sort_values(kind="stable").tolist()
    metric_rows: list[dict[str, Any]] = []
    pred_frames: list[pd.DataFrame] = []

    for cutoff in cutoffs:
        cut = work[work[cutoff_column] == cutoff]
        orders = np.nan_to_num(_numeric(cut, orders_column), nan=0.0)
        has_purchase = orders > 0
        excluded = int((~has_purchase).sum())
        pop = cut[has_purchase]
        pop = pop.take(canonical_order(pop[id_column])).reset_index(drop=True)
        n = len(pop)
        next_value = np.nan_to_num(_numeric(pop, label_column), nan=0.0)
        actual, actual_thr = top_share_flags(next_value, top_share, require_positive=True)
        btyd = _BTYDCache(pop, horizon_periods)

        for method in methods:
            notes: list[str] = []
            details: dict[str, Any] = {"time_unit": time_unit, "top_share": top_share}
            try:
                flags, score, m_details, m_notes = _run_method(
                    method, pop, btyd,
                    top_share=top_share,
                    rfm_high_segments=rfm_high_segments,
                    kmeans_k=kmeans_k,
                    random_state=random_state,
                )
                details.update(m_details)
                notes.extend(m_notes)
            except _MethodUnavailable as exc:
                flags, score = None, None
                notes.append(str(exc))
            if n and not actual.any():
                notes.append(f"no customer has a positive {label_column}: nobody is actually High")

            counts = classification_metrics(flags if flags is not None else np.zeros(n, bool), actual)
            row: dict[str, Any] = {
                "cutoff_date": cutoff,
                "method": method,
                "customers": n,
                "excluded_customers": excluded,
                "actual_high": counts["actual_high"],
                "actual_threshold": actual_thr,
                "base_rate": counts["base_rate"],
            }
            if flags is None:
                row.update({k: None for k in ("predicted_high", "true_positives", "precision", "recall",
                                              "f1", "accuracy", "lift", "study_accuracy",
                                              "meets_study_target")})
            else:
                row.update({k: counts[k] for k in ("predicted_high", "true_positives", "precision", "recall",
                                                   "f1", "accuracy", "lift", "study_accuracy")})
                sa = counts["study_accuracy"]
                row["meets_study_target"] = None if sa is None else bool(sa > STUDY_TARGET)
            row["note"] = "; ".join(notes) if notes else None
            row["details"] = json.dumps(details, sort_keys=True, default=json_default)
            metric_rows.append(row)

            pred_frames.append(pd.DataFrame({
                "cutoff_date": pd.Series([cutoff], dtype=work[cutoff_column].dtype).repeat(n).reset_index(drop=True),
                "customer_id": pop[id_column].to_numpy(),
                "method": pd.Series(method, index=pd.RangeIndex(n), dtype="str"),
                "is_predicted_high": (pd.array(flags, dtype="boolean") if flags is not None
                                      else pd.array([pd.NA] * n, dtype="boolean")),
                "is_actual_high": actual,
                "score": score if score is not None else np.full(n, np.nan),
            }))

    metrics = _metrics_frame(metric_rows, work[cutoff_column].dtype).rename(
        columns={"cutoff_date": cutoff_column})
    if pred_frames:
        predictions = pd.concat(pred_frames, ignore_index=True)
        predictions["customer_id"] = predictions["customer_id"].astype(snapshots[id_column].dtype)
    else:
        predictions = pd.DataFrame({
            "cutoff_date": pd.Series([], dtype=work[cutoff_column].dtype),
            "customer_id": pd.Series([], dtype=snapshots[id_column].dtype),
            "method": pd.Series([], dtype="str"),
            "is_predicted_high": pd.array([], dtype="boolean"),
            "is_actual_high": pd.Series([], dtype=bool),
            "score": pd.Series([], dtype=np.float64),
        })
    predictions = predictions.rename(columns={"cutoff_date": cutoff_column, "customer_id": id_column})
    return metrics, predictions


def _metrics_frame(rows: list[dict[str, Any]], cutoff_dtype: Any) -> pd.DataFrame:
    cols = {c: [r[c] for r in rows] for c in METRIC_COLUMNS}
    out = pd.DataFrame({
        "cutoff_date": pd.Series(cols["cutoff_date"], dtype=cutoff_dtype),
        "method": pd.Series(cols["method"], dtype="str"),
        **{c: pd.Series(cols[c], dtype="int64") for c in ("customers", "excluded_customers", "actual_high")},
        **{c: pd.array(cols[c], dtype="Int64") for c in ("predicted_high", "true_positives")},
        **{c: pd.Series([np.nan if v is None else float(v) for v in cols[c]], dtype=np.float64)
           for c in ("precision", "recall", "f1", "accuracy", "base_rate", "lift", "study_accuracy")},
        "meets_study_target": pd.array(cols["meets_study_target"], dtype="boolean"),
        "actual_threshold": pd.Series([np.nan if v is None else float(v) for v in cols["actual_threshold"]],
                                      dtype=np.float64),
        "note": pd.Series(cols["note"], dtype="str"),
        "details": pd.Series(cols["details"], dtype="str"),
    })
    return out[list(METRIC_COLUMNS)]
