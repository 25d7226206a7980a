"""Model versions and refit-on-drift (issue 14 item 4) on the demo dataset.

One folder, builds in file order (partial builds of +customer_clv_forecast and
+model_versions, cheap settings for the other Python steps):
A. on_drift at D1, nothing published yet: no version known, so it fits and records one;
B. on_drift at D1 again, keeping the build database's versions: reuses A's version;
C. a full build at D2 (six months later) with on_drift: the input drifted beyond the
   threshold, so it refits; it publishes (model_versions with A's and C's versions);
D. a build at D3 with always that records a version and then fails (a broken campaign
   predicate): nothing published;
E. always at D2 again, starting from the published versions: refits although nothing
   drifted, and gets C's version id (same data, same id).
The same builds carry the clustering step (customer_clusters, a parent of model_versions
through model_refit_decisions): A records a K-means and a DBSCAN version, B reuses the
K-means one (same labels) and refits DBSCAN.
The drift is recomputed here with pandas from customer_rfm of the builds by the rule
stated in models/marts/meta/_meta__models.yml, never read from segkit.refit.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dbt_harness import PARTIAL, run_dbt

slow = pytest.mark.slow  # the dbt tests: five builds, one of them full, several minutes

FAST = {"churn_model": "logistic", "churn_cv_folds": 2, "churn_importance_rows": 100,
        "cluster_k": 4, "backtest_kmeans_k": 4}
D1, D2, D3 = "2024-06-30", "2024-12-31", "2024-09-30"
THRESHOLD = 0.2
SELECT = ["--select", "+customer_clv_forecast", "+model_versions", *PARTIAL]
FEATURES = {"frequency": "frequency", "recency": "recency", "t": "T", "monetary_value": "monetary_value"}


def _df(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CLV = "'clv_forecast_parameters'"


def _snapshot(result) -> dict:
    assert result.returncode == 0, result.output[-4000:]
    db = result.db_path
    return {
        "result": result,
        # the BTYD fit's decision and versions; the clustering step's below
        "decision": _df(db, f"select * from model_refit_decisions where step = {CLV}").to_dict("records"),
        "versions": _df(db, f"select * from model_versions where step = {CLV} order by version_id"),
        "cluster_decisions": _df(db, "select * from model_refit_decisions where step = 'customer_clusters' "
                                     "order by models"),
        "cluster_versions": _df(db, "select * from model_versions where step = 'customer_clusters' "
                                    "order by version_id"),
        "clusters": _df(db, "select * from customer_clusters order by method, customer_id"),
        "cluster_input": _df(db, "select * from cluster_input order by customer_id"),
        "params": _df(db, "select * from clv_forecast_parameters order by model, parameter"),
        "forecast": _df(db, "select * from customer_clv_forecast order by customer_id"),
        "rfm": _df(db, "select * from customer_rfm"),
    }


def _build(work: Path, as_of: str, refit: str, extra_vars: dict | None = None, full: bool = False):
    vars = {"dataset": "demo", **FAST, "as_of_date": as_of, "model_refit": refit,
            "model_drift_threshold": THRESHOLD, **(extra_vars or {})}
    return run_dbt(work, vars=vars, extra=[] if full else SELECT)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("refit")


@pytest.fixture(scope="module")
def build_a(work):
    return _snapshot(_build(work, D1, "on_drift"))


@pytest.fixture(scope="module")
def build_b(work, build_a):
    # publish_carried_tables: [] keeps the build database's model_versions (as backfill does)
    return _snapshot(_build(work, D1, "on_drift", {"publish_carried_tables": []}))


@pytest.fixture(scope="module")
def build_c(work, build_b):
    snap = _snapshot(_build(work, D2, "on_drift", {"publish_carried_tables": []}, full=True))
    assert snap["result"].db_path == snap["result"].published_path, "the full build did not publish"
    return snap


@pytest.fixture(scope="module")
def build_d(work, build_c):
    before = _digest(build_c["result"].published_path)
    result = run_dbt(work, vars={"dataset": "demo", **FAST, "as_of_date": D3, "model_refit": "always",
                                 "campaigns": {"broken": "no_such_column = 1"}},
                     extra=["--select", "+model_versions", "campaign_targets", *PARTIAL])
    return result, before


@pytest.fixture(scope="module")
def build_e(work, build_d):
    return _snapshot(_build(work, D2, "always"))


# -- independent recomputation ------------------------------------------------------------

def _fit_input(rfm: pd.DataFrame) -> pd.DataFrame:
    """The customers the BTYD fit uses: with a purchase history (frequency and T known)."""
    return rfm[rfm["frequency"].notna() & rfm["T"].notna()]


def _psi(train: pd.Series, now: pd.Series) -> float:
    """PSI with bins at the distinct deciles of the training values, shares floored at 1e-4."""
    train, now = train.dropna().astype(float), now.dropna().astype(float)
    edges = sorted(set(train.quantile([i / 10 for i in range(1, 10)]).tolist()))
    bins = [-np.inf, *edges, np.inf]
    e = pd.cut(train, bins, right=True).value_counts(normalize=True, sort=False).to_numpy()
    a = pd.cut(now, bins, right=True).value_counts(normalize=True, sort=False).to_numpy()
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a)))


def _psi_by_feature(train_rfm: pd.DataFrame, now_rfm: pd.DataFrame) -> dict[str, float]:
    train, now = _fit_input(train_rfm), _fit_input(now_rfm)
    return {name: _psi(train[col], now[col]) for name, col in FEATURES.items()}


# -- A: the first fit is recorded with its training window ---------------------------------

@slow
def test_first_build_refits_and_records_the_version_and_window(build_a):
    [d] = build_a["decision"]
    assert (d["step"], d["decision"], d["refit_policy"]) == ("clv_forecast_parameters", "refit", "on_drift")
    assert d["previous_version_id"] is None and pd.isna(d["drift"])
    [v] = build_a["versions"].to_dict("records")
    assert v["version_id"] == d["version_id"]
    fit_input = _fit_input(build_a["rfm"])
    assert v["rows_used"] == len(fit_input)
    assert str(v["train_end_date"])[:10] == D1
    assert str(v["train_start_date"])[:10] == str(pd.to_datetime(fit_input["first_purchase_at"]).min().date())
    assert str(v["first_scored_as_of_date"])[:10] == str(v["last_scored_as_of_date"])[:10] == D1
    # the parameters recorded are the ones the build used
    recorded = {(p["model"], p["parameter"]): p["value"] for p in json.loads(v["parameters"])}
    used = {(r.model, r.parameter): r.value for r in build_a["params"].itertuples()}
    assert recorded == used


# -- B: same data, on_drift: the version is reused and scores are the same ------------------

@slow
def test_same_data_on_drift_reuses_the_version(build_a, build_b):
    [d] = build_b["decision"]
    assert d["decision"] == "reuse"
    assert d["previous_version_id"] == d["version_id"] == build_a["decision"][0]["version_id"]
    assert d["drift"] == pytest.approx(0.0, abs=1e-12)
    assert len(build_b["versions"]) == 1


@slow
def test_reused_parameters_give_the_same_scores(build_a, build_b):
    pd.testing.assert_frame_equal(build_b["params"], build_a["params"])
    pd.testing.assert_frame_equal(build_b["forecast"], build_a["forecast"])


# -- the clustering step in the same builds -------------------------------------------------

def _cluster_features(result) -> list[str]:
    """var cluster_features of the build (run_settings), as the demo's feature table has them."""
    return json.loads(result.scalar("select value_json from run_settings where setting_name = 'cluster_features'"))


