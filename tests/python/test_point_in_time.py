"""One point-in-time definition (issue 9 §2): the features churn_model_input and
backtest_cutoff_features compute at an earlier cutoff are the features the warehouse
computes when it is built with that cutoff as its as-of date, and the RFM
segment a backtest cutoff assigns is the one customer_rfm assigns then.

Two partial demo builds (SQL only): one at the default as-of date (2024-12-31,
whose backtest cutoffs include 2024-04-02 and whose churn training cutoff is
as-of minus churn_horizon_days), one with as_of_date = 2024-04-02. A few
figures are also recomputed here from the intermediate layer with the stated
rules (refunds are not purchases; nothing after the cutoff day counts)."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml

from dbt_harness import PROJECT_DIR, partial_build

CUTOFF = "2024-04-02"
SQL_ONLY = ["--exclude", "config.materialized:python"]
FEATURES = ["orders", "total_spend", "avg_order_value", "days_since_last_purchase", "tenure_days", "events",
            "active_days", "watch_minutes", "sessions", "avg_session_minutes", "support_contacts", "quiz_avg",
            "nps_avg", "completion_rate"]


def _build(workdir, select, vars):
    return partial_build(workdir, select, vars, extra=SQL_ONLY)


@pytest.fixture(scope="module")
def today(demo_build):
    return demo_build  # the session's default build of demo (conftest.py)


@pytest.fixture(scope="module")
def at_cutoff(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("pit_cutoff"), "+customer_rfm +customer_features", {"as_of_date": CUTOFF})


def _rows(result, sql):
    return {r[0]: r[1:] for r in result.query(sql)}


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def test_backtest_cutoff_features_are_the_as_of_features(today, at_cutoff):
    cols = ", ".join(FEATURES)
    snap = _rows(today, f"select customer_id, {cols}, rfm_segment, frequency, recency, T, monetary_value "
                        f"from backtest_cutoff_features where cutoff_date = date '{CUTOFF}'")
    ref = _rows(at_cutoff, f"""
        select f.customer_id, {', '.join('f.' + c for c in FEATURES)},
               r.rfm_segment, r.frequency, r.recency, r.T, r.monetary_value
        from intermediate.int_customer_value_features as f join customer_rfm as r using (customer_id)
        where r.frequency is not null""")
    assert len(snap) > 1000
    # the backtest scores the purchasers known at the cutoff: exactly customer_rfm's scored customers
    assert set(snap) == set(ref)
    names = FEATURES + ["rfm_segment", "frequency", "recency", "T", "monetary_value"]
    mismatches = [(cid, name, a, b) for cid in snap for name, a, b in zip(names, snap[cid], ref[cid]) if not _same(a, b)]
    assert mismatches == []


def test_churn_training_cutoff_features_are_the_as_of_features(today, tmp_path_factory):
    horizon = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["churn_horizon_days"]
    as_of = today.scalar("select max(cutoff_date) from backtest_cutoff_features") + dt.timedelta(days=91)
    assert as_of == dt.date(2024, 12, 31)
    cutoff = as_of - dt.timedelta(days=horizon)
    past = _build(tmp_path_factory.mktemp("pit_churn"), "+customer_features", {"as_of_date": str(cutoff)})
    cols = ["orders", "total_spend", "days_since_last_purchase", "tenure_days", "events", "completion_rate"]
    train = _rows(today, f"select customer_id, {', '.join(cols)} from churn_model_input where split = 'train'")
    ref = _rows(past, f"select customer_id, {', '.join(cols)} from intermediate.int_customer_value_features "
                      "where is_active_customer")
    # the training population is the customers active at the cutoff, with the features of that day
    assert set(train) == set(ref) and len(train) > 500
    assert [(c, a, b) for c in train for a, b in zip(train[c], ref[c]) if not _same(a, b)] == []


def test_refunds_are_not_purchases_at_a_cutoff(today):
    # C001804 bought on 2024-03-26 and was refunded on 2024-04-01: at the
    # 2024-04-02 cutoff the last purchase is 7 days back, and the customer is
    # "Promising" as customer_rfm's rules say (the old copy said 1 day, "New")
    days, segment = today.query(f"select days_since_last_purchase, rfm_segment from backtest_cutoff_features "
                                f"where customer_id = 'C001804' and cutoff_date = date '{CUTOFF}'")[0]
    assert (days, segment) == (7, "Promising")
    # every customer, recomputed from int_transactions: last transaction with amount >= 0 by the cutoff day
    expected = dict(today.query(f"""
        select customer_id, date '{CUTOFF}' - cast(max(transacted_at) as date)
        from intermediate.int_transactions
        where amount >= 0 and transacted_at < timestamp '{CUTOFF}' + interval 1 day
        group by customer_id"""))
    got = dict(today.query(f"select customer_id, days_since_last_purchase from backtest_cutoff_features "
                           f"where cutoff_date = date '{CUTOFF}'"))
    assert got == {c: expected[c] for c in got}


def test_nobody_signed_up_after_the_as_of_date_is_in_its_population(at_cutoff):
    later = at_cutoff.scalar(f"select count(*) from intermediate.int_customers "
                             f"where signed_up_at >= timestamp '{CUTOFF}' + interval 1 day")
    assert later > 0
    known = at_cutoff.scalar(f"select count(*) from intermediate.int_customers where signed_up_at is null "
                             f"or signed_up_at < timestamp '{CUTOFF}' + interval 1 day")
    for table in ["customer_rfm", "customer_features", "intermediate.int_customer_value_features"]:
        assert at_cutoff.scalar(f"select count(*) from {table}") == known, table


PAST_AS_OF = "2024-06-30"  # conftest.DEMO_PAST_AS_OF


def test_no_mart_lists_a_customer_who_signs_up_after_the_as_of_date(demo_past_build):
    """Every table of the marts schema with a customer_id, in the full demo build at a
    past as-of date: none holds a customer who signs up after that date (not known yet;
    customer_monthly_matrix listed them all until 29a2370)."""
    later = {r[0] for r in demo_past_build.query(
        f"select customer_id from intermediate.int_customers "
        f"where signed_up_at >= timestamp '{PAST_AS_OF}' + interval 1 day")}
    assert len(later) > 100
    tables = [r[0] for r in demo_past_build.query(
        "select distinct table_name from information_schema.columns "
        "where table_schema = 'main' and column_name = 'customer_id' order by 1")]
    assert "customer_monthly_matrix" in tables and len(tables) > 20
    leaks = {}
    for table in tables:
        ids = {r[0] for r in demo_past_build.query(f'select distinct customer_id from main."{table}"')}
        if ids & later:
            leaks[table] = len(ids & later)
    assert leaks == {}


def test_no_mart_holds_a_date_after_the_as_of_date(demo_past_build):
    """Every DATE and TIMESTAMP column of the marts schema in the demo build at a past
    as-of date ends by the end of that day, except the build's own clock (when a model
    version or a history row was recorded)."""
    build_clock = {("model_versions", "recorded_at"), ("segment_history", "built_at")}
    # the inputs go on for half a year after the as-of date, so a mart that does not cut would show it
    assert demo_past_build.scalar(f"select count(*) from intermediate.int_events "
                                  f"where event_at >= timestamp '{PAST_AS_OF}' + interval 1 day") > 1000
    columns = demo_past_build.query(
        "select table_name, column_name from information_schema.columns where table_schema = 'main' "
        "and (data_type = 'DATE' or data_type like 'TIMESTAMP%') order by 1, 2")
    assert len(columns) > 30
    later = {}
    for table, column in columns:
        if (table, column) in build_clock:
            continue
        n = demo_past_build.scalar(f'select count(*) from main."{table}" '
                                   f"where \"{column}\" >= timestamp '{PAST_AS_OF}' + interval 1 day")
        if n:
            later[f"{table}.{column}"] = n
    assert later == {}
