"""The subscription-tier study (docs/STUDIES.md section 5, LITA data) built end to end:
revenue by region, plan and quarter of start, active vs cancelled, average
duration, cancellations by region; checked against pandas on the raw file."""
from __future__ import annotations

import pandas as pd
import pytest

from dbt_harness import PROJECT_DIR


@pytest.fixture(scope="module")
def lita(dataset_build):
    return dataset_build("lita")  # the session's default build of lita (conftest.py)


@pytest.fixture(scope="module")
def raw():
    df = pd.read_csv(PROJECT_DIR / "seeds" / "lita" / "lita_subscriptions.csv")
    df["start"] = pd.to_datetime(df["SubscriptionStart"], format="%m/%d/%Y")
    df["quarter"] = df["start"].dt.year.astype(str) + "-Q" + df["start"].dt.quarter.astype(str)
    return df


def _dim(lita, name):
    return {r[0]: r[1:] for r in lita.query(
        "select dimension_value, subscriptions, subscription_revenue, cancelled_subscriptions, avg_duration_days "
        f"from subscription_summary where dimension_name = '{name}'")}


def test_all_rows_used(lita):
    assert lita.query("select rows_in, rows_used, rows_rejected from input_reconciliation") == [(33787, 33787, 0)]
    assert lita.scalar("select count(*) from intermediate.int_customers") == 20


@pytest.mark.parametrize("dimension, column",
                         [("region", "Region"), ("plan_level", "SubscriptionType"), ("start_quarter", "quarter")])
def test_revenue_and_cancellations_by_dimension(lita, raw, dimension, column):
    got = _dim(lita, dimension)
    expected = raw.groupby(column).agg(n=("Revenue", "size"), revenue=("Revenue", "sum"),
                                       cancelled=("Canceled", "sum"), duration=("Subscription duration", "mean"))
    assert set(got) == set(expected.index)
    for key, row in expected.iterrows():
        n, revenue, cancelled, duration = got[key]
        assert n == row.n and float(revenue) == row.revenue and cancelled == row.cancelled
        assert duration == pytest.approx(row.duration)


def test_active_vs_cancelled_and_totals(lita, raw):
    status = _dim(lita, "status")
    assert status["cancelled"][0] == 15175 == int(raw["Canceled"].sum())
    assert sum(v[0] for v in status.values()) == 33787
    total = _dim(lita, "all")["all"]
    assert float(total[1]) == raw["Revenue"].sum() == 67540175
    assert total[3] == pytest.approx(raw["Subscription duration"].mean())
