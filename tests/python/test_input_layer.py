"""The input layer on a user's own files (dataset `files`): every case of issue 8.

Each test builds a small folder, as a new user would, and asserts the outcome:
the build stops with a message naming the folder, mapping or setting and the fix,
or it succeeds with the bad rows in rejected_rows (reason, file, line or key, raw
text), input_reconciliation holding against an independent count (the file's
lines, counted here in Python), and every good row kept (asserted by id).
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from dbt_harness import PROJECT_DIR, DbtResult, run_dbt

DEMO = PROJECT_DIR / "data" / "demo"

# rows appended to (or, for the malformed line, inserted into) copies of the demo files
BAD_TRANSACTIONS = [
    "T900001,C000002,2999-01-01,10.00,P001,Marketing,CR10,web,1",          # implausible future
    "T900002,C000002,infinity,10.00,P001,Marketing,CR10,web,1",            # infinite date
    "T900003,C000003,2024-06-11T23:30:00+05:00,12.00,P001,Marketing,CR10,web,1",  # offset: 18:30 UTC
    "T900004,C000003,2024-06-12 10:00:00,10.005,P001,Marketing,CR10,web,1",  # 3 decimals
    "T900005,C000003,2024-06-12 11:00:00,10.00,P001,Marketing,CR10,web,2.5",  # half a unit
    "T900007,C900002,2024-06-12 12:00:00,10.00,P001,Marketing,CR10,web,1",   # its customer row is rejected
    "T900008,C000003,2024-06-12 13:00:00,10.00,P001,Mar\0keting,CR10,web,1",  # NUL byte in text
    "T900009,C000003,1970-01-01,10.00,P001,Marketing,CR10,web,1",            # epoch placeholder
]
MALFORMED = "T900006,C000004,2024-05-01 10:00:00,5,5,P001,Marketing,CR10,web,1"  # unquoted comma in the amount
BAD_CUSTOMERS = [
    "C000001,2023-01-27 13:36:14,France,Europe,45-54,Female,Manager,organic_search",  # conflicting second version
    "C900002,1970-01-01 00:00:00,India,Asia,45-54,Female,Manager,organic_search",      # epoch sign-up date
]
BAD_SUBSCRIPTIONS = [
    "S900001,C000005,Basic,monthly,9.99,2024-01-01 00:00:00,9999-12-31,,false",   # "no end" placeholder
]


def run_selected(workdir: Path, vars: dict, select: list[str]) -> DbtResult:
    """A partial build (--select, tests of the selected models only). Only a full
    build is published, so its tables are read from the build database."""
    result = run_dbt(workdir, vars=vars, extra=["--select", *select, "--indirect-selection", "cautious"])
    assert result.db_path == result.build_path
    return result


def _published(result: DbtResult) -> DbtResult:
    """A full build is read where BI tools read it: the published warehouse."""
    assert result.db_path == result.published_path, "a full, passing build must publish " + str(result.published_path)
    return result


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def _ids(path: Path, column: str) -> list[str]:
    with path.open(newline="") as f:
        return [row[column] for row in csv.DictReader(f)]


def _data_lines(path: Path) -> int:
    """Independent count: non-blank lines after the header."""
    return sum(1 for line in _lines(path)[1:] if line.strip())


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """The demo business with every kind of lying row of issue 8 mixed in."""
    root = tmp_path_factory.mktemp("dirty")
    data = root / "shop"
    data.mkdir()
    for name in ["events.csv"]:
        shutil.copy(DEMO / name, data / name)
    tx = _lines(DEMO / "transactions.csv")
    tx = tx[:6] + [MALFORMED] + tx[6:] + BAD_TRANSACTIONS       # the malformed line is line 7
    _write(data / "transactions.csv", tx)
    _write(data / "customers.csv", _lines(DEMO / "customers.csv") + BAD_CUSTOMERS)
    _write(data / "subscriptions.csv", _lines(DEMO / "subscriptions.csv") + BAD_SUBSCRIPTIONS)
    result = run_dbt(root, vars={"dataset": "files", "input_dir": str(data), "input_date_max": "2026-12-01"})
    assert result.returncode == 0, result.output[-6000:]
    return _published(result), data


def _reasons(result, table: str) -> dict[str, str]:
    return dict(result.query(f"select row_key, reason from rejected_rows where source_table = '{table}'"))


def test_dirty_build_has_no_failed_test(dirty):
    result, _ = dirty
    assert "ERROR=0" in result.output and "SKIP=0" in result.output, result.output[-3000:]


def test_dates_that_lie_are_quarantined_and_as_of_comes_from_used_rows(dirty):
    """Case 3: 2999, infinity and 1970 are rejected with the window named; 9999-12-31
    as an end date means open; the as-of date is the demo's own."""
    result, _ = dirty
    reasons = _reasons(result, "transactions")
    assert "outside the plausible window [1990-01-01, 2026-12-01]" in reasons["T900001"]
    assert "outside the plausible window" in reasons["T900002"]
    assert "outside the plausible window" in reasons["T900009"]
    assert "outside the plausible window" in _reasons(result, "customers")["C900002"]
    assert result.scalar("select max(resolved_as_of_date) from run_settings") == "2024-12-31"
    assert result.scalar("select max(resolved_input_date_max) from run_settings") == "2026-12-01"
    assert result.scalar("select min(cohort_month) from cohort_retention") >= __import__("datetime").date(2023, 1, 1)
    row = result.query("select ended_at, started_at from intermediate.int_subscriptions where subscription_id = 'S900001'")
    assert row and row[0][0] is None                      # open, not a crash
    assert result.scalar("select count(*) from customer_churn_risk") > 0
    assert result.scalar("select count(*) from customer_clv_forecast") > 0


