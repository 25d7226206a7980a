"""Incremental loading (issue 14 item 1) on the demo data split into monthly parts.

The demo's transactions become monthly Parquet parts and its events monthly CSV parts,
the last day (2024-12-31) a part of its own as a daily delivery (customers and
subscriptions stay single files), with a few bad rows planted in the
old parts: a line the CSV reader cannot split, an unknown customer, and a transaction
id that the last part repeats with another amount. Builds:

A1. workdir A, every part but the last day's (a full `dbt build`, published);
A2. the last day's parts added, workdir A again: only they are read;
B.  workdir B, from a copy of the warehouse A1 published (so both carry A1's segment
    history; the loaded parts are not published: B has none), all parts at once with
    --full-refresh;
then in workdir A partial builds of the input layer: an old part rewritten (re-read),
an old part deleted (the build stops naming it and --full-refresh).

Every table of the published warehouses A2 and B, and the raw load cache kept beside
their build databases (<build name>.load_cache.duckdb), must hold the same rows (EXCEPT ALL both ways), apart from the columns
that record a build (named in RUN_COLUMNS)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from dbt_harness import PARTIAL, PROJECT_DIR, run_dbt

pytestmark = pytest.mark.slow  # about 13 minutes on a loaded 2-core machine: three full builds

DEMO = PROJECT_DIR / "data" / "demo"
FAST = {"churn_model": "logistic", "churn_cv_folds": 2, "churn_importance_rows": 100,
        "cluster_k": 4, "backtest_kmeans_k": 4}
LAST = "2024-12-31"  # the day that arrives as a part of its own
# columns that record which build wrote a row (the ledger's build id and start time,
# the build start recorded in run metadata): they differ between any two builds
RUN_COLUMNS = {
    "staging.loaded_input_parts": ["loaded_by", "loaded_at"],
    "staging.raw_files__transactions": ["_loaded_by", "_loaded_at"],
    "staging.raw_files__events": ["_loaded_by", "_loaded_at"],
    "staging.raw_files__customers": ["_loaded_by", "_loaded_at"],
    "staging.raw_files__subscriptions": ["_loaded_by", "_loaded_at"],
    "main.segment_history": ["build_id", "built_at"],
    "main.model_versions": ["recorded_build_id", "recorded_at"],
}
BAD_LINE = "C000001,2023-03-05 10:00:00,login,,,,extra,extra"


def split_demo(folder: Path, held: Path) -> None:
    """The demo inputs as monthly parts in `folder`; the last day's parts in `held`."""
    for d in (folder, held):
        d.mkdir(parents=True)
    shutil.copy(DEMO / "customers.csv", folder)
    shutil.copy(DEMO / "subscriptions.csv", folder)
    (folder / "transactions").mkdir()
    (folder / "events").mkdir()
    con = duckdb.connect()
    con.execute(f"""create table t as select * replace (cast(amount as decimal(12, 2)) as amount)
                    from read_csv('{DEMO}/transactions.csv', types = {{'amount': 'varchar'}})""")
    # planted: an unknown customer (old part) and T00000001 again, with another amount (last part)
    con.execute("""insert into t select * replace ('T09999999' as transaction_id, 'C999999' as customer_id)
                   from t where transaction_id = 'T00000002'""")
    con.execute(f"""insert into t select * replace (timestamp '{LAST} 12:00:00' as transacted_at, 1.00 as amount)
                    from t where transaction_id = 'T00000001'""")
    con.execute(f"create table e as select * from read_csv('{DEMO}/events.csv', all_varchar = true)")
    part = f"case when cast({{at}} as date) = date '{LAST}' then '{LAST}' else strftime(cast({{at}} as timestamp), '%Y-%m') end"
    tpart, epart = part.format(at="transacted_at"), part.format(at="event_at")
    for (m,) in con.execute(f"select distinct {tpart} from t order by 1").fetchall():
        target = held / f"{m}.parquet" if m == LAST else folder / "transactions" / f"{m}.parquet"
        con.execute(f"""copy (select * from t where {tpart} = '{m}' order by transaction_id)
                        to '{target}' (format parquet)""")
    for (m,) in con.execute(f"select distinct {epart} from e order by 1").fetchall():
        target = held / f"{m}.csv" if m == LAST else folder / "events" / f"{m}.csv"
        con.execute(f"copy (select * from e where {epart} = '{m}') to '{target}' (header, delimiter ',')")
    con.close()
    with open(folder / "events" / "2023-03.csv", "a") as f:
        f.write(BAD_LINE + "\n")