@slow
def test_first_build_records_a_kmeans_and_a_dbscan_version(build_a):
    d = build_a["cluster_decisions"].set_index("models")
    assert list(d.index) == ["dbscan", "kmeans"] and set(d["decision"]) == {"refit"}
    assert "DBSCAN always refits" in d.loc["dbscan", "reason"]
    v = build_a["cluster_versions"].set_index("models")
    assert set(v["version_id"]) == set(d["version_id"])
    assert json.loads(v.loc["dbscan", "parameters"])[0]["n_clusters"] == \
        build_a["clusters"].query("method == 'dbscan' and cluster_id >= 0")["cluster_id"].nunique()
    # the recorded K-means model labels the build's customers as the fit did (plain numpy distances)
    [model] = json.loads(v.loc["kmeans", "parameters"])
    assert model["features"] == _cluster_features(build_a["result"]) and model["k"] == FAST["cluster_k"]
    inp = build_a["cluster_input"]
    km = build_a["clusters"].query("method == 'kmeans'").set_index("customer_id").loc[inp["customer_id"]]
    cid, tier = _nearest_by_numpy(inp, model)
    assert (km["cluster_id"].to_numpy() == cid).all() and (km["value_tier"].to_numpy() == tier).all()
    assert v.loc["kmeans", "rows_used"] == len(inp)


