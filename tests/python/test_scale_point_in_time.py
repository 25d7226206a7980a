"""The point-in-time features at scale (issue 11): active days (the distinct days
with an event by the cutoff) are counted in the same pass over the events as the
other event figures, per (segment, customer, calendar year) with a bit per day of
the year, instead of a distinct over every (customer, day) pair and a second scan
of the events. One partial build of the demo dataset; every active_days figure of
int_customer_value_features (the as-of date), churn_model_input (two cutoffs) and
backtest_cutoff_features (three cutoffs) is recomputed here with pandas from
intermediate.int_events by the stated rule: the distinct calendar days of the
customer's events strictly before the first instant after the cutoff day."""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pytest
import yaml

from dbt_harness import PROJECT_DIR, partial_build

MODELS = {"int_customer_value_features": "models/intermediate",
          "churn_model_input": "models/marts/predictions",
          "backtest_cutoff_features": "models/marts/backtest"}

#: the churn_horizon_days default (dbt_project.yml), the demo build's setting
HORIZON = int(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["churn_horizon_days"])


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale_pit")
    result = partial_build(workdir, " ".join(f"+{m}" for m in MODELS))
    return workdir, result


def _expected_active_days(result, table: str, cutoff_sql: str) -> pd.DataFrame:
    with duckdb.connect(str(result.db_path), read_only=True) as con:
        events = con.execute("select customer_id, event_at from intermediate.int_events").df()
        rows = con.execute(f"select customer_id, {cutoff_sql} as cutoff_date, active_days from {table}").df()
    events["day"] = events["event_at"].dt.normalize()
    out = []
    for cutoff, group in rows.groupby("cutoff_date"):
        known = events[events["event_at"] < pd.Timestamp(cutoff) + pd.Timedelta(days=1)]
        days = known.groupby("customer_id")["day"].nunique()
        expected = group["customer_id"].map(days).fillna(0).astype("int64")
        out.append(pd.DataFrame({"customer_id": group["customer_id"], "cutoff_date": cutoff,
                                 "got": group["active_days"].astype("int64"), "expected": expected}))
    return pd.concat(out, ignore_index=True)


@pytest.mark.parametrize("table, cutoff_sql, cutoffs", [
    # the demo's default as-of date: the latest date in the data (test_definitions.py)
    ("intermediate.int_customer_value_features", "date '2024-12-31'", 1),
    # train rows at the as-of date minus churn_horizon_days, score rows at the as-of date
    ("churn_model_input", f"case split when 'score' then date '2024-12-31' "
                          f"else date '2024-12-31' - {HORIZON} end", 2),
    ("backtest_cutoff_features", "cutoff_date", 3),
])
def test_active_days_are_the_distinct_event_days_by_each_cutoff(build, table, cutoff_sql, cutoffs):
    _, result = build
    frame = _expected_active_days(result, table, cutoff_sql)
    assert frame["cutoff_date"].nunique() == cutoffs
    assert (frame["expected"] > 0).sum() > 1000  # the figure is exercised, not all zeros
    bad = frame[frame["got"] != frame["expected"]]
    assert bad.empty, bad.head(10).to_string()


def test_events_are_read_in_one_pass_for_the_event_figures(build):
    """The compiled models read int_events (as `e`) twice: once for the event figures
    and the active days, once for the courses (before issue 11: a third scan, the
    distinct (customer, day) pairs)."""
    workdir, _ = build
    # backtest_cutoff_features reads its point-in-time rows from int_backtest_point_in_time_features
    compiled = {**{m: f for m, f in MODELS.items() if m != "backtest_cutoff_features"},
                "int_backtest_point_in_time_features": "models/intermediate"}
    for model, folder in compiled.items():
        sql = (workdir / "target" / "compiled" / "segment_warehouse" / folder / f"{model}.sql").read_text()
        scans = re.findall(r'"int_events" as e\b', sql)
        assert len(scans) == 2, (model, len(scans))
        assert "select distinct e.customer_id" not in sql
