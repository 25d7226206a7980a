"""Funnel definitions that must be exact (issue 9 section 3, items 1 and 9), on
the bundled demo data: the time between steps and byte-identical re-runs.

Partial builds of the demo dataset (the funnel marts and what they need). Every
expected figure is recomputed here with pandas from intermediate.int_events, with
the rule stated in models/marts/funnel/_funnel__models.yml, never read back from
the marts under test:
- step 1 = the customer's first signed_up; an enrolment counts from step 1 on; a
  completion counts when it is of a course the customer enrolled in (after step 1),
  at or after that enrolment; with a window, every step within window days of step 1;
- time signup -> enrolment: to the FIRST enrolment; enrolment -> completion: from the
  enrolment in the course completed first to that completion (ties: smallest course)."""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from dbt_harness import run_dbt

PARTIAL = ["--indirect-selection", "cautious"]
MARTS = "+funnel_step_times"


def _partial_build(workdir, select: str, vars: dict):
    result = run_dbt(workdir, vars={"dataset": "demo", **vars}, extra=["--select", *select.split(), *PARTIAL])
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return _partial_build(tmp_path_factory.mktemp("funnel_default"), MARTS, {})


def _df(result, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(result.db_path), read_only=True) as con:
        return con.execute(sql).df()


def reference_chains(result, as_of_end: str | None = None, window_days: int | None = None) -> pd.DataFrame:
    """One row per customer who signed up: t1, and per course enrolled in after t1:
    enrol_at (first such enrolment) and comp_at (first completion of that course at or
    after it), all within the window; customers without an enrolment get one row with
    course null."""
    where = f"where event_at < timestamp '{as_of_end}'" if as_of_end else ""
    ev = _df(result, f"select customer_id, event_at, event_name, object_id from intermediate.int_events {where}")
    t1 = (ev[ev.event_name == "signed_up"].groupby("customer_id", as_index=False).event_at.min()
          .rename(columns={"event_at": "t1"}))
    horizon = (t1.t1 + pd.Timedelta(days=window_days)) if window_days is not None else pd.Timestamp.max
    t1 = t1.assign(horizon=horizon)
    enr = ev[(ev.event_name == "enrolled_in_course") & ev.object_id.notna()].merge(t1, on="customer_id")
    enr = enr[(enr.event_at >= enr.t1) & (enr.event_at <= enr.horizon)]
    enr = (enr.groupby(["customer_id", "object_id"], as_index=False).event_at.min()
           .rename(columns={"event_at": "enrol_at"}))
    comp = ev[(ev.event_name == "completed_course") & ev.object_id.notna()].merge(
        enr.merge(t1, on="customer_id"), on=["customer_id", "object_id"])
    comp = comp[(comp.event_at >= comp.enrol_at) & (comp.event_at <= comp.horizon)]
    comp = (comp.groupby(["customer_id", "object_id"], as_index=False).event_at.min()
            .rename(columns={"event_at": "comp_at"}))
    chains = t1.merge(enr.merge(comp, on=["customer_id", "object_id"], how="left"), on="customer_id", how="left")
    return chains


def _seconds(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier).dt.total_seconds()).to_numpy(dtype="int64")


def reference_step_times(chains: pd.DataFrame) -> dict:
    """{(from_step, to_step): integer seconds per customer}."""
    first_enrol = chains.dropna(subset=["enrol_at"]).groupby("customer_id").agg(t1=("t1", "first"),
                                                                                 enrol_at=("enrol_at", "min"))
    completed = (chains.dropna(subset=["comp_at"]).sort_values(["customer_id", "comp_at", "object_id"])
                 .groupby("customer_id").head(1))
    return {(1, 2): _seconds(first_enrol.enrol_at, first_enrol.t1),
            (1, 3): _seconds(completed.comp_at, completed.t1),
            (2, 3): _seconds(completed.comp_at, completed.enrol_at)}


# -- item 1: each step timed from the previous step to its first occurrence ------

def test_step_times_run_to_the_first_occurrence_of_each_step(default):
    expected = reference_step_times(reference_chains(default))
    rows = {(r[0], r[1]): r[2:] for r in default.query(
        "select from_step, to_step, users, avg_hours, median_hours, p90_hours from funnel_step_times")}
    assert set(rows) == set(expected)
    for pair, seconds in expected.items():
        users, avg, median, p90 = rows[pair]
        hours = seconds / 3600
        assert users == len(seconds), pair
        assert avg == pytest.approx(hours.mean(), rel=1e-12), pair
        assert median == pytest.approx(np.percentile(hours, 50), rel=1e-12), pair
        assert p90 == pytest.approx(np.percentile(hours, 90), rel=1e-12), pair
    # signup -> FIRST enrolment (the issue: 78.3 h / 515.7 h timed to the completed course's enrolment)
    users, avg, median, _ = rows[(1, 2)]
    assert (users, round(median, 1), round(avg, 1)) == (2856, 24.8, 64.0)


# -- item 9: byte-identical re-runs ----------------------------------------------

def test_step_times_mean_is_the_exact_integer_mean(default):
    # the mean is an exact sum of whole seconds divided once: the same double whatever
    # the order the rows were summed in
    expected = reference_step_times(reference_chains(default))
    for (i, j), seconds in expected.items():
        avg = default.scalar(f"select avg_hours from funnel_step_times where from_step = {i} and to_step = {j}")
        assert avg == float(int(seconds.sum())) / len(seconds) / 3600.0, (i, j)


def test_step_times_are_byte_identical_across_builds(default, tmp_path):
    again = _partial_build(tmp_path, "+funnel_step_times", {})
    sql = "select * from funnel_step_times order by from_step, to_step"
    first, second = default.query(sql), again.query(sql)
    assert len(first) == 3
    assert [tuple(map(repr, r)) for r in first] == [tuple(map(repr, r)) for r in second]
