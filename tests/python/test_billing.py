"""The subscription billing rule, cancellation measures and determinism (issue 9
section 3 items 2, 8 and 9), on the bundled demo data.

The billing rule (docs/DESIGN.md, macros/billing.sql): a subscription period
is billed one monthly_amount per billing cycle, at its start and at every monthly
anniversary of its start (clamped to the month's end) before it ends, up to the
end of the as-of day; the k-th bill falls in the k-th month after the start
month. Every expected figure here is
recomputed with pandas from intermediate.int_subscriptions (the canonical input
the marts read) with that rule, never read back from the code under test."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from dbt_harness import partial_build

PAST_AS_OF = "2024-06-30"



@pytest.fixture(scope="module")
def today(demo_build):
    return demo_build  # the session's default build of demo (conftest.py)


@pytest.fixture(scope="module")
def past(demo_past_build):
    # the session's full build of demo at 2024-06-30 (conftest.py): it holds the models read
    # here (+cohort_retention +subscription_summary +int_customer_value_features
    # +int_customer_subscription_status)
    assert demo_past_build.scalar("select max(resolved_as_of_date) from run_settings") == PAST_AS_OF
    return demo_past_build


def _periods(result) -> pd.DataFrame:
    rows = result.query("select subscription_id, customer_id, monthly_amount, started_at, ended_at, "
                        "end_reason, is_churned from intermediate.int_subscriptions")
    return pd.DataFrame(rows, columns=["subscription_id", "customer_id", "monthly_amount", "started_at",
                                       "ended_at", "end_reason", "is_churned"])


def _billed_months(periods: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per period and bill (the month it falls in), by the stated rule."""
    as_of_end = as_of + pd.Timedelta(days=1)
    known = periods[periods.started_at < as_of_end].copy()
    # billing stops at the end, or at the end of the as-of day while open or ending later
    stop = known.ended_at.where(known.ended_at.notna() & (known.ended_at < as_of_end), as_of_end)
    rows = []
    for period, start, end in zip(known.itertuples(), known.started_at, stop):
        k = 0
        while (bill := start + pd.DateOffset(months=k)) < end:
            rows.append((period.subscription_id, period.customer_id, bill.to_period("M").to_timestamp(),
                         period.monthly_amount))
            k += 1
    return pd.DataFrame(rows, columns=["subscription_id", "customer_id", "month", "amount"])


def _as_of(result) -> pd.Timestamp:
    # the default as-of date: the latest date in the demo data (test_definitions.py)
    return pd.Timestamp("2024-12-31")


# -- item 2: the as-of month and same-month periods are billed ---------------------

def test_as_of_month_bills_every_open_subscription(today):
    periods = _periods(today)
    as_of = _as_of(today)
    assert as_of == pd.Timestamp("2024-12-31")
    open_now = periods[periods.ended_at.isna() | (periods.ended_at >= as_of + pd.Timedelta(days=1))]
    assert len(open_now) == 733 and sum(open_now.monthly_amount) == Decimal("15739.44")
    billed = _billed_months(periods, as_of)
    expected = billed.groupby("month").amount.sum()
    got = dict(today.query("select activity_month, sum(subscription_revenue) from cohort_retention group by 1"))
    got = {pd.Timestamp(k): v for k, v in got.items() if v != 0}
    assert got == {k: v for k, v in expected.items()}
    # December 2024 (the as-of month) bills at least the 733 open periods
    assert got[pd.Timestamp("2024-12-01")] >= Decimal("15739.44")


def test_same_month_periods_bill_one_month_and_totals_agree(today):
    periods = _periods(today)
    as_of = _as_of(today)
    billed = _billed_months(periods, as_of)
    months = billed.groupby("subscription_id").size()
    ended_in_month = periods[periods.ended_at.notna()
                             & (periods.started_at.dt.to_period("M") == periods.ended_at.dt.to_period("M"))]
    assert len(ended_in_month) == 140
    assert (months[ended_in_month.subscription_id] == 1).all()
    assert months.min() == 1 and len(months) == 2490

    total = sum(billed.amount)
    assert total == Decimal("293936.89")
    assert today.scalar("select sum(subscription_revenue) from cohort_retention") == total
    assert today.scalar("select subscription_revenue from subscription_summary where dimension_name = 'all'") == total
    # per customer: revenue and months (tenure_months) by the same rule
    per_customer = billed.groupby("customer_id").agg(revenue=("amount", "sum"), months=("amount", "size"))
    got = {c: (r, m) for c, r, m in today.query(
        "select f.customer_id, f.subscription_revenue, s.tenure_months "
        "from intermediate.int_customer_value_features as f "
        "inner join intermediate.int_customer_subscription_status as s using (customer_id)")}
    assert got == {c: (row.revenue, row.months) for c, row in per_customer.iterrows()}


