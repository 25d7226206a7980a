"""Bring your own data: a folder of CSVs with the user's own column names,
mapped onto the contract by var column_map; inputs that are absent empty the
marts that need them instead of failing; bad rows are quarantined and counted."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dbt_harness import PROJECT_DIR, run_dbt

CUSTOMERS = """cust,joined,country
a1,2024-01-01,FR
a2,2024-01-05,US
a3,2024-02-01,FR
a3,2024-02-01,FR
"""
ORDERS = """order_no,cust,order_date,total,sku,category
o1,a1,2024-01-02 10:00:00,10.00,p1,Books
o2,a1,2024-01-02 12:00:00,5.00,p2,Music
o3,a1,2024-02-10 09:00:00,20.00,p1,Books
o4,a2,2024-03-01,abc,p1,Books
o5,zz,2024-03-01,3,p1,Books
o6,a2,2024-03-02,7.5,p2,Music
o7,a2,2024-03-05,-7.5,p2,Music
"""


@pytest.mark.slow  # a full build of its own data
def test_files_dataset_with_column_map(tmp_path):
    data = tmp_path / "shop"
    data.mkdir()
    (data / "customers.csv").write_text(CUSTOMERS)
    (data / "transactions.csv").write_text(ORDERS)
    result = run_dbt(tmp_path, vars={
        "dataset": "files", "input_dir": str(data), "as_of_date": "2024-03-31",
        # a deliberately dirty sample: 2 of 7 transactions are bad
        "input_max_rejected_share": 0.5,
        "column_map": {
            "customers": {"customer_id": "cust", "signed_up_at": "joined"},
            "transactions": {"transaction_id": "order_no", "customer_id": "cust", "transacted_at": "order_date",
                             "amount": "total", "product_id": "sku", "product_category": "category"},
        }})
    assert result.returncode == 0, result.output[-4000:]
    # absent inputs are announced, not fatal
    assert "no events input" in result.output and "no subscriptions input" in result.output
    recon = {r[0]: r[1:] for r in result.query(
        "select source_table, rows_in, rows_used, rows_rejected, is_reconciled from input_reconciliation")}
    assert recon["customers"] == (4, 3, 1, True)
    assert recon["transactions"] == (7, 5, 2, True)
    assert recon["events"] == (0, 0, 0, True)
    reasons = dict(result.query("select row_key, reason from rejected_rows"))
    assert reasons["a3"] == "exact duplicate of another row"
    assert reasons["o4"].startswith("amount is not a valid decimal")
    assert reasons["o5"] == "unknown customer_id (not in customers)"
    # marts on present inputs have rows; marts on absent inputs are empty
    rfm = {r[0]: r[1:] for r in result.query("select customer_id, frequency, orders, total_spend from customer_rfm")}
    assert rfm["a1"] == (1, 3, 35)           # two purchase days: 01-02 (two orders), 02-10
    assert rfm["a2"] == (0, 1, 0)            # 7.50 bought then refunded: net 0
    assert rfm["a3"][1] == 0                  # no purchase
    assert result.scalar("select count(*) from funnel_steps") == 0
    assert result.scalar("select count(*) from tier_movements") == 0
    assert result.scalar("select count(*) from category_mix") == 2
    # make bench's input-layer figure runs the load node's compiled query alone against
    # the build database (segkit.bench --load-alone): it must give the node's rows
    compiled = (tmp_path / "target" / "compiled" / "segment_warehouse" / "models" / "staging" / "files"
                / "base_files__transactions.sql")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR / "python"))
    proc = subprocess.run([sys.executable, "-m", "segkit.bench", "--load-alone", str(compiled), str(result.build_path)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "base_files__transactions alone: 7 rows" in proc.stderr
