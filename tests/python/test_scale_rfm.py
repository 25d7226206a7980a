"""The BTYD summary per cutoff (rfm_btyd_ctes, issue 11) is set-based and exact.

One partial build of the demo dataset with calendar-week periods and cutoffs in
the middle of a week (two of them in the same week, 2024-10-01 and 2024-10-03),
so the week that contains a cutoff day is only partly known at that cutoff.
frequency / recency / T / monetary_value of every backtest row are recomputed
here with pandas from intermediate.int_transactions with the stated rules
(known: before the end of the cutoff day; a purchase: amount >= 0; a purchase
period: a week with a purchase; refunds netted into their week), and the
compiled SQL is checked not to copy the transactions once per cutoff."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from dbt_harness import partial_build

CUTOFFS = ["2024-04-06", "2024-07-04", "2024-10-01", "2024-10-03"]  # Sat, Thu, Tue, Thu
VARS = {"rfm_time_unit": "week", "backtest_cutoffs": CUTOFFS}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale_rfm")
    return workdir, partial_build(workdir, "+backtest_cutoff_features", VARS)


def expected_btyd(tx: pd.DataFrame, cutoff: str) -> pd.DataFrame:
    """BTYD values per customer with a purchase known at `cutoff`, in weeks."""
    cutoff_day = pd.Timestamp(cutoff)
    known = tx[tx.transacted_at < cutoff_day + pd.Timedelta(days=1)].copy()
    known["week"] = known.transacted_at.dt.normalize() - pd.to_timedelta(known.transacted_at.dt.day_of_week, unit="D")
    known["purchase"] = known.cents >= 0
    weeks = known.groupby(["customer_id", "week"]).agg(cents=("cents", "sum"), orders=("purchase", "sum")).reset_index()
    weeks = weeks[weeks.orders > 0].sort_values(["customer_id", "week"])
    cutoff_week = cutoff_day - pd.Timedelta(days=cutoff_day.weekday())
    rows = []
    for customer_id, w in weeks.groupby("customer_id"):
        frequency = len(w) - 1
        first, last = w.week.iloc[0], w.week.iloc[-1]
        repeat_cents = int(w.cents.sum() - w.cents.iloc[0])
        rows.append({
            "customer_id": customer_id,
            "frequency": frequency,
            "recency": (last - first).days / 7,
            "T": (cutoff_week - first).days / 7,
            "monetary_value": 0.0 if frequency == 0 else (repeat_cents / 100) / frequency,
        })
    return pd.DataFrame(rows).set_index("customer_id")


def test_btyd_values_at_mid_week_cutoffs(build):
    _, result = build
    tx = pd.DataFrame(result.query(
        "select customer_id, transacted_at, cast(round(amount * 100) as bigint) as cents "
        "from intermediate.int_transactions"), columns=["customer_id", "transacted_at", "cents"])
    tx["transacted_at"] = pd.to_datetime(tx.transacted_at)
    for cutoff in CUTOFFS:
        expected = expected_btyd(tx, cutoff)
        got = pd.DataFrame(result.query(
            "select customer_id, frequency, recency, T, monetary_value from backtest_cutoff_features "
            f"where cutoff_date = date '{cutoff}'"),
            columns=["customer_id", "frequency", "recency", "T", "monetary_value"]).set_index("customer_id")
        assert len(got) > 1000, cutoff
        # every backtest customer (a customer known at the cutoff with a purchase) has its values
        assert got.index.isin(expected.index).all(), cutoff
        exp = expected.loc[got.index]
        for column in ("frequency", "recency", "T", "monetary_value"):
            mismatched = (got[column].to_numpy() != exp[column].to_numpy()).sum()
            assert mismatched == 0, (cutoff, column, mismatched)
        # the cutoff's week has transactions after the cutoff day that must not count:
        # counting the whole week would change some customer's figures
        week_end = pd.Timestamp(cutoff) - pd.Timedelta(days=pd.Timestamp(cutoff).weekday() - 6)
        if week_end != pd.Timestamp(cutoff):
            leaked = expected_btyd(tx, str(week_end.date())).reindex(got.index)
            assert (leaked.monetary_value != exp.monetary_value).any() or (leaked.frequency != exp.frequency).any(), cutoff


def cte_bodies(sql: str) -> dict[str, str]:
    """name -> body of every CTE `name as (...)` that starts a line."""
    bodies = {}
    for match in re.finditer(r"^(\w+) as \(", sql, flags=re.MULTILINE):
        depth, i = 1, match.end()
        while depth and i < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        bodies[match.group(1)] = sql[match.end():i - 1]
    return bodies


def test_transactions_are_not_copied_per_cutoff(build):
    workdir, _ = build
    sql = (workdir / "target" / "compiled" / "segment_warehouse" / "models" / "marts" / "backtest"
           / "backtest_cutoff_features.sql").read_text()
    bodies = cte_bodies(sql)
    scans = {name: body for name, body in bodies.items()
             if name.startswith("rfm_") and "int_transactions" in body}
    assert scans, sorted(bodies)
    for name, body in scans.items():
        # the one scan of the transactions joins no as-of relation, and only on equality
        assert "cutoff_as_of" not in body and "rfm_as_of as" not in body, name
        for condition in re.findall(r"\bon\b(.*?)(?:\bwhere\b|\bgroup by\b|\bleft join\b|\binner join\b|$)", body,
                                    flags=re.DOTALL):
            assert not re.search(r"<|>", condition), (name, condition)