@slow
def test_same_data_on_drift_reuses_the_kmeans_version_with_the_same_labels(build_a, build_b):
    a, b = build_a["cluster_decisions"].set_index("models"), build_b["cluster_decisions"].set_index("models")
    assert b.loc["kmeans", "decision"] == "reuse"
    assert b.loc["kmeans", "previous_version_id"] == b.loc["kmeans", "version_id"] == a.loc["kmeans", "version_id"]
    assert b.loc["kmeans", "drift"] == pytest.approx(0.0, abs=1e-12)
    # DBSCAN refits every build; same data, same version id
    assert b.loc["dbscan", "decision"] == "refit" and b.loc["dbscan", "version_id"] == a.loc["dbscan", "version_id"]
    assert len(build_b["cluster_versions"]) == 2
    la, lb = build_a["clusters"], build_b["clusters"]
    assert list(la["customer_id"]) == list(lb["customer_id"]) and list(la["value_tier"]) == list(lb["value_tier"])
    for col in ("cluster_id", "distance", "is_outlier"):
        assert la[col].to_numpy().tobytes() == lb[col].to_numpy().tobytes(), col
    run_info = json.loads(lb.query("method == 'kmeans'")["run_info"].iloc[0])
    assert run_info["reused_version_id"] == a.loc["kmeans", "version_id"]


