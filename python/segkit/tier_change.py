"""Tier change: the next plan move of each subscriber (upgrade / downgrade /
none / churn), a multinomial classifier on churn_model_input's subscribers
(segkit.dbt_steps.tier_change_step). Input preparation, model, out-of-fold
runs and metrics are shared with the churn classifier (segkit._classifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from segkit._classifier import (
    _binary_metrics,
    _check_training_labels,
    _common_checks,
    _importance_frame,
    _permutation,
    _prepare,
    _result_fields,
    _run_counts,
    _run_models,
    _score_frame,
    effective_folds,
    result_summary,
)
from segkit._common import check_column_name, check_names, single_threaded, typed_frame

__all__ = ["TIER_CHANGE_CLASSES", "TIER_PROBABILITY_COLUMNS", "TierChangeResult", "fit_tier_change_model"]

#: label values of the tier-change model, and the probability column of each
#: ('none' = stays on the same plan).
TIER_CHANGE_CLASSES: tuple[str, ...] = ("upgrade", "downgrade", "none", "churn")
TIER_PROBABILITY_COLUMNS: dict[str, str] = {
    "upgrade": "p_upgrade",
    "downgrade": "p_downgrade",
    "none": "p_stay",
    "churn": "p_churn",
}
MODEL = "gradient_boosting"
#: classes whose one-vs-rest AUC drivers are computed
DRIVER_TARGETS: tuple[str, ...] = ("upgrade", "downgrade")


@dataclass(frozen=True)
class TierChangeResult:
    """What :func:`fit_tier_change_model` returns.

    ``scores``: one row per input row, input order: ``customer_id``, ``split``,
    ``from_plan`` (the input plan), ``p_upgrade``, ``p_downgrade``, ``p_stay``
    (label 'none'), ``p_churn`` (the four sum to 1; a class absent from the
    training labels gets 0), ``is_scored_out_of_fold``.

    ``drivers``: ``target, feature, importance_mean, importance_std, rank``
    (rank within target), one block per driver target.

    ``metrics``: ``roc_auc_ovr`` {class: one-vs-rest AUC}, ``roc_auc_macro``,
    ``log_loss``, ``base_rates``, ``precision_top_decile`` and
    ``lift_top_decile`` per class, ``classes`` (modelled), ``driver_targets``
    (computed), plus the counts and settings as for :class:`ChurnResult`.
    """

    mode: Literal["snapshot", "temporal"]
    model: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    from_plan: str
    label: str
    plan_order: tuple[str, ...]
    classes: tuple[str, ...]
    cv_folds: int
    random_state: int
    max_train_rows: int
    n_fit: int
    sampled: bool
    metrics: dict[str, Any] = field(compare=False)
    scores: pd.DataFrame = field(repr=False, compare=False)
    drivers: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly run summary (settings, metrics, drivers; not the scores)."""
        return result_summary(self)


def _parse_tier_label(s: pd.Series, label: str) -> np.ndarray:
    """Class code (index into TIER_CHANGE_CLASSES) as float, NaN for missing."""
    miss = s.isna().to_numpy()
    keys = s.astype(object).where(~miss, "").astype(str).str.strip().str.lower().to_numpy()
    out = np.full(len(s), np.nan)
    for i, c in enumerate(TIER_CHANGE_CLASSES):
        out[keys == c] = i
    bad = ~miss & np.isnan(out)
    if bad.any():
        examples = pd.unique(s[bad].astype(str))[:5].tolist()
        raise ValueError(f"label {label!r} must hold {list(TIER_CHANGE_CLASSES)}, found {examples}")
    return out



# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #
def _ovr_auc_scorer(class_codes: Sequence[int], targets: Sequence[str]) -> Any:
    """Scorer returning {target: one-vs-rest AUC} from one predict_proba call."""
    codes = list(class_codes)

    def score(estimator: Pipeline, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
        proba = estimator.predict_proba(X)
        model_classes = list(estimator.named_steps["model"].classes_)
        out = {}
        for t, code in zip(targets, codes):
            out[t] = float(roc_auc_score(y == code, proba[:, model_classes.index(code)]))
        return out

    return score


def _apply_plan_order(P: np.ndarray, plan_pos: np.ndarray, n_plans: int) -> None:
    """Zero impossible moves in place (upgrade from the top plan, downgrade from
    the bottom plan) and renormalise rows to sum to 1."""
    up, down = TIER_CHANGE_CLASSES.index("upgrade"), TIER_CHANGE_CLASSES.index("downgrade")
    P[plan_pos == n_plans - 1, up] = 0.0
    P[plan_pos == 0, down] = 0.0
    total = P.sum(axis=1, keepdims=True)
    np.divide(P, total, out=P, where=total > 0)


@single_threaded
def fit_tier_change_model(
    df: pd.DataFrame,
    features: Sequence[str],
    from_plan: str,
    label: str,
    *,
    categorical: Sequence[str],
    plan_order: Sequence[str],
    cv_folds: int,
    random_state: int,
    max_train_rows: int,
    importance_rows: int,
) -> TierChangeResult:
    """Multinomial model of the next plan move: upgrade / downgrade / none / churn.

    ``label`` holds ``'upgrade'``, ``'downgrade'``, ``'none'`` (stays on the
    plan) or ``'churn'`` (case-insensitive) for the training rows; at least two
    of them must occur, each in at least ``cv_folds`` rows. ``from_plan`` is
    the current plan column; it is always used as a categorical feature.

    ``plan_order`` (the setting tier_plan_order, lowest plan first, e.g.
    ``["Basic", "Standard", "Premium"]``): every ``from_plan`` value must be in
    it, training rows may not upgrade from the top plan or downgrade from the
    bottom plan, and those impossible moves get probability 0 (the other
    probabilities are renormalised).

    The settings (snapshot, or temporal with a ``split`` column), the sizes and
    the preprocessing are as for the churn model (segkit._classifier); the
    model is gradient boosting; cv_folds, random_state, max_train_rows and
    importance_rows are the churn_* settings. Drivers: permutation importance of the one-vs-rest
    AUC of each class in DRIVER_TARGETS (classes absent from the training
    labels are skipped; ``metrics["driver_targets"]`` lists the ones computed).
    See :class:`TierChangeResult` for the outputs.
    """
    from_plan = check_column_name("from_plan", from_plan)
    categorical = check_names("categorical", categorical, allow_empty=True)
    opt = _common_checks(features, categorical if from_plan in categorical else [*categorical, from_plan], label,
                         MODEL, cv_folds, random_state, max_train_rows, importance_rows)
    targets = list(DRIVER_TARGETS)
    plans = tuple(check_names("plan_order", plan_order, allow_empty=False))
    if len(plans) < 2:
        raise ValueError(f"plan_order must list at least two plans, got {list(plans)}")

    frame = _prepare(df, opt["model_columns"], opt["categorical"], opt["label"], _parse_tier_label,
                     extra_columns=[from_plan])
    label = opt["label"]
    y_all = frame.y
    y = y_all[: frame.n_train]
    _check_training_labels(y, label, opt["cv_folds"], TIER_CHANGE_CLASSES)
    y = y.astype(np.int64)
    present = np.unique(y)  # codes into TIER_CHANGE_CLASSES, sorted
    classes = tuple(TIER_CHANGE_CLASSES[c] for c in present)
    # model on dense codes 0..C-1
    dense = np.searchsorted(present, y)

    plan_raw = frame.extra[from_plan]
    plan_str = plan_raw.astype(object).where(plan_raw.notna(), None).to_numpy()
    lookup = {p: i for i, p in enumerate(plans)}
    unknown = sorted({str(v) for v in plan_str if v not in lookup})
    if unknown:
        raise ValueError(
            f"from_plan {from_plan!r} has values not in plan_order (var tier_plan_order: {list(plans)}): "
            f"{unknown[:5]}. Fix: list every plan level of the subscriptions, lowest first, e.g. "
            f"--vars '{{tier_plan_order: {list(plans) + unknown[:5]}}}' in the right order")
    plan_pos = np.array([lookup[v] for v in plan_str], dtype=np.int64)
    tp = plan_pos[: frame.n_train]
    up = TIER_CHANGE_CLASSES.index("upgrade")
    down = TIER_CHANGE_CLASSES.index("downgrade")
    n_bad_up = int(((y == up) & (tp == len(plans) - 1)).sum())
    n_bad_down = int(((y == down) & (tp == 0)).sum())
    if n_bad_up or n_bad_down:
        raise ValueError(
            f"label {label!r} contradicts plan_order (var tier_plan_order): {n_bad_up} upgrade(s) from the top "
            f"plan {plans[-1]!r}, {n_bad_down} downgrade(s) from the bottom plan {plans[0]!r}. Fix: list the plan "
            "levels from the lowest up"
        )

    folds = effective_folds(frame.n_train, opt["cv_folds"], opt["max_train_rows"])
    run = _run_models(frame, dense, present.size, model=opt["model"], cv_folds=folds,
                      random_state=opt["random_state"], max_train_rows=opt["max_train_rows"],
                      importance_rows=opt["importance_rows"])
    counts = _run_counts(frame, run, opt)

    # ---- full 4-class probability matrix (absent classes 0), plan constraints
    n = len(frame.X)
    P = np.zeros((n, len(TIER_CHANGE_CLASSES)), dtype=np.float64)
    P[: frame.n_train, present] = run.oof
    P[frame.n_train :, present] = run.score
    _apply_plan_order(P, plan_pos, len(plans))
    np.clip(P, 0.0, 1.0, out=P)

    # ---- drivers per target (one-vs-rest AUC)
    computed = [t for t in targets if t in classes]
    names = list(frame.X.columns)
    blocks = []
    if computed:
        rows = run.driver_rows
        codes = [classes.index(t) for t in computed]
        scorer = _ovr_auc_scorer(codes, computed)
        imp = _permutation(run.driver_model, frame.X.iloc[rows], dense[rows], scorer, opt["random_state"])
        for t in computed:
            block = _importance_frame(names, imp[t])
            block.insert(0, "target", pd.Series([t] * len(block), dtype="str"))
            blocks.append(block)
    drivers = pd.concat(blocks, ignore_index=True) if blocks else typed_frame([], {
        "target": "str", "feature": "str", "importance_mean": "float64", "importance_std": "float64", "rank": "int64"})

    # ---- metrics on the out-of-fold (or holdout) rows
    ev = run.evaluated
    Ptr = P[: frame.n_train][ev]
    y_ev = y[ev]
    auc: dict[str, float | None] = {}
    prec: dict[str, float] = {}
    lift: dict[str, float | None] = {}
    base: dict[str, float] = {}
    for c in present:
        name = TIER_CHANGE_CLASSES[c]
        yc = (y_ev == c).astype(np.float64)
        m = _binary_metrics(yc, Ptr[:, c])
        auc[name], prec[name], lift[name], base[name] = (
            m["roc_auc"], m["precision_top_decile"], m["lift_top_decile"], m["base_rate"],
        )
    valid = [v for v in auc.values() if v is not None]
    probs_present = Ptr[:, present]
    probs_present = probs_present / probs_present.sum(axis=1, keepdims=True)
    metrics: dict[str, Any] = {
        "roc_auc_ovr": auc,
        "roc_auc_macro": float(np.mean(valid)) if valid else None,
        "log_loss": float(log_loss(dense[ev], probs_present, labels=np.arange(present.size))),
        "base_rates": base,
        "precision_top_decile": prec,
        "lift_top_decile": lift,
        "classes": list(classes),
        "driver_targets": computed,
        **counts,
    }

    # ---- scores, back to input order
    scores = _score_frame(frame, run, {"from_plan": plan_raw,
                                       **{TIER_PROBABILITY_COLUMNS[c]: P[:, i] for i, c in enumerate(TIER_CHANGE_CLASSES)}})
    return TierChangeResult(**_result_fields(frame, run, opt), from_plan=from_plan, label=label, plan_order=plans,
                            classes=classes, metrics=metrics, scores=scores, drivers=drivers)