def test_malformed_line_lands_in_rejected_rows_with_file_and_line(dirty):
    """Case 4: the line with an unquoted comma is rejected with its line number and
    raw text; every other line loads."""
    result, _data = dirty
    rows = result.query("select row_key, reason, raw_row, source_file, line_number from rejected_rows "
                        "where line_number is not null")
    assert len(rows) == 1
    key, reason, raw, source_file, line = rows[0]
    assert line == 7 and key == "line 7"
    assert "TOO MANY COLUMNS" in reason
    assert "T900006,C000004,2024-05-01 10:00:00,5,5" in raw
    assert source_file.endswith("transactions.csv")


def test_conflicting_duplicate_customer_keeps_one_version_and_its_rows(dirty):
    """Case 5: of two different C000001 rows one is kept by the stated rule (usable
    first, then most filled-in fields, then the smallest raw row text: France <
    India), the other is rejected, and all 37 transactions of C000001 stay."""
    result, _ = dirty
    reason = _reasons(result, "customers")["C000001"]
    assert reason.startswith("conflicting duplicate customer_id: another version was kept")
    assert '"country":"India"' in result.scalar("select raw_row from rejected_rows where row_key = 'C000001'")
    assert result.scalar("select country from intermediate.int_customers where customer_id = 'C000001'") == "France"
    assert result.scalar("select count(*) from intermediate.int_transactions where customer_id = 'C000001'") == 37
    assert result.scalar("select count(*) from rejected_rows where row_key like 'T%' and reason like '%C000001%'") == 0


def test_values_are_kept_exactly_or_rejected(dirty):
    """Case 8: an offset becomes UTC, a NUL byte, a third decimal and half a unit are rejected."""
    result, _ = dirty
    assert str(result.scalar("select transacted_at from intermediate.int_transactions where transaction_id = 'T900003'")) \
        == "2024-06-11 18:30:00"
    reasons = _reasons(result, "transactions")
    assert reasons["T900004"].startswith("amount has more decimal places than decimal(18,2) holds")
    assert "'10.005'" in reasons["T900004"]
    assert reasons["T900005"].startswith("quantity is not a whole number")
    assert reasons["T900008"].startswith("product_category contains a NUL byte")
    assert reasons["T900007"] == "customer_id has no usable row in customers (see its rejection there)"