# -- item 8: what each cancellation measure counts ------------------------------------

def _expected_summary(periods: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    as_of_end = as_of + pd.Timedelta(days=1)
    known = periods[periods.started_at < as_of_end]
    ended = known.ended_at.notna() & (known.ended_at < as_of_end)
    cancelled = ended & (known.end_reason == "cancel")
    return {
        "subscriptions": len(known),
        "ended_subscriptions": int(ended.sum()),
        "cancelled_subscriptions": int(cancelled.sum()),
        "cancelled_customers": known[cancelled].customer_id.nunique(),
        "customers": known.customer_id.nunique(),
    }


def _summary(result) -> dict:
    names = ["subscriptions", "customers", "ended_subscriptions", "ended_share", "cancelled_subscriptions",
             "cancellation_rate", "cancelled_customers", "customers_cancelled_share"]
    row = result.query(f"select {', '.join(names)} from subscription_summary where dimension_name = 'all'")[0]
    return dict(zip(names, row))


def test_cancellation_measures_name_what_they_count(today):
    expected = _expected_summary(_periods(today), _as_of(today))
    got = _summary(today)
    assert {k: got[k] for k in expected} == expected
    assert expected["ended_subscriptions"] == 1757 and expected["cancelled_subscriptions"] == 1310
    assert got["ended_share"] == expected["ended_subscriptions"] / expected["subscriptions"]
    assert got["cancellation_rate"] == expected["cancelled_subscriptions"] / expected["subscriptions"]
    assert got["customers_cancelled_share"] == expected["cancelled_customers"] / expected["customers"]


def test_no_cancellation_after_a_past_as_of_date_is_visible(past):
    as_of = pd.Timestamp(PAST_AS_OF)
    periods = _periods(past)
    expected = _expected_summary(periods, as_of)
    got = _summary(past)
    assert {k: got[k] for k in expected} == expected
    # periods started by then whose cancellation came later are not cancelled then
    later = periods[(periods.started_at < as_of + pd.Timedelta(days=1)) & periods.is_churned
                    & (periods.ended_at >= as_of + pd.Timedelta(days=1))]
    assert len(later) > 0
    status = dict(past.query("select dimension_value, subscriptions from subscription_summary "
                             "where dimension_name = 'status'"))
    assert status["cancelled"] == expected["cancelled_subscriptions"]
    # the past as-of month bills the periods in force in it, nothing after it
    billed = _billed_months(periods, as_of)
    assert past.scalar("select subscription_revenue from subscription_summary where dimension_name = 'all'") == sum(billed.amount)
    assert past.scalar("select max(activity_month) from cohort_retention") == as_of.replace(day=1).date()


# -- item 9: tier_segment_profile is byte-identical across builds ----------------------

def test_tier_segment_profile_is_deterministic(today, tmp_path_factory):
    """Same input, same bytes: a second build, and the model's compiled SQL run
    again over its inputs stored in another row order (which changes the order
    a float sum meets the rows), give exactly the built rows. The first build is
    the session's default build of demo (`today`), the second a partial build of
    +tier_segment_profile of its own: two separate dbt runs of the same input."""
    import shutil

    import duckdb

    workdir = tmp_path_factory.mktemp("tier_profile")
    own = partial_build(workdir, "+tier_segment_profile", {})
    assert own.db_path == own.build_path and own.db_path != today.db_path
    query = "select * from tier_segment_profile order by plan_level, rfm_segment"
    first, second = ([tuple(repr(v) for v in row) for row in run.query(query)] for run in (today, own))
    assert len(first) > 0
    assert first == second

    compiled = next((workdir / "target" / "compiled").rglob("tier_segment_profile.sql")).read_text()
    reordered = workdir / "reordered" / own.db_path.name
    reordered.parent.mkdir()
    shutil.copy(own.db_path, reordered)
    with duckdb.connect(str(reordered)) as con:
        for table in ["customer_features", "customer_clv_forecast", "customer_churn_risk",
                      "customer_tier_change_risk", "customer_rfm"]:
            con.execute(f"create or replace table main.{table} as "
                        f"select * from main.{table} order by md5(customer_id || 'reorder')")
        rerun = [tuple(repr(v) for v in row)
                 for row in con.execute(f"select * from ({compiled}) order by plan_level, rfm_segment").fetchall()]
    assert rerun == first
