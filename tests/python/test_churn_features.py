"""Churn, retention and customer-feature marts on generated demo data, checked
against independent pandas computations from the input files:
customer_features, cohort_retention (cohort sizes, revenue tie-out),
tier_movements (the MRR bridge), churn_by_segment (consistent with customer_clv)
and the clv_source switch of customer_clv."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dbt_harness import run_dbt

AS_OF = pd.Timestamp("2024-10-31")
AS_OF_END = AS_OF + pd.Timedelta(days=1)
# as_of_date through dataset_settings, not as a top-level --vars value: setting()
# gives the command line precedence over the vars a dbt unit test overrides
SETTINGS = {"dataset_settings": {"files": {"as_of_date": str(AS_OF.date())}}}
MODELS = ("+customer_features +customer_clv +clv_segment_cutoffs +cohort_retention "
          "+tier_movements +churn_by_segment +demographic_segment_profile")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from segkit.generate import generate, write

    out = tmp_path_factory.mktemp("churn_demo")
    write(generate(1200, seed=11), out, "csv")
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_dir):
    result = run_dbt(tmp_path_factory.mktemp("churn_build"),
                     vars={"dataset": "files", "input_dir": str(demo_dir), **SETTINGS},
                     extra=["--select", MODELS, "--indirect-selection", "cautious"])
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def inputs(demo_dir):
    read = lambda name, dates: pd.read_csv(demo_dir / f"{name}.csv", parse_dates=dates)  # noqa: E731
    return {
        "customers": read("customers", ["signed_up_at"]),
        "transactions": read("transactions", ["transacted_at"]),
        "events": read("events", ["event_at"]),
        "subscriptions": read("subscriptions", ["started_at", "ended_at"]),
    }


def _frame(result, sql: str, index: str) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(result.db_path), read_only=True) as con:
        return con.execute(sql).df().set_index(index).sort_index()


def test_customer_features_match_pandas(demo, inputs):
    got = _frame(demo, "select * from customer_features", "customer_id")
    customers = inputs["customers"].set_index("customer_id").sort_index()
    # the customers known at the as-of date: signed up by its end (or no date)
    customers = customers[customers.signed_up_at.isna() | (customers.signed_up_at < AS_OF_END)]
    assert 0 < len(customers) < len(inputs["customers"])
    assert list(got.index) == list(customers.index)

    tx = inputs["transactions"].query("transacted_at < @AS_OF_END")
    purchases = tx[tx.amount >= 0]
    expected = pd.DataFrame(index=customers.index)
    expected["orders"] = purchases.groupby("customer_id").size()
    expected["total_spend"] = tx.groupby("customer_id").amount.sum()
    expected = expected.fillna({"orders": 0, "total_spend": 0.0})
    last = purchases.groupby("customer_id").transacted_at.max()
    expected["days_since_last_purchase"] = (AS_OF - last.dt.normalize()).dt.days

    ev = inputs["events"].query("event_at < @AS_OF_END")
    by = ev.groupby("customer_id")
    expected["events"] = by.size()
    expected["active_days"] = by.event_at.apply(lambda s: s.dt.date.nunique())
    expected["watch_minutes"] = ev[ev.event_name == "video_watched"].groupby("customer_id").value.sum()
    expected["quiz_avg"] = ev[ev.event_name == "quiz_submitted"].groupby("customer_id").value.mean()
    enrolled = ev[ev.event_name == "enrolled_in_course"].groupby("customer_id").object_id.nunique()
    completed = ev[ev.event_name == "completed_course"].groupby("customer_id").object_id.nunique()
    expected["completion_rate"] = np.minimum(completed.reindex(enrolled.index, fill_value=0) / enrolled, 1.0)
    expected = expected.fillna({"events": 0, "active_days": 0, "watch_minutes": 0.0})

    for column in ["orders", "total_spend", "days_since_last_purchase", "events", "active_days",
                   "watch_minutes", "quiz_avg", "completion_rate"]:
        pd.testing.assert_series_equal(got[column].astype(float), expected[column].astype(float),
                                       check_names=False, atol=1e-6, obj=column)


def test_cohort_sizes_and_revenue_tie_out(demo, inputs):
    cohorts = _frame(demo, "select * from cohort_retention where months_since_first = 0", "cohort_month")
    assert (cohorts.active_customers == cohorts.cohort_customers).all()
    assert (cohorts.retention_rate == 1.0).all()

    tx = inputs["transactions"].query("transacted_at < @AS_OF_END and amount >= 0")
    subs = inputs["subscriptions"].query("started_at < @AS_OF_END")
    first = pd.concat([
        tx.groupby("customer_id").transacted_at.min(),
        subs.groupby("customer_id").started_at.min(),
    ]).groupby(level=0).min().dt.to_period("M").dt.to_timestamp()
    expected = first.value_counts().sort_index()
    assert dict(zip(pd.to_datetime(cohorts.index), cohorts.cohort_customers)) == dict(expected)

    total = demo.scalar("select sum(total_revenue) from cohort_retention")
    value = demo.scalar("select sum(coalesce(total_spend, 0) + coalesce(subscription_revenue, 0)) "
                        "from intermediate.int_customer_value_features")
    assert total == value
    # every cohort runs to the as-of month
    assert demo.scalar("select count(distinct cohort_month) from cohort_retention "
                       "where activity_month = date '2024-10-01'") == len(cohorts)


def test_tier_movements_mrr_bridge(demo, inputs):
    subs = inputs["subscriptions"].query("started_at < @AS_OF_END").copy()
    subs.loc[subs.ended_at >= AS_OF_END, "ended_at"] = pd.NaT
    months = pd.date_range("2023-01-01", "2024-10-01", freq="MS")

    def mrr_before(month):  # in force at the end of the previous month
        live = (subs.started_at < month) & (subs.ended_at.isna() | (subs.ended_at >= month))
        return subs.loc[live, "monthly_amount"].sum()

    moves = _frame(demo, "select movement_month, sum(mrr_change) as change from tier_movements group by 1",
                   "movement_month")
    change = moves.change.astype(float).reindex(pd.to_datetime(moves.index)).reindex(months, fill_value=0.0)
    for month, following in itertools.pairwise(months):
        assert mrr_before(following) == pytest.approx(mrr_before(month) + change[month], abs=1e-6), month

    counts = dict(demo.query("select movement_type, sum(movements) from tier_movements group by 1"))
    assert counts["new"] == subs.customer_id.nunique()
    assert counts["upgrade"] == (subs.sort_values("started_at").groupby("customer_id").end_reason.shift()
                                 == "upgrade").sum()
    retained = demo.scalar("select sum(mrr_before) from tier_movements where movement_type = 'retained' "
                           "and movement_month = date '2024-06-01'")
    assert retained <= mrr_before(pd.Timestamp("2024-06-01"))


def test_churn_by_segment_agrees_with_customer_clv(demo):
    scored = dict(demo.query("select clv_segment, count(*) from customer_clv group by 1"))
    segments = {r[0]: r[1:] for r in demo.query(
        "select dimension_value, customers, active_customers from churn_by_segment "
        "where dimension_name = 'clv_segment'")}
    # customer_clv scores the active customers; churn_by_segment places everyone
    # with a history by the same cut-offs, so its active customers are exactly those
    assert {k: v[1] for k, v in segments.items() if v[1]} == scored
    history = demo.scalar("select count(*) from intermediate.int_customer_value_features where has_value_history")
    assert sum(v[0] for v in segments.values()) == history
    dims = {r[0] for r in demo.query("select distinct dimension_name from churn_by_segment")}
    assert dims == {"clv_segment", "plan_level", "occupation", "age_group", "referral_channel", "country", "region"}


def test_clv_source_transactions_scores_buyers_on_net_spend(tmp_path, demo_dir):
    settings = {"files": {**SETTINGS["dataset_settings"]["files"],
                          "clv_source": "transactions", "clv_population": "all"}}
    result = run_dbt(tmp_path, vars={"dataset": "files", "input_dir": str(demo_dir), "dataset_settings": settings},
                     extra=["--select", "+customer_clv", "--indirect-selection", "cautious"])
    assert result.returncode == 0, result.output[-4000:]
    assert result.scalar("select count(distinct clv_source) || ':' || min(clv_source) from customer_clv") == "1:transactions"
    assert result.scalar("select count(*) from customer_clv where clv <> total_spend") == 0
    assert result.scalar("select count(*) from customer_clv") == result.scalar(
        "select count(*) from intermediate.int_customer_value_features where orders > 0")
