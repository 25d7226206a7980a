"""Periodic refresh leftovers (issue 14) on the demo dataset.

1. input_reconciliation counts a folder of parts from its ledger (each part's raw lines
   counted once, by the build that read it), not by reading every old part again: the
   demo's transactions as monthly CSV parts, loaded in two builds (all months but the
   last, then the last), then a ledger count tampered with, which the reconciliation
   test must catch.
Expected figures are recomputed here from the raw demo CSV and the part files, never
read from the models under test.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dbt_harness import PARTIAL, PROJECT_DIR, run_dbt

pytestmark = pytest.mark.slow  # partial dbt builds, a few minutes in all

DEMO = PROJECT_DIR / "data" / "demo"
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
    db = loaded["second"].db_path
    part = str(parts["folder"] / "transactions" / "2023-06.csv")
    with duckdb.connect(str(db)) as con:
        con.execute("update staging.raw_files__transactions set _part_raw_records = _part_raw_records + 1 "
                    "where _row_kind = 'part' and _source_file = ?", [part])
    tampered = _reconcile(work, parts["folder"], "input_reconciliation", KEEP)
    assert tampered.returncode != 0, tampered.output[-4000:]
    assert "is_reconciled" in tampered.output
    assert tampered.query("select rows_in, is_reconciled from input_reconciliation "
                          "where source_table = 'transactions'") == [(61210 + 1, False)]
