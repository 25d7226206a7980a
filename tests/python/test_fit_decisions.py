"""The one rule for "can this model be fitted on the data at hand" (segkit._common)
and the plans the dbt steps apply with it (segkit.dbt_steps): fast, no dbt."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit._common import FIT_DECISION_COLUMNS, FitDecision, decide_classifier, decide_size, decisions_frame
from segkit.dbt_steps import (
    backtest_decisions,
    churn_step,
    clv_decisions,
    plan_churn,
    plan_clustering,
    plan_tier_change,
    tier_change_step,
)


def labels(**counts: int) -> pd.Series:
    return pd.Series([name for name, n in counts.items() for _ in range(n)], dtype="string")


# ------------------------------------------------------------------ decide_size
@pytest.mark.parametrize("supported, status, used", [(9, "fitted", 5), (5, "fitted", 5), (3, "reduced", 3),
                                                     (2, "reduced", 2), (1, "skipped", None)])
def test_decide_size(supported, status, used):
    d = decide_size("step", "m", 40, "cv_folds", 5, supported, 2, f"class 'x' has {supported} rows")
    assert (d.status, d.params["cv_folds"], d.rows_available) == (status, used, 40)
    if status == "fitted":
        assert d.reason is None
    else:
        assert f"class 'x' has {supported} rows" in d.reason
    if status == "reduced":
        assert d.reason.startswith(f"cv_folds reduced from 5 to {supported}")


# ------------------------------------------------------------ decide_classifier
def test_enough_rows_of_every_class_fits_as_configured():
    d = decide_classifier("s", "churn", labels(churned=5, retained=30), 5)
    assert (d.status, d.reason, d.rows_available, dict(d.params)) == ("fitted", None, 35, {"cv_folds": 5})


def test_the_issue_case_reduces_the_folds_to_the_smallest_class():
    # 300 customers: {'upgrade': 3, 'downgrade': 3} below cv_folds=5
    d = decide_classifier("s", "tier_change", labels(none=66, churn=22, upgrade=3, downgrade=3), 5)
    assert d.status == "reduced" and d.params["cv_folds"] == 3
    assert d.reason == "cv_folds reduced from 5 to 3: class 'downgrade' has 3 training rows"


def test_a_single_row_class_is_left_out():
    d = decide_classifier("s", "tier_change", labels(none=24, churn=10, upgrade=1, downgrade=2), 5)
    assert d.status == "reduced"
    assert dict(d.params) == {"cv_folds": 2, "left_out_classes": ["upgrade"]}
    assert "left out classes with a single training row {'upgrade': 1}" in d.reason
    assert "cv_folds reduced from 5 to 2" in d.reason


@pytest.mark.parametrize("values", [labels(churned=1, retained=30), labels(retained=30),
                                    labels(none=11, churn=1, upgrade=1, downgrade=1), labels()])
def test_fewer_than_two_usable_classes_skips(values):
    d = decide_classifier("s", "m", values, 5)
    assert d.skipped and d.params["cv_folds"] is None
    assert d.reason.endswith("need two classes with at least 2 rows each")


def test_missing_labels_are_not_counted():
    d = decide_classifier("s", "m", pd.Series([True, True, False, False, None, None], dtype="boolean"), 5)
    assert (d.status, d.rows_available, d.params["cv_folds"]) == ("reduced", 4, 2)


def test_decisions_frame_is_typed_also_when_empty():
    empty = decisions_frame([])
    assert list(empty.columns) == list(FIT_DECISION_COLUMNS) and empty.empty
    assert str(empty["rows_available"].dtype) == "int64" and str(empty["reason"].dtype) == "string"
    one = decisions_frame([FitDecision("s", "m", "reduced", "why", 3, {"cv_folds": 2})])
    assert one.iloc[0].to_dict() == {"step": "s", "model": "m", "status": "reduced", "reason": "why",
                                     "rows_available": 3, "parameters": '{"cv_folds": 2}'}
    with pytest.raises(ValueError, match="unknown status 'failed'"):
        FitDecision("s", "m", "failed", None, 0)


# ------------------------------------------------------------ the steps' plans
SETTINGS = {
    "churn_cv_folds": 5, "churn_random_state": 0, "churn_max_train_rows": 200_000, "churn_model": "gradient_boosting",
    "churn_features": None, "tier_change_features": None, "tier_plan_order": ["Basic", "Premium"],
    "churn_risk_band_edges": [0.3, 0.6], "churn_importance_rows": 5000,
    "cluster_methods": ["kmeans", "dbscan"], "cluster_features": ["orders", "total_spend"], "cluster_k": None,
    "cluster_k_min": 2, "cluster_k_max": 8, "cluster_dbscan_min_samples": 5,
}


def churn_input(n_train: int, churned: int, tiers: dict[str, int]) -> pd.DataFrame:
    """n_train labelled customers (the first `churned` churned) + 10 to score; the
    first sum(tiers) training rows are subscribers with those next moves."""
    rng = np.random.default_rng(0)
    moves = [t for t, k in tiers.items() for _ in range(k)]
    train = pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n_train)], "split": "train",
        "orders": rng.integers(1, 9, n_train).astype(float),
        "is_churned_next": [i < churned for i in range(n_train)],
        "plan_level": [("Basic" if i % 2 else "Premium") if i < len(moves) else None for i in range(n_train)],
        "tier_change_next": moves + [None] * (n_train - len(moves)),
    })
    train.loc[train["tier_change_next"] == "upgrade", "plan_level"] = "Basic"
    train.loc[train["tier_change_next"] == "downgrade", "plan_level"] = "Premium"
    score = pd.DataFrame({"customer_id": [f"s{i}" for i in range(10)], "split": "score",
                          "orders": rng.integers(1, 9, 10).astype(float), "is_churned_next": None,
                          "plan_level": "Basic", "tier_change_next": None})
    return pd.concat([train, score], ignore_index=True)


def test_churn_and_tier_change_plans_read_the_labelled_rows():
    frame = churn_input(40, 3, {"none": 20, "churn": 6, "upgrade": 1, "downgrade": 2})
    churn = plan_churn(frame, SETTINGS)
    assert (churn.status, churn.rows_available, churn.params["cv_folds"]) == ("reduced", 40, 3)
    assert "class 'churned' has 3" in churn.reason
    tier = plan_tier_change(frame, SETTINGS)
    assert (tier.status, tier.rows_available) == ("reduced", 29)
    assert dict(tier.params) == {"cv_folds": 2, "left_out_classes": ["upgrade"]}


def test_tier_change_step_fits_without_the_left_out_class():
    frame = churn_input(40, 3, {"none": 20, "churn": 6, "upgrade": 1, "downgrade": 2})
    out = tier_change_step(frame, SETTINGS)
    assert len(out) == 10 and (out["p_upgrade"] == 0).all()
    total = out[["p_upgrade", "p_downgrade", "p_churn", "p_stay"]].sum(axis=1)
    assert np.allclose(total, 1.0)
    assert '"cv_folds": 2' in out["run_info"].iloc[0]


def test_churn_step_skipped_returns_an_empty_typed_table(capsys):
    out = churn_step(churn_input(20, 1, {}), SETTINGS)
    assert out.empty
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "customer_id": "string", "churn_probability": "float64", "risk_band": "string",
        "is_scored_out_of_fold": "bool", "run_info": "string"}
    assert "churn: skipped (20 labelled rows {'churned': 1, 'retained': 19}" in capsys.readouterr().err


def test_clustering_plan_bounds_k_by_distinct_rows():
    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(12)],
                             "orders": [1, 2, 3, 4] * 3, "total_spend": [10.0, 20.0, 30.0, 40.0] * 3})
    kmeans, dbscan = plan_clustering(features, SETTINGS)
    assert (kmeans.model, kmeans.status, dict(kmeans.params)) == ("kmeans", "reduced", {"k_min": 2, "k_max": 3})
    assert kmeans.reason == "k_max reduced from 8 to 3: 12 customers, 4 distinct feature rows"
    assert (dbscan.model, dbscan.status) == ("dbscan", "fitted")
    fixed = plan_clustering(features, {**SETTINGS, "cluster_k": 5, "cluster_methods": ["kmeans"]})
    assert [(d.status, d.params["k"]) for d in fixed] == [("reduced", 4)]
    same = features.assign(orders=1, total_spend=1.0)
    assert plan_clustering(same, {**SETTINGS, "cluster_methods": ["kmeans"]})[0].skipped
    few = plan_clustering(features.head(9), SETTINGS)
    assert [d.reason for d in few] == ["9 customers, fewer than the 10 clustering needs"] * 2
    dense = plan_clustering(features, {**SETTINGS, "cluster_dbscan_min_samples": 20})[1]
    assert dense.skipped and dense.reason == "12 customers, fewer than cluster_dbscan_min_samples=20"


def test_clv_and_backtest_decisions_read_the_step_outputs():
    params = pd.DataFrame({"model": ["bg_nbd"] * 2 + ["gamma_gamma"], "parameter": ["r", "a", None],
                           "n_customers": [7, 7, 0], "converged": [False, False, False],
                           "note": [None, None, "Gamma-Gamma cannot be fitted: no repeat buyer"]})
    bg, gg = clv_decisions(params)
    assert (bg.model, bg.status, bg.rows_available) == ("bg_nbd", "fitted", 7) and "convergence" in bg.reason
    assert (gg.status, gg.reason) == ("skipped", "Gamma-Gamma cannot be fitted: no repeat buyer")

    cutoffs = pd.to_datetime(["2024-01-01", "2024-04-01"])
    metrics = pd.DataFrame({"cutoff_date": list(cutoffs) * 2, "method": ["rfm_segments"] * 2 + ["kmeans_tiers"] * 2,
                            "customers": [5, 6, 5, 6], "predicted_high": pd.array([1, 2, None, 2], dtype="Int64"),
                            "note": [None, None, "K-Means not run: too few rows", None]})
    rfm, km = backtest_decisions(metrics)
    assert (rfm.model, rfm.status, rfm.reason, rfm.rows_available) == ("rfm_segments", "fitted", None, 11)
    assert (km.status, km.reason) == ("reduced", "ran on 1 of 2 cutoffs (2024-01-01: K-Means not run: too few rows)")
    none = backtest_decisions(metrics.iloc[:0])
    assert {d.status for d in none} == {"skipped"} and len(none) == 5


def test_step_outputs_share_one_run_info_string_per_table():
    """run_info is the same JSON on every row: the steps hand DuckDB an object
    column of references to one string, not a copy of the text per row (a
    string column of a few KB x 1,000,000 rows is gigabytes); the values and
    the index alignment are unchanged."""
    frame = churn_input(40, 12, {"none": 20, "churn": 6, "upgrade": 4, "downgrade": 4})
    for out in (churn_step(frame, SETTINGS), tier_change_step(frame, SETTINGS)):
        assert len(out) == 10 and out["run_info"].dtype == object
        assert len({id(v) for v in out["run_info"]}) == 1
        assert out["run_info"].notna().all() and out["run_info"].iloc[0].startswith("{")