def test_reconciliation_against_independent_line_counts_and_good_rows_kept(dirty):
    """Case 11: rows_in is the file's own line count (counted here in Python), and
    every good row's id is in the canonical tables."""
    result, data = dirty
    recon = {r[0]: r[1:] for r in result.query(
        "select source_table, rows_in, rows_used, rows_rejected, is_reconciled from input_reconciliation")}
    for table in ["customers", "transactions", "events", "subscriptions"]:
        rows_in, used, rejected, ok = recon[table]
        assert rows_in == _data_lines(data / f"{table}.csv"), table
        assert ok and rows_in == used + rejected, table
    assert recon["transactions"][2] == 8          # 7 bad rows + the malformed line
    good = set(_ids(DEMO / "transactions.csv", "transaction_id")) | {"T900003"}
    kept = {r[0] for r in result.query("select transaction_id from intermediate.int_transactions")}
    assert kept == good
    assert {r[0] for r in result.query("select customer_id from intermediate.int_customers")} \
        == set(_ids(DEMO / "customers.csv", "customer_id"))
    assert result.scalar("select count(*) from intermediate.int_subscriptions") == _data_lines(DEMO / "subscriptions.csv") + 1


def test_orders_only_folder_builds_every_transaction_mart(tmp_path):
    """Case 1: transactions.csv alone: customers are the ids it uses, and RFM, CLV,
    forecasts, clusters and product marts build with zero failed tests."""
    data = tmp_path / "orders"
    data.mkdir()
    shutil.copy(DEMO / "transactions.csv", data / "transactions.csv")
    result = run_dbt(tmp_path, vars={"dataset": "files", "input_dir": str(data)})
    assert result.returncode == 0, result.output[-6000:]
    assert "ERROR=0" in result.output and "SKIP=0" in result.output
    buyers = set(_ids(DEMO / "transactions.csv", "customer_id"))
    assert {r[0] for r in result.query("select customer_id from intermediate.int_customers")} == buyers
    for table in ["customer_rfm", "customer_clv", "customer_clv_forecast", "clv_forecast_parameters",
                  "customer_clusters", "product_performance", "category_mix", "cross_sell_pairs"]:
        assert result.scalar(f"select count(*) from {table}") > 0, table
    assert result.scalar("select count(*) from customer_rfm") == len(buyers)
    assert result.scalar("select count(*) from rejected_rows") == 0
    # the default window ends on the build day, and run_settings records which day that was
    import datetime
    today = datetime.datetime.now(datetime.UTC).date()
    assert result.scalar("select max(resolved_input_date_max) from run_settings") in \
        {str(today), str(today - datetime.timedelta(days=1))}


def _stops(tmp_path, vars: dict, *needles: str, select: str | None = None):
    extra = ["--select", select] if select else []
    result = run_dbt(tmp_path, vars={"dataset": "files", **vars}, extra=extra)
    assert result.returncode != 0, result.output[-3000:]
    for needle in needles:
        assert needle in result.output, (needle, result.output[-3000:])
    return result


def test_wrong_or_empty_input_dir_stops_before_any_model(tmp_path):
    """Case 2: a typo or an empty folder stops the build naming the folder and what it looked for."""
    missing = tmp_path / "no_such_folder"
    result = _stops(tmp_path, {"input_dir": str(missing)}, str(missing), "is empty or does not exist",
                    "looked for customers, transactions, events, subscriptions")
    assert "START sql" not in result.output
    other = tmp_path / "wrong_names"
    other.mkdir()
    (other / "orders.csv").write_text("id,amount\n1,2\n")
    _stops(tmp_path, {"input_dir": str(other)}, "holds no input (found: orders.csv)", "orders.csv -> transactions.csv")


def _orders_folder(tmp_path: Path) -> Path:
    data = tmp_path / "shop"
    data.mkdir(exist_ok=True)
    (data / "transactions.csv").write_text(
        "order_no,cust,order_date,total\no1,a1,2024-01-02,10.00\no2,a2,2024-01-03,5.00\n")
    return data


