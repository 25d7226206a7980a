"""Churn risk: a binary classifier on churn_model_input (segkit.dbt_steps.churn_step).

::

    result = fit_churn_model(frame, features, "is_churned_next", categorical=[...], model="gradient_boosting",
                             cv_folds=5, random_state=42, max_train_rows=100_000, importance_rows=5_000,
                             risk_band_edges=(0.3, 0.6))
    result.scores    # customer_id, split, churn_probability, risk_band, is_scored_out_of_fold
    result.drivers   # feature, importance_mean, importance_std, rank
    result.metrics   # roc_auc, precision_top_decile, base_rate, lift_top_decile, ...

The settings (snapshot / temporal), the model, the drivers and the metrics are
described in :mod:`segkit._classifier`, which the tier-change model shares.
Every argument but the frame, features and label is a setting
(``churn_*`` in dbt_project.yml), passed from run_settings.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from segkit._classifier import (
    DRIVER_COLUMNS,
    ID_COLUMN,
    _binary_metrics,
    _check_training_labels,
    _common_checks,
    _importance_frame,
    _numeric_values,
    _permutation,
    _prepare,
    _result_fields,
    _run_counts,
    _run_models,
    _score_frame,
    effective_folds,
    precision_at_top,
    result_summary,
)
from segkit._common import single_threaded

__all__ = ["CHURN_SCORE_COLUMNS", "DRIVER_COLUMNS", "RISK_LABELS", "ChurnResult", "fit_churn_model",
           "precision_at_top", "risk_bands"]

RISK_LABELS: tuple[str, ...] = ("Low", "Medium", "High")
CHURN_SCORE_COLUMNS: tuple[str, ...] = (ID_COLUMN, "split", "churn_probability", "risk_band", "is_scored_out_of_fold")

_BINARY_TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})
_BINARY_FALSE = frozenset({"0", "0.0", "false", "f", "no", "n"})


@dataclass(frozen=True)
class ChurnResult:
    """What :func:`fit_churn_model` returns.

    ``scores``: one row per input row, input order: ``customer_id``, ``split``
    ('train' / 'score'; all 'train' in snapshot mode), ``churn_probability``
    (float64 in [0, 1]), ``risk_band`` (see :func:`risk_bands`),
    ``is_scored_out_of_fold`` (True when the probability comes from a fold
    model that did not see the row; False for 'score' rows, which the final
    model scores without ever having seen their label). In temporal holdout
    mode (:func:`segkit._classifier.uses_holdout`) only the evaluated training
    rows are flagged; the other training rows have a NaN probability.

    ``drivers``: ``feature, importance_mean, importance_std, rank``.

    ``metrics``: see :mod:`segkit._classifier`; also ``n_train``, ``n_scored``
    (rows given a probability), ``n_score_split``, ``n_fit``, ``model``,
    ``cv_folds``, ``mode``, ``validation`` ('cross_validation' / 'holdout'),
    ``n_evaluated`` (rows the metrics are computed on) and ``score_split``
    (metrics on labelled score rows, else None).
    """

    mode: Literal["snapshot", "temporal"]
    model: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    label: str
    cv_folds: int
    random_state: int
    max_train_rows: int
    n_fit: int  # rows the largest model was fitted on
    sampled: bool  # True when some model was fitted on a sub-sample
    risk_band_edges: tuple[float, ...]
    risk_band_labels: tuple[str, ...]
    metrics: dict[str, Any] = field(compare=False)
    scores: pd.DataFrame = field(repr=False, compare=False)
    drivers: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly run summary (settings, metrics, drivers; not the scores)."""
        return result_summary(self)


def _check_edges(edges: Any) -> tuple[float, ...]:
    if isinstance(edges, (str, bytes)):
        raise ValueError(f"edges must be a sequence of probabilities, got {edges!r}")
    try:
        e = tuple(float(x) for x in edges)
    except (TypeError, ValueError):
        raise ValueError(f"edges must be a sequence of probabilities, got {edges!r}") from None
    if len(e) != len(RISK_LABELS) - 1:
        raise ValueError(f"edges must hold {len(RISK_LABELS) - 1} probabilities (bands {list(RISK_LABELS)}), got {list(e)}")
    if not all(math.isfinite(x) and 0.0 <= x <= 1.0 for x in e):
        raise ValueError(f"edges must lie in [0, 1], got {list(e)}")
    if any(b <= a for a, b in itertools.pairwise(e)):
        raise ValueError(f"edges must be strictly increasing, got {list(e)}")
    return e


def risk_bands(probabilities: npt.ArrayLike, edges: Sequence[float]) -> np.ndarray:
    """Label probabilities with fixed risk bands (RISK_LABELS).

    Bands are left-closed: with ``edges=(0.3, 0.6)`` (the setting
    churn_risk_band_edges), ``p < 0.3`` is 'Low', ``0.3 <= p < 0.6`` 'Medium'
    and ``p >= 0.6`` 'High'. The edges are fixed probabilities, not quantiles,
    so a band means the same risk in every run and data set (with a low base
    rate most customers are 'Low'; that is the point).

    Returns a 1-D object array of band names; NaN probabilities get None.
    ValueError for probabilities outside [0, 1] or edges that are not two
    strictly increasing probabilities.
    """
    e = _check_edges(edges)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 0:
        p = p.reshape(1)
    if p.ndim != 1:
        raise ValueError(f"probabilities must be one-dimensional, got shape {p.shape}")
    ok = ~np.isnan(p)
    if ((p[ok] < 0.0) | (p[ok] > 1.0)).any():
        raise ValueError("probabilities must lie in [0, 1] (NaN allowed)")
    out = np.full(p.shape, None, dtype=object)
    idx = np.searchsorted(np.asarray(e), p[ok], side="right")
    out[ok] = np.asarray(RISK_LABELS, dtype=object)[idx]
    return out