def add_last_parts(folder: Path, held: Path) -> None:
    shutil.copy(held / f"{LAST}.parquet", folder / "transactions")
    shutil.copy(held / f"{LAST}.csv", folder / "events")


def build(workdir: Path, folder: Path, extra: list[str] | None = None):
    started = time.monotonic()
    result = run_dbt(workdir, vars={"dataset": "demo", "input_dir": str(folder), **FAST}, extra=extra)
    result.seconds = time.monotonic() - started
    result.timing = json.loads((workdir / "target" / "run_results.json").read_text())
    return result


def model_seconds(result, prefixes=("raw_files__", "base_files__", "stg_files__", "loaded_input_parts")) -> tuple[float, float]:
    """(seconds in the input layer's models, seconds in all nodes) from run_results.json."""
    layer = total = 0.0
    for r in result.timing["results"]:
        total += r["execution_time"]
        name = r["unique_id"].split(".")[-1]
        if r["unique_id"].startswith("model.") and name.startswith(prefixes):
            layer += r["execution_time"]
    return layer, total


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    folder, held = root / "input", root / "held"
    split_demo(folder, held)
    a1 = build(root / "a", folder)
    assert a1.returncode == 0, a1.output[-4000:]
    # B starts from the warehouse A1 published (its segment history), as A2 does, and
    # rebuilds every input from all its parts
    (root / "b").mkdir()
    shutil.copy(a1.published_path, root / "b" / a1.published_path.name)
    add_last_parts(folder, held)
    a2 = build(root / "a", folder)
    assert a2.returncode == 0, a2.output[-4000:]
    b = build(root / "b", folder, extra=["--full-refresh"])
    assert b.returncode == 0, b.output[-4000:]
    for name, r in (("first (all parts but the last day)", a1), ("incremental (+1 day)", a2), ("full refresh", b)):
        layer, total = model_seconds(r)
        print(f"\n{name}: {r.seconds:.1f}s wall, nodes {total:.1f}s, input layer models {layer:.1f}s")
    return {"root": root, "folder": folder, "a1": a1, "a2": a2, "b": b}


RAW = [f"staging.raw_files__{e}" for e in ("customers", "transactions", "events", "subscriptions")]