def test_column_map_mistakes_stop_naming_the_mapping(tmp_path):
    """Case 6: a mapping to a missing column, an optional column mapped to a missing
    name, and a misspelt input name each stop with the mapping and the columns found."""
    data = _orders_folder(tmp_path)
    base = {"input_dir": str(data)}
    good = {"transaction_id": "order_no", "customer_id": "cust", "transacted_at": "order_date"}
    _stops(tmp_path, {**base, "column_map": {"transactions": {**good, "amount": "order_total"}}},
           "column_map.transactions.amount names column 'order_total'",
           "found: order_no, cust, order_date, total", "nearest: 'total'")
    _stops(tmp_path, {**base, "column_map": {"transactions": {**good, "amount": "total", "channel": "chanel"}}},
           "column_map.transactions.channel names column 'chanel'")
    _stops(tmp_path, {**base, "column_map": {"transaction": {**good, "amount": "total"}}},
           "'transaction' is not an input (did you mean 'transactions'?)")
    _stops(tmp_path, {**base, "column_map": {"transactions": {**good, "amount": "total", "amout": "total"}}},
           "'amout' is not a column of the transactions contract (did you mean 'amount'?)")
    _stops(tmp_path, {**base, "column_map": {"transactions": good}},
           "lacks required column(s) amount", "found: order_no, cust, order_date, total")


LINE_ITEMS = """order_id,line_no,customer,ordered_at,sku,unit_price,qty,discount
1001,1,a1,2024-01-02 10:00:00,P1,19.99,3,5.00
1001,2,a1,2024-01-02 10:00:00,P2,5.50,1,
1002,1,a2,2024-02-10 09:00:00,P1,19.99,1,0
1003,1,a1,2024-03-01 12:00:00,P3,0.10,3,
"""


def test_line_item_export_with_computed_columns(tmp_path):
    """Case 6, the worked example of the README: amount and transaction_id computed
    from a line-item export by SQL expressions in column_map."""
    data = tmp_path / "lines"
    data.mkdir()
    (data / "transactions.csv").write_text(LINE_ITEMS)
    result = run_selected(tmp_path, vars={"dataset": "files", "input_dir": str(data), "column_map": {"transactions": {
        "transaction_id": "order_id || '-' || line_no",
        "order_id": "order_id",
        "customer_id": "customer",
        "transacted_at": "ordered_at",
        "product_id": "sku",
        "quantity": "qty",
        "amount": "cast(unit_price as decimal(18,2)) * cast(qty as integer) - coalesce(cast(discount as decimal(18,2)), 0)",
    }}}, select=["+customer_rfm", "+input_reconciliation"])
    assert result.returncode == 0, result.output[-4000:]
    rows = dict((r[0], (str(r[1]), r[2])) for r in result.query(
        "select transaction_id, amount, order_id from intermediate.int_transactions"))
    assert rows == {"1001-1": ("54.97", "1001"), "1001-2": ("5.50", "1001"),
                    "1002-1": ("19.99", "1002"), "1003-1": ("0.30", "1003")}
    assert str(result.scalar("select total_spend from customer_rfm where customer_id = 'a1'")) == "60.77"


SEMICOLONS = """transaction_id;customer_id;transacted_at;amount
t1;a1;02/01/2024 10:00;79,99
t2;a1;15/02/2024 09:30;1.234,50
t3;a2;28/02/2024;5,00
"""


