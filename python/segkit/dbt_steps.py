"""Glue between dbt Python models and the segkit package.

dbt Python models stay a few lines long: they read the `run_settings` table (every
configuration var, resolved per dataset, as JSON) and a feature table, call one
function here, and return a DataFrame. The logic lives in plain, unit-tested
functions; nothing here touches dbt.
"""
from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit._common import (
    FitDecision,
    canonical_order,
    decide_classifier,
    decide_size,
    decisions_frame,
    float_column,
    lower_columns,
    progress,
    typed_frame,
)
from segkit._common import require as _require
from segkit.clustering import cluster_customers

LABEL_COLUMNS = ["customer_id", "method", "cluster_id", "value_tier", "distance", "is_outlier",
                 "fit_sampled", "n_fit", "run_info"]


def read_settings(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """{setting_name: value} from the (setting_name, value_json) rows of run_settings."""
    return {name: json.loads(value) for name, value in rows}


def run_info_column(info: str, index: pd.Index) -> pd.Series:
    """The run's JSON summary repeated on every output row, as an object column
    holding one reference per row to a single Python string (DuckDB stores it as VARCHAR).
    A pandas string column would copy the text into every row: at 1,000,000
    rows and a few KB of JSON that is gigabytes (measured: most of the steps'
    peak memory at 1M customers)."""
    values = np.empty(len(index), dtype=object)
    values.fill(info)  # (np.full would copy the string into every element)
    return pd.Series(values, index=index, dtype=object, copy=False)


def _logged(decision: FitDecision) -> FitDecision:
    """The decision, announced on stderr unless the model is fitted as configured."""
    if decision.status != "fitted":
        progress(decision.message())
    return decision


def expand_feature_patterns(patterns: Iterable[str], columns: Iterable[str]) -> list[str]:
    """Feature names with shell-style patterns ('revenue_m*') expanded against the
    table's columns, in column order; a plain name is kept even if absent (the
    clustering step then names it in its error)."""
    columns = list(columns)
    out: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matched = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
            if not matched:
                raise ValueError(f"cluster_features pattern {pattern!r} matches no column of the feature table")
            out.extend(c for c in matched if c not in out)
        elif pattern not in out:
            out.append(pattern)
    return out


CLUSTER_STEP = "customer_clusters"
CLUSTER_MIN_ROWS = 10  # fewer customers than this are not clustered


def plan_clustering(features: pd.DataFrame, settings: Mapping[str, Any]) -> list[FitDecision]:
    """One decision per method of settings['cluster_methods'].

    Every method needs CLUSTER_MIN_ROWS customers. K-means: the silhouette
    search needs k <= distinct feature rows - 1, so cluster_k_max is reduced to
    that (skipped below cluster_k_min); a fixed cluster_k needs k distinct rows
    (reduced to that, skipped below 2). DBSCAN needs cluster_dbscan_min_samples
    rows.
    """
    names = expand_feature_patterns(_require(settings, "cluster_features"), features.columns)
    present = [c for c in names if c in features.columns]
    n = len(features)
    distinct = len(features[present].fillna(0).drop_duplicates()) if present and n else 0
    why = f"{n} customers, {distinct} distinct feature rows"
    out: list[FitDecision] = []
    for method in _require(settings, "cluster_methods"):
        if n < CLUSTER_MIN_ROWS:
            out.append(FitDecision(CLUSTER_STEP, method, "skipped",
                                   f"{n} customers, fewer than the {CLUSTER_MIN_ROWS} clustering needs", n))
        elif method == "kmeans" and _require(settings, "cluster_k") is not None:
            out.append(decide_size(CLUSTER_STEP, method, n, "k", int(_require(settings, "cluster_k")), distinct, 2, why))
        elif method == "kmeans":
            k_min = int(_require(settings, "cluster_k_min"))
            out.append(decide_size(CLUSTER_STEP, method, n, "k_max", int(_require(settings, "cluster_k_max")),
                                   distinct - 1, k_min, why, params={"k_min": k_min}))
        else:
            min_samples = int(_require(settings, "cluster_dbscan_min_samples"))
            out.append(FitDecision(CLUSTER_STEP, method, "fitted", None, n) if n >= min_samples else FitDecision(
                CLUSTER_STEP, method, "skipped", f"{n} customers, fewer than cluster_dbscan_min_samples={min_samples}", n))
    return out


def clustering_step(features: pd.DataFrame, settings: Mapping[str, Any], versions: pd.DataFrame | None = None,
                    as_of_date: Any = None) -> pd.DataFrame:
    """Run every method in settings['cluster_methods'] over the feature table.

    Returns one row per customer per method (LABEL_COLUMNS). run_info holds the
    run's parameters and choices (k and silhouettes, eps, sampling) as JSON; for
    K-means also the fitted model (segkit.clustering.kmeans_model).
    A method the data cannot support (plan_clustering) is reduced or skipped.
    K-means with model_refit = on_drift reuses the last recorded version (`versions`,
    the carried model_versions) when segkit.refit.plan_cluster_refit says so: the
    recorded model labels the customers (segkit.clustering.kmeans_assign), no fit.
    """
    from segkit.clustering import kmeans_assign
    from segkit.refit import plan_cluster_refit

    feature_names = expand_feature_patterns(_require(settings, "cluster_features"), features.columns)
    frames: list[tuple[str, pd.DataFrame]] = []
    for decision in map(_logged, plan_clustering(features, settings)):
        if decision.skipped:
            continue
        method = decision.model
        started = time.perf_counter()
        plan = plan_cluster_refit(method, features, settings, versions, as_of_date)
        progress(f"{CLUSTER_STEP} {method}: {plan.decision} ({plan.reason})")
        if plan.decision == "reuse":
            [model] = json.loads(plan.previous["parameters"])
            labels, summary = kmeans_assign(features, model)
            run_info = {"method": method, **summary, "n_noise": 0, "k": model["k"], "features": model["features"],
                        "log_features": model["log_features"], "scaling": model["scaling"],
                        "value_column": _require(settings, "cluster_value_column"),
                        "reused_version_id": plan.previous["version_id"], "model": model}
            labels = labels.assign(fit_sampled=bool(model["sampled"]), n_fit=int(model["n_fit"]),
                                   run_info=run_info_column(json.dumps(run_info, sort_keys=True), labels.index))
            frames.append((method, labels[LABEL_COLUMNS].take(canonical_order(labels["customer_id"]))))
            progress(f"{method}: reused version {plan.previous['version_id']}, {summary['n_clusters']} clusters, "
                     f"{time.perf_counter() - started:.1f}s")
            continue
        k_min = int(decision.params.get("k_min", 2))
        k_max = int(decision.params.get("k_max", k_min))
        progress(f"clustering {len(features):,} customers with {method} on {len(feature_names)} features")
        labels, info = cluster_customers(
            features,
            method,
            feature_names,
            value_column=_require(settings, "cluster_value_column"),
            scaling=_require(settings, "cluster_scaling"),
            log_features=list(_require(settings, "cluster_log_features") or []),
            k=decision.params.get("k"),
            k_range=range(k_min, k_max + 1),
            eps=_require(settings, "cluster_dbscan_eps"),
            min_samples=int(_require(settings, "cluster_dbscan_min_samples")),
            tier_names=list(_require(settings, "cluster_tier_names")),
            random_state=int(_require(settings, "cluster_random_state")),
            max_fit_size=(_require(settings, "cluster_dbscan_max_fit_size") if method == "dbscan"
                          else _require(settings, "cluster_kmeans_max_fit_size")),
        )
        run_info = info.to_dict()
        run_info.pop("cluster_profile", None)
        labels = labels.assign(
            fit_sampled=bool(info.sampled),
            n_fit=int(info.n_fit),
            run_info=run_info_column(json.dumps(run_info, sort_keys=True), labels.index),
        )
        # each method's rows by customer id (unique per method: one argsort of the ids
        # instead of a two-key sort of the concatenated table)
        frames.append((method, labels[LABEL_COLUMNS].take(canonical_order(labels["customer_id"]))))
        progress(f"{method}: {info.n_clusters} clusters, {info.n_noise} noise, "
                 f"fit on {info.n_fit:,} rows{' (sample)' if info.sampled else ''}, {time.perf_counter() - started:.1f}s")
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            LABEL_COLUMNS, ["string", "string", "int64", "string", "float64", "bool", "bool", "int64", "string"])})
    return pd.concat([f for _, f in sorted(frames, key=lambda mf: mf[0])], ignore_index=True)


