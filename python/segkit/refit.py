"""Model versions and refit-on-drift (issue 14 item 4).

A Python step that fits a model records a *version*: the fitted parameters (JSON),
the training window (first purchase .. as-of date, rows used), the fit settings and
the distribution of its input features (deciles of the training input and the share
of rows in each), under a version id that is a hash of all of these (same data and
settings, same id). The versions live in the carried table ``model_versions``
(models/marts/meta), which survives publishing like segment_history.

Setting ``model_refit``: ``always`` fits every build; ``on_drift`` reuses the last
recorded version of the step (the latest training end on or before the as-of date,
with the same fit settings) unless the population stability index of some input
feature, measured on that version's bins, exceeds ``model_drift_threshold``.

PSI of a feature: bins (-inf, e1], (e1, e2], ..., (ek, inf) with e1 < ... < ek the
distinct deciles of the training values (numpy linear quantiles); with e_i and a_i
the training and current shares of bin i, each floored at PSI_FLOOR,
PSI = sum_i (a_i - e_i) * ln(a_i / e_i). The drift of a build is the largest PSI.

The step and the decisions table (model_refit_decisions) call the same ``plan_*``
function on the same inputs, so they agree on the decision (as model_fit_log does).

Two steps record versions; model_refit_decisions has one row per (step, models):

* clv_forecast_parameters (the BTYD fit; features frequency, recency, t,
  monetary_value): one version for all its models, the parameter rows, restored
  exactly on reuse (plan_clv_refit, clv_parameters_step, clv_version);
* customer_clusters: one version per method (models = kmeans or dbscan; the
  features: var cluster_features, patterns expanded, of cluster_input). K-means records
  its model (segkit.clustering.kmeans_model: features, log features, the fitted
  scaler's centre / scale, k, the centres, the label -> cluster id / value tier
  mapping); a reuse labels customers with it (segkit.clustering.kmeans_assign), the
  fit's labels on the fit's data. DBSCAN always refits (it cannot label new points
  without its core sample) but records a version (eps, min_samples, clusters)
  (plan_cluster_refit, cluster_version, cluster_decisions_step). A version is not
  reused when the step's input features are not those it was fitted on.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

VERSIONS_TABLE = "model_versions"
PSI_BINS = 10
PSI_FLOOR = 1e-4
CLV_STEP = "clv_forecast_parameters"
CLV_FEATURES = ("frequency", "recency", "t", "monetary_value")
# the settings a BTYD fit depends on: a version fitted under others is not reused
CLV_FIT_SETTINGS = ("dataset", "clv_forecast_penalizer", "rfm_time_unit", "rfm_freq_multiplier")
CLUSTER_STEP = "customer_clusters"
# the settings a clustering fit depends on (all methods, then per method)
CLUSTER_FIT_SETTINGS = ("dataset", "cluster_input", "cluster_features", "cluster_log_features", "cluster_scaling",
                        "cluster_value_column", "cluster_tier_names", "cluster_random_state")
CLUSTER_METHOD_SETTINGS = {
    "kmeans": ("cluster_k", "cluster_k_min", "cluster_k_max", "cluster_kmeans_max_fit_size"),
    "dbscan": ("cluster_dbscan_eps", "cluster_dbscan_min_samples", "cluster_dbscan_max_fit_size"),
}
DBSCAN_REASON = ("DBSCAN always refits: it cannot label new customers without its core samples, "
                 "which a version does not keep")

DECISION_COLUMNS = {
    "step": "string", "as_of_date": "object", "refit_policy": "string", "drift_threshold": "float64",
    "drift_measure": "string", "drift": "float64", "drift_feature": "string", "drift_by_feature": "string",
    "previous_version_id": "string", "decision": "string", "reason": "string", "version_id": "string",
    "models": "string", "parameters": "string", "fit_settings": "string", "train_start_date": "object",
    "train_end_date": "object", "rows_used": "int64", "feature_bins": "string",
}


# ------------------------------------------------------------------ JSON helpers
def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN / NA / NaT as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, floats as repr (exact round trip): same value, same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as plain dicts (column order kept in each dict)."""
    cols = list(frame.columns)
    return [{c: _plain(v) for c, v in zip(cols, row)} for row in frame.itertuples(index=False, name=None)]


