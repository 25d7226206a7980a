"""The telecom CLV study (docs/STUDIES.md section 1) built end to end into a temporary
database; every published figure is checked against the marts."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def nexa(dataset_build):
    return dataset_build("nexa_sat")  # the session's default build of nexa_sat (conftest.py)


def test_users_and_revenue(nexa):
    rows = dict((r[0], r[1:]) for r in nexa.query(
        "select plan_level, customers, active_customers, monthly_recurring_revenue, round(avg_tenure_months, 2) "
        "from plan_level_summary"))
    assert sum(r[0] for r in rows.values()) == 7043
    assert sum(r[1] for r in rows.values()) == 4272
    assert rows["Premium"][0] == 3580 and rows["Basic"][0] == 3463
    assert str(sum(r[2] for r in rows.values())) == "1054953.70"
    assert str(rows["Basic"][2]) == "426622.00"
    assert str(rows["Premium"][2]) == "628331.70"
    assert float(rows["Premium"][3]) == 32.16 and float(rows["Basic"][3]) == 16.61


def test_churn_by_plan(nexa):
    rows = {(r[0], r[1]): (r[2], r[3]) for r in nexa.query(
        "select plan_level, plan_type, customers, churned_customers from churn_by_plan")}
    assert rows == {
        ("Basic", "Prepaid"): (1108, 623),
        ("Basic", "Postpaid"): (2355, 1583),
        ("Premium", "Prepaid"): (1832, 220),
        ("Premium", "Postpaid"): (1748, 345),
    }


def test_clv_segments_and_cutoffs(nexa):
    sizes = dict(nexa.query("select clv_segment, count(*) from customer_clv group by 1"))
    assert sizes == {"High Value": 641, "Moderate Value": 1495, "Low Value": 1068, "Churn Risk": 1068}
    cutoffs = dict(nexa.query("select percentile, round(clv_score_cutoff, 3) from clv_segment_cutoffs"))
    assert cutoffs == {0.85: 144.148, 0.5: 87.945, 0.25: 70.465}
    # clv is bill x tenure, on existing (not churned) customers only
    assert nexa.scalar("select count(*) from customer_clv where clv <> monthly_amount * tenure_months") == 0
    assert nexa.scalar("select typeof(clv_score) from customer_clv limit 1") == "DECIMAL(18,2)"


def test_upsell_table(nexa):
    rows = {r[0]: r[1:] for r in nexa.query(
        "select plan_level, customers, round(avg_monthly_amount_int, 2), round(avg_tenure_months, 2) from upsell_plan_summary")}
    assert rows["Premium"] == (1917, 200.97, 35.17)
    assert rows["Basic"] == (219, 241.42, 17.18)


def test_campaign_target_lists(nexa):
    sizes = dict(nexa.query("select campaign, count(*) from campaign_targets group by 1"))
    assert sizes == {"senior_tech_support": 115, "churn_risk_premium_discount": 753,
                     "multiple_lines_offer": 376, "premium_upgrade": 185}


def test_data_quality_report_is_clean(nexa):
    assert nexa.scalar("select count(*) from data_quality_report") == 14
    assert nexa.scalar("select sum(null_values) from data_quality_report") == 0
    assert nexa.scalar("select duplicate_keys from data_quality_report where is_key") == 0
    assert nexa.query("select rows_in, rows_used, rows_rejected from input_reconciliation") == [(7043, 7043, 0)]


def test_segment_profile(nexa):
    rows = {r[0]: r[1:] for r in nexa.query(
        "select clv_segment, customers, historical_value from clv_segment_profile")}
    assert sum(r[0] for r in rows.values()) == 4272
    total = nexa.scalar("select sum(monthly_amount * tenure_months) from customer_clv")
    assert sum(r[1] for r in rows.values()) == total