# --------------------------------------------------------------------------- #
# Predicted CLV: BG/NBD + Gamma-Gamma on customer_rfm
# --------------------------------------------------------------------------- #
# T: the customer's age in BTYD periods, named as in customer_rfm (one vocabulary)
FORECAST_COLUMNS = ["customer_id", "has_purchase_history", "frequency", "recency", "T", "monetary_value",
                    "probability_alive", "expected_purchases", "expected_spend_per_purchase",
                    "predicted_clv", "horizon_months", "monthly_discount_rate", "time_unit"]


def _rfm_frame(rfm: pd.DataFrame) -> pd.DataFrame:
    """customer_rfm with lower-case column names and the BTYD columns as floats."""
    out = lower_columns(rfm)
    missing = [c for c in ("customer_id", "frequency", "recency", "t", "monetary_value") if c not in out.columns]
    if missing:
        raise ValueError(f"customer_rfm lacks the BTYD columns {missing}")
    for c in ("frequency", "recency", "t", "monetary_value"):
        out[c] = float_column(out[c], c)
    return out


def fit_clv_models(rfm: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Fit BG/NBD on (frequency, recency, T) and Gamma-Gamma on (frequency,
    monetary_value) by maximum likelihood; one row per model and parameter.

    Customers without purchase history (null frequency) are left out. BG/NBD is
    fitted on the unique (frequency, recency, T) rows with their counts, which is
    exactly equivalent and fast at millions of customers. Gamma-Gamma uses
    customers with a repeat purchase and positive mean repeat spend (stated rule;
    the others are counted in n_excluded).
    """
    from segkit.btyd import BetaGeoFitter, GammaGammaFitter

    frame = _rfm_frame(rfm)
    frame = frame[frame["frequency"].notna() & frame["t"].notna()]
    rows: list[dict[str, Any]] = []
    time_unit = btyd_unit_name(settings)

    def not_fitted(model: str, n_customers: int, note: str) -> dict[str, Any]:
        progress(f"{model}: skipped ({note})")
        return dict(model=model, parameter=None, value=None, log_likelihood=None, n_customers=n_customers,
                    n_excluded=len(frame), converged=False, time_unit=time_unit, note=note)

    if frame.empty:
        note = "no customer with a purchase before the as-of date"
        return typed_frame([not_fitted("bg_nbd", 0, note), not_fitted("gamma_gamma", 0, note)], PARAMETER_COLUMNS)
    started = time.perf_counter()
    grouped = frame.groupby(["frequency", "recency", "t"], sort=True).size().reset_index(name="n")
    progress(f"BG/NBD: fitting {len(frame):,} customers ({len(grouped):,} unique rows)")
    try:
        bgf = BetaGeoFitter(penalizer_coef=float(_require(settings, "clv_forecast_penalizer")))
        bgf.fit(grouped["frequency"], grouped["recency"], grouped["t"], weights=grouped["n"])
        for name in ("r", "alpha", "a", "b"):
            rows.append(dict(model="bg_nbd", parameter=name, value=float(bgf.params_[name]),
                             log_likelihood=float(bgf.log_likelihood_), n_customers=int(round(bgf.n_)),
                             n_excluded=0, converged=bool(bgf.converged_), time_unit=time_unit, note=None))
    except ValueError as exc:
        rows.append(not_fitted("bg_nbd", len(frame), str(exc)))
    repeat = frame[(frame["frequency"] > 0)]
    try:
        g = repeat.groupby(["frequency", "monetary_value"], sort=True).size().reset_index(name="n")
        ggf = GammaGammaFitter(penalizer_coef=float(_require(settings, "clv_forecast_penalizer")))
        ggf.fit(g["frequency"], g["monetary_value"], weights=g["n"])
        excluded = int(len(frame) - round(ggf.n_))
        for name in ("p", "q", "v"):
            rows.append(dict(model="gamma_gamma", parameter=name, value=float(ggf.params_[name]),
                             log_likelihood=float(ggf.log_likelihood_), n_customers=int(round(ggf.n_)),
                             n_excluded=excluded, converged=bool(ggf.converged_), time_unit=time_unit, note=None))
    except ValueError as exc:
        rows.append(not_fitted("gamma_gamma", len(repeat), str(exc)))
    progress(f"BG/NBD + Gamma-Gamma done in {time.perf_counter() - started:.1f}s")
    return typed_frame(rows, PARAMETER_COLUMNS)


PARAMETER_COLUMNS = {"model": "string", "parameter": "string", "value": "float64", "log_likelihood": "float64",
                     "n_customers": "int64", "n_excluded": "int64", "converged": "bool", "time_unit": "string",
                     "note": "string"}


def reused_note(reused: Mapping[str, Any]) -> str:
    """The model_fit_log reason of a fit reused from a recorded version (a
    model_refit_decisions row)."""
    end = pd.Timestamp(reused["train_end_date"]).date() if reused.get("train_end_date") is not None else None
    return f"reused version {reused['version_id']} fitted at {end} (model_refit_decisions)"


def clv_decisions(params: pd.DataFrame, reused: Mapping[str, Any] | None = None) -> list[FitDecision]:
    """One decision per BTYD model, read from clv_forecast_parameters: fitted
    when it has estimates (a convergence warning is kept as the reason), else
    skipped with the model's note. `reused`: the model_refit_decisions row when the
    step reused a recorded version (model_refit = on_drift): the reason names it."""
    out = []
    for model, g in params.groupby("model", sort=True):
        fitted = bool(g["parameter"].notna().any())
        notes = g["note"].dropna()
        reason = (None if g["converged"].astype(bool).all() else "the optimiser did not report convergence; estimates kept") \
            if fitted else (notes.iloc[0] if len(notes) else "not fitted")
        extra: dict[str, Any] = {}
        if reused is not None:
            note = reused_note(reused)
            reason = note if reason is None else f"{note}; {reason}"
            extra = {"version_id": str(reused["version_id"])}
        out.append(FitDecision("clv_forecast_parameters", str(model), "fitted" if fitted else "skipped", reason,
                               int(g["n_customers"].max()), params=extra))
    return out


def score_clv(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases over the horizon, expected spend
    per purchase and discounted predicted CLV, from fitted parameters.

    Horizon: settings clv_forecast_horizon_months months of 30 days each (in the
    RFM time unit: 30/7 weeks or 30 days per month), discounted monthly at
    clv_forecast_monthly_discount_rate. Rules (BG/NBD: segkit.btyd_family.score_step
    replaces P(alive), purchases and CLV when clv_forecast_model picks Pareto/NBD or
    MBG/NBD): a customer with no repeat purchase has P(alive) = 1 under BG/NBD and, like a customer whose mean repeat
    spend is not positive, the population mean spend p*v/(q-1); a customer with
    no purchase at all gets nulls and has_purchase_history = false.
    """
    from segkit.btyd import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value

    frame = _rfm_frame(rfm)
    horizon = int(_require(settings, "clv_forecast_horizon_months"))
    rate = float(_require(settings, "clv_forecast_monthly_discount_rate"))
    time_unit = btyd_unit_name(settings)
    days_per_month = float(_require(settings, "clv_forecast_days_per_month"))
    per_unit = days_per_month / rfm_unit_days(settings)
    has_history = (frame["frequency"].notna() & frame["t"].notna()).to_numpy()
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("string"),
        "has_purchase_history": has_history,
        "frequency": frame["frequency"], "recency": frame["recency"], "T": frame["t"],
        "monetary_value": frame["monetary_value"],
    })
    for c in ("probability_alive", "expected_purchases", "expected_spend_per_purchase", "predicted_clv"):
        out[c] = float("nan")
    values = {(r.model, r.parameter): r.value for r in params.itertuples() if r.parameter is not None}
    if ("bg_nbd", "r") in values and has_history.any():
        bgf = BetaGeoFitter.from_params(*(values[("bg_nbd", k)] for k in ("r", "alpha", "a", "b")))
        h = frame.loc[has_history]
        out.loc[has_history, "probability_alive"] = bgf.conditional_probability_alive(h["frequency"], h["recency"], h["t"])
        out.loc[has_history, "expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(
            horizon * per_unit, h["frequency"], h["recency"], h["t"])
        if ("gamma_gamma", "p") in values:
            p_, q_, v_ = (values[("gamma_gamma", k)] for k in ("p", "q", "v"))
            ggf = GammaGammaFitter.from_params(p_, q_, v_)
            money = h["monetary_value"].fillna(0.0)
            # With q <= 1 the population mean spend is infinite: customers without
            # a usable repeat spend then get a null spend and CLV (btyd returns NaN).
            out.loc[has_history, "expected_spend_per_purchase"] = ggf.conditional_expected_average_profit(h["frequency"], money)
            out.loc[has_history, "predicted_clv"] = customer_lifetime_value(
                bgf, ggf, h["frequency"], h["recency"], h["t"], money, horizon_months=horizon,
                monthly_discount_rate=rate, time_unit=time_unit, days_per_month=days_per_month)
            if q_ <= 1:
                progress(f"Gamma-Gamma q = {q_:.3f} <= 1: the population mean spend is infinite; "
                         "customers without a repeat purchase get no spend forecast")
    out["horizon_months"] = horizon
    out["monthly_discount_rate"] = rate
    out["time_unit"] = time_unit
    return out[FORECAST_COLUMNS].sort_values("customer_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Churn risk and tier change
# --------------------------------------------------------------------------- #
_NOT_FEATURES = {"customer_id", "split", "is_churned_next", "tier_change_next"}


def _model_features(frame: pd.DataFrame, settings: Mapping[str, Any], key: str) -> tuple[list[str], list[str]]:
    """(features, categorical): the setting's list, or every input column but the
    id, split and labels; text columns are categorical."""
    configured = _require(settings, key)
    features = list(configured) if configured else [c for c in frame.columns if c not in _NOT_FEATURES]
    labelled = frame[frame["split"] != "score"] if "split" in frame.columns else frame
    empty = [c for c in features if labelled[c].isna().all() or (labelled[c].nunique(dropna=True) < 2 and not configured)]
    if empty:
        progress(f"{key}: leaving out columns without information in the labelled rows: {', '.join(empty)}")
        features = [c for c in features if c not in empty]
    categorical = [c for c in features if frame[c].dtype == object or str(frame[c].dtype) in ("string", "str", "category")]
    return features, categorical


def plan_churn(frame: pd.DataFrame, settings: Mapping[str, Any]) -> FitDecision:
    """Can the churn model be fitted on churn_model_input (its labelled rows)?"""
    train = frame[frame["split"] != "score"]
    labels = train["is_churned_next"].astype("boolean").map({True: "churned", False: "retained"})
    return decide_classifier("customer_churn_risk", "churn", labels, int(_require(settings, "churn_cv_folds")))


def _tier_training(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """(subscriber rows the tier-change model sees, normalised label of its training rows)."""
    subs = frame[frame["plan_level"].notna() & (frame["split"] != "snapshot")]
    labels = subs["tier_change_next"].astype("string").str.strip().str.lower().where(subs["split"] == "train")
    return subs, labels


def plan_tier_change(frame: pd.DataFrame, settings: Mapping[str, Any]) -> FitDecision:
    """Can the tier-change model be fitted on churn_model_input's subscribers?"""
    _, labels = _tier_training(frame)
    return decide_classifier("customer_tier_change_risk", "tier_change", labels, int(_require(settings, "churn_cv_folds")))


def churn_step(frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Churn probability and risk band for every scored customer (split 'score',
    or every customer out-of-fold in snapshot mode), with the run's metrics and
    permutation-importance drivers as JSON in run_info. Fewer CV folds when a
    class is small; an empty table when the labels cannot support a model
    (plan_churn)."""
    from segkit.churn import fit_churn_model

    columns = ["customer_id", "churn_probability", "risk_band", "is_scored_out_of_fold", "run_info"]
    train = frame[frame["split"] != "score"]
    decision = _logged(plan_churn(frame, settings))
    if decision.skipped:
        return pd.DataFrame({c: pd.Series(dtype={"churn_probability": "float64",
                                                 "is_scored_out_of_fold": "bool"}.get(c, "string"))
                             for c in columns})
    features, categorical = _model_features(frame, settings, "churn_features")
    snapshot = (frame["split"] == "snapshot").all()
    data = frame.drop(columns=["split"]) if snapshot else frame
    data = data.assign(is_churned_next=data["is_churned_next"].astype("boolean"))
    progress(f"churn: {'snapshot, out-of-fold' if snapshot else 'temporal'} model on {len(train):,} labelled customers, "
             f"{len(features)} features")
    started = time.perf_counter()
    result = fit_churn_model(data, features, "is_churned_next", categorical=categorical,
                             model=_require(settings, "churn_model"),
                             cv_folds=int(decision.params["cv_folds"]),
                             random_state=int(_require(settings, "churn_random_state")),
                             max_train_rows=int(_require(settings, "churn_max_train_rows")),
                             importance_rows=int(_require(settings, "churn_importance_rows")),
                             risk_band_edges=tuple(_require(settings, "churn_risk_band_edges")))
    scores = result.scores
    if not snapshot:
        scores = scores[scores["split"] == "score"]
    info = json.dumps(result.to_dict(), sort_keys=True)
    def three(value):  # a figure for the build log, not the full float (the table keeps it)
        return "n/a" if value is None else f"{float(value):.3f}"

    progress(f"churn: ROC AUC {three(result.metrics.get('roc_auc'))}, precision top decile "
             f"{three(result.metrics.get('precision_top_decile'))}, {time.perf_counter() - started:.1f}s")
    out = scores[["customer_id", "churn_probability", "risk_band", "is_scored_out_of_fold"]]
    out = out.assign(run_info=run_info_column(info, out.index))
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def tier_change_step(frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Probability of upgrade / downgrade / churn / staying over the next window
    for every subscriber active at the as-of date, with drivers in run_info.
    Classes with a single training row are left out (probability 0), folds
    reduced or the table left empty as plan_tier_change decides."""
    from segkit.tier_change import fit_tier_change_model

    columns = ["customer_id", "from_plan", "p_upgrade", "p_downgrade", "p_churn", "p_stay", "run_info"]
    decision = _logged(plan_tier_change(frame, settings))
    if decision.skipped:
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("customer_id", "from_plan", "run_info") else "float64")
                             for c in columns})
    subs, labels = _tier_training(frame)
    subs = subs[~labels.isin(decision.params.get("left_out_classes", [])).to_numpy(dtype=bool)]
    train = subs[subs["split"] == "train"]
    features, categorical = _model_features(subs, settings, "tier_change_features")
    features = [f for f in features if f != "plan_level"]
    categorical = [c for c in categorical if c != "plan_level"]
    progress(f"tier change: model on {len(train):,} subscribers, {len(features)} features + plan")
    result = fit_tier_change_model(subs, features, "plan_level", "tier_change_next", categorical=categorical,
                                   plan_order=_require(settings, "tier_plan_order"),
                                   random_state=int(_require(settings, "churn_random_state")),
                                   cv_folds=int(decision.params["cv_folds"]),
                                   max_train_rows=int(_require(settings, "churn_max_train_rows")),
                                   importance_rows=int(_require(settings, "churn_importance_rows")))
    scores = result.scores[result.scores["split"] == "score"]
    out = scores[["customer_id", "from_plan", "p_upgrade", "p_downgrade", "p_churn", "p_stay"]]
    out = out.assign(run_info=run_info_column(json.dumps(result.to_dict(), sort_keys=True), out.index))
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Segment backtest
# --------------------------------------------------------------------------- #
def rfm_unit_days(settings: Mapping[str, Any]) -> float:
    """Days in one BTYD time unit: (7 for week, 1 for day) x rfm_freq_multiplier."""
    base = 7.0 if _require(settings, "rfm_time_unit") == "week" else 1.0
    return base * float(_require(settings, "rfm_freq_multiplier"))