def version_id(step: str, models: str, parameters: list[dict[str, Any]], fit_settings: Mapping[str, Any],
               window: Mapping[str, Any]) -> str:
    """Deterministic id of a fit: sha256 of step, models, parameters, settings and window."""
    payload = canonical_json({"step": step, "models": models, "parameters": parameters,
                              "fit_settings": dict(fit_settings), "window": dict(window)})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ drift
def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Share of values in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    n = len(values)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [float(c) / n if n else 0.0 for c in counts]


def feature_bins(frame: pd.DataFrame, features: Sequence[str], n_bins: int = PSI_BINS) -> dict[str, Any]:
    """{feature: {"edges": distinct deciles, "shares": share per bin}} of the training input."""
    out: dict[str, Any] = {}
    for f in features:
        values = frame[f].dropna().to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(values, np.arange(1, n_bins) / n_bins)).tolist() if len(values) else []
        out[f] = {"edges": [float(e) for e in edges], "shares": bin_shares(values, edges)}
    return out


def psi(expected: Sequence[float], actual: Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index of two share vectors over the same bins."""
    total = 0.0
    for e, a in zip(expected, actual):  # fixed bin order: a deterministic sum
        e, a = max(float(e), floor), max(float(a), floor)
        total += (a - e) * math.log(a / e)
    return total


def drift_by_feature(bins: Mapping[str, Any], frame: pd.DataFrame) -> dict[str, float]:
    """PSI per feature of the frame against a version's training bins (feature order of
    the bins; a feature of the bins the frame lacks is left out)."""
    out = {}
    for f in sorted(bins):
        if f not in frame.columns:
            continue
        values = frame[f].dropna().to_numpy(dtype=np.float64)
        out[f] = psi(bins[f]["shares"], bin_shares(values, bins[f]["edges"]))
    return out


# ------------------------------------------------------------------ the decision
@dataclass
class RefitPlan:
    step: str
    as_of_date: pd.Timestamp | None
    policy: str
    threshold: float
    decision: str                      # refit | reuse
    reason: str
    previous: dict[str, Any] | None    # the model_versions row compared with
    drift: float | None = None
    drift_feature: str | None = None
    drift_by_feature: dict[str, float] = field(default_factory=dict)


def previous_version(versions: pd.DataFrame | None, step: str, as_of_date: pd.Timestamp | None,
                     models: str | None = None) -> dict[str, Any] | None:
    """The last recorded version of the step (and of `models`, when given: the clustering
    step keeps one version per method) trained on or before the as-of date (nothing
    sees past it): the latest train_end_date, then the latest last_scored_as_of_date, then
    the version id (a deterministic tie-break)."""
    if versions is None or versions.empty or as_of_date is None:
        return None
    keep = (versions["step"] == step) & (pd.to_datetime(versions["train_end_date"]) <= as_of_date)
    if models is not None:
        keep &= versions["models"] == models
    v = versions[keep]
    if v.empty:
        return None
    v = v.assign(_end=pd.to_datetime(v["train_end_date"]), _last=pd.to_datetime(v["last_scored_as_of_date"]))
    v = v.sort_values(["_end", "_last", "version_id"], ascending=[False, False, True], kind="stable")
    return {k: _plain(val) for k, val in v.drop(columns=["_end", "_last"]).iloc[0].items()}


def _has_values(parameters: list[dict[str, Any]]) -> bool:
    """A BTYD version has estimates: some parameter row with a value."""
    return any(p.get("value") is not None for p in parameters)


def plan_refit(step: str, frame: pd.DataFrame, features: Sequence[str], fit_settings: Mapping[str, Any],
               settings: Mapping[str, Any], versions: pd.DataFrame | None,
               as_of_date: pd.Timestamp | None, *, models: str | None = None,
               has_estimates: Callable[[list[dict[str, Any]]], bool] = _has_values) -> RefitPlan:
    """Refit or reuse, with the drift of `frame` (the fit's input) from the last version
    (of `models` when given, see previous_version); `has_estimates` says whether a
    version's parameters can be reused."""
    from segkit._common import require as _require

    policy = str(_require(settings, "model_refit"))
    threshold = float(_require(settings, "model_drift_threshold"))
    prev = previous_version(versions, step, as_of_date, models)
    plan = RefitPlan(step, as_of_date, policy, threshold, "refit", "", prev)
    if prev is not None:
        plan.drift_by_feature = drift_by_feature(json.loads(prev["feature_bins"]), frame[list(features)])
        if plan.drift_by_feature:
            plan.drift_feature, plan.drift = max(plan.drift_by_feature.items(), key=lambda kv: (kv[1], kv[0]))
    if policy == "always":
        plan.reason = "model_refit = always"
    elif prev is None:
        plan.reason = "no version of this step recorded with a training end on or before the as-of date"
    elif json.loads(prev["fit_settings"]) != dict(fit_settings):
        plan.reason = f"the fit settings changed since version {prev['version_id']}"
    elif sorted(json.loads(prev["feature_bins"])) != sorted(features):
        plan.reason = f"the input features changed since version {prev['version_id']}"
    elif frame.empty:
        plan.reason = "no rows to score"
    elif not has_estimates(json.loads(prev["parameters"])):
        plan.reason = f"version {prev['version_id']} has no estimates"
    elif plan.drift is not None and plan.drift > threshold:
        plan.reason = f"PSI {plan.drift:.4f} of {plan.drift_feature} > model_drift_threshold {threshold:g}"
    else:
        plan.decision = "reuse"
        plan.reason = (f"largest PSI {plan.drift:.4f} ({plan.drift_feature}) <= model_drift_threshold {threshold:g}"
                       if plan.drift is not None else "no drift measured")
    return plan


def decision_frame(plan: RefitPlan, version: Mapping[str, Any]) -> pd.DataFrame:
    """model_refit_decisions: one row for the plan and the version the build used."""
    def day(value: Any) -> Any:  # a DATE column: datetime.date objects (or None)
        return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

    row = {
        "step": plan.step, "as_of_date": day(plan.as_of_date), "refit_policy": plan.policy,
        "drift_threshold": plan.threshold, "drift_measure": "psi_max", "drift": plan.drift,
        "drift_feature": plan.drift_feature,
        "drift_by_feature": canonical_json(plan.drift_by_feature) if plan.previous is not None else None,
        "previous_version_id": plan.previous["version_id"] if plan.previous else None,
        "decision": plan.decision, "reason": plan.reason, **{k: version[k] for k in (
            "version_id", "models", "parameters", "fit_settings", "train_start_date", "train_end_date",
            "rows_used", "feature_bins")},
    }
    row["train_start_date"], row["train_end_date"] = day(row["train_start_date"]), day(row["train_end_date"])
    return pd.DataFrame({c: pd.Series([row[c]], dtype=t) for c, t in DECISION_COLUMNS.items()})


# ------------------------------------------------------------------ the BTYD forecast fit
def read_versions(session, this) -> pd.DataFrame | None:
    """The carried model_versions (beside the model `this`), or None before the first.
    Every result is fetched to the end (fetchall): an unfinished one would block the
    session's next query (DuckDB's ResourceInUse), e.g. a dbt.ref(...).df() after this."""
    found = session.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [this.database, this.schema, VERSIONS_TABLE]).fetchall()[0][0]
    if not found:
        return None
    return session.execute(f'select * from "{this.database}"."{this.schema}"."{VERSIONS_TABLE}"').df()