def test_everything_rejected_stops_with_reasons_and_fix_then_locale_settings_read_it(tmp_path):
    """Case 7: a semicolon export with decimal commas and day-first dates: without
    settings the build stops naming the top reasons and the likely fix; with the
    locale settings every row loads, exactly."""
    data = tmp_path / "eu"
    data.mkdir()
    (data / "transactions.csv").write_text(SEMICOLONS)
    failed = _stops(tmp_path, {"input_dir": str(data)},
                    "3 of 3 rows rejected", "input_max_rejected_share 0.2",
                    "amount is not a valid decimal(18,2): '79,99'",
                    "set input_decimal_separator: ','", "set input_timestamp_formats",
                    select="+stg_files__transactions")
    assert "Traceback" not in failed.output
    result = run_selected(tmp_path, vars={
        "dataset": "files", "input_dir": str(data), "input_decimal_separator": ",",
        "input_thousands_separator": ".", "input_timestamp_formats": ["%d/%m/%Y %H:%M", "%d/%m/%Y"]},
        select=["+customer_rfm", "+input_reconciliation"])
    assert result.returncode == 0, result.output[-4000:]
    rows = {r[0]: (str(r[1]), str(r[2])) for r in result.query(
        "select transaction_id, transacted_at, amount from intermediate.int_transactions")}
    assert rows == {"t1": ("2024-01-02 10:00:00", "79.99"), "t2": ("2024-02-15 09:30:00", "1234.50"),
                    "t3": ("2024-02-28 00:00:00", "5.00")}
    assert result.scalar("select count(*) from rejected_rows") == 0


def test_parquet_input_keeps_timezone_and_exactness(tmp_path):
    """Case 8 for typed inputs: a Parquet file with a timestamptz column and a
    double amount: the offset becomes UTC, a double with a third decimal is rejected."""
    import duckdb
    data = tmp_path / "pq"
    data.mkdir()
    with duckdb.connect() as con:
        con.execute(f"""copy (select * from (values
            ('p1', 'a1', timestamptz '2024-06-11 23:30:00+05:00', 10.5::double, ' web '),
            ('p2', 'a1', timestamptz '2024-06-12 10:00:00+00:00', 10.005::double, 'app'),
            ('p3', 'a2', timestamptz '2024-06-13 10:00:00+00:00', 3.0::double, 'app'))
            t(transaction_id, customer_id, transacted_at, amount, channel)) to '{data}/transactions.parquet' (format parquet)""")
    result = run_selected(tmp_path, vars={"dataset": "files", "input_dir": str(data), "input_max_rejected_share": 0.5},
                          select=["+int_transactions", "+input_reconciliation"])
    assert result.returncode == 0, result.output[-4000:]
    rows = {r[0]: (str(r[1]), str(r[2])) for r in result.query(
        "select transaction_id, transacted_at, amount from intermediate.int_transactions")}
    assert rows == {"p1": ("2024-06-11 18:30:00", "10.50"), "p3": ("2024-06-13 10:00:00", "3.00")}
    assert "more decimal places" in result.scalar("select reason from rejected_rows where row_key = 'p2'")
    # a typed input's text is kept as stored (no trimming)
    assert result.scalar("select channel from intermediate.int_transactions where transaction_id = 'p1'") == " web "
    assert result.query("select rows_in, is_reconciled from input_reconciliation where source_table = 'transactions'") \
        == [(3, True)]


def test_input_tables_reads_any_duckdb_relation(tmp_path):
    """input_tables: a JSON export read through DuckDB, typed and checked like Parquet."""
    data = tmp_path / "json"
    data.mkdir()
    (data / "orders.json").write_text(
        '[{"id": "j1", "who": "a1", "at": "2024-03-01 10:00:00", "total": 12.5},'
        ' {"id": "j2", "who": "a2", "at": "2024-03-02 11:00:00", "total": 4}]')
    result = run_selected(tmp_path, vars={
        "dataset": "files", "input_dir": str(data),
        "input_tables": {"transactions": f"read_json_auto('{data}/orders.json')"},
        "column_map": {"transactions": {"transaction_id": "id", "customer_id": "who", "transacted_at": "at",
                                        "amount": "total"}}},
        select=["+int_transactions", "+input_reconciliation"])
    assert result.returncode == 0, result.output[-4000:]
    rows = {r[0]: (r[1], str(r[2])) for r in result.query(
        "select transaction_id, customer_id, amount from intermediate.int_transactions")}
    assert rows == {"j1": ("a1", "12.50"), "j2": ("a2", "4.00")}