def btyd_unit_name(settings: Mapping[str, Any]) -> str:
    """'week' or 'day': the BTYD time unit after the multiplier (7 days = week)."""
    days = rfm_unit_days(settings)
    if days == 7.0:
        return "week"
    if days == 1.0:
        return "day"
    raise ValueError(f"rfm_time_unit x rfm_freq_multiplier = {days} days: the CLV forecast supports day or week units")


def backtest_columns() -> list[str]:
    """The backtest_cutoff_features columns backtest_step reads: run_backtest's
    (segkit.backtest.required_columns) and window_days."""
    from segkit.backtest import required_columns

    return [*required_columns(), "window_days"]


def backtest_step(snapshots: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Metrics per (cutoff, method) from run_backtest, with the run's details; a
    method that cannot run on a cutoff has null counts and a note (logged, see
    backtest_decisions); no snapshots give an empty, typed table."""
    from segkit.backtest import run_backtest

    frame = snapshots.rename(columns={c: ("T" if c.lower() == "t" else c.lower()) for c in snapshots.columns})
    window_days = float(frame["window_days"].iloc[0]) if len(frame) else float(_require(settings, "backtest_window_days"))
    started = time.perf_counter()
    progress(f"backtest: {frame['cutoff_date'].nunique()} cutoffs, {len(frame):,} customer snapshots")
    metrics, _ = run_backtest(
        frame,
        top_share=float(_require(settings, "backtest_top_share")),
        rfm_high_segments=tuple(_require(settings, "backtest_rfm_high_segments")),
        horizon_periods=window_days / rfm_unit_days(settings),
        time_unit=btyd_unit_name(settings),
        kmeans_k=_require(settings, "backtest_kmeans_k"),
        random_state=int(_require(settings, "cluster_random_state")),
    )
    for decision in backtest_decisions(metrics):
        _logged(decision)
    progress(f"backtest: done in {time.perf_counter() - started:.1f}s")
    return metrics.sort_values(["cutoff_date", "method"], kind="stable").reset_index(drop=True)


def backtest_decisions(metrics: pd.DataFrame) -> list[FitDecision]:
    """One decision per backtest method, read from segment_backtest: fitted when
    it ran on every cutoff (its notes, e.g. a convergence warning, as the
    reason), reduced when on some (the others' notes as the reason), skipped
    when on none or when there are no snapshots."""
    from segkit.backtest import METHODS

    step = "segment_backtest"
    if metrics.empty:
        return [FitDecision(step, m, "skipped", "no backtest snapshots (no customer with a purchase before the cutoffs)", 0)
                for m in METHODS]
    frame = metrics.assign(ran=metrics["predicted_high"].notna())
    out = []
    for method, g in frame.groupby("method", sort=False):
        ran, cutoffs = int(g["ran"].sum()), len(g)
        status = "fitted" if ran == cutoffs else ("skipped" if ran == 0 else "reduced")
        noted = g[g["note"].notna() & (g["ran"] == (status == "fitted"))]
        notes = "; ".join(f"{pd.Timestamp(d).date()}: {n}" for d, n in zip(noted["cutoff_date"], noted["note"])) or None
        reason = notes if status == "fitted" else f"ran on {ran} of {cutoffs} cutoffs ({notes})"
        out.append(FitDecision(step, str(method), status, reason, int(g["customers"].sum())))
    return out


def fit_log_step(settings: Mapping[str, Any], churn_input: pd.DataFrame, cluster_input: pd.DataFrame,
                 clv_parameters: pd.DataFrame, backtest_metrics: pd.DataFrame,
                 refit_decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """model_fit_log: one row per Python model step and model, fitted / reduced /
    skipped with the reason. The churn, tier-change and clustering rows come from
    the same plan functions the steps run on the same inputs; the BTYD and
    backtest rows from those steps' outputs (their fits can fail only once run);
    a BTYD fit or a K-means clustering reused from a recorded version
    (model_refit_decisions) says so."""
    reused = None
    if refit_decisions is not None and len(refit_decisions):
        rows = refit_decisions[(refit_decisions["step"] == "clv_forecast_parameters")
                               & (refit_decisions["decision"] == "reuse")]
        reused = rows.iloc[0].to_dict() if len(rows) else None
    decisions = [plan_churn(churn_input, settings), plan_tier_change(churn_input, settings),
                 *clustering_fit_decisions(cluster_input, settings, refit_decisions),
                 *clv_decisions(clv_parameters, reused), *backtest_decisions(backtest_metrics)]
    return decisions_frame(decisions)


def clustering_fit_decisions(cluster_input: pd.DataFrame, settings: Mapping[str, Any],
                             refit_decisions: pd.DataFrame | None = None) -> list[FitDecision]:
    """plan_clustering, a method that reused a recorded version (its
    model_refit_decisions row, step customer_clusters, models = the method) naming it."""
    out = plan_clustering(cluster_input, settings)
    if refit_decisions is None or not len(refit_decisions):
        return out
    rows = refit_decisions[(refit_decisions["step"] == CLUSTER_STEP) & (refit_decisions["decision"] == "reuse")]
    by_method = {r["models"]: r for r in rows.to_dict("records")}
    for i, d in enumerate(out):
        if d.model in by_method and not d.skipped:
            note = reused_note(by_method[d.model])
            out[i] = FitDecision(d.step, d.model, d.status, note if d.reason is None else f"{note}; {d.reason}",
                                 d.rows_available, params={**d.params, "version_id": str(by_method[d.model]["version_id"])})
    return out