def resolved_as_of_date(rows: Sequence[tuple[Any, ...]]) -> str | None:
    """run_settings.resolved_as_of_date from its first row (None: no rows or no date)."""
    return rows[0][0] if rows and rows[0][0] not in (None, "", "None") else None


def _clv_frame(rfm: pd.DataFrame) -> pd.DataFrame:
    from segkit.dbt_steps import _rfm_frame

    frame = _rfm_frame(rfm)
    return frame[frame["frequency"].notna() & frame["t"].notna()]


def plan_clv_refit(rfm: pd.DataFrame, settings: Mapping[str, Any], versions: pd.DataFrame | None,
                   as_of_date: Any) -> RefitPlan:
    from segkit._common import require as _require

    as_of = pd.Timestamp(as_of_date) if as_of_date is not None else None
    return plan_refit(CLV_STEP, _clv_frame(rfm), CLV_FEATURES, {k: _require(settings, k) for k in CLV_FIT_SETTINGS},
                      settings, versions, as_of)


def parameters_from_version(version: Mapping[str, Any]) -> pd.DataFrame:
    """clv_forecast_parameters as the version recorded it (same columns, dtypes and values)."""
    from segkit.btyd_family import PARAMETER_EXTRA_COLUMNS
    from segkit.dbt_steps import PARAMETER_COLUMNS

    dtypes = {**PARAMETER_COLUMNS, **PARAMETER_EXTRA_COLUMNS}
    rows = json.loads(version["parameters"])
    # the fresh fit's column order (the JSON keys are sorted)
    columns = list(dtypes) + sorted({k for r in rows for k in r} - set(dtypes))
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=dtypes.get(c, "object")) for c in columns})


