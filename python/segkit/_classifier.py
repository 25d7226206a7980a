"""What the churn classifier (segkit.churn) and the tier-change model
(segkit.tier_change) share: input preparation, the model pipeline, the
out-of-fold runs, permutation importance and the binary metrics.

Input: one frame, one row per customer: ``customer_id``, the feature columns,
the label and, in the temporal setting, a ``split`` column.

*Snapshot* (no ``split`` column; e.g. the telecom study, one row per customer):
there is no future period, so every customer gets an **out-of-fold**
probability. The rows are split into ``cv_folds`` stratified folds
(``StratifiedKFold(shuffle=True, random_state)``); the model for fold *k* is
trained on rows outside fold *k* only and scores fold *k*. No customer's
probability comes from a model that saw its row. On a large training set the
folds are reduced to as few as still fit every fold model on a full
``max_train_rows`` sample (:func:`effective_folds`): the same models, fewer fits.

*Temporal* (features as of a cutoff, label = churned in the following period):
a ``split`` column holds ``'train'`` / ``'score'``. A final model is fitted on
all training rows and scores the ``'score'`` rows (``is_scored_out_of_fold =
False``: they were never labelled, nothing leaks); the training rows also get
out-of-fold probabilities as above, which the metrics are computed on. If the
score rows carry a complete label (a backtest), the same metrics are also
reported for them under ``metrics["score_split"]``. Score rows may have a
missing label. On a large training set (``n_train >= 2 * max_train_rows``,
:func:`uses_holdout`) the K fold models are replaced by one holdout: the
metrics and drivers come from the final model on a seeded stratified sample of
``max_train_rows`` training rows outside its own fit sample (only those rows
get ``is_scored_out_of_fold = True`` and a probability; the other training
rows get NaN); ``metrics["validation"]`` is ``"holdout"`` (else
``"cross_validation"``), ``metrics["n_evaluated"]`` the rows the metrics are
computed on, ``metrics["cv_folds"]`` 1. From SINGLE_FOLD_MIN_TRAIN training
rows up to that size only fold 0 of the K folds is fitted and evaluated
(:func:`uses_single_fold`, ``metrics["validation"]`` ``"single_fold"``): the
final model, the score rows and the drivers are unchanged.

The output has one row per input row, in the input order. ``customer_id`` must
be unique within each split.

Model
-----
One sklearn ``Pipeline`` = ``ColumnTransformer`` + classifier:

* numeric and boolean features -> float64 (booleans 0/1, missing -> NaN);
  ``"gradient_boosting"`` leaves NaN to ``HistGradientBoostingClassifier``'s
  native missing-value handling (missingness itself is often predictive,
  e.g. "no usage recorded"); ``"logistic"`` uses
  ``SimpleImputer(median, add_indicator=True)`` then ``StandardScaler``;
* categorical features -> strings (missing -> ``"__missing__"``) -> their
  codes in sorted-name order (the same columns as the strings, faster) ->
  ``OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20)``:
  categories seen fewer than 20 times in a training set share one
  "infrequent" column, and categories first seen at scoring time go there
  too (or to all-zeros if there is no infrequent column);
* ``HistGradientBoostingClassifier(early_stopping=False, random_state)``
  with conservative settings (learning_rate 0.05, 150 iterations, 15 leaves,
  ``min_samples_leaf = min(100, max(5, n_fit // 20))``, l2 1.0; on the
  synthetic benchmark and the telecom data they beat sklearn's defaults by
  0.004-0.03 out-of-fold AUC) or ``LogisticRegression(lbfgs, C=1)``. No class
  weights, so probabilities stay on the scale of the observed base rate (also
  after sub-sampling, which is stratified).

Design rules
------------
* Plain functions and frozen dataclasses; no module-level state.
* Deterministic: rows are processed in (split, ``customer_id``) order, so the
  output does not depend on the input row order; every random step is seeded
  from ``random_state`` (fold assignment, training sub-samples, importance
  sample, permutations, the estimators). All model work runs with BLAS and
  OpenMP limited to one thread, so results are bit-for-bit reproducible
  (sklearn's multi-threaded reductions can change the last bits otherwise)
  and parallel dbt Python models do not oversubscribe the CPUs.
* Bounded memory: each model is fitted on at most ``max_train_rows`` rows (a
  seeded stratified sample of the rows it may see); all rows are scored in
  batches of BATCH_SIZE; permutation importance runs on at most
  ``importance_rows`` held-out rows (churn_importance_rows). Measured: 1,000,000 customers x 15
  features, snapshot mode, gradient boosting (5 fits on 200,000 rows,
  importance on 20,000): about 45 s of CPU on one core, 760 MB peak RSS.
  Where the time goes (bench, 300,000 customers, temporal churn: 168,232
  training rows x 28 features): permutation importance ~55% of the CPU
  (predicting 150 trees for every permuted column and repeat), the fits ~40%;
  hence effective_folds and the importance_rows cap (187 s -> 81 s of CPU, the
  scored probabilities bit-for-bit the same). At 1,000,000 customers (bench
  --step, temporal: churn 561,263 training rows, tier change 274,814) the
  holdout (:func:`uses_holdout`: one fit instead of 2 folds + final) and one
  shared run_info string took CPU seconds (user + sys) from 101 to 52 (churn)
  and 197 to 117 (tier change), peak RSS from 6.2 / 5.9 GB to 1.7 / 1.6 GB,
  the score rows' probabilities unchanged. What is left in tier change:
  permutation importance ~37% (5,000 rows x 27 columns x 5 repeats through
  600 trees), scoring the 247,720 score rows + the 100,000 holdout rows ~34%,
  the one fit ~21%. At 300,000 customers (churn 168,232 training rows, 3
  folds; tier change 82,399, 5 folds), profiled in one process on a loaded
  machine, as multiples of one reference HistGradientBoosting fit timed in
  the same process: churn 97x -> 30x, tier change 235x -> 46x (CPU seconds
  247 -> 105), from :func:`uses_single_fold` (fits 50% / 66% of the time
  before) and :func:`_fast_tree_permutation` (34% / 25% before; 10x / 2.6x
  faster), the score rows and drivers bit-for-bit unchanged. Left: the fits
  (~62%), scoring (~15%), the tier-change importance (~23%: a third of its
  600 trees split on a permuted column).

Drivers
-------
``sklearn.inspection.permutation_importance`` (for gradient boosting the same
numbers from :func:`_fast_tree_permutation`) of the *fold-0* model on a
seeded stratified sample (at most ``importance_rows``, the setting
churn_importance_rows; ``metrics["n_importance"]`` is the size used) of fold 0's held-out
rows, IMPORTANCE_REPEATS repeats, scored by ROC AUC (one-vs-rest AUC per
target class for the tier-change model). Features are permuted as raw
columns, so a categorical column is one driver however many one-hot columns
it becomes. ``importance_mean`` is the mean drop in AUC; ``rank`` 1 is the
strongest (ties broken by feature name).

Metric definitions
------------------
* ``roc_auc``: ROC AUC of the pooled out-of-fold probabilities;
  ``roc_auc_folds``: the AUC inside each fold.
* ``precision_top_decile``: share of churners among the ``ceil(0.1 * n)``
  customers with the highest probabilities. Ties at the cut are counted
  fractionally (the tied group contributes its churn rate for the places left),
  so the figure does not depend on row order.
* ``base_rate``: share of churners; ``lift_top_decile`` =
  ``precision_top_decile / base_rate``.
* ``average_precision``: sklearn's average precision (area under the
  precision-recall curve) of the out-of-fold probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from segkit._common import (
    canonical_order,
    check_choice,
    check_column_name,
    check_int,
    check_names,
    check_random_state,
    finite_column,
    json_clean,
)

MODELS: tuple[str, ...] = ("gradient_boosting", "logistic")
ID_COLUMN = "customer_id"
SPLIT_COLUMN = "split"
SPLIT_TRAIN = "train"
SPLIT_SCORE = "score"
SPLITS: tuple[str, ...] = (SPLIT_TRAIN, SPLIT_SCORE)
MISSING_CATEGORY = "__missing__"
TOP_FRACTION = 0.10
DRIVER_COLUMNS: tuple[str, ...] = ("feature", "importance_mean", "importance_std", "rank")

# Fixed sizes (not settings; max_train_rows and importance_rows are the settings
# churn_max_train_rows and churn_importance_rows).
IMPORTANCE_REPEATS = 5
BATCH_SIZE = 100_000  # rows per predict_proba call
MIN_FREQUENCY = 20  # OneHotEncoder min_frequency (count)
SINGLE_FOLD_MIN_TRAIN = 50_000  # temporal training rows from which only fold 0 is evaluated (uses_single_fold)

# salts for the seeded sub-streams (fold sub-samples use the fold number)
_SALT_FINAL = 1_000
_SALT_IMPORTANCE = 2_000
_SALT_HOLDOUT = 3_000


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [json_clean(rec) for rec in df.to_dict(orient="records")]


def result_summary(result: Any) -> dict[str, Any]:
    """JSON-friendly run summary of a classifier result (ChurnResult,
    TierChangeResult): its settings (every compared field, in field order),
    metrics and drivers; not the scores."""
    out = {f.name: json_clean(getattr(result, f.name)) for f in fields(result) if f.compare}
    return {**out, "metrics": json_clean(result.metrics), "drivers": records(result.drivers)}


def precision_at_top(y_true: npt.ArrayLike, scores: npt.ArrayLike, fraction: float = TOP_FRACTION) -> float:
    """Share of positives among the ``ceil(fraction * n)`` highest scores.

    Ties at the cut count fractionally: the group tied at the threshold fills
    the places left with its own positive rate, so the result does not depend
    on the row order.
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.size != s.size:
        raise ValueError(f"y_true and scores must have the same length, got {y.size} and {s.size}")
    if y.size == 0:
        raise ValueError("precision_at_top needs at least one row")
    if not (0.0 < fraction <= 1.0):
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    n = s.size
    k = max(1, math.ceil(round(fraction * n, 9)))
    thr = np.partition(s, n - k)[n - k]  # k-th largest score
    above = s > thr
    tied = s == thr
    n_above = int(above.sum())
    hits = y[above].sum() + (k - n_above) * y[tied].mean()
    return float(hits / k)



