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
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
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
    """PSI per feature of the frame against a version's training bins (feature order of the bins)."""
    out = {}
    for f in sorted(bins):
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


def previous_version(versions: pd.DataFrame | None, step: str, as_of_date: pd.Timestamp | None) -> dict[str, Any] | None:
    """The last recorded version of the step trained on or before the as-of date (nothing
    sees past it): the latest train_end_date, then the latest last_scored_as_of_date, then
    the version id (a deterministic tie-break)."""
    if versions is None or versions.empty or as_of_date is None:
        return None
    v = versions[(versions["step"] == step) & (pd.to_datetime(versions["train_end_date"]) <= as_of_date)]
    if v.empty:
        return None
    v = v.assign(_end=pd.to_datetime(v["train_end_date"]), _last=pd.to_datetime(v["last_scored_as_of_date"]))
    v = v.sort_values(["_end", "_last", "version_id"], ascending=[False, False, True], kind="stable")
    return {k: _plain(val) for k, val in v.drop(columns=["_end", "_last"]).iloc[0].items()}


def plan_refit(step: str, frame: pd.DataFrame, features: Sequence[str], fit_settings: Mapping[str, Any],
               settings: Mapping[str, Any], versions: pd.DataFrame | None,
               as_of_date: pd.Timestamp | None) -> RefitPlan:
    """Refit or reuse, with the drift of `frame` (the fit's input) from the last version."""
    from segkit._common import require as _require

    policy = str(_require(settings, "model_refit"))
    threshold = float(_require(settings, "model_drift_threshold"))
    prev = previous_version(versions, step, as_of_date)
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
    elif frame.empty:
        plan.reason = "no rows to score"
    elif not any(p.get("value") is not None for p in json.loads(prev["parameters"])):
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
    """The carried model_versions (beside the model `this`), or None before the first."""
    found = session.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [this.database, this.schema, VERSIONS_TABLE]).fetchone()[0]
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


def clv_version(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any], as_of_date: Any) -> dict[str, Any]:
    """The version record of a fresh fit: parameters, window, bins and its id."""
    frame = _clv_frame(rfm)
    p = params.sort_values(["model", "parameter"], kind="stable", na_position="first")
    models = ", ".join(sorted(str(m) for m in params["model"].dropna().unique()))
    parameters = records(p)
    from segkit._common import require as _require

    fit_settings = {k: _require(settings, k) for k in CLV_FIT_SETTINGS}
    start = pd.to_datetime(frame["first_purchase_at"]).min() if "first_purchase_at" in frame and len(frame) else None
    window = {"train_start_date": None if start is None or pd.isna(start) else str(start.date()),
              "train_end_date": None if as_of_date is None else str(pd.Timestamp(as_of_date).date()),
              "rows_used": int(len(frame))}
    return {
        "version_id": version_id(CLV_STEP, models, parameters, fit_settings, window),
        "models": models, "parameters": canonical_json(parameters), "fit_settings": canonical_json(fit_settings),
        "train_start_date": window["train_start_date"], "train_end_date": window["train_end_date"],
        "rows_used": window["rows_used"], "feature_bins": canonical_json(feature_bins(frame, CLV_FEATURES)),
    }


def clv_decisions_step(rfm: pd.DataFrame, params: pd.DataFrame, settings: Mapping[str, Any],
                       versions: pd.DataFrame | None, as_of_date: Any) -> pd.DataFrame:
    """model_refit_decisions row of clv_forecast_parameters: the same plan the step made,
    and the version it used (the reused one, or the fresh fit's record)."""
    plan = plan_clv_refit(rfm, settings, versions, as_of_date)
    version = plan.previous if plan.decision == "reuse" else clv_version(rfm, params, settings, as_of_date)
    return decision_frame(plan, version)
