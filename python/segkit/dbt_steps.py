"""Glue between dbt Python models and the segkit package.

dbt Python models stay a few lines long: they read the `run_settings` table (every
configuration var, resolved per dataset, as JSON) and a feature table, call one
function here, and return a DataFrame. The logic lives in plain, unit-tested
functions; nothing here touches dbt.
"""
from __future__ import annotations

import fnmatch
import json
import sys
import time
from typing import Any, Iterable, Mapping

import pandas as pd

from segkit.clustering import cluster_customers

LABEL_COLUMNS = ["customer_id", "method", "cluster_id", "value_tier", "distance", "is_outlier",
                 "fit_sampled", "n_fit", "run_info"]


def read_settings(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """{setting_name: value} from the (setting_name, value_json) rows of run_settings."""
    return {name: json.loads(value) for name, value in rows}


def progress(message: str) -> None:
    """One progress line on stderr (dbt shows it in its output)."""
    print(f"[segkit] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _require(settings: Mapping[str, Any], name: str) -> Any:
    if name not in settings:
        raise KeyError(f"setting {name!r} missing from run_settings; add it to settings_catalog() in macros/settings.sql")
    return settings[name]


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


def clustering_step(features: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Run every method in settings['cluster_methods'] over the feature table.

    Returns one row per customer per method (LABEL_COLUMNS). run_info holds the
    run's parameters and choices (k and silhouettes, eps, sampling) as JSON.
    """
    methods = _require(settings, "cluster_methods")
    feature_names = expand_feature_patterns(_require(settings, "cluster_features"), features.columns)
    frames: list[pd.DataFrame] = []
    min_rows = max(10, int(settings.get("cluster_dbscan_min_samples", 5)), int(settings.get("cluster_k_min", 2)) + 1)
    if len(features) < min_rows:
        progress(f"clustering skipped: {len(features)} customers, fewer than the {min_rows} needed")
        methods = []
    k_min, k_max = int(settings.get("cluster_k_min", 2)), int(settings.get("cluster_k_max", 8))
    if methods:
        present = [c for c in feature_names if c in features.columns]
        distinct = len(features[present].fillna(0).drop_duplicates()) if present else 0
        if distinct <= k_min:
            progress(f"clustering skipped: only {distinct} distinct feature rows")
            methods = []
        elif distinct <= k_max:
            k_max = distinct - 1
            progress(f"only {distinct} distinct feature rows: k searched in {k_min}..{k_max}")
    for method in methods:
        started = time.perf_counter()
        progress(f"clustering {len(features):,} customers with {method} on {len(feature_names)} features")
        labels, info = cluster_customers(
            features,
            method,
            feature_names,
            value_column=_require(settings, "cluster_value_column"),
            scaling=_require(settings, "cluster_scaling"),
            log_features=list(_require(settings, "cluster_log_features") or []),
            k=_require(settings, "cluster_k"),
            k_range=range(k_min, k_max + 1),
            eps=_require(settings, "cluster_dbscan_eps"),
            min_samples=int(_require(settings, "cluster_dbscan_min_samples")),
            tier_names=list(_require(settings, "cluster_tier_names")),
            random_state=int(_require(settings, "cluster_random_state")),
            max_fit_size=settings.get("cluster_dbscan_max_fit_size") if method == "dbscan" else settings.get("cluster_kmeans_max_fit_size"),
        )
        run_info = info.to_dict()
        run_info.pop("cluster_profile", None)
        labels = labels.assign(
            fit_sampled=bool(info.sampled),
            n_fit=int(info.n_fit),
            run_info=json.dumps(run_info, sort_keys=True),
        )
        frames.append(labels[LABEL_COLUMNS])
        progress(f"{method}: {info.n_clusters} clusters, {info.n_noise} noise, "
                 f"fit on {info.n_fit:,} rows{' (sample)' if info.sampled else ''}, {time.perf_counter() - started:.1f}s")
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            LABEL_COLUMNS, ["string", "string", "int64", "string", "float64", "bool", "bool", "int64", "string"])})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["method", "customer_id"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Predicted CLV: BG/NBD + Gamma-Gamma on customer_rfm
# --------------------------------------------------------------------------- #
FORECAST_COLUMNS = ["customer_id", "has_purchase_history", "frequency", "recency", "t", "monetary_value",
                    "probability_alive", "expected_purchases", "expected_spend_per_purchase",
                    "predicted_clv", "horizon_months", "monthly_discount_rate", "time_unit"]


def _rfm_frame(rfm: pd.DataFrame) -> pd.DataFrame:
    """customer_rfm with lower-case column names and the BTYD columns as floats."""
    out = rfm.rename(columns={c: c.lower() for c in rfm.columns})
    missing = [c for c in ("customer_id", "frequency", "recency", "t", "monetary_value") if c not in out.columns]
    if missing:
        raise ValueError(f"customer_rfm lacks the BTYD columns {missing}")
    for c in ("frequency", "recency", "t", "monetary_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
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
    if frame.empty:
        return pd.DataFrame(columns=["model", "parameter", "value", "log_likelihood", "n_customers",
                                     "n_excluded", "converged", "time_unit", "note"])
    started = time.perf_counter()
    grouped = frame.groupby(["frequency", "recency", "t"], sort=True).size().reset_index(name="n")
    progress(f"BG/NBD: fitting {len(frame):,} customers ({len(grouped):,} unique rows)")
    try:
        bgf = BetaGeoFitter(penalizer_coef=float(settings.get("clv_forecast_penalizer", 0.0)))
        bgf.fit(grouped["frequency"], grouped["recency"], grouped["t"], weights=grouped["n"])
        for name in ("r", "alpha", "a", "b"):
            rows.append(dict(model="bg_nbd", parameter=name, value=float(bgf.params_[name]),
                             log_likelihood=float(bgf.log_likelihood_), n_customers=int(round(bgf.n_)),
                             n_excluded=0, converged=bool(bgf.converged_), time_unit=time_unit, note=None))
    except ValueError as exc:
        rows.append(dict(model="bg_nbd", parameter=None, value=None, log_likelihood=None,
                         n_customers=len(frame), n_excluded=len(frame), converged=False,
                         time_unit=time_unit, note=str(exc)))
    repeat = frame[(frame["frequency"] > 0)]
    try:
        g = repeat.groupby(["frequency", "monetary_value"], sort=True).size().reset_index(name="n")
        ggf = GammaGammaFitter(penalizer_coef=float(settings.get("clv_forecast_penalizer", 0.0)))
        ggf.fit(g["frequency"], g["monetary_value"], weights=g["n"])
        excluded = int(len(frame) - round(ggf.n_))
        for name in ("p", "q", "v"):
            rows.append(dict(model="gamma_gamma", parameter=name, value=float(ggf.params_[name]),
                             log_likelihood=float(ggf.log_likelihood_), n_customers=int(round(ggf.n_)),
                             n_excluded=excluded, converged=bool(ggf.converged_), time_unit=time_unit, note=None))
    except ValueError as exc:
        rows.append(dict(model="gamma_gamma", parameter=None, value=None, log_likelihood=None,
                         n_customers=len(repeat), n_excluded=len(frame), converged=False,
                         time_unit=time_unit, note=str(exc)))
    progress(f"BG/NBD + Gamma-Gamma fitted in {time.perf_counter() - started:.1f}s")
    return pd.DataFrame(rows)


def score_clv(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases over the horizon, expected spend
    per purchase and discounted predicted CLV, from fitted parameters.

    Horizon: settings clv_forecast_horizon_months months of 30 days each (in the
    RFM time unit: 30/7 weeks or 30 days per month), discounted monthly at
    clv_forecast_monthly_discount_rate. Rules: a customer with no repeat purchase
    has P(alive) = 1 (BG/NBD convention) and, like a customer whose mean repeat
    spend is not positive, the population mean spend p*v/(q-1); a customer with
    no purchase at all gets nulls and has_purchase_history = false.
    """
    from segkit.btyd import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value

    frame = _rfm_frame(rfm)
    horizon = int(settings.get("clv_forecast_horizon_months", 12))
    rate = float(settings.get("clv_forecast_monthly_discount_rate", 0.01))
    time_unit = btyd_unit_name(settings)
    days_per_month = float(settings.get("clv_forecast_days_per_month", 30.0))
    per_unit = days_per_month / rfm_unit_days(settings)
    has_history = (frame["frequency"].notna() & frame["t"].notna()).to_numpy()
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("string"),
        "has_purchase_history": has_history,
        "frequency": frame["frequency"], "recency": frame["recency"], "t": frame["t"],
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
    configured = settings.get(key)
    features = list(configured) if configured else [c for c in frame.columns if c not in _NOT_FEATURES]
    labelled = frame[frame["split"] != "score"] if "split" in frame.columns else frame
    empty = [c for c in features if labelled[c].isna().all() or labelled[c].nunique(dropna=True) < 2 and not configured]
    if empty:
        progress(f"{key}: leaving out columns without information in the labelled rows: {', '.join(empty)}")
        features = [c for c in features if c not in empty]
    categorical = [c for c in features if frame[c].dtype == object or str(frame[c].dtype) in ("string", "str", "category")]
    return features, categorical


def churn_step(frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Churn probability and risk band for every scored customer (split 'score',
    or every customer out-of-fold in snapshot mode), with the run's metrics and
    permutation-importance drivers as JSON in run_info."""
    from segkit.churn import fit_churn_model

    columns = ["customer_id", "churn_probability", "risk_band", "is_scored_out_of_fold", "run_info"]
    train = frame[frame["split"] != "score"]
    if train.empty or train["is_churned_next"].nunique(dropna=True) < 2:
        progress("churn: not enough labelled history (need churned and retained customers); table left empty")
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("customer_id", "risk_band", "run_info") else "float64") for c in columns})
    features, categorical = _model_features(frame, settings, "churn_features")
    snapshot = (frame["split"] == "snapshot").all()
    data = frame.drop(columns=["split"]) if snapshot else frame
    data = data.assign(is_churned_next=data["is_churned_next"].astype("boolean"))
    progress(f"churn: {'snapshot, out-of-fold' if snapshot else 'temporal'} model on {len(train):,} labelled customers, {len(features)} features")
    started = time.perf_counter()
    result = fit_churn_model(data, features, "is_churned_next", categorical=categorical,
                             model=settings.get("churn_model", "gradient_boosting"),
                             cv_folds=int(settings.get("churn_cv_folds", 5)),
                             random_state=int(settings.get("churn_random_state", 42)),
                             max_train_rows=int(settings.get("churn_max_train_rows") or 200_000),
                             risk_band_edges=tuple(settings.get("churn_risk_band_edges", (0.3, 0.6))))
    scores = result.scores
    if not snapshot:
        scores = scores[scores["split"] == "score"]
    info = json.dumps(result.to_dict(), sort_keys=True)
    progress(f"churn: ROC AUC {result.metrics.get('roc_auc')}, precision top decile "
             f"{result.metrics.get('precision_top_decile')}, {time.perf_counter() - started:.1f}s")
    out = scores[["customer_id", "churn_probability", "risk_band", "is_scored_out_of_fold"]].assign(run_info=info)
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def tier_change_step(frame: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Probability of upgrade / downgrade / churn / staying over the next window
    for every subscriber active at the as-of date, with drivers in run_info."""
    from segkit.churn import fit_tier_change_model

    columns = ["customer_id", "from_plan", "p_upgrade", "p_downgrade", "p_churn", "p_stay", "run_info"]
    subs = frame[frame["plan_level"].notna() & (frame["split"] != "snapshot")]
    train = subs[subs["split"] == "train"]
    if train.empty or train["tier_change_next"].nunique(dropna=True) < 2:
        progress("tier change: no subscription history with tier changes; table left empty")
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("customer_id", "from_plan", "run_info") else "float64") for c in columns})
    features, categorical = _model_features(subs, settings, "tier_change_features")
    features = [f for f in features if f != "plan_level"]
    categorical = [c for c in categorical if c != "plan_level"]
    progress(f"tier change: model on {len(train):,} subscribers, {len(features)} features + plan")
    result = fit_tier_change_model(subs, features, "plan_level", "tier_change_next", categorical=categorical,
                                   plan_order=settings.get("tier_plan_order"),
                                   random_state=int(settings.get("churn_random_state", 42)),
                                   cv_folds=int(settings.get("churn_cv_folds", 5)),
                                   max_train_rows=int(settings.get("churn_max_train_rows") or 200_000))
    scores = result.scores[result.scores["split"] == "score"]
    out = scores.rename(columns={"from_plan": "from_plan"})[["customer_id", "from_plan", "p_upgrade", "p_downgrade", "p_churn", "p_stay"]]
    out = out.assign(run_info=json.dumps(result.to_dict(), sort_keys=True))
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Segment backtest
# --------------------------------------------------------------------------- #
def rfm_unit_days(settings: Mapping[str, Any]) -> float:
    """Days in one BTYD time unit: (7 for week, 1 for day) x rfm_freq_multiplier."""
    base = 7.0 if settings.get("rfm_time_unit", "day") == "week" else 1.0
    return base * float(settings.get("rfm_freq_multiplier", 1) or 1)


def btyd_unit_name(settings: Mapping[str, Any]) -> str:
    """'week' or 'day': the BTYD time unit after the multiplier (7 days = week)."""
    days = rfm_unit_days(settings)
    if days == 7.0:
        return "week"
    if days == 1.0:
        return "day"
    raise ValueError(f"rfm_time_unit x rfm_freq_multiplier = {days} days: the CLV forecast supports day or week units")


def backtest_step(snapshots: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Metrics per (cutoff, method) from run_backtest, with the run's details."""
    from segkit.backtest import METRIC_COLUMNS, run_backtest

    if snapshots.empty:
        progress("backtest: no snapshots (no transactions before the cutoffs); table left empty")
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in METRIC_COLUMNS})
    frame = snapshots.rename(columns={c: ("T" if c.lower() == "t" else c.lower()) for c in snapshots.columns})
    window_days = float(frame["window_days"].iloc[0])
    started = time.perf_counter()
    progress(f"backtest: {frame['cutoff_date'].nunique()} cutoffs, {len(frame):,} customer snapshots")
    metrics, _ = run_backtest(
        frame,
        top_share=float(settings.get("backtest_top_share", 0.10)),
        rfm_high_segments=tuple(settings.get("backtest_rfm_high_segments") or ("Champions", "Loyal")),
        horizon_periods=window_days / rfm_unit_days(settings),
        time_unit=btyd_unit_name(settings),
        kmeans_k=settings.get("backtest_kmeans_k"),
        random_state=int(settings.get("cluster_random_state", 42)),
    )
    progress(f"backtest: done in {time.perf_counter() - started:.1f}s")
    return metrics.sort_values(["cutoff_date", "method"], kind="stable").reset_index(drop=True)