@slow
def test_kmeans_reuse_or_refit_at_d2_follows_the_psi_of_the_cluster_features(build_a, build_c):
    names = _cluster_features(build_a["result"])
    expected = {f: _psi(build_a["cluster_input"][f], build_c["cluster_input"][f]) for f in names}
    d = build_c["cluster_decisions"].set_index("models")
    measured = json.loads(d.loc["kmeans", "drift_by_feature"])
    assert measured.keys() == expected.keys()
    for name in expected:
        assert measured[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name
    assert d.loc["kmeans", "decision"] == ("refit" if max(expected.values()) > THRESHOLD else "reuse")
    assert d.loc["kmeans", "previous_version_id"] == build_a["cluster_decisions"].set_index("models").loc[
        "kmeans", "version_id"]
    # the full build keeps the decisions per as-of date, step and models
    history = build_c["result"].query("select cast(as_of_date as varchar), step, models from model_refit_history "
                                      "order by 1, 2, 3")
    assert history == [(D2, "clv_forecast_parameters", build_c["decision"][0]["models"]),
                       (D2, "customer_clusters", "dbscan"), (D2, "customer_clusters", "kmeans")]


# -- C: six months later the input drifted beyond the threshold: refit ----------------------

@slow
def test_drift_beyond_the_threshold_refits(build_a, build_c):
    expected = _psi_by_feature(build_a["rfm"], build_c["rfm"])
    assert max(expected.values()) > THRESHOLD, expected  # the dates really cross the threshold
    [d] = build_c["decision"]
    assert d["decision"] == "refit"
    assert d["previous_version_id"] == build_a["decision"][0]["version_id"]
    measured = json.loads(d["drift_by_feature"])
    assert measured.keys() == expected.keys()
    for name in expected:
        assert measured[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name
    assert d["drift"] == pytest.approx(max(expected.values()), rel=1e-9)
    assert d["version_id"] != d["previous_version_id"]
    assert set(build_c["versions"]["version_id"]) == {d["previous_version_id"], d["version_id"]}


# -- D, E: the versions survive a failed build and a publish; always refits -----------------

@slow
def test_a_failed_build_publishes_no_version(build_c, build_d):
    result, before = build_d
    assert result.returncode != 0 and "no_such_column" in result.output
    assert _digest(result.published_path) == before
    # it did record its own version in the build database before failing
    assert len(result.query(f"select * from model_versions where step = {CLV}")) == 3


@slow
def test_versions_survive_publish_and_failed_build_and_always_refits(build_c, build_d, build_e):
    # E started from the published versions (A's and C's), not from the failed build's
    published = set(build_c["versions"]["version_id"])
    assert set(build_e["versions"]["version_id"]) == published
    [d] = build_e["decision"]
    assert (d["decision"], d["refit_policy"]) == ("refit", "always")
    # nothing drifted since C's version (same data): always refits anyway, and the
    # same data and settings give the same version id
    assert d["previous_version_id"] == build_c["decision"][0]["version_id"]
    assert d["drift"] == pytest.approx(0.0, abs=1e-12)
    assert d["version_id"] == build_c["decision"][0]["version_id"]


# -- segkit.refit on its own (fast) ---------------------------------------------------------

def _rfm_sample(seed: int, n: int = 400, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.poisson(2.0, n).astype(float)
    T = rng.uniform(30, 700, n) + shift
    recency = np.minimum(T, rng.uniform(0, 700, n)) * (frequency > 0)
    money = np.where(frequency > 0, rng.gamma(2.0, 30.0, n), 0.0)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "frequency": frequency, "recency": recency,
                         "T": T, "monetary_value": money,
                         "first_purchase_at": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")})


def test_psi_matches_the_stated_rule():
    from segkit.refit import drift_by_feature, feature_bins

    train, now = _rfm_sample(1), _rfm_sample(2, shift=120.0)
    lower = {"frequency": "frequency", "recency": "recency", "t": "T", "monetary_value": "monetary_value"}
    bins = feature_bins(train.rename(columns={"T": "t"}), list(lower))
    measured = drift_by_feature(bins, now.rename(columns={"T": "t"}))
    for name, col in lower.items():
        assert measured[name] == pytest.approx(_psi(train[col], now[col]), rel=1e-9, abs=1e-12), name
    assert measured["t"] > THRESHOLD  # a 120-day shift of T is drift


def test_a_reused_version_restores_the_fitted_parameters_exactly():
    from segkit.btyd_family import fit_parameters_step
    from segkit.refit import clv_version, parameters_from_version

    settings = {"dataset": "demo", "clv_forecast_penalizer": 0.0, "rfm_time_unit": "day", "rfm_freq_multiplier": 1}
    rfm = _rfm_sample(3)
    fitted = fit_parameters_step(rfm, settings)
    version = clv_version(rfm, fitted, settings, "2024-06-30")
    restored = parameters_from_version(version)
    key = ["model", "parameter"]
    pd.testing.assert_frame_equal(restored.sort_values(key).reset_index(drop=True),
                                  fitted.sort_values(key).reset_index(drop=True))
    # deterministic id: same fit, same id; another window, another id
    assert clv_version(rfm, fitted, settings, "2024-06-30")["version_id"] == version["version_id"]
    assert clv_version(rfm, fitted, settings, "2024-07-31")["version_id"] != version["version_id"]


def test_the_fit_log_names_a_reused_version():
    from segkit.dbt_steps import clv_decisions

    params = pd.DataFrame({"model": ["bg_nbd", "bg_nbd"], "parameter": ["r", "a"], "value": [0.5, 0.3],
                           "n_customers": [10, 10], "converged": [True, True], "note": [None, None]})
    assert clv_decisions(params)[0].reason is None
    decisions = pd.DataFrame({"step": ["clv_forecast_parameters"], "decision": ["reuse"],
                              "version_id": ["abc123"], "train_end_date": [pd.Timestamp("2024-06-30")]})
    [d] = clv_decisions(params, decisions.iloc[0].to_dict())
    assert (d.status, d.reason) == ("fitted", "reused version abc123 fitted at 2024-06-30 (model_refit_decisions)")
    assert d.params == {"version_id": "abc123"}


# -- the clustering step: K-means versions, refit or reuse (fast) ---------------------------

def _cluster_settings(**changes) -> dict:
    """The project's var defaults (dbt_project.yml, as run_settings records them), on_drift."""
    import yaml

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "dbt_project.yml").read_text())["vars"]
    return {**project, "dataset": "demo", "cluster_features": ["spend", "orders", "days"],
            "cluster_log_features": ["spend", "orders"], "cluster_value_column": "spend",
            "cluster_k": 4, "model_refit": "on_drift", "model_drift_threshold": THRESHOLD, **changes}


def _cluster_sample(seed: int, n: int = 600, days_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame({"customer_id": [f"c{seed}_{i:04d}" for i in range(n)],
                         "spend": rng.gamma(2.0, np.array([20.0, 80.0, 300.0])[group]),
                         "orders": rng.poisson(np.array([1.0, 4.0, 12.0])[group]).astype(float),
                         "days": rng.uniform(0, 365, n) + days_shift})


def _versions_from(decisions: pd.DataFrame) -> pd.DataFrame:
    """model_versions as model_versions.sql makes it from model_refit_decisions."""
    cols = ["version_id", "step", "models", "parameters", "fit_settings", "train_start_date", "train_end_date",
            "rows_used", "feature_bins"]
    return decisions[cols].assign(last_scored_as_of_date=decisions["as_of_date"])


def _fit_and_version(frame: pd.DataFrame, settings: dict, as_of: str = "2024-06-30"):
    from segkit.dbt_steps import clustering_step
    from segkit.refit import cluster_decisions_step

    labels = clustering_step(frame, settings, None, as_of)
    runs = labels.groupby("method", as_index=False)["run_info"].first()
    return labels, cluster_decisions_step(frame, runs, settings, None, as_of)


def _nearest_by_numpy(frame: pd.DataFrame, model: dict) -> tuple[np.ndarray, np.ndarray]:
    """cluster id and tier per row of a recorded K-means model by plain numpy distances
    (log1p of the log features, (x - centre) / scale, argmin of the euclidean distances)."""
    X = frame[model["features"]].to_numpy(dtype=float).copy()
    for j, f in enumerate(model["features"]):
        if f in model["log_features"]:
            X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
    X = np.nan_to_num(X)
    center, scale = np.array(model["center"]), np.array(model["scale"])
    X = np.where(scale > 0, (X - center) / np.where(scale > 0, scale, 1.0), 0.0)
    d = ((X[:, None, :] - np.array(model["centers"])[None, :, :]) ** 2).sum(axis=2)
    label = d.argmin(axis=1)
    return np.array(model["cluster_id_of_label"])[label], np.array(model["value_tier_of_label"])[label]


def test_a_kmeans_version_labels_the_fitted_customers_exactly():
    from segkit.dbt_steps import clustering_step
    from segkit.refit import cluster_decisions_step

    settings = _cluster_settings()
    frame = _cluster_sample(7).sample(frac=1.0, random_state=3)  # not in id order
    fitted, decisions = _fit_and_version(frame, settings)
    assert list(decisions["models"]) == ["dbscan", "kmeans"]
    assert set(decisions["step"]) == {"customer_clusters"} and set(decisions["decision"]) == {"refit"}
    kmeans = decisions.set_index("models").loc["kmeans"]
    [model] = json.loads(kmeans["parameters"])
    assert model["k"] == len(model["centers"]) >= 2 and model["features"] == ["spend", "orders", "days"]
    # the recorded model reproduces the fit's labels by an independent route
    km = fitted[fitted["method"] == "kmeans"].set_index("customer_id").loc[frame["customer_id"]]
    cid, tier = _nearest_by_numpy(frame, model)
    assert (km["cluster_id"].to_numpy() == cid).all() and (km["value_tier"].to_numpy() == tier).all()

    versions = _versions_from(decisions)
    reused = clustering_step(frame, settings, versions, "2024-06-30")
    again = cluster_decisions_step(frame, reused.groupby("method", as_index=False)["run_info"].first(), settings,
                                   versions, "2024-06-30")
    d = again.set_index("models")
    assert d.loc["kmeans", "decision"] == "reuse" and d.loc["kmeans", "drift"] == pytest.approx(0.0, abs=1e-12)
    assert d.loc["kmeans", "version_id"] == d.loc["kmeans", "previous_version_id"] == kmeans["version_id"]
    # DBSCAN cannot be reused: it refits, gets the same version id on the same data
    assert d.loc["dbscan", "decision"] == "refit" and "DBSCAN always refits" in d.loc["dbscan", "reason"]
    assert d.loc["dbscan", "version_id"] == decisions.set_index("models").loc["dbscan", "version_id"]
    assert set(json.loads(d.loc["dbscan", "parameters"])[0]) >= {"eps", "min_samples", "n_clusters"}
    # same data: the reused version gives the fit's labels, bytes-equal
    a, b = fitted[fitted["method"] == "kmeans"], reused[reused["method"] == "kmeans"]
    assert list(a["customer_id"]) == list(b["customer_id"]) and list(a["value_tier"]) == list(b["value_tier"])
    for col in ("cluster_id", "distance", "is_outlier"):
        assert a[col].dtype == b[col].dtype and a[col].to_numpy().tobytes() == b[col].to_numpy().tobytes(), col
    assert json.loads(b["run_info"].iloc[0])["reused_version_id"] == kmeans["version_id"]
    pd.testing.assert_frame_equal(fitted[fitted["method"] == "dbscan"], reused[reused["method"] == "dbscan"])


def test_kmeans_reuse_on_new_customers_and_refit_on_drift():
    from segkit.dbt_steps import clustering_step
    from segkit.refit import plan_cluster_refit

    settings = _cluster_settings(cluster_methods=["kmeans"])
    train = _cluster_sample(11)
    _, decisions = _fit_and_version(train, settings)
    versions = _versions_from(decisions)
    [model] = json.loads(decisions["parameters"].iloc[0])
    # new customers of the same population: reused, labelled by the nearest recorded centre
    same = _cluster_sample(12)
    plan = plan_cluster_refit("kmeans", same, settings, versions, "2024-07-31")
    assert plan.decision == "reuse" and plan.drift <= THRESHOLD, plan.reason
    out = clustering_step(same, settings, versions, "2024-07-31").set_index("customer_id").loc[same["customer_id"]]
    cid, tier = _nearest_by_numpy(same, model)
    assert (out["cluster_id"].to_numpy() == cid).all() and (out["value_tier"].to_numpy() == tier).all()
    # shifted recency: PSI of days above the threshold, so it refits
    shifted = _cluster_sample(12, days_shift=200.0)
    plan = plan_cluster_refit("kmeans", shifted, settings, versions, "2024-07-31")
    assert plan.decision == "refit" and plan.drift_feature == "days" and plan.drift > THRESHOLD
    assert plan.drift == pytest.approx(_psi(train["days"], shifted["days"]), rel=1e-9)
    out = clustering_step(shifted, settings, versions, "2024-07-31")
    assert "reused_version_id" not in json.loads(out["run_info"].iloc[0])
    # other fit settings (a fixed k) or the always policy: no reuse either
    assert plan_cluster_refit("kmeans", same, {**settings, "cluster_k": 5}, versions, "2024-07-31").decision == "refit"
    assert plan_cluster_refit("kmeans", same, {**settings, "model_refit": "always"}, versions,
                              "2024-07-31").decision == "refit"


def test_the_fit_log_names_a_reused_kmeans_version():
    """model_fit_log (fit_log_step's clustering rows) names the version K-means reused."""
    from segkit.dbt_steps import clustering_fit_decisions

    settings = _cluster_settings()
    frame = _cluster_sample(5)
    decisions = pd.DataFrame({"step": ["customer_clusters", "customer_clusters", "clv_forecast_parameters"],
                              "models": ["dbscan", "kmeans", "bg_nbd"], "decision": ["refit", "reuse", "reuse"],
                              "version_id": ["d1", "k1", "c1"], "train_end_date": [pd.Timestamp("2024-06-30")] * 3})
    plain = {d.model: d for d in clustering_fit_decisions(frame, settings)}
    named = {d.model: d for d in clustering_fit_decisions(frame, settings, decisions)}
    assert plain["kmeans"].reason is None
    assert named["kmeans"].reason == "reused version k1 fitted at 2024-06-30 (model_refit_decisions)"
    assert named["kmeans"].params == {**plain["kmeans"].params, "version_id": "k1"}
    assert named["dbscan"] == plain["dbscan"]