def tables(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() order by 1, 2").fetchall()]


def differences(inc: Path, ful: Path, names: list[str],
                transactions: str = "staging.base_files__transactions where true") -> list[str]:
    con = duckdb.connect()
    con.execute(f"attach '{inc}' as inc (read_only)")
    con.execute(f"attach '{ful}' as ful (read_only)")
    differ = []
    for name in names:
        if name == "main.run_settings":
            continue  # the build's own settings record (start time, invocation)
        cols = RUN_COLUMNS.get(name)
        projection = f"* exclude ({', '.join(cols)})" if cols else "*"
        for x, y in (("inc", "ful"), ("ful", "inc")):
            n = con.execute(f"select count(*) from (select {projection} from {x}.{name} except all "
                            f"select {projection} from {y}.{name})").fetchone()[0]
            if n:
                differ.append(f"{name}: {n} rows of {x} not in {y}")
    # and the comparison is not vacuous
    assert con.execute(f"select count(*) from inc.{transactions}").fetchone()[0] == 61210 + 2
    con.close()
    return differ


def test_incremental_equals_full_refresh_on_every_table(runs):
    a2, b = runs["a2"], runs["b"]
    assert a2.db_path == a2.published_path and b.db_path == b.published_path  # both published
    names = tables(b.db_path)
    assert names == tables(a2.db_path)
    assert {"staging.base_files__transactions", "staging.loaded_input_parts", "main.rejected_rows",
            "main.input_reconciliation", "main.customer_rfm", "main.segment_history"} <= set(names)
    assert not differences(a2.db_path, b.db_path, names)


def test_raw_load_cache_stays_in_its_own_file(runs):
    """The loaded parts are not published (BI tools read base_files__<input>), they live
    in the load cache file, not the build database, and the cache an incremental build
    left equals the one a full refresh reads."""
    a2, b = runs["a2"], runs["b"]
    assert not set(RAW) & set(tables(a2.db_path)) and not set(RAW) & set(tables(b.db_path))
    # the cache is in its own file, not the build database, so the published file is a
    # copy of the build database's file (a dropped cache would stay in it as free space)
    for r in (a2, b):
        assert "(storage v1.4.0, by file, " in r.output, r.output[-3000:]
        assert not set(RAW) & set(tables(r.build_path))
    assert set(RAW) <= set(tables(a2.load_cache_path)) and set(RAW) <= set(tables(b.load_cache_path))
    with duckdb.connect(str(a2.load_cache_path), read_only=True) as con:
        assert con.execute("select count(*) from staging.raw_files__transactions "
                           "where _row_kind = 'row'").fetchone()[0] == 61210 + 2
    assert not differences(a2.load_cache_path, b.load_cache_path, RAW,
                           "staging.raw_files__transactions where _row_kind = 'row'")
    assert not differences(a2.build_path, b.build_path, ["staging.base_files__transactions"])


def test_second_build_read_only_the_new_parts(runs):
    a1, a2 = runs["a1"], runs["a2"]
    first_id = a1.timing["metadata"]["invocation_id"]
    second_id = a2.timing["metadata"]["invocation_id"]
    ledger = a2.query("select input, regexp_extract(file, '[^/]+$'), loaded_by, raw_records, rows_loaded "
                      "from staging.loaded_input_parts order by 1, 2")
    assert len(ledger) == 2 * 25
    for inp, part, loaded_by, _raw_records, _rows_loaded in ledger:
        assert loaded_by == (second_id if part.startswith(LAST) else first_id), (inp, part, loaded_by)
    assert "input 'transactions'" in a2.output and "24 part(s) already loaded, 1 new" in a2.output
    # the ledger's counts are the files' own (recomputed here from the parts)
    folder = runs["folder"]
    with duckdb.connect() as con:
        parquet_rows = con.execute(f"select count(*) from read_parquet('{folder}/transactions/*.parquet')").fetchone()[0]
    assert sum(r[3] for r in ledger if r[0] == "transactions") == parquet_rows == 61210 + 2
    events_lines = sum(len([ln for ln in p.read_text().splitlines() if ln.strip()]) - 1
                       for p in (folder / "events").glob("*.csv"))
    assert sum(r[3] for r in ledger if r[0] == "events") == events_lines


def test_rejected_rows_of_old_parts_are_kept_and_reconciled(runs):
    a2 = runs["a2"]
    rejected = a2.query("select source_table, row_key, reason, regexp_extract(source_file, '[^/]+$'), line_number "
                        "from rejected_rows order by all")
    reasons = {(r[0], r[1]): r for r in rejected}
    assert reasons[("transactions", "T09999999")][2].startswith("unknown customer_id")
    assert "conflicting duplicate transaction_id" in reasons[("transactions", "T00000001")][2]
    unparsed = [r for r in rejected if r[0] == "events" and r[2].startswith("line could not be read")]
    lines = len((runs["folder"] / "events" / "2023-03.csv").read_text().splitlines())
    assert [(r[3], r[4]) for r in unparsed] == [("2023-03.csv", lines)]
    assert a2.query("select bool_and(is_reconciled) from input_reconciliation") == [(True,)]
    assert a2.query("select rows_in from input_reconciliation where source_table = 'transactions'") == [(61210 + 2,)]


def test_changed_old_part_is_reread_and_deleted_part_stops(runs):
    root, folder = runs["root"], runs["folder"]
    select = ["--select", "+loaded_input_parts", "+stg_files__transactions", *PARTIAL]
    part = folder / "transactions" / "2023-05.parquet"
    with duckdb.connect() as con:
        before = con.execute(f"select count(*) from read_parquet('{part}')").fetchone()[0]
        con.execute(f"copy (select * from read_parquet('{part}') order by transaction_id offset 1) "
                    f"to '{root}/changed.parquet' (format parquet)")
    shutil.move(root / "changed.parquet", part)
    changed = build(root / "a", folder, extra=select)
    assert changed.returncode == 0, changed.output[-4000:]
    assert "1 changed and re-read" in changed.output
    third_id = changed.timing["metadata"]["invocation_id"]
    ledger = dict(changed.query("select regexp_extract(file, '[^/]+$'), loaded_by from staging.loaded_input_parts "
                                "where input = 'transactions'"))
    assert ledger.pop("2023-05.parquet") == third_id
    assert third_id not in ledger.values() and len(ledger) == 24
    assert changed.query("select rows_loaded from staging.loaded_input_parts "
                         "where file like '%/2023-05.parquet'") == [(before - 1,)]
    assert changed.scalar("select count(*) from staging.base_files__transactions") == 61210 + 2 - 1

    gone = folder / "transactions" / "2023-07.parquet"
    gone.unlink()
    stopped = build(root / "a", folder, extra=select)
    assert stopped.returncode != 0
    assert "2023-07.parquet" in stopped.output and "--full-refresh" in stopped.output