# --------------------------------------------------------------------------- #
# Input preparation
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Frame:
    """Canonically ordered working data (train rows first, then score rows)."""

    X: pd.DataFrame  # model columns, prepared
    numeric: list[str]
    categorical: list[str]
    ids: pd.Series  # id per working row
    split: np.ndarray  # 'train' / 'score' per working row
    y: np.ndarray  # parsed label per working row (float; NaN = missing, e.g. score rows)
    inverse: np.ndarray  # output row i <- working row inverse[i]
    n_train: int
    mode: Literal["snapshot", "temporal"]
    extra: dict[str, pd.Series]  # extra raw columns per working row


def _numeric_values(s: pd.Series, col: str) -> np.ndarray:
    return finite_column(s, col, "; list it in categorical to one-hot encode it")


def _category_values(s: pd.Series) -> pd.Categorical:
    """Column as a categorical of str (compact for millions of rows);
    missing -> MISSING_CATEGORY; integral numbers print without '.0'."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        safe = np.where(missing, 0.0, x)
        integral = np.isfinite(safe) & (safe == np.round(safe)) & (np.abs(safe) < 2**53)
        as_int = np.where(integral, safe, 0.0).astype(np.int64).astype(str).astype(object)
        values = np.where(integral, as_int, safe.astype(str).astype(object))
        values[missing] = MISSING_CATEGORY
        return pd.Categorical(values)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    names = np.asarray([str(u) for u in uniques] + [MISSING_CATEGORY], dtype=object)
    names_u, inv = np.unique(names, return_inverse=True)  # equal str of different values merge
    codes = np.where(codes < 0, len(uniques), codes)
    return pd.Categorical.from_codes(inv[codes], categories=pd.Index(names_u, dtype=object))


def _parse_split(values: pd.Series) -> np.ndarray:
    if values.isna().any():
        raise ValueError(f"split column {SPLIT_COLUMN!r} has {int(values.isna().sum())} missing value(s)")
    s = values.astype(str).str.strip().str.lower().to_numpy().astype(object)
    bad = sorted(set(s) - set(SPLITS))
    if bad:
        raise ValueError(f"split column {SPLIT_COLUMN!r} must hold 'train' or 'score', found {bad[:5]}")
    return s


def _prepare(
    df: Any,
    model_columns: list[str],
    categorical: list[str],
    label: str,
    parse_label: Callable[[pd.Series, str], np.ndarray],
    extra_columns: Sequence[str] = (),
) -> _Frame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    id_column = ID_COLUMN
    needed = list(dict.fromkeys([id_column, *model_columns, *extra_columns]))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns missing from df: {missing}")
    if label not in df.columns:
        raise ValueError(f"label {label!r} is not a column of df")

    allf = df[needed].reset_index(drop=True)
    y_all = parse_label(df[label], label)
    mode: Literal["snapshot", "temporal"]
    if SPLIT_COLUMN in df.columns:
        split_all = _parse_split(df[SPLIT_COLUMN])
        mode = "temporal"
    else:
        split_all = np.full(len(df), SPLIT_TRAIN, dtype=object)
        mode = "snapshot"

    ids = allf[id_column]
    if ids.isna().any():
        raise ValueError(f"{id_column} has {int(ids.isna().sum())} missing value(s)")
    for sp in SPLITS:
        sub = ids[split_all == sp]
        dup = sub.duplicated(keep=False)
        if dup.any():
            examples = sub[dup].drop_duplicates().head(5).tolist()
            where = "" if mode == "snapshot" else f" within split {sp!r}"
            raise ValueError(f"{id_column} must be unique{where}; duplicated ids include {examples}")

    # ---- canonical order: train rows by id, then score rows by id
    order_parts = []
    for sp in SPLITS:
        pos = np.flatnonzero(split_all == sp)
        order_parts.append(pos[canonical_order(ids.iloc[pos].reset_index(drop=True))])
    order = np.concatenate(order_parts).astype(np.intp)
    n = order.size
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n, dtype=np.intp)

    work = allf.take(order).reset_index(drop=True)
    cat_set = set(categorical)
    data: dict[str, Any] = {}
    numeric_cols: list[str] = []
    for col in model_columns:
        if col in cat_set:
            # the category's code (codes follow the sorted category names, as
            # OneHotEncoder sorts categories): the same one-hot columns as the
            # names give, counted by numpy instead of a Python Counter over strings
            data[col] = _category_values(work[col]).codes.astype(np.int64)
        else:
            data[col] = _numeric_values(work[col], col)
            numeric_cols.append(col)
    X = pd.DataFrame(data)
    extra = {c: work[c] for c in extra_columns}
    return _Frame(
        X=X,
        numeric=numeric_cols,
        categorical=[c for c in model_columns if c in cat_set],
        ids=work[id_column],
        split=split_all[order],
        y=y_all[order],
        inverse=inverse,
        n_train=int((split_all == SPLIT_TRAIN).sum()),
        mode=mode,
        extra=extra,
    )



# --------------------------------------------------------------------------- #
# Model building
# --------------------------------------------------------------------------- #
def _make_pipeline(
    model: str,
    numeric: list[str],
    categorical: list[str],
    random_state: int,
    n_fit: int,
) -> Pipeline:
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        if model == "logistic":
            num: Any = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                    ("scale", StandardScaler()),
                ]
            )
        else:
            num = "passthrough"  # HistGradientBoosting handles NaN natively
        transformers.append(("numeric", num, numeric))
    if categorical:
        ohe = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=MIN_FREQUENCY,
            sparse_output=False,
            dtype=np.float64,
        )
        transformers.append(("categorical", ohe, categorical))
    pre = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    if model == "logistic":
        clf: Any = LogisticRegression(C=1.0, solver="lbfgs", max_iter=2000, random_state=random_state)
    else:
        clf = HistGradientBoostingClassifier(
            **_hgb_defaults(n_fit), early_stopping=False, random_state=random_state
        )
    return Pipeline([("prepare", pre), ("model", clf)])


def _hgb_defaults(n_fit: int) -> dict[str, Any]:
    """Conservative HistGradientBoosting settings (no early stopping, so the
    regularisation has to be built in). ``min_samples_leaf`` shrinks for small
    training sets so a few hundred rows can still be split."""
    return {
        "learning_rate": 0.05,
        "max_iter": 150,
        "max_leaf_nodes": 15,
        "min_samples_leaf": int(min(100, max(5, n_fit // 20))),
        "l2_regularization": 1.0,
    }


def _binned_trees(pipe: Pipeline) -> Any:
    """The HistGradientBoosting model of ``pipe`` when its trees can be walked on
    binned rows (no native categorical features: the pipeline one-hot encodes),
    else None (the logistic model)."""
    model = pipe.named_steps["model"]
    if not isinstance(model, HistGradientBoostingClassifier):
        return None
    is_cat = getattr(model, "is_categorical_", None)
    return None if is_cat is not None and bool(np.any(is_cat)) else model


def _bin_rows(pipe: Pipeline, model: Any, X: pd.DataFrame) -> np.ndarray:
    """The rows of X as the model's bins (uint8): the pipeline's transform, then the
    model's own bin mapper (what sklearn's fit predicts on)."""
    Z = model._preprocess_X(pipe.named_steps["prepare"].transform(X), reset=False)
    return model._bin_mapper.transform(np.asarray(Z, dtype=np.float64))


def _predict_proba(pipe: Pipeline, X: pd.DataFrame, rows: np.ndarray, n_classes: int) -> np.ndarray:
    """``pipe.predict_proba`` of X's rows, in batches of BATCH_SIZE.

    For gradient boosting the trees are walked on the binned rows
    (:func:`_bin_rows`, ``predictor.predict_binned``, as sklearn does on its
    training data) instead of the float rows: a split at bin b has the threshold
    ``bin_thresholds[b]`` and a value falls in a bin <= b exactly when it is <= that
    threshold (missing values in the missing bin), so every row takes the same
    path and the sums are the same operations in the same order: the same
    probabilities bit for bit (tests/python/test_churn.py), about 3.5x faster at
    1,000,000 bench customers (522,534 rows through 600 trees: 40.5 s -> 11.7 s,
    one thread)."""
    out = np.empty((rows.size, n_classes), dtype=np.float64)
    model = _binned_trees(pipe)
    for start in range(0, rows.size, BATCH_SIZE):
        sl = slice(start, min(start + BATCH_SIZE, rows.size))
        batch = X.iloc[rows[sl]]
        if model is None:
            out[sl] = pipe.predict_proba(batch)
            continue
        binned = _bin_rows(pipe, model, batch)
        raw = np.zeros((binned.shape[0], model.n_trees_per_iteration_), dtype=model._baseline_prediction.dtype,
                       order="F")
        raw += model._baseline_prediction
        model._predict_iterations(binned, model._predictors, raw, True, 1)
        out[sl] = model._loss.predict_proba(raw)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _stratified_sample(y: np.ndarray, size: int, seed: Sequence[int]) -> np.ndarray | None:
    """Sorted positions of a seeded stratified sample of about ``size`` rows.

    Each class gets its proportional share (largest remainders), at least one
    row. None when ``size >= len(y)`` (no sampling needed).
    """
    n = y.size
    if size >= n:
        return None
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (size / n)
    take = np.floor(quota).astype(np.int64)
    rest = size - int(take.sum())
    if rest > 0:
        frac_order = np.lexsort((classes, -(quota - take)))
        take[frac_order[:rest]] += 1
    take = np.minimum(np.maximum(take, 1), counts)
    rng = np.random.default_rng(list(seed))
    picked = []
    for c, k in zip(classes, take):
        pos = np.flatnonzero(y == c)
        picked.append(pos[rng.choice(pos.size, size=int(k), replace=False)])
    return np.sort(np.concatenate(picked))


def effective_folds(n_train: int, cv_folds: int, max_train_rows: int) -> int:
    """Folds actually run: ``cv_folds``, or fewer when the training set is so
    large that fewer folds still fit every fold model on a full
    ``max_train_rows`` sample.

    A fold model is fitted on a seeded sample of at most ``max_train_rows`` of
    the ``n_train * (K - 1) / K`` rows outside its fold. Once even K folds leave
    at least ``max_train_rows`` rows outside each fold, more folds only add
    fits of the same size (statistically the same models) while every training
    row still gets exactly one out-of-fold probability. So the folds are
    reduced to the smallest K >= 2 with ``n_train - ceil(n_train / K) >=
    max_train_rows`` (never above ``cv_folds``): with max_train_rows = 100,000,
    5 folds up to 125,000 training rows, 3 folds at 168,000, 2 folds from
    200,000. Below that size nothing changes.
    """
    for k in range(2, cv_folds):
        if n_train - math.ceil(n_train / k) >= max_train_rows:
            return k
    return cv_folds


def uses_holdout(mode: str, n_train: int, n_score: int, max_train_rows: int) -> bool:
    """Temporal mode on a large training set: one holdout evaluation instead of
    the K fold models.

    In the temporal setting the training rows' probabilities only serve the
    metrics (the step publishes the score rows, which the final model scores).
    Once ``n_train >= 2 * max_train_rows`` (where :func:`effective_folds`
    already runs only 2 folds) the final model is fitted on its seeded
    ``max_train_rows`` sample as before, and the training rows it never saw
    hold at least as many rows again: the metrics are computed on a seeded
    stratified sample of ``max_train_rows`` of them (a holdout as large as a
    fold) and the drivers on the same model. One fit instead of three, the
    score rows' probabilities bit-for-bit those of the K-fold run (same final
    model). Snapshot mode (every row needs an out-of-fold probability) and
    smaller training sets are unchanged.
    """
    return mode == "temporal" and n_score > 0 and n_train >= 2 * max_train_rows


def uses_single_fold(mode: str, n_train: int, n_score: int, max_train_rows: int) -> bool:
    """Temporal mode on a training set of at least SINGLE_FOLD_MIN_TRAIN rows
    (and below the :func:`uses_holdout` size): the metrics come from fold 0 alone.

    In the temporal setting the training rows' probabilities only serve the
    metrics; the published score rows come from the final model. So once the
    training set is large (a fold holds at least SINGLE_FOLD_MIN_TRAIN / K
    rows) only the first of the K fold models is fitted (the same model, on the
    same seeded sample, as in the K-fold run) and the metrics are computed on
    its held-out fold; the other training rows get NaN and
    ``is_scored_out_of_fold = False``. The final model, the score rows'
    probabilities and the drivers (always fold 0's model on fold 0's rows) are
    bit-for-bit those of the K-fold run: K - 1 fits fewer (the bulk of the
    step's time at 300,000 customers). ``metrics["validation"]`` is
    ``"single_fold"``, ``metrics["cv_folds"]`` 1. Smaller training sets and
    snapshot mode (every row needs an out-of-fold probability) are unchanged.
    """
    return (mode == "temporal" and n_score > 0 and n_train >= SINGLE_FOLD_MIN_TRAIN
            and not uses_holdout(mode, n_train, n_score, max_train_rows))


@dataclass
class _Run:
    oof: np.ndarray  # (n_train, C) out-of-fold (or holdout) probabilities; NaN rows not evaluated
    score: np.ndarray  # (n_score, C) final-model probabilities
    fold_of: np.ndarray  # fold per training row; -1 = not evaluated (holdout mode)
    driver_model: Pipeline
    driver_rows: np.ndarray  # training-row positions used for permutation importance
    n_fit: int
    sampled: bool
    validation: Literal["cross_validation", "holdout", "single_fold"] = "cross_validation"

    @property
    def evaluated(self) -> np.ndarray:
        """Mask of the training rows the metrics are computed on."""
        return self.fold_of >= 0


def _run_models(
    frame: _Frame,
    y: np.ndarray,
    n_classes: int,
    *,
    model: str,
    cv_folds: int,
    random_state: int,
    max_train_rows: int,
    importance_rows: int,
) -> _Run:
    """Out-of-fold probabilities on the training rows (+ a final model on score
    rows); in holdout mode (:func:`uses_holdout`) the final model's own
    held-out training rows replace the folds."""
    X = frame.X
    n_train = frame.n_train
    train_rows = np.arange(n_train, dtype=np.intp)
    score_rows = np.arange(n_train, len(X), dtype=np.intp)

    def new_pipe(n_fit: int) -> Pipeline:
        return _make_pipeline(model, frame.numeric, frame.categorical, random_state, n_fit)

    def fit_on(pool: np.ndarray, salt: int) -> tuple[Pipeline, int, bool, np.ndarray]:
        sub = _stratified_sample(y[pool], max_train_rows, (random_state, salt))
        fit_rows = pool if sub is None else pool[sub]
        pipe = new_pipe(fit_rows.size).fit(X.iloc[fit_rows], y[fit_rows])
        got = pipe.named_steps["model"].classes_
        if got.size != n_classes:  # cannot happen with stratified folds; guard anyway
            raise ValueError(f"a training set lacks some label classes (has {got.tolist()})")
        return pipe, int(fit_rows.size), sub is not None, fit_rows

    if uses_holdout(frame.mode, n_train, score_rows.size, max_train_rows):
        pipe, m, s, fit_rows = fit_on(train_rows, _SALT_FINAL)
        score = _predict_proba(pipe, X, score_rows, n_classes)
        unseen = np.ones(n_train, dtype=bool)
        unseen[fit_rows] = False
        held = train_rows[unseen]
        sub = _stratified_sample(y[held], max_train_rows, (random_state, _SALT_HOLDOUT))
        held = held if sub is None else held[sub]
        fold_of = np.full(n_train, -1, dtype=np.int64)
        fold_of[held] = 0
        oof = np.full((n_train, n_classes), np.nan, dtype=np.float64)
        oof[held] = _predict_proba(pipe, X, held, n_classes)
        sub = _stratified_sample(y[held], importance_rows, (random_state, _SALT_IMPORTANCE))
        driver_rows = held if sub is None else held[sub]
        return _Run(oof, score, fold_of, pipe, np.sort(driver_rows), m, s, "holdout")

    single = uses_single_fold(frame.mode, n_train, score_rows.size, max_train_rows)
    skf = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state)
    fold_of = np.full(n_train, -1, dtype=np.int64)
    oof = np.full((n_train, n_classes), np.nan, dtype=np.float64)
    n_fit, sampled = 0, False
    driver_model: Pipeline | None = None
    driver_rows = train_rows[:0]
    for k, (fit_pos, held_pos) in enumerate(skf.split(np.zeros((n_train, 1)), y)):
        fold_of[held_pos] = k
        pipe, m, s, _ = fit_on(train_rows[fit_pos], k)
        n_fit, sampled = max(n_fit, m), sampled or s
        oof[held_pos] = _predict_proba(pipe, X, train_rows[held_pos], n_classes)
        if k == 0:
            driver_model = pipe
            sub = _stratified_sample(y[held_pos], importance_rows, (random_state, _SALT_IMPORTANCE))
            driver_rows = held_pos if sub is None else held_pos[sub]
        del pipe
        if single:
            break

    score = np.empty((0, n_classes), dtype=np.float64)
    if score_rows.size:
        pipe, m, s, _ = fit_on(train_rows, _SALT_FINAL)
        n_fit, sampled = max(n_fit, m), sampled or s
        score = _predict_proba(pipe, X, score_rows, n_classes)
    assert driver_model is not None
    return _Run(oof, score, fold_of, driver_model, np.sort(driver_rows), n_fit, sampled,
                "single_fold" if single else "cross_validation")


def _importance_frame(names: list[str], result: Any) -> pd.DataFrame:
    mean = np.asarray(result.importances_mean, dtype=np.float64)
    std = np.asarray(result.importances_std, dtype=np.float64)
    order = np.lexsort((np.asarray(names, dtype=object).astype(str), -mean))
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(1, len(names) + 1)
    out = pd.DataFrame(
        {
            "feature": pd.Series(names, dtype="str"),
            "importance_mean": mean,
            "importance_std": std,
            "rank": rank,
        }
    )
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _permutation(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, scoring: Any, random_state: int) -> Any:
    """``sklearn.inspection.permutation_importance(pipe, X, y, scoring, IMPORTANCE_REPEATS,
    random_state)``; for the gradient-boosting pipeline computed by
    :func:`_fast_tree_permutation` (the same numbers, bit for bit), else by sklearn."""
    if _binned_trees(pipe) is not None and (scoring == "roc_auc" or callable(scoring)):
        return _fast_tree_permutation(pipe, X, y, scoring, random_state)
    return permutation_importance(pipe, X, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS,
                                  random_state=random_state, n_jobs=None)


def _fast_tree_permutation(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, scoring: Any,
                           random_state: int) -> Any:
    """Permutation importance of a ColumnTransformer + HistGradientBoosting pipeline,
    equal to sklearn's (same permutations, same sums, same scores) at a fraction
    of the cost.

    sklearn transforms and predicts the whole permuted frame through every tree
    for each column and repeat. Here (i) the rows are transformed and binned once
    (the trees walk the bins, as in :func:`_predict_proba`): the transformers and
    the binning are row-wise, so permuting raw column j permutes the rows of the
    output columns j becomes; (ii) each tree's predictions on the
    unpermuted rows are computed once and kept; for a permuted column only the
    trees that split on one of its output columns are predicted again, the
    others reuse their kept values; (iii) the raw scores are summed tree by
    tree in sklearn's order (baseline, then iteration by iteration), so the
    sums are the same floating-point operations. ``scoring`` is ``"roc_auc"``
    (on the decision function, as sklearn's scorer) or a callable
    ``(estimator, X, y)`` that calls ``estimator.predict_proba(X)`` once.
    Measured at 300,000 bench customers (tier change, 5,000 rows x 27 columns
    x 5 repeats through 600 trees): about a quarter of the trees are predicted
    again per column."""
    from sklearn.utils import Bunch, check_random_state

    pre = pipe.named_steps["prepare"]
    model = _binned_trees(pipe)
    if model is None:  # pragma: no cover - _permutation only calls this for one-hot HGB pipelines
        raise AssertionError("_fast_tree_permutation needs a HistGradientBoosting pipeline without native categories")
    # binned rows (uint8): binning is per value, so permuting rows of the binned
    # columns is binning the permuted rows (see _predict_proba for the bins)
    Z = _bin_rows(pipe, model, X)
    n, names = Z.shape[0], list(X.columns)
    # output columns of each raw column
    groups: dict[str, list[int]] = {c: [] for c in names}
    for tname, _, cols in pre.transformers_:
        if tname == "remainder" or not len(cols):
            continue
        sl = pre.output_indices_[tname]
        if tname == "categorical":
            counts = pre.named_transformers_[tname]._n_features_outs
        else:
            counts = [1] * len(cols)
        if sum(counts) != sl.stop - sl.start:
            raise AssertionError("output columns of the transformers do not add up")  # pragma: no cover
        start = sl.start
        for col, k in zip(cols, counts):
            groups[col].extend(range(start, start + k))
            start += k
    missing_bin = model._bin_mapper.missing_values_bin_idx_

    def tree_predict(pred: Any, data: np.ndarray) -> np.ndarray:
        return pred.predict_binned(data, missing_values_bin_idx=missing_bin, n_threads=1)

    predictors = model._predictors
    kept = [[tree_predict(p, Z) for p in it] for it in predictors]
    used = [[set(p.nodes["feature_idx"][p.nodes["is_leaf"] == 0].tolist()) for p in it] for it in predictors]
    K = model.n_trees_per_iteration_

    def raw(data: np.ndarray | None, redo: set[int]) -> np.ndarray:
        out = np.zeros((n, K), dtype=model._baseline_prediction.dtype, order="F")
        out += model._baseline_prediction
        for i, it in enumerate(predictors):
            for k, p in enumerate(it):
                if data is not None and used[i][k] & redo:
                    out[:, k] += tree_predict(p, data)
                else:
                    out[:, k] += kept[i][k]
        return out

    class _Raw:  # what the scorer sees: predictions from given raw scores
        def __init__(self, r: np.ndarray) -> None:
            self.r = r
            self.named_steps = {"model": model}

        def predict_proba(self, _X: Any) -> np.ndarray:
            return model._loss.predict_proba(self.r)

    def score(r: np.ndarray) -> Any:
        if scoring == "roc_auc":
            return roc_auc_score(y, r.ravel() if r.shape[1] == 1 else r)
        return scoring(_Raw(r), X, y)

    baseline = score(raw(None, set()))
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    per_col = []
    for col in names:
        g = groups[col]
        redo = set(g)
        rs = check_random_state(seed)
        shuffling_idx = np.arange(n)
        current = np.arange(n)
        data = Z.copy()
        scores = []
        for _ in range(IMPORTANCE_REPEATS):
            rs.shuffle(shuffling_idx)
            current = current[shuffling_idx]
            data[:, g] = Z[current][:, g]
            scores.append(score(raw(data, redo)))
        per_col.append(scores)

    def bunch(base: float, permuted: np.ndarray) -> Any:
        imp = base - permuted
        return Bunch(importances_mean=np.mean(imp, axis=1), importances_std=np.std(imp, axis=1), importances=imp)

    if isinstance(baseline, dict):
        return {key: bunch(baseline[key], np.array([[sc[key] for sc in col] for col in per_col]))
                for key in baseline}
    return bunch(baseline, np.array(per_col))


def _binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    base = float(y.mean())
    prec = precision_at_top(y, p)
    both = 0.0 < base < 1.0
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "average_precision": float(average_precision_score(y, p)) if both else None,
        "precision_top_decile": prec,
        "base_rate": base,
        "lift_top_decile": prec / base if base > 0 else None,
    }


def _common_checks(features: Any, categorical: Any, label: Any, model: Any, cv_folds: Any, random_state: Any,
                   max_train_rows: Any, importance_rows: Any) -> dict[str, Any]:
    features = check_names("features", features, allow_empty=True)
    categorical = check_names("categorical", categorical, allow_empty=True)
    label = check_column_name("label", label)
    model_columns = list(dict.fromkeys([*features, *categorical]))
    if not model_columns:
        raise ValueError("features must name at least one column (features and categorical are both empty)")
    for name, col in (("label", label), ("id_column", ID_COLUMN), ("split_column", SPLIT_COLUMN)):
        if col in model_columns:
            raise ValueError(f"{name} {col!r} cannot also be a feature")
    if label in (ID_COLUMN, SPLIT_COLUMN):
        raise ValueError(f"label {label!r} must differ from {ID_COLUMN!r} and {SPLIT_COLUMN!r}")
    return dict(
        features=features,
        categorical=categorical,
        model_columns=model_columns,
        label=label,
        model=check_choice("model", model, MODELS),
        cv_folds=check_int("cv_folds", cv_folds, 2),
        random_state=check_random_state(random_state),
        max_train_rows=check_int("max_train_rows", max_train_rows, 10),
        importance_rows=check_int("importance_rows", importance_rows, 10),
    )


def _check_training_labels(y: np.ndarray, label: str, cv_folds: int, class_names: Sequence[str]) -> None:
    if y.size == 0:
        raise ValueError("no training rows: df is empty or has no 'train' rows")
    miss = np.isnan(y)
    if miss.any():
        raise ValueError(f"label {label!r} has {int(miss.sum())} missing value(s) among the training rows")
    codes, counts = np.unique(y, return_counts=True)
    if codes.size < 2:
        only = class_names[int(codes[0])]
        raise ValueError(f"label {label!r} has a single class ({only!r}) among the training rows; need at least two")
    small = {class_names[int(c)]: int(k) for c, k in zip(codes, counts) if k < cv_folds}
    if small:
        raise ValueError(
            f"label {label!r}: every class needs at least cv_folds={cv_folds} training rows, "
            f"got {small}; lower cv_folds or merge rare classes"
        )


def _ids_out(frame: _Frame) -> pd.Series:
    return frame.ids.take(frame.inverse).reset_index(drop=True).rename(ID_COLUMN)


def _run_counts(frame: _Frame, run: Any, opt: dict[str, Any]) -> dict[str, Any]:
    """The metrics both classifiers report on the run itself: row counts, the
    validation used, the importance sample, the model and the folds run."""
    return {
        "n_train": frame.n_train,
        "n_scored": len(frame.X),
        "n_score_split": len(frame.X) - frame.n_train,
        "n_fit": run.n_fit,
        "n_evaluated": int(run.evaluated.sum()),
        "validation": run.validation,
        "n_importance": int(run.driver_rows.size),
        "importance_rows": opt["importance_rows"],
        "model": opt["model"],
        "cv_folds": int(run.fold_of.max()) + 1,  # folds run (1: holdout mode)
        "cv_folds_requested": opt["cv_folds"],
        "mode": frame.mode,
    }


def _result_fields(frame: _Frame, run: Any, opt: dict[str, Any]) -> dict[str, Any]:
    """The settings fields both result classes share, as run."""
    return {"mode": frame.mode, "model": opt["model"], "features": tuple(frame.X.columns),
            "categorical": tuple(frame.categorical), "cv_folds": int(run.fold_of.max()) + 1,
            "random_state": opt["random_state"], "max_train_rows": opt["max_train_rows"], "n_fit": run.n_fit,
            "sampled": run.sampled}


def _score_frame(frame: _Frame, run: Any, columns: dict[str, Any]) -> pd.DataFrame:
    """Scores in input order: customer_id, split, ``columns`` (working-row
    arrays or Series, reordered here) and is_scored_out_of_fold."""
    inv = frame.inverse
    oof_flag = np.concatenate([run.evaluated, np.zeros(len(frame.X) - frame.n_train, dtype=bool)])
    out: dict[str, Any] = {ID_COLUMN: _ids_out(frame), "split": pd.Series(frame.split[inv], dtype="str")}
    for name, values in columns.items():
        out[name] = values.take(inv).reset_index(drop=True) if isinstance(values, pd.Series) else values[inv]
    out["is_scored_out_of_fold"] = oof_flag[inv]
    return pd.DataFrame(out)