def _parse_binary_label(s: pd.Series, label: str) -> np.ndarray:
    """1.0 / 0.0 / NaN (missing); ValueError for other values."""
    if pd.api.types.is_bool_dtype(s):
        return _numeric_values(s, label)
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isnan(x) | (x == 0.0) | (x == 1.0)
        if not ok.all():
            raise ValueError(f"label {label!r} must be boolean or 0/1, found values {sorted(set(x[~ok]))[:5]}")
        return x
    miss = s.isna().to_numpy()
    keys = s.astype(object).where(~miss, "").astype(str).str.strip().str.lower()
    is_true = keys.isin(_BINARY_TRUE).to_numpy()
    is_false = keys.isin(_BINARY_FALSE).to_numpy()
    bad = ~(miss | is_true | is_false)
    if bad.any():
        examples = pd.unique(s[bad].astype(str))[:5].tolist()
        raise ValueError(f"label {label!r} must be boolean, 0/1 or yes/no/true/false, found values {examples}")
    out = np.full(len(s), np.nan)
    out[is_true] = 1.0
    out[is_false] = 0.0
    return out


@single_threaded
def fit_churn_model(
    df: pd.DataFrame,
    features: Sequence[str],
    label: str,
    *,
    categorical: Sequence[str],
    model: str,
    cv_folds: int,
    random_state: int,
    max_train_rows: int,
    importance_rows: int,
    risk_band_edges: Sequence[float],
) -> ChurnResult:
    """Fit a churn classifier and give every customer a churn probability.

    Parameters
    ----------
    df : one row per customer: ``customer_id``, the feature columns and
        ``label``; optionally ``split`` ('train' / 'score') for the temporal
        setting. Score rows may have a missing label.
    features : numeric or boolean feature columns (booleans become 0/1,
        missing values NaN). A non-numeric column must be listed in
        ``categorical``.
    label : churn label of the training rows: bool, 0/1 or yes/no/true/false.
    categorical : columns to one-hot encode (values compared as strings; they
        may or may not also be listed in ``features``).
    model : ``"gradient_boosting"`` (HistGradientBoostingClassifier) or
        ``"logistic"`` (LogisticRegression on imputed, standardised inputs):
        the setting churn_model.
    cv_folds : stratified folds for the out-of-fold probabilities (>= 2; every
        class needs at least this many training rows); churn_cv_folds, or
        fewer as plan_churn decides; on a large training set fewer still when
        every fold model is fitted on a full ``max_train_rows`` sample anyway
        (:func:`segkit._classifier.effective_folds`; ``metrics["cv_folds"]``
        is the number run, ``cv_folds_requested`` the one passed).
    random_state : seed for folds, sub-samples, permutations and estimators
        (churn_random_state).
    max_train_rows : each model is fitted on at most this many rows (a seeded
        stratified sample of the rows it may use); all rows are still scored
        (churn_max_train_rows).
    importance_rows : the drivers' permutation importance runs on a seeded
        stratified sample of at most this many of fold 0's held-out rows
        (churn_importance_rows; the size used is ``metrics["n_importance"]``).
    risk_band_edges : passed to :func:`risk_bands` (churn_risk_band_edges).

    Returns
    -------
    :class:`ChurnResult`. ValueError for an empty training set, a single-class
    label, missing training labels, duplicate ids (within a split), unknown
    columns, non-numeric features not declared categorical, infinite values.
    """
    opt = _common_checks(features, categorical, label, model, cv_folds, random_state, max_train_rows, importance_rows)
    edges = _check_edges(risk_band_edges)
    frame = _prepare(df, opt["model_columns"], opt["categorical"], opt["label"], _parse_binary_label)
    label = opt["label"]
    y_all = frame.y
    y = y_all[: frame.n_train]
    _check_training_labels(y, label, opt["cv_folds"], ("not churned", "churned"))
    y = y.astype(np.int64)
    folds = effective_folds(frame.n_train, opt["cv_folds"], opt["max_train_rows"])

    run = _run_models(frame, y, 2, model=opt["model"], cv_folds=folds, random_state=opt["random_state"],
                      max_train_rows=opt["max_train_rows"], importance_rows=opt["importance_rows"])
    p_oof = run.oof[:, 1]
    p_score = run.score[:, 1]

    # ---- drivers: permutation importance of the fold-0 model on held-out rows
    names = list(frame.X.columns)
    rows = run.driver_rows
    imp = _permutation(run.driver_model, frame.X.iloc[rows], y[rows], "roc_auc", opt["random_state"])
    drivers = _importance_frame(names, imp)

    # ---- metrics
    ev = run.evaluated
    metrics: dict[str, Any] = _binary_metrics(y[ev].astype(np.float64), p_oof[ev])
    counts = _run_counts(frame, run, opt)
    n_folds_run = counts["cv_folds"]
    metrics["roc_auc_folds"] = [
        float(roc_auc_score(y[run.fold_of == k], p_oof[run.fold_of == k])) for k in range(n_folds_run)
    ]
    y_score = y_all[frame.n_train :]
    score_split = None
    if y_score.size and not np.isnan(y_score).any():
        score_split = _binary_metrics(y_score, p_score)
    metrics.update(counts, score_split=score_split)

    # ---- scores, back to input order
    prob = np.concatenate([p_oof, p_score])
    scores = _score_frame(frame, run, {"churn_probability": prob,
                                       "risk_band": pd.Series(risk_bands(prob, edges), dtype="str")})
    return ChurnResult(**_result_fields(frame, run, opt), label=label, risk_band_edges=edges,
                       risk_band_labels=RISK_LABELS, metrics=metrics, scores=scores, drivers=drivers)


