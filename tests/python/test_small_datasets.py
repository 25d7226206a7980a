"""Issue 8 case 9: a small honest dataset builds. A model the data cannot support
is reduced (fewer CV folds, rare classes left out, a smaller k) or skipped (an
empty, typed output), the decision is in model_fit_log and on stderr, and the
build passes with zero failed tests."""
from __future__ import annotations

import pytest

from dbt_harness import run_dbt
from segkit.generate import generate, write

pytestmark = pytest.mark.slow  # two full builds of generated data

# rows a fitted (or reduced) model must have written, per (step, model)
OUTPUT_ROWS = {
    ("customer_churn_risk", "churn"): "select count(*) from customer_churn_risk",
    ("customer_tier_change_risk", "tier_change"): "select count(*) from customer_tier_change_risk",
    ("customer_clusters", "kmeans"): "select count(*) from customer_clusters where method = 'kmeans'",
    ("customer_clusters", "dbscan"): "select count(*) from customer_clusters where method = 'dbscan'",
    ("clv_forecast_parameters", "bg_nbd"):
        "select count(value) from clv_forecast_parameters where model = 'bg_nbd'",
    ("clv_forecast_parameters", "gamma_gamma"):
        "select count(value) from clv_forecast_parameters where model = 'gamma_gamma'",
}


def _build(tmp_path_factory, customers: int):
    root = tmp_path_factory.mktemp(f"small{customers}")
    write(generate(customers, seed=42), root / "data")
    result = run_dbt(root, vars={"dataset": "files", "input_dir": str(root / "data")})
    assert result.returncode == 0, result.output[-6000:]
    assert " ERROR=0 " in result.output and " SKIP=0 " in result.output  # zero failed or skipped nodes
    log = {(r[0], r[1]): r[2:] for r in result.query(
        "select step, model, status, reason, rows_available, parameters from model_fit_log")}
    return result, log


@pytest.fixture(scope="module")
def build300(tmp_path_factory):
    return _build(tmp_path_factory, 300)


@pytest.fixture(scope="module")
def build8(tmp_path_factory):
    return _build(tmp_path_factory, 8)


def _check_outputs(result, log):
    """Every model that was fitted or reduced wrote rows; every skipped one none."""
    for key, sql in OUTPUT_ROWS.items():
        status = log[key][0]
        rows = result.scalar(sql)
        assert (rows > 0) == (status != "skipped"), (key, status, rows)
    for (step, model), (status, *_rest) in log.items():
        if step == "segment_backtest" and status != "skipped":
            assert result.scalar(f"select count(predicted_high) from segment_backtest where method = '{model}'") > 0


def test_300_customers_reduce_the_tier_change_folds(build300):
    result, log = build300
    status, reason, rows, params = log[("customer_tier_change_risk", "tier_change")]
    assert status == "reduced" and "cv_folds reduced from 5 to" in reason and rows > 0
    assert '"cv_folds": 3' in params
    assert "tier_change: reduced (cv_folds reduced from 5" in result.output  # logged on stderr
    assert log[("customer_churn_risk", "churn")][0] == "fitted"
    assert {s for s, *_ in log.values()} <= {"fitted", "reduced"}
    _check_outputs(result, log)
    # the reduced model's output is a full prediction table
    assert result.scalar("select count(*) from customer_tier_change_risk where p_upgrade + p_downgrade + p_churn + p_stay"
                         " not between 0.999 and 1.001") == 0
    assert result.scalar("select count(*) from prediction_metrics where model_name = 'tier_change'") > 0


def test_8_customers_skip_what_cannot_be_fitted(build8):
    result, log = build8
    assert log[("customer_churn_risk", "churn")][:2] == (
        "skipped", "4 labelled rows {'churned': 1, 'retained': 3}: need two classes with at least 2 rows each")
    assert log[("customer_tier_change_risk", "tier_change")][0] == "skipped"
    for method in ("kmeans", "dbscan"):
        assert log[("customer_clusters", method)][:2] == ("skipped", "8 customers, fewer than the 10 clustering needs")
    assert "churn: skipped (4 labelled rows" in result.output and "kmeans: skipped (8 customers" in result.output
    for key, (status, reason, _rows, _params) in log.items():
        assert status == "fitted" or reason, key
    _check_outputs(result, log)
    # what could be fitted was: BTYD on 7 buyers, the per-customer forecast, RFM
    assert log[("clv_forecast_parameters", "bg_nbd")][0] == "fitted"
    assert result.scalar("select count(predicted_clv) from customer_clv_forecast") > 0
    assert result.scalar("select count(*) from customer_rfm") == 8
    # skipped models leave empty tables of the documented types
    types = dict(result.query("select column_name, data_type from information_schema.columns "
                              "where table_name = 'customer_churn_risk'"))
    assert types == {"customer_id": "VARCHAR", "churn_probability": "DOUBLE", "risk_band": "VARCHAR",
                     "is_scored_out_of_fold": "BOOLEAN", "run_info": "VARCHAR"}
    assert result.scalar("select count(*) from prediction_metrics") == 0
