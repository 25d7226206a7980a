"""Periodic refresh leftovers (issue 14) on the demo dataset.

1. input_reconciliation counts a folder of parts from its ledger (each part's raw lines
   counted once, by the build that read it), not by reading every old part again: the
   demo's transactions as monthly CSV parts, loaded in two builds (all months but the
   last, then the last), then a ledger count tampered with, which the reconciliation
   test must catch.
2. python -m segkit.backfill records, for each backfilled as-of date, the model version
   that scored it (model_versions) and the refit decision (model_refit_history, a
   carried history: re-running an as-of date replaces its rows).
Expected figures are recomputed here from the raw demo CSV and the part files, never
read from the models under test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dbt_harness import PARTIAL, PROJECT_DIR, run_dbt

pytestmark = pytest.mark.slow  # partial dbt builds, a few minutes in all

DEMO = PROJECT_DIR / "data" / "demo"
FAST = {"churn_model": "logistic", "churn_cv_folds": 2, "churn_importance_rows": 100,
        "cluster_k": 4, "backtest_kmeans_k": 4}
LAST_MONTH = "2024-12"
KEEP = {"publish_carried_tables": []}  # keep the build database's loaded parts (nothing is published)


def raw_lines(part: Path) -> int:
    """Records of a CSV part: its non-blank lines after the header."""
    return len([line for line in part.read_text().splitlines() if line.strip()]) - 1


# -- 1. the reconciliation counts from the ledger -----------------------------------------

@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("refresh_parts")
    folder, held = root / "input", root / "held"
    for d in (folder, held, folder / "transactions"):
        d.mkdir(parents=True)
    for name in ("customers.csv", "subscriptions.csv", "events.csv"):
        (folder / name).write_bytes((DEMO / name).read_bytes())
    with duckdb.connect() as con:
        con.execute(f"create table t as select * from read_csv('{DEMO}/transactions.csv', all_varchar = true)")
        months = [m for (m,) in con.execute(
            "select distinct strftime(cast(transacted_at as timestamp), '%Y-%m') from t order by 1").fetchall()]
        for m in months:
            target = (held if m == LAST_MONTH else folder / "transactions") / f"{m}.csv"
            con.execute(f"""copy (select * from t where strftime(cast(transacted_at as timestamp), '%Y-%m') = '{m}'
                            order by transaction_id) to '{target}' (header, delimiter ',')""")
    return {"root": root, "folder": folder, "held": held, "months": months}


def _reconcile(work: Path, folder: Path, select: str, vars: dict | None = None):
    return run_dbt(work, vars={"dataset": "demo", "input_dir": str(folder), **(vars or {})},
                   extra=["--select", select, *PARTIAL])


@pytest.fixture(scope="module")
def loaded(parts):
    work, folder = parts["root"] / "work", parts["folder"]
    first = _reconcile(work, folder, "+input_reconciliation")
    assert first.returncode == 0, first.output[-4000:]
    (folder / "transactions" / f"{LAST_MONTH}.csv").write_bytes((parts["held"] / f"{LAST_MONTH}.csv").read_bytes())
    second = _reconcile(work, folder, "+input_reconciliation", KEEP)
    assert second.returncode == 0, second.output[-4000:]
    return {"work": work, "first": first, "second": second}


def test_folder_rows_in_are_the_parts_lines_counted_once(parts, loaded):
    second = loaded["second"]
    n = len(parts["months"])
    assert f"{n - 1} part(s) already loaded, 1 new" in second.output
    expected = sum(raw_lines(p) for p in (parts["folder"] / "transactions").glob("*.csv"))
    assert expected == 61210  # the demo's transactions, split (data/demo/transactions.csv)
    assert second.query("select rows_in, is_reconciled from input_reconciliation "
                        "where source_table = 'transactions'") == [(expected, True)]


def test_a_wrong_ledger_count_fails_the_reconciliation(parts, loaded):
    work = loaded["work"]
    part = str(parts["folder"] / "transactions" / "2023-06.csv")
    with duckdb.connect(str(loaded["second"].load_cache_path)) as con:
        con.execute("update staging.raw_files__transactions set _part_raw_records = _part_raw_records + 1 "
                    "where _row_kind = 'part' and _source_file = ?", [part])
    tampered = _reconcile(work, parts["folder"], "input_reconciliation", KEEP)
    assert tampered.returncode != 0, tampered.output[-4000:]
    assert "is_reconciled" in tampered.output
    assert tampered.query("select rows_in, is_reconciled from input_reconciliation "
                          "where source_table = 'transactions'") == [(61210 + 1, False)]


# -- 2. a backfill records the version and the decision of each date ----------------------

BACKFILL_DATES = ["2024-10-31", "2024-11-30"]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    work = tmp_path_factory.mktemp("refresh_backfill")
    env = dict(os.environ, DO_NOT_TRACK="1", SEGMENTS_DB=str(work / "warehouse.duckdb"),
               SEGMENTS_HOME=str(PROJECT_DIR), PYTHONPATH=str(PROJECT_DIR / "python"))
    proc = subprocess.run(
        [sys.executable, "-m", "segkit.backfill", "--dataset", "demo", "--as-of-dates", *BACKFILL_DATES,
         "--vars", json.dumps({**FAST, "as_of_date": "2024-12-31"}), "--project-dir", str(PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--no-build"],
        cwd=work, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return {"work": work, "db": work / ".build" / "warehouse.duckdb", "output": output}


def _fit_customers(as_of: str) -> int:
    """Customers the BTYD fit uses at `as_of`: those with a purchase on or before it (raw CSV)."""
    with duckdb.connect() as con:
        return con.execute(f"""select count(distinct customer_id) from read_csv('{DEMO}/transactions.csv')
                               where cast(transacted_at as date) <= date '{as_of}'""").fetchone()[0]


def test_backfill_records_the_version_that_scored_each_date(backfilled):
    with duckdb.connect(str(backfilled["db"]), read_only=True) as con:
        decisions = con.execute("select cast(as_of_date as varchar), step, decision, version_id "
                                "from model_refit_history where step = 'clv_forecast_parameters' order by 1").fetchall()
        versions = {r[0]: r[1:] for r in con.execute(
            "select version_id, cast(train_end_date as varchar), rows_used, cast(first_scored_as_of_date as varchar), "
            "cast(last_scored_as_of_date as varchar) from model_versions "
            "where step = 'clv_forecast_parameters'").fetchall()}
        clusters = con.execute("select cast(as_of_date as varchar), models, decision from model_refit_history "
                               "where step = 'customer_clusters' order by 1, 2").fetchall()
    # the clustering step records one decision per method and date (always: both refit)
    assert clusters == [(d, m, "refit") for d in BACKFILL_DATES for m in ("dbscan", "kmeans")]
    # model_refit = always (the default): each date refits, on its own data
    assert [(d, s, c) for d, s, c, _ in decisions] == [(d, "clv_forecast_parameters", "refit") for d in BACKFILL_DATES]
    for day, _, _, vid in decisions:
        assert versions[vid] == (day, _fit_customers(day), day, day), (day, vid)
    assert len(versions) == len(BACKFILL_DATES)


def test_rerunning_an_as_of_date_replaces_its_refit_decision(backfilled):
    work = backfilled["work"]
    with duckdb.connect(str(backfilled["db"]), read_only=True) as con:
        before = con.execute("select * from model_refit_history where step = 'clv_forecast_parameters' "
                             "order by as_of_date").fetchall()
    rerun = run_dbt(work, vars={"dataset": "demo", **FAST, "as_of_date": BACKFILL_DATES[-1], **KEEP},
                    extra=["--select", "+model_refit_history", *PARTIAL])
    assert rerun.returncode == 0, rerun.output[-4000:]
    after = rerun.query("select * from model_refit_history where step = 'clv_forecast_parameters' order by as_of_date")
    # per date one row for the BTYD fit and one per clustering method (kmeans, dbscan)
    assert rerun.query("select count(*), count(distinct (as_of_date, step, models)) from model_refit_history") \
        == [(6, 6)]
    assert after[0] == before[0]  # the other date kept as it was
    cols = [c for (c,) in rerun.query("select column_name from (describe model_refit_history)")]
    old, new = dict(zip(cols, before[1])), dict(zip(cols, after[1]))
    # the date's row replaced: the re-run compared with the version the backfill recorded
    # for that date (same data, so the same version id and no drift)
    assert old["previous_version_id"] != new["previous_version_id"] == old["version_id"] == new["version_id"]
    assert new["drift"] == 0
