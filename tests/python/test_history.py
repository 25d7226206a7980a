"""Segment history, movement and backfill (issue 14 items 2, 3, 5) on the demo dataset.

One folder, builds in file order:
1. `python -m segkit.backfill --months 3`: two partial builds (`+segment_history` at
   2024-10-31 and 2024-11-30) and the normal build (the dataset's as-of date,
   2024-12-31), which publishes;
2. a build that writes the history at 2024-09-30 and then fails (a broken campaign
   predicate): nothing published, the published file unchanged;
3. a partial build at 2024-11-30 again, with --full-refresh, starting (as every build)
   from the published history.
The Python steps run with cheap settings (logistic churn model, 2 folds, fixed k): the
history records whatever they produce, and the figures here are recomputed from the
marts of each build (customer_rfm, ...) and the raw demo CSV, never from the history
marts under test.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from dbt_harness import PROJECT_DIR, run_dbt

FAST = {"churn_model": "logistic", "churn_cv_folds": 2, "churn_importance_rows": 100,
        "cluster_k": 4, "backtest_kmeans_k": 4}
DATES = ["2024-10-31", "2024-11-30", "2024-12-31"]
RERUN = "2024-11-30"
FAILED_AS_OF = "2024-09-30"
KEY_FREE = "* exclude (build_id, built_at)"
NONE = "(none)"


def _rows(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("history")


@pytest.fixture(scope="module")
def backfilled(work):
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(work / "warehouse.duckdb"),
               SEGMENTS_HOME=str(PROJECT_DIR), PYTHONPATH=str(PROJECT_DIR / "python"))
    proc = subprocess.run(
        [sys.executable, "-m", "segkit.backfill", "--dataset", "demo", "--months", "3",
         "--vars", json.dumps(FAST), "--project-dir", str(PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=work, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    published = work / "warehouse.duckdb"
    return {
        "output": output,
        "published": published,
        "history": _rows(published, f"select {KEY_FREE} from segment_history"),
        "build_ids": dict(_rows(published, "select as_of_date::varchar, min(build_id) from segment_history "
                                           "group by 1").values.tolist()),
        "rfm": _rows(published, "select customer_id, rfm_segment from customer_rfm"),
        "value": _rows(published, "select customer_id, historical_value from intermediate.int_customer_value_features"),
        "migration": _rows(published, "select * from segment_migration"),
        "stability": _rows(published, "select * from segment_stability"),
        "campaign": _rows(published, "select * from segment_downgrade_campaign"),
    }


@pytest.fixture(scope="module")
def failed(work, backfilled):
    """A build that writes segment_history at FAILED_AS_OF into the build database and
    then fails (a campaign predicate naming no column breaks campaign_targets)."""
    before = _digest(backfilled["published"])
    result = run_dbt(work, vars={"dataset": "demo", **FAST, "as_of_date": FAILED_AS_OF,
                                 "campaigns": {"broken": "no_such_column = 1"}},
                     extra=["--select", "+segment_history", "campaign_targets", "--indirect-selection", "cautious"])
    return result, before


@pytest.fixture(scope="module")
def rerun(work, failed):
    result = run_dbt(work, vars={"dataset": "demo", **FAST, "as_of_date": RERUN},
                     extra=["--select", "+segment_history", "--indirect-selection", "cautious", "--full-refresh"])
    assert result.returncode == 0, result.output[-4000:]
    assert result.db_path == result.build_path  # a partial build publishes nothing
    return result


def _known_customers(day: str) -> int:
    """Customers known at the as-of date: signed up by its end (or no sign-up date)."""
    customers = pd.read_csv(PROJECT_DIR / "data" / "demo" / "customers.csv")
    signed = pd.to_datetime(customers["signed_up_at"], errors="coerce")
    return int((signed.isna() | (signed < pd.Timestamp(day) + pd.Timedelta(days=1))).sum())


# -- backfill -----------------------------------------------------------------------

def test_backfill_of_three_month_ends_gives_three_as_of_dates(backfilled):
    history = backfilled["history"]
    counts = history.groupby(history["as_of_date"].astype(str)).size().to_dict()
    assert sorted(counts) == DATES
    for day in DATES:
        assert counts[day] == _known_customers(day), day
    # one build per as-of date, with progress per date
    assert len(set(backfilled["build_ids"].values())) == 3
    out = backfilled["output"]
    assert "1/2 as-of 2024-10-31" in out and "2/2 as-of 2024-11-30" in out and "normal build at 2024-12-31" in out


def test_backfill_refuses_a_date_past_the_as_of_date(work, backfilled):
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(work / "warehouse.duckdb"),
               SEGMENTS_HOME=str(PROJECT_DIR), PYTHONPATH=str(PROJECT_DIR / "python"))
    proc = subprocess.run(
        [sys.executable, "-m", "segkit.backfill", "--dataset", "demo", "--as-of-dates", "2025-01-31",
         "--vars", "{as_of_date: '2024-12-31'}", "--project-dir", str(PROJECT_DIR)],
        cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "after the dataset's as-of date 2024-12-31" in proc.stderr


# -- the history survives a failed build, a publish and --full-refresh ----------------

def test_a_failed_build_publishes_nothing(failed):
    result, before = failed
    assert result.returncode != 0
    assert "campaign_targets" in result.output and "no_such_column" in result.output
    assert _digest(result.published_path) == before
    # it did write its as-of date into the build database's history before failing
    dates = [str(d) for (d,) in result.query("select distinct as_of_date from segment_history order by 1")]
    assert dates == [FAILED_AS_OF, *DATES]


def test_history_survives_failed_build_publish_and_full_refresh(rerun, backfilled):
    # the next build starts from the published history: every published date, and
    # nothing of the failed build (FAILED_AS_OF)
    dates = [str(d) for (d,) in rerun.query("select distinct as_of_date from segment_history order by 1")]
    assert dates == DATES


def test_rerunning_an_as_of_date_replaces_its_rows(rerun, backfilled):
    key = rerun.query("select count(*), count(distinct (as_of_date, customer_id)) from segment_history")[0]
    assert key[0] == key[1] == len(backfilled["history"])
    # the rows of RERUN were written again by this build, the other dates kept as published
    build_ids = dict(rerun.query("select as_of_date::varchar, min(build_id) from segment_history group by 1"))
    assert build_ids[RERUN] != backfilled["build_ids"][RERUN]
    assert {d: b for d, b in build_ids.items() if d != RERUN} == \
        {d: b for d, b in backfilled["build_ids"].items() if d != RERUN}
    # ... with the same content (same data, same as-of date)
    now = _rows(rerun.db_path, f"select {KEY_FREE} from segment_history")
    cols = list(backfilled["history"].columns)
    merged = now.merge(backfilled["history"], on=cols, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()


def test_history_rows_are_the_segments_of_record(rerun):
    mismatches = rerun.query(f"""
        select count(*) filter (where h.rfm_segment is distinct from r.rfm_segment),
               count(*) filter (where h.clv_segment is distinct from c.clv_segment),
               count(*) filter (where h.churn_risk_band is distinct from k.risk_band),
               count(*) filter (where h.value_tier is distinct from t.value_tier or h.cluster_id is distinct from t.cluster_id),
               count(*) filter (where h.value is distinct from v.historical_value),
               count(*)
        from segment_history h
        left join customer_rfm r using (customer_id)
        left join customer_clv c using (customer_id)
        left join customer_churn_risk k using (customer_id)
        left join (select * from customer_clusters where method = 'kmeans') t using (customer_id)
        left join intermediate.int_customer_value_features v using (customer_id)
        where h.as_of_date = date '{RERUN}'""")[0]
    assert mismatches[:5] == (0, 0, 0, 0, 0)
    assert mismatches[5] == _known_customers(RERUN)


# -- movement --------------------------------------------------------------------------

def _rfm_moves(rerun, backfilled) -> pd.DataFrame:
    """Per customer: RFM segment at RERUN (customer_rfm of the rerun build) and at the
    last date (customer_rfm of the published build), the value at the last date."""
    before = _rows(rerun.db_path, "select customer_id, rfm_segment from customer_rfm")
    after = backfilled["rfm"].merge(backfilled["value"], on="customer_id", how="left")
    moves = before.merge(after, on="customer_id", how="outer", suffixes=("_from", "_to"))
    moves["from_segment"] = moves["rfm_segment_from"].fillna(NONE)
    moves["to_segment"] = moves["rfm_segment_to"].fillna(NONE)
    return moves


def test_migration_matrix_matches_pandas(rerun, backfilled):
    moves = _rfm_moves(rerun, backfilled)
    expected = (moves.groupby(["from_segment", "to_segment"])
                .agg(customers=("customer_id", "size"), value=("historical_value", "sum"))
                .reset_index().sort_values(["from_segment", "to_segment"]).reset_index(drop=True))
    m = backfilled["migration"]
    got = (m[(m.segment_kind == "rfm") & (m.from_as_of_date.astype(str) == RERUN)
             & (m.to_as_of_date.astype(str) == DATES[-1])]
           [["from_segment", "to_segment", "customers", "value"]]
           .sort_values(["from_segment", "to_segment"]).reset_index(drop=True))
    assert len(expected) > 10
    assert got[["from_segment", "to_segment", "customers"]].values.tolist() == \
        expected[["from_segment", "to_segment", "customers"]].values.tolist()
    assert [round(float(v or 0), 2) for v in got["value"]] == [round(float(v), 2) for v in expected["value"]]
    # the consecutive pairs, per kind, and nothing else
    pairs = sorted(set(zip(m.from_as_of_date.astype(str), m.to_as_of_date.astype(str))))
    assert pairs == [(DATES[0], DATES[1]), (DATES[1], DATES[2])]
    assert set(m.segment_kind) == {"rfm", "clv", "value_tier", "cluster", "churn_risk"}


def test_stability_is_the_share_who_kept_their_segment(rerun, backfilled):
    moves = _rfm_moves(rerun, backfilled)
    had = moves[moves.from_segment != NONE]
    expected = round((had.from_segment == had.to_segment).sum() / len(had), 6)
    s = backfilled["stability"]
    row = s[(s.segment_kind == "rfm") & (s.from_as_of_date.astype(str) == RERUN)]
    assert len(row) == 1
    assert int(row.customers.iloc[0]) == len(had)
    assert float(row.stability_share.iloc[0]) == pytest.approx(expected, abs=1e-6)


def test_downgrade_campaign_lists_valuable_to_at_risk_moves(rerun, backfilled):
    defaults = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    valuable = defaults["segment_downgrade_valuable_segments"]
    at_risk = defaults["segment_downgrade_at_risk_segments"]
    moves = _rfm_moves(rerun, backfilled)
    expected = sorted(moves[moves.from_segment.isin(valuable) & moves.to_segment.isin(at_risk)].customer_id)
    campaign = backfilled["campaign"]
    assert expected, "the demo has valuable -> at-risk moves in December 2024"
    assert sorted(campaign.customer_id) == expected
    assert set(campaign.previous_as_of_date.astype(str)) == {RERUN}


@pytest.fixture(scope="module")
def paired(work, rerun):
    """segment_migration again (dbt run, the build database's history of the three
    dates kept) with var segment_migration_pair naming a non-consecutive pair."""
    result = run_dbt(work, command="run",
                     vars={"dataset": "demo", **FAST, "publish_carried_tables": [],
                           "segment_migration_pair": [DATES[0], DATES[2]]},
                     extra=["--select", "segment_migration"])
    assert result.returncode == 0, result.output[-4000:]
    return result


def test_migration_pair_setting_adds_that_pair(paired):
    got = _rows(paired.db_path, "select from_as_of_date::varchar as a, to_as_of_date::varchar as b, "
                                "from_segment, to_segment, customers from segment_migration where segment_kind = 'rfm'")
    assert sorted(set(zip(got.a, got.b))) == [(DATES[0], DATES[1]), (DATES[0], DATES[2]), (DATES[1], DATES[2])]
    history = _rows(paired.db_path, "select as_of_date::varchar as d, customer_id, rfm_segment from segment_history")
    before = history[history.d == DATES[0]][["customer_id", "rfm_segment"]]
    after = history[history.d == DATES[2]][["customer_id", "rfm_segment"]]
    moves = before.merge(after, on="customer_id", how="outer", suffixes=("_from", "_to")).fillna(NONE)
    expected = sorted(moves.groupby(["rfm_segment_from", "rfm_segment_to"]).size().reset_index()
                      .itertuples(index=False, name=None))
    pair = got[(got.a == DATES[0]) & (got.b == DATES[2])]
    assert sorted(zip(pair.from_segment, pair.to_segment, pair.customers)) == expected