def clv_parameters_step(rfm: pd.DataFrame, settings: Mapping[str, Any], versions: pd.DataFrame | None,
                        as_of_date: Any) -> pd.DataFrame:
    """clv_forecast_parameters: the recorded version's parameters when plan_clv_refit says
    reuse, else a fresh fit (segkit.btyd_family.fit_parameters_step)."""
    from segkit._common import progress
    from segkit.btyd_family import fit_parameters_step

    plan = plan_clv_refit(rfm, settings, versions, as_of_date)
    progress(f"{CLV_STEP}: {plan.decision} ({plan.reason})")
    if plan.decision == "reuse":
        return parameters_from_version(plan.previous)
    return fit_parameters_step(rfm, settings)


def fit_version(step: str, models: str, parameters: list[dict[str, Any]], fit_settings: Mapping[str, Any],
                frame: pd.DataFrame, features: Sequence[str], as_of_date: Any) -> dict[str, Any]:
    """The version record of a fresh fit on `frame`: parameters, window (the earliest
    first_purchase_at of the frame when it has one .. the as-of date, its rows), the
    bins of `features` and the id (version_id) of all of these."""
    start = pd.to_datetime(frame["first_purchase_at"]).min() if "first_purchase_at" in frame and len(frame) else None
    window = {"train_start_date": None if start is None or pd.isna(start) else str(start.date()),
              "train_end_date": None if as_of_date is None else str(pd.Timestamp(as_of_date).date()),
              "rows_used": int(len(frame))}
    return {
        "version_id": version_id(step, models, parameters, fit_settings, window),
        "models": models, "parameters": canonical_json(parameters), "fit_settings": canonical_json(dict(fit_settings)),
        "train_start_date": window["train_start_date"], "train_end_date": window["train_end_date"],
        "rows_used": window["rows_used"], "feature_bins": canonical_json(feature_bins(frame, features)),
    }


def clv_version(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any], as_of_date: Any) -> dict[str, Any]:
    """The version record of a fresh BTYD fit: its parameter rows (fit_version)."""
    from segkit._common import require as _require

    p = params.sort_values(["model", "parameter"], kind="stable", na_position="first")
    models = ", ".join(sorted(str(m) for m in params["model"].dropna().unique()))
    return fit_version(CLV_STEP, models, records(p), {k: _require(settings, k) for k in CLV_FIT_SETTINGS},
                       _clv_frame(rfm), CLV_FEATURES, as_of_date)


