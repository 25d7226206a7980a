"""Definitions that must be exact (issue 9): the as-of cut-off, "open at the
as-of date", "active", and exact decimal clv_score, on the bundled demo data.

Two builds of the demo dataset, both shared by the session (conftest.py): the
default one (as-of date the latest date in the data, 2024-12-31) and one with a past
as_of_date (demo_past_build). Each figure is recomputed here from the
intermediate layer with the stated rule, so a second, drifted copy of a definition shows up as a mismatch."""
from __future__ import annotations

import pytest

PAST_AS_OF = "2024-06-30"  # conftest.DEMO_PAST_AS_OF



@pytest.fixture(scope="module")
def today(demo_build):
    return demo_build  # the session's default build of demo (conftest.py)


@pytest.fixture(scope="module")
def past(demo_past_build):
    # the session's full build of demo at 2024-06-30 (conftest.py; it holds
    # +customer_clv +customer_features +churn_by_segment)
    assert demo_past_build.scalar("select max(resolved_as_of_date) from run_settings") == PAST_AS_OF
    return demo_past_build


# -- 3.4: open at the as-of date = no end, or an end after the as-of *day* ------

def test_subscription_ended_on_the_as_of_day_is_not_active(today):
    # S0002376 ended by downgrade at 23:13:45 on the as-of day (2024-12-31)
    ended_at, reason = today.query("select ended_at, end_reason from intermediate.int_subscriptions "
                                   "where subscription_id = 'S0002376'")[0]
    assert (str(ended_at), reason) == ("2024-12-31 23:13:45", "downgrade")
    subscriptions, customers = today.query(
        "select subscriptions, customers from subscription_summary "
        "where dimension_name = 'status' and dimension_value = 'active'")[0]
    # recomputed: not cancelled, and no end or an end from 2025-01-01 00:00 on
    expected = today.scalar("""
        select count(*) from intermediate.int_subscriptions
        where not coalesce(is_churned, false)
          and (ended_at is null or ended_at >= timestamp '2025-01-01')""")
    assert subscriptions == expected == 733
    # nobody holds two open subscriptions at once
    assert customers == subscriptions


# -- 3.6: nothing may see a subscription that starts after the as-of date -------

def test_past_as_of_date_ignores_later_subscriptions(past):
    as_of_end = f"(date '{PAST_AS_OF}' + interval 1 day)"
    known = f"(select * from intermediate.int_subscriptions where started_at < {as_of_end})"
    # customers whose every subscription starts after the as-of date (275 on the demo data)
    later_only = past.scalar(f"""
        select count(*) from (select customer_id from intermediate.int_subscriptions
                              group by 1 having min(started_at) >= {as_of_end})""")
    assert later_only > 0
    # the latest plan known at the as-of date, and whether it is open then
    expected = f"""
        select customer_id,
               arg_max(plan_level, started_at) as plan_level,
               arg_max(ended_at is null or ended_at >= {as_of_end}, started_at) as is_open
        from {known} group by customer_id"""
    features = past.query(f"""
        select count(*) filter (where f.has_subscription is distinct from (e.customer_id is not null)),
               count(*) filter (where f.plan_level is distinct from e.plan_level),
               count(*) filter (where f.has_active_subscription is distinct from coalesce(e.is_open, false)),
               count(*) filter (where e.customer_id is null and f.subscription_revenue is not null)
        from intermediate.int_customer_value_features as f
        left join ({expected}) as e using (customer_id)""")[0]
    assert features == (0, 0, 0, 0)
    # the marts: a customer without a known subscription has no plan, tenure or subscription value
    for mart in ("customer_clv", "customer_features"):
        leaked = past.scalar(f"""
            select count(*) from {mart}
            where customer_id not in (select customer_id from {known})
              and (plan_level is not null or monthly_amount is not null
                   or tenure_months is not null or subscription_revenue is not null)""")
        assert leaked == 0, mart
    # churn_by_segment's plan_level rows count exactly the customers subscribed by then
    by_plan = dict(past.query("select dimension_value, customers from churn_by_segment "
                              "where dimension_name = 'plan_level'"))
    expected_by_plan = dict(past.query(f"""
        select coalesce(e.plan_level, '(no subscription)'), count(*)
        from intermediate.int_customer_value_features as f
        left join ({expected}) as e using (customer_id)
        where f.has_value_history group by 1"""))
    assert by_plan == expected_by_plan
    # active in customer_clv (clv_population active) = open subscription then or a recent purchase
    assert past.scalar(f"""
        select count(*) from customer_clv as c left join ({expected}) as e using (customer_id)
        where c.subscription_revenue is not null and e.customer_id is null""") == 0


# -- section 2: one "active", the same set in customer_clv and churn_model_input -

def test_active_sets_of_clv_and_churn_model_coincide(today):
    # clv_population is active (the project default): customer_clv holds the active customers
    assert today.scalar("select bool_and(is_active_customer) from customer_clv")
    clv = {r[0] for r in today.query("select customer_id from customer_clv")}
    scored = {r[0] for r in today.query("select customer_id from churn_model_input where split = 'score'")}
    assert clv == scored, (sorted(clv - scored)[:10], sorted(scored - clv)[:10])
    # the inactivity window is 90 days ending with the as-of day, both inclusive:
    # a purchase 89 days before the as-of date is recent, 90 days before is not
    for customer_id in ("C000856", "C002148", "C002805"):
        days, open_sub = today.query(f"""
            select days_since_last_purchase, has_active_subscription
            from intermediate.int_customer_value_features where customer_id = '{customer_id}'""")[0]
        assert (days, open_sub) == (90, False)
        assert customer_id not in clv
    assert today.scalar("""
        select count(*) from intermediate.int_customer_value_features
        where is_active_customer is distinct from
              (has_active_subscription or coalesce(days_since_last_purchase < 90, false))""") == 0


# 3.5 (clv_score in exact decimal arithmetic, C000860 = 40.50) is pinned in
# test_clv_definitions.py::test_raw_scaling_keeps_the_exact_raw_formula