def clv_decisions_step(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any],
                       versions: pd.DataFrame | None, as_of_date: Any) -> pd.DataFrame:
    """model_refit_decisions row of clv_forecast_parameters: the same plan the step made,
    and the version it used (the reused one, or the fresh fit's record)."""
    plan = plan_clv_refit(rfm, settings, versions, as_of_date)
    version = plan.previous if plan.decision == "reuse" else clv_version(rfm, params, settings, as_of_date)
    return decision_frame(plan, version)


# ------------------------------------------------------------------ the clustering step
def cluster_fit_settings(method: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a clustering fit of `method` depends on (CLUSTER_*_SETTINGS)."""
    from segkit._common import require as _require

    return {k: _require(settings, k) for k in (*CLUSTER_FIT_SETTINGS, *CLUSTER_METHOD_SETTINGS[method])}


def cluster_feature_names(features: pd.DataFrame, settings: Mapping[str, Any]) -> list[str]:
    """The cluster features (var cluster_features, patterns expanded) the table has."""
    from segkit._common import require as _require
    from segkit.dbt_steps import expand_feature_patterns

    names = expand_feature_patterns(_require(settings, "cluster_features"), features.columns)
    return [c for c in names if c in features.columns]


def _has_centers(parameters: list[dict[str, Any]]) -> bool:
    """A K-means version can label new rows: it has its centres."""
    return bool(parameters) and bool(parameters[0].get("centers"))


def plan_cluster_refit(method: str, features: pd.DataFrame, settings: Mapping[str, Any],
                       versions: pd.DataFrame | None, as_of_date: Any) -> RefitPlan:
    """Refit or reuse for one clustering method (versions keyed by step customer_clusters
    and models = the method): K-means by plan_refit on the cluster features of the
    feature table; DBSCAN always refits (DBSCAN_REASON), its drift still measured."""
    as_of = pd.Timestamp(as_of_date) if as_of_date is not None else None
    plan = plan_refit(CLUSTER_STEP, features, cluster_feature_names(features, settings),
                      cluster_fit_settings(method, settings), settings, versions, as_of,
                      models=method, has_estimates=_has_centers)
    if method != "kmeans":
        plan.decision, plan.reason = "refit", DBSCAN_REASON
    return plan


def cluster_version(method: str, features: pd.DataFrame, run_info: Mapping[str, Any], settings: Mapping[str, Any],
                    as_of_date: Any) -> dict[str, Any]:
    """The version record of a fresh clustering fit, from the step's run_info of the
    method: K-means, its model (segkit.clustering.kmeans_model: preprocessing, k,
    centres, tier mapping; enough to label new customers); DBSCAN, eps, min_samples
    and the clusters found (it cannot be reused)."""
    if method == "kmeans":
        parameters = [dict(run_info["model"])]
    else:
        parameters = [{"method": method, **{k: run_info.get(k) for k in (
            "eps", "eps_fit", "eps_source", "min_samples", "n_clusters", "n_noise", "n_fit", "sampled")}}]
    return fit_version(CLUSTER_STEP, method, parameters, cluster_fit_settings(method, settings), features,
                       cluster_feature_names(features, settings), as_of_date)


def cluster_decisions_step(features: pd.DataFrame, runs: pd.DataFrame, settings: Mapping[str, Any],
                           versions: pd.DataFrame | None, as_of_date: Any) -> pd.DataFrame:
    """model_refit_decisions rows of customer_clusters, one per method the step ran
    (models = the method): the plan the step made and the version it used. `runs`: a
    method and run_info of customer_clusters per method (any of its rows)."""
    rows = []
    for method in sorted(runs["method"].dropna().unique()):
        plan = plan_cluster_refit(method, features, settings, versions, as_of_date)
        if plan.decision == "reuse":
            version = plan.previous
        else:
            run_info = json.loads(runs.loc[runs["method"] == method, "run_info"].iloc[0])
            version = cluster_version(method, features, run_info, settings, as_of_date)
        rows.append(decision_frame(plan, version))
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DECISION_COLUMNS.items()})
    return pd.concat(rows, ignore_index=True)
